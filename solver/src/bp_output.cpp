// Output of the Blatter-Pattyn driver: the solution's column velocities (m/a)
// handed to column_velocity.hpp, which makes the upwind face fluxes that mass
// transport advects (with the CFL rate) and the output fields.

#include "bp_driver.hpp"
#include "nunatak/core/constants.hpp"
#include "nunatak/core/parallel_grid.hpp"
#include "nunatak/solver/column_velocity.hpp"

#include <algorithm>
#include <cmath>

namespace nunatak::solver {

namespace {

/// The rank's ghosted velocities [y][x][z][c] (m/a) of a global solution vector.
std::vector<double> local_velocities(DM dm, Vec solution) {
  core::BorrowedVec local(dm, core::BorrowedVec::local);
  NUNATAK_PETSC(DMGlobalToLocal(dm, solution, INSERT_VALUES, local));
  PetscInt n = 0;
  NUNATAK_PETSC(VecGetLocalSize(local, &n));
  const core::VecReadArray a(local);
  return std::vector<double>(a.data(), a.data() + n);
}

} // namespace

ColumnVelocityBox BlatterPattyn::column_box(const std::vector<double>& x) const {
  const core::BPPatch& p = m_problem->patch();
  const core::LocalBox b2 = m_grid->box();
  ColumnVelocityBox b;
  b.x0 = m_gxs - b2.gxs; // the 3-D ghost box inside the 2-D one
  b.y0 = m_gys - b2.gys;
  b.nx = p.nx;
  b.ny = p.ny;
  b.nz = p.nz;
  b.xs = p.xs;
  b.ys = p.ys;
  b.xm = p.xm;
  b.ym = p.ym;
  b.values = x.data();
  b.moving = p.node_free.data();
  b.surface_trend_x = m_params.surface_trend_x;
  return b;
}

void BlatterPattyn::update_fluxes(const core::Field2D& thk, const core::Field2D& usurf) {
  const std::vector<double> x = local_velocities(m_dm, m_solution);
  m_limits = update_column_fluxes(*m_grid, thk, usurf, column_box(x), m_fluxes);
}

Velocities BlatterPattyn::velocities(const std::vector<double>& sigma) const {
  const std::vector<double> x = local_velocities(m_dm, m_solution);
  return column_velocity_fields(m_grid, column_box(x), sigma);
}

} // namespace nunatak::solver
