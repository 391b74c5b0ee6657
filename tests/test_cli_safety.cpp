// The `nunatak` program never writes over a file it reads (under any
// spelling: ./a.nc, sub/../a.nc, a symbolic or hard link), refuses two
// outputs that are one file, and says so before any work with one error
// naming both keys; numeric arguments are checked (finite, in range), an
// unknown subcommand is named, PETSc options after "--" are checked (junk is
// an error, unused ones a warning), and under mpirun every such error is
// printed once and nothing hangs. This program does not start MPI itself:
// it runs nunatak under mpiexec.
#include "cli_support.hpp"
#include "test_files.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

using namespace nunatak;
using namespace nunatak::test;
namespace fs = std::filesystem;

namespace {

/// An 11 x 11 ice cap with a surface mass balance, 50 km cells.
void write_small_cap(const std::string& path) {
  TestFile f = grid_file(11, 11, 50000.0, 50000.0, -250000.0, -250000.0);
  add_field(f, "thk", "m", [](int i, int j) {
    const double r = std::hypot(i - 5.0, j - 5.0) / 4.5;
    return r < 1.0 ? 2000.0 * std::sqrt(1.0 - r * r) : 0.0;
  });
  add_field(f, "topg", "m", [](int i, int) { return 100.0 + 10.0 * i; });
  add_field(f, "climatic_mass_balance", "kg m-2 year-1", [](int, int) { return 100.0; });
  write_test_file(path, f);
}

size_t count(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

/// `nunatak ARGS` at 2 ranks under a time limit of 60 s.
std::string mpi2(const std::string& args) {
  return std::string("timeout 60 ") + NUNATAK_MPIEXEC +
         " --allow-run-as-root --oversubscribe -n 2 " + NUNATAK_BINARY + " " + args;
}

} // namespace

TEST(CliSafety, NoCommandWritesOverAFileItReads) {
  TempDir dir;
  write_small_cap(dir.file("input_cap.nc"));
  write_small_cap(dir.file("input_forcing.nc"));
  write_small_cap(dir.file("input_x_ts.nc"));
  write_small_cap(dir.file("input_ck.nc"));
  fs::create_symlink("input_cap.nc", dir.file("input_link.nc"));
  fs::create_hard_link(dir.file("input_cap.nc"), dir.file("input_hard.nc"));
  write_text(dir.file("input.yaml"), "input.geometry.file: input_cap.nc\n"
                                     "time: {start: 0, end: 100}\n"
                                     "output: {file: out/run.nc, quicklook: []}\n");
  fs::copy_file(dir.file("input_cap.nc"), dir.file("input_quick_thk.png"));
  const std::vector<std::string> inputs = {"input_cap.nc",  "input_forcing.nc",
                                           "input_x_ts.nc", "input_ck.nc",
                                           "input.yaml",    "input_quick_thk.png"};
  std::vector<std::string> before;
  for (const auto& f : inputs) before.push_back(slurp(dir.file(f)));

  const std::string over_geometry = "is the file read as input.geometry.file 'input_cap.nc'";
  expect_clean_failure(dir, "run input.yaml --set output.file=input_cap.nc",
                       "output.file 'input_cap.nc' " + over_geometry);
  expect_clean_failure(dir, "bootstrap input.yaml -o input_cap.nc",
                       "output.file 'input_cap.nc' " + over_geometry);
  expect_clean_failure(dir, "solve input.yaml --set output.file=./input_cap.nc",
                       "output.file './input_cap.nc' " + over_geometry +
                           " (the same file under another name)");
  expect_clean_failure(dir, "run input.yaml --set checkpoint.file=input_cap.nc",
                       "checkpoint.file 'input_cap.nc' " + over_geometry);
  expect_clean_failure(dir,
                       "run input.yaml --set input.forcing.file=input_forcing.nc --set "
                       "output.file=input_forcing.nc",
                       "output.file 'input_forcing.nc' is the file read as input.forcing.file");
  expect_clean_failure(dir,
                       "run input.yaml --set input.geometry.file=input_x_ts.nc --set "
                       "output.file=input_x.nc",
                       "the time series of output.file 'input_x_ts.nc' is the file read as "
                       "input.geometry.file 'input_x_ts.nc': nunatak never writes over a file it "
                       "reads; choose another output.file");
  // The configuration file is read too.
  expect_clean_failure(dir, "run input.yaml --set output.file=input.yaml",
                       "output.file 'input.yaml' is the file read as the configuration file "
                       "'input.yaml'");
  expect_clean_failure(dir, "bootstrap input.yaml -o ./input.yaml",
                       "is the file read as the configuration file 'input.yaml'");
  expect_clean_failure(dir,
                       "solve input.yaml --set output.quicklook=[thk] --set "
                       "output.file=input_quick.nc --set input.geometry.file=input_quick_thk.png",
                       "output.quicklook (thk) 'input_quick_thk.png' is the file read as "
                       "input.geometry.file");
  expect_clean_failure(dir, "run input.yaml --set output.file=input_link.nc",
                       "output.file 'input_link.nc' " + over_geometry);
  expect_clean_failure(dir, "run input.yaml --set output.file=input_hard.nc",
                       "output.file 'input_hard.nc' " + over_geometry);
  expect_clean_failure(dir, "bootstrap input.yaml -o sub/../input_cap.nc",
                       "output.file 'sub/../input_cap.nc' " + over_geometry);
  expect_clean_failure(dir,
                       "run input.yaml --set input.observations.file=input_forcing.nc "
                       "--set checkpoint.file=./input_forcing.nc",
                       "is the file read as input.observations.file");
  expect_clean_failure(dir, "run input.yaml --set output.file=input_ck.nc --restart input_ck.nc",
                       "output.file 'input_ck.nc' is the file read as --restart 'input_ck.nc'");
  expect_clean_failure(dir, "solve input.yaml --bp-fixture input_cap.nc",
                       "--bp-fixture 'input_cap.nc' " + over_geometry);
  expect_clean_failure(dir, "plot input_cap.nc thk -o input_cap.nc",
                       "-o 'input_cap.nc' is the file read as FILE 'input_cap.nc'");
  for (size_t k = 0; k < inputs.size(); ++k)
    EXPECT_EQ(slurp(dir.file(inputs[k])), before[k]) << inputs[k] << " was changed";
  EXPECT_TRUE(fs::is_symlink(dir.file("input_link.nc")));
  EXPECT_FALSE(fs::exists(dir.file("sub")));
}

TEST(CliSafety, OutputsMustBeDistinctWritableFiles) {
  TempDir dir;
  write_small_cap(dir.file("input_cap.nc"));
  write_text(dir.file("input.yaml"), "input.geometry.file: input_cap.nc\n"
                                     "time: {start: 0, end: 100}\n"
                                     "output: {file: out/run.nc, quicklook: []}\n");
  expect_clean_failure(dir, "run input.yaml --set checkpoint.file=out/run.nc",
                       "output.file 'out/run.nc' and checkpoint.file 'out/run.nc' are the same "
                       "file: each output needs its own file name");
  expect_clean_failure(dir, "run input.yaml --set checkpoint.file=out/run_ts.nc",
                       "are the same file");
  expect_clean_failure(dir, "run input.yaml --set output.quicklook=[thk,thk]",
                       "output.quicklook (thk) 'out/run_thk.png' and output.quicklook (thk) "
                       "'out/run_thk.png' are the same file");
  expect_clean_failure(dir, "run input.yaml --set output.file=input_cap.nc/run.nc",
                       "cannot create the folder 'input_cap.nc' for output.file "
                       "'input_cap.nc/run.nc':");
  expect_clean_failure(dir, "run input.yaml --set output.file=out/",
                       "output.file 'out/' is a folder, not a file name");
  expect_clean_failure(dir, "bootstrap input.yaml --set output.file=" + std::string(250, 'a'),
                       "is too long (250 characters");
  expect_clean_failure(dir, "run input.yaml --set \"output.file=''\"",
                       "output.file is empty: it must name a file");
  expect_clean_failure(dir, "ismip-hom A --grid 8x8x3 -o same.nc --bp-fixture same.nc",
                       "-o 'same.nc' and --bp-fixture 'same.nc' are the same file");
}

TEST(CliSafety, NumericArgumentsAreFiniteAndInRange) {
  TempDir dir;
  write_small_cap(dir.file("input_cap.nc"));
  write_text(dir.file("input.yaml"), "input.geometry.file: input_cap.nc\n"
                                     "time: {start: 0, end: 100}\n"
                                     "output: {file: out/run.nc, quicklook: []}\n");
  TestFile series;
  series.dims = {{"time", 3}};
  series.vars = {{"time", {"time"}, {0, 1, 2}, {{"units", "seconds since 0001-01-01"}}, {}},
                 {"ice_volume", {"time"}, {1e15, 2e15, 3e15}, {{"units", "m3"}}, {}}};
  write_test_file(dir.file("input_ts.nc"), series);
  struct Case {
    const char* args;
    const char* message;
  };
  const Case cases[] = {
      {"verify --years -5", "--years: '-5' is out of range: it must be in (0, 1e+07]"},
      {"verify --years nan", "--years: 'nan' is not a finite number"},
      {"verify --years inf", "--years: 'inf' is not a finite number"},
      {"verify --years 12abc", "--years: '12abc' is not a number"},
      {"verify --safety nan", "--safety: 'nan' is not a finite number"},
      {"verify --grid 3", "--grid"},
      {"ismip-hom A --length nan", "--length: 'nan' is not a finite number"},
      {"ismip-hom A --length -10", "--length: '-10' is out of range"},
      {"ismip-hom A --grid 16x16x9junk", "--grid '16x16x9junk': expected NXxNYxNZ"},
      {"ismip-hom A --grid 1x1x1", "NX and NY must be in 3 .. 100000"},
      {"ismip-hom A --grid 100000x100000x1000", "at most 2e8 nodes"},
      {"ismip-hom A --grid 10000x10000x2", "2e+08 nodes need about 1.12 TiB for the "
                                           "Blatter-Pattyn solve"},
      {"ismip-hom E1 --length 10", "--length: experiment E's length is that of its profile"},
      {"ismip-hom E3", "EXP: E3 not in {A,B,C,D,E1,E2,F1,F2}"},
      {"ismip-hom F1 --length 10", "--length: experiment F's length is 100 km"},
      {"ismip-hom F2 --max-dt 0", "--max-dt: '0' is out of range"},
      {"ismip-hom F1 --bp-fixture f.nc", "--bp-fixture: not for experiment F"},
      {"ismip-hom E2 --arolla missing.dat -o e2.nc", "missing.dat"},
      {"plot input_cap.nc thk --vmin nan", "--vmin: 'nan' is not a finite number"},
      {"plot input_cap.nc thk --vmin 5 --vmax 1", "--vmin (5) must be below --vmax (1)"},
      {"plot input_cap.nc thk --time -2", "--time"},
      {"plot input_cap.nc thk --time 5", "has no time dimension: it holds one record (0), not "
                                         "record 5"},
      {"plot input_ts.nc ice_volume --time 2", "is a time series, drawn whole as a line chart: a "
                                               "record (2) cannot be chosen"},
      {"ismip-hom A --length 1e-300", "--length: '1e-300' is out of range: it must be in [0.1, "
                                      "10000]"},
      // Configuration numbers: a run that could never end is refused.
      {"run input.yaml --set time.end=1e300", "'time.end' = 1e300 year is above its maximum 1e+09"},
      {"run input.yaml --set output.interval=1e-300", "output.interval = 1e-300 year gives 1e+302 "
                                                      "times from time.start to time.end"},
      {"run input.yaml --set checkpoint.interval=1e-5", "checkpoint.interval = 1e-05 year gives "
                                                        "1e+07 times"},
      {"run input.yaml --set time.end=.nan", "key 'time.end' expects a number, got '.nan'"},
  };
  for (const Case& c : cases) {
    const Result r = run_nunatak(dir, c.args);
    EXPECT_NE(r.status, 0) << c.args;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.args << "\nstderr: " << r.err;
    EXPECT_TRUE(outputs_in(dir.path()).empty()) << c.args;
  }
  // The hang of the issue: an infinite run length, at 2 ranks, under a time
  // limit; the error is printed once.
  const Result r = run_shell(dir, mpi2("verify --test B --grid 11 --years inf"));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.status, 124) << "timed out";
  EXPECT_EQ(count(r.err, "is not a finite number"), 1u) << r.err;
}

