// Basal friction fields (sliding.law = pseudo_plastic), at 1 and 2 ranks: the
// SIA with a uniform beta^2 field equals the SIA with the equivalent uniform
// Weertman coefficient; a field varying in x gives the face-averaged sliding
// speed; beta^2 <= 0 under grounded ice is one error on every rank naming the
// cell (none under floating ice); and configured runs: a tauc field equals
// the uniform sliding.yield_stress and the equivalent Weertman law.
#include "nunatak/core/collective.hpp"
#include "nunatak/core/constants.hpp"
#include "nunatak/core/error.hpp"
#include "nunatak/model/simulation.hpp"
#include "nunatak/solver/shallow_ice.hpp"
#include "test_files.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

using namespace nunatak;
using core::Field2D;
using core::LocalBox;
using test::TempDir;
using test::TestFile;

namespace {

/// Every cell of the rank's ghosted box (inside the domain or not) set to f(i, j).
template <class F>
void fill(Field2D& field, F&& f) {
  const LocalBox b = field.grid().box();
  auto v = Kokkos::create_mirror_view(field.view());
  for (int j = b.gys; j < b.gys + b.gym; ++j)
    for (int i = b.gxs; i < b.gxs + b.gxm; ++i) v(b.lj(j), b.li(i)) = f(i, j);
  Kokkos::deep_copy(field.view(), v);
}

core::FieldInfo info(const std::string& name) {
  return core::FieldInfo{name, "", "", "", "", {}, ""};
}

auto host(const core::View2D& v) {
  return Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v);
}

bool near_rel(double a, double b, double tol) {
  return std::abs(a - b) <= tol * std::abs(b);
}

/// A slab 1000 m thick on a bed sloping 1 % in x, grounded (bed far above sea level).
struct Slab {
  static constexpr int nx = 10, ny = 6;
  static constexpr double dx = 2000.0, H = 1000.0, slope = 0.01;
  std::shared_ptr<const core::ParallelGrid> grid =
      core::ParallelGrid::create(MPI_COMM_WORLD, core::Grid(nx, ny, dx, dx, 0.0, 0.0));
  Field2D thk{grid, info("thk")}, topg{grid, info("topg")}, usurf{grid, info("usurf")};
  Slab() {
    fill(thk, [](int, int) { return H; });
    fill(topg, [](int i, int) { return 3000.0 - slope * dx * i; });
    fill(usurf, [](int i, int) { return 3000.0 - slope * dx * i + H; });
  }
  solver::StressBalanceInputs inputs(const Field2D* beta2) const {
    solver::StressBalanceInputs in{thk, topg, usurf, core::Floatation{}};
    in.basal_friction = beta2;
    return in;
  }
};

} // namespace

TEST(Sliding, UniformFrictionFieldIsWeertman) {
  Slab slab;
  const double m = 2.0, beta2 = 3.0e4; // q = 1/2: tau_b = beta^2 |u|^(1/2)
  solver::StressBalanceParams params;
  params.sliding.exponent = m;
  Field2D friction(slab.grid, info("beta2"));
  fill(friction, [&](int, int) { return beta2; });
  solver::ShallowIce with_field(slab.grid, params);
  with_field.update(slab.inputs(&friction));
  params.sliding.coefficient = std::pow(beta2, -m) / core::seconds_per_year; // m s^-1 Pa^-2
  solver::ShallowIce uniform(slab.grid, params);
  uniform.update(slab.inputs(nullptr));
  const auto a = host(with_field.fluxes().qx), b = host(uniform.fluxes().qx);
  const LocalBox box = slab.grid->box();
  for (int j = box.ys; j < box.ys + box.ym; ++j)
    for (int i = box.xs; i < box.xs + box.xm; ++i)
      EXPECT_TRUE(near_rel(a(box.lj(j), box.li(i)), b(box.lj(j), box.li(i)), 1e-14)) << i << j;
  // The sliding is real: tau_b = rho g H 0.01 = 89.3 kPa, u_b = (tau_b / beta^2)^2 = 8.86 m/a.
  const solver::Velocities v = with_field.velocities({});
  const auto ub = host(v.uvelbase.view());
  const double tau = 910.0 * 9.81 * Slab::H * Slab::slope;
  const int i = std::max(box.xs, 1), j = box.ys; // an interior column of this rank
  if (i < Slab::nx - 1 && i < box.xs + box.xm) {
    EXPECT_TRUE(near_rel(ub(box.lj(j), box.li(i)) * core::seconds_per_year,
                         std::pow(tau / beta2, 2.0), 1e-12))
        << ub(box.lj(j), box.li(i)) * core::seconds_per_year;
  }
}

