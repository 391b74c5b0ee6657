// The shallow-ice approximation (fluxes and velocities against hand-computed
// and analytic values), Bueler's tests B and C (convergence), mass conservation
// of the transient model, rank-count independence and parameter checks; run at
// 1 and 2 MPI ranks.
#include "nunatak/core/constants.hpp"
#include "nunatak/core/error.hpp"
#include "nunatak/core/field.hpp"
#include "nunatak/core/field3d.hpp"
#include "nunatak/model/transient_model.hpp"
#include "nunatak/model/verification.hpp"
#include "nunatak/solver/shallow_ice.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <limits>
#include <memory>
#include <string>
#include <vector>

using namespace nunatak;
using core::Field2D;
using core::LocalBox;

namespace {

const double year = core::seconds_per_year; // s, as everywhere in nunatak
const double not_a_number = std::numeric_limits<double>::quiet_NaN();

core::FieldInfo info(const std::string& name, const std::string& units = "m") {
  return core::FieldInfo{name, "", "", units, units, {}, ""};
}

bool owned(const LocalBox& b, int i, int j) {
  return i >= b.xs && i < b.xs + b.xm && j >= b.ys && j < b.ys + b.ym;
}

bool inside(const core::Grid& g, int i, int j) {
  return i >= 0 && i < g.nx() && j >= 0 && j < g.ny();
}

/// Sets the owned cells of `field` to f(i, j) (global indices) and every ghost
/// to NaN, so that a ghost read before it was exchanged poisons the result.
template <class F>
void fill_owned(Field2D& field, F&& f) {
  const LocalBox b = field.grid().box();
  auto v = Kokkos::create_mirror_view(field.view());
  for (int j = b.gys; j < b.gys + b.gym; ++j)
    for (int i = b.gxs; i < b.gxs + b.gxm; ++i)
      v(b.lj(j), b.li(i)) = owned(b, i, j) ? f(i, j) : not_a_number;
  Kokkos::deep_copy(field.view(), v);
}

/// Sets the ghost cells outside the domain to f(i, j), leaving the rest alone.
template <class F>
void fill_outside(Field2D& field, F&& f) {
  const LocalBox b = field.grid().box();
  const core::Grid& g = field.grid().grid();
  auto v = Kokkos::create_mirror_view(field.view());
  Kokkos::deep_copy(v, field.view());
  for (int j = b.gys; j < b.gys + b.gym; ++j)
    for (int i = b.gxs; i < b.gxs + b.gxm; ++i)
      if (!inside(g, i, j)) v(b.lj(j), b.li(i)) = f(i, j);
  Kokkos::deep_copy(field.view(), v);
}

/// Owned cells from f, ghosts exchanged between ranks, and ghosts outside the
/// domain set to f too (the analytic continuation of the field).
template <class F>
void fill_with_ghosts(Field2D& field, F&& f) {
  fill_owned(field, f);
  field.grid().update_ghosts(field);
  fill_outside(field, f);
}

auto host(const core::View2D& v) {
  return Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v);
}

/// |a - b| <= tol |b|, with a message.
::testing::AssertionResult near_rel(double a, double b, double tol) {
  if (std::abs(a - b) <= tol * std::abs(b)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << a << " vs expected " << b << " (relative error "
                                       << std::abs(a - b) / std::abs(b) << " > " << tol << ")";
}

/// Gamma = 2 E A (rho g)^n / (n + 2), written out here independently of sia_gamma.
double gamma_of(const solver::FlowLaw& f) {
  return 2.0 * f.enhancement * f.softness * std::pow(f.ice_density * f.gravity, f.n) / (f.n + 2.0);
}

} // namespace

