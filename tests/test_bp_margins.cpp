// Ice margins of the Blatter-Pattyn solver: the ocean-pressure (calving-front)
// condition against Weertman's (1957) spreading rate of a free ice shelf,
// residual = gradient of the energy with front faces present, and land margins
// (and marine ones with the condition switched off) carrying no load.
#include "nunatak/core/constants.hpp"
#include "nunatak/solver/blatter_pattyn.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

using namespace nunatak;

namespace {

const double year = core::seconds_per_year;
const double rho_i = 910.0, rho_w = 1028.0, g = 9.81, A_per_year = 1e-16, H0 = 200.0;
const int nx = 41, ny = 4, first_ice = 10, last_ice = 30; // ice in cells 10..30 (20 km)
const double dx = 1000.0;

/// A strip of uniform ice H0 thick, floating (base at -rho_i/rho_w H0) in the
/// middle of a channel periodic in y; outside, ice-free cells with their bed
/// at `outside_bed` (below sea level: ocean; above: land). The default friction
/// (1 Pa at 100 m/a) only removes rigid motions.
struct Shelf {
  std::shared_ptr<const core::ParallelGrid> grid;
  std::unique_ptr<solver::BlatterPattyn> bp;
};

Shelf make_shelf(double outside_bed, bool ocean_pressure, double friction = 1e-2) {
  core::DecompositionOptions options;
  options.periodic_y = true;
  auto grid =
      core::ParallelGrid::create(MPI_COMM_WORLD, core::Grid(nx, ny, dx, dx, 0.0, 0.0), options);
  const core::FieldInfo info{"f", "", "", "m", "m", {}, ""};
  core::Field2D thk(grid, info), bed(grid, info), beta2(grid, info);
  const core::LocalBox b = grid->box();
  auto H = Kokkos::create_mirror_view(thk.view()), B = Kokkos::create_mirror_view(bed.view()),
       Beta = Kokkos::create_mirror_view(beta2.view());
  for (int j = b.gys; j < b.gys + b.gym; ++j)
    for (int i = b.gxs; i < b.gxs + b.gxm; ++i) {
      const bool ice = i >= first_ice && i <= last_ice;
      H(b.lj(j), b.li(i)) = ice ? H0 : 0.0;
      B(b.lj(j), b.li(i)) = ice ? -rho_i / rho_w * H0 : outside_bed;
      Beta(b.lj(j), b.li(i)) = friction; // Pa a m^-1
    }
  Kokkos::deep_copy(thk.view(), H);
  Kokkos::deep_copy(bed.view(), B);
  Kokkos::deep_copy(beta2.view(), Beta);
  solver::BPParams p;
  p.flow.n = 3;
  p.flow.softness = A_per_year / year;
  p.flow.ice_density = rho_i;
  p.flow.gravity = g;
  p.sea_water_density = rho_w;
  p.sea_level = 0.0;
  p.ocean_pressure = ocean_pressure;
  p.levels = 5;
  p.no_slip = false;
  p.friction_exponent = 1.0;
  p.options_prefix = "margins_";
  // Nearly free rigid motions make this small problem ill-conditioned for
  // ILU; it is about the physics, so solve it directly.
  PetscOptionsSetValue(nullptr, "-margins_pc_type", "lu");
  Shelf s{grid, std::make_unique<solver::BlatterPattyn>(grid, p)};
  s.bp->set_geometry(thk, bed, &beta2);
  return s;
}

/// Surface u (m/a) along the row j = 0, on every rank.
std::vector<double> surface_u(const Shelf& s) {
  const solver::Velocities v = s.bp->velocities({});
  std::vector<double> u = s.grid->gather_to_zero(v.uvelsurf);
  u.resize(size_t(nx) * ny);
  MPI_Bcast(u.data(), int(u.size()), MPI_DOUBLE, 0, MPI_COMM_WORLD);
  for (double& value : u) value *= year;
  return std::vector<double>(u.begin(), u.begin() + nx);
}

} // namespace

