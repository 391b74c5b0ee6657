#pragma once
/// \file cli_support.hpp
/// Running the `nunatak` program from tests. Header-only: the including test
/// target defines NUNATAK_BINARY (the program's path).

#include "test_files.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace nunatak::test {

/// Exit status and output of one run of the program.
struct Result {
  int status = -1;
  std::string out, err;
};

inline std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// Runs the shell command line `command` in `dir` (for mpiexec and time
/// limits), capturing stdout and stderr.
inline Result run_shell(const TempDir& dir, const std::string& command) {
  const std::string cmd = "cd '" + dir.path() + "' && " + command + " >'" + dir.file("stdout.txt") +
                          "' 2>'" + dir.file("stderr.txt") + "'";
  const int raw = std::system(cmd.c_str());
  Result r;
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128;
  r.out = slurp(dir.file("stdout.txt"));
  r.err = slurp(dir.file("stderr.txt"));
  std::filesystem::remove(dir.file("stdout.txt"));
  std::filesystem::remove(dir.file("stderr.txt"));
  return r;
}

/// Runs `nunatak ARGS` in `dir`, capturing stdout and stderr.
inline Result run_nunatak(const TempDir& dir, const std::string& args) {
  return run_shell(dir, std::string(NUNATAK_BINARY) + " " + args);
}

#ifdef NUNATAK_MPIEXEC
/// The command line that starts `program` on `ranks` MPI ranks (as root
/// too, more ranks than cores allowed), ending in a space for its arguments.
inline std::string mpiexec_command(int ranks, const std::string& program) {
  return std::string(NUNATAK_MPIEXEC) + " --allow-run-as-root --oversubscribe -n " +
         std::to_string(ranks) + " " + program + " ";
}
#endif

/// Files in `dir` other than the test's own inputs.
inline std::vector<std::string> outputs_in(const std::string& dir) {
  std::vector<std::string> found;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (e.is_regular_file() && name.rfind("input", 0) != 0) found.push_back(name);
  }
  return found;
}

/// A bad run: non-zero exit, exactly one error line containing `expected`, no outputs.
inline void expect_clean_failure(const TempDir& dir, const std::string& args,
                                 const std::string& expected) {
  const Result r = run_nunatak(dir, args);
  EXPECT_NE(r.status, 0) << args;
  EXPECT_NE(r.err.find(expected), std::string::npos) << "stderr: " << r.err;
  size_t error_lines = 0;
  std::istringstream lines(r.err);
  for (std::string line; std::getline(lines, line);)
    error_lines += line.find("error") != std::string::npos;
  EXPECT_EQ(error_lines, 1u) << "stderr: " << r.err;
  EXPECT_TRUE(outputs_in(dir.path()).empty())
      << "a failed run left output behind: " << outputs_in(dir.path()).front();
}

} // namespace nunatak::test
