// Ice margins of the Blatter-Pattyn solver: the ocean-pressure (calving-front)
// condition against Weertman's (1957) spreading rate of a free ice shelf,
// residual = gradient of the energy with front faces present, and land margins
// (and marine ones with the condition switched off) carrying no load.
#include "nunatak/core/constants.hpp"
#include "nunatak/core/floatation.hpp"
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

// The typed stress-balance inputs (thickness, bed, sea level, friction,
// softness) reach the discrete problem through the one floatation rule: an
// ice shelf attached to grounded ice gets its base at -rho_i/rho_w H and no
// friction where it floats (open water: sea level), the bed and the given friction where grounded,
// the softness field's hardness; and update() then solves the same problem
// as set_geometry with those fields.
TEST(BlatterPattynMargins, TypedInputsFollowTheFloatationRule) {
  core::DecompositionOptions options;
  options.periodic_y = true;
  auto grid =
      core::ParallelGrid::create(MPI_COMM_WORLD, core::Grid(nx, ny, dx, dx, 0.0, 0.0), options);
  const core::FieldInfo info{"f", "", "", "m", "m", {}, ""};
  core::Field2D thk(grid, info), topg(grid, info), usurf(grid, info), friction(grid, info);
  core::Field3D softness(grid, info, {0.0, 1.0});
  core::Floatation floatation;
  floatation.ice_density = rho_i;
  floatation.sea_water_density = rho_w;
  const double grounded_bed = -100.0, beta2 = 500.0; // Pa a m^-1
  const core::LocalBox b = grid->box();
  {
    auto H = Kokkos::create_mirror_view(thk.view()), B = Kokkos::create_mirror_view(topg.view()),
         S = Kokkos::create_mirror_view(usurf.view()),
         C = Kokkos::create_mirror_view(friction.view());
    auto A = Kokkos::create_mirror_view(softness.view());
    for (int j = b.gys; j < b.gys + b.gym; ++j)
      for (int i = b.gxs; i < b.gxs + b.gxm; ++i) {
        const int J = b.lj(j), I = b.li(i);
        // Grounded from cell 10 to 19 (910 * 200 > 1028 * 100), floating from 20 to 30.
        H(J, I) = i >= first_ice && i <= last_ice ? H0 : 0.0;
        B(J, I) = i < 20 ? grounded_bed : -500.0;
        S(J, I) = floatation.surface(H(J, I), B(J, I));
        C(J, I) = beta2;
        A(J, I, 0) = A(J, I, 1) = 2.0 * A_per_year / year; // twice the flow law's
      }
    Kokkos::deep_copy(thk.view(), H);
    Kokkos::deep_copy(topg.view(), B);
    Kokkos::deep_copy(usurf.view(), S);
    Kokkos::deep_copy(friction.view(), C);
    Kokkos::deep_copy(softness.view(), A);
  }
  solver::BPParams p;
  p.flow.softness = A_per_year / year;
  p.flow.ice_density = rho_i;
  p.flow.gravity = g;
  p.levels = 5;
  p.options_prefix = "typed_";
  solver::BlatterPattyn bp(grid, p);
  bp.update({thk, topg, usurf, floatation, &friction, &softness});
  ASSERT_TRUE(bp.last_report().converged);

  const core::BPPatch& patch = bp.problem().patch();
  // A friction field means sliding: no bed is fixed.
  EXPECT_EQ(std::count(patch.bed_fixed.begin(), patch.bed_fixed.end(), 1), 0);
  const double hardness = std::pow(2.0 * A_per_year, -1.0 / 3.0);
  for (int j = patch.ys; j < patch.ys + patch.ym; ++j)
    for (int i = patch.xs; i < patch.xs + patch.xm; ++i) {
      const size_t c = patch.column(j, i);
      const int I = patch.i0 + i;
      const bool ice = I >= first_ice && I <= last_ice, floating = ice && I >= 20;
      const double bed = I < 20 ? grounded_bed : -500.0;
      // The ice base: -rho_i/rho_w H where floating, sea level over open water, else the bed.
      EXPECT_DOUBLE_EQ(patch.bed[c],
                       floating ? -rho_i / rho_w * H0 : (ice || bed > 0.0 ? bed : 0.0))
          << "column " << I;
      // No friction under floating ice (nor under the ice-free ocean, where it is unused).
      EXPECT_EQ(patch.beta2[c], floatation.floats(ice ? H0 : 0.0, bed) ? 0.0 : beta2)
          << "column " << I;
      EXPECT_NEAR(patch.hardness[patch.node(j, i, 2)] / hardness, 1.0, 1e-12);
    }

  // The same problem through set_geometry: the same velocities.
  core::Field2D base(grid, info), beta2_field(grid, info);
  {
    auto H = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), thk.view());
    auto B = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), topg.view());
    auto Z = Kokkos::create_mirror_view(base.view()),
         C = Kokkos::create_mirror_view(beta2_field.view());
    for (size_t j = 0; j < Z.extent(0); ++j)
      for (size_t i = 0; i < Z.extent(1); ++i) {
        Z(j, i) = floatation.ice_base(H(j, i), B(j, i));
        C(j, i) = floatation.floats(H(j, i), B(j, i)) ? 0.0 : beta2;
      }
    Kokkos::deep_copy(base.view(), Z);
    Kokkos::deep_copy(beta2_field.view(), C);
  }
  p.options_prefix = "typed_reference_";
  solver::BlatterPattyn reference(grid, p);
  reference.set_softness(softness);
  reference.set_geometry(thk, base, &beta2_field);
  ASSERT_TRUE(reference.solve().converged);
  Vec diff = nullptr;
  VecDuplicate(bp.solution(), &diff);
  VecWAXPY(diff, -1.0, reference.solution(), bp.solution());
  PetscReal err = 0, ref = 0;
  VecNorm(diff, NORM_INFINITY, &err);
  VecNorm(reference.solution(), NORM_INFINITY, &ref);
  VecDestroy(&diff);
  EXPECT_GT(ref, 1.0); // the shelf moves (m/a)
  EXPECT_LT(err / ref, 1e-12);
  // Without sliding, grounded ice is frozen to its bed and floating ice still
  // slides freely (no basal traction): the grounded base stays, the shelf's moves.
  {
    p.options_prefix = "typed_no_slip_";
    solver::BlatterPattyn frozen(grid, p);
    frozen.update({thk, topg, usurf, floatation});
    ASSERT_TRUE(frozen.last_report().converged);
    const core::BPPatch& fp = frozen.problem().patch();
    const solver::Velocities v = frozen.velocities({});
    std::vector<double> ub = grid->gather_to_zero(v.uvelbase);
    ub.resize(size_t(nx) * ny);
    MPI_Bcast(ub.data(), int(ub.size()), MPI_DOUBLE, 0, MPI_COMM_WORLD);
    for (int j = fp.ys; j < fp.ys + fp.ym; ++j)
      for (int i = fp.xs; i < fp.xs + fp.xm; ++i) {
        const int I = fp.i0 + i;
        const bool ice = I >= first_ice && I <= last_ice;
        // Fixed where the column does not float (ice-free ocean "floats": free, unused).
        const bool floats = floatation.floats(ice ? H0 : 0.0, I < 20 ? grounded_bed : -500.0);
        EXPECT_EQ(fp.bed_fixed[fp.column(j, i)], floats ? 0 : 1) << "column " << I;
        EXPECT_EQ(fp.beta2[fp.column(j, i)], 0.0) << "column " << I;
      }
    for (int i = 0; i < nx; ++i) {
      if (i >= 21 && i <= last_ice) {
        EXPECT_GT(ub[size_t(i)] * year, 10.0) << "floating column " << i; // the shelf slides
      } else if (i < 20 || i > last_ice) {
        EXPECT_EQ(ub[size_t(i)], 0.0) << "column " << i; // frozen bed or no ice: exactly 0
      }
    }
  }

  // The floating part moves seawards (pushed by the grounded ice and its own front).
  const solver::Velocities v = bp.velocities({});
  std::vector<double> u = grid->gather_to_zero(v.uvelsurf);
  u.resize(size_t(nx) * ny);
  MPI_Bcast(u.data(), int(u.size()), MPI_DOUBLE, 0, MPI_COMM_WORLD);
  for (int i = 20; i <= last_ice; ++i) EXPECT_GT(u[size_t(i)] * year, 10.0) << "column " << i;
}
