// Ice softness fields in the SIA (StressBalanceInputs::softness), at 1 and 2
// ranks, on a slab 1000 m thick sloping 1 %, where the SIA is exact: a 2-D
// field of 2 A0 doubles the flux and the speed; A(sigma) = A0 (1 + sigma)
// gives the closed-form column integrals (flux 7/6, surface speed 6/5 of
// A0's, and the profile); a piecewise profile matches quadrature; A <= 0 is
// one error on every rank naming the cell and level; a configured run with a
// uniform softness field equals flow_law.softness.
#include "nunatak/core/constants.hpp"
#include "nunatak/core/error.hpp"
#include "nunatak/model/simulation.hpp"
#include "nunatak/solver/shallow_ice.hpp"
#include "test_files.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>

using namespace nunatak;
using core::Field2D;
using core::Field3D;
using core::LocalBox;
using test::TempDir;
using test::TestFile;

namespace {

const double A0 = 1e-16 / core::seconds_per_year; // Pa^-3 s^-1

core::FieldInfo info(const std::string& name) {
  return core::FieldInfo{name, "", "", "", "", {}, ""};
}

template <class F>
void fill(Field2D& field, F&& f) {
  const LocalBox b = field.grid().box();
  auto v = Kokkos::create_mirror_view(field.view());
  for (int j = b.gys; j < b.gys + b.gym; ++j)
    for (int i = b.gxs; i < b.gxs + b.gxm; ++i) v(b.lj(j), b.li(i)) = f(i, j);
  Kokkos::deep_copy(field.view(), v);
}

/// A softness field A(i, j, sigma_k) on the whole ghosted box.
Field3D softness_field(const std::shared_ptr<const core::ParallelGrid>& grid,
                       const std::vector<double>& sigma,
                       const std::function<double(int, int, int)>& A) {
  Field3D field(grid, info("softness"), sigma);
  const LocalBox b = grid->box();
  auto v = Kokkos::create_mirror_view(field.view());
  for (int j = b.gys; j < b.gys + b.gym; ++j)
    for (int i = b.gxs; i < b.gxs + b.gxm; ++i)
      for (int k = 0; k < field.levels(); ++k) v(b.lj(j), b.li(i), k) = A(i, j, k);
  Kokkos::deep_copy(field.view(), v);
  return field;
}

auto host(const core::View2D& v) {
  return Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v);
}

bool near_rel(double a, double b, double tol) {
  return std::abs(a - b) <= tol * std::abs(b);
}

/// The slab, and the SIA on it with the uniform A0 as reference.
struct Slab {
  static constexpr int nx = 10, ny = 6;
  static constexpr double dx = 2000.0, H = 1000.0, slope = 0.01;
  std::shared_ptr<const core::ParallelGrid> grid =
      core::ParallelGrid::create(MPI_COMM_WORLD, core::Grid(nx, ny, dx, dx, 0.0, 0.0));
  Field2D thk{grid, info("thk")}, topg{grid, info("topg")}, usurf{grid, info("usurf")};
  solver::StressBalanceParams params;
  Slab() {
    fill(thk, [](int, int) { return H; });
    fill(topg, [](int i, int) { return 3000.0 - slope * dx * i; });
    fill(usurf, [](int i, int) { return 3000.0 - slope * dx * i + H; });
    params.flow.softness = A0;
  }
  /// The SIA updated with `softness` (null: the uniform A0).
  std::unique_ptr<solver::ShallowIce> solve(const Field3D* softness) const {
    auto sia = std::make_unique<solver::ShallowIce>(grid, params);
    solver::StressBalanceInputs in{thk, topg, usurf, core::Floatation{}};
    in.softness = softness;
    sia->update(in);
    return sia;
  }
};

/// For every owned cell (i, j): check(i, j, local j, local i).
template <class F>
void for_owned(const LocalBox& b, F&& check) {
  for (int j = b.ys; j < b.ys + b.ym; ++j)
    for (int i = b.xs; i < b.xs + b.xm; ++i) check(i, j, b.lj(j), b.li(i));
}

} // namespace

