// Checkpoint and time-series files (io/checkpoint.hpp, io/timeseries_file.hpp):
// a checkpoint in the layout nunatak has always written, made here with the
// raw NetCDF API, reads back exactly (old checkpoints still restart); written
// ones round-trip bit for bit; a failed write leaves no file; bad files give
// one clear error.
#include "nunatak/core/error.hpp"
#include "nunatak/io/checkpoint.hpp"
#include "nunatak/io/netcdf_file.hpp"
#include "nunatak/io/timeseries_file.hpp"
#include "test_files.hpp"

#include <gtest/gtest.h>
#include <netcdf.h>

#include <cmath>
#include <filesystem>

using namespace nunatak;
using test::TempDir;
using test::TestFile;
namespace fs = std::filesystem;

namespace {

/// Evaluates `text` once (it may be a collective call) and checks that it contains `part`.
const char* columns[] = {"dt",
                         "ice_volume",
                         "ice_area",
                         "smb_volume",
                         "edge_outflow_volume",
                         "clipped_volume",
                         "calved_volume",
                         "budget_residual"};

std::vector<io::TimeSeriesRecord> some_series() {
  std::vector<io::TimeSeriesRecord> series(3);
  for (size_t r = 0; r < series.size(); ++r) {
    io::TimeSeriesRecord& s = series[r];
    s.time = 1e9 * (r + 1) + 0.1;
    s.dt = 1.0 / 3.0 + r;
    s.volume = 1e15 + std::sqrt(2.0) * r;
    s.area = 1e12 - r;
    s.smb = -5.5 * r;
    s.edge_outflow = 7.25 + r;
    s.clipped = 1e-3 * r;
    s.calved = 2.0 * r;
    s.residual = -1e-6 * r;
  }
  return series;
}

double column(const io::TimeSeriesRecord& s, int k) {
  const double v[] = {s.dt,           s.volume,  s.area,   s.smb,
                      s.edge_outflow, s.clipped, s.calved, s.residual};
  return v[k];
}

} // namespace

TEST(Checkpoint, OldLayoutWrittenByHandReadsBack) {
  TempDir dir;
  const int nx = 4, ny = 3;
  TestFile f = test::grid_file(nx, ny, 1000.0, 1000.0);
  f.dims.push_back({"series", 0});
  std::vector<double> thk;
  for (int k = 0; k < nx * ny; ++k) thk.push_back(100.0 + k / 7.0);
  test::add_field(f, "thk", "m", thk);
  f.vars.push_back({"model_time", {}, {3.5e10}, {{"units", "s"}}, {{"steps", 4321.0}}});
  f.vars.push_back({"series_time", {"series"}, {10.0, 20.0}, {}, {}});
  for (int k = 0; k < 8; ++k)
    f.vars.push_back({columns[k], {"series"}, {1.0 + k, 2.0 * (1.0 + k)}, {}, {}});
  test::write_test_file(dir.file("old.nc"), f);

  const io::Checkpoint c = io::read_checkpoint(dir.file("old.nc"));
  EXPECT_EQ(c.time, 3.5e10);
  EXPECT_EQ(c.steps, 4321);
  EXPECT_EQ(c.thk, thk);
  ASSERT_EQ(c.series.size(), 2u);
  EXPECT_EQ(c.series[1].time, 20.0);
  for (int k = 0; k < 8; ++k) {
    EXPECT_EQ(column(c.series[0], k), 1.0 + k) << columns[k];
    EXPECT_EQ(column(c.series[1], k), 2.0 * (1.0 + k)) << columns[k];
  }
}

