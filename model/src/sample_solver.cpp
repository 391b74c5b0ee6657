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

SampleSolver::SampleSolver(const core::BPPatch& patch, bool ocean_pressure,
                           const std::string& options_prefix, bool small_grid)
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
  m_grid = core::ParallelGrid::create(PETSC_COMM_SELF,
                                      core::Grid(patch.nx, patch.ny, patch.dx, patch.dy, 0.0, 0.0));
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
  if (velocity.size() != m_patch.size())
    throw Error("sample solver: the initial velocity has " + std::to_string(velocity.size()) +
                " values, the problem " + std::to_string(m_patch.size()));
  // One rank owns the whole grid: the vector is [y][x][z][c], as `velocity`.
  const core::VecWriteArray x(m_solver->solution());
  std::copy(velocity.begin(), velocity.end(), x.data());
}

std::vector<double> SampleSolver::solve(const std::vector<double>& thickness) {
  return solve(thickness, m_patch.bed, m_patch.beta2);
}

std::vector<double> SampleSolver::solve(const std::vector<double>& thickness,
                                        const std::vector<double>& base_elevation,
                                        const std::vector<double>& beta2_values) {
  const size_t columns = size_t(m_patch.nx) * size_t(m_patch.ny);
  if (thickness.size() != columns || base_elevation.size() != columns ||
      beta2_values.size() != columns)
    throw Error("sample solver: thickness, base and beta2 need " + std::to_string(columns) +
                " values each");
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
  return m_solver->patch_state().velocity;
}

std::vector<double> SampleSolver::adjoint(const std::vector<double>& rhs) {
  if (rhs.size() != m_patch.size())
    throw Error("sample solver: the adjoint's right-hand side has " + std::to_string(rhs.size()) +
                " values, the problem " + std::to_string(m_patch.size()));
  // The Hessian at the solution (the last Newton matrix is one step behind).
  Mat K = m_solver->matrix();
  m_solver->jacobian(m_solver->solution(), K);
  core::VecHandle b, x;
  NUNATAK_PETSC(VecDuplicate(m_solver->solution(), b.out()));
  NUNATAK_PETSC(VecDuplicate(m_solver->solution(), x.out()));
  {
    // One rank owns the whole grid: the vector is [y][x][z][c]; fixed rows get 0.
    const core::VecWriteArray values(b);
    for (int j = 0; j < m_patch.ny; ++j)
      for (int i = 0; i < m_patch.nx; ++i)
        for (int k = 0; k < m_patch.nz; ++k)
          for (size_t c = 0; c < 2; ++c) {
            const size_t n = 2 * m_patch.node(j, i, k) + c;
            values.data()[n] = m_patch.fixed(j, i, k) ? 0.0 : rhs[n];
          }
  }
  const auto solve_with = [&](const char* pc_type) {
    core::KSPHandle ksp;
    NUNATAK_PETSC(KSPCreate(PETSC_COMM_SELF, ksp.out()));
    NUNATAK_PETSC(KSPSetOperators(ksp, K, K));
    NUNATAK_PETSC(KSPSetOptionsPrefix(ksp, (m_prefix + "adjoint_").c_str()));
    NUNATAK_PETSC(KSPSetType(ksp, KSPGMRES));
    NUNATAK_PETSC(KSPGMRESSetRestart(ksp, 200));
    NUNATAK_PETSC(KSPSetTolerances(ksp, 1e-10, 1e-300, PETSC_DEFAULT, 2000));
    PC pc;
    NUNATAK_PETSC(KSPGetPC(ksp, &pc));
    NUNATAK_PETSC(PCSetType(pc, pc_type));
    if (std::string(pc_type) == PCLU) NUNATAK_PETSC(PCFactorSetMatOrderingType(pc, MATORDERINGND));
    NUNATAK_PETSC(KSPSetFromOptions(ksp));
    NUNATAK_PETSC(VecSet(x, 0.0));
    NUNATAK_PETSC(KSPSolve(ksp, b, x));
    KSPConvergedReason reason;
    NUNATAK_PETSC(KSPGetConvergedReason(ksp, &reason));
    return reason > 0;
  };
  if (!solve_with(PCILU) && !solve_with(PCLU))
    throw Error("sample solver: the adjoint solve did not converge (GMRES with ILU(0), then LU)");
  const core::VecReadArray values(x);
  return std::vector<double>(values.data(), values.data() + rhs.size());
}

} // namespace nunatak::model
