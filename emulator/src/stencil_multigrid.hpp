#pragma once
/// \file stencil_multigrid.hpp
/// A geometric multigrid preconditioner (internal header) for a symmetric
/// positive definite operator A on the two-component fields x[c][n] of an
/// ny x nx grid of nodes (c = 0, 1; n = j nx + i) whose couplings reach no
/// further than the 3 x 3 neighbourhood of a node, as bilinear (Q1) finite
/// elements give; nodes with free = 0 are fixed (their rows and columns
/// are the identity). Used by the membrane reference's conjugate gradients
/// (membrane_reference.cpp), where the Jacobi preconditioner took hundreds
/// of iterations on fine grids under thick ice.
///
/// - Each level keeps A as a stencil S[n][o][a][b] (n the node, o the 3 x 3
///   offset, a and b the components: each node's 36 numbers together). The
///   finest one is given (membrane_reference.cpp assembles it from its
///   elements); the coarse ones are found by probing the Galerkin operator
///   with 9 x 2 coloured vectors (probe_stencil; more on a periodic grid,
///   GridWrap), exact for any operator of that reach.
/// - Coarse grids keep every other node (nc = n/2 + 1: a grid of even size
///   is padded by one fixed node); interpolation P is bilinear and zero on
///   the fine grid's fixed nodes, restriction is its transpose, and the
///   coarse operator is the Galerkin product P^T A P (again a 3 x 3
///   stencil, found by probing), so that jumps in the coefficients (ice
///   margins, the viscosity) are carried to the coarse grids.
/// - Smoothing: Chebyshev polynomials in D^-1 A, D the l1-Jacobi diagonal
///   (the row sums of |A|, so that the spectrum of D^-1 A lies in (0, 1]
///   with no estimate), the same before and after the coarse correction.
/// - The coarsest grid (at most coarsest_nodes nodes) is solved exactly
///   (the Cholesky factors of its dense matrix).
/// The V-cycle is then a fixed symmetric positive definite linear map: a
/// valid conjugate-gradient preconditioner. LibTorch operations on the
/// stencil's device and dtype, but for loops on the CPU where the
/// operations are too small to pay for their dispatch: assembling and
/// applying a stencil in double precision, reading the probes, and the
/// coarsest grid's indices.

#include <torch/types.h>

#include <functional>
#include <vector>