// ---------------------------------------------------------------------------
// 1. Face fluxes of the Mahaffy scheme on a planar surface.
// Tolerance 1e-12 relative: the slopes are differences of surface values of
// ~1800 m whose differences are ~12-40 m, so round-off is ~1800/12 * 1.1e-16
// ~ 2e-14 relative in the slope, amplified by the power n = 3 to < 1e-13.
TEST(ShallowIce, SiaFluxHandComputed) {
  const int nx = 7, ny = 5;
  const double dx = 1000.0, dy = 2000.0;
  auto grid =
      core::ParallelGrid::create(MPI_COMM_WORLD, core::Grid(nx, ny, dx, dy, -3000.0, 500.0));
  const core::Grid& g = grid->grid();
  const LocalBox b = grid->box();
  solver::StressBalanceParams params;
  params.flow.softness = 1e-16 / year; // Pa^-3 s^-1
  const double n = params.flow.n;
  const double Gamma = gamma_of(params.flow);
  // Independent literal: 2 * 1e-16/31556925.9747 * (910 * 9.81)^3 / 5 (UDUNITS'
  // year), exact rational arithmetic.
  ASSERT_TRUE(near_rel(Gamma, 9.01771487146601577e-13, 1e-14));
  ASSERT_TRUE(near_rel(solver::sia_gamma(params.flow), Gamma, 1e-14));

  const double a = -0.012, bslope = 0.005, c = 1800.0; // |grad s| = 0.013
  const double slope = std::hypot(a, bslope);
  auto surface = [&](int i, int j) { return a * g.x(i) + bslope * g.y(j) + c; };

  Field2D thk(grid, info("thk")), usurf(grid, info("usurf"));
  fill_with_ghosts(usurf, surface);
  solver::ShallowIce sia(grid, params);

  // The faces around owned cells: x faces (j, i) for i = xs-1 .. xs+xm-1
  // (between i and i+1), y faces for j = ys-1 .. ys+ym-1.
  auto check_faces = [&](auto&& expected_qx, auto&& expected_qy, const char* what) {
    auto qx = host(sia.fluxes().qx), qy = host(sia.fluxes().qy);
    int checked = 0;
    for (int j = b.ys; j < b.ys + b.ym; ++j)
      for (int i = b.xs - 1; i < b.xs + b.xm; ++i, ++checked)
        EXPECT_TRUE(near_rel(qx(b.lj(j), b.li(i)), expected_qx(i, j), 1e-12))
            << what << ": x face between cells " << i << " and " << i + 1 << ", row " << j;
    for (int j = b.ys - 1; j < b.ys + b.ym; ++j)
      for (int i = b.xs; i < b.xs + b.xm; ++i, ++checked)
        EXPECT_TRUE(near_rel(qy(b.lj(j), b.li(i)), expected_qy(i, j), 1e-12))
            << what << ": y face between rows " << j << " and " << j + 1 << ", column " << i;
    EXPECT_EQ(checked, (b.xm + 1) * b.ym + b.xm * (b.ym + 1));
  };

  // (a) Uniform thickness H = 1000 m: q = -Gamma H^(n+2) |grad s|^(n-1) grad s.
  const double H = 1000.0;
  fill_with_ghosts(thk, [&](int, int) { return H; });
  sia.update({thk, usurf, usurf, {}}); // the SIA reads thk and usurf only
  const double D = Gamma * std::pow(H, n + 2.0) * std::pow(slope, n - 1.0);
  check_faces([&](int, int) { return -D * a; }, [&](int, int) { return -D * bslope; }, "uniform H");
  // Hand values (exact rational arithmetic): qx = 1.8288e-3, qy = -7.620e-4 m^2/s.
  EXPECT_TRUE(near_rel(-D * a, 1.82879257593330808e-03, 1e-12));
  EXPECT_TRUE(near_rel(-D * bslope, -7.61996906638878367e-04, 1e-12));
  EXPECT_TRUE(near_rel(sia.max_diffusivity(), 1.52399381327775668e-01, 1e-12));

  // (b) Zero thickness outside the domain (the model's edge condition): the
  // outer faces see H/2, so their flux is (1/2)^(n+2) = 1/32 of the interior
  // one; interior faces are unchanged.
  fill_owned(thk, [&](int, int) { return H; });
  model::update_ghosts_with_edge(thk, 0.0);
  sia.update({thk, usurf, usurf, {}}); // the SIA reads thk and usurf only
  const double edge = std::pow(0.5, n + 2.0);
  check_faces([&](int i, int) { return (i == -1 || i == nx - 1 ? edge : 1.0) * -D * a; },
              [&](int, int j) { return (j == -1 || j == ny - 1 ? edge : 1.0) * -D * bslope; },
              "zero thickness outside");

  // (c) Thickness linear in x, H_i = 600 + 150 i: the x face between i and
  // i+1 carries the mean 675 + 150 i; a y face sees the column's own H_i.
  auto Hlin = [](int i) { return 600.0 + 150.0 * i; };
  fill_with_ghosts(thk, [&](int i, int) { return Hlin(i); });
  sia.update({thk, usurf, usurf, {}}); // the SIA reads thk and usurf only
  auto qface = [&](double h, double ds) {
    return -Gamma * std::pow(h, n + 2.0) * std::pow(slope, n - 1.0) * ds;
  };
  check_faces([&](int i, int) { return qface(0.5 * (Hlin(i) + Hlin(i + 1)), a); },
              [&](int i, int) { return qface(Hlin(i), bslope); }, "H linear in x");
  // By hand, the face between cells 2 (900 m) and 3 (1050 m): h = 975 m,
  // qx = -Gamma 975^5 0.013^2 (-0.012) = 1.6113e-3 m^2/s (exact rational
  // arithmetic), on every row of the rank that owns cell 2.
  EXPECT_TRUE(near_rel(qface(975.0, a), 1.61134126270243562e-03, 1e-12));
  auto qx = host(sia.fluxes().qx);
  for (int j = b.ys; j < b.ys + b.ym; ++j)
    if (b.xs <= 2 && 2 < b.xs + b.xm) {
      EXPECT_TRUE(near_rel(qx(b.lj(j), b.li(2)), 1.61134126270243562e-03, 1e-12)) << j;
    }
  // The largest diffusivity, reduced over ranks, is on the thickest face:
  // between cell 6 and the ghost 7 outside the domain, h = 1575 m.
  EXPECT_TRUE(near_rel(sia.max_diffusivity(),
                       Gamma * std::pow(1575.0, n + 2.0) * std::pow(slope, n - 1.0), 1e-12));
}

