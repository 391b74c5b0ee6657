// The periodic geometric multigrid (emulator/src/stencil_multigrid.hpp,
// GridWrap) and the torus of a periodic patch (column_tie.hpp), internal
// headers: on grids that wrap around, applying a stencil by the CPU loop
// equals the LibTorch operations and probing recovers the operator, down
// to directions of one and two nodes where offsets alias; a patch with one
// ghost column on each side folds into the torus's stencil exactly
// (fold A spread); and as the preconditioner of conjugate gradients on a
// periodic two-component Q1 diffusion problem (coefficients jumping by
// 10^4) the torus's V-cycle converges in a count that barely grows from 32
// x 32 to 128 x 128 nodes, where the patch's V-cycle, folded as the
// refinement used it before, takes several times as many iterations.
#include "cg_iterations.hpp"
#include "column_tie.hpp"
#include "stencil_multigrid.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <functional>
#include <utility>
#include <vector>

using namespace nunatak::emulator::detail;
using nunatak::test::cg_iterations;

namespace {

const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);

/// A two-component Q1 problem on unit squares: each listed element (its
/// lowest corner (j, i)) adds k_e times the Laplacian's element matrix per
/// component plus 10^-4 times the mass matrix coupling the components by
/// [[1, 0.5], [0.5, 1]], with k_e = 10^(+-2) in a checkerboard of 8 x
/// 8-element blocks. Corner (j + dj, i + di) is node `node(j + dj, i + di)`,
/// and its coupling is stored at the offset of (dj, di) relative to the row's
/// corner. [N, 9, 2, 2] for N nodes.
torch::Tensor diffusion(int64_t N, const std::vector<std::pair<int64_t, int64_t>>& elements,
                        const std::function<int64_t(int64_t, int64_t)>& node) {
  const double laplace[4][4] = {{2. / 3, -1. / 6, -1. / 6, -1. / 3},
                                {-1. / 6, 2. / 3, -1. / 3, -1. / 6},
                                {-1. / 6, -1. / 3, 2. / 3, -1. / 6},
                                {-1. / 3, -1. / 6, -1. / 6, 2. / 3}};
  const double coupling[2][2] = {{1.0, 0.5}, {0.5, 1.0}};
  torch::Tensor S = torch::zeros({N, 9, 2, 2}, f64);
  auto s = S.accessor<double, 4>();
  for (const auto& [j, i] : elements) {
    const double k = ((j / 8 + i / 8) % 2) ? 1e2 : 1e-2;
    for (int c = 0; c < 4; ++c)
      for (int d = 0; d < 4; ++d) {
        const int64_t n = node(j + c / 2, i + c % 2);
        const int64_t o = 3 * (d / 2 - c / 2 + 1) + (d % 2 - c % 2 + 1);
        const double mass = (c == d ? 4.0 : (c + d == 3 ? 1.0 : 2.0)) / 36.0;
        for (int a = 0; a < 2; ++a)
          for (int b = 0; b < 2; ++b)
            s[n][o][a][b] += (a == b ? k * laplace[c][d] : 0.0) + 1e-4 * mass * coupling[a][b];
      }
  }
  return S;
}

/// The periodic diffusion problem on an ny x nx torus (every element, its
/// corners wrapped around).
torch::Tensor torus_diffusion(int64_t ny, int64_t nx) {
  std::vector<std::pair<int64_t, int64_t>> elements;
  for (int64_t j = 0; j < ny; ++j)
    for (int64_t i = 0; i < nx; ++i) elements.emplace_back(j, i);
  return diffusion(ny * nx, elements, [=](int64_t j, int64_t i) { return (j % ny) * nx + i % nx; });
}

/// A patch of (ny + 2) x (nx + 2) columns holding one period of the torus
/// problem above (box [1, ny] x [1, nx], ghosts around it, each element
/// once: lowest corners in the box) and its tie.
struct Patch {
  int64_t py = 0, px = 0;
  torch::Tensor stencil, free;
  ColumnTie tie;
};

