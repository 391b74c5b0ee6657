// The command context shared by the subcommands (commands.hpp): the command
// line for provenance and restarts, and the Runtime made on first use.

#include "commands.hpp"

#include <mpi.h>

namespace nunatak::app {

std::string shell_quote(const std::string& arg) {
  if (!arg.empty() && arg.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                            "0123456789_-+=/.,:@%") == std::string::npos)
    return arg;
  std::string quoted = "'";
  for (const char c : arg) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

Context::Context(std::vector<std::string> argv, std::vector<std::string> petsc_options)
    : m_argv(std::move(argv)), m_petsc_options(std::move(petsc_options)) {
  for (size_t i = 0; i < m_argv.size(); ++i)
    m_command_line += (i ? " " : "") + shell_quote(m_argv[i]);
}

std::string Context::restart_command(const std::string& checkpoint) const {
  std::vector<std::string> args;
  bool inserted = false;
  for (size_t i = 0; i < m_argv.size(); ++i) {
    const std::string& a = m_argv[i];
    if (!inserted && a == "--") {
      args.insert(args.end(), {"--restart", checkpoint});
      inserted = true;
    }
    if (!inserted && a == "--restart") {
      ++i; // and its value
      continue;
    }
    if (!inserted && a.rfind("--restart=", 0) == 0) continue;
    args.push_back(a);
  }
  if (!inserted) args.insert(args.end(), {"--restart", checkpoint});
  std::string line;
  for (size_t i = 0; i < args.size(); ++i) line += (i ? " " : "") + shell_quote(args[i]);
  return line;
}

core::Runtime& Context::runtime() {
  if (!m_runtime) m_runtime = std::make_unique<core::Runtime>(MPI_COMM_WORLD, m_petsc_options);
  return *m_runtime;
}

} // namespace nunatak::app
