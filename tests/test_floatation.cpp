// One floatation rule (core/floatation.hpp) for the input reader, the
// transient model, the stress balance and mass transport, at 1 and 2 ranks:
// the rule's own numbers; io's derived surface and mask equal the model's on a
// geometry with floating, grounded and thin ice (thinner than
// geometry.minimum_thickness); and the minimum thickness acts in a solve.
#include "nunatak/core/constants.hpp"
#include "nunatak/core/floatation.hpp"
#include "nunatak/io/quantities.hpp"
#include "nunatak/model/model_inputs.hpp"
#include "nunatak/model/simulation.hpp"
#include "test_files.hpp"

#include <gtest/gtest.h>

#include <cmath>

using namespace nunatak;
using test::TempDir;
using test::TestFile;

TEST(Floatation, RuleNumbers) {
  core::Floatation f; // rho_i 910, rho_w 1028, z_sl 0, H_min 0
  // 300 m of ice on a bed at -500 m: 910 * 300 < 1028 * 500, floats.
  EXPECT_TRUE(f.floats(300.0, -500.0));
  EXPECT_DOUBLE_EQ(f.surface(300.0, -500.0), 300.0 * (1.0 - 910.0 / 1028.0));
  EXPECT_DOUBLE_EQ(f.ice_base(300.0, -500.0), -300.0 * 910.0 / 1028.0);
  EXPECT_EQ(f.cell_type(300.0, -500.0), core::floating_ice);
  // 600 m on the same bed: 910 * 600 > 1028 * 500, grounded.
  EXPECT_FALSE(f.floats(600.0, -500.0));
  EXPECT_DOUBLE_EQ(f.surface(600.0, -500.0), 100.0);
  EXPECT_EQ(f.cell_type(600.0, -500.0), core::grounded_ice);
  // The surface gives the thickness back, floating or grounded.
  for (double H : {0.0, 10.0, 300.0, 600.0, 2000.0})
    for (double b : {-800.0, -500.0, -10.0, 0.0, 250.0})
      EXPECT_NEAR(f.thickness(f.surface(H, b), b), H, 1e-9 * (1.0 + H)) << H << " on " << b;
  // The minimum thickness: thinner columns are ice-free (ocean or bedrock).
  f.minimum_thickness = 50.0;
  EXPECT_FALSE(f.has_ice(50.0));
  EXPECT_TRUE(f.has_ice(50.5));
  EXPECT_EQ(f.cell_type(20.0, -500.0), core::ice_free_ocean);
  EXPECT_EQ(f.cell_type(20.0, 100.0), core::ice_free_bedrock);
  EXPECT_EQ(f.cell_type(60.0, 100.0), core::grounded_ice);
}

namespace {

// Columns across the grid (i): floating, grounded on a deep bed, grounded on
// land, thin on land, thin in the sea, no ice on land, no ice in the sea.
const double column_thk[] = {300.0, 900.0, 500.0, 20.0, 20.0, 0.0, 0.0};
const double column_bed[] = {-500.0, -600.0, 100.0, 100.0, -500.0, 300.0, -200.0};
const int expected_type[] = {core::floating_ice,     core::grounded_ice,   core::grounded_ice,
                             core::ice_free_bedrock, core::ice_free_ocean, core::ice_free_bedrock,
                             core::ice_free_ocean};
const int nx = 7, ny = 4;

io::Config write_case(const TempDir& dir, double minimum_thickness) {
  TestFile f = test::grid_file(nx, ny, 1000.0, 1000.0);
  test::add_field(f, "thk", "m", [](int i, int) { return column_thk[i]; });
  test::add_field(f, "topg", "m", [](int i, int j) { return column_bed[i] + 0.01 * j; });
  test::write_test_file(dir.file("g.nc"), f);
  io::Config c;
  c.set("input.geometry.file", "'" + dir.file("g.nc") + "'", "test");
  c.set("output.file", "'" + dir.file("out.nc") + "'", "test");
  c.set_override("geometry.minimum_thickness=" + std::to_string(minimum_thickness));
  c.set_override("time.end=1");
  // Keep the floating column: the default calving rule would remove it from
  // the initial state (tested below).
  c.set_override("calving.remove_floating_ice=false");
  return c;
}

} // namespace