// ---------------------------------------------------------------------------
// 2. A slab of uniform thickness on a uniform slope: the SIA is exact there.
// Tolerance 1e-10 relative (to the surface speed): round-off of the slope is
// ~3000/20 * 1.1e-16 ~ 2e-14, times n = 3, far below it.
TEST(ShallowIce, SlabOnSlopeVelocityProfile) {
  const int nx = 9, ny = 7;
  const double dx = 2000.0;
  auto grid = core::ParallelGrid::create(MPI_COMM_WORLD, core::Grid(nx, ny, dx, dx, 0.0, 0.0));
  const core::Grid& g = grid->grid();
  const LocalBox b = grid->box();
  const double H = 1000.0, tan_alpha = 0.01; // alpha = atan(0.01) ~ 0.573 degrees
  Field2D thk(grid, info("thk")), usurf(grid, info("usurf"));
  fill_with_ghosts(thk, [&](int, int) { return H; });
  fill_with_ghosts(usurf, [&](int i, int) { return 3000.0 - tan_alpha * g.x(i); });
  const std::vector<double> sigma{0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0};

  solver::StressBalanceParams params;
  params.flow.n = 3.0;
  params.flow.softness = 1e-16 / year;
  const double n = params.flow.n, rho_g = params.flow.ice_density * params.flow.gravity;
  const double A = params.flow.softness;
  // u(sigma) - u_b = 2 A (rho g)^n |grad s|^n H^(n+1) (1 - (1-sigma)^(n+1)) / (n+1).
  const double u_def = 2.0 * A * std::pow(rho_g * tan_alpha, n) * std::pow(H, n + 1.0) / (n + 1.0);
  // ~35.6 m/a: guards against a test that compares zeros.
  ASSERT_GT(u_def * year, 35.0);
  ASSERT_LT(u_def * year, 36.0);

  for (const double C : {0.0, 1e-4 / year}) { // m s^-1 Pa^-1; 1e-4 m/a/Pa: u_b ~ 8.9 m/a
    params.sliding.coefficient = C;
    params.sliding.exponent = 1.0;
    const double u_b = C * rho_g * H * tan_alpha;
    const double u_bar = u_b + u_def * (n + 1.0) / (n + 2.0); // vertical mean of the profile
    const double u_s = u_b + u_def;
    auto sia = solver::make_stress_balance("sia", grid, params);
    ASSERT_EQ(sia->name(), "sia");
    sia->update({thk, usurf, usurf, {}}); // the SIA reads thk and usurf only
    const solver::Velocities vel = sia->velocities(sigma);
    ASSERT_TRUE(vel.uvel.has_value());
    ASSERT_TRUE(vel.vvel.has_value());
    ASSERT_EQ(vel.uvel->levels(), int(sigma.size()));
    auto us = host(vel.uvelsurf.view()), ub = host(vel.uvelbase.view());
    auto ua = host(vel.ubar.view()), vs = host(vel.vvelsurf.view());
    auto vb = host(vel.vvelbase.view()), va = host(vel.vbar.view());
    auto speed = host(vel.velsurf_mag.view());
    auto u = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), vel.uvel->view());
    auto v = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), vel.vvel->view());
    auto qx = host(sia->fluxes().qx);
    const double tol = 1e-10 * u_s;
    for (int j = b.ys; j < b.ys + b.ym; ++j)
      for (int i = b.xs; i < b.xs + b.xm; ++i) {
        const int lj = b.lj(j), li = b.li(i);
        SCOPED_TRACE("C = " + std::to_string(C * year) + " m/a/Pa, cell " + std::to_string(i) +
                     "," + std::to_string(j));
        EXPECT_NEAR(us(lj, li), u_s, tol);
        EXPECT_NEAR(ub(lj, li), u_b, tol);
        EXPECT_NEAR(ua(lj, li), u_bar, tol);
        EXPECT_NEAR(speed(lj, li), u_s, tol);
        // The flux through the east face is H ubar.
        EXPECT_NEAR(qx(lj, li), H * u_bar, H * tol);
        // No slope in y: v is zero (the y differences are exactly zero).
        EXPECT_EQ(vs(lj, li), 0.0);
        EXPECT_EQ(vb(lj, li), 0.0);
        EXPECT_EQ(va(lj, li), 0.0);
        for (size_t k = 0; k < sigma.size(); ++k) {
          const double profile = 1.0 - std::pow(1.0 - sigma[k], n + 1.0);
          EXPECT_NEAR(u(lj, li, k), u_b + u_def * profile, tol) << "sigma = " << sigma[k];
          EXPECT_EQ(v(lj, li, k), 0.0) << "sigma = " << sigma[k];
        }
      }
    // Diffusivity: deformation Gamma H^5 |grad s|^2 plus sliding C rho g H^2.
    EXPECT_TRUE(
        near_rel(sia->max_diffusivity(),
                 gamma_of(params.flow) * std::pow(H, n + 2.0) * std::pow(tan_alpha, n - 1.0) +
                     C * rho_g * H * H,
                 1e-12));
  }
}

