// Coarsening and interpolation between grids (core/regrid.hpp): the volume
// is conserved to round-off whatever the factor and the grid's size, means
// ignore missing data, and the interpolations are exact where they should
// be and converge at their order under refinement.
#include "nunatak/core/error.hpp"
#include "nunatak/core/regrid.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>

using namespace nunatak;
using namespace nunatak::core;

namespace {

std::vector<double> sample(const Grid& g, double (*f)(double, double)) {
  std::vector<double> v;
  for (int j = 0; j < g.ny(); ++j)
    for (int i = 0; i < g.nx(); ++i) v.push_back(f(g.x(i), g.y(j)));
  return v;
}

double sum(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s;
}

} // namespace

TEST(Regrid, CoarseGridCoversTheFineOne) {
  const Grid fine(13, 10, 100.0, 200.0, 50.0, -300.0);
  const Grid coarse = coarsened_grid(fine, 4);
  EXPECT_EQ(coarse.nx(), 4); // ceil(13 / 4)
  EXPECT_EQ(coarse.ny(), 3);
  EXPECT_DOUBLE_EQ(coarse.dx(), 400.0);
  EXPECT_DOUBLE_EQ(coarse.dy(), 800.0);
  // The first coarse cell's centre is its block's centre.
  EXPECT_DOUBLE_EQ(coarse.x0(), 0.5 * (fine.x(0) + fine.x(3)));
  EXPECT_DOUBLE_EQ(coarse.y0(), 0.5 * (fine.y(0) + fine.y(3)));
  EXPECT_THROW(coarsened_grid(fine, 0), Error);
}

TEST(Regrid, VolumeCoarseningConservesTheVolumeToRoundOff) {
  std::mt19937_64 random(7);
  std::uniform_real_distribution<double> thickness(0.0, 3000.0);
  for (int factor : {2, 3, 4, 5}) {
    const Grid fine(23, 17, 16000.0, 16000.0, 0.0, 0.0); // no factor divides both
    std::vector<double> H(size_t(fine.size()));
    for (double& h : H) h = random() % 3 == 0 ? 0.0 : thickness(random);
    const std::vector<double> Hc = coarsen(fine, H, factor, Coarsening::volume);
    const Grid coarse = coarsened_grid(fine, factor);
    const double fine_volume = sum(H) * fine.cell_area(),
                 coarse_volume = sum(Hc) * coarse.cell_area();
    EXPECT_NEAR(coarse_volume, fine_volume, 1e-13 * fine_volume) << "factor " << factor;
  }
}

