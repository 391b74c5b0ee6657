#pragma once
/// \file bp_patch.hpp
/// The data of the discrete Blatter-Pattyn problem on a patch of nodes: what
/// the PETSc solver (solver::BPProblem), the LibTorch energy
/// (emulator::bp_energy on an emulator::TorchBPPatch) and the inversion share,
/// so that all of them integrate the same energy on the same nodes with the
/// same masks. Plain arrays, no PETSc, no Kokkos (part of nunatak::core_base,
/// which builds with the C++ standard library alone). The energy itself is
/// stated in solver/bp_problem.hpp and docs/energy.md.
///
/// Nodes. A patch is a box of nx x ny columns of nz nodes on uniform-spacing
/// map-plane nodes (dx, dy) and terrain-following levels sigma in [0, 1]
/// (z = bed + sigma H). Node arrays are row-major [y][x][z] (z fastest), the
/// velocity [y][x][z][c] with c = 0 for u, 1 for v. On one rank the patch is
/// the whole grid; in parallel it is a rank's ghosted box (owned columns plus
/// one ring of ghosts), and the rank integrates the elements whose lowest
/// corner column it owns, so that the energies of all ranks' patches add up
/// to the global energy and their gradients, added at shared nodes, to the
/// global gradient.
///
/// Elements. Element (j, i, k) is the hexahedron with lowest corner node
/// (j, i, k); element flags are stored at [y][x] of that corner. Only
/// ice-filled elements (all four corner columns have H >= H_min) are
/// integrated. A column is free (its nodes are unknowns) when it touches an
/// ice-filled element; the nodes of other columns, and the bed node of a
/// column whose bed is fixed (no slip: `bed_fixed`), are fixed at u = v = 0.
/// Elsewhere the bed obeys the friction law with the column's beta^2 (0:
/// free slip, e.g. under floating ice). Marine-front faces of an ice-filled element
/// border an element that is not ice-filled and has an ice-free corner column
/// whose bed is at or below sea level; they carry the ocean-pressure load.
///
/// Units: m, m/a, years, Pa (softness as hardness B = (E A)^(-1/n) in
/// Pa a^(1/n)); the energy is divided by rho g (ex48's scaling).

#include "nunatak/core/floatation.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace nunatak::core {

/// Constants of the discrete energy, in the solver's units (m, a, Pa).
struct BPConstants {
  double glen_exponent = 3.0;             ///< n
  double regularisation2 = 1e-10;         ///< strain-rate regularisation squared, a^-2
  double friction_exponent = 1.0;         ///< q in tau = beta^2 (|u|^2 + r^2)^((q-1)/2) u
  double friction_regularisation2 = 1e-6; ///< r^2, (m/a)^2
  double rho_g = 910.0 * 9.81;            ///< ice density times gravity, Pa m^-1
  double minimum_thickness = 10.0;        ///< H_min, m: thinner columns hold no ice
  double sea_level = 0.0;                 ///< z_sl, m
  double water_ratio = 1028.0 / 910.0;    ///< rho_w / rho_i
};

/// Bits of `BPPatch::front_faces`: the faces of an element under ocean pressure.
enum BPFace : std::uint8_t { face_west = 1, face_east = 2, face_south = 4, face_north = 8 };

/// The discrete Blatter-Pattyn problem's data on a box of nodes (see the file comment).
struct BPPatch {
  int nx = 0, ny = 0, nz = 0; ///< columns along x and y, nodes per column
  int i0 = 0, j0 = 0;         ///< global indices of the box's first column (for messages)
  double dx = 1.0, dy = 1.0;  ///< node spacing, m
  std::vector<double> sigma;  ///< nz levels, 0 (bed) .. 1 (surface)
  /// Owned columns [ys, ys + ym) x [xs, xs + xm) (box indices): their rows of
  /// the assembled gradient and Hessian belong to this patch.
  int xs = 0, ys = 0, xm = 0, ym = 0;
  /// Elements integrated: lowest corners (j, i) in [ey0, ey1) x [ex0, ex1), every layer.
  int ex0 = 0, ex1 = 0, ey0 = 0, ey1 = 0;
  /// Columns of the global grid along x and y where it is periodic (ISMIP-HOM),
  /// 0 where it is not: box column i is then the same column as global column
  /// (i0 + i) mod period_x. Ghost columns of a periodic patch are copies of
  /// their partners; periodic_partner_columns ties them.
  int period_x = 0, period_y = 0;

  std::vector<double> thickness; ///< H, [y][x], m
  std::vector<double> bed;       ///< z_b, [y][x], m (including an imposed trend)
  std::vector<double> beta2;     ///< basal friction coefficient beta^2, [y][x], Pa (m/a)^-q
  std::vector<double> hardness;  ///< B, [y][x][z], Pa a^(1/n)