// ---------------------------------------------------------------------------
// 3. Bueler et al. (2005) tests B and C: the error falls with the grid spacing.
// Observed (nunatak verify --test B C --grid 31 61): B 9.47 -> 4.95 m
// (ratio 1.91), volume error 4.8e-4 at 61; C 17.0 -> 5.72 m (ratio 2.97). The
// bounds are ~25% above the observed values at 61 points, and the required
// ratio (1.5) well below the observed ones, so they survive round-off-level
// changes yet fail if the scheme loses an order or the physics changes.
namespace {
void check_convergence(char test, double max_mean_error_61, double max_volume_error_61) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  model::VerificationCase c;
  c.test = test;
  c.grid = 31;
  const model::VerificationResult coarse = model::run_verification(c, MPI_COMM_WORLD);
  c.grid = 61;
  const model::VerificationResult fine = model::run_verification(c, MPI_COMM_WORLD);
  const double ratio = coarse.mean_error_grid / fine.mean_error_grid;
  if (rank == 0)
    std::cout << "test " << test << ": mean error " << coarse.mean_error_grid << " m (31), "
              << fine.mean_error_grid << " m (61), ratio " << ratio << ", rate " << std::log2(ratio)
              << "; volume error " << coarse.volume_rel_error << ", " << fine.volume_rel_error
              << "; max error " << coarse.max_error << ", " << fine.max_error << " m; steps "
              << coarse.steps << ", " << fine.steps << "\n";
  EXPECT_EQ(fine.grid, 61);
  EXPECT_DOUBLE_EQ(fine.dx, 40.0e3);
  EXPECT_GE(ratio, 1.5);
  EXPECT_LT(fine.mean_error_grid, max_mean_error_61);
  EXPECT_GT(fine.mean_error_grid, 0.0);
  EXPECT_LT(fine.volume_rel_error, max_volume_error_61);
  EXPECT_GT(fine.steps, coarse.steps); // the explicit step shrinks with dx
}
} // namespace

