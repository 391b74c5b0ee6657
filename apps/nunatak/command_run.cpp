// `nunatak run CONFIG`: a transient simulation with output, time series and
// checkpoints. SIGTERM/SIGINT write a checkpoint and stop (exit status 75,
// "try again": restart with --restart); SIGUSR1 writes a checkpoint and goes on.

#include "commands.hpp"
#include "progress.hpp"
#include "report.hpp"
#include "signal_scope.hpp"

#include "nunatak/core/constants.hpp"
#include "nunatak/core/error.hpp"
#include "nunatak/io/config.hpp"
#include "nunatak/io/output_file.hpp"
#include "nunatak/io/quicklook.hpp"
#include "nunatak/io/timeseries_file.hpp"
#include "nunatak/io/units.hpp"
#include "nunatak/model/simulation.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace nunatak::app {

void add_run_command(CLI::App& app, Context& context) {
  auto* cmd = app.add_subcommand(
      "run", "Run a transient simulation (stress balance + mass transport + surface mass "
             "balance) with NetCDF output, a mass-budget time series and checkpoints");
  struct Options {
    std::string config_file, restart;
    std::vector<std::string> overrides;
    bool allow_config_change = false;
  };
  auto o = std::make_shared<Options>();
  cmd->add_option("CONFIG", o->config_file, "YAML configuration")->required();
  cmd->add_option("--set", o->overrides, "override a key: --set key=value")
      ->allow_extra_args(false);
  cmd->add_option("--restart", o->restart,
                  "continue from this checkpoint file (with the configuration it was written "
                  "with; the output it belongs to is continued)");
  cmd->add_flag("--allow-config-change", o->allow_config_change,
                "with --restart: allow a configuration that differs from the checkpoint's in "
                "keys other than time.end, output.*, checkpoint.*, experiment.name and "
                "petsc.options (another experiment from the checkpoint's state)");
  cmd->callback([o, &context] {
    io::Config config = io::Config::from_file(o->config_file);
    for (const auto& s : o->overrides) config.set_override(s);
    if (o->allow_config_change && o->restart.empty())
      throw Error("--allow-config-change is for a restart: give --restart CHECKPOINT");
    core::Runtime& runtime = context.runtime();
    const bool root = runtime.rank() == 0;
    // Quick-look names are checked before the run, not after it.
    const auto quicklook = config.get_list("output.quicklook");
    const auto variables = config.get_list("output.variables");
    for (const auto& q : quicklook)
      if (std::find(variables.begin(), variables.end(), q) == variables.end() &&
          !io::is_timeseries_variable(q))
        throw Error("output.quicklook: '" + q +
                    "' is neither in output.variables nor a time-series variable (" +
                    io::timeseries_variable_list() + ")");
    // No file read is written, no two outputs coincide: checked before any work.
    model::prepare_files(model::configured_files(config, model::Purpose::run, o->restart),
                         runtime.comm());
    model::Simulation simulation(config, runtime.comm(), context.command_line());
    if (!o->restart.empty()) simulation.restart_from(o->restart, o->allow_config_change);
    if (root) {
      for (const auto& w : simulation.warnings()) spdlog::warn("{}", w);
      for (const auto& w : simulation.state_warnings()) spdlog::warn("{}", w);
    }

    const double year = core::seconds_per_year;
    const double start = simulation.model().state().time, end = simulation.end_time();
    ProgressBar bar("run", (end - start) / year,
                    root && spdlog::get_level() <= spdlog::level::info);
    double last_wall = -1.0;
    auto progress = [&](double t, long long steps, double wall) {
      if (wall - last_wall < 0.2 && t < end) return; // redraw at most 5 times a second
      last_wall = wall;
      const double years_per_hour = wall > 0 ? (t - start) / year / wall * 3600.0 : 0.0;
      bar.update((t - start) / year, fmt::format("t = {:.1f} a, {} steps, {:.3g} model years/hour",
                                                 t / year, steps, years_per_hour));
    };
    model::RunSignals signals;
    model::RunSummary summary;
    {
      SignalScope scope(signals);
      summary = simulation.run(signals, progress);
    }
    bar.finish();
    if (root) {
      spdlog::info("{} at year {:.2f} after {} steps in {:.1f} s",
                   summary.completed ? "finished" : "stopped", summary.time / year, summary.steps,
                   summary.wall_seconds);
      spdlog::info("ice volume {:.6g} -> {:.6g} km3; mass budget residual {:.3g} m3 over the run",
                   summary.volume_start / 1e9, summary.volume_end / 1e9, summary.budget_residual);
      log_speed_comparison(summary);
      spdlog::info("wrote {}", summary.output);
      spdlog::info("wrote {}", summary.timeseries);
      if (!summary.checkpoint.empty()) spdlog::info("wrote checkpoint {}", summary.checkpoint);
    }
    if (summary.completed) {
      io::on_rank_zero(runtime.comm(), [&] {
        for (const auto& q : quicklook) {
          const bool series = io::is_timeseries_variable(q);
          const std::string source = series ? summary.timeseries : summary.output;
          const std::string png = io::quicklook_path(source, q);
          io::write_quicklook(source, q, png);
          spdlog::info("wrote {}", png);
        }
      });
    }
    if (!summary.completed) {
      if (root)
        spdlog::warn("interrupted at year {:.6g}: the outputs hold the records so far; continue "
                     "with: {}{}",
                     summary.time / year, context.restart_command(summary.checkpoint),
                     runtime.size() > 1
                         ? fmt::format(" (under mpiexec -n {}, as this run)", runtime.size())
                         : "");
      throw CLI::RuntimeError(exit_interrupted);
    }
  });
}

} // namespace nunatak::app