  std::vector<std::uint8_t> bed_fixed;      ///< [y][x]: 1 where the bed node is fixed (no slip)
  std::vector<std::uint8_t> element_filled; ///< [y][x] of the lowest corner: 1 if ice-filled
  std::vector<std::uint8_t> node_free;      ///< [y][x]: 1 if the column's nodes are unknowns
  std::vector<std::uint8_t> front_faces;    ///< [y][x] of the lowest corner: BPFace bits

  BPConstants constants;

  /// Index of column (j, i) in [y][x] arrays.
  std::size_t column(int j, int i) const {
    return std::size_t(j) * std::size_t(nx) + std::size_t(i);
  }
  /// Index of node (j, i, k) in [y][x][z] arrays.
  std::size_t node(int j, int i, int k) const {
    return column(j, i) * std::size_t(nz) + std::size_t(k);
  }
  /// True if node (j, i, k) is fixed at u = v = 0.
  bool fixed(int j, int i, int k) const {
    return !node_free[column(j, i)] || (k == 0 && bed_fixed[column(j, i)]);
  }
  /// Number of velocity unknowns on the box, 2 nx ny nz (fixed ones included).
  std::size_t size() const { return std::size_t(nx) * std::size_t(ny) * std::size_t(nz) * 2; }

  /// Throws nunatak::Error naming `what` and the offending array or index if
  /// the sizes disagree, a range leaves the box, sigma is not increasing from
  /// 0 to 1, or a value is not finite (thickness negative, hardness not positive).
  void check(const std::string& what) const;
};

/// For each column of `patch`, [y][x], the index of the column that holds its
/// values: itself, or, for a column whose periodic image (BPPatch::period_x,
/// period_y) is an owned column of the box, that owned column. Identity on a
/// non-periodic patch.
std::vector<std::int64_t> periodic_partner_columns(const BPPatch& patch);

/// Element flags on a box of nx x ny columns ([y][x] arrays): filled[j][i] = 1
/// where the four corner columns (j..j+1, i..i+1) have H >= H_min; wet[j][i] =
/// 1 where one of them has H < H_min and its bed at or below `sea_level`. The
/// last row and column (whose elements leave the box) are set to 0. This is
/// the one margin rule of nunatak's Blatter-Pattyn discretisation.
void bp_element_flags(int nx, int ny, const double* thickness, const double* bed,
                      double minimum_thickness, double sea_level, std::uint8_t* filled,
                      std::uint8_t* wet);

/// Column and face flags from element flags on the same box (elements outside
/// the box count as neither filled nor wet): node_free[j][i] = 1 where one of
/// the four elements around column (j, i) is filled; front_faces[j][i] holds
/// the BPFace bits of the filled element (j, i) whose neighbour across the
/// face is not filled but wet (none when `ocean_pressure` is false).
void bp_column_flags(int nx, int ny, const std::uint8_t* filled, const std::uint8_t* wet,
                     bool ocean_pressure, std::uint8_t* node_free, std::uint8_t* front_faces);

/// A one-rank patch of a whole grid (no ghosts, every element integrated):
/// thickness, bed and beta2 are [y][x], hardness [y][x][z] with nz = sigma.size(),
/// masks from bp_element_flags and bp_column_flags, the bed fixed in every
/// column when `no_slip` (else nowhere: edit `bed_fixed` for a mixed bed).
/// Throws nunatak::Error on inconsistent input (BPPatch::check).
BPPatch make_bp_patch(int nx, int ny, double dx, double dy, std::vector<double> sigma,
                      std::vector<double> thickness, std::vector<double> bed,
                      std::vector<double> beta2, std::vector<double> hardness,
                      const BPConstants& constants, bool ocean_pressure = true,
                      bool no_slip = false);

/// The basal condition of one column, the one rule of every Blatter-Pattyn
/// user (the solver, the emulator, its data set): the ice base from the
/// floatation rule; floating ice slides freely (beta^2 = 0, bed free);
/// grounded ice has `beta2` where the configuration slides (`sliding`), else
/// its bed is fixed (no slip).
struct BPBasalColumn {
  double base = 0.0;      ///< elevation of the ice base, m
  double beta2 = 0.0;     ///< friction coefficient, Pa (m/a)^-q
  bool bed_fixed = false; ///< no slip
};
/// The basal condition of a column of thickness `H` on bed `b` (see BPBasalColumn).
inline BPBasalColumn bp_basal_column(const Floatation& floatation, double H, double b, bool sliding,
                                     double beta2) {
  const bool floats = floatation.floats(H, b);
  return {floatation.ice_base(H, b), floats ? 0.0 : beta2, !sliding && !floats};
}

} // namespace nunatak::core
