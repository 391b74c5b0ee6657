// The Blatter-Pattyn solver: residual = gradient of the discrete energy,
// Jacobian = derivative of the residual (finite differences), ISMIP-HOM A
// against the published full-Stokes ensemble, and 1 rank = 2 ranks.
#include "nunatak/core/constants.hpp"
#include "nunatak/core/error.hpp"
#include "nunatak/model/ismip_hom.hpp"
#include "nunatak/model/transient_model.hpp"
#include "nunatak/solver/blatter_pattyn.hpp"
#include "nunatak/solver/bp_problem.hpp"

#include "model_state.hpp"
#include "solver_type.hpp"
#include "vec_difference.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

using namespace nunatak;

namespace {

/// A random direction on the free dofs (zero on fixed ones), same on every rank count.
void random_direction(const solver::BlatterPattyn& bp, Vec d, unsigned seed) {
  PetscInt lo = 0, hi = 0;
  VecGetOwnershipRange(d, &lo, &hi);
  PetscScalar* a = nullptr;
  VecGetArray(d, &a);
  for (PetscInt k = lo; k < hi; ++k) {
    std::mt19937 rng(seed + unsigned(k));
    std::uniform_real_distribution<double> uniform(-1.0, 1.0);
    a[k - lo] = bp.is_fixed(k - lo) ? 0.0 : uniform(rng);
  }
  VecRestoreArray(d, &a);
}

/// Moves the solution away from the SIA guess so that the test point is generic.
void perturb_solution(solver::BlatterPattyn& bp, double amplitude) {
  bp.set_sia_initial_guess();
  Vec d = nullptr;
  VecDuplicate(bp.solution(), &d);
  random_direction(bp, d, 17);
  VecAXPY(bp.solution(), amplitude, d);
  VecDestroy(&d);
}

struct Problem {
  model::IsmipHomSetup setup;
  std::unique_ptr<solver::BlatterPattyn> bp;
};

Problem make_problem(char experiment, double friction_exponent = 1.0) {
  model::IsmipHomCase c;
  c.experiment = experiment;
  c.length_km = 10;
  c.nx = c.ny = 8;
  c.nz = 5;
  Problem p{model::make_ismip_hom(c, MPI_COMM_WORLD), nullptr};
  p.setup.params.friction_exponent = friction_exponent;
  p.bp = std::make_unique<solver::BlatterPattyn>(p.setup.grid, p.setup.params);
  p.bp->set_geometry(p.setup.thk, p.setup.bed, p.setup.params.no_slip ? nullptr : &p.setup.beta2);
  perturb_solution(*p.bp, 5.0);
  return p;
}

/// |(E(x + h d) - E(x - h d)) / 2h - R(x).d| / |R(x).d| over random directions d.
double gradient_error(solver::BlatterPattyn& bp, double h) {
  Vec x = bp.solution(), r = nullptr, d = nullptr, xp = nullptr;
  VecDuplicate(x, &r);
  VecDuplicate(x, &d);
  VecDuplicate(x, &xp);
  bp.residual(x, r);
  double worst = 0;
  for (unsigned seed = 1; seed <= 3; ++seed) {
    random_direction(bp, d, 1000 * seed);
    PetscScalar rd = 0;
    VecDot(r, d, &rd);
    VecWAXPY(xp, h, d, x);
    const double ep = bp.energy(xp);
    VecWAXPY(xp, -h, d, x);
    const double em = bp.energy(xp);
    worst = std::max(worst, std::abs((ep - em) / (2 * h) - rd) / std::abs(rd));
  }
  VecDestroy(&r);
  VecDestroy(&d);
  VecDestroy(&xp);
  return worst;
}

/// ||(R(x + h d) - R(x - h d)) / 2h - J(x) d|| / ||J(x) d|| over random directions d.
double jacobian_error(solver::BlatterPattyn& bp, double h) {
  Vec x = bp.solution(), rp = nullptr, rm = nullptr, d = nullptr, xp = nullptr, jd = nullptr;
  for (Vec* v : {&rp, &rm, &d, &xp, &jd}) VecDuplicate(x, v);
  bp.jacobian(x, bp.matrix());
  double worst = 0;
  for (unsigned seed = 1; seed <= 3; ++seed) {
    random_direction(bp, d, 7000 * seed);
    MatMult(bp.matrix(), d, jd);
    VecWAXPY(xp, h, d, x);
    bp.residual(xp, rp);
    VecWAXPY(xp, -h, d, x);
    bp.residual(xp, rm);
    VecAXPY(rp, -1.0, rm);
    VecScale(rp, 1.0 / (2 * h));
    PetscReal norm_jd = 0, norm_diff = 0;
    VecNorm(jd, NORM_2, &norm_jd);
    VecAXPY(rp, -1.0, jd);
    VecNorm(rp, NORM_2, &norm_diff);
    worst = std::max(worst, double(norm_diff / norm_jd));
  }
  for (Vec* v : {&rp, &rm, &d, &xp, &jd}) VecDestroy(v);
  return worst;
}

} // namespace

