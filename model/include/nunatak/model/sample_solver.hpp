#pragma once
/// \file sample_solver.hpp
/// The Blatter-Pattyn solver on one stored problem (a sample of an emulator
/// data set, or any whole-grid core::BPPatch), re-solved for other
/// thicknesses from its previous solution. Used to measure the emulator's
/// gradients against the solver's (finite differences of solves) and by the
/// inversion. On PETSC_COMM_SELF by default; on a communicator of several
/// ranks the grid is distributed over them, every call is collective, the
/// arrays given are read on rank 0 only and the results are returned on
/// rank 0 only (empty elsewhere), in the whole-grid layouts below.
///
/// The problem keeps the patch's ice base z_b, friction beta^2, bed_fixed
/// mask and hardness B (Pa a^(1/n), as softness A = B^-n, enhancement 1);
/// only the thickness H (m) changes, so the surface is z_b + H. The patch's
/// constants: n, the friction exponent q, H_min, the strain-rate
/// regularisation, sea level and water density.

#include "nunatak/core/bp_patch.hpp"

#include <mpi.h>

#include <memory>
#include <string>
#include <vector>

namespace nunatak::core {
class ParallelGrid;
struct DecompositionOptions;
} // namespace nunatak::core
namespace nunatak::solver {
class BlatterPattyn;
}

namespace nunatak::model {

/// A BP solver for one stored problem (see the file comment). The
/// inversion's solver mode also changes the ice base and the friction
/// (solve with three arrays) and solves the adjoint problem.
class SampleSolver {
public:
  /// Builds the solver for `patch` (the whole grid, no ghosts, on every rank
  /// of `comm`) with the calving-front condition when `ocean_pressure`. PETSc
  /// options with `options_prefix` (e.g. -bpfd_snes_rtol) set its tolerances.
  /// `small_grid`: solver::BPParams::direct_fallback (ILU, then sparse LU;
  /// for data-set samples), else the solver's multigrid ladder (whole ice sheets).
  SampleSolver(const core::BPPatch& patch, bool ocean_pressure,
               const std::string& options_prefix = "bp_", bool small_grid = true,
               MPI_Comm comm = MPI_COMM_SELF);
  ~SampleSolver();
  SampleSolver(const SampleSolver&) = delete;
  SampleSolver& operator=(const SampleSolver&) = delete;

  /// Sets the velocity Newton starts from ([y][x][z][c], m/a).
  void set_velocity(const std::vector<double>& velocity);
  /// Solves with thickness `thickness` ([y][x], m) from the current velocity
  /// and returns the solution ([y][x][z][c], m/a). Throws nunatak::Error if
  /// Newton does not converge.
  std::vector<double> solve(const std::vector<double>& thickness);
  /// As above with the ice base z_b (m) and beta^2 (Pa (m/a)^-q) too ([y][x]).
  std::vector<double> solve(const std::vector<double>& thickness, const std::vector<double>& base,
                            const std::vector<double>& beta2);
  /// The adjoint of the last solve: lambda with K lambda = rhs, K the
  /// Hessian of the energy at the solution (the Newton matrix: symmetric on
  /// the free nodes, identity rows at fixed ones), rhs [y][x][z][c] (its
  /// values at fixed nodes are ignored: lambda is 0 there). The forward
  /// solves' Krylov method and preconditioner (the solver's choice for the
  /// grid, or the user's -OPTIONS_PREFIX options), set up on K, to a relative
  /// residual of 1e-10; sparse LU if that fails (on several ranks LU of the
  /// whole matrix on each, PCREDUNDANT; options prefix OPTIONS_PREFIX
  /// adjoint_). Throws nunatak::Error if neither converges.
  std::vector<double> adjoint(const std::vector<double>& rhs);
  /// Newton and Krylov iterations of the last solve.
  int newton_iterations() const { return m_newton; }
  int krylov_iterations() const { return m_krylov; }

private:
  core::BPPatch m_patch;
  std::string m_prefix;
  std::shared_ptr<const core::ParallelGrid> m_grid;
  std::unique_ptr<solver::BlatterPattyn> m_solver;
  int m_newton = 0, m_krylov = 0;
};

/// How SampleSolver splits `patch`'s grid over `ranks` ranks: boxes with
/// about equal numbers of ice columns (an ice-free column, all its nodes
/// fixed, counts a tenth), at least 2 cells wide. PETSc's even split of the
/// grid gives one rank most of a valley glacier (Aletsch: twice the other's
/// flops). The process grid is the one closest to square boxes, and each
/// axis is split by the ice's marginal counts. Empty (PETSc decides) for
/// one rank or a grid too small to split so.
core::DecompositionOptions ice_balanced_decomposition(const core::BPPatch& patch, int ranks);

} // namespace nunatak::model