namespace nunatak::emulator::detail {

/// The directions along which a grid is periodic (a torus where both are):
/// there the last node's neighbour is the first, the stencils wrap around,
/// and the coarse grids keep every other node (n/2 of n nodes; a periodic
/// direction of odd size is not coarsened). Probing uses as many colours
/// along a periodic direction as its smallest divisor from 3 on (n itself
/// for n <= 3); where a direction has one or two nodes, several offsets of a
/// stencil reach the same node, and their couplings add up.
struct GridWrap {
  bool y = false, x = false;
};

/// A linear operator on a batch of fields [B, 2, N] (N = ny nx nodes,
/// row-major), each field mapped on its own.
using GridOperator = std::function<torch::Tensor(const torch::Tensor&)>;

/// Options of the V-cycle.
struct MultigridOptions {
  int smoothing_degree = 2;     ///< Chebyshev degree before and after the coarse correction
  double smoothing_lower = 0.1; ///< the lower end of the damped interval of D^-1 A (upper: 1)
  int64_t coarsest_nodes = 64;  ///< coarsen until a grid has at most this many nodes
};

/// The stencil S [N, 9, 2, 2] of `op` on an ny x nx grid, probed with one
/// batch of 18 coloured vectors (more along periodic directions, GridWrap):
/// (op x)[a][n] = sum over b and the 3 x 3 offsets o = 3 (dj + 1) + (di + 1)
/// of S[n][o][a][b] x[b][n + (dj, di)] (n + (dj, di) wrapped around along
/// the periodic directions).
/// Rows and columns of nodes with free = 0 ([N], 0 or 1) become the identity.
torch::Tensor probe_stencil(const GridOperator& op, const torch::Tensor& free, int64_t ny,
                            int64_t nx, GridWrap wrap = {});

/// The stencil S applied to the fields x [B, 2, N] on an ny x nx grid: a
/// loop over the nodes for double precision on the CPU, else
/// apply_stencil_ops.
torch::Tensor apply_stencil(const torch::Tensor& stencil, const torch::Tensor& x, int64_t ny,
                            int64_t nx, GridWrap wrap = {});

/// The stencil's diagonal, [2, N]: each node's coupling with itself, per component.
torch::Tensor stencil_diagonal(const torch::Tensor& stencil);

/// apply_stencil in LibTorch operations (any device and dtype).
torch::Tensor apply_stencil_ops(const torch::Tensor& stencil, const torch::Tensor& x, int64_t ny,
                                int64_t nx, GridWrap wrap = {});

/// The stencil [N, 9, 2, 2] of a bilinear-element operator on the N nodes
/// of a grid nx columns wide: element e (corner c = 2 dj + di at node
/// corners[e][c], [E, 4] int64) couples corner c's component a with corner
/// d's component b by k[e] membrane[c][d][a][b] (k [E], membrane [4, 4, 2,
/// 2]) plus mass[e][c][d] when a = b ([E, 4, 4]); lumped [N] adds to each
/// node's own components. Couplings with nodes of free = 0 are dropped,
/// and their rows are the identity. A loop over the elements for double
/// precision on the CPU, else assemble_q1_stencil_ops.
torch::Tensor assemble_q1_stencil(const torch::Tensor& corners, const torch::Tensor& k,
                                  const torch::Tensor& membrane, const torch::Tensor& mass,
                                  const torch::Tensor& lumped, const torch::Tensor& free,
                                  int64_t nx);

/// assemble_q1_stencil in LibTorch operations (any device).
torch::Tensor assemble_q1_stencil_ops(const torch::Tensor& corners, const torch::Tensor& k,
                                      const torch::Tensor& membrane, const torch::Tensor& mass,
                                      const torch::Tensor& lumped, const torch::Tensor& free,
                                      int64_t nx);

/// One symmetric V-cycle of geometric multigrid for the operator `op`.
class StencilMultigrid {
public:
  /// Builds the hierarchy for the operator of `stencil` ([N, 9, 2, 2], as
  /// probe_stencil returns it) on an ny x nx grid with the fixed nodes
  /// free = 0 ([N]), periodic along `wrap`.
  StencilMultigrid(const torch::Tensor& stencil, const torch::Tensor& free, int64_t ny, int64_t nx,
                   const MultigridOptions& options = {}, GridWrap wrap = {});

  /// One V-cycle from 0 for the right-hand sides r [B, 2, N]: an
  /// approximation of A^-1 r, 0 on fixed nodes.
  torch::Tensor operator()(const torch::Tensor& r) const;

  /// The number of grids, the finest included.
  int levels() const { return static_cast<int>(m_levels.size()); }

private:
  struct Level {
    int64_t ny = 0, nx = 0;
    torch::Tensor stencil;          ///< [N, 9, 2, 2]
    torch::Tensor inverse_diagonal; ///< [2, N]: 1 / (the l1 row sums of |A|)
    torch::Tensor free;             ///< [N]: 1 on unknowns, 0 on fixed nodes
  };
  torch::Tensor cycle(size_t level, const torch::Tensor& r) const;
  torch::Tensor smooth(const Level& level, const torch::Tensor& r, torch::Tensor x) const;

  MultigridOptions m_options;
  GridWrap m_wrap;
  std::vector<Level> m_levels;
  torch::Tensor m_coarsest_factor;  ///< [2 N, 2 N]: the last level's Cholesky factor, or
  torch::Tensor m_coarsest_inverse; ///< its inverse where Cholesky fails
};

} // namespace nunatak::emulator::detail
