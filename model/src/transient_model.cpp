#include "nunatak/model/transient_model.hpp"

#include "nunatak/core/error.hpp"

#include <cmath>

namespace nunatak::model {

void ConstantForcing::update(double, const ModelState&, core::Field2D& smb) {
  Kokkos::deep_copy(smb.view(), m_smb.view());
}

void FormulaForcing::update(double t, const ModelState&, core::Field2D& smb) {
  const core::LocalBox b = smb.grid().box();
  const core::Grid& g = smb.grid().grid();
  auto host = Kokkos::create_mirror_view(smb.view());
  for (int j = b.ys; j < b.ys + b.ym; ++j)
    for (int i = b.xs; i < b.xs + b.xm; ++i) host(b.lj(j), b.li(i)) = m_formula(t, g.x(i), g.y(j));
  Kokkos::deep_copy(smb.view(), host);
}

void update_ghosts_with_edge(core::Field2D& field, double outside) {
  const core::ParallelGrid& grid = field.grid();
  grid.update_ghosts(field);
  const core::LocalBox b = grid.box();
  const int nx = grid.grid().nx(), ny = grid.grid().ny();
  const bool px = grid.options().periodic_x, py = grid.options().periodic_y;
  const int gxs = b.gxs, gys = b.gys;
  const core::View2D v = field.view();
  Kokkos::parallel_for(
      "model::edge_ghosts", Kokkos::MDRangePolicy<Kokkos::Rank<2>>({0, 0}, {b.gym, b.gxm}),
      KOKKOS_LAMBDA(int j, int i) {
        const int gi = i + gxs, gj = j + gys;
        const bool out_x = !px && (gi < 0 || gi >= nx), out_y = !py && (gj < 0 || gj >= ny);
        if (out_x || out_y) v(j, i) = outside;
      });
}

TransientModel::TransientModel(std::unique_ptr<solver::StressBalance> stress_balance,
                               std::unique_ptr<SurfaceForcing> forcing, ModelState initial,
                               const ModelParams& params, StressCoefficients coefficients)
    : m_stress(std::move(stress_balance)), m_forcing(std::move(forcing)),
      m_state(std::move(initial)), m_params(params), m_coefficients(std::move(coefficients)) {
  if (!(params.diffusivity_safety > 0.0 && params.diffusivity_safety <= 1.0))
    throw Error("time.diffusivity_safety must be in (0, 1]");
  if (!(params.max_dt > 0.0)) throw Error("time.max_step must be positive");
  if (!(params.cfl > 0.0 && params.cfl <= 1.0)) throw Error("time.cfl must be in (0, 1]");
  refresh_geometry();
}

void TransientModel::refresh_geometry() {
  // Bed ghosts: neighbours' values; outside the domain the bed keeps its
  // values from input (the edge value), which update_ghosts leaves alone.
  m_state.thk.grid().update_ghosts(m_state.topg);
  update_ghosts_with_edge(m_state.thk, 0.0);
  const core::View2D H = m_state.thk.view(), bed = m_state.topg.view();
  const core::View2D s = m_state.usurf.view(), mask = m_state.mask.view();
  const core::Floatation floatation = m_params.transport.floatation;
  const core::LocalBox b = m_state.thk.grid().box();
  Kokkos::parallel_for(
      "model::surface_and_mask", Kokkos::MDRangePolicy<Kokkos::Rank<2>>({0, 0}, {b.gym, b.gxm}),
      KOKKOS_LAMBDA(int j, int i) {
        s(j, i) = floatation.surface(H(j, i), bed(j, i));
        mask(j, i) = floatation.cell_type(H(j, i), bed(j, i)); // PISM cell types
      });
}

solver::StressBalanceInputs TransientModel::stress_inputs() const {
  solver::StressBalanceInputs in{m_state.thk, m_state.topg, m_state.usurf,
                                 m_params.transport.floatation};
  if (m_coefficients.basal_friction) in.basal_friction = &*m_coefficients.basal_friction;
  if (m_coefficients.softness) in.softness = &*m_coefficients.softness;
  return in;
}

StepReport TransientModel::step(double t_limit) {
  StepReport report;
  const double t = m_state.time;
  if (!(t_limit > t)) throw Error("internal: step to a time not after the current one");
  m_stress->update(stress_inputs());
  const core::Grid& g = m_state.thk.grid().grid();
  const double D = m_stress->max_diffusivity();
  double dt = m_params.max_dt;
  report.limited_by = "max_dt";
  if (D > 0.0) {
    const double dt_diffusion = m_params.diffusivity_safety /
                                (2.0 * D * (1.0 / (g.dx() * g.dx()) + 1.0 / (g.dy() * g.dy())));
    if (dt_diffusion < dt) {
      dt = dt_diffusion;
      report.limited_by = "diffusivity";
    }
  }
  const double rate = m_stress->max_advection_rate();
  if (rate > 0.0 && m_params.cfl / rate < dt) {
    dt = m_params.cfl / rate;
    report.limited_by = "cfl";
  }
  if (t + dt >= t_limit) {
    dt = t_limit - t;
    report.limited_by = "target time";
  }
  m_forcing->update(t, m_state, m_state.smb);
  report.budget =
      solver::transport_step(m_state.thk.grid(), m_params.transport, dt, m_stress->fluxes(),
                             m_state.smb, m_state.topg, m_state.thk);
  report.dt = dt;
  m_state.time = report.limited_by == std::string("target time") ? t_limit : t + dt;
  ++m_state.steps;
  refresh_geometry();
  return report;
}

void TransientModel::run_until(double t_end, const std::function<void(const StepReport&)>& after) {
  while (m_state.time < t_end) {
    const StepReport r = step(t_end);
    if (after) after(r);
  }
}

solver::Velocities TransientModel::velocities(const std::vector<double>& sigma) {
  m_stress->update(stress_inputs());
  return m_stress->velocities(sigma);
}

void TransientModel::restore(const std::vector<double>& thk, double time, long long steps) {
  const core::ParallelGrid& grid = m_state.thk.grid();
  if (static_cast<long long>(thk.size()) != grid.grid().size())
    throw Error("restart: the checkpoint's thickness has " + std::to_string(thk.size()) +
                " cells, the grid " + std::to_string(grid.grid().size()));
  const core::LocalBox b = grid.box();
  const int nx = grid.grid().nx();
  auto host = Kokkos::create_mirror_view(m_state.thk.view());
  Kokkos::deep_copy(host, m_state.thk.view());
  for (int j = b.ys; j < b.ys + b.ym; ++j)
    for (int i = b.xs; i < b.xs + b.xm; ++i)
      host(b.lj(j), b.li(i)) = thk[static_cast<size_t>(j) * nx + i];
  Kokkos::deep_copy(m_state.thk.view(), host);
  m_state.time = time;
  m_state.steps = steps;
  refresh_geometry();
}

double TransientModel::volume() const {
  return m_state.thk.grid().sum(m_state.thk) * m_state.thk.grid().grid().cell_area();
}

double TransientModel::area() const {
  const core::View2D H = m_state.thk.view();
  const core::Floatation floatation = m_params.transport.floatation;
  const core::LocalBox b = m_state.thk.grid().box();
  const int i0 = b.xs - b.gxs, j0 = b.ys - b.gys;
  long long local = 0, total = 0;
  Kokkos::parallel_reduce(
      "model::ice_cells", Kokkos::MDRangePolicy<Kokkos::Rank<2>>({j0, i0}, {j0 + b.ym, i0 + b.xm}),
      KOKKOS_LAMBDA(int j, int i, long long& n) { n += floatation.has_ice(H(j, i)) ? 1 : 0; },
      Kokkos::Sum<long long>(local));
  MPI_Allreduce(&local, &total, 1, MPI_LONG_LONG, MPI_SUM, m_state.thk.grid().comm());
  return double(total) * m_state.thk.grid().grid().cell_area();
}

} // namespace nunatak::model
