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
  /// `petsc_options`: what followed "--" on the command line.
  Context(std::string command_line, std::vector<std::string> petsc_options)
      : m_command_line(std::move(command_line)), m_petsc_options(std::move(petsc_options)) {}
  const std::string& command_line() const { return m_command_line; }
  /// The Runtime, initialised on first use (with the command line's PETSc options).
  core::Runtime& runtime();

private:
  std::string m_command_line;
  std::vector<std::string> m_petsc_options;
  std::unique_ptr<core::Runtime> m_runtime;
};

void add_info_command(CLI::App& app, Context& context);
void add_config_command(CLI::App& app, Context& context);
void add_plot_command(CLI::App& app, Context& context);
void add_bootstrap_command(CLI::App& app, Context& context);
void add_verify_command(CLI::App& app, Context& context);
void add_run_command(CLI::App& app, Context& context);
void add_ismip_hom_command(CLI::App& app, Context& context);
void add_solve_command(CLI::App& app, Context& context);

} // namespace nunatak::app
