// The real data sets in ../shared/data: Greenland at 16 km and Aletsch at 100 m.
// Figures checked against the sources (BedMachine v3 volume, Joughin 2018
// speeds, the Aletsch radar profiles), at 1 and 2 MPI ranks.
#include "nunatak/core/constants.hpp"
#include "nunatak/io/file_report.hpp"
#include "nunatak/io/input_file.hpp"
#include "nunatak/io/units.hpp"
#include "nunatak/model/model_inputs.hpp"
#include "test_files.hpp"

#include <gtest/gtest.h>

#include <cmath>

using namespace nunatak;

namespace {
const std::string greenland = test::shared_data_dir() + "/greenland-16km/";
const std::string aletsch = test::shared_data_dir() + "/aletsch/aletsch_100m.nc";
} // namespace

TEST(RealData, GreenlandGeometryForcingAndObservations) {
  io::Config c;
  c.set_override("input.geometry.file=" + greenland + "GRL-16KM_TOPO-M17.nc");
  c.set_override("input.forcing.file=" + greenland + "GRL-16KM_MARv3.11-ERA_annmean_1961-1990.nc");
  c.set_override("input.observations.file=" + greenland + "GRL-16KM_VEL-J18.nc");
  const model::ModelInputs in = model::read_model_inputs(c, MPI_COMM_WORLD);
  const core::Grid& g = in.grid->grid();
  EXPECT_EQ(g.nx(), 106);
  EXPECT_EQ(g.ny(), 181);
  EXPECT_DOUBLE_EQ(g.dx(), 16000.0);
  EXPECT_DOUBLE_EQ(g.x0(), -720000.0);
  EXPECT_DOUBLE_EQ(g.y0(), -3450000.0);
  ASSERT_NE(g.mapping(), nullptr);
  EXPECT_EQ(g.mapping()->mapping_name(), "polar_stereographic");

  // Ice volume: BedMachine v3 is about 2.99 million km3.
  const double volume = in.grid->sum(*in.geometry.thk) * g.cell_area();
  EXPECT_GT(volume / 1e15, 2.9);
  EXPECT_LT(volume / 1e15, 3.05);
  EXPECT_NEAR(in.grid->max(*in.geometry.thk), 3297.7, 0.1);

  // MAR SMB in mm/yr water equivalent = kg m-2 yr-1: range [-7685, 2914].
  const double spy = core::seconds_per_year;
  EXPECT_NEAR(in.grid->min(*in.forcing.climatic_mass_balance) * spy, -7685.338, 1e-2);
  EXPECT_NEAR(in.grid->max(*in.forcing.climatic_mass_balance) * spy, 2914.087, 1e-2);

  // Joughin et al. (2018): speeds up to 2677 m/yr, -9999 where not observed.
  EXPECT_NEAR(in.grid->max(*in.observations.velsurfobs_mag) * spy, 2676.66, 0.01);
  const long long observed = in.grid->count_valid(*in.observations.velsurfobs_mag);
  EXPECT_EQ(observed, 106 * 181 - 11092);

  // The derived mask has grounded ice where the thickness is positive.
  const double ice_cells = [&] {
    long long n = 0;
    const auto m = in.grid->gather_to_zero(*in.geometry.mask);
    for (double v : m) n += (v == 2.0 || v == 3.0);
    return double(n);
  }();
  if (in.grid->rank() == 0) {
    EXPECT_EQ(ice_cells, 7622.0);
  }
}

TEST(RealData, AletschReport) {
  const io::FileReport r = io::report_file(aletsch);
  EXPECT_EQ(r.grid.nx(), 199);
  EXPECT_EQ(r.grid.ny(), 264);
  EXPECT_DOUBLE_EQ(r.grid.dx(), 100.0);
  EXPECT_EQ(r.crs, "none stated");
  EXPECT_EQ(r.velocity_variables, "uvelsurfobs, vvelsurfobs");
  EXPECT_GT(r.max_speed, 240.0);
  EXPECT_LT(r.max_speed, 280.0);
  EXPECT_EQ(r.radar_variable, "thkobs");
  EXPECT_GT(r.radar_cells, 500);
  EXPECT_LT(r.radar_cells, 580);
  for (const auto& v : r.variables)
    if (v.name == "uvelsurfobs") {
      EXPECT_EQ(v.units, "m year-1");
    }
}

TEST(RealData, GreenlandReport) {
  const io::FileReport r = io::report_file(greenland + "GRL-16KM_TOPO-M17.nc");
  EXPECT_EQ(r.thickness_variable, "H_ice");
  EXPECT_GT(r.ice_volume / 1e15, 2.9);
  EXPECT_LT(r.ice_volume / 1e15, 3.05);
  EXPECT_NE(r.crs.find("polar_stereographic"), std::string::npos);
  const std::string text = io::format_report(r);
  EXPECT_NE(text.find("106 x 181 cells"), std::string::npos) << text;
  EXPECT_NE(text.find("dx = 16 km"), std::string::npos) << text;
}

TEST(RealData, AletschAsModelInputs) {
  io::Config c;
  c.set_override("input.geometry.file=" + aletsch);
  const model::ModelInputs in = model::read_model_inputs(c, MPI_COMM_WORLD);
  EXPECT_FALSE(in.geometry.thk); // unknown: the inversion's job
  ASSERT_TRUE(in.geometry.usurf && in.geometry.mask && in.observations.thkobs);
  EXPECT_EQ(in.grid->count_valid(*in.observations.thkobs), 544);
  EXPECT_NEAR(in.grid->max(*in.geometry.usurf), 4133.61, 0.01);
  const double spy = core::seconds_per_year;
  EXPECT_NEAR(in.grid->max(*in.observations.velsurfobs_mag) * spy, 274.5, 0.1);
}
