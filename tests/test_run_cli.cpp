// `nunatak run` end to end: bad configurations fail cleanly; a restart from a
// checkpoint, written at an interval or on SIGTERM, continues bit for bit.
#include "cli_support.hpp"
#include "nunatak/io/netcdf_file.hpp"
#include "test_files.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <thread>

using namespace nunatak;
using namespace nunatak::test;
namespace fs = std::filesystem;

namespace {

/// A 41 x 41 ice cap, 25 km cells, on a bed partly below sea level, with a
/// mass balance that grows it in the middle and melts it at the margin.
void write_ice_cap(const std::string& path, int n = 41) {
  TestFile f = grid_file(n, n, 25000.0, 25000.0, -500000.0, -500000.0);
  std::vector<double> thk, topg, smb;
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < n; ++i) {
      const double x = -500000.0 + 25000.0 * i, y = -500000.0 + 25000.0 * j;
      const double r = std::hypot(x, y) / 400000.0;
      thk.push_back(r < 1.0 ? 2500.0 * std::pow(1.0 - r * r, 0.5) : 0.0);
      topg.push_back(200.0 - 0.001 * x);
      smb.push_back(500.0 - 1500.0 * r * r); // kg m-2 a-1
    }
  add_field(f, "thk", "m", thk);
  add_field(f, "topg", "m", topg);
  add_field(f, "climatic_mass_balance", "kg m-2 year-1", smb);
  write_test_file(path, f);
}

std::string config_text(const std::string& extra) {
  return "input.geometry.file: input_cap.nc\n"
         "time: {start: 0, end: 3000}\n"
         "output: {file: out/run.nc, interval: 1000, variables: [thk, velsurf_mag], quicklook: "
         "[]}\n" +
         extra + "\n";
}

std::vector<double> read_variable(const std::string& path, const std::string& var) {
  io::NcFile f = io::NcFile::open(path);
  return f.read_all(f.variable(var));
}

/// The thickness of the last record of an output file, as written (m).
std::vector<double> last_thickness(const std::string& path, int n) {
  std::vector<double> all = read_variable(path, "thk");
  return std::vector<double>(all.end() - n * n, all.end());
}

} // namespace

TEST(RunCli, BadConfigurationsFailCleanly) {
  TempDir dir;
  write_ice_cap(dir.file("input_cap.nc"));
  write_text(dir.file("input.yaml"), config_text(""));
  expect_clean_failure(dir, "run input.yaml --set flow_law.softness=-1e-16",
                       "'flow_law.softness' = -1e-16 Pa-n year-1 is below its minimum");
  expect_clean_failure(dir, "run input.yaml --set time.end=-5",
                       "time.end (-5 year) must be after time.start (0 year)");
  expect_clean_failure(dir, "run input.yaml --set output.variables=[thk,speed]",
                       "output.variables: 'speed' cannot be written");
  expect_clean_failure(dir, "run input.yaml --set output.quicklook=[volume]",
                       "output.quicklook: 'volume' is neither");
  expect_clean_failure(dir, "run input.yaml --set time.diffusivity_safety=0", "below its minimum");
  // A grid with zero spacing: two equal x coordinates.
  TestFile flat = grid_file(5, 5, 1000.0, 1000.0);
  flat.var("x").values = {0, 0, 0, 0, 0};
  add_field(flat, "thk", "m", [](int, int) { return 10.0; });
  add_field(flat, "topg", "m", [](int, int) { return 0.0; });
  write_test_file(dir.file("input_flat.nc"), flat);
  expect_clean_failure(dir, "run input.yaml --set input.geometry.file=input_flat.nc",
                       "coordinate 'x' is not strictly monotonic");
}

// A softness field with a bad value: one error naming the variable, the
// file and the cell, and no output.
TEST(RunCli, BadSoftnessFieldFailsCleanly) {
  TempDir dir;
  TestFile f = grid_file(6, 5, 1000.0, 1000.0);
  add_field(f, "thk", "m", [](int, int) { return 300.0; });
  add_field(f, "topg", "m", [](int i, int) { return 500.0 - 10.0 * i; });
  add_field(f, "softness", "Pa-3 a-1", [](int i, int j) { return i == 2 && j == 3 ? 0.0 : 1e-16; });
  write_test_file(dir.file("input_soft.nc"), f);
  write_text(dir.file("input.yaml"), "input.geometry.file: input_soft.nc\n"
                                     "output: {file: out/run.nc, quicklook: []}\n");
  expect_clean_failure(dir, "run input.yaml",
                       "ice softness 'softness' in 'input_soft.nc' must be a positive number in "
                       "every cell, but 1 cells are not");
  expect_clean_failure(dir, "run input.yaml", "at (i = 2, j = 3; x = 2000 m, y = 3000 m)");
}

