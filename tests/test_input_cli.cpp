// The read side from the command line: `nunatak info` shows unpacked values
// and describes files without a grid; bad inputs and configurations give one
// clear error; a full disk (a file size limit) while writing ends with exit
// status 1, one error and no output, not a crash in HDF5's exit-time clean-up;
// bootstrap of a Yelmo-like file with a subglacial lake keeps its surface.
#include "cli_support.hpp"
#include "nunatak/io/netcdf_file.hpp"

#include <gtest/gtest.h>
#include <netcdf.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>

using namespace nunatak;
using namespace nunatak::test;

namespace {

std::vector<double> read_variable(const std::string& path, const std::string& var) {
  const io::NcFile f = io::NcFile::open(path);
  return f.read_all(f.variable(var));
}

size_t error_lines(const std::string& err) {
  size_t n = 0;
  std::istringstream lines(err);
  for (std::string line; std::getline(lines, line);) n += line.find("error") != std::string::npos;
  return n;
}

} // namespace

TEST(InputCli, InfoShowsUnpackedValues) {
  TempDir dir;
  TestFile f = grid_file(4, 3, 1000.0, 1000.0);
  TestVar thk{"thk", {"y", "x"}, std::vector<double>(12, 3000.0), {{"units", "m"}}, {}, NC_SHORT};
  thk.values[0] = -32768;
  thk.typed["scale_factor"] = {NC_FLOAT, {0.1}};
  thk.typed["_FillValue"] = {NC_SHORT, {-32768}};
  f.vars.push_back(thk);
  write_test_file(dir.file("input_packed.nc"), f);
  const Result r = run_nunatak(dir, "info input_packed.nc");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("[300, 300], 1 cells without data (int16, packed: scale_factor 0.1"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("[3000, 3000]"), std::string::npos) << r.out;
  // 11 cells of 300 m on 1 km2 each: 3.3e9 m3.
  EXPECT_NE(r.out.find("ice (thk): 11 cells"), std::string::npos) << r.out;
}