TEST(CliSafety, UnknownSubcommandIsNamedOnceOnEveryRankCount) {
  TempDir dir;
  Result r = run_nunatak(dir, "frobnicate");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("unknown subcommand 'frobnicate' (the subcommands are: info, config"),
            std::string::npos)
      << r.err;
  r = run_nunatak(dir, "-q --log-level debug frobnicate --help");
  EXPECT_NE(r.err.find("unknown subcommand 'frobnicate'"), std::string::npos) << r.err;
  r = run_shell(dir, mpi2("frobnicate"));
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(count(r.err, "unknown subcommand 'frobnicate'"), 1u) << r.err;
  // Errors of plot, and of a subcommand's own options, once under mpirun too.
  r = run_shell(dir, mpi2("plot input_none.nc thk"));
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(count(r.err, "input_none.nc' does not exist"), 1u) << r.err;
  r = run_shell(dir, mpi2("plot --width 5 x.nc thk"));
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(count(r.err, "--width"), 1u) << r.err;
}

// The speed comparison of `solve` says which cells it covers: grounded and
// floating ice apart, only cells with ice and an observed speed, and how many
// ice cells have no observation.
TEST(CliSafety, SpeedStatisticsSayWhichCellsTheyCover) {
  TempDir dir;
  write_small_cap(dir.file("input_cap.nc"));
  TestFile obs = grid_file(11, 11, 50000.0, 50000.0, -250000.0, -250000.0);
  add_field(obs, "uvelsurfobs", "m/yr", [](int i, int) { return i == 5 ? NAN : 10.0; });
  add_field(obs, "vvelsurfobs", "m/yr", [](int, int) { return 0.0; });
  write_test_file(dir.file("input_obs.nc"), obs);
  write_text(dir.file("input.yaml"), "input.geometry.file: input_cap.nc\n"
                                     "input.observations.file: input_obs.nc\n"
                                     "output: {file: out/s.nc, quicklook: []}\n");
  const Result r = run_nunatak(dir, "solve input.yaml");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("surface speed vs observed, grounded ice ("), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(" cells with ice and an observed speed): model mean "), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("floating ice: no cells with ice and an observed speed"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("ice cells have no observed speed and are not compared"), std::string::npos)
      << r.err;
}

