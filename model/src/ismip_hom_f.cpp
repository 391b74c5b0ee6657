// ISMIP-HOM F (Pattyn et al. 2008): the prognostic experiment. A 1000 m slab
// on a plane inclined at 3 degrees, periodic over L = 100 km, over a Gaussian
// bump of the bed (100 m high, sigma = 10 km), linear viscosity (n = 1, A =
// 2.140373e-7 Pa^-1 a^-1), zero surface mass balance, run from a flat
// surface to steady state with the Blatter-Pattyn stress balance and the
// transient model's mass transport:
//   dH/dt = -div(H ubar),   H(t = 0) = H0 - b'(x, y),
// b'(x, y) = 100 exp(-((x - L/2)^2 + (y - L/2)^2) / sigma^2) m.
// F1: no slip; F2: linear sliding tau_b = beta^2 u_b, beta^2 = 1/(A H0) Pa a
// m^-1. The incline is the solver's surface_trend_x = -tan(3 deg) (as for
// A-D); bed and surface sit 2000 m above sea level, so that no ice floats.
#include "nunatak/model/ismip_hom.hpp"

#include "nunatak/core/constants.hpp"
#include "nunatak/core/error.hpp"
#include "nunatak/io/output_file.hpp"
#include "nunatak/io/quantities.hpp"
#include "nunatak/model/transient_model.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace nunatak::model {

namespace {

constexpr double length = 100e3, H0 = 1000.0, bump = 100.0, sigma = 10e3;
constexpr double softness_per_year = 2.140373e-7; // Pa^-1 a^-1
constexpr double offset = 2000.0;                 // m: the flat surface's elevation

} // namespace

