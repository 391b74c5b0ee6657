/// \file stencil_multigrid.cpp
/// Geometric multigrid on 3 x 3 stencils (stencil_multigrid.hpp).

#include "stencil_multigrid.hpp"

#include "nunatak/core/error.hpp"

#include <ATen/Parallel.h>
#include <torch/nn/functional/padding.h>
#include <torch/types.h>

#include <algorithm>
#include <string>

namespace nunatak::emulator::detail {

namespace {

namespace F = torch::nn::functional;

/// The index along a direction of n nodes of the neighbour at i + d: wrapped
/// around where the direction is periodic, -1 outside the grid elsewhere.
int64_t neighbour_index(int64_t i, int64_t d, int64_t n, bool periodic) {
  const int64_t k = i + d;
  if (k >= 0 && k < n) return k;
  return periodic ? ((k % n) + n) % n : -1;
}

/// The flat index of each node's neighbour at each 3 x 3 offset o = 3 ky + kx
/// (neighbour (j + ky - 1, i + kx - 1)), -1 outside the grid: [9, N], int64, CPU.
torch::Tensor neighbours(int64_t ny, int64_t nx, GridWrap wrap) {
  const int64_t N = ny * nx;
  torch::Tensor out = torch::empty({9, N}, torch::kInt64);
  int64_t* p = out.data_ptr<int64_t>();
  for (int64_t o = 0; o < 9; ++o)
    for (int64_t j = 0; j < ny; ++j)
      for (int64_t i = 0; i < nx; ++i) {
        const int64_t jj = neighbour_index(j, o / 3 - 1, ny, wrap.y);
        const int64_t ii = neighbour_index(i, o % 3 - 1, nx, wrap.x);
        p[o * N + j * nx + i] = (jj >= 0 && ii >= 0) ? jj * nx + ii : -1;
      }
  return out;
}

/// Linear interpolation along `dim` from n points to the 2 n - 1 points
/// that hold them at the even places and their midpoints between.
torch::Tensor refine(const torch::Tensor& coarse, int64_t dim) {
  const int64_t n = coarse.size(dim);
  if (n == 1) return coarse;
  const torch::Tensor middle = 0.5 * (coarse.narrow(dim, 0, n - 1) + coarse.narrow(dim, 1, n - 1));
  const torch::Tensor end = torch::zeros_like(coarse.narrow(dim, 0, 1));
  return torch::stack({coarse, torch::cat({middle, end}, dim)}, dim + 1)
      .flatten(dim, dim + 1)
      .narrow(dim, 0, 2 * n - 1);
}

/// The transpose of refine: from 2 n - 1 points along `dim` to n.
torch::Tensor coarsen(const torch::Tensor& fine, int64_t dim) {
  const int64_t m = fine.size(dim);
  if (m == 1) return fine;
  const torch::Tensor even = fine.slice(dim, 0, m, 2), odd = fine.slice(dim, 1, m, 2);
  const torch::Tensor zero = torch::zeros_like(even.narrow(dim, 0, 1));
  return even + 0.5 * (torch::cat({odd, zero}, dim) + torch::cat({zero, odd}, dim));
}

/// The size of the coarse grid along a fine one of n nodes: every other
/// node, the last one padded in when n is even; on a periodic direction, n/2
/// for even n, and n itself for odd n (that direction is not coarsened).
int64_t coarse_size(int64_t n, bool periodic) {
  if (periodic) return n % 2 == 0 ? n / 2 : n;
  return n / 2 + 1;
}

/// Periodic linear interpolation along `dim` from n points to 2 n: the
/// coarse values at the even places, the mean of the two coarse neighbours
/// (the last with the first) at the odd ones.
torch::Tensor refine_periodic(const torch::Tensor& coarse, int64_t dim) {
  const torch::Tensor next = torch::roll(coarse, -1, dim);
  return torch::stack({coarse, 0.5 * (coarse + next)}, dim + 1).flatten(dim, dim + 1);
}

/// The transpose of refine_periodic: from 2 n points along `dim` to n.
torch::Tensor coarsen_periodic(const torch::Tensor& fine, int64_t dim) {
  const int64_t m = fine.size(dim);
  const torch::Tensor even = fine.slice(dim, 0, m, 2), odd = fine.slice(dim, 1, m, 2);
  return even + 0.5 * (odd + torch::roll(odd, 1, dim));
}

/// Interpolation along `dim` to `fine_n` points: refine, or on a periodic
/// direction refine_periodic (the identity where it is not coarsened).
torch::Tensor refine_along(const torch::Tensor& coarse, int64_t dim, int64_t fine_n,
                           bool periodic) {
  if (!periodic) return refine(coarse, dim).narrow(dim, 0, fine_n);
  return coarse.size(dim) == fine_n ? coarse : refine_periodic(coarse, dim);
}

/// The transpose of refine_along: from the fine points along `dim` to `coarse_n`.
torch::Tensor coarsen_along(const torch::Tensor& fine, int64_t dim, int64_t coarse_n,
                            bool periodic) {
  const int64_t m = fine.size(dim);
  if (periodic) return m == coarse_n ? fine : coarsen_periodic(fine, dim);
  std::vector<int64_t> pad(size_t(2 * fine.dim()), 0); // last dimension first
  pad[size_t(2 * (fine.dim() - 1 - dim) + 1)] = 2 * coarse_n - 1 - m;
  return coarsen(F::pad(fine, F::PadFuncOptions(pad)), dim);
}

/// P^T r: the restriction of the fields r [B, 2, fine ny fine nx] (masked
/// by the fine free nodes) to the coarse grid, [B, 2, ny nx].
torch::Tensor restrict_field(const torch::Tensor& r, const torch::Tensor& fine_free,
                             int64_t fine_ny, int64_t fine_nx, int64_t ny, int64_t nx,
                             GridWrap wrap) {
  const int64_t B = r.size(0);
  const torch::Tensor fine = (r * fine_free).view({B, 2, fine_ny, fine_nx});
  return coarsen_along(coarsen_along(fine, 2, ny, wrap.y), 3, nx, wrap.x).reshape({B, 2, ny * nx});
}

/// P x: the bilinear interpolation of the fields x [B, 2, ny nx] on the
/// coarse grid to the fine grid, 0 on its fixed nodes.
torch::Tensor prolong_field(const torch::Tensor& x, const torch::Tensor& fine_free, int64_t fine_ny,
                            int64_t fine_nx, int64_t ny, int64_t nx, GridWrap wrap) {
  const int64_t B = x.size(0);
  return refine_along(refine_along(x.view({B, 2, ny, nx}), 2, fine_ny, wrap.y), 3, fine_nx, wrap.x)
             .reshape({B, 2, fine_ny * fine_nx}) *
         fine_free;
}

/// x [B, 2, ny, nx] with one node more on each side of each direction: the
/// nodes from the other side on a periodic direction, zeros elsewhere.
torch::Tensor pad_grid(const torch::Tensor& x, GridWrap wrap) {
  torch::Tensor out = x;
  for (const auto& [dim, periodic] : {std::pair<int64_t, bool>{2, wrap.y}, {3, wrap.x}}) {
    const int64_t n = out.size(dim);
    const torch::Tensor before =
        periodic ? out.narrow(dim, n - 1, 1) : torch::zeros_like(out.narrow(dim, 0, 1));
    const torch::Tensor after =
        periodic ? out.narrow(dim, 0, 1) : torch::zeros_like(out.narrow(dim, 0, 1));
    out = torch::cat({before, out, after}, dim);
  }
  return out;
}

} // namespace

torch::Tensor stencil_diagonal(const torch::Tensor& stencil) {
  const torch::Tensor centre = stencil.select(1, 4); // [N, 2, 2]
  return torch::stack({centre.select(1, 0).select(1, 0), centre.select(1, 1).select(1, 1)});
}

torch::Tensor apply_stencil_ops(const torch::Tensor& stencil, const torch::Tensor& x, int64_t ny,
                                int64_t nx, GridWrap wrap) {
  // One fused multiply-add per offset and component pair on shifted views
  // of the padded fields (several times faster than unfolding them).
  const int64_t B = x.size(0);
  const torch::Tensor padded = pad_grid(x.view({B, 2, ny, nx}), wrap);
  const torch::Tensor s = stencil.permute({1, 2, 3, 0}).reshape({9, 2, 2, ny, nx});
  torch::Tensor y = torch::zeros({B, 2, ny, nx}, x.options());
  for (int64_t o = 0; o < 9; ++o) {
    const torch::Tensor shifted = padded.narrow(2, o / 3, ny).narrow(3, o % 3, nx);
    for (int64_t a = 0; a < 2; ++a) {
      torch::Tensor ya = y.select(1, a);
      for (int64_t b = 0; b < 2; ++b) ya.addcmul_(s[o][a][b], shifted.select(1, b));
    }
  }
  return y.view({B, 2, ny * nx});
}

torch::Tensor apply_stencil(const torch::Tensor& stencil, const torch::Tensor& x, int64_t ny,
                            int64_t nx, GridWrap wrap) {
  if (!x.device().is_cpu() || x.scalar_type() != torch::kFloat64 ||
      stencil.scalar_type() != torch::kFloat64)
    return apply_stencil_ops(stencil, x, ny, nx, wrap);
  // On the CPU, one loop: the 36 operations per node of the torch version
  // are each too small to pay for their dispatch on the grids used here.
  const int64_t B = x.size(0), N = ny * nx;
  const torch::Tensor xs = x.contiguous(), s = stencil.contiguous();
  torch::Tensor y = torch::zeros({B, 2, N}, x.options());
  const double* S = s.data_ptr<double>();
  for (int64_t batch = 0; batch < B; ++batch) {
    const double* u = xs.data_ptr<double>() + batch * 2 * N;
    const double* v = u + N;
    double* yu = y.data_ptr<double>() + batch * 2 * N;
    double* yv = yu + N;
    // Node (j, i); `edge`: some of its neighbours are outside the grid (or
    // wrap around it).
    const auto node = [&](int64_t j, int64_t i, bool edge) {
      const int64_t n = j * nx + i;
      const double* sn = S + n * 36; // S[n][o][a][b] at sn[4 o + 2 a + b]
      double fu = 0, fv = 0;
      for (int64_t o = 0; o < 9; ++o) {
        int64_t jj = j + o / 3 - 1, ii = i + o % 3 - 1;
        if (edge) {
          jj = neighbour_index(j, o / 3 - 1, ny, wrap.y);
          ii = neighbour_index(i, o % 3 - 1, nx, wrap.x);
          if (jj < 0 || ii < 0) continue;
        }
        const int64_t m = jj * nx + ii;
        fu += sn[4 * o] * u[m] + sn[4 * o + 1] * v[m];
        fv += sn[4 * o + 2] * u[m] + sn[4 * o + 3] * v[m];
      }
      yu[n] = fu;
      yv[n] = fv;
    };
    // Rows in parallel on LibTorch's threads (each node writes its own
    // output: the same numbers on any number of threads); the coarse
    // levels' small grids stay on one.
    at::parallel_for(0, ny, std::max<int64_t>(1, 16384 / std::max<int64_t>(nx, 1)),
                     [&](int64_t first, int64_t last) {
                       for (int64_t j = first; j < last; ++j) {
                         const bool edge_row = j == 0 || j == ny - 1;
                         node(j, 0, true);
                         for (int64_t i = 1; i + 1 < nx; ++i) node(j, i, edge_row);
                         if (nx > 1) node(j, nx - 1, true);
                       }
                     });
  }
  return y;
}

namespace {

/// The offset o = 3 (dj_d - dj_c + 1) + (di_d - di_c + 1) at which corner
/// c = 2 dj + di of an element sees its corner d.
int64_t corner_offset(int64_t c, int64_t d) {
  return 3 * (d / 2 - c / 2 + 1) + (d % 2 - c % 2 + 1);
}

/// The identity's stencil at one node, [1, 9, 2, 2].
torch::Tensor identity_stencil(const torch::TensorOptions& options) {
  torch::Tensor identity = torch::zeros({1, 9, 2, 2}, options);
  identity.index_put_({0, 4, 0, 0}, 1.0);
  identity.index_put_({0, 4, 1, 1}, 1.0);
  return identity;
}

} // namespace

torch::Tensor assemble_q1_stencil_ops(const torch::Tensor& corners, const torch::Tensor& k,
                                      const torch::Tensor& membrane, const torch::Tensor& mass,
                                      const torch::Tensor& lumped, const torch::Tensor& free,
                                      int64_t /*nx*/) {
  const int64_t E = k.size(0), N = free.size(0);
  const torch::TensorOptions o = free.options();
  const torch::Tensor values =
      (k.view({E, 1, 1, 1, 1}) * membrane.unsqueeze(0) +
       mass.view({E, 4, 4, 1, 1}) * torch::eye(2, o).view({1, 1, 1, 2, 2})) *
      free.index_select(0, corners.reshape({-1})).view({E, 1, 4, 1, 1}); // [E, c, d, a, b]
  std::vector<int64_t> offset(16);
  for (int64_t c = 0; c < 4; ++c)
    for (int64_t d = 0; d < 4; ++d) offset[size_t(4 * c + d)] = corner_offset(c, d);
  const auto i64 = torch::TensorOptions().dtype(torch::kInt64).device(corners.device());
  const torch::Tensor target = corners.view({E, 4, 1, 1, 1}) * 36 +
                               torch::tensor(offset, i64).view({1, 4, 4, 1, 1}) * 4 +
                               torch::arange(4, i64).view({1, 1, 1, 2, 2});
  const torch::Tensor stencil = torch::zeros({N * 36}, o)
                                    .index_add(0, target.reshape({-1}), values.reshape({-1}))
                                    .view({N, 9, 2, 2});
  const torch::Tensor identity = identity_stencil(o), node_free = free.view({N, 1, 1, 1});
  return (stencil + identity * lumped.view({N, 1, 1, 1})) * node_free + identity * (1 - node_free);
}

torch::Tensor assemble_q1_stencil(const torch::Tensor& corners, const torch::Tensor& k,
                                  const torch::Tensor& membrane, const torch::Tensor& mass,
                                  const torch::Tensor& lumped, const torch::Tensor& free,
                                  int64_t nx) {
  if (!free.device().is_cpu() || free.scalar_type() != torch::kFloat64)
    return assemble_q1_stencil_ops(corners, k, membrane, mass, lumped, free, nx);
  const int64_t E = k.size(0), N = free.size(0);
  const torch::Tensor c64 = corners.contiguous(), k64 = k.contiguous();
  const torch::Tensor m64 = membrane.contiguous(), s64 = mass.contiguous();
  const torch::Tensor l64 = lumped.contiguous(), f64 = free.contiguous();
  const int64_t* corner = c64.data_ptr<int64_t>();
  const double *K = k64.data_ptr<double>(), *T = m64.data_ptr<double>();
  const double *M = s64.data_ptr<double>(), *L = l64.data_ptr<double>();
  const double* is_free = f64.data_ptr<double>();
  torch::Tensor stencil = torch::zeros({N, 9, 2, 2}, free.options());
  double* S = stencil.data_ptr<double>(); // [n][o][a][b]
  for (int64_t e = 0; e < E; ++e)
    for (int64_t c = 0; c < 4; ++c) {
      const int64_t n = corner[4 * e + c];
      if (is_free[n] == 0) continue;
      for (int64_t d = 0; d < 4; ++d) {
        if (is_free[corner[4 * e + d]] == 0) continue;
        double* s = S + n * 36 + corner_offset(c, d) * 4;
        const double* t = T + (4 * c + d) * 4;
        const double m = M[(e * 4 + c) * 4 + d];
        s[0] += K[e] * t[0] + m;
        s[1] += K[e] * t[1];
        s[2] += K[e] * t[2];
        s[3] += K[e] * t[3] + m;
      }
    }
  for (int64_t n = 0; n < N; ++n) {
    double* s = S + n * 36 + 16; // offset 4: the node itself
    if (is_free[n] == 0) {
      s[0] = s[3] = 1.0;
    } else {
      s[0] += L[n];
      s[3] += L[n];
    }
  }
  return stencil;
}

namespace {

/// The number of colours along a direction of n nodes for probing: 3 (so
/// that a node's three neighbours differ), on a periodic direction the
/// smallest divisor of n from 3 on (so that they differ across the wrap
/// too), or n itself if n <= 3.
int64_t probe_colours(int64_t n, bool periodic) {
  if (!periodic) return 3;
  if (n <= 3) return n;
  int64_t c = 3;
  while (n % c != 0) ++c;
  return c;
}

} // namespace

torch::Tensor probe_stencil(const GridOperator& op, const torch::Tensor& free, int64_t ny,
                            int64_t nx, GridWrap wrap) {
  const int64_t N = ny * nx;
  const int64_t cy = probe_colours(ny, wrap.y), cx = probe_colours(nx, wrap.x), C = cy * cx;
  const auto colour = [&](int64_t j, int64_t i) { return (j % cy) * cx + i % cx; };
  // Probe 2 c + b: component b on the free nodes of colour c.
  const torch::Tensor node = torch::arange(N, torch::kInt64);
  const torch::Tensor node_colour = node.div(nx, "floor") % cy * cx + node % nx % cx;
  const torch::Tensor masks =
      node_colour.view({1, N}).eq(torch::arange(C, torch::kInt64).view({C, 1})).to(free.options()) *
      free; // [C, N]
  const torch::Tensor probes =
      (masks.view({C, 1, 1, N}) * torch::eye(2, free.options()).view({1, 2, 2, 1}))
          .view({2 * C, 2, N});
  // Row n's coupling with its neighbour m is in the response to m's colour.
  const torch::Tensor responses = op(probes).to(torch::kCPU, torch::kFloat64).contiguous();
  const torch::Tensor free_cpu = free.to(torch::kCPU, torch::kFloat64).contiguous();
  const double* Y = responses.data_ptr<double>(); // [c][b][a][n]
  const double* is_free = free_cpu.data_ptr<double>();
  torch::Tensor stencil = torch::zeros({N, 9, 2, 2}, torch::kFloat64);
  double* S = stencil.data_ptr<double>(); // [n][o][a][b]
  for (int64_t j = 0; j < ny; ++j)
    for (int64_t i = 0; i < nx; ++i) {
      const int64_t n = j * nx + i;
      if (is_free[n] == 0) { // the identity
        S[n * 36 + 16] = S[n * 36 + 19] = 1.0;
        continue;
      }
      // On a periodic direction of one or two nodes several offsets reach
      // the same node: its whole coupling goes to the first of them.
      int64_t seen[9];
      int64_t seen_count = 0;
      for (int64_t o = 0; o < 9; ++o) {
        const int64_t jj = neighbour_index(j, o / 3 - 1, ny, wrap.y);
        const int64_t ii = neighbour_index(i, o % 3 - 1, nx, wrap.x);
        if (jj < 0 || ii < 0) continue;
        const int64_t m = jj * nx + ii;
        if (std::find(seen, seen + seen_count, m) != seen + seen_count) continue;
        seen[seen_count++] = m;
        const int64_t c = colour(jj, ii);
        for (int64_t a = 0; a < 2; ++a)
          for (int64_t b = 0; b < 2; ++b)
            S[n * 36 + 4 * o + 2 * a + b] = Y[((c * 2 + b) * 2 + a) * N + n];
      }
    }
  return stencil.to(free.options());
}

StencilMultigrid::StencilMultigrid(const torch::Tensor& stencil, const torch::Tensor& free,
                                   int64_t ny, int64_t nx, const MultigridOptions& options,
                                   GridWrap wrap)
    : m_options(options), m_wrap(wrap) {
  if (options.smoothing_degree < 1 || !(options.smoothing_lower > 0 && options.smoothing_lower < 1))
    throw Error("multigrid: the smoothing degree must be >= 1 and its lower end in (0, 1)");
  const auto make_level = [](int64_t ly, int64_t lx, const torch::Tensor& level_stencil,
                             const torch::Tensor& level_free) {
    Level l;
    l.ny = ly;
    l.nx = lx;
    l.stencil = level_stencil;
    l.inverse_diagonal =
        (1.0 / level_stencil.abs().sum(std::vector<int64_t>{1, 3})).t().contiguous();
    l.free = level_free;
    return l;
  };
  m_levels.push_back(make_level(ny, nx, stencil, free));
  // Coarsen while the grid is large and still shrinks.
  while (m_levels.back().ny * m_levels.back().nx > options.coarsest_nodes &&
         coarse_size(m_levels.back().ny, wrap.y) * coarse_size(m_levels.back().nx, wrap.x) <
             m_levels.back().ny * m_levels.back().nx) {
    const size_t f = m_levels.size() - 1;
    Level coarse;
    coarse.ny = coarse_size(m_levels[f].ny, wrap.y);
    coarse.nx = coarse_size(m_levels[f].nx, wrap.x);
    const Level& fine = m_levels[f];
    // Coarse unknowns: the nodes whose interpolation reaches a fine unknown.
    const torch::Tensor coarse_free =
        restrict_field(fine.free.expand({1, 2, -1}), fine.free, fine.ny, fine.nx, coarse.ny,
                       coarse.nx, wrap)[0][0]
            .gt(0)
            .to(free.options());
    const GridOperator galerkin = [&](const torch::Tensor& xc) {
      const torch::Tensor fine_x =
          prolong_field(xc, fine.free, fine.ny, fine.nx, coarse.ny, coarse.nx, wrap);
      return restrict_field(apply_stencil(fine.stencil, fine_x, fine.ny, fine.nx, wrap), fine.free,
                            fine.ny, fine.nx, coarse.ny, coarse.nx, wrap);
    };
    m_levels.push_back(make_level(coarse.ny, coarse.nx,
                                  probe_stencil(galerkin, coarse_free, coarse.ny, coarse.nx, wrap),
                                  coarse_free));
  }
  // The coarsest grid's dense matrix, row a N + n, column b N + m.
  const Level& last = m_levels.back();
  const int64_t N = last.ny * last.nx;
  const torch::Tensor index = neighbours(last.ny, last.nx, wrap).to(free.device());
  const torch::Tensor valid = index.ge(0);
  const torch::Tensor rows = torch::arange(N, index.options()).expand({9, N});
  torch::Tensor dense = torch::zeros({2 * N, 2 * N}, free.options());
  for (int64_t a = 0; a < 2; ++a)
    for (int64_t b = 0; b < 2; ++b)
      dense.index_put_({(rows + a * N).masked_select(valid), (index + b * N).masked_select(valid)},
                       last.stencil.select(3, b).select(2, a).t().masked_select(valid), true);
  // Cholesky where it succeeds (7 times cheaper than the inverse here), else the inverse.
  const auto [factor, info] = torch::linalg_cholesky_ex(dense);
  if (info.item<int64_t>() == 0)
    m_coarsest_factor = factor;
  else
    m_coarsest_inverse = torch::inverse(dense);
}

torch::Tensor StencilMultigrid::smooth(const Level& l, const torch::Tensor& b,
                                       torch::Tensor x) const {
  // Chebyshev iteration for D^-1 A on [lower, 1] (Saad, Iterative Methods, alg. 12.1).
  const double upper = 1.0, lower = m_options.smoothing_lower;
  const double theta = 0.5 * (upper + lower), delta = 0.5 * (upper - lower), sigma = theta / delta;
  torch::Tensor r = x.defined() ? b - apply_stencil(l.stencil, x, l.ny, l.nx, m_wrap) : b;
  if (!x.defined()) x = torch::zeros_like(b);
  double rho = 1 / sigma;
  torch::Tensor d = r * l.inverse_diagonal / theta;
  for (int k = 0; k < m_options.smoothing_degree; ++k) {
    x = x + d;
    if (k + 1 == m_options.smoothing_degree) break;
    r = r - apply_stencil(l.stencil, d, l.ny, l.nx, m_wrap);
    const double rho_next = 1 / (2 * sigma - rho);
    d = rho_next * rho * d + (2 * rho_next / delta) * r * l.inverse_diagonal;
    rho = rho_next;
  }
  return x * l.free;
}

torch::Tensor StencilMultigrid::cycle(size_t level, const torch::Tensor& r) const {
  if (level + 1 == m_levels.size()) {
    const torch::Tensor flat = r.reshape({r.size(0), -1}); // [B, 2 N]
    const torch::Tensor x = m_coarsest_factor.defined()
                                ? torch::cholesky_solve(flat.t(), m_coarsest_factor).t()
                                : flat.matmul(m_coarsest_inverse.t());
    return x.reshape(r.sizes()) * m_levels[level].free;
  }
  const Level &fine = m_levels[level], &coarse = m_levels[level + 1];
  torch::Tensor x = smooth(fine, r, torch::Tensor());
  const torch::Tensor residual = r - apply_stencil(fine.stencil, x, fine.ny, fine.nx, m_wrap);
  const torch::Tensor rc =
      restrict_field(residual, fine.free, fine.ny, fine.nx, coarse.ny, coarse.nx, m_wrap) *
      coarse.free;
  x = x + prolong_field(cycle(level + 1, rc), fine.free, fine.ny, fine.nx, coarse.ny, coarse.nx,
                        m_wrap);
  return smooth(fine, r, x);
}

torch::Tensor StencilMultigrid::operator()(const torch::Tensor& r) const {
  return cycle(0, r * m_levels[0].free);
}

} // namespace nunatak::emulator::detail