// Central differences with h = 1e-4 m/a on velocities of O(10) m/a: truncation
// error O(h^2) ~ 1e-8 relative; the tolerance 1e-6 leaves room for round-off.
TEST(BlatterPattyn, ResidualIsTheGradientOfTheEnergy) {
  for (auto [experiment, q] :
       {std::pair{'A', 1.0}, std::pair{'C', 1.0}, std::pair{'C', 1.0 / 3.0}}) {
    Problem p = make_problem(experiment, q);
    EXPECT_LT(gradient_error(*p.bp, 1e-4), 1e-6) << experiment << " q = " << q;
  }
}

TEST(BlatterPattyn, JacobianIsTheDerivativeOfTheResidual) {
  for (auto [experiment, q] :
       {std::pair{'A', 1.0}, std::pair{'C', 1.0}, std::pair{'C', 1.0 / 3.0}}) {
    Problem p = make_problem(experiment, q);
    EXPECT_LT(jacobian_error(*p.bp, 1e-4), 1e-6) << experiment << " q = " << q;
  }
}

TEST(BlatterPattyn, JacobianIsSymmetric) {
  Problem p = make_problem('C', 1.0 / 3.0);
  p.bp->jacobian(p.bp->solution(), p.bp->matrix());
  // ||J - J^T|| / ||J|| at round-off: the Hessian of an energy is symmetric.
  Mat Jt = nullptr;
  MatTranspose(p.bp->matrix(), MAT_INITIAL_MATRIX, &Jt);
  PetscReal norm = 0, asym = 0;
  MatNorm(p.bp->matrix(), NORM_FROBENIUS, &norm);
  MatAXPY(Jt, -1.0, p.bp->matrix(), DIFFERENT_NONZERO_PATTERN);
  MatNorm(Jt, NORM_FROBENIUS, &asym);
  MatDestroy(&Jt);
  EXPECT_LT(asym / norm, 1e-12);
  EXPECT_GT(norm, 0.0);
}

// ISMIP-HOM A (Pattyn et al. 2008): surface vx along y = L/4, full-Stokes
// ensemble max 24.38 +- 0.45 (L = 10 km) and 87.31 +- 3.84 (L = 80 km), mean
// 20.10 and 37.25. First-order models sit slightly above full Stokes at small
// L; a 16 x 16 x 9 grid is coarse, so allow 2 standard deviations for the max
// and 5 % for the mean.
TEST(BlatterPattyn, IsmipHomAWithinTheFullStokesEnsemble) {
  for (auto [L, max_ref, sd, mean_ref] :
       {std::tuple{10.0, 24.38, 0.45, 20.10}, std::tuple{80.0, 87.31, 3.84, 37.25}}) {
    model::IsmipHomCase c;
    c.length_km = L;
    c.nx = c.ny = 16;
    c.nz = 9;
    const model::IsmipHomResult r = model::run_ismip_hom(c, MPI_COMM_WORLD);
    EXPECT_TRUE(r.report.converged);
    EXPECT_NEAR(r.max, max_ref, 2 * sd) << "L = " << L;
    EXPECT_NEAR(r.mean, mean_ref, 0.05 * mean_ref) << "L = " << L;
    EXPECT_GT(r.min, 0.0);
    EXPECT_LT(r.report.newton_iterations, 20);
  }
}

// The same problem on all ranks and on rank 0 alone agree to solver tolerance.
TEST(BlatterPattyn, AnyRankCountGivesTheSameSolution) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  model::IsmipHomCase c;
  c.nx = c.ny = 16;
  c.nz = 5;
  const model::IsmipHomResult all = model::run_ismip_hom(c, MPI_COMM_WORLD);
  if (rank != 0) return;
  const model::IsmipHomResult one = model::run_ismip_hom(c, MPI_COMM_SELF);
  ASSERT_EQ(all.vx_surface.size(), one.vx_surface.size());
  for (size_t k = 0; k < one.vx_surface.size(); ++k)
    EXPECT_NEAR(all.vx_surface[k], one.vx_surface[k], 1e-5 * std::abs(one.vx_surface[k]));
}

