#pragma once
/// \file ismip_hom.hpp
/// ISMIP-HOM experiments A-F (Pattyn et al. 2008, The Cryosphere 2, 95-108)
/// with the Blatter-Pattyn solver. A-D: domain [0, L]^2, periodic; A = 1e-16
/// Pa^-3 a^-1, n = 3, rho = 910, g = 9.81; surface s = -x tan(alpha) (the
/// benchmark text's tan; ex48 uses sin, a 4e-5 relative difference at 0.5 deg).
///   A: alpha 0.5 deg, b = s - 1000 + 500 sin(wx) sin(wy), no slip
///   B: alpha 0.5 deg, b = s - 1000 + 500 sin(wx), no slip (flowline: ny small)
///   C: alpha 0.1 deg, b = s - 1000, beta^2 = 1000 + 1000 sin(wx) sin(wy) Pa a m^-1
///   D: alpha 0.1 deg, b = s - 1000, beta^2 = 1000 + 1000 sin(wx)
/// with w = 2 pi / L. Nodes at x_i = i L / nx.
///   F: n = 1, A = 2.140373e-7 Pa^-1 a^-1, L = 100 km, slope 3 deg, bed
///      -H0 + 100 exp(-r^2 / sigma^2) about the centre (H0 = 1000 m, sigma =
///      10 km), flat initial surface, SMB 0, run to steady state; F1 no
///      slip, F2 beta^2 = 1/(A H0) (ismip_hom_f.cpp).
///   E: Haut Glacier d'Arolla flowline, bed and surface from the ISMIP-HOM
///      profile (arolla100.dat: x, bed, surface, zero-traction flag every
///      100 m over 5 km), interpolated linearly to nodes x_i = i 5000/(nx-1)
///      (not periodic in x; periodic in y, flowline); thickness 0 at both
///      ends. E1: no slip; E2: no traction (free slip) on the flagged zone
///      2200 <= x <= 2500 m, no slip elsewhere. H_min = 1 m, so that the
///      thin ice of the first and last 200 m is ice (with the default 10 m
///      the glacier would start at x = 200 m).

#include "nunatak/solver/blatter_pattyn.hpp"

#include <mpi.h>

#include <optional>
#include <string>
#include <vector>

namespace nunatak::model {

/// One ISMIP-HOM run.
struct IsmipHomCase {
  char experiment = 'A';   ///< 'A', 'B', 'C', 'D' or 'E'
  int variant = 1;         ///< E: 1 (no slip) or 2 (the zero-traction zone)
  double length_km = 10.0; ///< L (A-D; E's length is its profile's)
  std::string profile_file = "../shared/reference/arolla100.dat"; ///< E: the Arolla profile
  int nx = 16, ny = 16, nz = 9; ///< nodes (B and D: ny is used as given; 4 is plenty)
  std::string output;           ///< if not empty: NetCDF with surface and 3-D velocities
  std::string fixture; ///< if not empty: each rank's BP fixture at the solution (bp_fixtures.hpp)
  std::string command_line;
};

/// Results: surface velocity along the profile y = L/4 (A, C) or the flowline;
/// max, min and mean over the profile (E: over its nodes with ice).
struct IsmipHomResult {
  double length = 0;                 ///< L, m
  std::vector<double> x_over_L;      ///< profile positions in [0, 1) (E: [0, 1])
  std::vector<double> vx_surface;    ///< m/a
  std::vector<double> vx_base;       ///< m/a, at the bed (0 where it is fixed)
  double max = 0, min = 0, mean = 0; ///< of vx_surface, m/a
  solver::BPSolveReport report;
  double wall_seconds = 0; ///< solver set-up and solve
};

/// The inputs of one experiment: grid (periodic), thickness, bed (periodic
/// part; the slope is BPParams::surface_trend_x), beta^2 and solver parameters;
/// E2 also where the bed is fixed (BlatterPattyn::set_geometry's bed_fixed).
struct IsmipHomSetup {
  std::shared_ptr<const core::ParallelGrid> grid;
  core::Field2D thk, bed, beta2;
  solver::BPParams params;
  std::optional<core::Field2D> bed_fixed;
  double length = 0; ///< m
};

/// One node of experiment E's profile file (m; `zero_traction`: E2's flag).
struct ArollaPoint {
  double x = 0, bed = 0, surface = 0;
  bool zero_traction = false;
};

/// Reads experiment E's profile (arolla100.dat: x, bed, surface, flag per
/// line); throws nunatak::Error naming the file and line if it is missing or
/// malformed, x does not increase, or the surface lies below the bed.
std::vector<ArollaPoint> read_arolla_profile(const std::string& path);

/// The experiment's short name: "A" .. "D", "E1" or "E2".
std::string ismip_hom_name(const IsmipHomCase& c);
/// "ISMIP-HOM A, L = 10 km" or "ISMIP-HOM E2 (Haut Glacier d'Arolla, zero-traction zone)".
std::string ismip_hom_title(const IsmipHomCase& c);

/// Collective: builds the inputs of an experiment (no solve).
IsmipHomSetup make_ismip_hom(const IsmipHomCase& c, MPI_Comm comm);

/// Collective: sets up and solves one experiment.
IsmipHomResult run_ismip_hom(const IsmipHomCase& c, MPI_Comm comm);

/// ISMIP-HOM F (ismip_hom_f.cpp): the prognostic experiment, run to steady state.
struct IsmipHomFCase {
  int variant = 1;              ///< 1: no slip; 2: beta^2 = 1/(A H0)
  int nx = 40, ny = 40, nz = 9; ///< nodes (periodic, L = 100 km)
  double max_years = 5000.0;    ///< stop here if not steady before
  double max_dt_years = 2.0;    ///< time-step limit (stability of explicit transport)
  double steady_rate = 1e-3;    ///< m/a: steady when max |dH/dt| falls below it
  std::string output;           ///< if not empty: NetCDF of the steady state
  std::string command_line;
};

/// The steady state of F along the flow line through the bump (y = L/2).
struct IsmipHomFResult {
  std::vector<double> x;                   ///< m, from the bump's centre
  std::vector<double> surface;             ///< m, surface relative to the initial flat one
  std::vector<double> vx_surface;          ///< m/a
  double surface_max = 0, surface_min = 0; ///< m, whole grid
  double vx_max = 0, vx_min = 0;           ///< m/a, along the line
  double years = 0;                        ///< model time reached
  long long steps = 0;
  double final_rate = 0;   ///< m/a: max |dH/dt| of the last step
  bool steady = false;     ///< final_rate < steady_rate
  double volume_drift = 0; ///< relative change of the ice volume (0: SMB is 0)
  double wall_seconds = 0;
};

/// Collective: runs F from the flat surface to steady state (or max_years).
IsmipHomFResult run_ismip_hom_f(const IsmipHomFCase& c, MPI_Comm comm);

} // namespace nunatak::model
