#pragma once
/// \file emulator_dataset.hpp
/// The emulator's data set in NetCDF: Blatter-Pattyn problems (each a whole
/// grid as a core::BPPatch) with the solver's velocity, one per `sample`.
/// Written by `nunatak emulator dataset`, read by `nunatak emulator train`
/// and `eval`. No LibTorch here: the emulator library turns samples into
/// tensors.
///
/// File layout (NetCDF-4, deflate 1; samples of different sizes share the
/// largest y and x, the rest of each slab is fill):
///
///     dimensions: sample = unlimited, y = max ny, x = max nx, level = nz, component = 2
///     double sigma(level)                   levels, 0 (bed) .. 1 (surface)
///     int    index(sample)                  the sample's number in its data set
///     byte   source(sample)                 0 synthetic glacier, 1 patch of a real geometry
///     byte   validation(sample)             1: held back from training (validation)
///     int    nx(sample), ny(sample)         columns along x and y
///     double dx(sample), dy(sample)         m
///     byte   converged(sample)              the solver converged (else velocity is fill)
///     int    newton_iterations(sample), krylov_iterations(sample)
///     double solve_seconds(sample)          wall time of the solve, s
///     double thickness(sample, y, x)        H, m
///     double bed(sample, y, x)              elevation of the ice base z_b, m
///     double beta2(sample, y, x)            basal friction coefficient, Pa (m/a)^-q
///     byte   bed_fixed(sample, y, x)        1 where the bed node is fixed (no slip)
///     double hardness(sample, y, x, level)  B, Pa a^(1/n)
///     double velocity(sample, y, x, level, component)   (u, v), m/a
///
/// Global attributes: `nunatak_dataset` = "emulator_samples", version 1,
/// `ocean_pressure` (0/1), the constants named as core::BPConstants' members
/// (`glen_exponent`, ...), `configuration` (the YAML that made it), `source`
/// (nunatak version), `history` (command line). Numbers are stored in double
/// precision, so a data set reads back bit for bit.

#include "nunatak/core/bp_patch.hpp"

#include <string>
#include <vector>

namespace nunatak::io {

/// One sample: a Blatter-Pattyn problem and its solution.
struct EmulatorSample {
  int index = 0;           ///< the sample's number in its data set
  int source = 0;          ///< 0 synthetic glacier, 1 patch of a real geometry
  bool validation = false; ///< held back from training
  bool converged = false;  ///< the solver converged; else `velocity` is empty
  int newton_iterations = 0, krylov_iterations = 0;
  double solve_seconds = 0.0;
  /// The problem (the whole grid, built by core::make_bp_patch from the
  /// stored arrays and the data set's constants, with bed_fixed as stored).
  core::BPPatch patch;
  std::vector<double> velocity; ///< [y][x][z][c], m/a
};

/// A data set: samples sharing levels and constants.
struct EmulatorDataset {
  std::vector<double> sigma;   ///< levels, 0 .. 1
  core::BPConstants constants; ///< of every sample
  bool ocean_pressure = true;  ///< calving-front condition at marine fronts
  std::string configuration;   ///< the YAML that made it
  std::string history;         ///< the command line that made it
  std::vector<EmulatorSample> samples;
};

/// Writes `dataset` to `path` (through PATH.tmp.PID renamed into place).
/// Throws nunatak::Error naming the file on an inconsistent sample (levels or
/// constants that differ from the data set's, wrong sizes) or a NetCDF failure.
void write_emulator_dataset(const std::string& path, const EmulatorDataset& dataset);

/// Reads a data set written by write_emulator_dataset. Throws nunatak::Error
/// naming the file and the variable or attribute that is missing or wrong.
EmulatorDataset read_emulator_dataset(const std::string& path);

/// A data set, or a Blatter-Pattyn fixture (io/bp_fixture.hpp: `nunatak
/// solve --bp-fixture`, `nunatak ismip-hom --bp-fixture`) as a data set of
/// one sample (source 1, no solve time). Throws as the two readers do.
EmulatorDataset read_emulator_samples(const std::string& path);

} // namespace nunatak::io