TEST(Regrid, MeansIgnoreMissingDataAndMajorityVotes) {
  const Grid fine(5, 4, 1.0, 1.0, 0.0, 0.0);
  // A linear field: the mean over a full block is its value at the centre.
  const auto linear = [](double x, double y) { return 3.0 + 2.0 * x - 0.5 * y; };
  std::vector<double> f = sample(fine, linear);
  std::vector<double> c = coarsen(fine, f, 2, Coarsening::mean);
  const Grid coarse = coarsened_grid(fine, 2);
  EXPECT_DOUBLE_EQ(c[0], linear(coarse.x(0), coarse.y(0)));
  EXPECT_DOUBLE_EQ(c[1], linear(coarse.x(1), coarse.y(0)));
  // The partial block in the last column holds fine cells x = 4 only.
  EXPECT_DOUBLE_EQ(c[2], 0.5 * (linear(4, 0) + linear(4, 1)));
  // Missing cells are left out of means; a block of missing data is missing.
  f[0] = NAN;
  c = coarsen(fine, f, 2, Coarsening::mean);
  EXPECT_DOUBLE_EQ(c[0], (f[1] + f[5] + f[6]) / 3);
  for (size_t k : {0, 1, 5, 6}) f[k] = NAN;
  c = coarsen(fine, f, 2, Coarsening::mean);
  EXPECT_TRUE(std::isnan(c[0]));
  EXPECT_TRUE(std::isnan(coarsen(fine, f, 2, Coarsening::volume)[0]));
  // Majority: 3 of 4 cells are type 2; a 2-2 tie goes to the smaller value.
  const std::vector<double> mask = {2, 2, 4, 2, 0, 2, 0, 4, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  c = coarsen(fine, mask, 2, Coarsening::majority);
  EXPECT_EQ(c[0], 2.0);
  EXPECT_EQ(c[1], 2.0); // 4, 2, 4, 2: a tie
  EXPECT_THROW(coarsen(fine, std::vector<double>(3), 2, Coarsening::mean), Error);
}

TEST(Regrid, InterpolationIsExactForItsPolynomialsAndConverges) {
  const Grid coarse(12, 9, 2.0, 3.0, 1.0, -2.0);
  const Grid fine(47, 35, 0.5, 0.75, 1.0, -2.0);
  const auto linear = [](double x, double y) { return 1.0 + 0.3 * x - 0.7 * y + 0.05 * x * y; };
  const auto quadratic = [](double x, double y) { return 0.02 * x * x - 0.01 * y * y + x; };
  const std::vector<double> lin = sample(coarse, linear), quad = sample(coarse, quadratic);
  const std::vector<double> lin_bilinear = interpolate(coarse, lin, fine, Interpolation::bilinear);
  const std::vector<double> quad_bicubic = interpolate(coarse, quad, fine, Interpolation::bicubic);
  double worst_linear = 0, worst_quadratic = 0;
  for (int j = 0; j < fine.ny(); ++j)
    for (int i = 0; i < fine.nx(); ++i) {
      const size_t k = size_t(j) * size_t(fine.nx()) + size_t(i);
      // Beyond the source's outer centres the edge value is repeated; bicubic
      // also needs a neighbour on each side: between the second and the
      // last-but-one coarse centres.
      if (fine.x(i) <= coarse.x(coarse.nx() - 1) && fine.y(j) <= coarse.y(coarse.ny() - 1))
        worst_linear =
            std::max(worst_linear, std::abs(lin_bilinear[k] - linear(fine.x(i), fine.y(j))));
      if (fine.x(i) >= coarse.x(1) && fine.x(i) <= coarse.x(coarse.nx() - 2) &&
          fine.y(j) >= coarse.y(1) && fine.y(j) <= coarse.y(coarse.ny() - 2))
        worst_quadratic =
            std::max(worst_quadratic, std::abs(quad_bicubic[k] - quadratic(fine.x(i), fine.y(j))));
    }
  EXPECT_LT(worst_linear, 1e-12);
  EXPECT_LT(worst_quadratic, 1e-12);

  // A smooth field coarsened by 2 and interpolated back: the error falls by
  // about 4 per halving of the spacing (second order: the cell mean differs
  // from the centre value by O(h^2)), bicubic below bilinear.
  const auto smooth = [](double x, double y) { return std::sin(x) * std::cos(0.7 * y); };
  double previous = 0;
  for (int n : {16, 32, 64}) {
    const double h = 6.0 / n;
    const Grid g(n, n, h, h, 0.5 * h, 0.5 * h);
    const std::vector<double> f = sample(g, smooth);
    const Grid c = coarsened_grid(g, 2);
    const std::vector<double> back_cubic =
        interpolate(c, coarsen(g, f, 2, Coarsening::mean), g, Interpolation::bicubic);
    const std::vector<double> back_linear =
        interpolate(c, coarsen(g, f, 2, Coarsening::mean), g, Interpolation::bilinear);
    double e_cubic = 0, e_linear = 0;
    for (int j = 4; j < n - 4; ++j) // away from the clamped edges
      for (int i = 4; i < n - 4; ++i) {
        const size_t k = size_t(j) * size_t(n) + size_t(i);
        e_cubic = std::max(e_cubic, std::abs(back_cubic[k] - f[k]));
        e_linear = std::max(e_linear, std::abs(back_linear[k] - f[k]));
      }
    std::printf("n = %d: coarsened by 2 and back, max error bicubic %.3g, bilinear %.3g\n", n,
                e_cubic, e_linear);
    EXPECT_LT(e_cubic, e_linear) << n;
    if (previous > 0) {
      EXPECT_GT(previous / e_cubic, 3.3) << n;
      EXPECT_LT(previous / e_cubic, 4.8) << n;
    }
    previous = e_cubic;
  }
}

TEST(Regrid, MissingDataFallsBackToNeighbours) {
  const Grid coarse(4, 4, 1.0, 1.0, 0.0, 0.0);
  std::vector<double> v(16, 5.0);
  v[5] = NAN;                                  // (i, j) = (1, 1)
  const Grid target(1, 1, 1.0, 1.0, 2.5, 2.5); // stencil has no NaN for bilinear
  EXPECT_DOUBLE_EQ(interpolate(coarse, v, target, Interpolation::bicubic)[0], 5.0);
  const Grid near(1, 1, 1.0, 1.0, 1.25, 1.25); // bilinear sees the NaN: nearest
  EXPECT_TRUE(std::isnan(interpolate(coarse, v, near, Interpolation::bilinear)[0]));
  const Grid beside(1, 1, 1.0, 1.0, 1.75, 1.75);
  EXPECT_DOUBLE_EQ(interpolate(coarse, v, beside, Interpolation::bilinear)[0], 5.0);
}
