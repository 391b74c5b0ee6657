// `nunatak superres` end to end on a small ice cap (SIA, 20 km cells, a bed
// with valleys): pairs at factors 2 and 4, a tiny model trained on the pair
// of the present scenario, applied to the coarse run, evaluated on another
// scenario (an SMB offset) against bicubic interpolation; a coarse run on
// another grid and a file that is not a run are clear errors.
#include "cli_support.hpp"
#include "nunatak/io/netcdf_file.hpp"
#include "test_files.hpp"

#include <gtest/gtest.h>
#include <netcdf.h>

#include <cmath>
#include <filesystem>
#include <regex>

using namespace nunatak;
using namespace nunatak::test;

namespace {

/// A 30 x 26 ice cap of 20 km cells on a bed with 60 km valleys.
void write_cap(const std::string& path) {
  const int nx = 30, ny = 26;
  const double dx = 20000.0;
  TestFile f = grid_file(nx, ny, dx, dx);
  std::vector<double> thk, topg, smb;
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) {
      const double x = (i - 14.5) * dx, y = (j - 12.5) * dx;
      const double r = std::hypot(x, y) / 220000.0;
      thk.push_back(r < 1.0 ? 2000.0 * std::sqrt(1.0 - r * r) : 0.0);
      topg.push_back(300.0 + 250.0 * std::sin(x / 30000.0) * std::cos(y / 40000.0));
      smb.push_back(300.0 - 1200.0 * r * r); // kg m-2 a-1
    }
  add_field(f, "thk", "m", thk);
  add_field(f, "topg", "m", topg);
  add_field(f, "climatic_mass_balance", "kg m-2 year-1", smb);
  write_test_file(path, f);
}

} // namespace

TEST(SuperResCli, PairsTrainApplyAndEvaluate) {
  TempDir dir;
  write_cap(dir.file("input_cap.nc"));
  write_text(dir.file("input_sr.yaml"),
             "input.geometry.file: input_cap.nc\n"
             "time: {start: 0, end: 1000}\n"
             "stress_balance.model: sia\n"
             "output: {file: out/cap.nc, interval: 50, variables: [thk, velsurf_mag]}\n"
             "superres: {factors: [2, 4], factor: 2, model: out/cap_x2.pt, width: 8, depth: 1,\n"
             "           epochs: 300, learning_rate: 0.005, validation_every: 4}\n");
  Result r = run_nunatak(dir, "superres pairs input_sr.yaml");
  ASSERT_EQ(r.status, 0) << r.err;
  for (const char* f : {"out/cap.nc", "out/cap_x2.nc", "out/cap_x4.nc"})
    EXPECT_TRUE(std::filesystem::exists(dir.file(f))) << f;
  r = run_nunatak(dir, "superres train input_sr.yaml");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_CONTAINS(r.err, "16 training and 5 validation snapshots");
  ASSERT_TRUE(std::filesystem::exists(dir.file("out/cap_x2.pt")));

  r = run_nunatak(dir, "superres apply out/cap_x2.pt out/cap_x2.nc -o out/sr.nc --fine out/cap.nc");
  ASSERT_EQ(r.status, 0) << r.err;
  {
    const io::NcFile f = io::NcFile::open(dir.file("out/sr.nc"));
    EXPECT_EQ(f.dimension_length("time"), 21u);
    for (const char* v : {"thk", "velsurf_mag", "thk_bicubic", "thk_fine", "thk_error"})
      EXPECT_TRUE(f.find_variable(v)) << v;
  }
  EXPECT_TRUE(std::filesystem::exists(dir.file("out/sr_thk_error.png")));
  EXPECT_TRUE(std::filesystem::exists(dir.file("out/sr_thk_coarse.png")));

  // Another scenario: the model beats bicubic interpolation on it.
  r = run_nunatak(dir, "superres eval out/cap_x2.pt --scenario input_sr.yaml --set "
                       "surface_mass_balance.offset=-0.3 --prefix out/eval");
  ASSERT_EQ(r.status, 0) << r.err;
  std::printf("%s\n", r.out.c_str());
  const std::regex ratio(R"(mean RMSE ratio super-resolved / bicubic over 21 snapshots: )"
                         R"(thickness ([0-9.]+), surface speed ([0-9.]+))");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, ratio)) << r.out;
  EXPECT_LT(std::stod(m[1]), 0.9);
  EXPECT_CONTAINS(r.out, "volume change from year 0 to 1000");
  EXPECT_CONTAINS(r.out, "volume trend (least-squares slope over the 21 records)");
  EXPECT_CONTAINS(r.out, "cost: fine run");

  // The factor-4 run on a factor-2 model; a file that is not a run.
  r = run_nunatak(dir, "superres apply out/cap_x2.pt out/cap_x4.nc -o out/bad.nc");
  EXPECT_NE(r.status, 0);
  EXPECT_CONTAINS(r.err, "out/cap_x4.nc' is on 8 x 7 cells");
  EXPECT_FALSE(std::filesystem::exists(dir.file("out/bad.nc")));
  r = run_nunatak(dir, "superres apply out/cap_x2.pt input_cap.nc -o out/bad.nc");
  EXPECT_NE(r.status, 0);
  EXPECT_CONTAINS(r.err, "is it the output of nunatak run?");
  r = run_nunatak(dir, "superres apply input_sr.yaml out/cap_x2.nc -o out/bad.nc");
  EXPECT_NE(r.status, 0);
  EXPECT_CONTAINS(r.err, "input_sr.yaml");
}