TEST(Softness, TwoDimensionalFieldScalesTheFlow) {
  Slab slab;
  const Field3D twice = softness_field(slab.grid, {0.0, 1.0}, [](int, int, int) { return 2 * A0; });
  const auto reference = slab.solve(nullptr), with = slab.solve(&twice);
  const auto q0 = host(reference->fluxes().qx), q = host(with->fluxes().qx);
  const auto u0 = host(reference->velocities({}).uvelsurf.view());
  const auto u = host(with->velocities({}).uvelsurf.view());
  for_owned(slab.grid->box(), [&](int i, int j, int lj, int li) {
    EXPECT_TRUE(near_rel(q(lj, li), 2.0 * q0(lj, li), 1e-13)) << i << ", " << j;
    EXPECT_TRUE(near_rel(u(lj, li), 2.0 * u0(lj, li), 1e-13)) << i << ", " << j;
  });
  EXPECT_TRUE(near_rel(with->max_diffusivity(), 2.0 * reference->max_diffusivity(), 1e-13));
}

// A = A0 (1 + sigma): with t = 1 - sigma, int_0^1 A (1-s)^4 ds = A0 int (2 - t) t^4 dt
// = A0 (2/5 - 1/6) = 7/30 A0 (flux: 7/6 of A0's 1/5), int_0^1 A (1-s)^3 ds = A0 (2/4 - 1/5)
// = 3/10 A0 (surface speed: 6/5 of A0's 1/4), and the profile
// I(sigma) / I(1), I(sigma) = 3/10 - ((1-sigma)^4/2 - (1-sigma)^5/5).
TEST(Softness, LinearProfileGivesTheColumnIntegrals) {
  Slab slab;
  const Field3D linear =
      softness_field(slab.grid, {0.0, 1.0}, [](int, int, int k) { return A0 * (1.0 + k); });
  const auto reference = slab.solve(nullptr), with = slab.solve(&linear);
  const auto q0 = host(reference->fluxes().qx), q = host(with->fluxes().qx);
  const std::vector<double> sigma = {0.0, 0.25, 0.5, 0.9, 1.0};
  const solver::Velocities v0 = reference->velocities({}), v = with->velocities(sigma);
  const auto us0 = host(v0.uvelsurf.view()), us = host(v.uvelsurf.view());
  auto u3 = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v.uvel->view());
  auto I = [](double s) {
    const double t = 1.0 - s;
    return 0.3 - (std::pow(t, 4) / 2.0 - std::pow(t, 5) / 5.0);
  };
  for_owned(slab.grid->box(), [&](int i, int j, int lj, int li) {
    EXPECT_TRUE(near_rel(q(lj, li), 7.0 / 6.0 * q0(lj, li), 1e-13)) << i << ", " << j;
    EXPECT_TRUE(near_rel(us(lj, li), 1.2 * us0(lj, li), 1e-13)) << i << ", " << j;
    for (size_t k = 0; k < sigma.size(); ++k)
      EXPECT_NEAR(u3(lj, li, k), us(lj, li) * I(sigma[k]) / I(1.0), 1e-13 * std::abs(us(lj, li)))
          << i << ", " << j << ", sigma " << sigma[k];
  });
}

// A piecewise-linear profile on three levels against composite Simpson
// quadrature of the same integrals.
TEST(Softness, PiecewiseProfileMatchesQuadrature) {
  Slab slab;
  const std::vector<double> levels = {0.0, 0.3, 1.0};
  const double values[] = {1.0, 3.0, 0.5}; // times A0
  const Field3D piecewise =
      softness_field(slab.grid, levels, [&](int, int, int k) { return A0 * values[k]; });
  auto A = [&](double s) { // A / A0
    return s < 0.3 ? values[0] + (values[1] - values[0]) * s / 0.3
                   : values[1] + (values[2] - values[1]) * (s - 0.3) / 0.7;
  };
  auto simpson = [&](double a, double b, double power) {
    const int m = 2000;
    const double h = (b - a) / m;
    double sum = 0;
    for (int r = 0; r <= m; ++r) {
      const double s = a + r * h, w = r == 0 || r == m ? 1 : (r % 2 ? 4 : 2);
      sum += w * A(s) * std::pow(1.0 - s, power);
    }
    return sum * h / 3.0;
  };
  const double Aq = 5.0 * (simpson(0.0, 0.3, 4.0) + simpson(0.3, 1.0, 4.0));
  const double As = 4.0 * (simpson(0.0, 0.3, 3.0) + simpson(0.3, 1.0, 3.0));
  const auto reference = slab.solve(nullptr), with = slab.solve(&piecewise);
  const auto q0 = host(reference->fluxes().qx), q = host(with->fluxes().qx);
  const auto us0 = host(reference->velocities({}).uvelsurf.view());
  const auto us = host(with->velocities({}).uvelsurf.view());
  for_owned(slab.grid->box(), [&](int i, int j, int lj, int li) {
    EXPECT_TRUE(near_rel(q(lj, li), Aq * q0(lj, li), 1e-10)) << i << ", " << j;
    EXPECT_TRUE(near_rel(us(lj, li), As * us0(lj, li), 1e-10)) << i << ", " << j;
  });
}