// A parallel-sided slab on a slope with ice 5x softer at the bed than at the
// surface, A(sigma) = A0 (1 + 4 (1 - sigma)), given per level: the surface speed
// is 2 (rho g tan(alpha))^n int_0^H A(z) (H - z)^n dz = 2.1 A0 H^4 (rho g tan(alpha))^3.
// A per cell (uniform 2 A0) doubles the speed of the uniform-A0 solution.
TEST(BlatterPattyn, SoftnessPerLevelAndPerCell) {
  const double year = core::seconds_per_year, A0 = 1e-16 / year, H = 1000.0, tan_alpha = 0.01;
  core::DecompositionOptions options;
  options.periodic_x = options.periodic_y = true;
  auto grid = core::ParallelGrid::create(MPI_COMM_WORLD, core::Grid(8, 8, 5000.0, 5000.0, 0.0, 0.0),
                                         options);
  const core::FieldInfo info{"A", "", "", "Pa-3 s-1", "Pa-3 s-1", {}, ""};
  core::Field2D thk(grid, info, H), bed(grid, info, 0.0);
  solver::BPParams p;
  p.flow.softness = A0;
  p.levels = 17;
  p.surface_trend_x = -tan_alpha;
  auto surface_speed = [&](const core::Field3D* softness) {
    solver::BlatterPattyn bp(grid, p);
    bp.set_geometry(thk, bed);
    if (softness) bp.set_softness(*softness);
    EXPECT_TRUE(bp.solve().converged);
    const auto v = bp.velocities({});
    return Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v.uvelsurf.view())(1, 1) * year;
  };
  const double rho_g_tan = p.flow.ice_density * p.flow.gravity * tan_alpha;
  const double uniform = surface_speed(nullptr);
  // Uniform A: u_s = 2 A (rho g tan(alpha))^3 H^4 / 4 (observed ratio 0.9973 on 17 levels).
  EXPECT_NEAR(uniform / (0.5 * A0 * year * std::pow(H, 4) * std::pow(rho_g_tan, 3)), 1.0, 1e-2);

  const std::vector<double> sigma = core::uniform_sigma(5);
  core::Field3D per_level(grid, info, sigma);
  auto A = Kokkos::create_mirror_view(per_level.view());
  for (size_t j = 0; j < A.extent(0); ++j)
    for (size_t i = 0; i < A.extent(1); ++i)
      for (size_t k = 0; k < sigma.size(); ++k) A(j, i, k) = A0 * (1.0 + 4.0 * (1.0 - sigma[k]));
  Kokkos::deep_copy(per_level.view(), A);
  const double layered = surface_speed(&per_level);
  // Observed ratio 0.9957 (uniform A in place of A(sigma) would give 0.48).
  EXPECT_NEAR(layered / (2.1 * A0 * year * std::pow(H, 4) * std::pow(rho_g_tan, 3)), 1.0, 1e-2);

  core::Field3D per_cell(grid, info, core::uniform_sigma(2), 2.0 * A0);
  EXPECT_NEAR(surface_speed(&per_cell) / uniform, 2.0, 1e-4);

  core::Field3D negative(grid, info, core::uniform_sigma(2), -A0);
  solver::BlatterPattyn bp(grid, p);
  EXPECT_THROW(bp.set_softness(negative), Error);
}

TEST(BlatterPattyn, BadParametersAreErrors) {
  model::IsmipHomCase c;
  c.nx = c.ny = 8;
  model::IsmipHomSetup s = model::make_ismip_hom(c, MPI_COMM_WORLD);
  solver::BPParams p = s.params;
  p.levels = 1;
  EXPECT_THROW(solver::BlatterPattyn(s.grid, p), Error);
  p = s.params;
  p.flow.softness = -1.0;
  EXPECT_THROW(solver::BlatterPattyn(s.grid, p), Error);
  c.experiment = 'F';
  EXPECT_THROW(model::run_ismip_hom(c, MPI_COMM_WORLD), Error);
}

// A transient run with the Blatter-Pattyn stress balance (upwind fluxes, CFL
// time step) closes its mass budget every step, like the SIA run.
TEST(BlatterPattyn, TransientRunConservesMass) {
  const int n = 21;
  const double dx = 10000.0;
  auto grid =
      core::ParallelGrid::create(MPI_COMM_WORLD, core::Grid(n, n, dx, dx, -100000.0, -100000.0));
  model::ModelState state = test::zero_model_state(grid);
  core::Field2D smb(grid, state.thk.info());
  const core::LocalBox b = grid->box();
  auto H = Kokkos::create_mirror_view(state.thk.view());
  auto B = Kokkos::create_mirror_view(state.topg.view());
  auto M = Kokkos::create_mirror_view(smb.view());
  for (int j = b.gys; j < b.gys + b.gym; ++j)
    for (int i = b.gxs; i < b.gxs + b.gxm; ++i) {
      const double x = grid->grid().x(std::clamp(i, 0, n - 1)),
                   y = grid->grid().y(std::clamp(j, 0, n - 1));
      const double r = std::hypot(x, y) / 70000.0;
      H(b.lj(j), b.li(i)) = r < 1 ? 800.0 * std::sqrt(1 - r * r) : 0.0;
      B(b.lj(j), b.li(i)) = 300.0 + 0.002 * x;
      M(b.lj(j), b.li(i)) = (0.3 - 1.0 * r * r) * 910.0 / core::seconds_per_year; // kg m-2 s-1
    }
  Kokkos::deep_copy(state.thk.view(), H);
  Kokkos::deep_copy(state.topg.view(), B);
  Kokkos::deep_copy(smb.view(), M);
  model::ModelParams params;
  params.stress.bp_levels = 5;
  params.max_dt = 5.0 * core::seconds_per_year;
  model::TransientModel model(solver::make_stress_balance("bp", grid, params.stress),
                              std::make_unique<model::ConstantForcing>(std::move(smb)),
                              std::move(state), params);
  double smb_total = 0, clipped = 0;
  for (int step = 0; step < 6; ++step) {
    const double before = model.volume();
    const model::StepReport r = model.step(1e9 * core::seconds_per_year);
    const double after = model.volume();
    EXPECT_LE(std::abs(r.budget.residual()), 1e-9 * after) << "step " << step;
    EXPECT_NEAR(after - before, r.budget.volume_change, 1e-9 * after) << "step " << step;
    EXPECT_GT(r.dt, 0.0);
    smb_total += std::abs(r.budget.smb);
    clipped += r.budget.clipped;
  }
  EXPECT_GT(smb_total, 0.0);
  EXPECT_GT(clipped, 0.0); // ablation beyond the margin meets no ice
  // The ice moves: the BP flow of the cap is non-zero.
  EXPECT_GT(model.stress_balance().max_advection_rate(), 0.0);
}

