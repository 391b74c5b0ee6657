#include "nunatak/model/ismip_hom.hpp"

#include "nunatak/model/bp_fixtures.hpp"

#include "nunatak/core/constants.hpp"
#include "nunatak/core/error.hpp"
#include "nunatak/io/output_file.hpp"
#include "nunatak/io/quantities.hpp"

#include <chrono>
#include <cmath>
#include <fstream>
#include <sstream>

namespace nunatak::model {

std::vector<ArollaPoint> read_arolla_profile(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    throw Error("ISMIP-HOM E: cannot read the Arolla profile '" + path +
                "' (arolla100.dat of the ISMIP-HOM data set; --arolla FILE)");
  std::vector<ArollaPoint> points;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::istringstream fields(line);
    ArollaPoint q;
    double flag = 0;
    std::string rest;
    if (!(fields >> q.x >> q.bed >> q.surface >> flag) || (fields >> rest) || !std::isfinite(q.x) ||
        !std::isfinite(q.bed) || !std::isfinite(q.surface) || (flag != 0.0 && flag != 1.0))
      throw Error("ISMIP-HOM E: " + path + " line " + std::to_string(number) +
                  ": expected four numbers 'x bed surface flag' (flag 0 or 1), got '" + line + "'");
    if (q.surface < q.bed)
      throw Error("ISMIP-HOM E: " + path + " line " + std::to_string(number) +
                  ": the surface lies below the bed");
    if (!points.empty() && !(q.x > points.back().x))
      throw Error("ISMIP-HOM E: " + path + " line " + std::to_string(number) +
                  ": x does not increase");
    q.zero_traction = flag == 1.0;
    points.push_back(q);
  }
  if (points.size() < 2) throw Error("ISMIP-HOM E: " + path + " has fewer than two points");
  return points;
}

std::string ismip_hom_name(const IsmipHomCase& c) {
  return c.experiment == 'E' ? "E" + std::to_string(c.variant) : std::string(1, c.experiment);
}

std::string ismip_hom_title(const IsmipHomCase& c) {
  if (c.experiment == 'E')
    return "ISMIP-HOM " + ismip_hom_name(c) + " (Haut Glacier d'Arolla" +
           (c.variant == 2 ? ", zero-traction zone)" : ", no slip)");
  std::ostringstream length;
  length << c.length_km;
  return "ISMIP-HOM " + ismip_hom_name(c) + ", L = " + length.str() + " km";
}

namespace {

/// The basal friction coefficient beta^2 of the experiments with sliding.
core::FieldInfo friction_info() {
  return core::FieldInfo{"beta2", "basal friction coefficient", "", "Pa a m-1", "Pa a m-1", {}, ""};
}

/// Experiment E: the Arolla flowline on nx nodes from the profile's first to
/// its last x, periodic in y (ny nodes, dy = dx).
IsmipHomSetup make_ismip_hom_e(const IsmipHomCase& c, MPI_Comm comm) {
  if (c.variant != 1 && c.variant != 2)
    throw Error("ISMIP-HOM E: the variant must be 1 (no slip) or 2 (zero-traction zone)");
  const std::vector<ArollaPoint> profile = read_arolla_profile(c.profile_file);
  const double x0 = profile.front().x, L = profile.back().x - x0, dx = L / (c.nx - 1);
  // The zero-traction zone: from the first to the last flagged point.
  double zone_begin = 1e300, zone_end = -1e300;
  for (const ArollaPoint& q : profile)
    if (q.zero_traction) {
      zone_begin = std::min(zone_begin, q.x);
      zone_end = std::max(zone_end, q.x);
    }
  if (c.variant == 2 && zone_end < zone_begin)
    throw Error("ISMIP-HOM E2: " + c.profile_file + " flags no zero-traction zone");
  core::DecompositionOptions options;
  options.periodic_y = true;
  auto grid = core::ParallelGrid::create(comm, core::Grid(c.nx, c.ny, dx, dx, x0, 0.0), options);
  core::Field2D thk(grid, io::quantity("thk").info), bed(grid, io::quantity("topg").info);
  core::FieldInfo fixed_info{"bed_fixed", "1 where the bed is fixed", "", "1", "1", {}, ""};
  core::Field2D beta2(grid, friction_info()), fixed(grid, fixed_info);
  const core::LocalBox b = grid->box();
  const core::Grid& g = grid->grid();
  auto H = Kokkos::create_mirror_view(thk.view()), B = Kokkos::create_mirror_view(bed.view()),
       F = Kokkos::create_mirror_view(fixed.view());
  for (int j = b.gys; j < b.gys + b.gym; ++j)
    for (int i = b.gxs; i < b.gxs + b.gxm; ++i) {
      // Ghosts beyond the ends (non-periodic x) take the end values.
      const double x = std::clamp(g.x(i), profile.front().x, profile.back().x);
      size_t k = 0;
      while (k + 2 < profile.size() && profile[k + 1].x < x) ++k;
      const ArollaPoint &p0 = profile[k], &p1 = profile[k + 1];
      const double t = std::clamp((x - p0.x) / (p1.x - p0.x), 0.0, 1.0);
      const double zb = (1 - t) * p0.bed + t * p1.bed, zs = (1 - t) * p0.surface + t * p1.surface;
      B(b.lj(j), b.li(i)) = zb;
      H(b.lj(j), b.li(i)) = std::max(zs - zb, 0.0);
      const bool free_slip =
          c.variant == 2 && x >= zone_begin - 1e-6 * dx && x <= zone_end + 1e-6 * dx;
      F(b.lj(j), b.li(i)) = free_slip ? 0.0 : 1.0;
    }
  Kokkos::deep_copy(thk.view(), H);
  Kokkos::deep_copy(bed.view(), B);
  Kokkos::deep_copy(fixed.view(), F);
  Kokkos::deep_copy(beta2.view(), 0.0);

  solver::BPParams p;
  p.flow.softness = 1e-16 / core::seconds_per_year;
  p.levels = c.nz;
  p.minimum_thickness = 1.0;
  p.no_slip = c.variant == 1;
  IsmipHomSetup setup{grid, std::move(thk), std::move(bed), std::move(beta2), p, std::nullopt, L};
  if (c.variant == 2) setup.bed_fixed = std::move(fixed);
  return setup;
}

} // namespace