TEST(Softness, NonPositiveSoftnessIsOneError) {
  Slab slab;
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int cell[2] = {slab.grid->box().xs, slab.grid->box().ys};
  MPI_Bcast(cell, 2, MPI_INT, size - 1, MPI_COMM_WORLD);
  const Field3D bad = softness_field(slab.grid, {0.0, 0.5, 1.0}, [&](int i, int j, int k) {
    return i == cell[0] && j == cell[1] && k == 1 ? -A0 : A0;
  });
  try {
    slab.solve(&bad);
    FAIL() << "expected an error";
  } catch (const CollectiveError& e) {
    const std::string text = e.what();
    EXPECT_NE(text.find("sia: the ice softness 'softness' must be positive"), std::string::npos)
        << text;
    EXPECT_NE(text.find("(i = " + std::to_string(cell[0]) + ", j = " + std::to_string(cell[1])),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("at sigma = 0.5"), std::string::npos) << text;
  }
}

namespace {

/// A small ice cap run for 200 years (with a 2-D softness field of
/// `softness` Pa-3 a-1 if positive); the final thickness (rank 0).
std::vector<double> run_cap(double softness, const std::vector<std::string>& overrides) {
  TempDir dir;
  TestFile f = test::grid_file(15, 15, 20000.0, 20000.0);
  test::add_field(f, "thk", "m", [](int i, int j) {
    const double r = std::hypot(i - 7.0, j - 7.0) / 6.0;
    return r < 1.0 ? 1500.0 * std::sqrt(1.0 - r * r) : 0.0;
  });
  test::add_field(f, "topg", "m", [](int, int) { return 200.0; });
  if (softness > 0)
    test::add_field(f, "softness", "Pa-3 a-1", std::vector<double>(15 * 15, softness));
  test::write_test_file(dir.file("cap.nc"), f);
  io::Config c;
  c.set("input.geometry.file", "'" + dir.file("cap.nc") + "'", "test");
  c.set("output.file", "'" + dir.file("out/cap.nc") + "'", "test");
  c.set_override("output.quicklook=[]");
  c.set_override("time.end=200");
  for (const auto& o : overrides) c.set_override(o);
  model::Simulation simulation(c, MPI_COMM_WORLD, "test");
  model::RunSignals signals;
  simulation.run(signals);
  const auto& thk = simulation.model().state().thk;
  return thk.grid().gather_to_zero(thk);
}

} // namespace

// The field replaces flow_law.softness: a uniform 3e-16 field equals
// flow_law.softness = 3e-16 (to round-off in the column integrals), and
// differs from the default 1e-16.
TEST(Softness, UniformFieldRunEqualsConfiguredSoftness) {
  const auto field = run_cap(3e-16, {});
  const auto configured = run_cap(0.0, {"flow_law.softness=3e-16"});
  const auto softer = run_cap(0.0, {});
  ASSERT_EQ(field.size(), configured.size());
  double difference = 0.0;
  for (size_t k = 0; k < field.size(); ++k) {
    EXPECT_NEAR(field[k], configured[k], 1e-9 * 1500.0) << "cell " << k;
    difference = std::max(difference, std::abs(field[k] - softer[k]));
  }
  if (!field.empty()) {
    EXPECT_GT(difference, 1.0);
  }
}
