// The `nunatak` program end to end: good runs write complete outputs; bad
// input gives one clear error line, a non-zero exit status and no output file.
#include "cli_support.hpp"
#include "nunatak/io/netcdf_file.hpp"
#include "test_files.hpp"

#include <gtest/gtest.h>
#include <netcdf.h>
#include <sys/wait.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

using namespace nunatak;
using namespace nunatak::test;
namespace fs = std::filesystem;

namespace {

void write_geometry(const std::string& path, double (*thk)(int, int)) {
  test::TestFile f = test::grid_file(8, 6, 1000.0, 1000.0);
  test::add_field(f, "thk", "m", thk);
  test::add_field(f, "topg", "m", [](int i, int) { return 100.0 * i; });
  test::write_test_file(path, f);
}

double good_thickness(int i, int j) {
  return 100.0 * (i + j);
}

} // namespace

TEST(Cli, VersionHelpAndConfigList) {
  TempDir dir;
  Result r = run_nunatak(dir, "--version");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("nunatak 0."), std::string::npos) << r.out;
  for (const char* sub : {"info", "config", "plot", "bootstrap"}) {
    r = run_nunatak(dir, std::string(sub) + " --help");
    EXPECT_EQ(r.status, 0) << sub;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << sub;
  }
  r = run_nunatak(dir, "config --list");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("output.compression_level\n    integer, default 1"), std::string::npos)
      << r.out;
  EXPECT_NE(run_nunatak(dir, "no-such-command").status, 0);

  // docs/configuration.md is the program's own table.
  r = run_nunatak(dir, "config --markdown");
  const std::string doc = slurp(std::string(NUNATAK_SOURCE_DIR) + "/docs/configuration.md");
  EXPECT_NE(doc.find(r.out), std::string::npos)
      << "docs/configuration.md is out of date: regenerate it with 'nunatak config --markdown'";
}

// PETSc options follow "--": they reach the solver (-bp_snes_monitor prints the
// Newton residuals) and override the configuration; nothing before "--"
// changes meaning.
TEST(Cli, PetscOptionsAfterDoubleDash) {
  TempDir dir;
  Result r = run_nunatak(dir, "ismip-hom A --length 10 --grid 16x16x5");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.find("SNES Function norm"), std::string::npos);
  EXPECT_NE(r.out.find("max 23.969 m/a"), std::string::npos) << r.out;
  r = run_nunatak(dir, "ismip-hom A --length 10 --grid 16x16x5 -- -bp_snes_monitor");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("SNES Function norm"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("max 23.969 m/a"), std::string::npos) << r.out; // the same solution
  // A solver choice on the command line wins over the default multigrid.
  r = run_nunatak(dir, "ismip-hom A --length 10 --grid 16x16x5 -- -bp_pc_type jacobi "
                       "-bp_ksp_max_it 1 -bp_snes_max_it 1 -bp_grid_sequence 0");
  EXPECT_NE(r.status, 0) << "one Jacobi iteration per Newton step cannot converge";
}

// A solver option that PETSc refuses, or a tolerance out of range, is one
// error that names the option and its value (given after "--", in
// PETSC_OPTIONS or in petsc.options: one options database); nothing is solved.
TEST(Cli, BadSolverOptionsAreNamed) {
  TempDir dir;
  const std::string run = "ismip-hom A --length 10 --grid 16x16x5 -- ";
  for (const std::string option :
       {"-bp_pc_type nonexistent", "-bp_ksp_type bogus", "-bp_snes_linesearch_type xx",
        "-bp_ksp_max_it abc", "-bp_snes_max_it -1", "-bp_snes_rtol -3", "-bp_ksp_rtol 2",
        "-bp_ksp_max_it -5", "-bp_grid_sequence -2", "-bp_grid_sequence_rtol 0"}) {
    const Result r = run_nunatak(dir, run + "-bp_snes_monitor " + option);
    EXPECT_NE(r.status, 0) << option;
    EXPECT_NE(r.err.find("the solver option " + option + " is wrong"), std::string::npos)
        << option << ": " << r.err;
    EXPECT_EQ(r.out.find("SNES Function norm"), std::string::npos) << option << ": solved";
  }
}

