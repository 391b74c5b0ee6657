// `nunatak run` end to end: bad configurations fail cleanly; a restart from a
// checkpoint, written at an interval, on SIGTERM or before a SIGKILL,
// continues bit for bit and makes the output of an uninterrupted run; the
// restart hint runs the same experiment, and a restart with another one is
// refused; checkpoints are checked like inputs; a state that becomes
// non-finite stops the run; output times are exact multiples of the
// interval; a run without a surface mass balance says so, or uses the
// configured constant.
#include "cli_support.hpp"
#include "nunatak/core/constants.hpp"
#include "nunatak/io/netcdf_file.hpp"
#include "test_files.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <netcdf.h>
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
                       "'x' in 'input_flat.nc' is not strictly monotonic");
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
  // The experiment is the configuration plus --set overrides (and a physics
  // one): the restart hint must carry them.
  write_text(dir.file("input.yaml"),
             "input.geometry.file: input_cap.nc\ntime: {start: 0, end: 1000}\n"
             "output: {file: out/run.nc, interval: 0, variables: [thk], quicklook: []}\n"
             "checkpoint.file: out/ck.nc\n");
  const std::string overrides = "--set time.end=60000 --set flow_law.enhancement_factor=2";
  // Reference: uninterrupted.
  Result reference =
      run_nunatak(dir, "run input.yaml " + overrides + " --set output.file=ref/run.nc");
  ASSERT_EQ(reference.status, 0) << reference.err;

  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (chdir(dir.path().c_str()) != 0) _exit(99);
    const std::string log = dir.file("run.log");
    if (!freopen(log.c_str(), "w", stderr)) _exit(97);
    execl(NUNATAK_BINARY, NUNATAK_BINARY, "run", "input.yaml", "--set", "time.end=60000", "--set",
          "flow_law.enhancement_factor=2", static_cast<char*>(nullptr));
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
  const std::string log = slurp(dir.file("run.log"));
  ASSERT_EQ(WEXITSTATUS(status), 75) << "the run finished before the signal, or failed: " << log;
  ASSERT_TRUE(fs::exists(dir.file("out/ck.nc")));
  const auto partial_times = read_variable(dir.file("out/run.nc"), "time");
  EXPECT_EQ(partial_times.size(), 1u); // only the start record: interval 0
  EXPECT_EQ(io::NcFile::open(dir.file("out/run.nc"))
                .text_attribute(NC_GLOBAL, "nunatak_run_status")
                .value_or("")
                .rfind("incomplete: the records up to year", 0),
            0u);

  // The old hint (configuration and checkpoint only) runs another experiment:
  // refused, naming the keys.
  Result other = run_nunatak(dir, "run input.yaml --set time.end=60000 --restart out/ck.nc");
  EXPECT_NE(other.status, 0);
  EXPECT_NE(other.err.find("differs from that of the checkpoint 'out/ck.nc' in 1 key(s): "
                           "flow_law.enhancement_factor: 2 -> 1"),
            std::string::npos)
      << other.err;
  // The hint: the same command with --restart.
  const std::string marker = "continue with: ";
  const size_t at = log.find(marker);
  ASSERT_NE(at, std::string::npos) << log;
  const std::string hint = log.substr(at + marker.size(), log.find('\n', at) - at - marker.size());
  EXPECT_EQ(hint,
            std::string(NUNATAK_BINARY) + " run input.yaml " + overrides + " --restart out/ck.nc");
  const std::string cmd =
      "cd '" + dir.path() + "' && " + hint + " 2>'" + dir.file("hint.log") + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << slurp(dir.file("hint.log"));
  EXPECT_EQ(last_thickness(dir.file("ref/run.nc"), n), last_thickness(dir.file("out/run.nc"), n));
  EXPECT_EQ(read_variable(dir.file("ref/run_ts.nc"), "ice_volume"),
            read_variable(dir.file("out/run_ts.nc"), "ice_volume"));
}