TEST(Checkpoint, RoundTripIsExactAndLayoutUnchanged) {
  TempDir dir;
  const core::Grid grid(5, 4, 2000.0, 2000.0, -3000.0, 1000.0);
  io::Checkpoint c;
  c.time = 1234567.891;
  c.steps = 77;
  for (int k = 0; k < grid.size(); ++k) c.thk.push_back(std::exp(0.1 * k) / 3.0);
  c.series = some_series();
  io::Config config;
  const std::string path = dir.file("sub/ck.nc");
  io::write_checkpoint(path, grid, c, io::Provenance{"nunatak run test.yaml", &config, ""});
  const io::Checkpoint back = io::read_checkpoint(path);
  EXPECT_EQ(back.time, c.time);
  EXPECT_EQ(back.steps, c.steps);
  EXPECT_EQ(back.thk, c.thk);
  ASSERT_EQ(back.series.size(), c.series.size());
  for (size_t r = 0; r < c.series.size(); ++r) {
    EXPECT_EQ(back.series[r].time, c.series[r].time);
    for (int k = 0; k < 8; ++k) EXPECT_EQ(column(back.series[r], k), column(c.series[r], k));
  }
  // The layout restarts rely on: names, dimensions, units.
  const io::NcFile f = io::NcFile::open(path);
  EXPECT_EQ(f.dimensions(f.variable("thk")).at(0).name, "y");
  EXPECT_EQ(f.dimensions(f.variable("thk")).at(1).name, "x");
  EXPECT_TRUE(f.dimensions(f.variable("model_time")).empty());
  EXPECT_EQ(f.number_attribute(f.variable("model_time"), "steps")->at(0), 77.0);
  EXPECT_EQ(f.text_attribute(f.variable("series_time"), "units"), std::string(io::time_units));
  EXPECT_EQ(f.read_all(f.variable("x")).at(0), -3000.0);
  EXPECT_EQ(f.text_attribute(NC_GLOBAL, "history"), std::string("nunatak run test.yaml\n"));
  EXPECT_TRUE(f.text_attribute(NC_GLOBAL, "nunatak_config_yaml"));
  // Nothing but the checkpoint in its folder (the temporary was renamed).
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.file("sub")), fs::directory_iterator()), 1);
}

TEST(Checkpoint, BadInputIsOneClearError) {
  TempDir dir;
  const core::Grid grid(3, 3, 1.0, 1.0, 0.0, 0.0);
  io::Checkpoint c;
  c.thk.assign(5, 1.0);
  try {
    io::write_checkpoint(dir.file("ck.nc"), grid, c, io::Provenance{});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_CONTAINS(e.what(), "the thickness has 5 cells, the grid 9");
  }
  EXPECT_FALSE(fs::exists(dir.file("ck.nc")));
  EXPECT_TRUE(fs::is_empty(dir.path()));

  TestFile other = test::grid_file(3, 3, 1.0, 1.0);
  test::add_field(other, "thk", "m", [](int, int) { return 1.0; });
  test::write_test_file(dir.file("not.nc"), other);
  try {
    io::read_checkpoint(dir.file("not.nc"));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_CONTAINS(e.what(), "is not a nunatak checkpoint (no thk or model_time)");
  }
}

TEST(TimeSeriesFile, RoundTripAndColumns) {
  TempDir dir;
  const auto series = some_series();
  io::Config config;
  io::write_timeseries(dir.file("run_ts.nc"), series, io::Provenance{"nunatak run x", &config, ""});
  const auto back = io::read_timeseries(dir.file("run_ts.nc"));
  ASSERT_EQ(back.size(), series.size());
  for (size_t r = 0; r < series.size(); ++r) {
    EXPECT_EQ(back[r].time, series[r].time);
    for (int k = 0; k < 8; ++k) EXPECT_EQ(column(back[r], k), column(series[r], k));
  }
  const io::NcFile f = io::NcFile::open(dir.file("run_ts.nc"));
  EXPECT_EQ(f.text_attribute(f.variable("ice_volume"), "units"), std::string("m3"));
  EXPECT_EQ(f.text_attribute(f.variable("time"), "calendar"), std::string("proleptic_gregorian"));
  EXPECT_EQ(f.text_attribute(NC_GLOBAL, "Conventions"), std::string("CF-1.8"));

  for (const char* name : columns) EXPECT_TRUE(io::is_timeseries_variable(name)) << name;
  EXPECT_FALSE(io::is_timeseries_variable("thk"));
  EXPECT_EQ(io::timeseries_variable_list(),
            "dt, ice_volume, ice_area, smb_volume, edge_outflow_volume, clipped_volume, "
            "calved_volume, budget_residual, emulator_solver_difference");
  // The emulator's solver check is an optional column: absent without a
  // check (read back as NaN), written where one step has a value.
  EXPECT_FALSE(f.find_variable("emulator_solver_difference"));
  for (const auto& r : back) EXPECT_TRUE(std::isnan(r.emulator_solver_difference));
  auto checked = series;
  checked[1].emulator_solver_difference = 0.25;
  io::write_timeseries(dir.file("checked_ts.nc"), checked,
                       io::Provenance{"nunatak run x", &config, ""});
  const auto read = io::read_timeseries(dir.file("checked_ts.nc"));
  ASSERT_EQ(read.size(), checked.size());
  EXPECT_TRUE(std::isnan(read[0].emulator_solver_difference));
  EXPECT_EQ(read[1].emulator_solver_difference, 0.25);
}
