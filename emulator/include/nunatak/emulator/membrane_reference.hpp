#pragma once
/// \file membrane_reference.hpp
/// A cheap, non-local reference velocity for the emulator: the depth-averaged
/// velocity of a "hybrid" shallow-shelf balance on the patch's own grid,
/// solved by preconditioned conjugate gradients in LibTorch (equations in
/// membrane_reference.cpp). Its viscosity is either linear (Newtonian, from
/// the smoothed driving stress: one solve) or Glen's law through the depth
/// (the depth-integrated viscosity approximation, DIVA: Picard iterations). Membrane stresses
/// couple the columns over the whole patch, which the local shallow-ice speed cannot do; the
/// network (output scaling `membrane`) corrects this linear answer to the nonlinear Blatter-Pattyn
/// velocity and its vertical profile.
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

#include <string>
#include <vector>

namespace nunatak::emulator {

/// The membrane viscosities: "linear" (Newtonian, one solve), "glen"
/// (Glen's law at every level, the depth-integrated viscosity approximation)
/// and "glen_gauss" (glen, with the shear and membrane viscosity of the
/// elements frozen to the bed at their Gauss points, as the solver
/// integrates them).
const std::vector<std::string>& membrane_viscosities();

/// Options of the membrane solve.
struct MembraneOptions {
  /// "linear", "glen" or "glen_gauss" (membrane_viscosities()).
  std::string viscosity = "linear";
  /// glen: Picard iterations at most (each one conjugate-gradient solve,
  /// started from the last), after the linear solve that starts them.
  int picard_iterations = 40;
  /// glen: stop when max |ubar_k - ubar_(k-1)| <= this times max |ubar_k|.
  double picard_tolerance = 1e-3;
  /// glen: inexact Picard iterations. Each Picard iteration's solve stops
  /// once its residual has fallen by this factor (or to `tolerance`); the
  /// Picard iterations stop only after a solve to `tolerance`. 0: every
  /// solve to `tolerance`.
  double picard_forcing = 0.1;
  int max_iterations = 2000; ///< conjugate-gradient iterations at most
  /// On the preconditioned residual, relative to that of ubar = 0 (so that a
  /// good first guess stops early).
  double tolerance = 1e-6;
  /// The conjugate gradients' preconditioner: "jacobi" (the diagonal),
  /// "multigrid" (a geometric V-cycle with Galerkin coarse grids, kept over
  /// the Picard iterations) or "auto" (Jacobi, and multigrid from the first
  /// solve that Jacobi does not finish in 200 iterations). The answer is the
  /// same to the tolerance; the cost is not (membrane_reference.cpp).
  std::string preconditioner = "auto";
  /// The first guess, [ny, nx, 2] m/a (e.g. the previous time step's ubar);
  /// undefined: 0.
  torch::Tensor initial_guess;
  /// glen: the first viscosity, [ny, nx, nz - 1] Pa a (one per layer; e.g. the
  /// previous time step's TorchBPPatch::membrane_viscosity); undefined: the
  /// linear one.
  torch::Tensor initial_viscosity;
  /// glen, on the CPU: each Picard update in plain loops
  /// (glen_update_cpu.hpp), several times faster than the LibTorch
  /// operations that other devices use, with the same numbers to rounding.
  /// false: the LibTorch operations (for tests and benchmarks).
  bool cpu_loops = true;
};

/// What one solve did (for tests and benchmarks).
struct MembraneReport {
  int iterations = 0;       ///< conjugate-gradient iterations (all solves)
  int picard = 0;           ///< glen: Picard iterations
  double residual = 0;      ///< final preconditioned residual relative to the start's
  bool converged = false;   ///< residual <= tolerance
  int multigrid_builds = 0; ///< V-cycle hierarchies built
};

/// The depth-averaged velocity of the hybrid membrane balance on `patch`,
/// [ny, nx, 2] in m/a, 0 on ice-free columns; in the patch's dtype and
/// device (solved in double precision). `report`, if given, says how the
/// solve went (the last Picard solve's residual). If patch.membrane is
/// defined, returns it (a cache that the caller filled, with the same
/// options, for a fixed geometry). Throws nunatak::Error on an unknown
/// options.viscosity.
torch::Tensor membrane_velocity(const TorchBPPatch& patch, const MembraneOptions& options = {},
                                MembraneReport* report = nullptr);

/// Solves the membrane reference of `patch` with `options` and caches it in
/// the patch: patch.membrane (differentiable, as membrane_velocity), and for
/// the glen viscosity patch.membrane_viscosity (held fixed), so that the
/// velocity, share and profile that follow do not solve again. For a
/// geometry that does not change.
void cache_membrane(TorchBPPatch& patch, const MembraneOptions& options = {},
                    MembraneReport* report = nullptr);

/// The share of the membrane velocity that is internal deformation, per
/// column ([ny, nx], 0 .. 1): 1 under no slip, 0 for floating ice (see the
/// file comment of membrane_reference.cpp). Differentiable. The glen
/// viscosity depends on the velocity: it uses membrane_velocity(patch,
/// options), so patch.membrane's cache.
torch::Tensor membrane_deformation_share(const TorchBPPatch& patch,
                                         const MembraneOptions& options = {});

/// The membrane velocity given a vertical profile, [ny, nx, nz, 2] in m/a,
/// 0 at fixed nodes: ubar ((1 - f) + f p(sigma)), with f the deformation
/// share and p(sigma) of mean 1: linear, the shallow-ice profile
/// (n+2)/(n+1) (1 - (1 - sigma)^(n+1)); glen, the integral of the column's
/// shear strain rate. A baseline that `nunatak emulator eval` prints.
torch::Tensor membrane_velocity_3d(const TorchBPPatch& patch, const MembraneOptions& options = {});

/// The vertical shape of membrane_velocity_3d, [ny, nx, nz], of mean 1 over the depth.
torch::Tensor membrane_profile(const TorchBPPatch& patch, const MembraneOptions& options = {});

/// How far the membrane reference is from the Blatter-Pattyn balance, per
/// column, [ny, nx, 2] (dimensionless): the BP energy's gradient dE/du at
/// membrane_velocity_3d, summed over each column's nodes (the column's net
/// force: its membrane, shear, basal, driving and front forces together),
/// divided by the column's driving force F (that sum for the driving term
/// alone, plus 1 % of its mean over the ice so that flat divides stay
/// finite); its components along and across the reference's direction,
/// signed so that a positive `along` means the reference is too slow, each
/// mapped by asinh. 0 where the reference is BP's discrete solution (and
/// off the ice). Differentiable with respect to the geometry (double
/// back-propagation of the energy) where the geometry or the reference
/// requires grad; otherwise detached. Returns patch.membrane_imbalance if
/// it is defined (cache_membrane_imbalance).
torch::Tensor membrane_imbalance(const TorchBPPatch& patch, const MembraneOptions& options = {});

/// Computes membrane_imbalance once (detached) into patch.membrane_imbalance,
/// for a geometry that does not change (training samples); call after
/// cache_membrane.
void cache_membrane_imbalance(TorchBPPatch& patch, const MembraneOptions& options = {});

} // namespace nunatak::emulator
