// The Blatter-Pattyn sample solver on several ranks, and the solver team
// (rank 0 drives, every rank solves: model/solver_team.hpp), against the
// same solver on one rank: a slab with a thickness bump and a slippery patch
// (the velocity and the adjoint are not uniform), 16 x 12 columns, 5 levels.
// Runs at 1 and 2 ranks.

#include "nunatak/core/bp_patch.hpp"
#include "nunatak/core/error.hpp"
#include "nunatak/core/parallel_grid.hpp"
#include "nunatak/model/sample_solver.hpp"
#include "nunatak/model/solver_team.hpp"

#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

using namespace nunatak;

namespace {

constexpr int nx = 16, ny = 12, nz = 5;
constexpr double dx = 5000.0;

core::BPPatch bumpy_slab() {
  std::vector<double> H(size_t(nx * ny)), b(H.size()), beta2(H.size(), 2000.0);
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) {
      const size_t c = size_t(j * nx + i);
      const double r2 = std::pow(i - 7.5, 2) + std::pow(j - 5.5, 2);
      H[c] = 500.0 + 300.0 * std::exp(-r2 / 8.0);
      b[c] = 1000.0 - 0.01 * i * dx;
      if (i >= 9 && i <= 11 && j >= 4 && j <= 6) beta2[c] = 50.0;
    }
  std::vector<double> sigma(nz);
  for (int k = 0; k < nz; ++k) sigma[size_t(k)] = double(k) / (nz - 1);
  const std::vector<double> hardness(H.size() * nz, std::pow(1e-16, -1.0 / 3.0));
  return core::make_bp_patch(nx, ny, dx, dx, sigma, H, b, beta2, hardness, core::BPConstants{},
                             true, false);
}

/// A right-hand side for the adjoint: the surface velocity, weighted by position.
std::vector<double> adjoint_rhs(const core::BPPatch& p, const std::vector<double>& u) {
  std::vector<double> rhs(p.size(), 0.0);
  for (int j = 0; j < p.ny; ++j)
    for (int i = 0; i < p.nx; ++i)
      for (size_t c = 0; c < 2; ++c) {
        const size_t n = 2 * p.node(j, i, p.nz - 1) + c;
        rhs[n] = (1.0 + 0.1 * i - 0.05 * j) * u[n];
      }
  return rhs;
}

/// max |a - b| / max |b|.
double relative_difference(const std::vector<double>& a, const std::vector<double>& b) {
  double diff = 0, scale = 0;
  for (size_t n = 0; n < b.size(); ++n) {
    diff = std::max(diff, std::abs(a[n] - b[n]));
    scale = std::max(scale, std::abs(b[n]));
  }
  return diff / scale;
}

int rank_of_world() {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

} // namespace

TEST(SampleSolver, OnEveryRankItSolvesAsOnOne) {
  const core::BPPatch patch = bumpy_slab();
  model::SampleSolver one(patch, true, "team_one_", true, MPI_COMM_SELF);
  const std::vector<double> u1 = one.solve(patch.thickness);
  const std::vector<double> l1 = one.adjoint(adjoint_rhs(patch, u1));
  model::SampleSolver all(patch, true, "team_all_", true, MPI_COMM_WORLD);
  const bool zero = rank_of_world() == 0;
  const std::vector<double> u = all.solve(zero ? patch.thickness : std::vector<double>());
  const std::vector<double> l = all.adjoint(zero ? adjoint_rhs(patch, u) : std::vector<double>());
  if (!zero) {
    EXPECT_TRUE(u.empty());
    EXPECT_TRUE(l.empty());
    return;
  }
  ASSERT_EQ(u.size(), patch.size());
  ASSERT_EQ(l.size(), patch.size());
  const double du = relative_difference(u, u1), dl = relative_difference(l, l1);
  std::printf(
      "against one rank: velocity %.2g, adjoint %.2g (largest difference / largest value)\n", du,
      dl);
  EXPECT_LT(du, 1e-6);
  EXPECT_LT(dl, 1e-6);
  // Not trivial: the slippery patch is fast, the bed nodes of the rest are still.
  double fastest = 0;
  for (double v : u1) fastest = std::max(fastest, std::abs(v));
  EXPECT_GT(fastest, 50.0);
}