// A wild starting velocity makes plain Newton fail; the robustness ladder
// still reaches the ISMIP-HOM A solution: with the default geometric
// multigrid, its first rung (GMRES/ICC(1) from the shallow-ice velocity);
// with a multigrid the user chose (no solver change), the restart from the
// shallow-ice velocity and the regularisation continuation.
TEST(BlatterPattyn, RobustnessLadderRecoversFromABadStart) {
  model::IsmipHomCase c;
  c.nx = c.ny = 16;
  c.nz = 5;
  model::IsmipHomSetup s = model::make_ismip_hom(c, MPI_COMM_WORLD);
  solver::BlatterPattyn reference(s.grid, s.params);
  reference.set_geometry(s.thk, s.bed);
  ASSERT_TRUE(reference.solve().converged);

  for (const bool user_multigrid : {false, true}) {
    if (user_multigrid) PetscOptionsSetValue(nullptr, "-bp_pc_type", "mg");
    solver::BPParams p = s.params;
    solver::BlatterPattyn bp(s.grid, p);
    bp.set_geometry(s.thk, s.bed);
    random_direction(bp, bp.solution(), 99);
    VecScale(bp.solution(), 1e7); // 10 000 km/a, in random directions
    PetscOptionsSetValue(nullptr, "-bp_snes_max_it", "8");
    SNESSetFromOptions(bp.snes());
    const solver::BPSolveReport r = bp.solve();
    PetscOptionsClearValue(nullptr, "-bp_snes_max_it");
    PetscOptionsClearValue(nullptr, "-bp_pc_type");
    EXPECT_EQ(r.switched_to_icc, !user_multigrid);
    EXPECT_EQ(r.continuation_stages > 0, user_multigrid)
        << "plain Newton should have failed from this start";
    EXPECT_TRUE(r.converged) << r.reason;
    EXPECT_LT(relative_difference(bp.solution(), reference.solution()), 1e-5);
  }
}

// On a grid without geometric multigrid, a GMRES/ILU that stalls (here: made
// to, by allowing it 2 iterations per solve) gives way to FGMRES/GAMG (a grid
// above direct_solve_unknowns; here the limit is set to 0) or to sparse LU (a
// small grid), and the solution is the one the plain solve finds.
void expect_stalled_ilu_gives_way(long long direct_solve_unknowns, bool lu_expected) {
  model::IsmipHomCase c;
  c.nx = c.ny = 15; // periodic and odd: no geometric multigrid
  c.nz = 5;
  model::IsmipHomSetup s = model::make_ismip_hom(c, MPI_COMM_WORLD);
  solver::BlatterPattyn reference(s.grid, s.params);
  reference.set_geometry(s.thk, s.bed);
  const solver::BPSolveReport plain = reference.solve();
  ASSERT_TRUE(plain.converged);
  EXPECT_FALSE(plain.switched_to_gamg);

  solver::BPParams p = s.params;
  p.options_prefix = "stall_";
  p.direct_solve_unknowns = direct_solve_unknowns;
  PetscOptionsSetValue(nullptr, "-stall_ksp_max_it", "2");
  solver::BlatterPattyn bp(s.grid, p);
  bp.set_geometry(s.thk, s.bed);
  const solver::BPSolveReport r = bp.solve();
  PetscOptionsClearValue(nullptr, "-stall_ksp_max_it");
  EXPECT_EQ(r.switched_to_gamg, !lu_expected);
  EXPECT_EQ(r.switched_to_lu, lu_expected);
  EXPECT_EQ(r.continuation_stages, 0);
  ASSERT_TRUE(r.converged) << r.reason;
  EXPECT_LT(relative_difference(bp.solution(), reference.solution()), 1e-5);
}

TEST(BlatterPattyn, StalledIluGivesWayToAlgebraicMultigrid) {
  expect_stalled_ilu_gives_way(0, false);
}

TEST(BlatterPattyn, StalledIluOnASmallGridGivesWayToLu) {
  expect_stalled_ilu_gives_way(solver::BPParams().direct_solve_unknowns, true);
}