TEST(Verification, HalfarConvergence) {
  check_convergence('B', 6.2, 1e-3);
}

TEST(Verification, TestCConvergence) {
  // C's volume error at 61 points is 8.6e-4; bound it at 1.1e-3 (~25% above).
  check_convergence('C', 7.2, 1.1e-3);
}

// ---------------------------------------------------------------------------
// 4 and 5: a dome on a bed that falls below sea level to the east, reaching the
// west, south and north edges, with accumulation in the middle and ablation
// outside.
namespace {

struct DomeCase {
  static constexpr int nx = 41, ny = 31;
  static constexpr double dx = 20.0e3;
  static constexpr double xc = 250.0e3, yc = 300.0e3, R = 350.0e3, H0 = 2500.0;
  model::ModelParams params;

  DomeCase() {
    params.stress.flow.softness = 1e-16 / year;
    params.diffusivity_safety = 0.5;
    params.max_dt = 10.0 * year;
  }
  static double r(const core::Grid& g, int i, int j) {
    return std::hypot(g.x(i) - xc, g.y(j) - yc);
  }
  /// Bed: 600 m at x = 0, sea level at x = 400 km, -600 m at x = 800 km.
  static double bed(const core::Grid& g, int i, int) { return 600.0 - 1.5e-3 * g.x(i); }
  static double thickness(const core::Grid& g, int i, int j) {
    const double q = r(g, i, j) / R;
    return q < 1.0 ? H0 * std::sqrt(1.0 - q * q) : 0.0;
  }
  /// 0.5 m/a of ice at the centre, -1 m/a at r = R, more ablation beyond.
  double smb(const core::Grid& g, int i, int j) const {
    const double q = r(g, i, j) / R;
    return params.transport.floatation.ice_density * (0.5 - 1.5 * q * q) / year;
  }

  std::unique_ptr<model::TransientModel> make(MPI_Comm comm) const {
    auto grid = core::ParallelGrid::create(comm, core::Grid(nx, ny, dx, dx, 0.0, 0.0));
    const core::Grid& g = grid->grid();
    model::ModelState state{Field2D(grid, info("thk")),
                            Field2D(grid, info("topg")),
                            Field2D(grid, info("usurf")),
                            Field2D(grid, info("mask", "1")),
                            Field2D(grid, info("smb")),
                            0.0,
                            0};
    fill_owned(state.thk, [&](int i, int j) { return thickness(g, i, j); });
    // The bed outside the domain continues the slope (the model keeps those
    // ghosts as the caller set them).
    fill_with_ghosts(state.topg, [&](int i, int j) { return bed(g, i, j); });
    Field2D smb_field(grid, info("smb", "kg m-2 s-1"));
    fill_owned(smb_field, [&](int i, int j) { return smb(g, i, j); });
    return std::make_unique<model::TransientModel>(
        solver::make_stress_balance("sia", grid, params.stress),
        std::make_unique<model::ConstantForcing>(std::move(smb_field)), std::move(state), params);
  }
};

} // namespace

