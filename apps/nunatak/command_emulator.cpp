// `nunatak emulator ...`: the Blatter-Pattyn emulator's data set (here) and,
// where the LibTorch libraries are built, its training and evaluation
// (command_emulator_train.cpp). docs/emulator.md.

#include "commands.hpp"
#include "progress.hpp"

#include "nunatak/core/error.hpp"
#include "nunatak/io/config.hpp"
#include "nunatak/io/file_safety.hpp"
#include "nunatak/model/emulator_dataset.hpp"
#include "nunatak/model/simulation.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>

namespace nunatak::app {

namespace {

void add_dataset_command(CLI::App& emulator, Context& context) {
  auto* cmd = emulator.add_subcommand(
      "dataset", "Make the emulator's training and validation samples (synthetic glaciers and "
                 "patches of a real geometry), each solved by the Blatter-Pattyn solver; samples "
                 "are spread over the MPI ranks, and an interrupted run resumes");
  struct Options {
    std::string config_file;
    std::vector<std::string> overrides;
  };
  auto o = std::make_shared<Options>();
  cmd->add_option("CONFIG", o->config_file, "YAML configuration (keys emulator.dataset.*)")
      ->required();
  cmd->add_option("--set", o->overrides, "override a key: --set key=value")
      ->allow_extra_args(false);
  cmd->callback([o, &context] {
    io::Config config = io::Config::from_file(o->config_file);
    for (const auto& s : o->overrides) config.set_override(s);
    const model::EmulatorDatasetSpec spec = model::emulator_dataset_spec(config);
    core::Runtime& runtime = context.runtime();
    io::FilePlan files;
    files.read(o->config_file, "CONFIG");
    if (!spec.patch_config.empty()) files.read(spec.patch_config, "emulator.dataset.patch_config");
    files.write(spec.file, "emulator.dataset.file");
    model::prepare_files(files, runtime.comm());
    if (runtime.rank() == 0)
      spdlog::info("emulator data set: {} synthetic glaciers and {} patches, {} levels, on {} "
                   "rank(s) -> {}",
                   spec.samples, spec.patch_samples, spec.levels, runtime.size(), spec.file);
    const auto start = std::chrono::steady_clock::now();
    ProgressBar bar("samples", spec.total(), runtime.rank() == 0);
    const model::EmulatorDatasetReport report = model::make_emulator_dataset(
        spec, runtime.comm(), context.command_line(),
        [&bar](int done, int total) { bar.update(done, fmt::format("{}/{}", done, total)); });
    bar.finish();
    if (runtime.rank() != 0) return;
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (report.resumed > 0)
      spdlog::info("resumed: {} samples were already solved by an earlier run", report.resumed);
    spdlog::info("{} samples in {:.1f} s ({:.1f} s of solves in all{})", report.total, wall,
                 report.solve_seconds,
                 report.failed ? fmt::format(", {} did not converge and are flagged", report.failed)
                               : std::string());
    spdlog::info("wrote {}", spec.file);
  });
}

} // namespace

void add_emulator_command(CLI::App& app, Context& context) {
  auto* emulator = app.add_subcommand(
      "emulator", "The Blatter-Pattyn emulator: make its data set, train it, evaluate it");
  emulator->require_subcommand(1);
  add_dataset_command(*emulator, context);
}

} // namespace nunatak::app
