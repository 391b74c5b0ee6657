// The plastic thickness estimate (io/plastic_thickness.hpp): exact answers on
// a plastic profile and on a plane, distance to the outline, calibration of
// the basal shear stress against synthetic radar, the hold-out check, and one
// clear error per bad input when read_model_inputs estimates a missing
// thickness (at 1 and 2 ranks).
#include "nunatak/core/error.hpp"
#include "nunatak/io/model_inputs.hpp"
#include "nunatak/io/plastic_thickness.hpp"
#include "test_files.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

using namespace nunatak;
using test::TempDir;
using test::TestFile;

namespace {

const double rho = 910.0, g = 9.81, f = 0.8;
const double no_data = std::numeric_limits<double>::quiet_NaN();

#define EXPECT_CONTAINS(text, part)                                                                \
  EXPECT_NE(std::string(text).find(part), std::string::npos) << "message: " << (text)

/// A rectangle of ice, cells i0..i1, j0..j1 (inclusive).
std::vector<std::uint8_t> rectangle(const core::Grid& grid, int i0, int i1, int j0, int j1) {
  std::vector<std::uint8_t> ice(size_t(grid.size()), 0);
  for (int j = j0; j <= j1; ++j)
    for (int i = i0; i <= i1; ++i) ice[size_t(j) * grid.nx() + i] = 1;
  return ice;
}

io::PlasticThicknessParams params(double smoothing, double taper) {
  io::PlasticThicknessParams p;
  p.ice_density = rho;
  p.gravity = g;
  p.shape_factor = f;
  p.minimum_slope = 1e-4;
  p.smoothing_length = smoothing;
  p.taper_length = taper;
  return p;
}

} // namespace

// Nye's plastic profile on a flat bed, s = sqrt(2 tau (x_m - x) / (rho g f)),
// has |s'| = tau / (rho g f s): the estimate must return H = s (up to the
// centred difference's error).
TEST(PlasticThickness, PlasticProfileOnFlatBedIsExact) {
  const core::Grid grid(80, 6, 100.0, 100.0, 0.0, 0.0);
  const double tau = 1e5, x_margin = 8000.0; // margin at the right edge of cell 79
  std::vector<double> s(size_t(grid.size()));
  for (int j = 0; j < grid.ny(); ++j)
    for (int i = 0; i < grid.nx(); ++i)
      s[size_t(j) * grid.nx() + i] = std::sqrt(2 * tau * (x_margin - grid.x(i)) / (rho * g * f));
  const std::vector<std::uint8_t> ice(size_t(grid.size()), 1);
  const auto shape = io::plastic_thickness_shape(grid, s, ice, params(0.0, 0.0));
  const auto H = io::plastic_thickness(shape, tau);
  for (int j = 0; j < grid.ny(); ++j)
    for (int i = 1; i < grid.nx() - 10; ++i) {
      const size_t k = size_t(j) * grid.nx() + i;
      EXPECT_NEAR(H[k] / s[k], 1.0, 2e-3) << "i = " << i;
    }
}

// A plane of slope alpha inside a rectangular outline: the smoothed slope is
// alpha everywhere (ice-only averaging), the distance to the outline is the
// distance across the rectangle, and H = tau / (rho g f alpha) t(d / L).
TEST(PlasticThickness, PlaneWithTaperMatchesFormula) {
  const core::Grid grid(60, 40, 100.0, 50.0, 1000.0, 2000.0);
  const int i0 = 5, i1 = 54, j0 = 5, j1 = 34;
  const double alpha = 0.05, tau = 1.2e5, L = 500.0;
  std::vector<double> s(size_t(grid.size()));
  for (int j = 0; j < grid.ny(); ++j)
    for (int i = 0; i < grid.nx(); ++i)
      // steep "rock walls" outside the ice must not enter the slope
      s[size_t(j) * grid.nx() + i] =
          3000.0 - alpha * grid.x(i) + ((i < i0 || i > i1 || j < j0 || j > j1) ? 500.0 : 0.0);
  const auto ice = rectangle(grid, i0, i1, j0, j1);
  const auto shape = io::plastic_thickness_shape(grid, s, ice, params(300.0, L));
  const auto H = io::plastic_thickness(shape, tau);
  const double H0 = tau / (rho * g * f * alpha);
  for (int j = 0; j < grid.ny(); ++j)
    for (int i = 0; i < grid.nx(); ++i) {
      const size_t k = size_t(j) * grid.nx() + i;
      if (!ice[k]) {
        EXPECT_EQ(H[k], 0.0);
        continue;
      }
      const double to_free = std::min({(i - i0 + 1) * grid.dx(), (i1 + 1 - i) * grid.dx(),
                                       (j - j0 + 1) * grid.dy(), (j1 + 1 - j) * grid.dy()});
      const double d = to_free - 0.5 * grid.dy();
      const double x = d / L, t = x < 1 ? x * (2 - x) : 1.0;
      EXPECT_NEAR(shape.slope[k], alpha, 1e-12);
      EXPECT_NEAR(shape.edge_distance[k], d, 1e-9);
      EXPECT_NEAR(H[k], H0 * t, 1e-9 * H0) << "i = " << i << ", j = " << j;
    }
}