TEST(BlatterPattynMargins, FreeShelfSpreadsAtWeertmansRate) {
  Shelf s = make_shelf(-500.0, true);
  const solver::BPSolveReport r = s.bp->solve();
  ASSERT_TRUE(r.converged) << r.reason;
  const std::vector<double> u = surface_u(s);
  // Weertman (1957): du/dx = A (rho_i g H (1 - rho_i/rho_w) / 4)^n, uniform.
  const double exact = A_per_year * std::pow(rho_i * g * H0 * (1.0 - rho_i / rho_w) / 4.0, 3.0);
  const int centre = (first_ice + last_ice) / 2;
  const double rate = (u[size_t(centre) + 5] - u[size_t(centre) - 5]) / (10.0 * dx);
  EXPECT_NEAR(rate / exact, 1.0, 0.01) << "du/dx " << rate << " a^-1, Weertman " << exact;
  if (s.grid->rank() == 0)
    std::printf("shelf spreading rate %.6g a^-1, Weertman %.6g a^-1, ratio %.4f\n", rate, exact,
                rate / exact);
  // Symmetric fronts: the centre does not move and the fronts move apart (up
  // to a rigid drift that only the tiny friction resists: solver tolerance).
  EXPECT_LT(std::abs(u[size_t(centre)]), 1e-2 * u[size_t(last_ice)]);
  EXPECT_NEAR(u[size_t(last_ice)], -u[size_t(first_ice)], 1e-2 * u[size_t(last_ice)]);
  EXPECT_GT(u[size_t(last_ice)], 0.9 * exact * (last_ice - centre) * dx);
  // Ice-free cells do not move.
  EXPECT_EQ(u[size_t(first_ice) - 1], 0.0);
  EXPECT_EQ(u[size_t(last_ice) + 1], 0.0);
}

TEST(BlatterPattynMargins, ResidualIsTheGradientOfTheEnergyAtFronts) {
  Shelf s = make_shelf(-500.0, true);
  s.bp->set_sia_initial_guess();
  Vec x = s.bp->solution(), r = nullptr, d = nullptr, xp = nullptr;
  VecDuplicate(x, &r);
  VecDuplicate(x, &d);
  VecDuplicate(x, &xp);
  PetscInt lo = 0, hi = 0;
  VecGetOwnershipRange(d, &lo, &hi);
  PetscScalar* a = nullptr;
  VecGetArray(d, &a);
  for (PetscInt k = lo; k < hi; ++k) {
    std::mt19937 rng{unsigned(k)};
    std::uniform_real_distribution<double> uniform(-1.0, 1.0);
    a[k - lo] = s.bp->is_fixed(k - lo) ? 0.0 : 50.0 * uniform(rng);
  }
  VecRestoreArray(d, &a);
  VecAXPY(x, 1.0, d); // a generic point
  s.bp->residual(x, r);
  PetscScalar rd = 0;
  VecDot(r, d, &rd);
  const double h = 1e-4;
  VecWAXPY(xp, h, d, x);
  const double ep = s.bp->energy(xp);
  VecWAXPY(xp, -h, d, x);
  const double em = s.bp->energy(xp);
  EXPECT_LT(std::abs((ep - em) / (2 * h) - rd) / std::abs(rd), 1e-6);
  // The front load alone: at zero velocity the residual is minus the load,
  // and its x-component sums to the net force on the two fronts (zero here,
  // they pull in opposite directions) while each front's share is
  // rho g H^2/2 (1 - rho_i/rho_w) per metre, divided by rho g, times the row width.
  VecSet(xp, 0.0);
  s.bp->residual(xp, r);
  const PetscScalar* f = nullptr;
  VecGetArrayRead(r, &f);
  double east = 0.0, west = 0.0;
  for (PetscInt k = 0; k < hi - lo; k += 2) (f[k] < 0 ? east : west) += f[k];
  VecRestoreArrayRead(r, &f);
  double sums[2] = {east, west}, total[2];
  MPI_Allreduce(sums, total, 2, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  const double expected = 0.5 * H0 * H0 * (1.0 - rho_i / rho_w) * ny * dx;
  EXPECT_NEAR(-total[0] / expected, 1.0, 1e-9);
  EXPECT_NEAR(total[1] / expected, 1.0, 1e-9);
  VecDestroy(&r);
  VecDestroy(&d);
  VecDestroy(&xp);
}

TEST(BlatterPattynMargins, LandMarginsAndSwitchedOffFrontsCarryNoLoad) {
  for (const auto& [outside_bed, ocean_pressure] : {std::pair{100.0, true}, {-500.0, false}}) {
    Shelf s = make_shelf(outside_bed, ocean_pressure, 1e3);
    const solver::BPSolveReport r = s.bp->solve();
    ASSERT_TRUE(r.converged) << r.reason;
    const std::vector<double> u = surface_u(s);
    // Flat surface, no front: no flow (the shelf with fronts moves at 135 m/a,
    // and would still move metres per year against this friction).
    for (double value : u) EXPECT_LT(std::abs(value), 1e-3);
  }
}