// beta^2 = B (1 + 0.1 i): cell C_i = (beta^2)^-m, face C the mean of its
// cells', so the basal speed of cell i is (C_{i-1/2} + C_{i+1/2}) / 2 (tau_b)^m.
TEST(Sliding, VaryingFrictionFieldIsFaceAveraged) {
  Slab slab;
  const double m = 3.0, B = 2.0e4;
  solver::StressBalanceParams params;
  params.sliding.exponent = m;
  auto beta2 = [&](int i) { return B * (1.0 + 0.1 * i); };
  Field2D friction(slab.grid, info("beta2"));
  fill(friction, [&](int i, int) { return beta2(i); });
  solver::ShallowIce sia(slab.grid, params);
  sia.update(slab.inputs(&friction));
  const auto ub = host(sia.velocities({}).uvelbase.view());
  const double tau = 910.0 * 9.81 * Slab::H * Slab::slope;
  auto C = [&](int i) { return std::pow(beta2(i), -m); }; // m/a Pa^-3
  const LocalBox box = slab.grid->box();
  int checked = 0;
  for (int j = box.ys; j < box.ys + box.ym; ++j)
    for (int i = std::max(box.xs, 1); i < std::min(box.xs + box.xm, Slab::nx - 1); ++i, ++checked) {
      const double face_w = 0.5 * (C(i - 1) + C(i)), face_e = 0.5 * (C(i) + C(i + 1));
      const double expected = 0.5 * (face_w + face_e) * std::pow(tau, m); // m/a
      EXPECT_TRUE(near_rel(ub(box.lj(j), box.li(i)) * core::seconds_per_year, expected, 1e-12))
          << "cell " << i << ", " << j << ": " << ub(box.lj(j), box.li(i)) * core::seconds_per_year
          << " vs " << expected;
    }
  EXPECT_GT(checked, 0);
}

TEST(Sliding, NonPositiveFrictionUnderGroundedIceIsOneError) {
  Slab slab;
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  // The bad cell: the first one owned by the last rank.
  int cell[2] = {slab.grid->box().xs, slab.grid->box().ys};
  MPI_Bcast(cell, 2, MPI_INT, size - 1, MPI_COMM_WORLD);
  Field2D friction(slab.grid, info("beta2"));
  fill(friction, [&](int i, int j) { return i == cell[0] && j == cell[1] ? 0.0 : 1e4; });
  solver::StressBalanceParams params;
  solver::ShallowIce sia(slab.grid, params);
  try {
    sia.update(slab.inputs(&friction));
    FAIL() << "expected an error";
  } catch (const CollectiveError& e) {
    const std::string where =
        "(i = " + std::to_string(cell[0]) + ", j = " + std::to_string(cell[1]);
    EXPECT_NE(
        std::string(e.what()).find("'beta2' must be positive under grounded ice, but it is 0"),
        std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find(where), std::string::npos) << e.what();
    if (size > 1) {
      EXPECT_NE(std::string(e.what()).find("(on rank " + std::to_string(size - 1)),
                std::string::npos)
          << e.what();
    }
  }
  // Under floating ice (and off the ice) beta^2 = 0 is fine: no friction there.
  Field2D bed(slab.grid, info("topg")), surface(slab.grid, info("usurf"));
  const core::Floatation floating;
  fill(bed, [&](int i, int j) { return i == cell[0] && j == cell[1] ? -2000.0 : 3000.0; });
  fill(surface, [&](int i, int j) {
    return i == cell[0] && j == cell[1] ? floating.surface(Slab::H, -2000.0) : 3000.0 + Slab::H;
  });
  solver::StressBalanceInputs in{slab.thk, bed, surface, floating};
  in.basal_friction = &friction;
  EXPECT_NO_THROW(sia.update(in));
}