TEST(RunCli, RestartFromIntervalCheckpointIsBitwiseIdentical) {
  TempDir dir;
  write_ice_cap(dir.file("input_cap.nc"));
  write_text(dir.file("input.yaml"), config_text("checkpoint: {interval: 1000, file: out/ck.nc}"));
  Result full = run_nunatak(dir, "run input.yaml");
  ASSERT_EQ(full.status, 0) << full.err;
  // The last checkpoint before the end is at year 2000.
  fs::copy_file(dir.file("out/ck.nc"), dir.file("ck2000.nc"));
  fs::rename(dir.file("out/run.nc"), dir.file("full.nc"));
  fs::rename(dir.file("out/run_ts.nc"), dir.file("full_ts.nc"));
  // Restart from a copy of the output up to the checkpoint? The restarted run
  // appends to out/run.nc; start it from the full output so that its records
  // before year 2000 are kept and the later ones rewritten.
  fs::copy_file(dir.file("full.nc"), dir.file("out/run.nc"));
  Result restarted = run_nunatak(dir, "run input.yaml --restart ck2000.nc");
  ASSERT_EQ(restarted.status, 0) << restarted.err;

  const int n = 41;
  const auto a = last_thickness(dir.file("full.nc"), n),
             b = last_thickness(dir.file("out/run.nc"), n);
  ASSERT_EQ(a.size(), b.size());
  double changed = 0;
  const auto first = read_variable(dir.file("full.nc"), "thk");
  for (size_t k = 0; k < a.size(); ++k) {
    EXPECT_EQ(a[k], b[k]) << "cell " << k; // bit for bit
    changed = std::max(changed, std::abs(a[k] - first[k]));
  }
  EXPECT_GT(changed, 10.0) << "the run should change the ice cap";
  EXPECT_EQ(read_variable(dir.file("full.nc"), "time"),
            read_variable(dir.file("out/run.nc"), "time"));
  for (const char* v : {"time", "ice_volume", "dt", "budget_residual"})
    EXPECT_EQ(read_variable(dir.file("full_ts.nc"), v), read_variable(dir.file("out/run_ts.nc"), v))
        << v;
}

TEST(RunCli, SigtermWritesCheckpointAndRestartMatches) {
  TempDir dir;
  const int n = 81; // fine enough that the run takes a few seconds
  write_ice_cap(dir.file("input_cap.nc"), n);
  write_text(dir.file("input.yaml"),
             "input.geometry.file: input_cap.nc\ntime: {start: 0, end: 60000}\n"
             "output: {file: out/run.nc, interval: 0, variables: [thk], quicklook: []}\n"
             "checkpoint.file: out/ck.nc\n");
  // Reference: uninterrupted.
  Result reference = run_nunatak(dir, "run input.yaml --set output.file=ref/run.nc");
  ASSERT_EQ(reference.status, 0) << reference.err;

  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (chdir(dir.path().c_str()) != 0) _exit(99);
    const std::string log = dir.file("run.log");
    if (!freopen(log.c_str(), "w", stderr)) _exit(97);
    execl(NUNATAK_BINARY, NUNATAK_BINARY, "run", "input.yaml", "-q", static_cast<char*>(nullptr));
    _exit(98);
  }
  // The signal handlers are in place once the run has opened its output
  // (the temporary out/run.nc.tmp.PID): wait for it, then let it step a while.
  const std::string opened = dir.file("out/run.nc.tmp." + std::to_string(pid));
  for (int k = 0; k < 600 && !fs::exists(opened); ++k)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(fs::exists(opened)) << "the run did not start: " << slurp(dir.file("run.log"));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 75)
      << "the run finished before the signal, or failed: " << slurp(dir.file("run.log"));
  ASSERT_TRUE(fs::exists(dir.file("out/ck.nc")));
  const auto partial_times = read_variable(dir.file("out/run.nc"), "time");
  EXPECT_EQ(partial_times.size(), 1u); // only the start record: interval 0

  Result restarted = run_nunatak(dir, "run input.yaml --restart out/ck.nc");
  ASSERT_EQ(restarted.status, 0) << restarted.err;
  EXPECT_EQ(last_thickness(dir.file("ref/run.nc"), n), last_thickness(dir.file("out/run.nc"), n));
  EXPECT_EQ(read_variable(dir.file("ref/run_ts.nc"), "ice_volume"),
            read_variable(dir.file("out/run_ts.nc"), "ice_volume"));
}
