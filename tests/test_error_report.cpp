// Errors are printed whichever rank raises them (core/error_report.hpp), at
// 2 MPI ranks under mpiexec, with a time limit: a rank-local error is printed
// by its rank and ends the run with a non-zero status instead of a hang; an
// error every rank shares, or a collective one, is printed once. First with a
// small program that fails each way on purpose, then with `nunatak` itself.
// (A plain GoogleTest main: this process does not start MPI itself.)
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

namespace fs = std::filesystem;

namespace {

struct Outcome {
  int status = -1;
  double seconds = 0;
  std::string err;
};

std::string slurp(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// A temporary folder for one test.
class Folder {
public:
  Folder()
      : m_path(fs::temp_directory_path() / ("nunatak_error_report_" + std::to_string(::getpid()) +
                                            "_" + std::to_string(s_count++))) {
    fs::create_directories(m_path);
  }
  ~Folder() {
    std::error_code ignored;
    fs::remove_all(m_path, ignored);
  }
  const fs::path& path() const { return m_path; }

private:
  static inline int s_count = 0;
  fs::path m_path;
};

/// `mpiexec -n 2 COMMAND` in `dir`, killed after 120 s (status 124).
Outcome run_two_ranks(const Folder& dir, const std::string& command) {
  const fs::path err = dir.path() / "stderr.txt";
  const std::string line = "cd '" + dir.path().string() + "' && timeout 120 " + NUNATAK_MPIEXEC +
                           " --allow-run-as-root --oversubscribe -n 2 " + command +
                           " >/dev/null 2>'" + err.string() + "'";
  const auto start = std::chrono::steady_clock::now();
  const int raw = std::system(line.c_str());
  Outcome r;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128;
  r.err = slurp(err);
  return r;
}

/// Lines of `text` that contain `part`.
int lines_with(const std::string& text, const std::string& part) {
  std::istringstream lines(text);
  int n = 0;
  for (std::string line; std::getline(lines, line);) n += line.find(part) != std::string::npos;
  return n;
}

} // namespace

TEST(ErrorReport, RankLocalErrorIsPrintedByItsRankAndEndsTheRun) {
  Folder dir;
  const Outcome r = run_two_ranks(dir, std::string(ERROR_REPORT_PROGRAM) + " local");
  EXPECT_NE(r.status, 0) << r.err;
  EXPECT_NE(r.status, 124) << "hung until the time limit: " << r.err;
  EXPECT_LT(r.seconds, 60.0);
  EXPECT_EQ(lines_with(r.err, "error_report_program: error (rank 1 of 2): cell (i = 3, j = 4) "
                              "has no bed elevation"),
            1)
      << r.err;
  EXPECT_EQ(lines_with(r.err, "error_report_program: error"), 1) << r.err;
}

TEST(ErrorReport, SharedErrorIsPrintedOnce) {
  Folder dir;
  const Outcome r = run_two_ranks(dir, std::string(ERROR_REPORT_PROGRAM) + " shared");
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_EQ(lines_with(r.err, "error_report_program: error: configuration key 'time.end' must "
                              "be after time.start"),
            1)
      << r.err;
  EXPECT_EQ(lines_with(r.err, "error"), 1) << r.err;
}

TEST(ErrorReport, CollectiveErrorIsPrintedOnceNamingItsRank) {
  Folder dir;
  const Outcome r = run_two_ranks(dir, std::string(ERROR_REPORT_PROGRAM) + " collective");
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_EQ(lines_with(r.err, "error_report_program: error: checkpoint 'ck.nc' does not exist "
                              "(on rank 1 of 2)"),
            1)
      << r.err;
  EXPECT_EQ(lines_with(r.err, "error"), 1) << r.err;
}

// `nunatak run` at 2 ranks: a configuration error (raised on both ranks, not
// through core::collective) and a missing input file (core::collective in
// read_model_inputs) are each printed once, with status 1.
TEST(ErrorReport, NunatakPrintsSharedErrorsOnce) {
  Folder dir;
  std::ofstream(dir.path() / "run.yaml")
      << "input.geometry.file: missing.nc\noutput: {file: out/run.nc, quicklook: [volume]}\n";
  const Outcome bad_key = run_two_ranks(dir, std::string(NUNATAK_BINARY) + " run run.yaml");
  EXPECT_EQ(bad_key.status, 1) << bad_key.err;
  EXPECT_EQ(lines_with(bad_key.err, "nunatak: error: output.quicklook: 'volume' is neither"), 1)
      << bad_key.err;
  EXPECT_EQ(lines_with(bad_key.err, "error"), 1) << bad_key.err;

  const Outcome missing =
      run_two_ranks(dir, std::string(NUNATAK_BINARY) + " run run.yaml --set output.quicklook=[]");
  EXPECT_EQ(missing.status, 1) << missing.err;
  EXPECT_EQ(lines_with(missing.err, "nunatak: error: input file 'missing.nc' does not exist"), 1)
      << missing.err;
  EXPECT_EQ(lines_with(missing.err, "error"), 1) << missing.err;
  EXPECT_FALSE(fs::exists(dir.path() / "out")) << "a failed run left output";
}