// What one rank does for all is said once under mpirun: `info` and `config`
// print on rank 0, and what the reader assumed about a file (a coordinate
// without units) is one warning, not one per rank.
TEST(CliSafety, OutputAndWarningsOnceUnderMpirun) {
  TempDir dir;
  TestFile f = grid_file(11, 11, 50000.0, 50000.0, -250000.0, -250000.0);
  f.var("x").text.erase("units");
  add_field(f, "thk", "m",
            [](int i, int j) { return i > 2 && i < 8 && j > 2 && j < 8 ? 500.0 : 0; });
  add_field(f, "topg", "m", [](int, int) { return 100.0; });
  write_test_file(dir.file("input_nounits.nc"), f);
  write_text(dir.file("input.yaml"), "input.geometry.file: input_nounits.nc\n"
                                     "output: {file: out.nc, quicklook: [thk]}\n");
  const std::string warning = "coordinate 'x' has no units; assuming metres";
  Result r = run_shell(dir, mpi2("info input_nounits.nc"));
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(count(r.out, "file:   input_nounits.nc"), 1u) << r.out;
  EXPECT_EQ(count(r.out, warning), 1u) << r.out;
  r = run_shell(dir, mpi2("config --list"));
  EXPECT_EQ(count(r.out, "\ntime.end\n"), 1u) << r.out;
  r = run_shell(dir, mpi2("bootstrap input.yaml"));
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(count(r.err, warning), 1u) << r.err;
  r = run_shell(dir, mpi2("plot input_nounits.nc thk -o p.png"));
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(count(r.err, warning), 1u) << r.err;
  // More ranks than rows of cells: one error naming the grid and the ranks,
  // not PETSc's "Partition in y direction is too fine! 2 3".
  TestFile tiny = grid_file(2, 2, 1000.0, 1000.0);
  add_field(tiny, "thk", "m", [](int, int) { return 0.0; });
  add_field(tiny, "topg", "m", [](int, int) { return 10.0; });
  write_test_file(dir.file("input_tiny.nc"), tiny);
  r = run_shell(dir, std::string("timeout 60 ") + NUNATAK_MPIEXEC +
                         " --allow-run-as-root --oversubscribe -n 3 " + NUNATAK_BINARY +
                         " bootstrap input.yaml --set input.geometry.file=input_tiny.nc -o t.nc");
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(count(r.err, "the grid of 2 x 2 cells cannot be split over 3 MPI ranks"), 1u) << r.err;
  EXPECT_FALSE(fs::exists(dir.file("t.nc")));
}