// ISMIP-HOM D at L = 20 km on a flowline grid of 128 x 4 x 17 nodes, where
// GMRES/ILU(0) stalls, GMRES/ICC(1) stalls after some Newton steps, and GAMG
// does not converge in 10,000 iterations (issue 14): from the defaults it
// converges to the solution of a direct solve from the start (-pc_type lu):
// until 2026-11-30 through the ladder's LU rung (17 Newton steps in all);
// with the stress-velocity Newton (first matrix Picard's), GMRES/ICC(1) (block
// Jacobi on two ranks) converges by itself, in 8 steps on one rank and on two.
// Since the default is ICC(0) (2026-11-30), one rank converges with it
// directly (8 Newton steps); on two ranks block Jacobi/ICC(0) stalls, and
// the ladder's first rung, ICC(1) from the shallow-ice velocity, converges
// (the layers, 62.5 m, are thick against the grid spacing, 156 m).
TEST(BlatterPattyn, IsmipHomDFlowlineConvergesFromTheDefaults) {
  model::IsmipHomCase c;
  c.experiment = 'D';
  c.length_km = 20.0;
  c.nx = 128;
  c.ny = 4;
  c.nz = 17;
  model::IsmipHomSetup s = model::make_ismip_hom(c, MPI_COMM_WORLD);
  solver::BlatterPattyn defaults(s.grid, s.params);
  defaults.set_geometry(s.thk, s.bed, &s.beta2);
  const solver::BPSolveReport r = defaults.solve();
  ASSERT_TRUE(r.converged) << r.reason;
  EXPECT_FALSE(r.switched_to_lu || r.switched_to_gamg) << defaults.last_solve_summary();
  EXPECT_EQ(r.continuation_stages, 0);
  int ranks = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  EXPECT_EQ(r.switched_to_fill, ranks > 1) << defaults.last_solve_summary();
  EXPECT_EQ(factorisation_fill_levels(defaults.snes()), ranks > 1 ? 1 : 0);

  solver::BPParams p = s.params;
  p.options_prefix = "direct_";
  PetscOptionsSetValue(nullptr, "-direct_pc_type", "lu");
  PetscOptionsSetValue(nullptr, "-direct_ksp_type", "preonly");
  solver::BlatterPattyn direct(s.grid, p);
  direct.set_geometry(s.thk, s.bed, &s.beta2);
  const solver::BPSolveReport d = direct.solve();
  PetscOptionsClearValue(nullptr, "-direct_pc_type");
  PetscOptionsClearValue(nullptr, "-direct_ksp_type");
  ASSERT_TRUE(d.converged) << d.reason;
  EXPECT_LT(relative_difference(defaults.solution(), direct.solution()), 1e-6);
}

// Grid sequencing (cold starts on grids that coarsen by 2 solve a coarser grid
// first) changes the starting point, not the solution: on periodic ISMIP-HOM A
// and on a non-periodic ice-covered slab, the sequenced and the plain solve
// agree to solver tolerance, and the finest grid needs no more Newton steps.
// An ice cap with margins is solved without it.
void expect_sequencing_matches_plain(const std::shared_ptr<const core::ParallelGrid>& grid,
                                     const core::Field2D& thk, const core::Field2D& bed,
                                     const solver::BPParams& p, bool sequenced_expected = true) {
  solver::BlatterPattyn plain(grid, p), sequenced(grid, p);
  plain.set_geometry(thk, bed);
  sequenced.set_geometry(thk, bed);
  PetscOptionsSetValue(nullptr, "-bp_grid_sequence", "0");
  const solver::BPSolveReport rp = plain.solve();
  PetscOptionsClearValue(nullptr, "-bp_grid_sequence");
  const solver::BPSolveReport rs = sequenced.solve();
  ASSERT_TRUE(rp.converged) << rp.reason;
  ASSERT_TRUE(rs.converged) << rs.reason;
  EXPECT_EQ(rp.coarse_grids, 0);
  if (sequenced_expected) {
    EXPECT_GT(rs.coarse_grids, 0);
    EXPECT_GT(rs.coarse_newton_iterations, 0);
    EXPECT_LE(rs.newton_iterations, rp.newton_iterations);
  } else {
    EXPECT_EQ(rs.coarse_grids, 0);
  }
  PetscReal ref = 0;
  VecNorm(plain.solution(), NORM_INFINITY, &ref);
  EXPECT_GT(ref, 0.0);
  EXPECT_LT(relative_difference(sequenced.solution(), plain.solution()), 1e-6);
}

TEST(BlatterPattyn, GridSequencingPeriodicGivesTheSameSolution) {
  model::IsmipHomCase c;
  c.nx = c.ny = 32;
  c.nz = 9;
  model::IsmipHomSetup s = model::make_ismip_hom(c, MPI_COMM_WORLD);
  expect_sequencing_matches_plain(s.grid, s.thk, s.bed, s.params);
}

/// Non-periodic 33 x 33 nodes (17 x 17 x 5 on the coarser grid): an ice cap
/// with margins (`margins`) or a slab covered with ice everywhere.
struct NonPeriodicCase {
  std::shared_ptr<const core::ParallelGrid> grid;
  core::Field2D thk, bed;
  solver::BPParams params;
};

NonPeriodicCase make_nonperiodic_case(bool margins) {
  const int n = 33;
  const double dx = 5000.0;
  auto grid =
      core::ParallelGrid::create(MPI_COMM_WORLD, core::Grid(n, n, dx, dx, -80000.0, -80000.0));
  core::FieldInfo info{"f", "", "", "m", "m", {}, ""};
  NonPeriodicCase c{grid, core::Field2D(grid, info), core::Field2D(grid, info), {}};
  const core::LocalBox b = grid->box();
  auto H = Kokkos::create_mirror_view(c.thk.view());
  auto B = Kokkos::create_mirror_view(c.bed.view());
  for (int j = b.gys; j < b.gys + b.gym; ++j)
    for (int i = b.gxs; i < b.gxs + b.gxm; ++i) {
      const double x = grid->grid().x(std::clamp(i, 0, n - 1)),
                   y = grid->grid().y(std::clamp(j, 0, n - 1));
      const double r = std::hypot(x, 0.8 * y) / 60000.0;
      H(b.lj(j), b.li(i)) = margins
                                ? (r < 1 ? 1500.0 * std::sqrt(1 - r * r) : 0.0)
                                : 1000.0 + 300.0 * std::cos(x / 30000.0) * std::sin(y / 40000.0);
      B(b.lj(j), b.li(i)) = 300.0 - 0.01 * x;
    }
  Kokkos::deep_copy(c.thk.view(), H);
  Kokkos::deep_copy(c.bed.view(), B);
  c.params.flow.softness = 1e-16 / core::seconds_per_year;
  c.params.levels = 9;
  return c;
}

