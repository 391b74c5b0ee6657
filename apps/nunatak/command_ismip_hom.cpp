// `nunatak ismip-hom EXP --length L_KM`: ISMIP-HOM experiments A-F with the
// Blatter-Pattyn solver (F: the prognostic run to steady state).

#include "commands.hpp"

#include "validators.hpp"

#include "nunatak/core/error.hpp"
#include "nunatak/io/line_plot.hpp"
#include "nunatak/io/netcdf_file.hpp"
#include "nunatak/model/bp_fixtures.hpp"
#include "nunatak/model/ismip_hom.hpp"
#include "nunatak/model/simulation.hpp"

#include <fmt/format.h>

#include <cstdio>

namespace nunatak::app {

namespace {

/// Runs ISMIP-HOM F to steady state and prints (and draws) the centre line.
void run_f(const model::IsmipHomFCase& f, core::Runtime& runtime, const std::string& plot,
           bool profile) {
  const model::IsmipHomFResult r = model::run_ismip_hom_f(f, runtime.comm());
  if (runtime.rank() != 0) return;
  fmt::print("ISMIP-HOM F{} ({}), grid {}x{}x{}, {} rank(s)\n", f.variant,
             f.variant == 1 ? "no slip" : "sliding, beta^2 = 1/(A H0)", f.nx, f.ny, f.nz,
             runtime.size());
  fmt::print("{} after {:.1f} years, {} steps: max |dH/dt| {:.3g} m/a; ice volume drift {:.2e}\n",
             r.steady ? "steady" : "NOT steady", r.years, r.steps, r.final_rate, r.volume_drift);
  fmt::print("steady surface relative to the flat start: max {:.3f} m, min {:.3f} m\n",
             r.surface_max, r.surface_min);
  fmt::print("surface vx along y = L/2: max {:.3f} m/a, min {:.3f} m/a; {:.1f} s\n", r.vx_max,
             r.vx_min, r.wall_seconds);
  if (!plot.empty()) {
    io::LineChart chart;
    chart.title = fmt::format("ISMIP-HOM F{}: steady surface through the bump", f.variant);
    chart.subtitle = fmt::format("nunatak Blatter-Pattyn, {}x{}x{} nodes, {:.0f} years", f.nx, f.ny,
                                 f.nz, r.years);
    chart.x_label = "x from the bump's centre (m)";
    chart.y_label = "surface relative to the flat start (m)";
    chart.series.push_back(io::Series{r.x, r.surface, "surface"});
    io::write_line_png(chart, plot);
    fmt::print("wrote {}\n", plot);
  }
  if (profile)
    for (size_t k = 0; k < r.x.size(); ++k)
      fmt::print("{:.1f} {:.4f} {:.4f}\n", r.x[k], r.surface[k], r.vx_surface[k]);
}

} // namespace

void add_ismip_hom_command(CLI::App& app, Context& context) {
  auto* cmd = app.add_subcommand(
      "ismip-hom", "Run ISMIP-HOM experiment A, B, C, D, E1, E2, F1 or F2 (Pattyn et al. 2008) "
                   "with the Blatter-Pattyn solver and print the surface velocity along y = L/4 "
                   "or the flowline (F: run to steady state, the steady surface)");
  struct Options {
    std::string experiment, grid = "16x16x9", output, plot, fixture;
    std::string arolla = model::IsmipHomCase().profile_file;
    double years = model::IsmipHomFCase().max_years, max_dt = model::IsmipHomFCase().max_dt_years;
    double length_km = 10.0;
    bool profile = false;
  };
  auto o = std::make_shared<Options>();
  cmd->add_option(
         "EXP", o->experiment,
         "experiment: A, B, C, D, E1 (Arolla, no slip), E2 (Arolla, zero-traction zone), F1 "
         "(prognostic, no slip) or F2 (prognostic, sliding)")
      ->required()
      ->check(CLI::IsMember({"A", "B", "C", "D", "E1", "E2", "F1", "F2"}, CLI::ignore_case));
  auto* length =
      cmd->add_option("--length", o->length_km,
                      "domain length L in km (5, 10, 20, 40, 80, 160; any in [0.1, 10000]; "
                      "not for E, whose length is its profile's)")
          ->check(finite_range(0.1, 1e4))
          ->capture_default_str();
  cmd->add_option("--grid", o->grid,
                  "nodes NXxNYxNZ (NY a multiple of 4 for A and C; E: NX nodes over the 5 km "
                  "flowline, 51 puts one on each point of the profile)")
      ->capture_default_str();
  cmd->add_option("--years", o->years,
                  "F: stop after this many years if not steady before (max |dH/dt| < 1e-3 m/a)")
      ->check(finite_range(1e-3, 1e6))
      ->capture_default_str();
  cmd->add_option("--max-dt", o->max_dt,
                  "F: the longest time step in years (explicit transport: larger steps "
                  "oscillate on fine grids)")
      ->check(finite_range(1e-3, 1e3))
      ->capture_default_str();
  cmd->add_option("--arolla", o->arolla,
                  "E: the Arolla profile (arolla100.dat of the ISMIP-HOM data set)")
      ->capture_default_str();
  cmd->add_option("-o,--output", o->output, "write surface and 3-D velocities to this NetCDF file");
  cmd->add_flag("--profile", o->profile,
                "print the whole profile x/L, vx (E: x in m, surface vx, basal vx)");
  cmd->add_option("--bp-fixture", o->fixture,
                  "write the discrete problem at the solution (patch, velocity, energy, "
                  "gradient) to this NetCDF file, one per rank (docs/energy.md)");
  cmd->add_option("--plot", o->plot, "draw the surface vx profile to this PNG");
  cmd->callback([o, length, &context] {
    model::IsmipHomCase c;
    c.experiment = char(std::toupper(o->experiment[0]));
    if (c.experiment == 'E' || c.experiment == 'F') {
      c.variant = o->experiment[1] - '0';
      if (length->count() > 0)
        throw Error(c.experiment == 'E'
                        ? "--length: experiment E's length is that of its profile (--arolla)"
                        : "--length: experiment F's length is 100 km");
    }
    c.length_km = o->length_km;
    c.profile_file = o->arolla;
    int consumed = 0;
    if (std::sscanf(o->grid.c_str(), "%dx%dx%d%n", &c.nx, &c.ny, &c.nz, &consumed) != 3 ||
        size_t(consumed) != o->grid.size())
      throw Error("--grid '" + o->grid + "': expected NXxNYxNZ, e.g. 32x32x9");
    if (c.nx < 3 || c.ny < 3 || c.nx > 100000 || c.ny > 100000 || c.nz < 2 || c.nz > 1001 ||
        double(c.nx) * c.ny * c.nz > 2e8)
      throw Error("--grid '" + o->grid +
                  "': NX and NY must be in 3 .. 100000, NZ in 2 .. 1001, and NX * NY * NZ at most "
                  "2e8 nodes");
    // The Blatter-Pattyn solve takes about 6 KiB a node (Jacobian,
    // preconditioner, vectors; measured on 32x32x9 and 96x96x9): a grid that
    // cannot fit is refused before PETSc fails to allocate it.
    const double nodes = double(c.nx) * c.ny * c.nz, need = nodes * 6.0 * 1024.0;
    if (const double memory = io::physical_memory_bytes(); memory > 0 && need > memory)
      throw Error(fmt::format("--grid '{}': {:.3g} nodes need about {} for the Blatter-Pattyn "
                              "solve (some 6 KiB a node), more than this machine's memory ({})",
                              o->grid, nodes, io::format_bytes(need), io::format_bytes(memory)));
    c.output = o->output;
    c.fixture = o->fixture;
    c.command_line = context.command_line();
    core::Runtime& runtime = context.runtime();
    if (c.experiment == 'F' && !o->fixture.empty())
      throw Error("--bp-fixture: not for experiment F (a transient run)");
    io::FilePlan files;
    if (c.experiment == 'E') files.read(o->arolla, "--arolla");
    files.write(o->output, "-o");
    files.write(o->plot, "--plot");
    for (int r = 0; r < (o->fixture.empty() ? 0 : runtime.size()); ++r)
      files.write(model::bp_fixture_path(o->fixture, r, runtime.size()), "--bp-fixture");
    model::prepare_files(files, runtime.comm());
    if (c.experiment == 'F') {
      model::IsmipHomFCase f;
      f.variant = o->experiment[1] - '0';
      f.nx = c.nx;
      f.ny = c.ny;
      f.nz = c.nz;
      f.max_years = o->years;
      f.max_dt_years = o->max_dt;
      f.output = c.output;
      f.command_line = c.command_line;
      run_f(f, runtime, o->plot, o->profile);
      return;
    }
    const model::IsmipHomResult r = model::run_ismip_hom(c, runtime.comm());
    if (runtime.rank() != 0) return;
    const bool is_e = c.experiment == 'E';
    fmt::print("{}, grid {}x{}x{}, {} rank(s)\n", model::ismip_hom_title(c), c.nx, c.ny, c.nz,
               runtime.size());
    fmt::print("surface vx along {}: max {:.3f} m/a, min {:.3f} m/a, mean {:.3f} m/a\n",
               (c.experiment == 'A' || c.experiment == 'C') ? "y = L/4"
               : is_e                                       ? "the flowline (nodes with ice)"
                                                            : "the flowline",
               r.max, r.min, r.mean);
    if (is_e) {
      // Where the surface is fastest, and the largest basal speed (E2's slip zone).
      size_t fastest = 0, basal = 0;
      for (size_t k = 0; k < r.vx_surface.size(); ++k) {
        if (r.vx_surface[k] > r.vx_surface[fastest]) fastest = k;
        if (r.vx_base[k] > r.vx_base[basal]) basal = k;
      }
      fmt::print("fastest surface at x = {:.0f} m; basal vx max {:.3f} m/a at x = {:.0f} m\n",
                 r.x_over_L[fastest] * r.length, r.vx_base[basal], r.x_over_L[basal] * r.length);
    }
    fmt::print("Newton {} iterations, {} Krylov iterations, residual {:.3e} -> {:.3e} ({}), "
               "{:.2f} s (set-up and solve)\n",
               r.report.newton_iterations, r.report.krylov_iterations, r.report.initial_residual,
               r.report.final_residual, r.report.reason, r.wall_seconds);
    if (r.report.coarse_grids > 0)
      fmt::print(
          "grid sequencing: {} coarser grid(s) first, {} Newton, {} Krylov iterations there\n",
          r.report.coarse_grids, r.report.coarse_newton_iterations,
          r.report.coarse_krylov_iterations);
    if (!o->plot.empty()) {
      io::LineChart chart;
      chart.title = model::ismip_hom_title(c) + ": surface velocity";
      chart.subtitle =
          fmt::format("nunatak Blatter-Pattyn, {}x{}x{} nodes, {}", c.nx, c.ny, c.nz,
                      (c.experiment == 'A' || c.experiment == 'C') ? "y = L/4" : "flowline");
      chart.x_label = is_e ? "x (m)" : "x / L";
      chart.y_label = "surface vx (m/a)";
      io::Series profile{r.x_over_L, r.vx_surface, is_e ? "surface" : "nunatak"};
      if (is_e) {
        for (double& x : profile.x) x *= r.length;
      } else {
        // Close the periodic profile at x/L = 1.
        profile.x.push_back(1.0);
        profile.y.push_back(r.vx_surface.front());
      }
      chart.series.push_back(profile);
      if (is_e && c.variant == 2) {
        io::Series base{profile.x, r.vx_base, "bed"};
        chart.y_label = "vx (m/a)";
        chart.series.push_back(base);
      }
      io::write_line_png(chart, o->plot);
      fmt::print("wrote {}\n", o->plot);
    }
    if (o->profile)
      for (size_t k = 0; k < r.x_over_L.size(); ++k) {
        if (is_e)
          fmt::print("{:.1f} {:.4f} {:.4f}\n", r.x_over_L[k] * r.length, r.vx_surface[k],
                     r.vx_base[k]);
        else
          fmt::print("{:.4f} {:.4f}\n", r.x_over_L[k], r.vx_surface[k]);
      }
  });
}

} // namespace nunatak::app