namespace {

/// An ice cap of 21 x 21 cells of 20 km (with a tauc field of 20 kPa, written
/// in kPa, if `with_tauc`) run for 300 years; returns the final thickness
/// (rank 0; empty elsewhere).
std::vector<double> run_cap(bool with_tauc, const std::vector<std::string>& overrides) {
  TempDir dir;
  const int n = 21;
  TestFile f = test::grid_file(n, n, 20000.0, 20000.0, -200000.0, -200000.0);
  test::add_field(f, "thk", "m", [](int i, int j) {
    const double r = std::hypot(i - 10.0, j - 10.0) / 9.0;
    return r < 1.0 ? 2000.0 * std::sqrt(1.0 - r * r) : 0.0;
  });
  test::add_field(f, "topg", "m", [](int i, int) { return 100.0 + 5.0 * i; });
  if (with_tauc) test::add_field(f, "tauc", "kPa", [](int, int) { return 20.0; });
  test::write_test_file(dir.file("cap.nc"), f);
  io::Config c;
  c.set("input.geometry.file", "'" + dir.file("cap.nc") + "'", "test");
  c.set("output.file", "'" + dir.file("out/cap.nc") + "'", "test");
  c.set_override("output.quicklook=[]");
  c.set_override("time.end=300");
  c.set_override("sliding.exponent=3");
  for (const auto& o : overrides) c.set_override(o);
  model::Simulation simulation(c, MPI_COMM_WORLD, "test");
  model::RunSignals signals;
  simulation.run(signals);
  const auto& thk = simulation.model().state().thk;
  return thk.grid().gather_to_zero(thk);
}

} // namespace

// The same sliding three ways: the input's tauc field (20 kPa), the uniform
// sliding.yield_stress (the input has no tauc), and Weertman with the
// equivalent C = (tau_c / u0^q)^-m, q = 1/m; without sliding the cap differs.
TEST(Sliding, TaucFieldRunEqualsUniformEquivalents) {
  const auto field = run_cap(true, {"sliding.law=pseudo_plastic"});
  const auto uniform = run_cap(false, {"sliding.law=pseudo_plastic", "sliding.yield_stress=20000"});
  const double m = 3.0, u0 = 100.0;
  const double C = std::pow(20000.0 / std::pow(u0, 1.0 / m), -m); // m/a Pa^-3
  char text[64];
  std::snprintf(text, sizeof text, "%.17g", C);
  const auto weertman =
      run_cap(true, {"sliding.law=weertman", std::string("sliding.coefficient=") + text});
  const auto none = run_cap(true, {});
  ASSERT_EQ(field.size(), uniform.size());
  ASSERT_EQ(field.size(), weertman.size());
  double largest = 0.0, sliding_effect = 0.0;
  for (size_t k = 0; k < field.size(); ++k) {
    EXPECT_EQ(field[k], uniform[k]) << "cell " << k; // the same arithmetic: bit for bit
    EXPECT_NEAR(field[k], weertman[k], 1e-9 * 2000.0) << "cell " << k;
    largest = std::max(largest, field[k]);
    sliding_effect = std::max(sliding_effect, std::abs(field[k] - none[k]));
  }
  if (!field.empty()) {
    EXPECT_GT(largest, 500.0);
    EXPECT_GT(sliding_effect, 1.0) << "sliding should change the cap by metres";
  }
}

TEST(Sliding, PseudoPlasticNeedsAYieldStress) {
  try {
    run_cap(false, {"sliding.law=pseudo_plastic"});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("sliding.law = pseudo_plastic needs the till yield "
                                         "stress: a variable tauc in '"),
              std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("or a positive sliding.yield_stress"), std::string::npos);
  }
}
