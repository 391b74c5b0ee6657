#pragma once
/// \file commands.hpp
/// The subcommands of the `nunatak` program. Each `add_*` registers one
/// subcommand on the CLI11 app; its callback runs the command.

#include "nunatak/core/runtime.hpp"

#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <vector>

namespace nunatak::app {

/// What every subcommand may need: the command line (for provenance) and a
/// lazily created Runtime (MPI, PETSc, Kokkos).
class Context {
public:
  /// `argv`: the whole command line, program first; `petsc_options`: the
  /// tokens that followed "--" on it.
  Context(std::vector<std::string> argv, std::vector<std::string> petsc_options);
  /// The command line as one string, shell-quoted where needed (for `history`).
  const std::string& command_line() const { return m_command_line; }
  /// The command line that continues this one from `checkpoint`: the same
  /// arguments (configuration, --set overrides, PETSc options) with
  /// `--restart CHECKPOINT` in place of any earlier --restart.
  std::string restart_command(const std::string& checkpoint) const;
  const std::vector<std::string>& petsc_options() const { return m_petsc_options; }
  /// The Runtime, initialised on first use (with the command line's PETSc options).
  core::Runtime& runtime();
  /// True once runtime() has been called.
  bool has_runtime() const { return m_runtime != nullptr; }
  /// The Runtime if runtime() has been called, else nullptr.
  const core::Runtime* existing_runtime() const { return m_runtime.get(); }

private:
  std::vector<std::string> m_argv;
  std::string m_command_line;
  std::vector<std::string> m_petsc_options;
  std::unique_ptr<core::Runtime> m_runtime;
};

/// Exit status of a run stopped by a signal after writing its checkpoint
/// ("try again": EX_TEMPFAIL).
constexpr int exit_interrupted = 75;

/// `arg`, quoted for a POSIX shell where it needs it.
std::string shell_quote(const std::string& arg);

void add_info_command(CLI::App& app, Context& context);
void add_config_command(CLI::App& app, Context& context);
void add_plot_command(CLI::App& app, Context& context);
void add_bootstrap_command(CLI::App& app, Context& context);
void add_verify_command(CLI::App& app, Context& context);
void add_run_command(CLI::App& app, Context& context);
void add_ismip_hom_command(CLI::App& app, Context& context);
/// `ensemble`, `ensemble collect`, `ensemble sample` (command_ensemble.cpp).
void add_ensemble_command(CLI::App& app, Context& context);
void add_solve_command(CLI::App& app, Context& context);
void add_emulator_command(CLI::App& app, Context& context);
/// `observe`: synthetic observations for twin experiments (command_observe.cpp).
void add_observe_command(CLI::App& app, Context& context);
/// Loads nunatak's LibTorch plugin (model/ml_components.hpp) if it is not
/// loaded and adds its subcommands (`emulator train|eval|gradient`, `invert`,
/// `superres`) to `cli`, which has the `emulator` command already. Throws
/// nunatak::Error naming the plugin if it cannot be loaded.
void add_ml_commands(CLI::App& cli, Context& context);

/// The LibTorch subcommands (in the plugin, libnunatak_ml.so):
/// `emulator train`, `eval` and `gradient` (command_emulator_train.cpp,
/// command_emulator_gradient.cpp; LibTorch).
void add_emulator_training_commands(CLI::App& emulator, Context& context);
/// `invert` (command_invert.cpp; LibTorch).
void add_invert_command(CLI::App& app, Context& context);
/// `superres pairs|train|apply|eval` (command_superres.cpp; LibTorch).
void add_superres_command(CLI::App& app, Context& context);

} // namespace nunatak::app

/// The plugin's entry point for add_ml_commands (apps/nunatak/ml_plugin.cpp).
extern "C" void nunatak_ml_add_commands(CLI::App* cli, nunatak::app::Context* context);
