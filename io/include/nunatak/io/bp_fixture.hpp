#pragma once
/// \file bp_fixture.hpp
/// A Blatter-Pattyn fixture in NetCDF: one core::BPPatch with a velocity, the
/// energy of the patch at that velocity and its patch-local gradient, as the
/// solver computes them. The LibTorch energy (nunatak::emulator) is tested
/// against such files without PETSc, and the tie test writes them.
///
/// File layout (NetCDF-4; one file per patch):
///
///     dimensions: y = ny, x = nx, z = nz, component = 2
///     double sigma(z)                       levels, 0 (bed) .. 1 (surface)
///     double thickness(y, x)                H, m
///     double bed(y, x)                      z_b, m
///     double beta2(y, x)                    basal friction coefficient, Pa (m/a)^-q
///     double hardness(y, x, z)              B, Pa a^(1/n)
///     byte   element_filled(y, x)           1 where element (j, i) is ice-filled
///     byte   node_free(y, x)                1 where column (j, i)'s nodes are unknowns
///     byte   bed_fixed(y, x)                1 where column (j, i)'s bed node is fixed (no slip)
///     byte   front_faces(y, x)              core::BPFace bits (flag_masks 1 2 4 8)
///     double velocity(y, x, z, component)   (u, v), m/a
///     double gradient(y, x, z, component)   dE/d(u, v), patch-local (not assembled), m^3
///     double energy                         E, m^4 a^-1 (divided by rho g)
///
/// Global attributes: `nunatak_fixture` = "bp_patch", `nunatak_fixture_version`
/// = 2 (version 1 had a global `no_slip` instead of `bed_fixed`), `description`; the box: `dx`,
/// `dy` (m), `i0`, `j0`, `xs`, `ys`, `xm`, `ym`, `ex0`, `ex1`, `ey0`, `ey1` (see core::BPPatch);
/// the periods `period_x`, `period_y` (0 when not periodic; read as 0 when missing);
/// the constants, named as core::BPConstants' members: `glen_exponent`, `regularisation2`,
/// `friction_exponent`, `friction_regularisation2`,
/// `rho_g`, `minimum_thickness`, `sea_level`, `water_ratio`. Every number is
/// stored in double precision, so a fixture reads back bit for bit.

#include "nunatak/core/bp_patch.hpp"

#include <string>
#include <utility>
#include <vector>

namespace nunatak::io {

/// A patch, a velocity on it, and the patch's energy and gradient there.
struct BPFixture {
  core::BPPatch patch;
  std::vector<double> velocity; ///< [y][x][z][c], m/a
  double energy = 0.0;          ///< the patch's energy, m^4 a^-1 (divided by rho g)
  /// [y][x][z][c]: the patch-local (un-assembled) gradient of this patch's energy
  std::vector<double> gradient;
  std::string description; ///< what the fixture is (geometry, solver, ranks)
};

/// The attribute names of core::BPConstants' members in fixture and data-set
/// files (`glen_exponent`, ...), with the members they hold.
const std::vector<std::pair<const char*, double core::BPConstants::*>>& bp_constant_attributes();

/// Writes `fixture` to `path` (through a temporary file renamed into place).
/// Throws nunatak::Error naming the file if the patch is inconsistent
/// (core::BPPatch::check), a vector has the wrong size, or NetCDF fails.
void write_bp_fixture(const std::string& path, const BPFixture& fixture);

/// Reads a fixture written by write_bp_fixture. Throws nunatak::Error naming
/// the file and the variable or attribute that is missing or inconsistent.
BPFixture read_bp_fixture(const std::string& path);

} // namespace nunatak::io
