#include "nunatak/model/transient_model.hpp"

#include "nunatak/core/error.hpp"

#include <cmath>
#include <limits>
#include <sstream>

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

void ScenarioForcing::update(double t, const ModelState& state, core::Field2D& smb) {
  m_base->update(t, state, smb);
  const double factor = m_factor, offset = m_offset + m_offset_rate * (t - m_start);
  const core::View2D v = smb.view();
  Kokkos::parallel_for(
      "model::smb_scenario",
      Kokkos::MDRangePolicy<Kokkos::Rank<2>>({0, 0}, {v.extent(0), v.extent(1)}),
      KOKKOS_LAMBDA(int j, int i) { v(j, i) = factor * v(j, i) + offset; });
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
  if (m_params.transport.calve_floating_ice) calve_initial_state();
  refresh_geometry();
  // The balance at the start time, so that the first output record shows
  // the forcing the first step applies (a scenario's, not the input's).
  if (m_forcing) m_forcing->update(m_state.time, m_state, m_state.smb);
}

void TransientModel::calve_initial_state() {
  // The transport step's rule (solver/mass_transport.cpp): ice that floats is
  // removed. Applied to the whole ghosted box, so ghosts stay consistent.
  m_state.thk.grid().update_ghosts(m_state.topg);
  update_ghosts_with_edge(m_state.thk, 0.0);
  const core::View2D H = m_state.thk.view(), bed = m_state.topg.view();
  const core::Floatation floatation = m_params.transport.floatation;
  const core::LocalBox b = m_state.thk.grid().box();
  const int i0 = b.xs - b.gxs, j0 = b.ys - b.gys;
  const auto owned = Kokkos::MDRangePolicy<Kokkos::Rank<2>>({j0, i0}, {j0 + b.ym, i0 + b.xm});
  double cells = 0.0, thickness = 0.0;
  Kokkos::parallel_reduce(
      "model::initial_calving_cells", owned,
      KOKKOS_LAMBDA(int j, int i, double& sum) {
        sum += H(j, i) > 0.0 && floatation.floats(H(j, i), bed(j, i)) ? 1.0 : 0.0;
      },
      cells);
  Kokkos::parallel_reduce(
      "model::initial_calving_volume", owned,
      KOKKOS_LAMBDA(int j, int i, double& sum) {
        sum += H(j, i) > 0.0 && floatation.floats(H(j, i), bed(j, i)) ? H(j, i) : 0.0;
      },
      thickness);
  Kokkos::parallel_for(
      "model::initial_calving", Kokkos::MDRangePolicy<Kokkos::Rank<2>>({0, 0}, {b.gym, b.gxm}),
      KOKKOS_LAMBDA(int j, int i) {
        if (H(j, i) > 0.0 && floatation.floats(H(j, i), bed(j, i))) H(j, i) = 0.0;
      });
  double sums[2] = {cells, thickness};
  MPI_Allreduce(MPI_IN_PLACE, sums, 2, MPI_DOUBLE, MPI_SUM, m_state.thk.grid().comm());
  m_initial_calving.cells = std::llround(sums[0]);
  m_initial_calving.volume = sums[1] * m_state.thk.grid().grid().cell_area();
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

namespace {

std::string number_text(double v) {
  std::ostringstream s;
  s.precision(6);
  s << v;
  return s.str();
}

} // namespace

void TransientModel::check_state(const StepReport& report, double t) const {
  // Non-finite cells among the owned ones, and the first of them (global
  // row-major index), agreed on by every rank.
  const core::ParallelGrid& grid = m_state.thk.grid();
  const core::LocalBox b = grid.box();
  const int nx = grid.grid().nx();
  const core::View2D H = m_state.thk.view();
  const int i0 = b.xs - b.gxs, j0 = b.ys - b.gys, xs = b.xs, ys = b.ys;
  long long local = 0, first = std::numeric_limits<long long>::max();
  Kokkos::parallel_reduce(
      "model::non_finite_cells",
      Kokkos::MDRangePolicy<Kokkos::Rank<2>>({j0, i0}, {j0 + b.ym, i0 + b.xm}),
      KOKKOS_LAMBDA(int j, int i, long long& n, long long& f) {
        const double h = H(j, i);
        if (!(h - h == 0.0)) { // NaN or infinite
          n += 1;
          const long long index = (long long)(j - j0 + ys) * nx + (i - i0 + xs);
          if (index < f) f = index;
        }
      },
      Kokkos::Sum<long long>(local), Kokkos::Min<long long>(first));
  long long count = 0, global_first = 0;
  MPI_Allreduce(&local, &count, 1, MPI_LONG_LONG, MPI_SUM, grid.comm());
  if (count == 0) return;
  MPI_Allreduce(&first, &global_first, 1, MPI_LONG_LONG, MPI_MIN, grid.comm());
  const core::Grid& g = grid.grid();
  const int i = int(global_first % nx), j = int(global_first / nx);
  const double year = core::seconds_per_year;
  throw CollectiveError(
      "the ice thickness became non-finite (NaN or infinite) in " + std::to_string(count) +
          " cell(s) at step " + std::to_string(m_state.steps + 1) + ", from year " +
          number_text(t / year) + " to " + number_text((t + report.dt) / year) + " (time step " +
          number_text(report.dt / year) + " a, limited by " + report.limited_by +
          "); the first at (i = " + std::to_string(i) + ", j = " + std::to_string(j) +
          "; x = " + number_text(g.x(i)) + " m, y = " + number_text(g.y(j)) +
          " m). The run stops: the outputs hold nothing after the last checkpoint. Look for "
          "unphysical inputs there, or shorten the step (time.diffusivity_safety, time.cfl, "
          "time.max_step)",
      0);
}

StepReport TransientModel::step(double t_limit) {
  StepReport report;
  const double t = m_state.time;
  if (!(t_limit > t)) throw Error("internal: step to a time not after the current one");
  m_stress->update(stress_inputs());
  report.solver_check = m_stress->last_solver_check();
  const core::Grid& g = m_state.thk.grid().grid();
  const double D = m_stress->max_diffusivity();
  const double rate = m_stress->max_advection_rate();
  const double year = core::seconds_per_year;
  if (!std::isfinite(D) || !std::isfinite(rate))
    throw CollectiveError("the flow became non-finite at step " +
                              std::to_string(m_state.steps + 1) + " (year " +
                              number_text(t / year) + "): largest diffusivity " + number_text(D) +
                              " m2/s, largest advection rate " + number_text(rate) +
                              " 1/s. The run stops: the outputs hold nothing after the last "
                              "checkpoint",
                          0);
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
  if (rate > 0.0 && m_params.cfl / rate < dt) {
    dt = m_params.cfl / rate;
    report.limited_by = "cfl";
  }
  if (t + dt >= t_limit) {
    dt = t_limit - t;
    report.limited_by = "target time";
  }
  // A step too short to change the time (a flow so fast that dt is lost in
  // the time's round-off) would never end the run.
  if (!(dt > 0.0) || !(t + dt > t))
    throw CollectiveError("the time step at year " + number_text(t / year) + " is " +
                              number_text(dt) + " s (limited by " + report.limited_by +
                              "), too short to advance the model time: the flow is too fast "
                              "(largest diffusivity " +
                              number_text(D) + " m2/s). The run stops",
                          0);
  m_forcing->update(t, m_state, m_state.smb);
  report.budget =
      solver::transport_step(m_state.thk.grid(), m_params.transport, dt, m_stress->fluxes(),
                             m_state.smb, m_state.topg, m_state.thk);
  report.dt = dt;
  check_state(report, t);
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
  solver::StressBalanceInputs in = stress_inputs();
  in.diagnostic = true;
  m_stress->update(in);
  return m_stress->velocities(sigma);
}

void TransientModel::restore(const std::vector<double>& thk, double time, long long steps) {
  const core::ParallelGrid& grid = m_state.thk.grid();
  if (static_cast<long long>(thk.size()) != grid.grid().size())
    throw Error("restart: the checkpoint's thickness has " + std::to_string(thk.size()) +
                " cells, the grid " + std::to_string(grid.grid().size()));
  for (size_t k = 0; k < thk.size(); ++k)
    if (!(std::isfinite(thk[k]) && thk[k] >= 0.0))
      throw Error("restart: the thickness to restore is " + number_text(thk[k]) +
                  " m at (i = " + std::to_string(k % size_t(grid.grid().nx())) +
                  ", j = " + std::to_string(k / size_t(grid.grid().nx())) +
                  "); it must be finite and >= 0 in every cell");
  if (!std::isfinite(time) || steps < 0)
    throw Error("restart: the time to restore (" + number_text(time) + " s) or the step count (" +
                std::to_string(steps) + ") is not valid");
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

std::unique_ptr<SurfaceForcing>
TransientModel::replace_forcing(std::unique_ptr<SurfaceForcing> forcing) {
  std::swap(forcing, m_forcing);
  return forcing;
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
