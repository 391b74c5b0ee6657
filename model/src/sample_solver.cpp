// One stored Blatter-Pattyn problem, re-solved for other thicknesses
// (sample_solver.hpp).

#include "nunatak/model/sample_solver.hpp"

#include "nunatak/core/constants.hpp"
#include "nunatak/core/error.hpp"
#include "nunatak/core/field3d.hpp"
#include "nunatak/core/parallel_grid.hpp"
#include "nunatak/core/petsc_handle.hpp"
#include "nunatak/solver/blatter_pattyn.hpp"

#include <cmath>

namespace nunatak::model {

core::DecompositionOptions ice_balanced_decomposition(const core::BPPatch& patch, int ranks) {
  std::vector<double> weight(size_t(patch.nx) * size_t(patch.ny));
  for (int j = 0; j < patch.ny; ++j)
    for (int i = 0; i < patch.nx; ++i)
      weight[size_t(j) * size_t(patch.nx) + size_t(i)] =
          patch.node_free[patch.column(j, i)] ? 1.0 : 0.1;
  return core::weight_balanced_decomposition(patch.nx, patch.ny, weight, ranks);
}

SampleSolver::SampleSolver(const core::BPPatch& patch, bool ocean_pressure,
                           const std::string& options_prefix, bool small_grid, MPI_Comm comm)
    : m_patch(patch), m_prefix(options_prefix) {
  m_patch.check("sample solver");
  const core::BPConstants& c = patch.constants;
  solver::BPParams p;
  p.flow.n = c.glen_exponent;
  p.levels = patch.nz;
  p.minimum_thickness = c.minimum_thickness;
  p.strain_rate_regularisation = std::sqrt(c.regularisation2);
  p.no_slip = false;
  p.friction_exponent = c.friction_exponent;
  p.ocean_pressure = ocean_pressure;
  p.sea_level = c.sea_level;
  p.sea_water_density = c.water_ratio * c.rho_g / 9.81;
  p.options_prefix = options_prefix;
  p.direct_fallback = small_grid; // small grids: LU where GMRES/ILU stalls
  int ranks = 1;
  MPI_Comm_size(comm, &ranks);
  m_grid =
      core::ParallelGrid::create(comm, core::Grid(patch.nx, patch.ny, patch.dx, patch.dy, 0.0, 0.0),
                                 ice_balanced_decomposition(patch, ranks));
  const auto& grid = m_grid;
  m_solver = std::make_unique<solver::BlatterPattyn>(grid, p);
  // Softness A = B^-n (Pa^-n a^-1, enhancement 1) in SI units, on the patch's levels.
  core::Field3D softness(grid, core::FieldInfo{"softness", "softness", "", "Pa-n s-1", "", {}, ""},
                         patch.sigma);
  {
    auto A = Kokkos::create_mirror_view(softness.view());
    const core::LocalBox& box = grid->box();
    for (int j = 0; j < box.gym; ++j)
      for (int i = 0; i < box.gxm; ++i)
        for (int k = 0; k < patch.nz; ++k)
          A(j, i, k) =
              std::pow(patch.hardness[patch.node(j + box.gys, i + box.gxs, k)], -c.glen_exponent) /
              core::seconds_per_year;
    Kokkos::deep_copy(softness.view(), A);
  }
  m_solver->set_softness(softness);
}

SampleSolver::~SampleSolver() = default;

void SampleSolver::set_velocity(const std::vector<double>& velocity) {
  core::dmda_scatter_from_zero(m_solver->dm(), velocity, m_solver->solution(),
                               "the sample solver's initial velocity");
}

std::vector<double> SampleSolver::solve(const std::vector<double>& thickness) {
  return solve(thickness, m_patch.bed, m_patch.beta2);
}

std::vector<double> SampleSolver::solve(const std::vector<double>& thickness,
                                        const std::vector<double>& base_elevation,
                                        const std::vector<double>& beta2_values) {
  const auto& grid = m_grid;
  const auto field = [&](const char* name, const std::vector<double>& values) {
    core::Field2D f(grid, core::FieldInfo{name, name, "", "", "", {}, ""});
    grid->scatter_from_zero(values, f);
    return f;
  };
  std::vector<double> fixed(m_patch.bed_fixed.begin(), m_patch.bed_fixed.end());
  const core::Field2D thk = field("thk", thickness), base = field("base", base_elevation);
  const core::Field2D beta2 = field("beta2", beta2_values), bed_fixed = field("bed_fixed", fixed);
  m_solver->set_geometry(thk, base, &beta2, &bed_fixed);
  const solver::BPSolveReport report = m_solver->solve();
  m_newton = report.newton_iterations;
  m_krylov = report.krylov_iterations;
  if (!report.converged)
    throw Error("sample solver: Newton did not converge (" + report.reason + ")");
  return core::dmda_gather_to_zero(m_solver->dm(), m_solver->solution());
}

std::vector<double> SampleSolver::adjoint(const std::vector<double>& rhs) {
  // The right-hand side with 0 at fixed nodes (on rank 0, in natural order).
  std::vector<double> b_values = rhs;
  if (m_grid->rank() == 0 && rhs.size() == m_patch.size())
    for (int j = 0; j < m_patch.ny; ++j)
      for (int i = 0; i < m_patch.nx; ++i)
        for (int k = 0; k < m_patch.nz; ++k)
          if (m_patch.fixed(j, i, k)) {
            const size_t n = 2 * m_patch.node(j, i, k);
            b_values[n] = b_values[n + 1] = 0.0;
          }
  core::VecHandle b, x;
  NUNATAK_PETSC(VecDuplicate(m_solver->solution(), b.out()));
  NUNATAK_PETSC(VecDuplicate(m_solver->solution(), x.out()));
  core::dmda_scatter_from_zero(m_solver->dm(), b_values, b, "the adjoint's right-hand side");
  // The Hessian at the solution (the last Newton matrix is one step behind).
  Mat K = m_solver->matrix();
  m_solver->jacobian(m_solver->solution(), K);
  const auto converged = [](KSP ksp) {
    KSPConvergedReason reason;
    NUNATAK_PETSC(KSPGetConvergedReason(ksp, &reason));
    return reason > 0;
  };
  // First the forward solves' own Krylov method and preconditioner (on real
  // grids GMRES/ICC(0) on the RCM ordering, multigrid where the grid
  // coarsens by 2), set up again on K, to a relative residual of 1e-10.
  // GMRES/ILU(0) in the natural ordering, tried first until 2026-12-01,
  // stalls on Aletsch at 100 m and fell through to LU (docs/inversion.md).
  const auto solve_as_forward = [&] {
    // Eisenstat-Walker's tolerances (a hook before each solve) are off for it.
    SNES snes = m_solver->snes();
    PetscBool eisenstat_walker = PETSC_FALSE;
    NUNATAK_PETSC(SNESKSPGetUseEW(snes, &eisenstat_walker));
    NUNATAK_PETSC(SNESKSPSetUseEW(snes, PETSC_FALSE));
    KSP ksp = nullptr;
    NUNATAK_PETSC(SNESGetKSP(snes, &ksp));
    PetscReal rtol = 0, atol = 0, dtol = 0;
    PetscInt max_it = 0;
    NUNATAK_PETSC(KSPGetTolerances(ksp, &rtol, &atol, &dtol, &max_it));
    PetscBool reuse = PETSC_FALSE;
    NUNATAK_PETSC(KSPGetReusePreconditioner(ksp, &reuse));
    NUNATAK_PETSC(KSPSetReusePreconditioner(ksp, PETSC_FALSE));
    NUNATAK_PETSC(KSPSetOperators(ksp, K, K));
    NUNATAK_PETSC(KSPSetTolerances(ksp, 1e-10, 1e-300, PETSC_DEFAULT, 2000));
    NUNATAK_PETSC(VecSet(x, 0.0));
    NUNATAK_PETSC(KSPSolve(ksp, b, x));
    const bool ok = converged(ksp);
    NUNATAK_PETSC(KSPSetTolerances(ksp, rtol, atol, dtol, max_it));
    NUNATAK_PETSC(KSPSetReusePreconditioner(ksp, reuse));
    NUNATAK_PETSC(SNESKSPSetUseEW(snes, eisenstat_walker));
    return ok;
  };
  // Then a direct solve: sparse LU on one rank; on several, LU of the whole
  // matrix on each (PCREDUNDANT).
  const bool one_rank = m_grid->size() == 1;
  const auto solve_direct = [&] {
    core::KSPHandle ksp;
    NUNATAK_PETSC(KSPCreate(m_grid->comm(), ksp.out()));
    NUNATAK_PETSC(KSPSetOperators(ksp, K, K));
    NUNATAK_PETSC(KSPSetOptionsPrefix(ksp, (m_prefix + "adjoint_").c_str()));
    NUNATAK_PETSC(KSPSetType(ksp, KSPPREONLY));
    PC pc;
    NUNATAK_PETSC(KSPGetPC(ksp, &pc));
    NUNATAK_PETSC(PCSetType(pc, one_rank ? PCLU : PCREDUNDANT));
    if (one_rank) NUNATAK_PETSC(PCFactorSetMatOrderingType(pc, MATORDERINGND));
    NUNATAK_PETSC(KSPSetFromOptions(ksp));
    NUNATAK_PETSC(KSPSolve(ksp, b, x));
    return converged(ksp);
  };
  if (!solve_as_forward() && !solve_direct())
    throw Error("sample solver: the adjoint solve did not converge (the forward solves' linear "
                "solver, then LU)");
  return core::dmda_gather_to_zero(m_solver->dm(), x);
}

} // namespace nunatak::model
