// The geometric multigrid of the membrane reference (emulator/src/
// stencil_multigrid.hpp, an internal header): the CPU loops that assemble
// bilinear elements into a stencil and apply it equal the LibTorch
// operations, and the assembled stencil is the element-by-element operator;
// probing an operator recovers its
// stencil exactly, fixed nodes and grid edges included; the V-cycle is a
// symmetric positive definite map; and as the preconditioner of conjugate
// gradients on a two-component Q1 diffusion problem with coefficients
// jumping by 10^4 and an irregular set of fixed nodes (a "glacier" in a
// rectangle), it converges in 12-16 iterations on grids from 33 x 48 to
// 130 x 191 nodes (2 more per doubling), where the diagonal's count doubles
// with the grid (106 to 485).
#include "cg_iterations.hpp"
#include "stencil_multigrid.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <functional>

using namespace nunatak::emulator::detail;
using nunatak::test::cg_iterations;

namespace {

const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);

/// The stencil S [N, 9, 2, 2] with entries that point outside the grid or at
/// fixed nodes set to 0 and the rows of fixed nodes set to the identity.
torch::Tensor consistent(torch::Tensor S, const torch::Tensor& free, int64_t ny, int64_t nx) {
  S = S.clone();
  auto s = S.accessor<double, 4>();
  auto f = free.accessor<double, 1>();
  for (int64_t j = 0; j < ny; ++j)
    for (int64_t i = 0; i < nx; ++i) {
      const int64_t n = j * nx + i;
      for (int64_t o = 0; o < 9; ++o) {
        const int64_t jj = j + o / 3 - 1, ii = i + o % 3 - 1;
        const bool inside = jj >= 0 && jj < ny && ii >= 0 && ii < nx;
        for (int a = 0; a < 2; ++a)
          for (int b = 0; b < 2; ++b) {
            if (f[n] == 0)
              s[n][o][a][b] = (o == 4 && a == b) ? 1.0 : 0.0;
            else if (!inside || f[jj * nx + ii] == 0)
              s[n][o][a][b] = 0.0;
          }
      }
    }
  return S;
}

/// 1 inside an ellipse filling most of the ny x nx grid, 0 outside: [N].
torch::Tensor glacier_mask(int64_t ny, int64_t nx) {
  torch::Tensor free = torch::zeros({ny * nx}, f64);
  for (int64_t j = 0; j < ny; ++j)
    for (int64_t i = 0; i < nx; ++i) {
      const double y = (j + 0.5) / ny - 0.5, x = (i + 0.5) / nx - 0.5;
      free[j * nx + i] = (x * x / 0.2 + y * y / 0.23 < 1.0) ? 1.0 : 0.0;
    }
  return free;
}

/// A two-component Q1 problem on unit squares: per element k_e times the
/// Laplacian's element matrix for each component, plus 10^-4 times the mass
/// matrix coupling the components by [[1, 0.5], [0.5, 1]]; k_e = 10^(+-2) in
/// a checkerboard of 8 x 8-element blocks; rows and columns of fixed nodes
/// the identity.
torch::Tensor diffusion_stencil(const torch::Tensor& free, int64_t ny, int64_t nx) {
  const double laplace[4][4] = {{2. / 3, -1. / 6, -1. / 6, -1. / 3},
                                {-1. / 6, 2. / 3, -1. / 3, -1. / 6},
                                {-1. / 6, -1. / 3, 2. / 3, -1. / 6},
                                {-1. / 3, -1. / 6, -1. / 6, 2. / 3}};
  const double coupling[2][2] = {{1.0, 0.5}, {0.5, 1.0}};
  torch::Tensor S = torch::zeros({ny * nx, 9, 2, 2}, f64);
  auto s = S.accessor<double, 4>();
  for (int64_t j = 0; j + 1 < ny; ++j)
    for (int64_t i = 0; i + 1 < nx; ++i) {
      const double k = ((j / 8 + i / 8) % 2) ? 1e2 : 1e-2;
      for (int c = 0; c < 4; ++c)
        for (int d = 0; d < 4; ++d) {
          const int64_t n = (j + c / 2) * nx + i + c % 2;
          const int64_t o = 3 * (d / 2 - c / 2 + 1) + (d % 2 - c % 2 + 1);
          const double mass = (c == d ? 4.0 : (c + d == 3 ? 1.0 : 2.0)) / 36.0;
          for (int a = 0; a < 2; ++a)
            for (int b = 0; b < 2; ++b)
              s[n][o][a][b] += (a == b ? k * laplace[c][d] : 0.0) + 1e-4 * mass * coupling[a][b];
        }
    }
  return consistent(S, free, ny, nx);
}

} // namespace

TEST(StencilMultigrid, TheCpuLoopEqualsTheTorchOperations) {
  torch::manual_seed(3);
  for (const auto& [ny, nx] : {std::pair<int64_t, int64_t>{7, 5}, {1, 6}, {4, 1}, {12, 13}}) {
    const torch::Tensor S = torch::randn({ny * nx, 9, 2, 2}, f64);
    const torch::Tensor x = torch::randn({3, 2, ny * nx}, f64);
    const torch::Tensor loop = apply_stencil(S, x, ny, nx);
    const torch::Tensor ops = apply_stencil_ops(S, x, ny, nx);
    EXPECT_LT((loop - ops).abs().max().item<double>(), 1e-12) << ny << " x " << nx;
  }
}