void expect_nonperiodic_case(bool margins) {
  const NonPeriodicCase c = make_nonperiodic_case(margins);
  expect_sequencing_matches_plain(c.grid, c.thk, c.bed, c.params, !margins);
}

TEST(BlatterPattyn, GridSequencingNonPeriodicGivesTheSameSolution) {
  expect_nonperiodic_case(false);
}

TEST(BlatterPattyn, GridSequencingSkipsGridsWithMargins) {
  expect_nonperiodic_case(true);
}

// On a grid that coarsens by 2, the default linear solver is geometric
// multigrid where ice covers every column, and GMRES/ICC(1) from the start
// where the ice has margins (there the multigrid's coarse grids straddle the
// margin and stall: Greenland cropped to 97 x 173 nodes took 24 s through the
// stall and the ladder, 11.5 s now). The ice cap's solution is the one
// GMRES/ILU(0) finds.
TEST(BlatterPattyn, DefaultSolverIsIncompleteCholeskyWhereTheIceHasMargins) {
  int ranks = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  for (const bool margins : {false, true}) {
    const NonPeriodicCase c = make_nonperiodic_case(margins);
    solver::BlatterPattyn bp(c.grid, c.params);
    bp.set_geometry(c.thk, c.bed);
    const solver::BPSolveReport r = bp.solve();
    ASSERT_TRUE(r.converged) << r.reason;
    EXPECT_FALSE(r.switched_to_icc) << "the default solver should not have stalled";
    const std::string expected = !margins ? PCMG : ranks == 1 ? PCICC : PCBJACOBI;
    EXPECT_EQ(preconditioner_type(bp.snes()), expected)
        << (margins ? "ice cap" : "ice-covered slab");
    if (!margins) continue;
    EXPECT_LE(r.krylov_iterations, 6 * r.newton_iterations); // 29 in 7 steps on one rank

    solver::BPParams pi = c.params;
    pi.options_prefix = "ilu_";
    PetscOptionsSetValue(nullptr, "-ilu_ksp_type", "gmres");
    PetscOptionsSetValue(nullptr, "-ilu_pc_type", ranks == 1 ? "ilu" : "bjacobi");
    solver::BlatterPattyn ilu(c.grid, pi);
    ilu.set_geometry(c.thk, c.bed);
    const solver::BPSolveReport d = ilu.solve();
    PetscOptionsClearValue(nullptr, "-ilu_ksp_type");
    PetscOptionsClearValue(nullptr, "-ilu_pc_type");
    ASSERT_TRUE(d.converged) << d.reason;
    EXPECT_LT(relative_difference(bp.solution(), ilu.solution()), 1e-6);
  }
}