// SIGKILL (no chance to write anything) after an interval checkpoint, then
// --restart from it: the output and the time series equal an uninterrupted
// run's, every record and every time bit for bit, and the killed run's
// temporaries are removed.
TEST(RunCli, KilledRunRestartsToTheUninterruptedOutput) {
  TempDir dir;
  const int n = 61;
  write_ice_cap(dir.file("input_cap.nc"), n);
  write_text(dir.file("input.yaml"),
             "input.geometry.file: input_cap.nc\ntime: {start: 0, end: 40000}\n"
             "output: {file: out/run.nc, interval: 2000, variables: [thk, velsurf_mag], "
             "quicklook: []}\ncheckpoint: {file: out/ck.nc, interval: 2000}\n");
  const Result reference = run_nunatak(
      dir, "run input.yaml --set output.file=ref/run.nc --set checkpoint.file=ref/ck.nc");
  ASSERT_EQ(reference.status, 0) << reference.err;

  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (chdir(dir.path().c_str()) != 0) _exit(99);
    if (!freopen(dir.file("run.log").c_str(), "w", stderr)) _exit(97);
    execl(NUNATAK_BINARY, NUNATAK_BINARY, "run", "input.yaml", "-q", static_cast<char*>(nullptr));
    _exit(98);
  }
  for (int k = 0; k < 6000 && !fs::exists(dir.file("out/ck.nc")); ++k)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status))
      << "the run ended before the kill: " << slurp(dir.file("run.log"));
  ASSERT_TRUE(fs::exists(dir.file("out/ck.nc")));
  // What the killed run left: the output up to its last checkpoint, at its
  // final name and saying so.
  const auto partial = read_variable(dir.file("out/run.nc"), "time");
  ASSERT_GE(partial.size(), 2u);
  EXPECT_LT(partial.size(), read_variable(dir.file("ref/run.nc"), "time").size());
  EXPECT_EQ(io::NcFile::open(dir.file("out/run.nc"))
                .text_attribute(NC_GLOBAL, "nunatak_run_status")
                .value_or("")
                .rfind("incomplete", 0),
            0u);
  const bool left_temporary = fs::exists(dir.file("out/run.nc.tmp." + std::to_string(pid)));

  const Result restarted = run_nunatak(dir, "run input.yaml --restart out/ck.nc");
  ASSERT_EQ(restarted.status, 0) << restarted.err;
  for (const char* v : {"time", "thk", "velsurf_mag"})
    EXPECT_EQ(read_variable(dir.file("ref/run.nc"), v), read_variable(dir.file("out/run.nc"), v))
        << v;
  for (const char* v : {"time", "dt", "ice_volume", "ice_area", "smb_volume", "edge_outflow_volume",
                        "clipped_volume", "calved_volume", "budget_residual"})
    EXPECT_EQ(read_variable(dir.file("ref/run_ts.nc"), v),
              read_variable(dir.file("out/run_ts.nc"), v))
        << v;
  EXPECT_EQ(io::NcFile::open(dir.file("out/run.nc"))
                .text_attribute(NC_GLOBAL, "nunatak_run_status")
                .value_or(""),
            "complete");
  for (const auto& e : fs::directory_iterator(dir.file("out")))
    EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos)
        << "left behind: " << e.path();
  if (left_temporary) {
    EXPECT_NE(restarted.err.find("removed 'out/run.nc.tmp." + std::to_string(pid) + "'"),
              std::string::npos)
        << restarted.err;
  }
}