// Tolerances: residual <= 1e-9 V (the budget terms are sums of ~1300 cell
// values, each exact to round-off, so their error is ~1e-13 of V); the change
// of model.volume() between steps is a difference of two sums of ~1300 terms
// of relative error ~1e-16 each, so it matches volume_change to ~1e-13 V; 1e-11
// V leaves a margin of 100.
TEST(TransientModel, MassConservationWithSmb) {
  DomeCase dome;
  auto model = dome.make(MPI_COMM_WORLD);
  const core::ParallelGrid& grid = model->state().thk.grid();
  const core::Grid& g = grid.grid();
  const double V0 = model->volume();
  ASSERT_GT(V0, 1e14); // ~ 2/3 pi R^2 H0, partly cut by the domain
  double V = V0;
  solver::MassBudget total;
  int smb_steps = 0, clipped_steps = 0, calved_steps = 0, edge_steps = 0;
  const double theta = dome.params.diffusivity_safety;
  for (int step = 0; step < 200; ++step) {
    const double t = model->state().time;
    const model::StepReport report = model->step(1e6 * year);
    const solver::MassBudget& m = report.budget;
    SCOPED_TRACE("step " + std::to_string(step));
    // The step obeys the explicit diffusion limit of the flow it used.
    const double D = model->stress_balance().max_diffusivity();
    ASSERT_GT(D, 0.0);
    const double dt_diffusion =
        theta / (2.0 * D * (1.0 / (g.dx() * g.dx()) + 1.0 / (g.dy() * g.dy())));
    EXPECT_DOUBLE_EQ(report.dt, std::min(dt_diffusion, dome.params.max_dt));
    EXPECT_DOUBLE_EQ(model->state().time, t + report.dt);
    // The SMB term is dt * sum(smb / rho_i) * cell area.
    const double smb_volume = report.dt * grid.sum(model->state().smb) /
                              dome.params.transport.floatation.ice_density * g.cell_area();
    EXPECT_NEAR(m.smb, smb_volume, 1e-12 * std::abs(smb_volume) + 1e-12 * V);
    // The budget closes, and matches the volume the model reports.
    const double V_new = model->volume();
    EXPECT_LE(std::abs(m.residual()), 1e-9 * V) << m.smb << " " << m.clipped << " " << m.calved
                                                << " " << m.edge_outflow << " " << m.volume_change;
    EXPECT_NEAR(V_new - V, m.volume_change, 1e-11 * V);
    EXPECT_GE(m.clipped, 0.0);
    EXPECT_GE(m.calved, 0.0);
    // Outside the domain the surface is the bed (no ice), below the ice
    // surface at the edge: ice only leaves.
    EXPECT_GE(m.edge_outflow, 0.0);
    smb_steps += m.smb != 0.0;
    clipped_steps += m.clipped > 0.0;
    calved_steps += m.calved > 0.0;
    edge_steps += m.edge_outflow > 0.0;
    total += m;
    V = V_new;
  }
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0)
    std::cout << "after " << model->state().time / year << " a: smb " << total.smb
              << " m^3, clipped " << total.clipped << ", calved " << total.calved
              << ", edge outflow " << total.edge_outflow << ", volume change "
              << total.volume_change << " (V0 = " << V0 << "); steps with calving " << calved_steps
              << ", edge outflow " << edge_steps << "\n";
  // The run exercises every term of the budget.
  EXPECT_EQ(smb_steps, 200);
  EXPECT_GT(clipped_steps, 0);
  EXPECT_GT(calved_steps, 0);
  EXPECT_GT(edge_steps, 0);
  EXPECT_GT(total.clipped, 0.0);
  EXPECT_GT(total.calved, 0.0);
  EXPECT_GT(total.edge_outflow, 0.0);
  // Over the whole run too.
  EXPECT_NEAR(V - V0, total.volume_change, 1e-10 * V0);
  EXPECT_LE(std::abs(total.residual()), 1e-9 * V0);
  // No ice anywhere is negative or floating.
  EXPECT_GE(grid.min(model->state().thk), 0.0);
  auto H = host(model->state().thk.view()), mask = host(model->state().mask.view());
  const LocalBox b = grid.box();
  for (int j = b.ys; j < b.ys + b.ym; ++j)
    for (int i = b.xs; i < b.xs + b.xm; ++i)
      EXPECT_NE(mask(b.lj(j), b.li(i)), 3.0)
          << "floating ice at " << i << "," << j << ", H " << H(b.lj(j), b.li(i));
}