// Diagonal distances: a single ice-free cell in a sea of ice; the domain
// outside counts as ice-free.
TEST(PlasticThickness, DistanceToOutlineIsEuclidean) {
  const core::Grid grid(21, 21, 100.0, 100.0, 0.0, 0.0);
  std::vector<std::uint8_t> ice(size_t(grid.size()), 1);
  ice[size_t(10) * 21 + 10] = 0;
  const std::vector<double> s(size_t(grid.size()), 1000.0);
  const auto shape = io::plastic_thickness_shape(grid, s, ice, params(0.0, 0.0));
  for (int j = 0; j < 21; ++j)
    for (int i = 0; i < 21; ++i) {
      if (i == 10 && j == 10) continue;
      const double to_hole = 100.0 * std::hypot(i - 10, j - 10);
      const double to_edge = 100.0 * std::min({i + 1, 21 - i, j + 1, 21 - j});
      EXPECT_NEAR(shape.edge_distance[size_t(j) * 21 + i], std::min(to_hole, to_edge) - 50.0, 1e-9);
    }
}

// Synthetic radar from a known tau: the least-squares fit recovers it (exactly
// without noise, to 1 % with noise of zero mean), and so do both halves of the
// hold-out check.
TEST(PlasticThickness, CalibrationRecoversBasalShearStress) {
  const core::Grid grid(60, 60, 100.0, 100.0, 0.0, 0.0);
  std::vector<double> s(size_t(grid.size()));
  for (int j = 0; j < grid.ny(); ++j)
    for (int i = 0; i < grid.nx(); ++i)
      s[size_t(j) * grid.nx() + i] =
          3000.0 - 0.08 * grid.x(i) - 0.03 * grid.y(j) + 20.0 * std::sin(0.01 * grid.x(i));
  const auto ice = rectangle(grid, 3, 56, 3, 56);
  const auto shape = io::plastic_thickness_shape(grid, s, ice, params(300.0, 800.0));
  const double tau_true = 87e3;
  const auto H_true = io::plastic_thickness(shape, tau_true);
  std::vector<double> radar(H_true.size(), no_data), noisy(H_true.size(), no_data);
  int n = 0;
  for (size_t k = 0; k < H_true.size(); k += 7)
    if (ice[k]) {
      radar[k] = H_true[k];
      noisy[k] = H_true[k] + (n++ % 2 ? 10.0 : -10.0);
    }
  const std::vector<std::uint8_t> all(H_true.size(), 1);
  const auto exact = io::calibrate_basal_shear_stress(shape, radar, all);
  EXPECT_NEAR(exact.tau_b, tau_true, 1e-9 * tau_true);
  EXPECT_NEAR(exact.misfit.rms, 0.0, 1e-6);
  EXPECT_EQ(exact.misfit.cells, n);
  const auto fit = io::calibrate_basal_shear_stress(shape, noisy, all);
  EXPECT_NEAR(fit.tau_b, tau_true, 0.01 * tau_true);
  EXPECT_NEAR(fit.misfit.rms, 10.0, 0.5);
  const auto check = io::hold_out_check(grid, shape, radar, 1000.0);
  for (int h = 0; h < 2; ++h) {
    EXPECT_NEAR(check.fit[h].tau_b, tau_true, 1e-9 * tau_true);
    EXPECT_GT(check.test[h].cells, 10);
    EXPECT_EQ(check.fit[h].misfit.cells + check.test[h].cells, n);
    EXPECT_NEAR(check.test[h].rms, 0.0, 1e-6);
  }
  // Radar only off the ice: one clear error.
  std::vector<double> off_ice(H_true.size(), no_data);
  off_ice[0] = 100.0;
  try {
    io::calibrate_basal_shear_stress(shape, off_ice, all);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_CONTAINS(e.what(), "no observed thickness (thkobs) on an ice cell");
  }
}

// ---- through read_model_inputs: the configuration keys and bad input ----

