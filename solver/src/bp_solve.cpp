// Solver strategy of the Blatter-Pattyn driver: the default linear solver
// (geometric multigrid where the grid coarsens by 2 and ice covers every
// column, GMRES/incomplete Cholesky elsewhere) and Newton's linearisation (the
// stress-velocity one with GMRES/ICC; full Newton steps in a transient step's
// warm-started solve, the critical-point line search otherwise), grid sequencing on cold starts
// (coarser DMDAs from DMCoarsen, whose hook attaches their geometry), the
// shallow-ice first guess, and the robustness ladder (GAMG, then
// regularisation continuation) when Newton fails.

#include "bp_driver.hpp"
#include "nunatak/core/error.hpp"
#include "nunatak/core/parallel_grid.hpp"

#include <petscdmda.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <string>

namespace nunatak::solver {

namespace {

/// Levels of full (factor 2) coarsening the node counts allow, keeping the
/// coarsest grid at least 4 nodes across and 3 deep.
int coarsening_levels(int mx, int my, int mz, bool px, bool py) {
  auto coarsenable = [](int m, bool periodic, int factor) {
    const int intervals = periodic ? m : m - 1;
    return intervals % factor == 0 && intervals / factor >= (periodic ? 4 : 3);
  };
  int levels = 1;
  while (levels < 8) {
    const int f = 1 << levels;
    if (!coarsenable(mx, px, f) || !coarsenable(my, py, f) || (mz - 1) % f != 0 || (mz - 1) / f < 2)
      break;
    ++levels;
  }
  return levels;
}

/// True where grid sequencing may solve on the grid coarsened by 2 first: the
/// grid coarsens as for multigrid (coarsening_levels) and the coarser grid
/// keeps at least 16 node intervals across and 4 vertically (ex48's coarsest
/// grid for ISMIP-HOM); every rank owns at least 4 columns each way.
bool sequence_coarsens(DM dm, int mx, int my, int mz, bool px, bool py) {
  if (coarsening_levels(mx, my, mz, px, py) < 2) return false;
  const auto coarse_intervals = [](int m, bool periodic) { return (periodic ? m : m - 1) / 2; };
  if (coarse_intervals(mx, px) < 16 || coarse_intervals(my, py) < 16 || (mz - 1) / 2 < 4)
    return false;
  PetscInt nx = 0, ny = 0;
  const PetscInt *lx = nullptr, *ly = nullptr;
  NUNATAK_PETSC(DMDAGetInfo(dm, nullptr, nullptr, nullptr, nullptr, nullptr, &nx, &ny, nullptr,
                            nullptr, nullptr, nullptr, nullptr, nullptr));
  NUNATAK_PETSC(DMDAGetOwnershipRanges(dm, nullptr, &lx, &ly));
  for (PetscInt r = 0; r < nx; ++r)
    if (lx[r] < 4) return false;
  for (PetscInt r = 0; r < ny; ++r)
    if (ly[r] < 4) return false;
  return true;
}

} // namespace

namespace bp_driver {

// Linear-solver helpers shared with bp_column_multigrid.cpp (bp_driver.hpp).

PC use_linear_solver(SNES snes, KSPType ksp_type, PCType pc_type) {
  KSP ksp = nullptr;
  PC pc = nullptr;
  NUNATAK_PETSC(SNESGetKSP(snes, &ksp));
  NUNATAK_PETSC(KSPSetType(ksp, ksp_type));
  NUNATAK_PETSC(KSPGetPC(ksp, &pc));
  NUNATAK_PETSC(PCSetType(pc, pc_type));
  return pc;
}

std::set<std::string>& options_set_by_default() {
  static std::set<std::string> options;
  return options;
}

void set_default_options(const std::string& prefix,
                         std::initializer_list<std::pair<const char*, const char*>> defaults,
                         bool replace) {
  for (const auto& [name, value] : defaults) {
    const std::string option = "-" + prefix + name;
    PetscBool given = PETSC_FALSE;
    NUNATAK_PETSC(PetscOptionsHasName(nullptr, nullptr, option.c_str(), &given));
    if (given && !(replace && options_set_by_default().count(option))) continue;
    NUNATAK_PETSC(PetscOptionsSetValue(nullptr, option.c_str(), value));
    options_set_by_default().insert(option);
  }
}

} // namespace bp_driver

using bp_driver::set_default_options;
using bp_driver::use_linear_solver;

void BlatterPattyn::configure_default_multigrid() {
  // Where the grid coarsens by 2 in all directions, the default linear solver
  // is FGMRES with full geometric multigrid on the DMDA (Galerkin coarse
  // operators; one GMRES iteration of block-Jacobi/ICC(0) as smoother), as in
  // PETSc's ex48, with the backtracking line search (after grid sequencing the
  // critical-point one saves no Newton steps, and it fails on Greenland).
  // Otherwise, and where the ice has margins (solve()), GMRES + ICC(0)
  // (block Jacobi/ICC(0) on several ranks), capped, with the ladder's ICC(1),
  // LU or GAMG fallbacks. Command-line options override all.
  // direct_fallback (small grids): GMRES/ILU(0), then LU where it stalls.
  const int levels = m_params.direct_fallback
                         ? 1
                         : coarsening_levels(m_mx, m_my, m_mz, m_periodic_x, m_periodic_y);
  const char* prefix = m_params.options_prefix.c_str();
  PetscBool user_ksp = PETSC_FALSE, user_pc = PETSC_FALSE;
  NUNATAK_PETSC(PetscOptionsHasName(nullptr, prefix, "-ksp_type", &user_ksp));
  NUNATAK_PETSC(PetscOptionsHasName(nullptr, prefix, "-pc_type", &user_pc));
  m_default_linear_solver = !user_ksp && !user_pc;
  KSP ksp = nullptr;
  NUNATAK_PETSC(SNESGetKSP(m_snes, &ksp));
  if (levels < 2) {
    // At most 150 Krylov iterations per linear solve: where the factorisation
    // stalls, the robustness ladder takes over (LU or FGMRES/GAMG).
    m_default_solver_name = "GMRES/ILU(0)";
    NUNATAK_PETSC(KSPSetTolerances(ksp, PETSC_DEFAULT, PETSC_DEFAULT, PETSC_DEFAULT, 150));
    if (m_default_linear_solver && !m_params.direct_fallback) use_incomplete_cholesky(0);
    return;
  }
  PC pc = use_linear_solver(m_snes, KSPFGMRES, PCMG);
  NUNATAK_PETSC(PCMGSetLevels(pc, levels, nullptr));
  NUNATAK_PETSC(PCMGSetGalerkin(pc, PC_MG_GALERKIN_BOTH));
  NUNATAK_PETSC(PCMGSetType(pc, PC_MG_FULL));
  for (int l = 1; l < levels; ++l) {
    KSP smoother = nullptr;
    PC smoother_pc = nullptr;
    NUNATAK_PETSC(PCMGGetSmoother(pc, l, &smoother));
    NUNATAK_PETSC(KSPSetType(smoother, KSPGMRES));
    NUNATAK_PETSC(KSPSetTolerances(smoother, PETSC_DEFAULT, PETSC_DEFAULT, PETSC_DEFAULT, 1));
    NUNATAK_PETSC(KSPGetPC(smoother, &smoother_pc));
    NUNATAK_PETSC(PCSetType(smoother_pc, PCBJACOBI));
  }
  SNESLineSearch line_search = nullptr;
  NUNATAK_PETSC(SNESGetLineSearch(m_snes, &line_search));
  NUNATAK_PETSC(SNESLineSearchSetType(line_search, SNESLINESEARCHBT));
  // Rebuild the multigrid (Galerkin products, ICC factors) every other Newton
  // step: Krylov counts stay flat and ISMIP-HOM A 64x64x17 / 128x128x33
  // solve 8 % / 6 % faster (-bp_snes_lag_preconditioner overrides).
  NUNATAK_PETSC(SNESSetLagPreconditioner(m_snes, 2));
  // The blocks: ICC(0) without PETSc's positive-definite shift (the Jacobian
  // is symmetric; ICC factors in about a fifth of ILU's time at 128x128x33,
  // and the shifted ICC stagnates on Greenland). The block solvers exist only
  // after set-up, so these defaults go into the options database, where
  // options given by the user win.
  set_default_options(m_params.options_prefix + "mg_levels_sub_",
                      {{"pc_type", "icc"}, {"pc_factor_shift_type", "none"}});
  // At most 50 iterations per linear solve (ISMIP-HOM takes 1-2): where it
  // stalls, the ladder's first rung switches to GMRES/ICC. Grids with ice
  // margins get GMRES/ICC before their first solve (solve()).
  m_default_multigrid = m_default_linear_solver;
  m_default_solver_name = "FGMRES/geometric multigrid";
  if (m_default_multigrid)
    NUNATAK_PETSC(KSPSetTolerances(ksp, PETSC_DEFAULT, PETSC_DEFAULT, PETSC_DEFAULT, 50));
}

void BlatterPattyn::use_incomplete_cholesky(int fill) {
  // GMRES + incomplete Cholesky without PETSc's positive-definite shift (the
  // Jacobian is symmetric positive definite; the shifted factorisation stalls
  // on Greenland), on the reverse Cuthill-McKee ordering. The default has no
  // fill: ICC(0) factors in a quarter of ICC(1)'s time (PETSc's AIJ ICC(1)
  // numeric factorisation was a quarter of Greenland's solve) for a few more
  // Krylov iterations. Greenland at 16 km: 35 against 31 in 8 Newton steps,
  // 4.7 s against 6.0 s; Aletsch at 100 m, 173 against 104, 12.2 s against
  // 11.2 s; on ISMIP-HOM A-C and E grids that do not coarsen by 2 level or
  // faster (docs/blatter_pattyn.md, "ICC(0) or ICC(1)"). Where ICC(0) stalls
  // (ISMIP-HOM D's flowline on two ranks) the ladder's first rung calls this
  // again with one level of fill. The type is set afresh (via PCNONE), so
  // that the factors, and on several ranks the blocks, are rebuilt with the
  // new fill; the levels are defaults that -bp_pc_factor_levels
  // (-bp_sub_pc_factor_levels) overrides.
  int ranks = 1;
  MPI_Comm_size(m_grid->comm(), &ranks);
  m_incomplete_cholesky = true;
  m_incomplete_cholesky_fill = fill;
  m_column_multigrid = false;
  m_default_solver_name = "GMRES/ICC(" + std::to_string(fill) + ")";
  if (fill == 0) {
    // At most 150 Krylov iterations per solve (the ladder's ICC(1) keeps it,
    // or the user's -bp_ksp_max_it).
    KSP ksp = nullptr;
    NUNATAK_PETSC(SNESGetKSP(m_snes, &ksp));
    NUNATAK_PETSC(KSPSetTolerances(ksp, PETSC_DEFAULT, PETSC_DEFAULT, PETSC_DEFAULT, 150));
  }
  use_linear_solver(m_snes, KSPGMRES, PCNONE);
  if (ranks == 1) {
    PC pc = use_linear_solver(m_snes, KSPGMRES, PCICC);
    NUNATAK_PETSC(PCFactorSetLevels(pc, fill));
    NUNATAK_PETSC(PCFactorSetShiftType(pc, MAT_SHIFT_NONE));
    NUNATAK_PETSC(PCFactorSetMatOrderingType(pc, MATORDERINGRCM));
    bp_driver::read_solver_options(m_params.options_prefix,
                                   [&] { NUNATAK_PETSC(PCSetFromOptions(pc)); });
    return;
  }
  use_linear_solver(m_snes, KSPGMRES, PCBJACOBI);
  // The blocks exist only after set-up: their defaults go into the options
  // database, replacing those an earlier solver of the same prefix put there.
  set_default_options(m_params.options_prefix + "sub_",
                      {{"pc_type", "icc"},
                       {"pc_factor_levels", fill > 0 ? "1" : "0"},
                       {"pc_factor_shift_type", "none"},
                       {"pc_factor_mat_ordering_type", "rcm"}},
                      true);
}

bool BlatterPattyn::user_gave_fill_levels() const {
  int ranks = 1;
  MPI_Comm_size(m_grid->comm(), &ranks);
  const std::string option =
      "-" + m_params.options_prefix + (ranks == 1 ? "" : "sub_") + "pc_factor_levels";
  PetscBool given = PETSC_FALSE;
  NUNATAK_PETSC(PetscOptionsHasName(nullptr, nullptr, option.c_str(), &given));
  return given && !bp_driver::options_set_by_default().count(option);
}

void BlatterPattyn::set_sia_initial_guess() {
  // u(sigma) = u_s (1 - (1 - sigma)^(n+1)), u_s = 2 A (rho g)^n |grad s|^(n-1) grad s H^(n+1) /
  // (n+1), with centred surface slopes: the shallow-ice velocity, a good first Newton iterate.
  const core::BPPatch& p = m_problem->patch();
  const double n = p.constants.glen_exponent, rho_g = p.constants.rho_g;
  const auto surface = [&](int j, int i) {
    const size_t c = p.column(j, i);
    return p.bed[c] + p.thickness[c];
  };
  const core::VecWriteArray x(m_solution);
  size_t k0 = 0;
  for (int j = p.ys; j < p.ys + p.ym; ++j)
    for (int i = p.xs; i < p.xs + p.xm; ++i, k0 += size_t(p.nz) * 2) {
      const int ie = std::min(i + 1, p.nx - 1), iw = std::max(i - 1, 0);
      const int jn = std::min(j + 1, p.ny - 1), js = std::max(j - 1, 0);
      const double sx = (surface(j, ie) - surface(j, iw)) / (p.dx * (ie - iw));
      const double sy = (surface(jn, i) - surface(js, i)) / (p.dy * (jn - js));
      const double slope = std::hypot(sx, sy);
      const double H = std::max(p.thickness[p.column(j, i)], p.constants.minimum_thickness);
      double B = 0.0; // column-mean hardness
      for (int k = 0; k < p.nz; ++k) B += p.hardness[p.node(j, i, k)] / p.nz;
      const double A = std::pow(B, -n); // Pa^-n a^-1
      const double factor =
          -2.0 * A * std::pow(rho_g * slope, n - 1.0) * rho_g * std::pow(H, n + 1.0) / (n + 1.0);
      for (int k = 0; k < p.nz; ++k) {
        const double shape =
            p.node_free[p.column(j, i)] ? 1.0 - std::pow(1.0 - p.sigma[size_t(k)], n + 1.0) : 0.0;
        x.data()[k0 + size_t(k) * 2 + 0] = factor * sx * shape;
        x.data()[k0 + size_t(k) * 2 + 1] = factor * sy * shape;
      }
    }
}

bool BlatterPattyn::has_ice_free_columns() const {
  const core::BPPatch& p = m_problem->patch();
  int ice_free = 0;
  for (int j = p.ys; j < p.ys + p.ym && !ice_free; ++j)
    for (int i = p.xs; i < p.xs + p.xm; ++i)
      if (p.thickness[p.column(j, i)] < p.constants.minimum_thickness) ice_free = 1;
  MPI_Allreduce(MPI_IN_PLACE, &ice_free, 1, MPI_INT, MPI_MAX, m_grid->comm());
  return ice_free != 0;
}

void BlatterPattyn::switch_multigrid_to_incomplete_cholesky() {
  // GMRES/ICC with its line search (l2), and the preconditioner rebuilt
  // at every Newton step (multigrid's lag of 2 doubles ICC's Krylov count).
  m_default_multigrid = false;
  use_incomplete_cholesky(0);
  if (!user_gave("-snes_linesearch_type")) set_line_search(SNESLINESEARCHL2); // else the user's
  if (!user_gave("-snes_lag_preconditioner")) NUNATAK_PETSC(SNESSetLagPreconditioner(m_snes, 1));
}

void BlatterPattyn::use_newton_linearisation(bool stress_velocity) {
  m_stress_velocity = stress_velocity;
  // The exact Hessian from here on: the dual stress of a stress-velocity
  // attempt must go, or the Hessian keeps its last (stale) direction, which
  // the exact-Hessian rungs of the robustness ladder then used (Aletsch
  // sliding everywhere failed on every rung; docs/blatter_pattyn.md).
  if (!stress_velocity) m_problem->clear_dual_stress();
  if (user_gave("-snes_linesearch_type")) return;
  // The stress-velocity matrix is symmetric positive definite, so its step
  // descends the energy: the critical-point search (the energy's minimum
  // along the step) suits it; with the exact Hessian it takes more Newton
  // steps than l2 on Greenland (17 against 14).
  set_line_search(stress_velocity       ? SNESLINESEARCHCP
                  : m_default_multigrid ? SNESLINESEARCHBT
                                        : SNESLINESEARCHL2);
}

bool BlatterPattyn::user_gave(const char* option) const {
  PetscBool given = PETSC_FALSE;
  NUNATAK_PETSC(PetscOptionsHasName(nullptr, m_params.options_prefix.c_str(), option, &given));
  return given == PETSC_TRUE;
}

void BlatterPattyn::set_line_search(const char* type) {
  SNESLineSearch line_search = nullptr;
  NUNATAK_PETSC(SNESGetLineSearch(m_snes, &line_search));
  NUNATAK_PETSC(SNESLineSearchSetType(line_search, type));
}

bool BlatterPattyn::start_from_coarser_grid(BPSolveReport& report) {
  if (m_coarser_grids_allowed <= 0 || !m_columns ||
      !sequence_coarsens(m_dm, m_mx, m_my, m_mz, m_periodic_x, m_periodic_y))
    return false;
  const MPI_Comm comm = m_grid->comm();
  // Only where every column holds ice: at margins the injected coarse mask
  // differs from the fine one, and the interpolated start cost Newton steps
  // (an ice cap on 33 x 33 x 9 nodes: 16-17 instead of 13 on the finest grid).
  if (has_ice_free_columns()) return false;

  // The coarse DMDA is PETSc's coarsening of this one (so that interpolation
  // between the two is local up to the ghosts); the coarsen hook has
  // attached the geometry injected onto it (coarse node i = fine node 2i).
  core::DMHandle coarse_dm;
  NUNATAK_PETSC(DMCoarsen(m_dm, comm, coarse_dm.out()));
  const auto columns = bp_driver::columns_of(coarse_dm);
  if (!columns) throw Error("internal: the coarse DMDA has no Blatter-Pattyn geometry");
  PetscInt cmz = 0;
  NUNATAK_PETSC(DMDAGetInfo(coarse_dm, nullptr, &cmz, nullptr, nullptr, nullptr, nullptr, nullptr,
                            nullptr, nullptr, nullptr, nullptr, nullptr, nullptr));
  BPParams params = m_params;
  params.levels = int(cmz);
  BlatterPattyn coarse(columns->grid, params, std::move(coarse_dm));
  coarse.m_coarser_grids_allowed = m_coarser_grids_allowed - 1;
  coarse.m_grid_sequence_rtol = m_grid_sequence_rtol;
  coarse.m_stress_velocity_option = m_stress_velocity_option;
  coarse.set_body_force(m_body_force);
  // (A softness field from set_softness is not passed down: the coarse grid
  // only provides the starting guess, with the uniform flow law.)
  coarse.set_geometry(columns->thk, columns->base, columns->beta2 ? &*columns->beta2 : nullptr,
                      columns->bed_fixed ? &*columns->bed_fixed : nullptr);

  // The coarse solution only has to be good to the coarse grid's
  // discretisation error: a looser tolerance (-bp_grid_sequence_rtol).
  PetscReal atol, rtol, stol;
  PetscInt maxit, maxf;
  NUNATAK_PETSC(SNESGetTolerances(coarse.m_snes, &atol, &rtol, &stol, &maxit, &maxf));
  NUNATAK_PETSC(SNESSetTolerances(coarse.m_snes, atol, m_grid_sequence_rtol, stol, maxit, maxf));
  const BPSolveReport c = coarse.solve();
  if (!c.converged) return false;
  report.coarse_grids = 1 + c.coarse_grids;
  report.coarse_newton_iterations = c.newton_iterations + c.coarse_newton_iterations;
  report.coarse_krylov_iterations = c.krylov_iterations + c.coarse_krylov_iterations;
  core::MatHandle interpolation;
  NUNATAK_PETSC(DMCreateInterpolation(coarse.m_dm, m_dm, interpolation.out(), nullptr));
  NUNATAK_PETSC(MatInterpolate(interpolation, coarse.m_solution, m_solution));
  return true;
}

BPSolveReport BlatterPattyn::solve() {
  read_options();
  create_jacobian_matrix(); // a solve before set_geometry: the matrix of the empty problem
  // Absolute tolerance: 1e-8 of the residual at zero velocity (the driving
  // stress), so that a warm-started solve stops where a cold one would,
  // above the round-off floor of a large ice sheet. Step tolerance: 0 (off),
  // or in a transient step's solve (update() of inputs that are not a
  // diagnosis) transient_step_tolerance. -bp_snes_atol and -bp_snes_stol win.
  {
    PetscReal atol, rtol, stol;
    PetscInt maxit, maxf;
    NUNATAK_PETSC(SNESGetTolerances(m_snes, &atol, &rtol, &stol, &maxit, &maxf));
    if (!user_gave("-snes_atol")) {
      core::VecHandle f0;
      NUNATAK_PETSC(VecDuplicate(m_solution, f0.out()));
      residual_at_rest(f0);
      PetscReal forcing = 0;
      NUNATAK_PETSC(VecNorm(f0, NORM_2, &forcing));
      atol = rtol * forcing;
    }
    if (!user_gave("-snes_stol")) stol = m_step_tolerance;
    NUNATAK_PETSC(SNESSetTolerances(m_snes, atol, rtol, stol, maxit, maxf));
  }
  // Fixed dofs hold their prescribed value (columns that just became ice-free
  // would otherwise start with a large, artificial residual).
  auto zero_fixed_dofs = [this] {
    const core::BPPatch& p = m_problem->patch();
    const core::VecWriteArray x(m_solution);
    size_t n = 0;
    for (int j = p.ys; j < p.ys + p.ym; ++j)
      for (int i = p.xs; i < p.xs + p.xm; ++i)
        for (int k = 0; k < p.nz; ++k, n += 2)
          if (p.fixed(j, i, k)) x.data()[n] = x.data()[n + 1] = 0.0;
  };
  zero_fixed_dofs();
  PetscReal current = 0;
  NUNATAK_PETSC(VecNorm(m_solution, NORM_INFINITY, &current));
  BPSolveReport r;
  // The default geometric multigrid stalls where the ice has margins (the
  // coarse grids' basis functions straddle them: Greenland cropped to 97 x
  // 173 nodes, or at 32 km): there, GMRES/ICC from the start.
  if (m_default_multigrid && has_ice_free_columns()) switch_multigrid_to_incomplete_cholesky();
  // The column multigrid (bp_column_multigrid.cpp) from the start where the
  // user asks for it (-bp_column_multigrid 1) and GMRES/ICC(0) is the
  // default. Not the default itself: on Greenland with its shelves kept it
  // takes 23 Newton steps and 15 s against ICC(0)'s 13 and 9 s, and on
  // Aletsch 16 s against 14 s (docs/blatter_pattyn.md). One that the ladder
  // chose stays while ice floats, then gives way to ICC(0) again.
  if (m_default_linear_solver && m_incomplete_cholesky && m_incomplete_cholesky_fill == 0) {
    const int option = column_multigrid_option();
    if (option == 1 && !m_column_multigrid)
      use_column_multigrid();
    else if (option != 1 && m_column_multigrid && (option == 0 || !has_free_slip_ice()))
      use_incomplete_cholesky(0);
  }
  // Stress-velocity Newton where GMRES/ICC is the default, i.e. on grids
  // with ice margins or that do not coarsen by 2: Greenland at 16 km takes 8
  // Newton steps instead of 14, Aletsch 8 instead of 9 (docs/blatter_pattyn.md).
  // With grid sequencing and multigrid (ISMIP-HOM) Newton takes 5 steps
  // either way, and the dual stress would cost memory for nothing.
  const bool stress_velocity_default = m_default_linear_solver && m_incomplete_cholesky;
  use_newton_linearisation(m_stress_velocity_option >= 0 ? m_stress_velocity_option != 0
                                                         : stress_velocity_default);
  // A transient step's solve (warm-started, with the step tolerance) takes
  // full Newton steps: from the last step's velocity (2-5 % away on
  // Greenland) the critical-point search's extra residual per step buys
  // nothing (the 15-year Greenland run: 124 residuals against 195, 92 Newton
  // steps against 88, SNESSolve 42.1 s against 45.6 s, the same thickness
  // to 5e-5 m). Where full steps fail, the solve is retried with the search
  // from the same start.
  const bool full_steps = current != 0.0 && m_step_tolerance > 0 && m_stress_velocity &&
                          !user_gave("-snes_linesearch_type");
  core::VecHandle start;
  if (full_steps) {
    NUNATAK_PETSC(VecDuplicate(m_solution, start.out()));
    NUNATAK_PETSC(VecCopy(m_solution, start));
    set_line_search(SNESLINESEARCHBASIC);
  }
  if (current == 0.0) {
    // Cold start: from the coarser grid's solution where the grid coarsens,
    // else from the shallow-ice velocity.
    if (start_from_coarser_grid(r))
      zero_fixed_dofs();
    else
      set_sia_initial_guess();
  }
  {
    core::VecHandle f;
    NUNATAK_PETSC(VecDuplicate(m_solution, f.out()));
    residual(m_solution, f);
    PetscReal norm0 = 0;
    NUNATAK_PETSC(VecNorm(f, NORM_2, &norm0));
    r.initial_residual = norm0;
    // The first SNESSolve below starts from this residual instead of
    // computing it again (a residual per solve: 1.1 s of the 15-year
    // Greenland run).
    NUNATAK_PETSC(SNESSetInitialFunction(m_snes, f));
  }
  auto attempt = [&] {
    NUNATAK_PETSC(SNESSolve(m_snes, nullptr, m_solution));
    SNESConvergedReason reason;
    NUNATAK_PETSC(SNESGetConvergedReason(m_snes, &reason));
    PetscInt its = 0, lits = 0;
    NUNATAK_PETSC(SNESGetIterationNumber(m_snes, &its));
    NUNATAK_PETSC(SNESGetLinearSolveIterations(m_snes, &lits));
    PetscReal fnorm = 0;
    NUNATAK_PETSC(SNESGetFunctionNorm(m_snes, &fnorm));
    r.converged = reason > 0;
    r.stress_velocity = m_stress_velocity;
    r.newton_iterations += int(its);
    r.krylov_iterations += int(lits);
    r.final_residual = fnorm;
    r.reason = SNESConvergedReasons[reason];
  };
  attempt();
  if (full_steps) {
    if (!r.converged) {
      NUNATAK_PETSC(VecCopy(start, m_solution));
      set_line_search(SNESLINESEARCHCP);
      attempt();
      r.retried_with_line_search = true;
    }
    set_line_search(SNESLINESEARCHCP); // the stress-velocity Newton's own
  }
  if (!r.converged && !m_coarse_stage) {
    // Robustness ladder: (1) a stalled default GMRES/ILU gives way to
    // FGMRES/GAMG; (2) restart from the shallow-ice velocity and follow a
    // continuation in the strain-rate regularisation, from a viscosity that is
    // nearly linear (reg^2 x 1e6) down to the requested one. Each stage is a
    // bounded Newton solve, so a hopeless problem fails, not hangs.
    const long long unknowns = 2LL * m_mx * m_my * m_mz;
    // LU on more than one rank needs a parallel direct solver (MUMPS or
    // SuperLU_dist: Debian's PETSc has both).
    int ranks = 1;
    MPI_Comm_size(PetscObjectComm(reinterpret_cast<PetscObject>(static_cast<SNES>(m_snes))),
                  &ranks);
#if defined(PETSC_HAVE_MUMPS) || defined(PETSC_HAVE_SUPERLU_DIST)
    const bool parallel_lu = true;
#else
    const bool parallel_lu = false;
#endif
    r.stalled_solver = m_default_solver_name;
    if (m_default_multigrid) {
      // First rung where the default geometric multigrid stalled:
      // GMRES/ICC, the default of the other grids, with its Newton
      // linearisation and line search, from the shallow-ice velocity.
      switch_multigrid_to_incomplete_cholesky();
      use_newton_linearisation(m_stress_velocity_option != 0);
      r.switched_to_icc = true;
      set_sia_initial_guess();
      attempt();
      if (!r.converged) r.stalled_solver += " and " + m_default_solver_name;
    }
    if (!r.converged && m_default_linear_solver && m_incomplete_cholesky &&
        m_incomplete_cholesky_fill == 0 && !m_column_multigrid && column_multigrid_option() != 0 &&
        has_free_slip_ice()) {
      // A stalled ICC(0) under floating ice gives way to the column
      // multigrid, from the shallow-ice velocity: ICC(0) damps the shelves'
      // long membrane modes by about a cell per iteration (a 200 x 200 x 9
      // marine ice sheet at 16 km: no solution after 15 minutes through the
      // other rungs; 61 s through this one). Where it stalls too, ICC(1).
      use_column_multigrid();
      r.switched_to_column_multigrid = true;
      set_sia_initial_guess();
      attempt();
      if (!r.converged) r.stalled_solver += " and " + m_default_solver_name;
    }
    if (!r.converged && m_default_linear_solver && m_incomplete_cholesky &&
        m_incomplete_cholesky_fill == 0 && !user_gave_fill_levels()) {
      // A stalled ICC(0) gives way to ICC(1), with the same Newton
      // linearisation, from the shallow-ice velocity: ISMIP-HOM D's flowline
      // (L = 20 km, 128 x 4 x 17 nodes) on two ranks, whose layers (62.5 m)
      // are thick against the grid spacing (156 m).
      use_incomplete_cholesky(1);
      r.switched_to_fill = true;
      set_sia_initial_guess();
      attempt();
      if (!r.converged) r.stalled_solver += " and " + m_default_solver_name;
    }
    // The later rungs use the exact Hessian (unless the user asked for the
    // stress-velocity matrix), as before that linearisation existed.
    if (!r.converged && m_stress_velocity && m_stress_velocity_option != 1)
      use_newton_linearisation(false);
    if (!r.converged && m_default_linear_solver && (ranks == 1 || parallel_lu) &&
        (m_params.direct_fallback || unknowns <= m_params.direct_solve_unknowns)) {
      // First rung, small grids: sparse LU from the shallow-ice velocity.
      PC pc = use_linear_solver(m_snes, KSPPREONLY, PCLU);
      NUNATAK_PETSC(PCFactorSetMatOrderingType(pc, MATORDERINGND));
      m_default_linear_solver = false;
      r.switched_to_lu = true;
      set_sia_initial_guess();
      attempt();
    }
    if (!r.converged && m_default_linear_solver) {
      // First rung: a stronger linear solver (algebraic multigrid, true
      // residual norm) from the shallow-ice velocity.
      use_linear_solver(m_snes, KSPFGMRES, PCGAMG);
      KSP ksp = nullptr;
      NUNATAK_PETSC(SNESGetKSP(m_snes, &ksp));
      bp_driver::read_solver_options(m_params.options_prefix, [&] {
        NUNATAK_PETSC(KSPSetFromOptions(ksp)); // e.g. -bp_pc_gamg_threshold
      });
      // The iteration cap (150, or -bp_ksp_max_it) was for GMRES/ILU.
      NUNATAK_PETSC(KSPSetTolerances(ksp, PETSC_DEFAULT, PETSC_DEFAULT, PETSC_DEFAULT, 10000));
      m_default_linear_solver = false;
      r.switched_to_gamg = true;
      set_sia_initial_guess();
      attempt();
    }
    if (!r.converged) {
      const double target = m_reg2;
      const auto use_regularisation = [this](double reg2) {
        m_reg2 = reg2;
        core::BPPatch patch = m_problem->patch();
        patch.constants.regularisation2 = reg2;
        m_problem->set_patch(std::move(patch));
      };
      set_sia_initial_guess();
      for (double factor : {1e6, 1e4, 1e2, 1.0}) {
        use_regularisation(target * factor);
        ++r.continuation_stages;
        attempt();
        if (!r.converged) break;
      }
      use_regularisation(target);
    }
  }
  m_problem->clear_dual_stress(); // hessian() is exact again (adjoints)
  // Newton's inexact linear solves leave round-off (1e-60 m/a) in the fixed
  // dofs: they are exactly 0, and so are the velocities of ice-free columns.
  zero_fixed_dofs();
  m_report = r;
  return r;
}

std::string BlatterPattyn::last_solve_summary() const {
  const BPSolveReport& r = m_report;
  char text[256];
  std::snprintf(text, sizeof text,
                "%sNewton %d iterations, %d Krylov iterations, residual %.3e -> %.3e (%s)%s",
                r.stress_velocity ? "stress-velocity " : "", r.newton_iterations,
                r.krylov_iterations, r.initial_residual, r.final_residual, r.reason.c_str(),
                r.continuation_stages > 0 ? ", after regularisation continuation" : "");
  std::string summary = text;
  if ((r.switched_to_icc || r.switched_to_fill || r.switched_to_column_multigrid) &&
      !r.switched_to_gamg && !r.switched_to_lu)
    summary += "; " + r.stalled_solver + " stalled, solved with " + m_default_solver_name;
  if (r.switched_to_gamg) summary += "; " + r.stalled_solver + " stalled, solved with FGMRES/GAMG";
  if (r.switched_to_lu) summary += "; " + r.stalled_solver + " stalled, solved with LU";
  if (r.coarse_grids > 0) {
    std::snprintf(text, sizeof text,
                  "; started from %d coarser grid(s): %d Newton, %d Krylov iterations there",
                  r.coarse_grids, r.coarse_newton_iterations, r.coarse_krylov_iterations);
    summary += text;
  }
  return summary;
}

} // namespace nunatak::solver
