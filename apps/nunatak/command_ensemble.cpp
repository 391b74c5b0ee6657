// `nunatak ensemble CONFIG`: one transient run per member of the ensemble
// that the configuration's ensemble.* keys define (a Latin-hypercube sample
// or a table), on groups of MPI ranks, with a status per member, resume, and
// a summary (model/ensemble_run.hpp, docs/ensembles.md).
//   nunatak ensemble CONFIG [--member K] [--retry-failed]
//   nunatak ensemble collect CONFIG    (the summary from the members' files)
//   nunatak ensemble sample CONFIG     (the members as CSV, nothing run)
// Exit status: 0 when every member has finished; 75 when a signal stopped
// the ensemble (rerun the same command to continue it); 1 (an error that
// lists them) when members failed.

#include "commands.hpp"
#include "signal_scope.hpp"

#include "nunatak/core/error.hpp"
#include "nunatak/io/config.hpp"
#include "nunatak/io/file_safety.hpp"
#include "nunatak/io/output_file.hpp"
#include "nunatak/model/ensemble_run.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <iostream>

namespace nunatak::app {

namespace {

struct EnsembleCliOptions {
  std::string config_file, table_output;
  std::vector<std::string> overrides;
  int member = -1;
  bool retry_failed = false;
};

io::Config load(const EnsembleCliOptions& o) {
  io::Config config = io::Config::from_file(o.config_file);
  for (const auto& s : o.overrides) config.set_override(s);
  return config;
}

void add_config_options(CLI::App* cmd, EnsembleCliOptions& o, bool required) {
  auto* c = cmd->add_option("CONFIG", o.config_file,
                            "YAML configuration: the base run and its ensemble.* keys");
  if (required) c->required();
  cmd->add_option("--set", o.overrides, "override a key: --set key=value")->allow_extra_args(false);
}

/// Writes the summary (rank 0) and logs where it is.
model::EnsembleSummary collect(const io::Config& config, const model::EnsembleSettings& settings,
                               const Context& context) {
  model::EnsembleSummary summary;
  io::on_rank_zero(MPI_COMM_WORLD, [&] {
    summary = model::write_ensemble_summary(config, settings, context.command_line());
    spdlog::info("wrote {}", summary.netcdf);
    if (!summary.png.empty()) spdlog::info("wrote {}", summary.png);
  });
  return summary;
}

/// The error that lists the failed members (from their status files).
std::string failures(const model::EnsembleSettings& settings, int failed) {
  std::string list;
  int shown = 0;
  for (size_t k = 0; k < settings.members.size() && shown < 3; ++k) {
    const auto status = model::read_member_status(model::member_status_path(settings, int(k)));
    if (!status || status->state != model::MemberState::failed) continue;
    list += fmt::format("; member {}: {}", k, status->error);
    ++shown;
  }
  return fmt::format("{} of {} member(s) failed (their errors are in {}/member_K.status and .log; "
                     "rerun with --retry-failed to run them again){}{}",
                     failed, settings.members.size(), settings.directory, list,
                     failed > shown ? "; ..." : "");
}

} // namespace

void add_ensemble_command(CLI::App& app, Context& context) {
  auto* cmd = app.add_subcommand(
      "ensemble", "Run an ensemble of transient runs (a Latin-hypercube sample of configuration "
                  "keys, or a table of members) on groups of MPI ranks, with a status per member, "
                  "resume, and a summary file and plot");
  auto o = std::make_shared<EnsembleCliOptions>();
  add_config_options(cmd, *o, false);
  cmd->add_option("--member", o->member,
                  "run this member only, on all ranks (for job arrays; `ensemble collect` "
                  "writes the summary afterwards)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--retry-failed", o->retry_failed, "run the members that failed before again");

  auto* collect_cmd = cmd->add_subcommand(
      "collect", "Write the summary (summary.nc, summary.png) from the members' files");
  auto co = std::make_shared<EnsembleCliOptions>();
  add_config_options(collect_cmd, *co, true);
  collect_cmd->callback([co, &context] {
    const io::Config config = load(*co);
    const model::EnsembleSettings settings = model::ensemble_settings(config);
    const model::EnsembleSummary s = collect(config, settings, context);
    io::on_rank_zero(MPI_COMM_WORLD, [&] {
      spdlog::info("{} member(s): {} finished, {} failed, {} unfinished, {} not run",
                   settings.members.size(), s.counts.finished, s.counts.failed,
                   s.counts.interrupted, s.counts.not_run);
    });
  });

  auto* sample_cmd = cmd->add_subcommand(
      "sample", "Print the members (CSV: a header of keys, a row per member) without running them");
  auto so = std::make_shared<EnsembleCliOptions>();
  add_config_options(sample_cmd, *so, true);
  sample_cmd->add_option("-o,--output", so->table_output, "write the table to this file instead");
  sample_cmd->callback([so] {
    const model::EnsembleSettings settings = model::ensemble_settings(load(*so));
    io::on_rank_zero(MPI_COMM_WORLD, [&] {
      const std::string text = model::members_csv(settings);
      if (so->table_output.empty()) {
        std::cout << text;
        return;
      }
      io::write_then_rename(so->table_output, [&](const std::string& temporary) {
        std::ofstream out(temporary);
        out << text;
        out.close();
        if (!out) throw Error("--output '" + so->table_output + "': cannot write it");
      });
      spdlog::info("wrote {}", so->table_output);
    });
  });

  cmd->callback([collect_cmd, sample_cmd, o, &context] {
    if (collect_cmd->parsed() || sample_cmd->parsed()) return;
    if (o->config_file.empty())
      throw CLI::RequiredError("CONFIG (or a subcommand: collect, sample)");
    const io::Config config = load(*o);
    const model::EnsembleSettings settings = model::ensemble_settings(config);
    core::Runtime& runtime = context.runtime();
    model::EnsembleOptions options;
    options.retry_failed = o->retry_failed;
    options.only_member = o->member;
    options.command_line = context.command_line();
    model::RunSignals signals;
    model::EnsembleReport report;
    {
      SignalScope scope(signals);
      report = model::run_ensemble(config, settings, runtime.comm(), signals, options);
    }
    const bool root = runtime.rank() == 0;
    if (root)
      spdlog::info("ensemble: {} member(s) run in {:.1f} s; {} finished, {} failed, {} "
                   "unfinished, {} not run",
                   report.ran, report.wall_seconds, report.finished, report.failed,
                   report.interrupted, report.not_run);
    if (o->member < 0) collect(config, settings, context);
    if (report.stopped) {
      if (root)
        spdlog::warn("interrupted: the finished members and the checkpoints of the others are in "
                     "{}; continue with the same command",
                     settings.directory);
      throw CLI::RuntimeError(exit_interrupted);
    }
    if (o->member >= 0) {
      const auto status = model::read_member_status(model::member_status_path(settings, o->member));
      if (status && status->state == model::MemberState::failed)
        throw CollectiveError(fmt::format("member {} failed: {}", o->member, status->error), 0);
      return;
    }
    if (report.failed > 0) throw CollectiveError(failures(settings, report.failed), 0);
  });
}

} // namespace nunatak::app
