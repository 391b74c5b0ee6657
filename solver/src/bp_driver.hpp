#pragma once
// What the files of the Blatter-Pattyn PETSc driver share (blatter_pattyn.cpp:
// DMDA, callbacks; bp_geometry.cpp: geometry, margins, coarse geometry;
// bp_solve.cpp: solver strategy and ladder; bp_output.cpp: velocities and
// fluxes). Internal to nunatak::solver.

#include "nunatak/solver/blatter_pattyn.hpp"

#include <petscsnes.h>

#include <functional>
#include <initializer_list>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace nunatak::solver {

/// Column geometry as given to set_geometry: thickness, ice base without the
/// imposed trend, beta^2 and the fixed-bed mask when given, on the 2-D grid
/// (ghosts up to date).
struct BlatterPattyn::Columns {
  std::shared_ptr<const core::ParallelGrid> grid;
  core::Field2D thk, base;
  std::optional<core::Field2D> beta2, bed_fixed;
};

namespace bp_driver {

/// The solver whose DMDA is `dm` (composed on it by the solver); throws
/// nunatak::Error if there is none (a coarse multigrid level, which has no
/// re-discretisation: the multigrid must be Galerkin).
BlatterPattyn& solver_of(DM dm);
/// Composes `solver` on `dm` (null: removes it).
void attach_solver(DM dm, BlatterPattyn* solver);

/// The column geometry composed on `dm` by set_geometry or by the coarsen hook (may be null).
std::shared_ptr<const BlatterPattyn::Columns> columns_of(DM dm);
/// Composes `columns` on `dm`, replacing what was there.
void attach_columns(DM dm, std::shared_ptr<const BlatterPattyn::Columns> columns);
/// DMCoarsenHook: the coarse DMDA gets the fine one's columns injected (coarse
/// node i = fine node 2i) on a 2-D grid with the coarse decomposition, and
/// the hook itself, so that coarsening again works.
PetscErrorCode coarsen_columns(DM fine, DM coarse, void* ctx);

/// One option of PETSc's database, as given ("-bp_pc_type", "gamg").
struct SolverOption {
  std::string name, value; ///< value empty for a flag
  /// "name value", or the name of a flag.
  std::string text() const;
};
/// The options in PETSc's database that start with -`prefix`.
std::vector<SolverOption> solver_options(const std::string& prefix);
/// Runs `read` (a PETSc *SetFromOptions call); a nunatak::Error from it is
/// rethrown naming the -`prefix` option whose value the message quotes, else
/// listing all -`prefix` options given (unchanged if there are none).
void read_solver_options(const std::string& prefix, const std::function<void()>& read);
/// Throws nunatak::Error naming the option if a Newton or Krylov tolerance
/// read from the options is out of range (PETSc stores, e.g., -snes_max_it -1
/// and -snes_rtol -3 without checking them).
void check_tolerances(SNES snes, const std::string& prefix);

/// Sets the Newton solver's Krylov method and preconditioner; returns the PC.
PC use_linear_solver(SNES snes, KSPType ksp_type, PCType pc_type);
/// Options that set_default_options put into the database: nunatak's, not
/// the user's (the database outlives a solver, and solvers share prefixes).
std::set<std::string>& options_set_by_default();
/// Puts `defaults` (option names after -`prefix`, values) into PETSc's
/// options database where the user gave none: for solvers that exist only
/// after set-up (block Jacobi's blocks, multigrid smoothers). With
/// `replace`, a default an earlier solver put there gives way to this one.
void set_default_options(const std::string& prefix,
                         std::initializer_list<std::pair<const char*, const char*>> defaults,
                         bool replace = false);

} // namespace bp_driver
} // namespace nunatak::solver
