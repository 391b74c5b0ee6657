// The Blatter-Pattyn sample solver on several ranks, and the solver team
// (rank 0 drives, every rank solves: model/solver_team.hpp), against the
// same solver on one rank: a slab with a thickness bump and a slippery patch
// (the velocity and the adjoint are not uniform), 16 x 12 columns, 5 levels.
// Runs at 1 and 2 ranks.

#include "nunatak/core/bp_patch.hpp"
#include "nunatak/core/error.hpp"
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
