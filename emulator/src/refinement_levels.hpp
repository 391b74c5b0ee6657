#pragma once
/// \file refinement_levels.hpp
/// The two levels of the refinement's preconditioner (internal to the
/// emulator library; refinement.cpp uses them, membrane_reference.cpp
/// builds them from its system):
///   - coarse: a folded force g [ny, nx, nz, 2] (m^3) projected on each
///     column's membrane profile q, f = sum_k q_k g_k, solved with the
///     reference's system at its cached viscosity, A dubar = f, and spread
///     along the profile, q dubar (m/a);
///   - smoother: per column and component, T^-1 g with T the tridiagonal of
///     the Picard form of the vertical shear (plus friction and the node's
///     share of A's diagonal), 0 at fixed nodes.
/// On a periodic patch (TorchBPPatch::column_partner) forces are folded onto
/// the partner columns and every direction is spread back to the ghosts.

#include "nunatak/emulator/membrane_reference.hpp"

#include <torch/torch.h>

#include <memory>

namespace nunatak::emulator::detail {

/// The refinement's two preconditioner levels for one patch.
class RefinementLevels {
public:
  /// For `patch` (double precision; its membrane reference is solved with
  /// `options` and cached in it first if it is not).
  RefinementLevels(TorchBPPatch& patch, const MembraneOptions& options);
  ~RefinementLevels();
  RefinementLevels(const RefinementLevels&) = delete;
  RefinementLevels& operator=(const RefinementLevels&) = delete;

  /// x [ny, nx, nz, 2] with each ghost column's entries added into its
  /// partner's (0 at the ghosts): a gradient or a force on the unknowns.
  torch::Tensor fold(const torch::Tensor& x) const;
  /// x [ny, nx, nz, 2] with each ghost column's entries taken from its partner.
  torch::Tensor spread(const torch::Tensor& x) const;
  /// The coarse correction (m/a) for a folded force g (m^3), its conjugate
  /// gradients stopped at the reference's tolerance or, if larger, at a
  /// preconditioned residual of `reduction` times that of 0.
  torch::Tensor coarse(const torch::Tensor& g, double reduction = 0);
  /// The column smoother's direction (m/a) for a folded force g (m^3).
  torch::Tensor smoother(const torch::Tensor& g) const;
  /// The norm (m^3) of g's column forces over the free columns.
  double column_residual(const torch::Tensor& g) const;

private:
  struct Impl;
  std::unique_ptr<Impl> m;
};

} // namespace nunatak::emulator::detail
