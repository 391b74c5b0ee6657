// `nunatak verify`: the SIA and mass transport against exact solutions.

#include "commands.hpp"

#include "validators.hpp"

#include "nunatak/core/error.hpp"
#include "nunatak/model/simulation.hpp"
#include "nunatak/model/verification.hpp"

#include <fmt/format.h>

namespace nunatak::app {

void add_verify_command(CLI::App& app, Context& context) {
  auto* cmd = app.add_subcommand(
      "verify", "Run Bueler et al. (2005) exact-solution tests (A, B = Halfar dome, C) on PISM's "
                "2400 km domain and print thickness errors, volume error, wall time and steps");
  struct Options {
    std::vector<std::string> tests{"B", "C"};
    std::vector<int> grids{31, 61, 121};
    double years = -1.0, safety = 0.5;
    std::string output;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  cmd->add_option("--test", o->tests, "tests to run (A, B, C)")
      ->check(CLI::IsMember({"A", "B", "C"}))
      ->capture_default_str();
  cmd->add_option("--grid", o->grids, "grid sizes N (N x N points)")
      ->check(CLI::Range(5, 4001))
      ->capture_default_str();
  cmd->add_option("--years", o->years,
                  "run length in years, in (0, 1e7] (default: A, B 25000; C 15208)")
      ->check(finite_range(0.0, 1e7, true));
  cmd->add_option("--safety", o->safety, "time.diffusivity_safety, in [1e-6, 1]")
      ->check(finite_range(1e-6, 1.0))
      ->capture_default_str();
  cmd->add_option("-o,--output", o->output,
                  "write thk and thk_exact (one test and grid only) to this NetCDF file");
  cmd->add_flag("--json", o->json, "print JSON instead of a table");
  cmd->callback([o, &context] {
    if (!o->output.empty() && o->tests.size() * o->grids.size() != 1)
      throw Error("verify -o writes one run: give exactly one --test and one --grid");
    core::Runtime& runtime = context.runtime();
    const bool root = runtime.rank() == 0;
    if (!o->output.empty()) {
      io::FilePlan files;
      files.write(o->output, "-o");
      model::prepare_files(files, runtime.comm());
    }
    if (root && !o->json)
      fmt::print("{:<4} {:>5} {:>8} {:>10} {:>10} {:>10} {:>10} {:>10} {:>8} {:>7}\n", "test",
                 "grid", "dx (km)", "max (m)", "mean (m)", "mean ice", "vol rel", "centre (m)",
                 "wall (s)", "steps");
    std::string json = "[";
    for (const auto& test : o->tests)
      for (int grid : o->grids) {
        model::VerificationCase c;
        c.test = test[0];
        c.grid = grid;
        c.years = o->years;
        c.diffusivity_safety = o->safety;
        c.output = o->output;
        c.command_line = context.command_line();
        const model::VerificationResult r = model::run_verification(c, runtime.comm());
        if (!root) continue;
        if (o->json) {
          json += fmt::format(
              "{}{{\"test\": \"{}\", \"grid\": {}, \"dx_m\": {}, \"years\": {}, "
              "\"max_error_m\": {:.6g}, \"mean_error_grid_m\": {:.6g}, \"mean_error_ice_m\": "
              "{:.6g}, \"volume_relative_error\": {:.6g}, \"centre_error_m\": {:.6g}, "
              "\"wall_seconds\": {:.4g}, \"steps\": {}, \"ranks\": {}}}",
              json.size() > 1 ? ", " : "", r.test, r.grid, r.dx, r.years, r.max_error,
              r.mean_error_grid, r.mean_error_ice, r.volume_rel_error, r.centre_error,
              r.wall_seconds, r.steps, runtime.size());
        } else {
          fmt::print("{:<4} {:>5} {:>8.1f} {:>10.3f} {:>10.4f} {:>10.4f} {:>10.2e} {:>10.3f} "
                     "{:>8.2f} {:>7}\n",
                     r.test, r.grid, r.dx / 1e3, r.max_error, r.mean_error_grid, r.mean_error_ice,
                     r.volume_rel_error, r.centre_error, r.wall_seconds, r.steps);
          std::fflush(stdout);
        }
      }
    if (root && o->json) fmt::print("{}]\n", json);
  });
}

} // namespace nunatak::app