// A restart continues the output its checkpoint belongs to: if that file is
// gone, or is another one, it says so and writes nothing; a new output.file
// starts at the checkpoint's time, with a warning naming the old one.
TEST(RunCli, RestartNeedsTheOutputItsCheckpointBelongsTo) {
  TempDir dir;
  write_ice_cap(dir.file("input_cap.nc"), 21);
  write_text(dir.file("input.yaml"), config_text("checkpoint: {interval: 1000, file: out/ck.nc}"));
  ASSERT_EQ(run_nunatak(dir, "run input.yaml").status, 0);
  fs::copy_file(dir.file("out/ck.nc"), dir.file("input_ck2000.nc"));
  fs::copy_file(dir.file("out/run.nc"), dir.file("input_full.nc"));
  fs::remove_all(dir.file("out"));
  expect_clean_failure(dir, "run input.yaml --restart input_ck2000.nc",
                       "restart from 'input_ck2000.nc': the output file 'out/run.nc' is missing: "
                       "it held 3 record(s) up to year 2000");
  // Another run's output with fewer records.
  fs::create_directories(dir.file("out"));
  ASSERT_EQ(
      run_nunatak(dir, "run input.yaml --set time.end=500 --set checkpoint.interval=0").status, 0);
  Result r = run_nunatak(dir, "run input.yaml --restart input_ck2000.nc");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("the output file 'out/run.nc' holds 2 record(s) up to year 2000 (the last "
                       "at year 500), but the checkpoint was written with 3"),
            std::string::npos)
      << r.err;
  // A new output: from the checkpoint's time on.
  r = run_nunatak(dir, "run input.yaml --restart input_ck2000.nc --set output.file=new/run.nc");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("it is a new file that starts at year 2000"), std::string::npos) << r.err;
  const double year = core::seconds_per_year;
  EXPECT_EQ(read_variable(dir.file("new/run.nc"), "time"),
            (std::vector<double>{2000 * year, 3000 * year}));
  // The full output restarted from year 2000 is the full output again, its
  // records after the checkpoint replaced.
  fs::remove_all(dir.file("out"));
  fs::create_directories(dir.file("out"));
  fs::copy_file(dir.file("input_full.nc"), dir.file("out/run.nc"));
  r = run_nunatak(dir, "run input.yaml --restart input_ck2000.nc --set time.end=2500");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("restart: time.end: 3000 -> 2500 (allowed)"), std::string::npos) << r.err;
  EXPECT_EQ(read_variable(dir.file("out/run.nc"), "time"),
            (std::vector<double>{0, 1000 * year, 2000 * year, 2500 * year}))
      << "no record of the earlier run after the checkpoint may remain";
}

namespace {

/// Sets one value of variable `var` of an existing NetCDF file.
void poke(const std::string& path, const std::string& var, std::vector<size_t> index,
          double value) {
  int id = -1, v = -1;
  ASSERT_EQ(nc_open(path.c_str(), NC_WRITE, &id), NC_NOERR);
  ASSERT_EQ(nc_inq_varid(id, var.c_str(), &v), NC_NOERR);
  ASSERT_EQ(nc_put_var1_double(id, v, index.data(), &value), NC_NOERR);
  ASSERT_EQ(nc_close(id), NC_NOERR);
}

} // namespace