// If the reader and the model disagreed again (as when io used H > H_min and
// the model H > 0), the masks would differ in columns 3 and 4.
TEST(Floatation, ReaderAndModelAgree) {
  TempDir dir;
  const io::Config config = write_case(dir, 50.0);
  const model::ModelInputs in = model::read_model_inputs(config, MPI_COMM_WORLD);
  const model::Simulation simulation(config, MPI_COMM_WORLD, "test");
  const auto& state = simulation.model().state();
  const auto io_mask = in.grid->gather_to_zero(*in.geometry.mask);
  const auto io_usurf = in.grid->gather_to_zero(*in.geometry.usurf);
  const auto model_mask = state.mask.grid().gather_to_zero(state.mask);
  const auto model_usurf = state.usurf.grid().gather_to_zero(state.usurf);
  // Area: the three columns that hold ice (H > 50 m), 4 cells each, 1 km2.
  EXPECT_DOUBLE_EQ(simulation.model().area(), 3.0 * ny * 1e6);
  if (io_mask.empty()) return; // not rank 0
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) {
      const size_t k = size_t(j) * nx + i;
      EXPECT_EQ(int(io_mask[k]), expected_type[i]) << "io, column " << i;
      EXPECT_EQ(int(model_mask[k]), expected_type[i]) << "model, column " << i;
      EXPECT_EQ(io_usurf[k], model_usurf[k]) << "column " << i;
    }
  EXPECT_DOUBLE_EQ(io_usurf[0], 300.0 * (1.0 - 910.0 / 1028.0));
  EXPECT_DOUBLE_EQ(io_usurf[2], 600.0);
}

// The default calving rule removes the floating columns from the initial
// state (0, and 4, thinner than H_min, as a transport step would), and the
// model says how much it removed; the grounded columns stay.
TEST(Floatation, CalvingRuleActsOnTheInitialState) {
  TempDir dir;
  io::Config config = write_case(dir, 50.0);
  config.set_override("calving.remove_floating_ice=true");
  const model::Simulation simulation(config, MPI_COMM_WORLD, "test");
  const auto& calved = simulation.model().initial_calving();
  EXPECT_EQ(calved.cells, 2 * ny);
  EXPECT_DOUBLE_EQ(calved.volume, (300.0 + 20.0) * ny * 1e6);
  EXPECT_DOUBLE_EQ(simulation.model().area(), 2.0 * ny * 1e6);
  ASSERT_EQ(simulation.state_warnings().size(), 1u);
  EXPECT_NE(simulation.state_warnings()[0].find("8 cells of floating ice"), std::string::npos)
      << simulation.state_warnings()[0];
  const auto& state = simulation.model().state();
  const auto mask = state.mask.grid().gather_to_zero(state.mask);
  for (size_t k = 0; k < mask.size(); ++k) EXPECT_NE(int(mask[k]), core::floating_ice) << k;
}

// geometry.minimum_thickness acts in a solve: a 40 m slab flows with the
// default (0) and does not with 50 m (its ice counts as ice-free).
TEST(Floatation, MinimumThicknessActsInSolve) {
  const int nx = 8, ny = 6;
  // The surface speed in the middle of the slab (-1 on ranks other than 0), and the largest.
  auto speeds = [&](double minimum_thickness) {
    TempDir dir;
    TestFile f = test::grid_file(nx, ny, 1000.0, 1000.0);
    test::add_field(f, "thk", "m", [](int, int) { return 40.0; });
    test::add_field(f, "topg", "m", [](int i, int) { return 1000.0 - 50.0 * i; });
    test::write_test_file(dir.file("slab.nc"), f);
    io::Config c;
    c.set("input.geometry.file", "'" + dir.file("slab.nc") + "'", "test");
    c.set("output.file", "'" + dir.file("out.nc") + "'", "test");
    c.set_override("output.quicklook=[]");
    c.set_override("geometry.minimum_thickness=" + std::to_string(minimum_thickness));
    model::Simulation simulation(c, MPI_COMM_WORLD, "test");
    simulation.diagnose();
    const solver::Velocities v = simulation.model().stress_balance().velocities({});
    const auto all = v.velsurf_mag.grid().gather_to_zero(v.velsurf_mag);
    const double middle = all.empty() ? -1.0 : all[size_t(3) * nx + 4] * core::seconds_per_year;
    return std::pair{middle, v.velsurf_mag.grid().max(v.velsurf_mag)};
  };
  // SIA on a 40 m slab sloping 5 %: u_s = 2 A (rho g 0.05)^3 40^4 / 4 away
  // from the edges of the domain (outside it the ice thins to 0).
  const double A = 1e-16, rho_g = 910.0 * 9.81;
  const double inside = 2.0 * A * std::pow(rho_g * 0.05, 3) * std::pow(40.0, 4) / 4.0;
  const auto [middle, largest] = speeds(0.0);
  if (middle >= 0.0) {
    EXPECT_NEAR(middle, inside, 1e-9 * inside); // 0.0114 m/a
  }
  EXPECT_GT(largest, 0.0);
  EXPECT_EQ(speeds(50.0).second, 0.0);
}