TEST(SuperResCli, TrainsOnSeveralScenarios) {
  // superres.scenarios: two more pairs (a melting and a growing cap) beside
  // the configured one, with the scenario's balance as an input (use_smb);
  // the model is judged on an offset between them that it never saw.
  TempDir dir;
  write_cap(dir.file("input_cap.nc"));
  const std::string config =
      "input.geometry.file: input_cap.nc\n"
      "time: {start: 0, end: 1000}\n"
      "stress_balance.model: sia\n"
      "output: {file: out/cap.nc, interval: 50, variables: [thk, velsurf_mag]}\n"
      "superres: {factors: [2], factor: 2, model: out/cap_x2.pt, width: 8, depth: 1,\n"
      "           epochs: 100, learning_rate: 0.005, validation_every: 4, use_smb: true,\n";
  write_text(dir.file("input_sr.yaml"),
             config + "           scenarios: ['surface_mass_balance.offset=-0.4', "
                      "'surface_mass_balance.offset=0.2; surface_mass_balance.factor=1.1']}\n");
  Result r = run_nunatak(dir, "superres pairs input_sr.yaml");
  ASSERT_EQ(r.status, 0) << r.err;
  for (const char* f : {"out/cap.nc", "out/cap_x2.nc", "out/cap_s1.nc", "out/cap_s1_x2.nc",
                        "out/cap_s2.nc", "out/cap_s2_x2.nc"})
    EXPECT_TRUE(std::filesystem::exists(dir.file(f))) << f;
  {
    // The second scenario's run carries both of its overrides.
    const io::NcFile f = io::NcFile::open(dir.file("out/cap_s2.nc"));
    const auto text = f.text_attribute(NC_GLOBAL, "nunatak_config_yaml");
    ASSERT_TRUE(text);
    EXPECT_CONTAINS(*text, "offset: 0.2");
    EXPECT_CONTAINS(*text, "factor: 1.1");
  }
  r = run_nunatak(dir, "superres train input_sr.yaml");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_CONTAINS(r.err, "48 training and 15 validation snapshots of 3 pair(s)");
  r = run_nunatak(dir, "superres eval out/cap_x2.pt --scenario input_sr.yaml --set "
                       "surface_mass_balance.offset=-0.15 --prefix out/eval");
  ASSERT_EQ(r.status, 0) << r.err;
  std::printf("%s\n", r.out.c_str());
  const std::regex ratio(R"(thickness ([0-9.]+), surface speed ([0-9.]+))");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, ratio)) << r.out;
  EXPECT_LT(std::stod(m[1]), 0.9);

  // An entry that is not key=value, and an unknown key, name the entry.
  write_text(dir.file("input_bad.yaml"),
             config + "           scenarios: ['surface_mass_balance.offset']}\n");
  r = run_nunatak(dir, "superres pairs input_bad.yaml");
  EXPECT_NE(r.status, 0);
  EXPECT_CONTAINS(r.err, "superres.scenarios: entry 1");
  write_text(dir.file("input_bad.yaml"),
             config + "           scenarios: ['surface_mass_balance.ofset=1']}\n");
  r = run_nunatak(dir, "superres pairs input_bad.yaml");
  EXPECT_NE(r.status, 0);
  EXPECT_CONTAINS(r.err, "superres.scenarios: entry 1");
  EXPECT_CONTAINS(r.err, "surface_mass_balance.ofset");
}