// A checkpoint is checked like an input: a NaN or negative thickness, another
// grid of the same size, or another configuration is one clear error.
TEST(RunCli, CheckpointsAreCheckedLikeInputs) {
  TempDir dir;
  write_ice_cap(dir.file("input_cap.nc"), 21);
  write_text(dir.file("input.yaml"), config_text("checkpoint: {interval: 1000, file: out/ck.nc}"));
  ASSERT_EQ(run_nunatak(dir, "run input.yaml").status, 0);
  fs::copy_file(dir.file("out/ck.nc"), dir.file("input_ck.nc"));
  fs::remove_all(dir.file("out"));
  for (const char* name : {"input_nan.nc", "input_negative.nc", "input_shifted.nc"})
    fs::copy_file(dir.file("input_ck.nc"), dir.file(name));
  poke(dir.file("input_nan.nc"), "thk", {2, 3}, NAN);
  poke(dir.file("input_negative.nc"), "thk", {4, 5}, -3.0);
  for (size_t i = 0; i < 21; ++i)
    poke(dir.file("input_shifted.nc"), "x", {i}, -500000.0 + 25000.0 * double(i) + 1000.0);
  expect_clean_failure(dir, "run input.yaml --restart input_nan.nc",
                       "checkpoint 'input_nan.nc': the ice thickness 'thk' must be finite and >= "
                       "0 in every cell, but 1 cell(s) are not; the first is nan m at (i = 3, j = "
                       "2; x = -425000 m, y = -450000 m)");
  expect_clean_failure(dir, "run input.yaml --restart input_negative.nc",
                       "the first is -3 m at (i = 5, j = 4;");
  expect_clean_failure(dir, "run input.yaml --restart input_shifted.nc",
                       "restart: the checkpoint 'input_shifted.nc' is on another grid: x[0] is "
                       "-499000.000000 m there, -500000.000000 m in this run's inputs");
  expect_clean_failure(dir,
                       "run input.yaml --restart input_ck.nc --set sliding.law=weertman "
                       "--set sliding.coefficient=1e-10",
                       "differs from that of the checkpoint 'input_ck.nc' in 2 key(s): "
                       "sliding.coefficient: 0 -> 1e-10; sliding.law: none -> weertman");
  expect_clean_failure(dir, "run input.yaml --restart input_ck.nc --set time.start=500",
                       "time.start: 0 -> 500");
  // Another experiment from the checkpoint's state, when asked for.
  const Result r =
      run_nunatak(dir, "run input.yaml --restart input_ck.nc --set flow_law.enhancement_factor=3 "
                       "--set output.file=other/run.nc --allow-config-change");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("allowed by --allow-config-change"), std::string::npos) << r.err;
}

// A state that becomes non-finite stops the run at once with one error naming
// the step, the time and the cell, and leaves no output.
TEST(RunCli, NonFiniteStateStopsTheRun) {
  TempDir dir;
  TestFile f = grid_file(6, 5, 1000.0, 1000.0);
  add_field(f, "thk", "m", [](int, int) { return 0.0; });
  add_field(f, "topg", "m", [](int, int) { return 100.0; });
  write_test_file(dir.file("input_flat.nc"), f);
  write_text(dir.file("input.yaml"), "input.geometry.file: input_flat.nc\n"
                                     "time: {start: 0, end: 10, max_step: 1}\n"
                                     "output: {file: out/run.nc, quicklook: []}\n");
  expect_clean_failure(dir, "run input.yaml --set surface_mass_balance.constant=1e308",
                       "the ice thickness became non-finite (NaN or infinite) in 30 cell(s) at "
                       "step 1, from year 0 to 1");
  expect_clean_failure(dir, "run input.yaml --set surface_mass_balance.constant=1e308",
                       "the first at (i = 0, j = 0; x = 0 m, y = 0 m)");
}

// Record times are start + k * interval exactly, however the interval
// divides the run (no extra record one rounding error before the end).
TEST(RunCli, OutputTimesAreExactMultiplesOfTheInterval) {
  TempDir dir;
  write_ice_cap(dir.file("input_cap.nc"), 11);
  write_text(dir.file("input.yaml"), config_text("checkpoint.interval: 100"));
  const double year = core::seconds_per_year;
  Result r = run_nunatak(dir, "run input.yaml --set time.end=500 --set output.interval=100");
  ASSERT_EQ(r.status, 0) << r.err;
  std::vector<double> expected;
  for (int k = 0; k <= 5; ++k) expected.push_back((k * 100.0) * year);
  EXPECT_EQ(read_variable(dir.file("out/run.nc"), "time"), expected);
  EXPECT_EQ(read_variable(dir.file("out/run_ts.nc"), "time").back(), 500.0 * year);
  // An interval that is not a binary fraction: 0.1 years up to 0.3.
  r = run_nunatak(dir, "run input.yaml --set time.end=0.3 --set output.interval=0.1 --set "
                       "checkpoint.interval=0.1");
  ASSERT_EQ(r.status, 0) << r.err;
  expected = {0.0, 0.1 * year, 0.2 * year, 0.3 * year};
  EXPECT_EQ(read_variable(dir.file("out/run.nc"), "time"), expected);
  // From a start that is not 0.
  r = run_nunatak(dir, "run input.yaml --set time.start=-1000.5 --set time.end=-700.5 --set "
                       "output.interval=100");
  ASSERT_EQ(r.status, 0) << r.err;
  expected = {-1000.5 * year, -900.5 * year, -800.5 * year, -700.5 * year};
  EXPECT_EQ(read_variable(dir.file("out/run.nc"), "time"), expected);
}

