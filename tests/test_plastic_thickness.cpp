// The plastic thickness estimate (inversion/plastic_thickness.hpp): exact
// answers on a plastic profile and on a plane, distance to the outline,
// calibration of the basal shear stress against synthetic radar, the hold-out
// check and the complete estimate. Links nunatak::inversion alone (no PETSc,
// no MPI): the ML side can use it. The configured estimate (keys
// thickness_estimate.*) is tested in test_model_inputs.cpp.
#include "nunatak/core/error.hpp"
#include "nunatak/inversion/plastic_thickness.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

using namespace nunatak;

namespace {

const double rho = 910.0, g = 9.81, f = 0.8;
const double no_data = std::numeric_limits<double>::quiet_NaN();

/// Evaluates `text` once (it may be a collective call) and checks that it contains `part`.
#define EXPECT_CONTAINS(text, part)                                                                \
  do {                                                                                             \
    const std::string contains_text_ = (text);                                                     \
    EXPECT_NE(contains_text_.find(part), std::string::npos) << "message: " << contains_text_;      \
  } while (false)

/// A rectangle of ice, cells i0..i1, j0..j1 (inclusive).
std::vector<std::uint8_t> rectangle(const core::Grid& grid, int i0, int i1, int j0, int j1) {
  std::vector<std::uint8_t> ice(size_t(grid.size()), 0);
  for (int j = j0; j <= j1; ++j)
    for (int i = i0; i <= i1; ++i) ice[size_t(j) * grid.nx() + i] = 1;
  return ice;
}

inversion::PlasticThicknessParams params(double smoothing, double taper) {
  inversion::PlasticThicknessParams p;
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
  const auto shape = inversion::plastic_thickness_shape(grid, s, ice, params(0.0, 0.0));
  const auto H = inversion::plastic_thickness(shape, tau);
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
  const auto shape = inversion::plastic_thickness_shape(grid, s, ice, params(300.0, L));
  const auto H = inversion::plastic_thickness(shape, tau);
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
  const auto shape = inversion::plastic_thickness_shape(grid, s, ice, params(0.0, 0.0));
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
  const auto shape = inversion::plastic_thickness_shape(grid, s, ice, params(300.0, 800.0));
  const double tau_true = 87e3;
  const auto H_true = inversion::plastic_thickness(shape, tau_true);
  std::vector<double> radar(H_true.size(), no_data), noisy(H_true.size(), no_data);
  int n = 0;
  for (size_t k = 0; k < H_true.size(); k += 7)
    if (ice[k]) {
      radar[k] = H_true[k];
      noisy[k] = H_true[k] + (n++ % 2 ? 10.0 : -10.0);
    }
  const std::vector<std::uint8_t> all(H_true.size(), 1);
  const auto exact = inversion::calibrate_basal_shear_stress(shape, radar, all);
  EXPECT_NEAR(exact.tau_b, tau_true, 1e-9 * tau_true);
  EXPECT_NEAR(exact.misfit.rms, 0.0, 1e-6);
  EXPECT_EQ(exact.misfit.cells, n);
  const auto fit = inversion::calibrate_basal_shear_stress(shape, noisy, all);
  EXPECT_NEAR(fit.tau_b, tau_true, 0.01 * tau_true);
  EXPECT_NEAR(fit.misfit.rms, 10.0, 0.5);
  const auto check = inversion::hold_out_check(grid, shape, radar, 1000.0);
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
    inversion::calibrate_basal_shear_stress(shape, off_ice, all);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_CONTAINS(e.what(), "no observed thickness (thkobs) on an ice cell");
  }
}

// The complete estimate: calibrated against radar (with its hold-out check) or
// with a given tau_b, and the misfit reported whenever radar lies on the ice.
TEST(PlasticThickness, CompleteEstimateCalibratedOrConfigured) {
  const core::Grid grid(40, 30, 100.0, 100.0, 0.0, 0.0);
  std::vector<double> s(size_t(grid.size()));
  for (int j = 0; j < grid.ny(); ++j)
    for (int i = 0; i < grid.nx(); ++i)
      s[size_t(j) * grid.nx() + i] = 3000.0 - 0.1 * grid.x(i) - 0.02 * grid.y(j);
  const auto ice = rectangle(grid, 2, 37, 2, 27);
  inversion::ThicknessEstimateOptions options;
  options.params = params(200.0, 500.0);
  options.holdout_block_size = 1000.0;
  const double tau_true = 120e3;
  const auto truth = inversion::plastic_thickness(
      inversion::plastic_thickness_shape(grid, s, ice, options.params), tau_true);
  std::vector<double> radar(truth.size(), no_data);
  for (size_t k = 0; k < truth.size(); k += 5)
    if (ice[k]) radar[k] = truth[k];
  const long long observed = inversion::observed_cells_on_ice(ice, &radar);
  EXPECT_GT(observed, 100);
  EXPECT_EQ(inversion::observed_cells_on_ice(ice, nullptr), 0);

  const auto fitted = inversion::estimate_thickness(grid, s, ice, &radar, options);
  EXPECT_TRUE(fitted.calibrated);
  EXPECT_NEAR(fitted.tau_b, tau_true, 1e-9 * tau_true);
  ASSERT_TRUE(fitted.radar && fitted.hold_out);
  EXPECT_EQ(fitted.radar->cells, observed);
  EXPECT_NEAR(fitted.radar->rms, 0.0, 1e-6);
  const auto H = fitted.thickness();
  for (size_t k = 0; k < H.size(); ++k) EXPECT_NEAR(H[k], truth[k], 1e-9 * (1.0 + truth[k]));

  options.calibrate = false;
  options.basal_shear_stress = 60e3; // half the truth: the estimate is half as thick
  const auto configured = inversion::estimate_thickness(grid, s, ice, &radar, options);
  EXPECT_FALSE(configured.calibrated);
  EXPECT_FALSE(configured.hold_out);
  EXPECT_EQ(configured.tau_b, 60e3);
  ASSERT_TRUE(configured.radar);
  EXPECT_NEAR(configured.radar->bias, -0.5 * configured.radar->mean_observed, 1e-9);
  EXPECT_FALSE(inversion::estimate_thickness(grid, s, ice, nullptr, options).radar);

  options.calibrate = true;
  try {
    inversion::estimate_thickness(grid, s, ice, nullptr, options);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_CONTAINS(e.what(), "calibration needs observed thickness on ice cells");
  }
}

