#pragma once
/// \file membrane_reference.hpp
/// A cheap, non-local reference velocity for the emulator: the depth-averaged
/// velocity of a linear (Newtonian) "hybrid" shallow-shelf balance on the
/// patch's own grid, solved by preconditioned conjugate gradients in
/// LibTorch (equations in membrane_reference.cpp). Membrane stresses couple
/// the columns over the whole patch, which the local shallow-ice speed
/// cannot do; the network (output scaling `membrane`) corrects this linear
/// answer to the nonlinear Blatter-Pattyn velocity and its vertical profile.
///
/// Usage:
///
///     torch::Tensor ubar = emulator::membrane_velocity(patch);  // [ny, nx, 2], m/a
///     torch::Tensor u = emulator::membrane_velocity_3d(patch);  // [ny, nx, nz, 2]
///
/// Both are differentiable with respect to the patch's geometry and
/// parameters (thickness, bed, beta2, hardness) by the adjoint of the linear
/// system (implicit differentiation), not by unrolling the iterations.

#include "nunatak/emulator/bp_energy.hpp"

#include <torch/types.h>

namespace nunatak::emulator {

/// Options of the conjugate-gradient solve.
struct MembraneOptions {
  int max_iterations = 2000; ///< conjugate-gradient iterations at most
  /// On the Jacobi-preconditioned residual, relative to that of ubar = 0 (so
  /// that a good first guess stops early).
  double tolerance = 1e-6;
  /// The first guess, [ny, nx, 2] m/a (e.g. the previous time step's ubar);
  /// undefined: 0.
  torch::Tensor initial_guess;
};

/// What one solve did (for tests and benchmarks).
struct MembraneReport {
  int iterations = 0;     ///< conjugate-gradient iterations
  double residual = 0;    ///< final preconditioned residual relative to the start's
  bool converged = false; ///< residual <= tolerance
};

/// The depth-averaged velocity of the linear hybrid membrane balance on
/// `patch`, [ny, nx, 2] in m/a, 0 on ice-free columns; in the patch's dtype
/// and device (solved in double precision). `report`, if given, says how
/// the solve went. If patch.membrane is defined, returns it (a cache that
/// the caller filled for a fixed geometry).
torch::Tensor membrane_velocity(const TorchBPPatch& patch, const MembraneOptions& options = {},
                                MembraneReport* report = nullptr);

/// The share of the membrane velocity that is internal deformation, per
/// column ([ny, nx], 0 .. 1): 1 under no slip, 0 for floating ice (see the
/// file comment of membrane_reference.cpp). Differentiable.
torch::Tensor membrane_deformation_share(const TorchBPPatch& patch);

/// The membrane velocity given a vertical profile, [ny, nx, nz, 2] in m/a,
/// 0 at fixed nodes: ubar ((1 - f) + f p(sigma)), with f the deformation
/// share and p(sigma) = (n+2)/(n+1) (1 - (1 - sigma)^(n+1)) the shallow-ice
/// profile of mean 1. A baseline that `nunatak emulator eval` prints.
torch::Tensor membrane_velocity_3d(const TorchBPPatch& patch);

/// The vertical shape of membrane_velocity_3d, [ny, nx, nz]: (1 - f) + f p(sigma).
torch::Tensor membrane_profile(const TorchBPPatch& patch);

} // namespace nunatak::emulator
