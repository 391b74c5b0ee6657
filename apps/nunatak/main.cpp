// nunatak — the command-line program. Subcommands live in command_*.cpp; this
// file sets up MPI and logging, parses the command line and turns errors into
// one message and a non-zero exit status (core/error_report.hpp): an error
// every rank shares is printed once, by rank 0; one raised on some ranks only
// is printed by each of them, with its rank, and ends the run (MPI_Abort).

#include "commands.hpp"

#include "nunatak/core/error.hpp"
#include "nunatak/core/error_report.hpp"
#include "nunatak/core/version.hpp"
#include "nunatak/model/ml_components.hpp"

#include <mpi.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>

namespace nunatak::app {

namespace {

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

/// Warns (on rank 0) about the PETSc options that nothing used: misspelled,
/// or not for this command, as PETSc's -options_left would.
void report_unused_petsc_options(const Context& context) {
  if (context.petsc_options().empty() && !context.has_runtime()) return;
  if (world_rank() != 0) return;
  const core::PetscOptionList unused =
      context.has_runtime() ? context.existing_runtime()->unused_petsc_options()
                            : core::parse_petsc_options(context.petsc_options(), "PETSc options");
  if (unused.empty()) return;
  std::string list;
  for (const auto& [name, value] : unused)
    list += (list.empty() ? "" : ", ") + name + (value.empty() ? "" : " " + value);
  spdlog::warn("PETSc option(s) never used: {} (misspelled, or not read by this command; "
               "-help after '--' lists the options the solvers read)",
               list);
}

/// The positional arguments of the command line before "--" (the words that
/// are neither options nor --log-level's value), in order.
std::vector<std::string> command_words(int argc, char** argv) {
  std::vector<std::string> words;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--log-level") {
      ++i;
      continue;
    }
    if (!a.empty() && a[0] != '-') words.push_back(a);
  }
  return words;
}

/// The subcommand named on the command line if it is not one of `cli`'s:
/// the first of command_words.
std::string unknown_subcommand(const CLI::App& cli, int argc, char** argv) {
  const std::vector<std::string> words = command_words(argc, argv);
  if (words.empty()) return "";
  for (const auto* sub : cli.get_subcommands({}))
    if (sub->check_name(words[0])) return "";
  return words[0];
}

/// Whether a command line needs the LibTorch subcommands (the plugin).
enum class MlNeed {
  none,     ///< the other subcommands: LibTorch is not loaded
  listing,  ///< the program's own --help, or an unknown subcommand: to list them all
  required, ///< `invert`, `superres`, `emulator` other than `emulator dataset`
};

MlNeed ml_need(int argc, char** argv) {
  const std::vector<std::string> words = command_words(argc, argv);
  if (words.empty()) {
    for (int i = 1; i < argc; ++i)
      if (std::string(argv[i]) == "-h" || std::string(argv[i]) == "--help") return MlNeed::listing;
    return MlNeed::none;
  }
  static const std::vector<std::string> without_torch = {
      "info", "config",   "plot",      "bootstrap", "verify",
      "run",  "ensemble", "ismip-hom", "solve",     "observe"};
  for (const auto& name : without_torch)
    if (words[0] == name) return MlNeed::none;
  if (words[0] == "emulator")
    return words.size() >= 2 && words[1] == "dataset" ? MlNeed::none : MlNeed::required;
  if (words[0] == "invert" || words[0] == "superres") return MlNeed::required;
  return MlNeed::listing;
}

#ifdef NUNATAK_HAVE_EMULATOR
/// The LibTorch plugin's file: $NUNATAK_ML_PLUGIN, else the first of the
/// places it has relative to the program (build tree, installation) that
/// exists, else the first of them (so that the error names it).
std::string ml_plugin_path() {
  if (const char* path = std::getenv("NUNATAK_ML_PLUGIN"); path && *path) return path;
  std::error_code ec;
  const std::filesystem::path program = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return NUNATAK_ML_PLUGIN_NAME;
  std::string first;
  for (const char* relative :
       {NUNATAK_ML_PLUGIN_FROM_BUILD_BIN, NUNATAK_ML_PLUGIN_FROM_INSTALL_BIN}) {
    const std::filesystem::path candidate =
        (program.parent_path() / relative / NUNATAK_ML_PLUGIN_NAME).lexically_normal();
    if (std::filesystem::exists(candidate, ec)) return candidate.string();
    if (first.empty()) first = candidate.string();
  }
  return first;
}
#endif

} // namespace

void add_ml_commands(CLI::App& cli, Context& context) {
  using AddCommands = void (*)(CLI::App*, Context*);
  reinterpret_cast<AddCommands>(model::ml_plugin_symbol("nunatak_ml_add_commands"))(&cli, &context);
}

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
  std::vector<std::string> petsc_options;
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--") {
      own_argc = i;
      for (int k = i + 1; k < argc; ++k) petsc_options.emplace_back(argv[k]);
      break;
    }
  app::Context context(std::vector<std::string>(argv, argv + argc), petsc_options);
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
  app::add_ensemble_command(cli, context);
  app::add_ismip_hom_command(cli, context);
  app::add_solve_command(cli, context);
  app::add_emulator_command(cli, context);
  app::add_observe_command(cli, context);
#ifdef NUNATAK_HAVE_EMULATOR
  model::set_ml_plugin_path(app::ml_plugin_path());
#endif
  cli.parse_complete_callback(
      [&] { spdlog::set_level(quiet ? spdlog::level::warn : spdlog::level::from_str(log_level)); });

  int status = 0;
  try {
    // Every rank parses the same command line: these errors are shared.
    // LibTorch is loaded only for the commands that need it; a help listing
    // without it says why.
    if (const app::MlNeed need = app::ml_need(own_argc, argv); need != app::MlNeed::none) {
      try {
        app::add_ml_commands(cli, context);
      } catch (const Error& e) {
        if (need == app::MlNeed::required) throw CollectiveError(e.what(), 0);
        if (app::world_rank() == 0) spdlog::warn("{}", e.what());
      }
    }
    try {
      core::parse_petsc_options(petsc_options, "the PETSc options after '--'");
    } catch (const Error& e) {
      throw CollectiveError(e.what(), 0);
    }
    const std::string unknown = app::unknown_subcommand(cli, own_argc, argv);
    if (!unknown.empty()) {
      std::string known;
      for (const auto* sub : cli.get_subcommands({}))
        known += (known.empty() ? "" : ", ") + sub->get_name();
      throw CLI::ParseError("unknown subcommand '" + unknown + "' (the subcommands are: " + known +
                                ")",
                            CLI::ExitCodes::ExtrasError);
    }
    cli.parse(own_argc, argv);
    app::report_unused_petsc_options(context);
  } catch (const CLI::ParseError& e) {
    // Command-line errors, --help and --version are the same on every rank.
    status = app::world_rank() == 0 ? cli.exit(e) : e.get_exit_code();
    if (status == app::exit_interrupted) app::report_unused_petsc_options(context);
  } catch (const std::exception& e) {
    status = core::report_error(e, "nunatak", std::cerr);
  }
  return status;
}