TEST(StencilMultigrid, ProbingRecoversTheStencilExactly) {
  torch::manual_seed(4);
  for (const auto& [ny, nx] : {std::pair<int64_t, int64_t>{9, 11}, {2, 7}, {5, 1}}) {
    const torch::Tensor free = (torch::rand({ny * nx}, f64) > 0.3).to(torch::kFloat64);
    const torch::Tensor S = consistent(torch::randn({ny * nx, 9, 2, 2}, f64), free, ny, nx);
    // An operator that knows nothing of stencils: it zeroes fixed nodes itself.
    const GridOperator op = [&](const torch::Tensor& x) {
      return apply_stencil_ops(S, x * free, ny, nx) * free;
    };
    const torch::Tensor probed = probe_stencil(op, free, ny, nx);
    EXPECT_LT((probed - S).abs().max().item<double>(), 1e-14) << ny << " x " << nx;
  }
}

TEST(StencilMultigrid, TheVCycleIsSymmetricPositiveDefinite) {
  const int64_t ny = 37, nx = 50;
  const torch::Tensor free = glacier_mask(ny, nx);
  const StencilMultigrid cycle(diffusion_stencil(free, ny, nx), free, ny, nx);
  EXPECT_GE(cycle.levels(), 4);
  torch::manual_seed(5);
  const torch::Tensor a = torch::randn({1, 2, ny * nx}, f64) * free;
  const torch::Tensor b = torch::randn({1, 2, ny * nx}, f64) * free;
  const double ab = (cycle(a) * b).sum().item<double>(), ba = (a * cycle(b)).sum().item<double>();
  EXPECT_NEAR(ab, ba, 1e-10 * std::abs(ab));
  EXPECT_GT((a * cycle(a)).sum().item<double>(), 0.0);
  EXPECT_EQ(((cycle(a) * (1 - free)).abs().max().item<double>()), 0.0); // fixed nodes stay 0
}

TEST(StencilMultigrid, PreconditionedIterationsBarelyGrowWithTheGrid) {
  int previous_jacobi = 0, previous_multigrid = 0;
  for (const auto& [ny, nx] : {std::pair<int64_t, int64_t>{33, 48}, {65, 96}, {130, 191}}) {
    const torch::Tensor free = glacier_mask(ny, nx);
    const torch::Tensor S = diffusion_stencil(free, ny, nx);
    const GridOperator A = [&](const torch::Tensor& x) { return apply_stencil(S, x, ny, nx); };
    const StencilMultigrid cycle(S, free, ny, nx);
    const GridOperator V = [&](const torch::Tensor& r) { return cycle(r); };
    const torch::Tensor inverse_diagonal = 1.0 / stencil_diagonal(S);
    const GridOperator D = [&](const torch::Tensor& r) { return r * inverse_diagonal; };
    const torch::Tensor b = torch::ones({1, 2, ny * nx}, f64) * free;
    const int multigrid = cg_iterations(A, V, b), jacobi = cg_iterations(A, D, b);
    std::printf("%ld x %ld, %d levels: multigrid %d, Jacobi %d iterations\n", long(ny), long(nx),
                cycle.levels(), multigrid, jacobi);
    EXPECT_LE(multigrid, 18);
    EXPECT_GT(jacobi, 8 * multigrid);
    if (previous_jacobi >
        0) { // doubling the grid: Jacobi's count doubles, multigrid's barely grows
      EXPECT_GT(jacobi, 1.8 * previous_jacobi);
      EXPECT_LE(multigrid, previous_multigrid + 3);
    }
    previous_jacobi = jacobi;
    previous_multigrid = multigrid;
  }
}

TEST(StencilMultigrid, TheAssemblyLoopEqualsTheTorchOperations) {
  torch::manual_seed(6);
  const int64_t ny = 6, nx = 7, N = ny * nx;
  std::vector<int64_t> corners;
  for (int64_t j = 0; j + 1 < ny; ++j)
    for (int64_t i = 0; i + 1 < nx; ++i)
      if ((i + 2 * j) % 5 != 0) // some elements missing, as at ice margins
        for (int64_t c = 0; c < 4; ++c) corners.push_back((j + c / 2) * nx + i + c % 2);
  const int64_t E = int64_t(corners.size()) / 4;
  const torch::Tensor corner = torch::tensor(corners, torch::kInt64).view({E, 4});
  const torch::Tensor k = torch::rand({E}, f64), membrane = torch::randn({4, 4, 2, 2}, f64);
  const torch::Tensor mass = torch::rand({E, 4, 4}, f64), lumped = torch::rand({N}, f64);
  const torch::Tensor free = (torch::rand({N}, f64) > 0.2).to(torch::kFloat64);
  const torch::Tensor loop = assemble_q1_stencil(corner, k, membrane, mass, lumped, free, nx);
  const torch::Tensor ops = assemble_q1_stencil_ops(corner, k, membrane, mass, lumped, free, nx);
  EXPECT_LT((loop - ops).abs().max().item<double>(), 1e-12);
  EXPECT_GT(loop.abs().sum().item<double>(), 10.0);
  // The assembled operator is the element-by-element one.
  const torch::Tensor x = torch::randn({1, 2, N}, f64) * free;
  torch::Tensor direct = torch::zeros({1, 2, N}, f64);
  for (int64_t e = 0; e < E; ++e)
    for (int64_t c = 0; c < 4; ++c)
      for (int64_t d = 0; d < 4; ++d)
        for (int64_t a = 0; a < 2; ++a)
          for (int64_t b = 0; b < 2; ++b) {
            const int64_t n = corners[size_t(4 * e + c)], m = corners[size_t(4 * e + d)];
            const double entry = k[e].item<double>() * membrane[c][d][a][b].item<double>() +
                                 (a == b ? mass[e][c][d].item<double>() : 0.0);
            direct[0][a][n] += free[n] * entry * x[0][b][m];
          }
  direct += lumped * free * x;
  EXPECT_LT((apply_stencil(loop, x, ny, nx) - direct).abs().max().item<double>(), 1e-12);
}