TEST(SampleSolver, SplitsTheIceNotTheGrid) {
  // 20 x 40 columns, ice on the last 10 rows only (a tenth of the weight elsewhere).
  constexpr int wide = 20, tall = 40;
  std::vector<double> H(size_t(wide * tall), 0.0), b(H.size(), 100.0), beta2(H.size(), 1e3);
  for (int j = 30; j < tall; ++j)
    for (int i = 0; i < wide; ++i) H[size_t(j * wide + i)] = 300.0;
  const std::vector<double> sigma = {0.0, 0.5, 1.0};
  const core::BPPatch patch =
      core::make_bp_patch(wide, tall, 1000.0, 1000.0, sigma, H, b, beta2,
                          std::vector<double>(H.size() * 3, 1e8), core::BPConstants{}, true, false);
  EXPECT_TRUE(model::ice_balanced_decomposition(patch, 1).ownership_y.empty());
  // Two ranks: boxes of 20 x ~34 and 20 x ~6 rows, not 20 x 20 each (30
  // ice-free rows weigh 60, each ice row 20: half of 260 is reached at 33.5).
  const core::DecompositionOptions two = model::ice_balanced_decomposition(patch, 2);
  EXPECT_EQ(two.ownership_x, std::vector<int>({wide}));
  ASSERT_EQ(two.ownership_y.size(), 2u);
  EXPECT_GE(two.ownership_y[0], 33);
  EXPECT_LE(two.ownership_y[0], 34);
  EXPECT_EQ(two.ownership_y[0] + two.ownership_y[1], tall);
  // Four ranks: every box at least 2 cells wide, all cells owned.
  const core::DecompositionOptions four = model::ice_balanced_decomposition(patch, 4);
  ASSERT_EQ(four.ownership_x.size() * four.ownership_y.size(), 4u);
  int rows = 0;
  for (int r : four.ownership_y) {
    EXPECT_GE(r, 2);
    rows += r;
  }
  EXPECT_EQ(rows, tall);
}

TEST(SolverTeam, RankZeroLeadsAndEveryRankSolves) {
  const core::BPPatch patch = bumpy_slab();
  model::SampleSolver one(patch, true, "team_one_", true, MPI_COMM_SELF);
  const std::vector<double> u1 = one.solve(patch.thickness);
  std::vector<double> thinner = patch.thickness;
  for (double& h : thinner) h *= 0.9;
  one.set_velocity(u1);
  const std::vector<double> u1_thinner = one.solve(thinner);
  const std::vector<double> l1_thinner = one.adjoint(adjoint_rhs(patch, u1_thinner));

  model::SolverTeam team(MPI_COMM_WORLD);
  int size = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  EXPECT_EQ(team.size(), size);
  EXPECT_EQ(team.leader(), rank_of_world() == 0);
  if (!team.leader()) {
    team.serve();
    MPI_Barrier(MPI_COMM_WORLD);
    return;
  }
  {
    model::TeamSampleSolver s(&team, patch, true, "team_", true);
    EXPECT_LT(relative_difference(s.solve(patch.thickness), u1), 1e-6);
    // A bad call fails on every rank; the team goes on.
    EXPECT_THROW(s.solve(std::vector<double>(3, 100.0)), Error);
    s.set_velocity(u1);
    const std::vector<double> u = s.solve(thinner);
    EXPECT_LT(relative_difference(u, u1_thinner), 1e-6);
    EXPECT_LT(relative_difference(s.adjoint(adjoint_rhs(patch, u)), l1_thinner), 1e-6);
    EXPECT_GE(s.newton_iterations(), 1);
    // A second solver beside the first (the inversion's final check).
    model::TeamSampleSolver check(&team, patch, true, "team_check_", true);
    EXPECT_LT(relative_difference(check.solve(thinner), u1_thinner), 1e-6);
  }
  team.finish();
  team.finish(); // the second time does nothing
  EXPECT_THROW(model::TeamSampleSolver(&team, patch, true, "team_", true), Error);
  MPI_Barrier(MPI_COMM_WORLD);
}