namespace {

const int nx = 30, ny = 20;

double surface(int i, int j) {
  return 3000.0 - 5.0 * i - 2.0 * j;
}
double outline(int i, int j) {
  return i >= 3 && i < 27 && j >= 3 && j < 17 ? 1.0 : 0.0;
}
double radar_on_ice(int i, int j) {
  return j == 10 && i >= 5 && i < 25 ? 150.0 : std::numeric_limits<double>::quiet_NaN();
}
double radar_off_ice(int i, int j) {
  return i == 1 && j == 1 ? 150.0 : std::numeric_limits<double>::quiet_NaN();
}

TestFile glacier(bool with_mask, double (*radar)(int, int)) {
  TestFile file = test::grid_file(nx, ny, 100.0, 100.0);
  test::add_field(file, "usurf", "m", surface);
  if (with_mask) test::add_field(file, "icemask", "no unit", outline);
  if (radar) test::add_field(file, "thkobs", "m", radar);
  return file;
}

io::Config config(const std::string& path, std::vector<std::string> overrides) {
  io::Config c;
  c.set("input.geometry.file", "'" + path + "'", "test");
  c.set_override("input.missing_thickness=plastic");
  for (const auto& o : overrides) c.set_override(o);
  return c;
}

std::string read_error(const std::string& path, std::vector<std::string> overrides = {}) {
  try {
    io::read_model_inputs(config(path, std::move(overrides)), MPI_COMM_WORLD);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

} // namespace

TEST(PlasticThicknessInputs, EstimatedThicknessAndBed) {
  TempDir dir;
  test::write_test_file(dir.file("g.nc"), glacier(true, radar_on_ice));
  const io::ModelInputs in = io::read_model_inputs(config(dir.file("g.nc"), {}), MPI_COMM_WORLD);
  ASSERT_TRUE(in.geometry.thk && in.geometry.topg && in.geometry.mask && in.thickness_estimate);
  const auto& e = *in.thickness_estimate;
  EXPECT_TRUE(e.calibrated);
  EXPECT_TRUE(e.radar && e.hold_out);
  // Ice in the radar row is thick enough for a 150 m fit with a plausible tau.
  EXPECT_GT(e.tau_b, 1e4);
  EXPECT_LT(e.tau_b, 1e6);
  EXPECT_EQ(e.radar->cells, 20);
  const auto H = in.grid->gather_to_zero(*in.geometry.thk);
  const auto b = in.grid->gather_to_zero(*in.geometry.topg);
  const auto m = in.grid->gather_to_zero(*in.geometry.mask);
  if (H.empty()) return; // not rank 0
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) {
      const size_t k = size_t(j) * nx + i;
      EXPECT_EQ(H[k] > 0.0, outline(i, j) == 1.0);
      EXPECT_EQ(m[k], outline(i, j) == 1.0 ? 2.0 : 0.0);
      EXPECT_NEAR(b[k], surface(i, j) - H[k], 1e-9);
    }
}

TEST(PlasticThicknessInputs, ConfiguredStressWithoutRadar) {
  TempDir dir;
  test::write_test_file(dir.file("g.nc"), glacier(true, nullptr));
  const io::ModelInputs in = io::read_model_inputs(
      config(dir.file("g.nc"), {"thickness_estimate.calibration=none",
                                "thickness_estimate.basal_shear_stress=150000"}),
      MPI_COMM_WORLD);
  ASSERT_TRUE(in.thickness_estimate);
  EXPECT_FALSE(in.thickness_estimate->calibrated);
  EXPECT_FALSE(in.thickness_estimate->radar);
  EXPECT_EQ(in.thickness_estimate->tau_b, 1.5e5);
}

TEST(PlasticThicknessInputs, DefaultLeavesThicknessUnknown) {
  TempDir dir;
  test::write_test_file(dir.file("g.nc"), glacier(true, radar_on_ice));
  const io::ModelInputs in = io::read_model_inputs(
      config(dir.file("g.nc"), {"input.missing_thickness=none"}), MPI_COMM_WORLD);
  EXPECT_FALSE(in.geometry.thk);
  EXPECT_FALSE(in.thickness_estimate);
}

TEST(PlasticThicknessInputs, BadInputIsOneClearError) {
  TempDir dir;
  test::write_test_file(dir.file("no_mask.nc"), glacier(false, radar_on_ice));
  const std::string no_mask = read_error(dir.file("no_mask.nc"));
  EXPECT_CONTAINS(no_mask, "input.missing_thickness = plastic needs an ice mask");
  EXPECT_CONTAINS(no_mask, "input.names.mask");

  test::write_test_file(dir.file("no_radar.nc"), glacier(true, nullptr));
  const std::string no_radar = read_error(dir.file("no_radar.nc"));
  EXPECT_CONTAINS(no_radar, "thickness_estimate.calibration = radar");
  EXPECT_CONTAINS(no_radar, "thkobs");
  EXPECT_CONTAINS(no_radar, "has no radar thickness");

  test::write_test_file(dir.file("radar_off_ice.nc"), glacier(true, radar_off_ice));
  EXPECT_CONTAINS(read_error(dir.file("radar_off_ice.nc")), "has none inside the ice mask");

  TestFile no_ice = glacier(false, radar_on_ice);
  test::add_field(no_ice, "icemask", "no unit", [](int, int) { return 0.0; });
  test::write_test_file(dir.file("no_ice.nc"), no_ice);
  EXPECT_CONTAINS(read_error(dir.file("no_ice.nc")), "the ice mask has no ice cells");

  test::write_test_file(dir.file("ok.nc"), glacier(true, radar_on_ice));
  EXPECT_CONTAINS(read_error(dir.file("ok.nc"), {"thickness_estimate.shape_factor=0"}),
                  "thickness_estimate.shape_factor");
}