IsmipHomSetup make_ismip_hom(const IsmipHomCase& c, MPI_Comm comm) {
  const char e = c.experiment;
  if (e != 'A' && e != 'B' && e != 'C' && e != 'D' && e != 'E')
    throw Error(std::string("ISMIP-HOM experiment '") + e + "' is not available (A, B, C, D, E)");
  if (c.nx < 4 || c.ny < 1 || c.nz < 2) throw Error("ISMIP-HOM: grid too small");
  if (e == 'E') return make_ismip_hom_e(c, comm);
  if (!(c.length_km > 0)) throw Error("ISMIP-HOM: the length L must be positive");
  const double L = c.length_km * 1e3, w = 2.0 * M_PI / L;
  const double alpha = (e == 'A' || e == 'B' ? 0.5 : 0.1) * M_PI / 180.0;
  const double dx = L / c.nx, dy = (e == 'B' || e == 'D') ? dx : L / c.ny;
  core::DecompositionOptions options;
  options.periodic_x = options.periodic_y = true;
  auto grid = core::ParallelGrid::create(comm, core::Grid(c.nx, c.ny, dx, dy, 0.0, 0.0), options);

  core::Field2D thk(grid, io::quantity("thk").info), bed(grid, io::quantity("topg").info);
  core::Field2D beta2(grid, friction_info());
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
  return IsmipHomSetup{grid, std::move(thk), std::move(bed), std::move(beta2), p, std::nullopt, L};
}

IsmipHomResult run_ismip_hom(const IsmipHomCase& c, MPI_Comm comm) {
  const char e = c.experiment;
  // Checked on every rank before any collective work.
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
  bp.set_geometry(setup.thk, setup.bed, p.no_slip ? nullptr : &setup.beta2,
                  setup.bed_fixed ? &*setup.bed_fixed : nullptr);
  IsmipHomResult r;
  r.length = setup.length;
  r.report = bp.solve();
  r.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!r.report.converged)
    throw Error("ISMIP-HOM " + ismip_hom_name(c) + ": Newton did not converge (" + r.report.reason +
                ")");

  if (!c.fixture.empty())
    write_bp_fixtures(bp, c.fixture, ismip_hom_title(c) + ", at the solution");
  const solver::Velocities v =
      bp.velocities(c.output.empty() ? std::vector<double>{} : core::uniform_sigma(c.nz));
  const std::vector<double> us = grid->gather_to_zero(v.uvelsurf),
                            ub = grid->gather_to_zero(v.uvelbase), H = grid->gather_to_zero(thk);
  if (grid->rank() == 0) {
    // Profile at y = L/4 (A, C): row j = ny/4 when ny is a multiple of 4;
    // flowline experiments: row 0. E's mean is over the nodes with ice.
    const int row = (e == 'A' || e == 'C') ? c.ny / 4 : 0;
    const double year = core::seconds_per_year;
    r.min = 1e300;
    r.max = -1e300;
    int counted = 0;
    for (int i = 0; i < c.nx; ++i) {
      const size_t node = size_t(row) * size_t(c.nx) + size_t(i);
      const double u = us[node] * year;
      r.x_over_L.push_back(e == 'E' ? double(i) / (c.nx - 1) : double(i) / c.nx);
      r.vx_surface.push_back(u);
      r.vx_base.push_back(ub[node] * year);
      if (e == 'E' && !(H[node] > 0.0)) continue;
      r.max = std::max(r.max, u);
      r.min = std::min(r.min, u);
      r.mean += u;
      ++counted;
    }
    r.mean /= std::max(counted, 1);
  }
  double stats[3] = {r.max, r.min, r.mean};
  MPI_Bcast(stats, 3, MPI_DOUBLE, 0, comm);
  r.max = stats[0];
  r.min = stats[1];
  r.mean = stats[2];

  if (!c.output.empty()) {
    io::OutputFile out(grid, c.output, {c.command_line, nullptr, ismip_hom_title(c)});
    std::vector<const core::Field2D*> fields = v.fields2d();
    fields.push_back(&thk);
    out.write_record(0.0, fields, {&*v.uvel, &*v.vvel});
    out.commit();
  }
  return r;
}

} // namespace nunatak::model