TEST(Cli, BootstrapWritesCompleteOutputAndPictures) {
  TempDir dir;
  write_geometry(dir.file("input_geometry.nc"), good_thickness);
  test::write_text(dir.file("input.yaml"),
                   "input.geometry.file: input_geometry.nc\noutput:\n  file: out/run.nc\n"
                   "  quicklook: [thk, usurf]\n");
  const Result r = run_nunatak(dir, "bootstrap input.yaml --set experiment.name=cli-test");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(fs::exists(dir.file("out/run_thk.png")));
  EXPECT_TRUE(fs::exists(dir.file("out/run_usurf.png")));
  io::NcFile f = io::NcFile::open(dir.file("out/run.nc"));
  EXPECT_NE(f.text_attribute(NC_GLOBAL, "history")
                .value_or("")
                .find("bootstrap input.yaml --set experiment.name=cli-test"),
            std::string::npos);
  EXPECT_EQ(f.text_attribute(f.variable("nunatak_config"), "experiment.name").value_or(""),
            "cli-test");
  const auto s = f.read_all(f.variable("usurf"));
  EXPECT_DOUBLE_EQ(s[8 * 2 + 3], 100.0 * 3 + 100.0 * (3 + 2)); // topg + thk at i = 3, j = 2

  const Result plot = run_nunatak(dir, "plot out/run.nc thk -o thk.png --scale linear");
  EXPECT_EQ(plot.status, 0) << plot.err;
  EXPECT_TRUE(fs::exists(dir.file("thk.png")));
  const Result info = run_nunatak(dir, "info out/run.nc");
  EXPECT_EQ(info.status, 0) << info.err;
  EXPECT_NE(info.out.find("8 x 6 cells"), std::string::npos) << info.out;
}

TEST(Cli, BadInputFailsCleanly) {
  TempDir dir;
  write_geometry(dir.file("input_geometry.nc"), good_thickness);
  write_geometry(dir.file("input_nan.nc"),
                 [](int i, int j) { return i == 2 && j == 1 ? NAN : 10.0; });
  write_geometry(dir.file("input_negative.nc"), [](int i, int) { return i == 4 ? -1.0 : 10.0; });
  test::TestFile other = test::grid_file(8, 6, 2000.0, 2000.0);
  test::add_field(other, "smb", "kg m-2 s-1", good_thickness);
  test::write_test_file(dir.file("input_coarse.nc"), other);
  test::TestFile monthly = test::grid_file(8, 6, 1000.0, 1000.0);
  monthly.dims.insert(monthly.dims.begin(), {"month", 12});
  monthly.vars.push_back(
      {"thk", {"month", "y", "x"}, std::vector<double>(12 * 48, 1.0), {{"units", "m"}}, {}});
  test::write_test_file(dir.file("input_monthly.nc"), monthly);

  auto config = [&](const std::string& name, const std::string& text) {
    test::write_text(dir.file(name), text + "\noutput.file: out/run.nc\n");
    return name;
  };
  const std::string ok = "input.geometry.file: input_geometry.nc";

  expect_clean_failure(dir, "info input_none.nc", "input file 'input_none.nc' does not exist");
  expect_clean_failure(dir, "bootstrap input_none.yaml",
                       "cannot open configuration file 'input_none.yaml'");
  expect_clean_failure(dir, "bootstrap " + config("input_malformed.yaml", "input: [geometry"),
                       "malformed YAML");
  expect_clean_failure(
      dir, "bootstrap " + config("input_unknown.yaml", ok + "\noutput.compresion_level: 3"),
      "did you mean 'output.compression_level'?");
  expect_clean_failure(
      dir, "bootstrap " + config("input_type.yaml", ok + "\nconstants.ice.density: dense"),
      "key 'constants.ice.density' expects a number");
  expect_clean_failure(
      dir, "bootstrap " + config("input_nanthk.yaml", "input.geometry.file: input_nan.nc"),
      "cells without data");
  expect_clean_failure(
      dir, "bootstrap " + config("input_negthk.yaml", "input.geometry.file: input_negative.nc"),
      "ice thickness must be >= 0");
  expect_clean_failure(
      dir, "bootstrap " + config("input_missingvar.yaml", ok + "\ninput.names.topg: bedrock_z"),
      "variable 'bedrock_z' (configured for topg) not found in 'input_geometry.nc'");
  expect_clean_failure(
      dir, "bootstrap " + config("input_grids.yaml", ok + "\ninput.forcing.file: input_coarse.nc"),
      "grids do not match");
  expect_clean_failure(
      dir, "bootstrap " + config("input_dims.yaml", "input.geometry.file: input_monthly.nc"),
      "has dimension 'month' of length 12");
  expect_clean_failure(
      dir, "bootstrap " + config("input_quicklook.yaml", ok + "\noutput.quicklook: [velsurf]"),
      "output.quicklook");
  expect_clean_failure(
      dir, "bootstrap " + config("input_ok.yaml", ok) + " --set output.compression_level=42",
      "above its maximum 9");
  expect_clean_failure(dir, "plot input_geometry.nc nothing -o x.png",
                       "variable 'nothing' not found");
}