IsmipHomFResult run_ismip_hom_f(const IsmipHomFCase& c, MPI_Comm comm) {
  if (c.variant != 1 && c.variant != 2)
    throw Error("ISMIP-HOM F: the variant must be 1 (no slip) or 2 (sliding)");
  if (c.nx < 4 || c.ny < 4 || c.nz < 2) throw Error("ISMIP-HOM F: grid too small");
  if (!(c.max_years > 0) || !(c.max_dt_years > 0) || !(c.steady_rate > 0))
    throw Error("ISMIP-HOM F: the run length, time step and steady rate must be positive");
  const double dx = length / c.nx, dy = length / c.ny;
  core::DecompositionOptions options;
  options.periodic_x = options.periodic_y = true;
  auto grid = core::ParallelGrid::create(comm, core::Grid(c.nx, c.ny, dx, dy, 0.0, 0.0), options);
  const core::FieldInfo smb_info = io::quantity("climatic_mass_balance").info;
  ModelState state{core::Field2D(grid, io::quantity("thk").info),
                   core::Field2D(grid, io::quantity("topg").info),
                   core::Field2D(grid, io::quantity("usurf").info),
                   core::Field2D(grid, io::quantity("mask").info),
                   core::Field2D(grid, smb_info),
                   0.0,
                   0};
  {
    const core::LocalBox b = grid->box();
    const core::Grid& g = grid->grid();
    auto H = Kokkos::create_mirror_view(state.thk.view());
    auto B = Kokkos::create_mirror_view(state.topg.view());
    for (int j = b.gys; j < b.gys + b.gym; ++j)
      for (int i = b.gxs; i < b.gxs + b.gxm; ++i) {
        // Periodic: the bump at the centre, and its images (negligible at L/sigma = 10).
        const int ii = (i % c.nx + c.nx) % c.nx, jj = (j % c.ny + c.ny) % c.ny;
        const double x = g.x(ii) - 0.5 * length, y = g.y(jj) - 0.5 * length;
        const double rise = bump * std::exp(-(x * x + y * y) / (sigma * sigma));
        B(b.lj(j), b.li(i)) = offset - H0 + rise;
        H(b.lj(j), b.li(i)) = H0 - rise;
      }
    Kokkos::deep_copy(state.thk.view(), H);
    Kokkos::deep_copy(state.topg.view(), B);
  }
  core::Field2D zero_smb(grid, smb_info, 0.0);

  solver::BPParams bp;
  bp.flow.n = 1.0;
  bp.flow.softness = softness_per_year / core::seconds_per_year;
  bp.levels = c.nz;
  bp.surface_trend_x = -std::tan(3.0 * M_PI / 180.0);
  bp.no_slip = c.variant == 1;
  bp.uniform_beta2 = 1.0 / (softness_per_year * H0);
  bp.ocean_pressure = false;
  ModelParams params;
  params.transport.floatation.minimum_thickness = bp.minimum_thickness;
  params.transport.calve_floating_ice = false;
  params.max_dt = c.max_dt_years * core::seconds_per_year;

  const auto start = std::chrono::steady_clock::now();
  TransientModel model(std::make_unique<solver::BlatterPattyn>(grid, bp),
                       std::make_unique<ConstantForcing>(std::move(zero_smb)), std::move(state),
                       params);
  const double volume0 = model.volume();
  const core::LocalBox b = grid->box();
  const auto owned_thickness = [&] {
    auto H = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), model.state().thk.view());
    std::vector<double> h;
    h.reserve(size_t(b.xm) * size_t(b.ym));
    for (int j = b.ys; j < b.ys + b.ym; ++j)
      for (int i = b.xs; i < b.xs + b.xm; ++i) h.push_back(H(b.lj(j), b.li(i)));
    return h;
  };
  IsmipHomFResult r;
  const double t_end = c.max_years * core::seconds_per_year;
  std::vector<double> before = owned_thickness();
  while (model.state().time < t_end * (1 - 1e-12)) {
    const StepReport step = model.step(t_end);
    const std::vector<double> after = owned_thickness();
    double rate = 0.0;
    for (size_t k = 0; k < after.size(); ++k)
      rate = std::max(rate, std::abs(after[k] - before[k]) / (step.dt / core::seconds_per_year));
    MPI_Allreduce(MPI_IN_PLACE, &rate, 1, MPI_DOUBLE, MPI_MAX, comm);
    before = after;
    r.final_rate = rate;
    if (rate < c.steady_rate) {
      r.steady = true;
      break;
    }
  }
  r.years = model.state().time / core::seconds_per_year;
  r.steps = model.state().steps;
  r.volume_drift = model.volume() / volume0 - 1.0;
  const std::vector<double> levels =
      c.output.empty() ? std::vector<double>{} : core::uniform_sigma(c.nz);
  const solver::Velocities v = model.velocities(levels);
  r.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const std::vector<double> us = grid->gather_to_zero(v.uvelsurf),
                            s = grid->gather_to_zero(model.state().usurf);
  if (grid->rank() == 0) {
    const double year = core::seconds_per_year;
    const auto [lo, hi] = std::minmax_element(s.begin(), s.end());
    r.surface_min = *lo - offset;
    r.surface_max = *hi - offset;
    r.vx_min = 1e300;
    r.vx_max = -1e300;
    const int row = c.ny / 2;
    for (int i = 0; i < c.nx; ++i) {
      const size_t node = size_t(row) * size_t(c.nx) + size_t(i);
      r.x.push_back(grid->grid().x(i) - 0.5 * length);
      r.surface.push_back(s[node] - offset);
      r.vx_surface.push_back(us[node] * year);
      r.vx_min = std::min(r.vx_min, r.vx_surface.back());
      r.vx_max = std::max(r.vx_max, r.vx_surface.back());
    }
  }
  double stats[4] = {r.surface_min, r.surface_max, r.vx_min, r.vx_max};
  MPI_Bcast(stats, 4, MPI_DOUBLE, 0, comm);
  r.surface_min = stats[0];
  r.surface_max = stats[1];
  r.vx_min = stats[2];
  r.vx_max = stats[3];

  if (!c.output.empty()) {
    io::OutputFile out(
        grid, c.output,
        {c.command_line, nullptr, "ISMIP-HOM F" + std::to_string(c.variant) + " at steady state"});
    std::vector<const core::Field2D*> fields = v.fields2d();
    fields.push_back(&model.state().thk);
    fields.push_back(&model.state().usurf);
    out.write_record(model.state().time, fields, {&*v.uvel, &*v.vvel});
    out.commit();
  }
  return r;
}

} // namespace nunatak::model