// The same dome at the communicator's size and, on rank 0, on MPI_COMM_SELF:
// every cell's update reads the same values through the same formulas, and the
// time step depends only on a max-reduction (exact), so the thickness must be
// bitwise equal. At one rank this checks that a run is deterministic.
TEST(TransientModel, TwoRanksEqualOneRank) {
  const int steps = 150;
  DomeCase dome;
  std::vector<double> parallel_thk, parallel_usurf, parallel_dt;
  double parallel_time = 0.0;
  {
    auto model = dome.make(MPI_COMM_WORLD);
    for (int k = 0; k < steps; ++k) parallel_dt.push_back(model->step(1e6 * year).dt);
    parallel_time = model->state().time;
    parallel_thk = model->state().thk.grid().gather_to_zero(model->state().thk);
    parallel_usurf = model->state().thk.grid().gather_to_zero(model->state().usurf);
  }
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank != 0) return; // only rank 0 runs the serial reference, on MPI_COMM_SELF
  auto serial = dome.make(MPI_COMM_SELF);
  ASSERT_EQ(serial->state().thk.grid().size(), 1);
  for (int k = 0; k < steps; ++k)
    EXPECT_EQ(serial->step(1e6 * year).dt, parallel_dt[size_t(k)]) << k;
  EXPECT_EQ(serial->state().time, parallel_time);
  const std::vector<double> thk = serial->state().thk.grid().gather_to_zero(serial->state().thk);
  const std::vector<double> usurf =
      serial->state().thk.grid().gather_to_zero(serial->state().usurf);
  ASSERT_EQ(thk.size(), size_t(DomeCase::nx * DomeCase::ny));
  ASSERT_EQ(parallel_thk.size(), thk.size());
  int differ = 0;
  for (size_t k = 0; k < thk.size(); ++k) {
    differ += thk[k] != parallel_thk[k] || usurf[k] != parallel_usurf[k];
    EXPECT_EQ(parallel_thk[k], thk[k]) << "cell " << k % DomeCase::nx << "," << k / DomeCase::nx;
  }
  EXPECT_EQ(differ, 0);
  // The dome really moved (the comparison is not of the initial state).
  const core::Grid g(DomeCase::nx, DomeCase::ny, DomeCase::dx, DomeCase::dx, 0.0, 0.0);
  double change = 0.0;
  for (int j = 0; j < DomeCase::ny; ++j)
    for (int i = 0; i < DomeCase::nx; ++i)
      change = std::max(change,
                        std::abs(thk[size_t(j * DomeCase::nx + i)] - DomeCase::thickness(g, i, j)));
  EXPECT_GT(change, 10.0);
}

// ---------------------------------------------------------------------------
// 6. Parameter checks.
TEST(TransientModel, BadParameters) {
  auto grid = core::ParallelGrid::create(MPI_COMM_WORLD, core::Grid(6, 5, 1e3, 1e3, 0.0, 0.0));
  auto make_state = [&] {
    return model::ModelState{Field2D(grid, info("thk"), 100.0),
                             Field2D(grid, info("topg")),
                             Field2D(grid, info("usurf")),
                             Field2D(grid, info("mask", "1")),
                             Field2D(grid, info("smb")),
                             0.0,
                             0};
  };
  auto construct = [&](double safety, double max_dt) {
    model::ModelParams p;
    p.diffusivity_safety = safety;
    p.max_dt = max_dt;
    model::TransientModel m(solver::make_stress_balance("sia", grid, p.stress),
                            std::make_unique<model::ConstantForcing>(Field2D(grid, info("smb"))),
                            make_state(), p);
  };
  const double max_dt = 100.0 * year;
  EXPECT_THROW(construct(0.0, max_dt), nunatak::Error);
  EXPECT_THROW(construct(1.5, max_dt), nunatak::Error);
  EXPECT_THROW(construct(-0.5, max_dt), nunatak::Error);
  EXPECT_THROW(construct(not_a_number, max_dt), nunatak::Error);
  EXPECT_THROW(construct(0.5, 0.0), nunatak::Error);
  EXPECT_THROW(construct(0.5, -year), nunatak::Error);
  EXPECT_THROW(construct(0.5, not_a_number), nunatak::Error);
  EXPECT_NO_THROW(construct(1.0, max_dt)); // theta = 1 is allowed: (0, 1]
  EXPECT_NO_THROW(construct(0.25, year));

  try {
    solver::make_stress_balance("bp-nonexistent", grid, solver::StressBalanceParams{});
    ADD_FAILURE() << "an unknown stress balance was accepted";
  } catch (const nunatak::Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("sia"), std::string::npos) << message;
    EXPECT_NE(message.find("bp-nonexistent"), std::string::npos) << message;
  }
}
