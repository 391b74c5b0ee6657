#pragma once
/// \file emulator_dataset.hpp
/// `nunatak emulator dataset`: the emulator's training and validation
/// samples, each a Blatter-Pattyn problem solved by the BP solver
/// (solver/blatter_pattyn.hpp) on one rank.
///
/// Samples (keys emulator.dataset.*, docs/emulator.md):
/// - synthetic glaciers (core/synthetic_glacier.hpp): random beds, outlines,
///   plastic or Vialov thickness, friction with fast and frictionless
///   patches, softness, grid spacing from dx_min to dx_max;
/// - patches of a real geometry (patch_config: a nunatak configuration whose
///   input geometry, after its thickness estimate, is cut): random windows of
///   cells_min..cells_max columns, every s-th column (s = 1..patch_stride_max),
///   inside the x range [patch_x_min, patch_x_max] of the geometry (the rest is
///   held out), with the thickness perturbed by a smooth random factor
///   (exp(0.1 G)), random friction and softness as for synthetic glaciers.
///   Greenland is refused: it is the real geometry the emulator is judged on.
///
/// Physics: linear friction (q = 1), floating columns slide freely (beta^2 =
/// 0), no-slip samples fix the bed where grounded; n, H_min, the strain-rate
/// regularisation and the ocean pressure from flow_law.* and bp.*; bp.levels
/// levels. Each sample k is drawn from (emulator.dataset.seed, k) alone, so
/// the data set does not depend on the number of ranks. The solver's
/// options (-bp_*) apply.

#include "nunatak/io/config.hpp"
#include "nunatak/io/emulator_dataset.hpp"

#include <mpi.h>

#include <functional>
#include <string>

namespace nunatak::model {

/// How a data set is made (emulator.dataset.* and the physics keys), checked.
struct EmulatorDatasetSpec {
  std::string file;                   ///< the data set's path
  int samples = 0;                    ///< synthetic glaciers
  long long seed = 1;                 ///< of every random draw
  double validation_fraction = 0.1;   ///< held back, spread evenly
  int cells_min = 32, cells_max = 48; ///< columns along x or y
  double dx_min = 50, dx_max = 20000; ///< m
  double softness_profile_probability = 0;
  /// Probability that a marine synthetic glacier ends in calving cliffs.
  double calving_probability = 0;
  std::string patch_config;                ///< configuration of the real geometry patches come from
  int patch_samples = 0;                   ///< patches
  double patch_x_min = 0, patch_x_max = 1; ///< x range of the patches, fractions of the extent
  int patch_stride_max = 2;                ///< columns taken every s-th, s = 1..this
  int levels = 9;                          ///< nodes per column
  double glen_exponent = 3;                ///< n
  double minimum_thickness = 10;           ///< H_min, m
  double regularisation = 1e-5;            ///< strain-rate regularisation, a^-1
  bool ocean_pressure = true;              ///< at marine fronts
  std::string configuration;               ///< the YAML text of the keys above

  /// Total number of samples.
  int total() const { return samples + patch_samples; }
  /// True if sample k is held back for validation (an even spread).
  bool validation(int k) const;
};

/// Reads and checks the data-set keys of `config`; throws nunatak::Error
/// naming the key (cells_min above cells_max, patches without patch_config,
/// a Greenland patch_config, an empty x range, no samples).
EmulatorDatasetSpec emulator_dataset_spec(const io::Config& config);

/// A real geometry that patches are cut from.
struct PatchSource {
  int nx = 0, ny = 0;
  double dx = 0, dy = 0;         ///< m
  std::vector<double> thk, topg; ///< m, [y][x]
  std::string description;       ///< the file it came from
};

/// Not collective: reads the geometry of spec.patch_config (its thickness
/// estimated as that configuration says).
PatchSource read_patch_source(const EmulatorDatasetSpec& spec);

/// Not collective (the solver runs on PETSC_COMM_SELF): draws sample `k` and
/// solves it. A solve that fails is returned with converged = false.
/// `patches` is needed for k >= spec.samples.
io::EmulatorSample make_emulator_sample(const EmulatorDatasetSpec& spec, int k,
                                        const PatchSource* patches);

/// What make_emulator_dataset did.
struct EmulatorDatasetReport {
  int total = 0;            ///< samples in the data set
  int solved = 0;           ///< solved by this call (all ranks)
  int resumed = 0;          ///< found in FILE.parts from an earlier, interrupted call
  int failed = 0;           ///< samples whose solve did not converge (kept, flagged)
  double solve_seconds = 0; ///< sum of the solves' wall times (all samples)
};

/// Collective on `comm`: makes the data set of `spec` at spec.file. Sample k
/// is solved by rank k mod size and written at once to FILE.parts/sample_K.nc
/// (atomically); samples already there are skipped, so a killed run resumes.
/// When all are done, rank 0 merges them into FILE (atomically) and removes
/// the folder. `progress(done, total)` is called on rank 0 after each of its
/// samples. `history` is the command line, for the file.
EmulatorDatasetReport make_emulator_dataset(const EmulatorDatasetSpec& spec, MPI_Comm comm,
                                            const std::string& history,
                                            const std::function<void(int, int)>& progress);

} // namespace nunatak::model
