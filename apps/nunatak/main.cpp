// nunatak — the command-line program. Subcommands live in command_*.cpp; this
// file sets up MPI and logging, parses the command line and turns errors into
// one message and a non-zero exit status (core/error_report.hpp): an error
// every rank shares is printed once, by rank 0; one raised on some ranks only
// is printed by each of them, with its rank, and ends the run (MPI_Abort).

#include "commands.hpp"

#include "nunatak/core/error.hpp"
#include "nunatak/core/error_report.hpp"
#include "nunatak/core/version.hpp"

#include <mpi.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <iostream>

namespace nunatak::app {

core::Runtime& Context::runtime() {
  if (!m_runtime) m_runtime = std::make_unique<core::Runtime>(MPI_COMM_WORLD, m_petsc_options);
  return *m_runtime;
}

namespace {

/// The command line as one string, shell-quoted where needed (for `history`).
std::string join_command_line(int argc, char** argv) {
  std::string line;
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.find_first_of(" \t'\"$") != std::string::npos) arg = "'" + arg + "'";
    line += (i ? " " : "") + arg;
  }
  return line;
}

int world_rank() {
  int ready = 0, rank = 0;
  MPI_Initialized(&ready);
  if (ready) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

/// MPI for the whole program, from the first line: every error, even one in
/// reading the configuration before the solvers start, knows its rank. The
/// Runtime (PETSc, Kokkos) comes later, when a command needs it, and finds
/// MPI running.
class MpiLifetime {
public:
  MpiLifetime() {
    int ready = 0;
    MPI_Initialized(&ready);
    if (ready) return;
    int provided = 0;
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
    m_owns = true;
  }
  ~MpiLifetime() {
    int finalised = 0;
    MPI_Finalized(&finalised);
    if (m_owns && !finalised) MPI_Finalize();
  }
  MpiLifetime(const MpiLifetime&) = delete;
  MpiLifetime& operator=(const MpiLifetime&) = delete;

private:
  bool m_owns = false;
};

} // namespace
} // namespace nunatak::app

int main(int argc, char** argv) {
  using namespace nunatak;
  const app::MpiLifetime mpi;
  auto logger = spdlog::stderr_color_mt("nunatak");
  logger->set_pattern("%^%l%$: %v");
  spdlog::set_default_logger(logger);

  // Everything after "--" is for PETSc (e.g. -bp_snes_monitor); it overrides
  // PETSC_OPTIONS, which overrides the configuration's petsc.options.
  int own_argc = argc;
  std::string petsc_options;
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--") {
      own_argc = i;
      for (int k = i + 1; k < argc; ++k) petsc_options += std::string(argv[k]) + " ";
      break;
    }
  app::Context context(app::join_command_line(argc, argv),
                       petsc_options.empty() ? std::vector<std::string>{}
                                             : std::vector<std::string>{petsc_options});
  CLI::App cli{"nunatak: hybrid ice-sheet modelling (SIA/Blatter-Pattyn solvers, neural "
               "emulator, super-resolution, inversion)"};
  cli.set_version_flag("--version", std::string("nunatak ") + nunatak::version + " (git " +
                                        nunatak::git_revision + ")");
  std::string log_level = "info";
  cli.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  bool quiet = false;
  cli.add_flag("-q,--quiet", quiet, "only warnings and errors");
  cli.require_subcommand(1);
  cli.fallthrough(); // global options (-q, --log-level) may also follow the subcommand
  cli.footer("PETSc options (solvers: -bp_*, e.g. -bp_snes_monitor -bp_ksp_type fgmres) follow "
             "'--' at the end of the command line; they override the PETSC_OPTIONS environment "
             "variable, which overrides the configuration's petsc.options.");
  app::add_info_command(cli, context);
  app::add_config_command(cli, context);
  app::add_plot_command(cli, context);
  app::add_bootstrap_command(cli, context);
  app::add_verify_command(cli, context);
  app::add_run_command(cli, context);
  app::add_ismip_hom_command(cli, context);
  app::add_solve_command(cli, context);
  cli.parse_complete_callback(
      [&] { spdlog::set_level(quiet ? spdlog::level::warn : spdlog::level::from_str(log_level)); });

  int status = 0;
  try {
    cli.parse(own_argc, argv);
  } catch (const CLI::ParseError& e) {
    // Command-line errors, --help and --version are the same on every rank.
    status = app::world_rank() == 0 ? cli.exit(e) : e.get_exit_code();
  } catch (const std::exception& e) {
    status = core::report_error(e, "nunatak", std::cerr);
  }
  return status;
}
