#pragma once
/// \file regrid.hpp
/// Regridding between a fine grid and a coarser one whose cells are blocks of
/// K x K fine cells: conservative (area-weighted) coarsening, and bilinear or
/// bicubic interpolation from any regular grid onto another. Used to make a
/// coarse experiment from fine inputs (input.coarsen_factor) and by the
/// super-resolution of coarse runs (docs/superres.md).
///
/// Arrays are row-major [y][x] on their core::Grid. NaN means "no data".
/// The coarse cell (I, J) covers the fine cells i in [K I, K I + K),
/// j in [K J, K J + K); the last row and column of coarse cells may stick out
/// of the fine grid when K does not divide nx or ny.

#include "nunatak/core/grid.hpp"

#include <vector>

namespace nunatak::core {

/// How a field is carried onto the coarse grid.
enum class Coarsening {
  /// An amount per unit area (ice thickness, m of ice): the sum over the
  /// block divided by K^2, fine cells outside the grid counting as 0, so
  /// that sum(coarse) * coarse area = sum(fine) * fine area exactly (to
  /// round-off). A NaN in the block makes the coarse cell NaN.
  volume,
  /// The mean over the block's fine cells that lie in the grid and are not
  /// NaN (surface, bed, mass balance, velocity); NaN if there are none.
  mean,
  /// The most frequent value among the block's cells in the grid that are
  /// not NaN (a categorical mask); ties go to the smallest value.
  majority,
};

/// The grid of blocks of `factor` x `factor` cells of `fine` (see the file
/// comment): ceil(nx / factor) x ceil(ny / factor) cells of factor * dx,
/// centred on their blocks, with the fine grid's mapping. Throws
/// nunatak::Error if factor < 1.
Grid coarsened_grid(const Grid& fine, int factor);

/// `values` on `fine` carried onto coarsened_grid(fine, factor) by `rule`.
/// Throws nunatak::Error if the sizes disagree or factor < 1.
std::vector<double> coarsen(const Grid& fine, const std::vector<double>& values, int factor,
                            Coarsening rule);

/// How values between cell centres are computed.
enum class Interpolation {
  bilinear,
  /// Keys' cubic convolution (a = -1/2): exact for quadratics, continuous
  /// first derivative; falls back to bilinear where its 4 x 4 stencil has a
  /// NaN.
  bicubic,
};

/// `values` on `source` interpolated at the cell centres of `target`.
/// Points outside the source's cell centres take the value of the nearest
/// edge (the stencil's indices are clamped). Where the bilinear stencil has
/// a NaN, the nearest source cell's value is used (NaN if that is NaN).
/// Throws nunatak::Error if the sizes disagree.
std::vector<double> interpolate(const Grid& source, const std::vector<double>& values,
                                const Grid& target, Interpolation method);

} // namespace nunatak::core