// Stress-velocity Newton (BPProblem::update_dual_stress): Newton's matrix
// takes the direction of a dual stress, updated by the linearised flow law,
// in Glen's rank-one term. Where the dual stress is 0 it is Picard's matrix;
// where it is the strain rate's own direction it is the Hessian; after one
// update from x0 to x1 = x0 + h d it is the first-order Taylor expansion of
// that direction, so the matrix differs
// from the Hessian at x1 by O(h^2), against O(h) without the update (one
// rank, ice cap: 4.6e-4 and 1.1e-4 at h = 0.01 and 0.005, lagged 3.4e-3 and
// 1.9e-3).
TEST(BlatterPattyn, StressVelocityMatrixFollowsTheLinearisedFlowLaw) {
  const NonPeriodicCase c = make_nonperiodic_case(true);
  solver::BlatterPattyn bp(c.grid, c.params);
  bp.set_geometry(c.thk, c.bed);
  bp.set_sia_initial_guess();
  const solver::BPPatchState s = bp.patch_state();
  const core::BPPatch& p = s.patch;
  // A smooth direction on the free nodes: half the velocity plus a few m/a.
  std::vector<double> direction(p.size(), 0.0);
  for (int j = 0; j < p.ny; ++j)
    for (int i = 0; i < p.nx; ++i)
      for (int k = 0; k < p.nz; ++k)
        if (!p.fixed(j, i, k)) {
          const std::size_t n = p.node(j, i, k) * 2;
          direction[n] = 0.5 * s.velocity[n] + 3.0 * std::sin(0.3 * i + 0.2 * k);
          direction[n + 1] = 0.5 * s.velocity[n + 1] + 3.0 * std::cos(0.25 * j - 0.1 * k);
        }
  const auto matrix_error = [&](double h, bool update) {
    solver::BPProblem problem(p);
    std::vector<double> x1 = s.velocity;
    for (std::size_t n = 0; n < x1.size(); ++n) x1[n] += h * direction[n];
    std::vector<double> exact(problem.hessian_size()), dual(problem.hessian_size());
    problem.hessian(x1.data(), exact.data());
    // From 0, a step of length 1 that does not move sets the dual stress to
    // the strain rate's direction at x0; then the step to x1, or none.
    problem.start_dual_stress();
    problem.update_dual_stress(s.velocity.data(), s.velocity.data(), 1.0);
    problem.update_dual_stress(s.velocity.data(), update ? x1.data() : s.velocity.data(), 1.0);
    problem.hessian(x1.data(), dual.data());
    double diff = 0, norm = 0;
    for (std::size_t e = 0; e < exact.size(); ++e) {
      diff += (dual[e] - exact[e]) * (dual[e] - exact[e]);
      norm += exact[e] * exact[e];
    }
    problem.clear_dual_stress();
    std::vector<double> again(problem.hessian_size());
    problem.hessian(x1.data(), again.data());
    EXPECT_EQ(again, exact) << "clear_dual_stress gives the exact Hessian back";
    return std::sqrt(diff / norm);
  };
  EXPECT_LT(matrix_error(0.0, true), 1e-6); // the dual stress is kept in single precision

  // Started at 0, the dual stress gives Picard's matrix K(x), the viscous
  // operator at x's viscosity: K(x) x = g(x) - g(0), the viscous part of
  // the gradient (no sliding here; the front loads do not depend on x).
  solver::BPProblem picard(p);
  picard.start_dual_stress();
  const std::vector<double>& x = s.velocity;
  std::vector<double> K(picard.hessian_size()), g(p.size()), g0(p.size()), Kx(p.size(), 0.0);
  picard.hessian(x.data(), K.data());
  picard.gradient(x.data(), g.data());
  picard.gradient(std::vector<double>(p.size(), 0.0).data(), g0.data());
  for (int j = p.ey0; j <= p.ey1; ++j)
    for (int i = p.ex0; i <= p.ex1; ++i)
      for (int k = 0; k < p.nz; ++k)
        for (int c1 = 0; c1 < 2; ++c1)
          for (int dj = -1; dj <= 1; ++dj)
            for (int di = -1; di <= 1; ++di)
              for (int dk = -1; dk <= 1; ++dk)
                for (int c2 = 0; c2 < 2; ++c2) {
                  const int jj = j + dj, ii = i + di, kk = k + dk;
                  if (jj < 0 || ii < 0 || kk < 0 || jj >= p.ny || ii >= p.nx || kk >= p.nz)
                    continue;
                  Kx[p.node(j, i, k) * 2 + std::size_t(c1)] +=
                      K[picard.hessian_index(j, i, k, c1, dj, di, dk, c2)] *
                      x[p.node(jj, ii, kk) * 2 + std::size_t(c2)];
                }
  double worst = 0, scale = 0;
  for (std::size_t n = 0; n < Kx.size(); ++n) {
    worst = std::max(worst, std::abs(Kx[n] - (g[n] - g0[n])));
    scale = std::max(scale, std::abs(g[n] - g0[n]));
  }
  EXPECT_GT(scale, 0.0);
  EXPECT_LT(worst / scale, 1e-10);
  // Small steps (speeds change by 1 %): the thin margins' strain rates are
  // tiny, and larger steps leave the asymptotic regime there.
  const double lagged = matrix_error(0.01, false), lagged_half = matrix_error(0.005, false);
  const double updated = matrix_error(0.01, true), updated_half = matrix_error(0.005, true);
  EXPECT_NEAR(lagged / lagged_half, 2.0, 0.4) << lagged << " " << lagged_half;
  EXPECT_NEAR(updated / updated_half, 4.0, 0.8) << updated << " " << updated_half;
  EXPECT_LT(updated, 0.2 * lagged);
}

// On the ice cap (margins: GMRES/ICC(1) and stress-velocity Newton by
// default) the stress-velocity Newton converges to the solution of Newton
// with the exact Hessian, in no more steps (on Greenland at 16 km 8 against
// 14: experiments/benchmarks/bp_real_grids.sh).
TEST(BlatterPattyn, StressVelocityNewtonGivesNewtonsSolution) {
  const NonPeriodicCase c = make_nonperiodic_case(true);
  solver::BlatterPattyn bp(c.grid, c.params);
  bp.set_geometry(c.thk, c.bed);
  const solver::BPSolveReport r = bp.solve();
  ASSERT_TRUE(r.converged) << r.reason;
  EXPECT_TRUE(r.stress_velocity);
  EXPECT_NE(bp.last_solve_summary().find("stress-velocity Newton"), std::string::npos);

  solver::BPParams pe = c.params;
  pe.options_prefix = "exact_";
  PetscOptionsSetValue(nullptr, "-exact_stress_velocity_newton", "0");
  solver::BlatterPattyn exact(c.grid, pe);
  exact.set_geometry(c.thk, c.bed);
  const solver::BPSolveReport e = exact.solve();
  PetscOptionsClearValue(nullptr, "-exact_stress_velocity_newton");
  ASSERT_TRUE(e.converged) << e.reason;
  EXPECT_FALSE(e.stress_velocity);
  EXPECT_LT(relative_difference(bp.solution(), exact.solution()), 1e-6);
  EXPECT_LE(r.newton_iterations, e.newton_iterations);
}