Patch periodic_patch(int64_t ny, int64_t nx) {
  Patch p;
  p.py = ny + 2;
  p.px = nx + 2;
  // Element (j, i) of the torus has its lowest corner at column (j + 1, i + 1).
  std::vector<std::pair<int64_t, int64_t>> elements;
  for (int64_t j = 0; j < ny; ++j)
    for (int64_t i = 0; i < nx; ++i) elements.emplace_back(j, i);
  const int64_t px = p.px;
  p.stencil =
      diffusion(p.py * p.px, elements, [=](int64_t j, int64_t i) { return (j + 1) * px + i + 1; });
  // The first ghost row and column have no element: fixed (identity rows).
  p.free = p.stencil.abs().sum({1, 2, 3}).gt(0).to(torch::kFloat64);
  const torch::Tensor identity = torch::zeros({9, 2, 2}, f64).index_put_({4}, torch::eye(2, f64));
  p.stencil = p.stencil + (1 - p.free).view({-1, 1, 1, 1}) * identity;
  std::vector<int64_t> partner;
  const auto image = [](int64_t k, int64_t n) { return 1 + ((k - 1) % n + n) % n; };
  for (int64_t j = 0; j < p.py; ++j)
    for (int64_t i = 0; i < p.px; ++i) partner.push_back(image(j, ny) * px + image(i, nx));
  p.tie.partner = torch::tensor(partner, torch::kInt64);
  return p;
}

} // namespace

TEST(PeriodicMultigrid, WrappedStencilsAreAppliedAndProbedExactly) {
  torch::manual_seed(11);
  for (const auto& [ny, nx] :
       {std::pair<int64_t, int64_t>{8, 6}, {5, 7}, {4, 2}, {6, 1}, {2, 2}, {1, 9}}) {
    for (const GridWrap wrap :
         {GridWrap{true, true}, GridWrap{false, true}, GridWrap{true, false}}) {
      const int64_t N = ny * nx;
      const torch::Tensor S = torch::randn({N, 9, 2, 2}, f64);
      const torch::Tensor x = torch::randn({3, 2, N}, f64);
      const torch::Tensor loop = apply_stencil(S, x, ny, nx, wrap);
      EXPECT_LT((loop - apply_stencil_ops(S, x, ny, nx, wrap)).abs().max().item<double>(), 1e-12);
      // By hand at one node with every neighbour wrapped or cut.
      const int64_t j = 0, i = nx - 1;
      double expected = 0;
      for (int64_t o = 0; o < 9; ++o) {
        int64_t jj = j + o / 3 - 1, ii = i + o % 3 - 1;
        if (jj < 0 || jj >= ny) jj = wrap.y ? (jj + ny) % ny : -1;
        if (ii < 0 || ii >= nx) ii = wrap.x ? (ii + nx) % nx : -1;
        if (jj < 0 || ii < 0) continue;
        for (int64_t b = 0; b < 2; ++b)
          expected += S[j * nx + i][o][1][b].item<double>() * x[2][b][jj * nx + ii].item<double>();
      }
      EXPECT_NEAR(loop[2][1][j * nx + i].item<double>(), expected, 1e-12);
      // Probing recovers the operator (aliased offsets summed into one).
      const torch::Tensor free = (torch::rand({N}, f64) > 0.2).to(torch::kFloat64);
      const GridOperator op = [&](const torch::Tensor& y) {
        return apply_stencil(S, y * free, ny, nx, wrap) * free;
      };
      const torch::Tensor probed = probe_stencil(op, free, ny, nx, wrap);
      const torch::Tensor y = torch::randn({2, 2, N}, f64) * free;
      EXPECT_LT((apply_stencil(probed, y, ny, nx, wrap) - op(y)).abs().max().item<double>(), 1e-12)
          << ny << " x " << nx << " wrap " << wrap.y << wrap.x;
    }
  }
}

