// `nunatak ensemble` end to end, also under mpiexec: every member is the
// `nunatak run` of its configuration, bit for bit; a failing member (a
// refused value, a member past its time limit) is recorded and the others
// finish; a rerun skips finished members and --retry-failed reruns failed
// ones; SIGTERM stops with checkpoints and the same command continues to the
// results of an uninterrupted ensemble; two groups on two ranks give the
// members of one rank; --member, collect and sample; bad ensembles fail with
// one error that names the key.
#include "cli_support.hpp"
#include "nunatak/io/netcdf_file.hpp"
#include "test_files.hpp"

#include <gtest/gtest.h>
#include <netcdf.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <set>
#include <sstream>
#include <thread>

using namespace nunatak;
using namespace nunatak::test;
namespace fs = std::filesystem;

namespace {

constexpr int cap_cells = 21;

/// The base run with a 4-member Latin-hypercube sample over the flow
/// enhancement and the mass-balance factor.
std::string ensemble_config(const std::string& extra = "", int end = 2000) {
  return "input.geometry.file: input_cap.nc\n"
         "time: {start: 0, end: " +
         std::to_string(end) +
         "}\n"
         "output: {file: out/run.nc, interval: 500, variables: [thk], quicklook: []}\n"
         "ensemble:\n"
         "  members: 4\n"
         "  seed: 7\n"
         "  parameters: ['flow_law.enhancement_factor = 1 .. 4 log',\n"
         "               'surface_mass_balance.factor = 0.5 .. 1.5']\n"
         "  directory: ens\n" +
         extra + "\n";
}

std::vector<double> read_variable(const std::string& path, const std::string& var) {
  io::NcFile f = io::NcFile::open(path);
  return f.read_all(f.variable(var));
}

/// The thickness of the last record of an output file on `cells` x `cells`.
std::vector<double> last_thickness(const std::string& path, int cells = cap_cells) {
  const std::vector<double> all = read_variable(path, "thk");
  const size_t n = size_t(cells) * size_t(cells);
  return std::vector<double>(all.end() - long(n), all.end());
}

/// The rows of a members.csv (header and comment skipped).
std::vector<std::vector<double>> csv_rows(const std::string& path) {
  std::vector<std::vector<double>> rows;
  std::istringstream lines(slurp(path));
  bool header = true;
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    if (header) {
      header = false;
      continue;
    }
    std::vector<double> row;
    std::istringstream cells(line);
    for (std::string cell; std::getline(cells, cell, ',');) row.push_back(std::stod(cell));
    rows.push_back(row);
  }
  return rows;
}

/// The value of `field` in a member's status file ("" if absent).
std::string status_field(const std::string& path, const std::string& field) {
  std::istringstream lines(slurp(path));
  for (std::string line; std::getline(lines, line);)
    if (line.rfind(field + ": ", 0) == 0) return line.substr(field.size() + 2);
  return "";
}

std::string mpiexec(int ranks) {
  return mpiexec_command(ranks, NUNATAK_BINARY);
}

} // namespace

