#include "nunatak/model/verification.hpp"

#include "nunatak/core/constants.hpp"
#include "nunatak/core/error.hpp"
#include "nunatak/io/output_file.hpp"
#include "nunatak/io/quantities.hpp"
#include "nunatak/io/units.hpp"
#include "nunatak/model/transient_model.hpp"
#include "nunatak/solver/exact_solutions.hpp"

#include <chrono>
#include <cmath>

namespace nunatak::model {

namespace {

const double half_width = 1200.0e3; // PISM's domain for tests A-C: [-1200, 1200] km

/// Fills the owned cells of `field` with f(x, y).
template <class F>
void fill(core::Field2D& field, F&& f) {
  const core::LocalBox b = field.grid().box();
  const core::Grid& g = field.grid().grid();
  auto host = Kokkos::create_mirror_view(field.view());
  Kokkos::deep_copy(host, field.view());
  for (int j = b.ys; j < b.ys + b.ym; ++j)
    for (int i = b.xs; i < b.xs + b.xm; ++i) host(b.lj(j), b.li(i)) = f(g.x(i), g.y(j));
  Kokkos::deep_copy(field.view(), host);
}

} // namespace

VerificationResult run_verification(const VerificationCase& c, MPI_Comm comm) {
  if (c.test != 'A' && c.test != 'B' && c.test != 'C')
    throw Error(std::string("unknown verification test '") + c.test + "' (known: A, B, C)");
  if (c.grid < 5) throw Error("verification grid must have at least 5 points per side");
  if (!std::isfinite(c.years) || c.years == 0.0 || c.years > 1e7)
    throw Error("verification run length " + std::to_string(c.years) +
                " years: it must be a finite number in (0, 1e7] (or negative for the test's "
                "default)");
  if (!(c.diffusivity_safety > 0.0 && c.diffusivity_safety <= 1.0))
    throw Error("verification: time.diffusivity_safety " + std::to_string(c.diffusivity_safety) +
                " must be in (0, 1]");
  const double year = core::seconds_per_year;
  const double dx = 2.0 * half_width / double(c.grid - 1);
  auto grid = core::ParallelGrid::create(
      comm, core::Grid(c.grid, c.grid, dx, dx, -half_width, -half_width));
  solver::ExactParams exact;
  exact.softness = 1e-16 / year;
  exact.M0 = 0.3 / year;
  exact.lambda = c.test == 'C' ? 5.0 : 0.0;
  const double years = c.years >= 0.0 ? c.years : (c.test == 'C' ? 15208.0 : 25000.0);
  // B starts at t0; C grows from no ice at t = 0 (to t0 after 15208 a); A is steady.
  const double t_start = c.test == 'B' ? solver::similarity_t0(exact) : 0.0;
  const double t_end = t_start + years * year;

  auto thickness = [&](double t, double x, double y) {
    const double r = std::hypot(x, y);
    return c.test == 'A' ? solver::test_a_thickness(exact, r)
                         : solver::similarity_thickness(exact, t, r);
  };
  const double rho_i = 910.0;
  FormulaForcing::Formula smb;
  if (c.test == 'A') {
    // Fixed margin: ablation outside r = L strong enough to remove in one step
    // any ice that flows there (PISM fixes the margin with a mask).
    const double ablation = -1.0e4 / year;
    smb = [=](double, double x, double y) {
      return rho_i * solver::test_a_accumulation(exact, std::hypot(x, y), ablation);
    };
  } else {
    smb = [=](double t, double x, double y) {
      return rho_i * solver::similarity_accumulation(exact, t, std::hypot(x, y));
    };
  }

  ModelState state{core::Field2D(grid, io::quantity("thk").info),
                   core::Field2D(grid, io::quantity("topg").info),
                   core::Field2D(grid, io::quantity("usurf").info),
                   core::Field2D(grid, io::quantity("mask").info),
                   core::Field2D(grid, io::quantity("climatic_mass_balance").info),
                   t_start,
                   0};
  fill(state.thk, [&](double x, double y) { return thickness(t_start, x, y); });

  ModelParams params;
  params.stress.flow.softness = exact.softness;
  params.stress.flow.n = exact.n;
  params.stress.flow.ice_density = exact.ice_density;
  params.stress.flow.gravity = exact.gravity;
  params.transport.floatation.ice_density = rho_i;
  params.transport.calve_floating_ice = false; // flat bed at sea level: nothing floats
  params.transport.floatation.sea_level = -1.0e4;
  params.diffusivity_safety = c.diffusivity_safety;
  params.max_dt = 100.0 * year;
  // Test B has no accumulation: a constant zero balance, not a formula per cell and step.
  std::unique_ptr<SurfaceForcing> forcing;
  if (c.test == 'B')
    forcing = std::make_unique<ConstantForcing>(
        core::Field2D(grid, io::quantity("climatic_mass_balance").info, 0.0));
  else
    forcing = std::make_unique<FormulaForcing>(smb);
  TransientModel model(solver::make_stress_balance("sia", grid, params.stress), std::move(forcing),
                       std::move(state), params);

  const auto start = std::chrono::steady_clock::now();
  model.run_until(t_end);
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  core::Field2D exact_thk(
      grid, core::FieldInfo{"thk_exact", "exact ice thickness", "", "m", "m", {}, ""});
  fill(exact_thk, [&](double x, double y) { return thickness(t_end, x, y); });

  // Errors over owned cells, reduced over ranks.
  const core::LocalBox b = grid->box();
  auto H = Kokkos::create_mirror_view(model.state().thk.view());
  auto E = Kokkos::create_mirror_view(exact_thk.view());
  Kokkos::deep_copy(H, model.state().thk.view());
  Kokkos::deep_copy(E, exact_thk.view());
  double sums[5] = {0, 0, 0, 0, 0}; // sum |err|, ice cells, sum |err| on ice, V, V_exact
  double max_error = 0.0, centre = 0.0;
  const int centre_index = c.grid / 2;
  for (int j = b.ys; j < b.ys + b.ym; ++j)
    for (int i = b.xs; i < b.xs + b.xm; ++i) {
      const double h = H(b.lj(j), b.li(i)), e = E(b.lj(j), b.li(i)), err = std::abs(h - e);
      sums[0] += err;
      if (h > 0.0 || e > 0.0) {
        sums[1] += 1.0;
        sums[2] += err;
      }
      sums[3] += h;
      sums[4] += e;
      max_error = std::max(max_error, err);
      if (i == centre_index && j == centre_index) centre = h - e;
    }
  double total[5], global_max = 0.0, global_centre = 0.0;
  MPI_Allreduce(sums, total, 5, MPI_DOUBLE, MPI_SUM, comm);
  MPI_Allreduce(&max_error, &global_max, 1, MPI_DOUBLE, MPI_MAX, comm);
  MPI_Allreduce(&centre, &global_centre, 1, MPI_DOUBLE, MPI_SUM, comm);

  VerificationResult r;
  r.test = c.test;
  r.grid = c.grid;
  r.dx = dx;
  r.years = years;
  r.max_error = global_max;
  r.mean_error_grid = total[0] / double(c.grid) / double(c.grid);
  r.mean_error_ice = total[1] > 0 ? total[2] / total[1] : 0.0;
  r.volume_rel_error = std::abs(total[3] - total[4]) / total[4];
  r.centre_error = global_centre;
  r.wall_seconds = wall;
  r.steps = model.state().steps;

  if (!c.output.empty()) {
    io::OutputFile out(
        grid, c.output,
        {c.command_line, nullptr, std::string("nunatak verification, Bueler test ") + c.test});
    out.write_record(t_end, {&model.state().thk, &exact_thk});
    out.commit();
  }
  return r;
}

} // namespace nunatak::model