// Without a surface mass balance in the inputs a run says that it uses a
// constant (0 unless surface_mass_balance.constant is set); the constant is
// in m/a ice equivalent; setting it when the inputs have one is an error.
// The scenario keys (factor, offset, offset_rate) act on it.
TEST(RunCli, ConstantSurfaceMassBalance) {
  TempDir dir;
  TestFile f = grid_file(5, 5, 1000.0, 1000.0);
  add_field(f, "thk", "m", [](int, int) { return 0.0; });
  add_field(f, "topg", "m", [](int, int) { return 100.0; });
  write_test_file(dir.file("input_flat.nc"), f);
  write_text(dir.file("input.yaml"), "input.geometry.file: input_flat.nc\n"
                                     "time: {start: 0, end: 1, max_step: 1}\n"
                                     "output: {file: out/run.nc, quicklook: []}\n");
  Result r = run_nunatak(dir, "run input.yaml");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("warning: no surface mass balance in the inputs"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("surface_mass_balance.constant = 0 m/a ice equivalent everywhere"),
            std::string::npos)
      << r.err;
  r = run_nunatak(dir, "run input.yaml --set surface_mass_balance.constant=2");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err.find("no surface mass balance"), std::string::npos) << r.err;
  // 2 m of ice on 25 cells of 1 km2 after one year (no flow from no ice).
  EXPECT_NEAR(read_variable(dir.file("out/run_ts.nc"), "ice_volume").back(), 25 * 1e6 * 2.0, 1e-6);
  // Scenario keys: smb = factor * smb + offset, the offset ramped in time:
  // 1.5 * 2 + 0.5 = 3.5 m/a for a year, then (ramp 1 m/a per year over two
  // years) the integral of 3 + t, 8 m, to the step's first-order error.
  r = run_nunatak(dir, "run input.yaml --set surface_mass_balance.constant=2 --set "
                       "surface_mass_balance.factor=1.5 --set surface_mass_balance.offset=0.5");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NEAR(read_variable(dir.file("out/run_ts.nc"), "ice_volume").back(), 25 * 1e6 * 3.5, 1e-6);
  // The first record shows the scenario's balance, 3.5 m/a of ice (910 kg m-3), not the input's.
  const std::vector<double> smb = read_variable(dir.file("out/run.nc"), "climatic_mass_balance");
  ASSERT_EQ(smb.size(), 2u * 25u);
  EXPECT_NEAR(smb.front(), 3.5 * 910.0, 1e-9);
  EXPECT_NEAR(smb.back(), 3.5 * 910.0, 1e-9);
  r = run_nunatak(dir, "run input.yaml --set surface_mass_balance.constant=2 --set "
                       "surface_mass_balance.factor=1.5 --set surface_mass_balance.offset_rate=1 "
                       "--set time.end=2 --set time.max_step=0.01");
  ASSERT_EQ(r.status, 0) << r.err;
  const double ramped = read_variable(dir.file("out/run_ts.nc"), "ice_volume").back() / 25e6;
  std::printf("ramped offset: %.4f m of ice after 2 years (8 m exactly)\n", ramped);
  EXPECT_NEAR(ramped, 8.0, 0.02);
  write_ice_cap(dir.file("input_cap.nc"), 11);
  fs::remove_all(dir.file("out"));
  expect_clean_failure(dir,
                       "run input.yaml --set input.geometry.file=input_cap.nc --set "
                       "surface_mass_balance.constant=1 --set output.file=x/run.nc",
                       "surface_mass_balance.constant is set (1 m/a ice equivalent), but the "
                       "inputs have a surface mass balance field (from input.geometry.file "
                       "'input_cap.nc')");
}
