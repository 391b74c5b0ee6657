#include "nunatak/model/ismip_hom.hpp"

#include "nunatak/model/bp_fixtures.hpp"

#include "nunatak/core/constants.hpp"
#include "nunatak/core/error.hpp"
#include "nunatak/io/output_file.hpp"
#include "nunatak/io/quantities.hpp"

#include <chrono>
#include <cmath>

namespace nunatak::model {

IsmipHomSetup make_ismip_hom(const IsmipHomCase& c, MPI_Comm comm) {
  const char e = c.experiment;
  if (e != 'A' && e != 'B' && e != 'C' && e != 'D')
    throw Error(std::string("ISMIP-HOM experiment '") + e + "' is not available (A, B, C, D)");
  if (!(c.length_km > 0)) throw Error("ISMIP-HOM: the length L must be positive");
  if (c.nx < 4 || c.ny < 1 || c.nz < 2) throw Error("ISMIP-HOM: grid too small");
  const double L = c.length_km * 1e3, w = 2.0 * M_PI / L;
  const double alpha = (e == 'A' || e == 'B' ? 0.5 : 0.1) * M_PI / 180.0;
  const double dx = L / c.nx, dy = (e == 'B' || e == 'D') ? dx : L / c.ny;
  core::DecompositionOptions options;
  options.periodic_x = options.periodic_y = true;
  auto grid = core::ParallelGrid::create(comm, core::Grid(c.nx, c.ny, dx, dy, 0.0, 0.0), options);

  core::Field2D thk(grid, io::quantity("thk").info), bed(grid, io::quantity("topg").info);
  core::Field2D beta2(
      grid,
      core::FieldInfo{"beta2", "basal friction coefficient", "", "Pa a m-1", "Pa a m-1", {}, ""});
  const core::LocalBox b = grid->box();
  const core::Grid& g = grid->grid();
  auto H = Kokkos::create_mirror_view(thk.view()), B = Kokkos::create_mirror_view(bed.view()),
       Beta = Kokkos::create_mirror_view(beta2.view());
  for (int j = b.gys; j < b.gys + b.gym; ++j)
    for (int i = b.gxs; i < b.gxs + b.gxm; ++i) {
      // Periodic parts only; the trend -x tan(alpha) is added by the solver.
      const double x = g.x(i), y = (e == 'B' || e == 'D') ? 0.0 : g.y(j);
      double bump = 0.0, friction = 0.0;
      if (e == 'A') bump = 500.0 * std::sin(w * x) * std::sin(w * y);
      if (e == 'B') bump = 500.0 * std::sin(w * x);
      if (e == 'C') friction = 1000.0 + 1000.0 * std::sin(w * x) * std::sin(w * y);
      if (e == 'D') friction = 1000.0 + 1000.0 * std::sin(w * x);
      B(b.lj(j), b.li(i)) = -1000.0 + bump;
      H(b.lj(j), b.li(i)) = 1000.0 - bump;
      Beta(b.lj(j), b.li(i)) = friction;
    }
  Kokkos::deep_copy(thk.view(), H);
  Kokkos::deep_copy(bed.view(), B);
  Kokkos::deep_copy(beta2.view(), Beta);

  solver::BPParams p;
  p.flow.softness = 1e-16 / core::seconds_per_year;
  p.levels = c.nz;
  p.no_slip = e == 'A' || e == 'B';
  p.surface_trend_x = -std::tan(alpha);
  return IsmipHomSetup{grid, std::move(thk), std::move(bed), std::move(beta2), p};
}

IsmipHomResult run_ismip_hom(const IsmipHomCase& c, MPI_Comm comm) {
  const char e = c.experiment;
  // Checked on every rank before any collective work (the profile is read on rank 0).
  if ((e == 'A' || e == 'C') && c.ny % 4 != 0)
    throw Error("ISMIP-HOM A/C: ny must be a multiple of 4 to have nodes on y = L/4");
  IsmipHomSetup setup = make_ismip_hom(c, comm);
  const auto& grid = setup.grid;
  const solver::BPParams& p = setup.params;
  core::Field2D& thk = setup.thk;
  // Timed: the solver's set-up (DMDA, matrix, COO preallocation), the
  // geometry and the solve (with its coarser grids), as a user waits for them.
  const auto start = std::chrono::steady_clock::now();
  solver::BlatterPattyn bp(grid, p);
  bp.set_geometry(setup.thk, setup.bed, p.no_slip ? nullptr : &setup.beta2);
  IsmipHomResult r;
  r.report = bp.solve();
  r.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!r.report.converged)
    throw Error("ISMIP-HOM " + std::string(1, e) + ": Newton did not converge (" + r.report.reason +
                ")");

  if (!c.fixture.empty())
    write_bp_fixtures(bp, c.fixture,
                      "ISMIP-HOM " + std::string(1, e) + ", L = " + std::to_string(c.length_km) +
                          " km, at the solution");
  const solver::Velocities v =
      bp.velocities(c.output.empty() ? std::vector<double>{} : core::uniform_sigma(c.nz));
  const std::vector<double> us = grid->gather_to_zero(v.uvelsurf);
  if (grid->rank() == 0) {
    // Profile at y = L/4 (A, C): row j = ny/4 when ny is a multiple of 4;
    // flowline experiments: row 0.
    const int row = (e == 'A' || e == 'C') ? c.ny / 4 : 0;
    const double year = core::seconds_per_year;
    r.min = 1e300;
    r.max = -1e300;
    for (int i = 0; i < c.nx; ++i) {
      const double u = us[size_t(row) * c.nx + i] * year;
      r.x_over_L.push_back(double(i) / c.nx);
      r.vx_surface.push_back(u);
      r.max = std::max(r.max, u);
      r.min = std::min(r.min, u);
      r.mean += u / c.nx;
    }
  }
  double stats[3] = {r.max, r.min, r.mean};
  MPI_Bcast(stats, 3, MPI_DOUBLE, 0, comm);
  r.max = stats[0];
  r.min = stats[1];
  r.mean = stats[2];

  if (!c.output.empty()) {
    io::OutputFile out(
        grid, c.output,
        {c.command_line, nullptr,
         "ISMIP-HOM " + std::string(1, e) + ", L = " + std::to_string(c.length_km) + " km"});
    std::vector<const core::Field2D*> fields = v.fields2d();
    fields.push_back(&thk);
    out.write_record(0.0, fields, {&*v.uvel, &*v.vvel});
    out.commit();
  }
  return r;
}

} // namespace nunatak::model