// The velocity-scaled estimate on a plane slab: where a column of thickness
// H with surface slope a deforms at u = 2 A / (n+1) (rho g f H a)^n H, the
// estimate at K = 1 returns H exactly; columns that move 16 times faster at
// the same slope are twice as thick (n = 3); a calibration against radar
// thickness 1.3 times the truth fits K = 1.3, an effective softness A / 1.3^4.
TEST(PlasticThickness, VelocityScaledEstimateInvertsTheShallowIceLaw) {
  const core::Grid grid(30, 20, 100.0, 100.0, 0.0, 0.0);
  const double slope = 0.05, n = 3.0, A = 2.4e-24; // A in Pa^-3 s^-1
  std::vector<double> s(size_t(grid.size())), speed(size_t(grid.size())), truth(s.size(), 0.0);
  const auto ice = rectangle(grid, 0, 29, 0, 19); // no outline inside: no taper
  for (int j = 0; j < grid.ny(); ++j)
    for (int i = 0; i < grid.nx(); ++i) {
      const size_t k = size_t(j) * grid.nx() + i;
      s[k] = 3000.0 - slope * grid.x(i);
      const double H = j < 10 ? 200.0 : 400.0; // the north half is twice as thick
      speed[k] = 2.0 * A / (n + 1.0) * std::pow(rho * g * f * H * slope, n) * H;
      truth[k] = H;
    }
  speed[5] = no_data; // a gap: the average over ice cells with a speed fills it
  inversion::ThicknessEstimateOptions options;
  options.params = params(0.0, 0.0); // no smoothing, no taper: the law cell by cell
  options.method = "velocity";
  options.velocity.glen_exponent = n;
  options.velocity.softness = A;
  options.calibrate = false;
  const auto law = inversion::estimate_thickness(grid, s, ice, nullptr, options, &speed);
  EXPECT_EQ(law.tau_b, 1.0);
  const auto H = law.thickness();
  for (size_t k = 0; k < H.size(); ++k) {
    if (k == 5) continue;
    EXPECT_NEAR(H[k], truth[k], 1e-6 * truth[k]) << "cell " << k;
  }
  EXPECT_GT(H[5], 0.0);
  EXPECT_LT(std::abs(H[5] - 200.0), 200.0); // the mean speed's thickness, between 200 and 400 m

  std::vector<double> radar(truth.size(), no_data);
  for (size_t k = 7; k < truth.size(); k += 7) radar[k] = 1.3 * truth[k];
  options.calibrate = true;
  options.holdout_block_size = 0;
  const auto fitted = inversion::estimate_thickness(grid, s, ice, &radar, options, &speed);
  EXPECT_NEAR(fitted.tau_b, 1.3, 1e-9);
  EXPECT_NEAR(fitted.effective_softness(), A / std::pow(1.3, 4.0), 1e-9 * A);
  EXPECT_CONTAINS(fitted.describe_scale(fitted.tau_b), "K = 1.300");

  // The plastic estimate of the same slab is uniform: the slope is.
  options.method = "plastic";
  const auto plastic = inversion::estimate_thickness(grid, s, ice, &radar, options);
  EXPECT_NEAR(plastic.thickness()[0], plastic.thickness()[size_t(grid.size()) - 1], 1e-9);

  options.method = "velocity";
  try {
    inversion::estimate_thickness(grid, s, ice, &radar, options, nullptr);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_CONTAINS(e.what(), "needs the observed surface speed");
  }
  const std::vector<double> none(speed.size(), no_data);
  try {
    inversion::estimate_thickness(grid, s, ice, &radar, options, &none);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_CONTAINS(e.what(), "no ice cell has an observed surface speed");
  }
}