// Bad geometry gives one clear error, not a hang or NaN velocities.
// A problem the solver cannot solve within its bounds (here: one Newton step
// of one Krylov iteration per attempt) ends, after every rung of the ladder,
// with a non-converged report, and update() turns it into one clear error.
TEST(BlatterPattyn, HopelessProblemFailsCleanly) {
  model::IsmipHomCase c;
  c.nx = c.ny = 8;
  c.nz = 5;
  model::IsmipHomSetup s = model::make_ismip_hom(c, MPI_COMM_WORLD);
  solver::BPParams p = s.params;
  p.options_prefix = "hopeless_";
  PetscOptionsSetValue(nullptr, "-hopeless_snes_max_it", "1");
  PetscOptionsSetValue(nullptr, "-hopeless_ksp_max_it", "1");
  PetscOptionsSetValue(nullptr, "-hopeless_grid_sequence", "0");
  solver::BlatterPattyn bp(s.grid, p);
  bp.set_geometry(s.thk, s.bed);
  const solver::BPSolveReport r = bp.solve();
  EXPECT_FALSE(r.converged);
  EXPECT_GE(r.continuation_stages, 1);
  EXPECT_NE(r.reason.find("DIVERGED"), std::string::npos) << r.reason;
  core::Field2D usurf(s.grid, s.thk.info());
  Kokkos::deep_copy(usurf.view(), s.bed.view());
  {
    auto U = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), usurf.view());
    auto H = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), s.thk.view());
    for (size_t j = 0; j < U.extent(0); ++j)
      for (size_t i = 0; i < U.extent(1); ++i) U(j, i) += H(j, i);
    Kokkos::deep_copy(usurf.view(), U);
  }
  try {
    bp.update(solver::StressBalanceInputs{s.thk, s.bed, usurf, {}});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Newton did not converge"), std::string::npos) << e.what();
  }
  for (const char* o : {"-hopeless_snes_max_it", "-hopeless_ksp_max_it", "-hopeless_grid_sequence"})
    PetscOptionsClearValue(nullptr, o);
}

TEST(BlatterPattyn, NonFiniteGeometryIsAnError) {
  model::IsmipHomCase c;
  c.nx = c.ny = 8;
  model::IsmipHomSetup s = model::make_ismip_hom(c, MPI_COMM_WORLD);
  Kokkos::deep_copy(s.thk.view(), std::nan(""));
  solver::BlatterPattyn bp(s.grid, s.params);
  try {
    bp.set_geometry(s.thk, s.bed);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a finite, non-negative number"), std::string::npos)
        << e.what();
  }
}

// The factory builds the Blatter-Pattyn friction law from the sliding law:
// q = 1/m for every law, also when the friction comes as a beta^2 field (the
// pseudo-plastic law) and the uniform coefficient is 0; without a field and
// without a coefficient the bed does not slide.
TEST(BlatterPattyn, FactoryTakesTheFrictionExponentFromTheSlidingLaw) {
  const int n = 9;
  auto grid = core::ParallelGrid::create(MPI_COMM_WORLD, core::Grid(n, n, 2000.0, 2000.0, 0, 0));
  const core::FieldInfo info{"f", "", "", "m", "m", {}, ""};
  core::Field2D thk(grid, info), topg(grid, info), usurf(grid, info), beta2(grid, info);
  {
    const core::LocalBox b = grid->box();
    auto H = Kokkos::create_mirror_view(thk.view()), B = Kokkos::create_mirror_view(topg.view()),
         S = Kokkos::create_mirror_view(usurf.view()), C = Kokkos::create_mirror_view(beta2.view());
    for (int j = b.gys; j < b.gys + b.gym; ++j)
      for (int i = b.gxs; i < b.gxs + b.gxm; ++i) {
        const int J = b.lj(j), I = b.li(i);
        H(J, I) = 800.0 + 50.0 * std::cos(0.5 * i) * std::sin(0.3 * j);
        B(J, I) = 500.0 - 20.0 * i;
        S(J, I) = B(J, I) + H(J, I);
        C(J, I) = 2000.0; // Pa (m/a)^-1/3
      }
    for (auto [field, host] : {std::pair{&thk, H}, {&topg, B}, {&usurf, S}, {&beta2, C}})
      Kokkos::deep_copy(field->view(), host);
  }
  solver::StressBalanceParams params;
  params.flow.softness = 1e-16 / core::seconds_per_year;
  params.bp_levels = 5;
  params.sliding.exponent = 3.0; // q = 1/3
  for (const bool field : {true, false}) {
    auto sb = solver::make_stress_balance("bp", grid, params);
    auto& bp = dynamic_cast<solver::BlatterPattyn&>(*sb);
    bp.update({thk, topg, usurf, core::Floatation{}, field ? &beta2 : nullptr});
    const core::BPPatch& patch = bp.problem().patch();
    // Grounded ice everywhere: a fixed bed without sliding, a free one with the field.
    EXPECT_EQ(size_t(std::count(patch.bed_fixed.begin(), patch.bed_fixed.end(), 1)),
              field ? 0 : patch.bed_fixed.size());
    EXPECT_DOUBLE_EQ(patch.constants.friction_exponent, 1.0 / 3.0);
    EXPECT_TRUE(bp.last_report().converged);
  }
}
