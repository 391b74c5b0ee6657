#pragma once
/// \file ismip_hom.hpp
/// ISMIP-HOM experiments A-D (Pattyn et al. 2008, The Cryosphere 2, 95-108)
/// with the Blatter-Pattyn solver: domain [0, L]^2, periodic; A = 1e-16
/// Pa^-3 a^-1, n = 3, rho = 910, g = 9.81; surface s = -x tan(alpha) (the
/// benchmark text's tan; ex48 uses sin, a 4e-5 relative difference at 0.5 deg).
///   A: alpha 0.5 deg, b = s - 1000 + 500 sin(wx) sin(wy), no slip
///   B: alpha 0.5 deg, b = s - 1000 + 500 sin(wx), no slip (flowline: ny small)
///   C: alpha 0.1 deg, b = s - 1000, beta^2 = 1000 + 1000 sin(wx) sin(wy) Pa a m^-1
///   D: alpha 0.1 deg, b = s - 1000, beta^2 = 1000 + 1000 sin(wx)
/// with w = 2 pi / L. Nodes at x_i = i L / nx.

#include "nunatak/solver/blatter_pattyn.hpp"

#include <mpi.h>

#include <string>
#include <vector>

namespace nunatak::model {

/// One ISMIP-HOM run.
struct IsmipHomCase {
  char experiment = 'A';        ///< 'A', 'B', 'C' or 'D'
  double length_km = 10.0;      ///< L
  int nx = 16, ny = 16, nz = 9; ///< nodes (B and D: ny is used as given; 4 is plenty)
  std::string output;           ///< if not empty: NetCDF with surface and 3-D velocities
  std::string fixture; ///< if not empty: each rank's BP fixture at the solution (bp_fixtures.hpp)
  std::string command_line;
};

/// Results: surface velocity along the profile y = L/4 (A, C) or the flowline.
struct IsmipHomResult {
  std::vector<double> x_over_L;      ///< profile positions in [0, 1)
  std::vector<double> vx_surface;    ///< m/a
  double max = 0, min = 0, mean = 0; ///< of vx_surface, m/a
  solver::BPSolveReport report;
  double wall_seconds = 0; ///< solver set-up and solve
};

/// The inputs of one experiment: grid (periodic), thickness, bed (periodic
/// part; the slope is BPParams::surface_trend_x), beta^2 and solver parameters.
struct IsmipHomSetup {
  std::shared_ptr<const core::ParallelGrid> grid;
  core::Field2D thk, bed, beta2;
  solver::BPParams params;
};

/// Collective: builds the inputs of an experiment (no solve).
IsmipHomSetup make_ismip_hom(const IsmipHomCase& c, MPI_Comm comm);

/// Collective: sets up and solves one experiment.
IsmipHomResult run_ismip_hom(const IsmipHomCase& c, MPI_Comm comm);

} // namespace nunatak::model