TEST(EnsembleCli, MembersAreTheRunsOfTheirConfigurations) {
  TempDir dir;
  write_ice_cap(dir.file("input_cap.nc"), cap_cells);
  write_text(dir.file("input.yaml"), ensemble_config());
  const Result r = run_nunatak(dir, "ensemble input.yaml");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto rows = csv_rows(dir.file("ens/members.csv"));
  ASSERT_EQ(rows.size(), 4u);

  // The summary: the members' values, all finished, the volume of each
  // member's own time series at the end.
  const std::string summary = dir.file("ens/summary.nc");
  const auto enhancement = read_variable(summary, "flow_law.enhancement_factor");
  const auto smb_factor = read_variable(summary, "surface_mass_balance.factor");
  const auto status = read_variable(summary, "status");
  const auto volume = read_variable(summary, "ice_volume");
  const auto times = read_variable(summary, "time");
  ASSERT_EQ(times.size(), 5u); // every 500 years of 2000
  for (size_t m = 0; m < 4; ++m) {
    EXPECT_EQ(enhancement[m], rows[m][0]);
    EXPECT_EQ(smb_factor[m], rows[m][1]);
    EXPECT_GE(rows[m][0], 1.0);
    EXPECT_LE(rows[m][0], 4.0);
    EXPECT_EQ(status[m], 2.0) << "member " << m << " not finished";
    const std::string ts = dir.file("ens/member_00" + std::to_string(m) + "_ts.nc");
    EXPECT_EQ(volume[m * 5 + 4], read_variable(ts, "ice_volume").back());
  }
  // The members differ: the sample is not one point.
  EXPECT_GT(std::abs(volume[4] - volume[9]), 1e-3 * volume[4]);
  EXPECT_TRUE(fs::exists(dir.file("ens/summary.png")));

  // Member 2 is `nunatak run` of its values, bit for bit.
  char set[256];
  std::snprintf(set, sizeof set,
                "--set flow_law.enhancement_factor=%.17g --set surface_mass_balance.factor=%.17g",
                rows[2][0], rows[2][1]);
  const Result run =
      run_nunatak(dir, "run input.yaml " + std::string(set) + " --set output.file=ref/run.nc");
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(last_thickness(dir.file("ens/member_002.nc")), last_thickness(dir.file("ref/run.nc")));
  io::NcFile member = io::NcFile::open(dir.file("ens/member_002.nc"));
  EXPECT_EQ(member.number_attribute(NC_GLOBAL, "nunatak_ensemble_member")
                .value_or(std::vector<double>{-1})[0],
            2.0);
  EXPECT_NE(member.text_attribute(NC_GLOBAL, "nunatak_ensemble_parameters")
                .value_or("")
                .find("flow_law.enhancement_factor = "),
            std::string::npos);

  // A rerun skips the finished members.
  const Result again = run_nunatak(dir, "ensemble input.yaml");
  ASSERT_EQ(again.status, 0) << again.err;
  EXPECT_NE(again.err.find("0 to run, 4 finished before"), std::string::npos) << again.err;
  EXPECT_EQ(status_field(dir.file("ens/member_000.status"), "attempts"), "1");

  // The summary is a table: the same members from it.
  const Result table = run_nunatak(
      dir, "ensemble sample input.yaml --set ensemble.members=0 --set 'ensemble.parameters=[]' "
           "--set ensemble.table=ens/summary.nc -o table.csv");
  ASSERT_EQ(table.status, 0) << table.err;
  EXPECT_EQ(csv_rows(dir.file("table.csv")), rows);
}

