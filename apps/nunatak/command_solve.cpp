// `nunatak solve CONFIG`: a diagnostic solve — the configured stress balance
// on the input geometry, written out and compared with observed speeds.

#include "commands.hpp"
#include "report.hpp"

#include "nunatak/core/error.hpp"
#include "nunatak/io/config.hpp"
#include "nunatak/io/output_file.hpp"
#include "nunatak/io/quicklook.hpp"
#include "nunatak/model/bp_fixtures.hpp"
#include "nunatak/model/simulation.hpp"
#include "nunatak/solver/blatter_pattyn.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace nunatak::app {

void add_solve_command(CLI::App& app, Context& context) {
  auto* cmd = app.add_subcommand(
      "solve", "Diagnostic solve: the configured stress balance (sia or bp) on the input "
               "geometry; writes the velocities and compares them with observed surface speed");
  struct Options {
    std::string config_file;
    std::vector<std::string> overrides;
    std::string fixture;
  };
  auto o = std::make_shared<Options>();
  cmd->add_option("CONFIG", o->config_file, "YAML configuration")->required();
  cmd->add_option("--set", o->overrides, "override a key: --set key=value")
      ->allow_extra_args(false);
  cmd->add_option("--bp-fixture", o->fixture,
                  "with stress_balance.model bp: write the discrete problem at the solution "
                  "(patch, velocity, energy, gradient) to this NetCDF file, one per rank "
                  "(docs/energy.md)");
  cmd->callback([o, &context] {
    io::Config config = io::Config::from_file(o->config_file);
    for (const auto& s : o->overrides) config.set_override(s);
    core::Runtime& runtime = context.runtime();
    // No file read is written, no two outputs coincide: checked before any work.
    io::FilePlan files = model::configured_files(config, model::Purpose::solve);
    for (int r = 0; r < (o->fixture.empty() ? 0 : runtime.size()); ++r)
      files.write(model::bp_fixture_path(o->fixture, r, runtime.size()), "--bp-fixture");
    model::prepare_files(files, runtime.comm());
    model::Simulation simulation(config, runtime.comm(), context.command_line());
    if (runtime.rank() == 0)
      for (const auto& w : simulation.state_warnings()) spdlog::warn("{}", w);
    const model::RunSummary summary = simulation.diagnose();
    std::string fixture;
    if (!o->fixture.empty()) {
      const auto* bp =
          dynamic_cast<const solver::BlatterPattyn*>(&simulation.model().stress_balance());
      if (!bp)
        throw Error("--bp-fixture: the stress balance is '" +
                    config.get_string("stress_balance.model") + "', not bp");
      fixture = model::write_bp_fixtures(
          *bp, o->fixture, config.get_string("experiment.name") + ", at the solution");
    }
    const auto quicklook = config.get_list("output.quicklook");
    const auto variables = config.get_list("output.variables");
    std::vector<std::string> pictures;
    io::on_rank_zero(runtime.comm(), [&] {
      for (const auto& q : quicklook)
        if (std::find(variables.begin(), variables.end(), q) != variables.end()) {
          pictures.push_back(io::quicklook_path(summary.output, q));
          io::write_quicklook(summary.output, q, pictures.back());
        }
    });
    if (runtime.rank() != 0) return;
    // Milliseconds below a second (the emulator), so that any user sees the ratio to BP.
    const double t = summary.wall_seconds;
    spdlog::info("{} diagnostic solve in {}{}", config.get_string("stress_balance.model"),
                 t < 1.0 ? fmt::format("{:.1f} ms", t * 1e3) : fmt::format("{:.1f} s", t),
                 summary.solver.empty() ? "" : ": " + summary.solver);
    log_speed_comparison(summary);
    spdlog::info("wrote {}", summary.output);
    for (const auto& p : pictures) spdlog::info("wrote {}", p);
    if (!fixture.empty())
      spdlog::info("wrote {}{}", fixture,
                   runtime.size() > 1 ? " (and one file per other rank)" : "");
  });
}

} // namespace nunatak::app
