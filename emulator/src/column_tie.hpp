#pragma once
/// \file column_tie.hpp
/// The periodic tie of a patch's columns (internal to the emulator library).
///
/// On a periodic grid a patch carries ghost columns, copies of owned columns
/// one period away (TorchBPPatch::column_partner maps each column to the one
/// that holds its values). The unknowns are then the partners' values:
/// spread copies them to the ghosts, fold adds a ghost's entries (gradients,
/// forces, matrix rows) into its partner's, and for A symmetric positive
/// definite on the columns, fold A spread is the periodic problem's matrix.
///
/// Where the owned columns form a box that the ghosts wrap around (a patch
/// that holds whole periods, as ISMIP-HOM's on one rank: find_torus), the
/// folded problem lives on that box with periodic directions, and a 3 x 3
/// stencil of A folds into a stencil on the box (torus_stencil) that the
/// periodic multigrid (stencil_multigrid.hpp, GridWrap) takes.

#include "stencil_multigrid.hpp"

#include <torch/types.h>

#include <optional>

namespace nunatak::emulator::detail {

/// The periodic tie; both maps are the identity without one.
struct ColumnTie {
  torch::Tensor partner; ///< [N] int64, or undefined (no tie)

  /// x with its entries along `dim` (columns) added into their partners' (0 at ghosts).
  torch::Tensor fold(const torch::Tensor& x, int64_t dim) const {
    return partner.defined() ? torch::zeros_like(x).index_add(dim, partner, x) : x;
  }
  /// x with each column's entries along `dim` taken from its partner.
  torch::Tensor spread(const torch::Tensor& x, int64_t dim) const {
    return partner.defined() ? x.index_select(dim, partner) : x;
  }
  /// A 0/1 mask along `dim` folded: 1 at a partner where any of its columns is 1.
  torch::Tensor fold_mask(const torch::Tensor& mask, int64_t dim) const {
    return partner.defined() ? fold(mask, dim).clamp_max(1.0) : mask;
  }
};

/// The owned box of a patch whose ghosts wrap around it.
struct Torus {
  int64_t ny = 0, nx = 0; ///< the box's nodes along y and x
  GridWrap wrap;          ///< the directions along which ghosts wrap around
  torch::Tensor nodes;    ///< [ny nx] int64: the patch column of each box node, row-major
};

/// The torus of a tie on an ny x nx patch: the box of the columns that are
/// their own partners, if every column's partner is its image in that box
/// (column (j, i) -> (j0 + (j - j0) mod box ny, i0 + (i - i0) mod box nx)),
/// and none otherwise (no tie, or a patch holding part of a period). A
/// direction wraps where the box is narrower than the patch.
std::optional<Torus> find_torus(const ColumnTie& tie, int64_t ny, int64_t nx);

/// The stencil [box N, 9, 2, 2] on the torus of fold A spread, A the
/// patch's stencil ([N, 9, 2, 2], its fixed nodes' rows the identity, free
/// [N]): each free column's row added into its partner's, at the same
/// offsets. Box nodes with no free column get the identity. Double, on the
/// stencil's device.
torch::Tensor torus_stencil(const torch::Tensor& stencil, const torch::Tensor& free,
                            const ColumnTie& tie, int64_t ny, int64_t nx, const Torus& torus);

} // namespace nunatak::emulator::detail