TEST(CliSafety, PetscOptionsAreCheckedAndUnusedOnesReported) {
  TempDir dir;
  const std::string verify = "verify --test B --grid 11 --years 10";
  Result r = run_nunatak(dir, verify + " -- garbage 12");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("the PETSc options after '--': 'garbage' is not a PETSc option"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.out.find("test"), std::string::npos) << "nothing ran: " << r.out;
  r = run_nunatak(dir, verify + " -- -bp_snes_monitor garbage 12");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("'12' is not a PETSc option (after -bp_snes_monitor garbage, which takes "
                       "at most one value)"),
            std::string::npos)
      << r.err;
  // Misspelled options: the run goes on and says which were never used.
  r = run_nunatak(dir, verify + " -- -bp_snes_monitr -sia_foo 3 -bp_snes_max_it -1");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("PETSc option(s) never used: "), std::string::npos) << r.err;
  for (const char* name : {"-bp_snes_monitr", "-sia_foo 3", "-bp_snes_max_it -1"})
    EXPECT_NE(r.err.find(name), std::string::npos) << name << ": " << r.err;
  // The same for the configuration's petsc.options.
  write_small_cap(dir.file("input_cap.nc"));
  write_text(dir.file("input.yaml"), "input.geometry.file: input_cap.nc\n"
                                     "time: {start: 0, end: 10}\n"
                                     "output: {file: out/run.nc, quicklook: []}\n");
  expect_clean_failure(dir, "run input.yaml --set \"petsc.options='garbage 12'\"",
                       "petsc.options: 'garbage' is not a PETSc option");
  r = run_nunatak(dir,
                  "run input.yaml --set \"petsc.options='-sia_foo'\" --set output.file=o/r.nc");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("never used: -sia_foo"), std::string::npos) << r.err;
  // A command without PETSc: every option is unused.
  r = run_nunatak(dir, "info input_cap.nc -- -log_view");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("never used: -log_view"), std::string::npos) << r.err;
  // Options the solver reads are not reported.
  r = run_nunatak(dir, "ismip-hom A --grid 8x8x3 -- -bp_snes_monitor -bp_snes_rtol 1e-6");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("SNES Function norm"), std::string::npos) << r.out;
  EXPECT_EQ(r.err.find("never used"), std::string::npos) << r.err;
  // Options that act in PetscInitialize work after '--' too (and are used).
  r = run_nunatak(dir, "ismip-hom A --grid 8x8x3 -- -log_view");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("PETSc Performance Summary"), std::string::npos) << r.out;
  EXPECT_EQ(r.err.find("never used"), std::string::npos) << r.err;
  // The command line overrides PETSC_OPTIONS.
  r = run_shell(dir, std::string("PETSC_OPTIONS='-bp_snes_max_it 1' ") + NUNATAK_BINARY +
                         " ismip-hom A --grid 8x8x3 -- -bp_snes_max_it 50");
  EXPECT_EQ(r.status, 0) << r.err;
}