TEST(EnsembleCli, AFailingMemberIsRecordedAndTheOthersFinish) {
  TempDir dir;
  write_ice_cap(dir.file("input_cap.nc"), cap_cells);
  // Member 1: a value the configuration refuses; member 2: time steps so
  // short that it crawls, stopped by the time limit.
  write_text(dir.file("members.csv"), "flow_law.enhancement_factor,flow_law.glen_exponent,"
                                      "time.max_step\n2,3,100\n2,20,100\n2,3,1e-6\n");
  write_text(dir.file("input.yaml"),
             "input.geometry.file: input_cap.nc\ntime: {start: 0, end: 2000}\n"
             "output: {file: out/run.nc, interval: 0, variables: [thk], quicklook: []}\n"
             "ensemble: {table: members.csv, directory: ens, member_time_limit: 1}\n");
  const Result r = run_nunatak(dir, "ensemble input.yaml");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("error: 2 of 3 member(s) failed"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("member 1: ensemble member 1: key 'flow_law.glen_exponent' = 20 is above "
                       "its maximum 10"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("member 2: ran longer than ensemble.member_time_limit (1 s)"),
            std::string::npos)
      << r.err;
  size_t error_lines = 0;
  std::istringstream lines(r.err);
  for (std::string line; std::getline(lines, line);)
    error_lines += line.find("error") != std::string::npos;
  EXPECT_EQ(error_lines, 1u) << r.err;

  EXPECT_EQ(status_field(dir.file("ens/member_000.status"), "status"), "finished");
  EXPECT_EQ(status_field(dir.file("ens/member_001.status"), "status"), "failed");
  EXPECT_EQ(status_field(dir.file("ens/member_002.status"), "status"), "failed");
  EXPECT_EQ(read_variable(dir.file("ens/summary.nc"), "status"), (std::vector<double>{2, 3, 3}));
  const io::NcFile summary = io::NcFile::open(dir.file("ens/summary.nc"));
  EXPECT_NE(summary.text_attribute(NC_GLOBAL, "title")
                .value_or("")
                .find("the 3 members of the table 'members.csv'"),
            std::string::npos);
  EXPECT_NE(summary.text_attribute(summary.variable("status"), "errors")
                .value_or("")
                .find("member 2: ran longer than ensemble.member_time_limit"),
            std::string::npos);
  // The finished member's output is complete.
  EXPECT_EQ(io::NcFile::open(dir.file("ens/member_000.nc"))
                .text_attribute(NC_GLOBAL, "nunatak_run_status")
                .value_or(""),
            "complete");

  // A rerun leaves the failed members alone; --retry-failed runs them again.
  const Result skip = run_nunatak(dir, "ensemble input.yaml");
  EXPECT_NE(skip.err.find("0 to run, 1 finished before, 2 failed before"), std::string::npos)
      << skip.err;
  EXPECT_EQ(status_field(dir.file("ens/member_001.status"), "attempts"), "1");
  const Result retry = run_nunatak(dir, "ensemble input.yaml --retry-failed");
  EXPECT_EQ(retry.status, 1);
  EXPECT_EQ(status_field(dir.file("ens/member_001.status"), "attempts"), "2");
  EXPECT_EQ(status_field(dir.file("ens/member_000.status"), "attempts"), "1");
}

TEST(EnsembleCli, SigtermStopsAndTheSameCommandContinues) {
  TempDir dir;
  write_ice_cap(dir.file("input_cap.nc"), 61); // a few seconds per member
  write_text(dir.file("input.yaml"), ensemble_config("", 50000));
  const Result reference = run_nunatak(dir, "ensemble input.yaml --set ensemble.directory=ref");
  ASSERT_EQ(reference.status, 0) << reference.err;

  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (chdir(dir.path().c_str()) != 0) _exit(99);
    const std::string log = dir.file("ensemble.log");
    if (!freopen(log.c_str(), "w", stderr)) _exit(97);
    execl(NUNATAK_BINARY, NUNATAK_BINARY, "ensemble", "input.yaml", static_cast<char*>(nullptr));
    _exit(98);
  }
  // The handlers are in place once member 1 has opened its output.
  const std::string opened = dir.file("ens/member_001.nc.tmp." + std::to_string(pid));
  for (int k = 0; k < 1200 && !fs::exists(opened); ++k)
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  ASSERT_TRUE(fs::exists(opened)) << slurp(dir.file("ensemble.log"));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  kill(pid, SIGTERM);
  int raw = 0;
  waitpid(pid, &raw, 0);
  ASSERT_TRUE(WIFEXITED(raw));
  const std::string log = slurp(dir.file("ensemble.log"));
  ASSERT_EQ(WEXITSTATUS(raw), 75) << "finished before the signal, or failed: " << log;
  EXPECT_EQ(status_field(dir.file("ens/member_000.status"), "status"), "finished");
  EXPECT_EQ(status_field(dir.file("ens/member_001.status"), "status"), "interrupted");
  EXPECT_EQ(status_field(dir.file("ens/member_001.status"), "checkpoint"),
            "ens/member_001_checkpoint.nc");
  EXPECT_FALSE(fs::exists(dir.file("ens/member_002.status")));
  EXPECT_EQ(read_variable(dir.file("ens/summary.nc"), "status"), (std::vector<double>{2, 4, 0, 0}));

  const Result resumed = run_nunatak(dir, "ensemble input.yaml");
  ASSERT_EQ(resumed.status, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("3 to run, 1 finished before, 1 continued"), std::string::npos)
      << resumed.err;
  EXPECT_EQ(status_field(dir.file("ens/member_001.status"), "attempts"), "2");
  for (const std::string m : {"000", "001", "002", "003"}) {
    EXPECT_EQ(last_thickness(dir.file("ens/member_" + m + ".nc"), 61),
              last_thickness(dir.file("ref/member_" + m + ".nc"), 61))
        << "member " << m;
    EXPECT_EQ(read_variable(dir.file("ens/member_" + m + "_ts.nc"), "ice_volume"),
              read_variable(dir.file("ref/member_" + m + "_ts.nc"), "ice_volume"))
        << "member " << m;
  }
}

TEST(EnsembleCli, TwoGroupsOnTwoRanksRunTheMembersOfOneRank) {
  TempDir dir;
  write_ice_cap(dir.file("input_cap.nc"), cap_cells);
  write_text(dir.file("input.yaml"), ensemble_config());
  ASSERT_EQ(run_nunatak(dir, "ensemble input.yaml --set ensemble.directory=one").status, 0);
  const Result two = run_shell(dir, mpiexec(2) + "ensemble input.yaml");
  ASSERT_EQ(two.status, 0) << two.err;
  EXPECT_NE(two.err.find("2 group(s) of 1 rank(s); 4 to run"), std::string::npos) << two.err;
  const Result wide =
      run_shell(dir, mpiexec(2) + "ensemble input.yaml --set ensemble.ranks_per_member=2 --set "
                                  "ensemble.directory=wide");
  ASSERT_EQ(wide.status, 0) << wide.err;
  EXPECT_NE(wide.err.find("1 group(s) of 2 rank(s)"), std::string::npos) << wide.err;
  std::set<std::string> hosts_seen;
  for (const std::string m : {"000", "001", "002", "003"}) {
    const auto ref = last_thickness(dir.file("one/member_" + m + ".nc"));
    // One rank per member: the same arithmetic, bit for bit.
    EXPECT_EQ(last_thickness(dir.file("ens/member_" + m + ".nc")), ref) << "member " << m;
    // Two ranks per member: the same to round-off (sums in another order).
    const auto split = last_thickness(dir.file("wide/member_" + m + ".nc"));
    for (size_t k = 0; k < ref.size(); ++k) ASSERT_NEAR(split[k], ref[k], 1e-6) << m << " " << k;
    EXPECT_EQ(status_field(dir.file("wide/member_" + m + ".status"), "ranks"), "2");
  }
  // A world that does not split into groups: one error.
  const Result odd = run_shell(dir, mpiexec(2) + "ensemble input.yaml --set "
                                                 "ensemble.ranks_per_member=3 --set "
                                                 "ensemble.directory=odd");
  EXPECT_NE(odd.status, 0);
  EXPECT_NE(odd.err.find("ensemble.ranks_per_member = 3: the 2 MPI ranks do not split"),
            std::string::npos)
      << odd.err;
}