TEST(PeriodicMultigrid, APatchWithGhostsFoldsIntoTheTorusStencil) {
  const int64_t ny = 12, nx = 10;
  const Patch p = periodic_patch(ny, nx);
  const std::optional<Torus> torus = find_torus(p.tie, p.py, p.px);
  ASSERT_TRUE(torus.has_value());
  EXPECT_EQ(torus->ny, ny);
  EXPECT_EQ(torus->nx, nx);
  EXPECT_TRUE(torus->wrap.y && torus->wrap.x);
  const torch::Tensor T = torus_stencil(p.stencil, p.free, p.tie, p.py, p.px, *torus);
  // The same operator as the torus problem assembled directly...
  torch::manual_seed(12);
  const torch::Tensor x = torch::randn({1, 2, ny * nx}, f64);
  const GridWrap both{true, true};
  const torch::Tensor direct = apply_stencil(torus_diffusion(ny, nx), x, ny, nx, both);
  EXPECT_LT((apply_stencil(T, x, ny, nx, both) - direct).abs().max().item<double>(), 1e-12);
  // ... and as fold A spread on the patch.
  const torch::Tensor on_patch =
      torch::zeros({1, 2, p.py * p.px}, f64).index_copy(2, torus->nodes, x);
  const torch::Tensor folded =
      p.tie.fold(apply_stencil(p.stencil, p.tie.spread(on_patch, 2), p.py, p.px) * p.free, 2);
  EXPECT_LT((folded.index_select(2, torus->nodes) - direct).abs().max().item<double>(), 1e-12);
  EXPECT_GT(direct.abs().max().item<double>(), 1e-3);

  // Not a torus: no tie, or a map whose ghosts point elsewhere.
  EXPECT_FALSE(find_torus(ColumnTie{}, p.py, p.px).has_value());
  ColumnTie shifted{p.tie.partner.clone()};
  shifted.partner[0] = shifted.partner[1];
  EXPECT_FALSE(find_torus(shifted, p.py, p.px).has_value());
  // Periodic along x only: no ghost rows, so y does not wrap.
  std::vector<int64_t> partner;
  for (int64_t j = 0; j < ny; ++j)
    for (int64_t i = 0; i < nx + 2; ++i)
      partner.push_back(j * (nx + 2) + 1 + ((i - 1) % nx + nx) % nx);
  const std::optional<Torus> strip =
      find_torus(ColumnTie{torch::tensor(partner, torch::kInt64)}, ny, nx + 2);
  ASSERT_TRUE(strip.has_value());
  EXPECT_FALSE(strip->wrap.y);
  EXPECT_TRUE(strip->wrap.x);
  EXPECT_EQ(strip->ny * strip->nx, ny * nx);
}

TEST(PeriodicMultigrid, TheTorusVCycleConvergesWhereThePatchOneDidNot) {
  const GridWrap both{true, true};
  int previous = 0;
  for (const int64_t n : {32, 64, 128}) {
    const torch::Tensor S = torus_diffusion(n, n), free = torch::ones({n * n}, f64);
    const StencilMultigrid cycle(S, free, n, n, MultigridOptions{}, both);
    const GridOperator A = [&](const torch::Tensor& x) { return apply_stencil(S, x, n, n, both); };
    const GridOperator V = [&](const torch::Tensor& r) { return cycle(r); };
    // A right-hand side with zero mean per component: the mass term alone
    // holds the constants, as the friction does on ISMIP-HOM's sliding beds.
    torch::manual_seed(13);
    torch::Tensor b = torch::randn({1, 2, n * n}, f64);
    b = b - b.mean(2, true);
    // The V-cycle is symmetric positive definite.
    const torch::Tensor a = torch::randn({1, 2, n * n}, f64);
    const double ab = (cycle(a) * b).sum().item<double>(), ba = (a * cycle(b)).sum().item<double>();
    EXPECT_NEAR(ab, ba, 1e-10 * std::abs(ab));
    EXPECT_GT((a * cycle(a)).sum().item<double>(), 0.0);
    const int torus_iterations = cg_iterations(A, V, b);
    // The patch's V-cycle (the periodic edges taken as the grid's edges), folded.
    const Patch p = periodic_patch(n, n);
    const Torus torus = *find_torus(p.tie, p.py, p.px);
    const StencilMultigrid patch_cycle(p.stencil, p.free, p.py, p.px);
    const GridOperator folded_patch_cycle = [&](const torch::Tensor& r) {
      const torch::Tensor on_patch =
          torch::zeros({r.size(0), 2, p.py * p.px}, f64).index_copy(2, torus.nodes, r);
      return p.tie.fold(patch_cycle(p.tie.spread(on_patch, 2)), 2).index_select(2, torus.nodes);
    };
    const int patch_iterations = cg_iterations(A, folded_patch_cycle, b);
    std::printf("%ld x %ld torus, %d levels: torus V-cycle %d, the patch's folded %d iterations\n",
                long(n), long(n), cycle.levels(), torus_iterations, patch_iterations);
    EXPECT_LE(torus_iterations, 18);
    EXPECT_GT(patch_iterations, 3 * torus_iterations);
    if (previous > 0) {
      EXPECT_LE(torus_iterations, previous + 3);
    }
    previous = torus_iterations;
  }
}
