#pragma once
/// \file verification.hpp
/// Verification of the SIA and mass transport against Bueler et al. (2005):
/// test A (steady Vialov profile), B (Halfar dome, from t0 = 422.45 a) and C
/// (similarity solution with accumulation lambda H / t, grown from no ice at
/// t = 0 to t0 = 15208 a), on PISM's domain: a 2400 km square centred
/// on the dome, so N points give a spacing of 2400 km / (N - 1).

#include <mpi.h>

#include <optional>
#include <string>

namespace nunatak::model {

/// One verification run.
struct VerificationCase {
  char test = 'B';                 ///< 'A', 'B' or 'C'
  int grid = 61;                   ///< N x N points
  double years = -1.0;             ///< run length; < 0: the test's default (A, B 25000; C 15208)
  double diffusivity_safety = 0.5; ///< time.diffusivity_safety
  std::string output;              ///< if not empty: write thk and thk_exact here
  std::string command_line;        ///< for the output's history
};

/// Errors and costs of a run (thickness errors in m).
struct VerificationResult {
  char test = 'B';
  int grid = 0;
  double dx = 0.0; ///< m
  double years = 0.0;
  double max_error = 0.0;        ///< max |H - H_exact| over the grid
  double mean_error_grid = 0.0;  ///< mean |H - H_exact| over all cells (PISM's figure)
  double mean_error_ice = 0.0;   ///< ... over cells where H > 0 or H_exact > 0
  double volume_rel_error = 0.0; ///< |V - V_exact| / V_exact
  double centre_error = 0.0;     ///< H - H_exact at the dome centre (signed)
  double wall_seconds = 0.0;
  long long steps = 0;
};

/// Collective: runs one case on `comm`. Throws nunatak::Error for a bad case
/// (an unknown test, fewer than 5 points, a run length that is not finite or
/// not in (0, 1e7] years, a safety factor outside (0, 1]).
VerificationResult run_verification(const VerificationCase& c, MPI_Comm comm);

} // namespace nunatak::model