TEST(InputCli, InfoDescribesAFileWithoutGrid) {
  TempDir dir;
  TestFile f;
  f.dims = {{"time", 3}};
  f.vars = {{"time", {"time"}, {0, 1, 2}, {{"units", "years since 2000-01-01"}}, {}},
            {"ice_volume", {"time"}, {1e15, 2e15, 3e15}, {{"units", "m3"}}, {}}};
  write_test_file(dir.file("input_ts.nc"), f);
  const Result r = run_nunatak(dir, "info input_ts.nc");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("grid:   none"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ice_volume"), std::string::npos) << r.out;
}

TEST(InputCli, BadFilesAndConfigurationsFailCleanly) {
  TempDir dir;
  write_text(dir.file("input_empty.nc"), "");
  expect_clean_failure(dir, "info input_empty.nc",
                       "input file 'input_empty.nc' is empty (0 bytes), not a NetCDF file");
  const std::string long_name = "input_" + std::string(300, 'n') + ".nc";
  expect_clean_failure(dir, "info " + long_name, "File name too long");
  std::filesystem::create_directory(dir.file("input_folder.yaml"));
  expect_clean_failure(dir, "bootstrap input_folder.yaml",
                       "configuration file 'input_folder.yaml': it is a folder, not a file");
  write_text(dir.file("input.yaml"), "input.geometry.file: input_empty.nc\n"
                                     "output: {file: out.nc, quicklook: []}\n");
  expect_clean_failure(dir, "bootstrap input.yaml", "input_empty.nc' is empty (0 bytes)");
}

// A file size limit (ulimit -f, SIGXFSZ ignored) stands in for a full disk:
// HDF5 fails to write, nunatak reports it once and exits with status 1. The
// file HDF5 could not close used to crash HDF5's exit-time clean-up (exit
// status 139, a segmentation fault after the error message).
TEST(InputCli, FullDiskIsOneErrorAndNoOutput) {
  TempDir dir;
  const int n = 120;
  TestFile f = grid_file(n, n, 1000.0, 1000.0);
  std::mt19937 random(42);
  std::uniform_real_distribution<double> noise(0.0, 1000.0); // incompressible
  std::vector<double> thk(n * n), topg(n * n);
  for (auto& v : thk) v = noise(random);
  for (auto& v : topg) v = noise(random);
  add_field(f, "thk", "m", thk);
  add_field(f, "topg", "m", topg);
  write_test_file(dir.file("input_g.nc"), f);
  write_text(dir.file("input.yaml"), "input.geometry.file: input_g.nc\n"
                                     "output: {file: out.nc, quicklook: []}\n");
  // The output (thk, topg, usurf: 3 x 115 KB) does not fit in 250 KB. PMIx
  // keeps its shared memory in files too: gds=hash keeps MPI's start-up
  // within the limit.
  // The other writers too: an output that fails while its definitions are
  // written (in OutputFile's constructor) leaves no temporary; a PNG.
  for (const std::string args :
       {"250 bootstrap input.yaml", "4 verify --test B --grid 31 --years 1 -o out_v.nc",
        "4 plot input_g.nc thk -o out.png"}) {
    const std::string limit = args.substr(0, args.find(' ')), command = args.substr(limit.size());
    const std::string cmd = "cd '" + dir.path() +
                            "' && PMIX_MCA_gds=hash bash -c \"trap '' XFSZ; ulimit -f " + limit +
                            "; exec " + NUNATAK_BINARY + command + "\" >'" +
                            dir.file("stdout.txt") + "' 2>'" + dir.file("stderr.txt") + "'";
    const int raw = std::system(cmd.c_str());
    const std::string err = slurp(dir.file("stderr.txt"));
    std::filesystem::remove(dir.file("stdout.txt"));
    std::filesystem::remove(dir.file("stderr.txt"));
    ASSERT_TRUE(WIFEXITED(raw)) << command << ": " << err;
    EXPECT_EQ(WEXITSTATUS(raw), 1) << command << ": " << err; // 139: the crash at exit
    EXPECT_EQ(error_lines(err), 1u) << command << ": " << err;
    if (command.find("plot") == std::string::npos) {
      EXPECT_NE(err.find("File too large (the file size limit, ulimit -f, is reached)"),
                std::string::npos)
          << command << ": " << err;
    }
    EXPECT_TRUE(outputs_in(dir.path()).empty())
        << command << " left output behind: " << outputs_in(dir.path()).front();
  }
}

// Yelmo's Antarctica holds H_ice, z_bed, z_srf and a mask with 4 = ice on a
// lake. Bootstrap keeps the given surface (no 750 m pit), warns, and writes
// the model's bed under the lake as the ice base.
TEST(InputCli, BootstrapSubglacialLake) {
  TempDir dir;
  TestFile f = grid_file(5, 2, 32000.0, 32000.0);
  // land, grounded, lake, lake, grounded
  const double H[] = {0, 2500, 3700, 3700, 2600}, b[] = {1500, -200, -950, -950, 400},
               s[] = {1500, 2300, 3500, 3500, 3000}, m[] = {1, 2, 4, 4, 2};
  std::vector<double> vH, vb, vs, vm;
  for (int j = 0; j < 2; ++j)
    for (int i = 0; i < 5; ++i) {
      vH.push_back(H[i]);
      vb.push_back(b[i]);
      vs.push_back(s[i]);
      vm.push_back(m[i]);
    }
  add_field(f, "H_ice", "m", vH);
  add_field(f, "z_bed", "m", vb);
  add_field(f, "z_srf", "m", vs);
  add_field(f, "mask", "", vm);
  write_test_file(dir.file("input_lake.nc"), f);
  write_text(dir.file("input.yaml"), "input.geometry.file: input_lake.nc\n"
                                     "output: {file: out.nc, quicklook: []}\n");
  const Result r = run_nunatak(dir, "bootstrap input.yaml");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("warning: 4 cells of thickness 'H_ice'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("a subglacial lake"), std::string::npos) << r.err;
  const auto usurf = read_variable(dir.file("out.nc"), "usurf");
  const auto topg = read_variable(dir.file("out.nc"), "topg");
  ASSERT_EQ(usurf.size(), 10u);
  for (int k = 0; k < 10; ++k) EXPECT_NEAR(usurf[size_t(k)], s[k % 5], 1e-3) << k;
  EXPECT_NEAR(topg[2], -200.0, 1e-3);
  EXPECT_NEAR(topg[1], -200.0, 1e-3);
}