TEST(EnsembleCli, OneMemberThenCollectAndSample) {
  TempDir dir;
  write_ice_cap(dir.file("input_cap.nc"), cap_cells);
  write_text(dir.file("input.yaml"), ensemble_config());
  const Result one = run_nunatak(dir, "ensemble input.yaml --member 1");
  ASSERT_EQ(one.status, 0) << one.err;
  EXPECT_TRUE(fs::exists(dir.file("ens/member_001.nc")));
  EXPECT_FALSE(fs::exists(dir.file("ens/member_000.status")));
  EXPECT_FALSE(fs::exists(dir.file("ens/summary.nc"))); // collect writes it
  const Result collect = run_nunatak(dir, "ensemble collect input.yaml");
  ASSERT_EQ(collect.status, 0) << collect.err;
  EXPECT_NE(collect.err.find("4 member(s): 1 finished, 0 failed, 0 unfinished, 3 not run"),
            std::string::npos)
      << collect.err;
  EXPECT_EQ(read_variable(dir.file("ens/summary.nc"), "status"), (std::vector<double>{0, 2, 0, 0}));
  const auto volume = read_variable(dir.file("ens/summary.nc"), "ice_volume");
  EXPECT_TRUE(std::isnan(volume[0]));
  EXPECT_TRUE(std::isfinite(volume[5 + 4]));
  // `sample` prints what the run wrote as members.csv.
  const Result sample = run_nunatak(dir, "ensemble sample input.yaml");
  ASSERT_EQ(sample.status, 0) << sample.err;
  EXPECT_EQ(sample.out, slurp(dir.file("ens/members.csv")));
  const Result bad = run_nunatak(dir, "ensemble input.yaml --member 4");
  EXPECT_NE(bad.err.find("--member 4: the ensemble has members 0 to 3"), std::string::npos)
      << bad.err;
}

TEST(EnsembleCli, BadEnsemblesFailWithOneErrorNamingTheKey) {
  TempDir dir;
  write_ice_cap(dir.file("input_cap.nc"), cap_cells);
  write_text(dir.file("input.yaml"), ensemble_config());
  expect_clean_failure(dir, "ensemble input.yaml --set 'ensemble.parameters=[]'",
                       "ensemble.parameters: no ranges to sample and no ensemble.table");
  expect_clean_failure(dir, "ensemble input.yaml --set ensemble.members=0",
                       "ensemble.members: give the number of members to sample");
  expect_clean_failure(dir, "ensemble input.yaml --set ensemble.table=t.csv",
                       "ensemble.table and ensemble.parameters/ensemble.members: give either");
  expect_clean_failure(
      dir, "ensemble input.yaml --set 'ensemble.parameters=[flow_law.sofness = 1 .. 2]'",
      "unknown configuration key 'flow_law.sofness'; did you mean "
      "'flow_law.softness'?");
  expect_clean_failure(dir,
                       "ensemble input.yaml --set ensemble.members=0 --set "
                       "'ensemble.parameters=[]' --set ensemble.table=missing.csv",
                       "ensemble table 'missing.csv': cannot open it");
  expect_clean_failure(dir, "ensemble input.yaml --set ensemble.bogus=1", "ensemble.bogus");
  // Results of another experiment in the folder: refused, naming the key.
  ASSERT_EQ(run_nunatak(dir, "ensemble input.yaml --member 0").status, 0);
  const Result other = run_nunatak(dir, "ensemble input.yaml --set time.end=3000");
  EXPECT_NE(other.status, 0);
  EXPECT_NE(other.err.find("ensemble.directory 'ens' holds member 0 (finished) of another "
                           "configuration: time.end: 2000 -> 3000"),
            std::string::npos)
      << other.err;
  EXPECT_FALSE(fs::exists(dir.file("ens/member_001.status")));
}
