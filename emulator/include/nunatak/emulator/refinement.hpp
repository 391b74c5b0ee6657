#pragma once
/// \file refinement.hpp
/// Refinement of any 3-D velocity (the network's, the membrane reference's)
/// towards the discrete Blatter-Pattyn balance dE/du = 0 of the shared
/// energy (bp_energy.hpp), with the membrane reference's system as the
/// coarse level (equations in refinement.cpp).
///
/// Usage:
///
///     // A few steps, no derivatives (solve and run):
///     torch::Tensor u = emulator::refine_velocity(patch, u0, options, 2);
///     // Differentiable with respect to thickness, bed and beta2 (invert):
///     emulator::DifferentiableRefinement refine(options, 2, RefineMethod::newton);
///     torch::Tensor u = refine(patch, u0);
///     cost(u).backward();

#include "nunatak/emulator/membrane_reference.hpp"

#include <torch/types.h>

#include <memory>
#include <string>
#include <vector>

namespace nunatak::emulator {

/// How refine_velocity takes a step.
enum class RefineMethod {
  /// The coarse correction, then the column smoother, each with its own
  /// line search (cheapest per step; converges linearly).
  defect_correction,
  /// Inexact Newton: preconditioned conjugate gradients on the energy's
  /// Hessian (products by double back-propagation), the two parts added as
  /// the preconditioner, then one line search (about twice the cost per
  /// step; converges where the defect correction crawls).
  newton,
};

/// The method named `name` ("defect" or "newton"); throws nunatak::Error
/// naming the value otherwise.
RefineMethod refine_method(const std::string& name);

/// Refinement of a 3-D velocity [ny, nx, nz, 2] (m/a) towards the
/// Blatter-Pattyn balance, `steps` steps of `method` (refinement.cpp).
/// Its two parts: the BP energy's gradient at u projected on each column's
/// membrane profile and solved with the membrane reference's last system (a
/// correction of ubar along the profile), and each column's shear smoothed
/// through its tridiagonal. Each line search on the energy starts from
/// `relaxation` times the full step, so that the energy never rises. Uses
/// the patch's cached reference (cache_membrane) or solves it with
/// `options`. A periodic patch's ghost columns are kept equal to their
/// partners (TorchBPPatch::column_partner). In double precision (a Newton
/// step's Hessian products in single), returned in the velocity's dtype; no derivatives.
/// `residuals`, if given, gets the projected force's norm (m^3) before each step.
torch::Tensor refine_velocity(const TorchBPPatch& patch, const torch::Tensor& velocity,
                              const MembraneOptions& options, int steps, double relaxation = 1.0,
                              std::vector<double>* residuals = nullptr,
                              RefineMethod method = RefineMethod::defect_correction);

/// The refinement as a differentiable function of the patch's thickness,
/// bed and beta2, for gradient-based inversion. The forward pass is
/// refine_velocity from the velocity given (detached: the network's own
/// derivatives do not enter), or from the last call's refined velocity
/// where that has the lower energy on this patch (so that over the nearby
/// states of an inversion the refinement goes on where it stopped). The backward pass
/// differentiates the energy's minimiser, not the steps taken (implicit differentiation, as the
/// solver's adjoint does): with g = dJ/du at the refined u, it solves H lambda = g, H the energy's
/// Hessian at u, by conjugate gradients preconditioned as the Newton steps are (warm-started from
/// the last call's lambda; H's products in single precision for adjoint tolerances of 1e-4 or
/// more, in double below), and returns -d/dtheta (dE/du . lambda). Exact where the refinement has
/// converged; elsewhere the derivative of the Blatter-Pattyn solution taken at a nearby velocity.
/// Each call's backward pass must come before the next call (it throws nunatak::Error otherwise);
/// the object must outlive the backward pass.
class DifferentiableRefinement {
public:
  /// What the last backward pass did.
  struct AdjointReport {
    int iterations = 0;             ///< conjugate-gradient iterations (Hessian products)
    double reduction = 0;           ///< preconditioned residual, relative to lambda = 0's
    long long solves = 0;           ///< backward passes so far
    long long total_iterations = 0; ///< Hessian products of all backward passes
  };

  /// `steps` steps of `method` per call; the adjoint's conjugate gradients
  /// stop at a preconditioned residual of `adjoint_tolerance` (relative to
  /// lambda = 0's) or after `adjoint_iterations`.
  DifferentiableRefinement(MembraneOptions options, int steps, RefineMethod method,
                           double adjoint_tolerance = 1e-2, int adjoint_iterations = 200);
  ~DifferentiableRefinement();
  DifferentiableRefinement(const DifferentiableRefinement&) = delete;
  DifferentiableRefinement& operator=(const DifferentiableRefinement&) = delete;

  /// The refined velocity [ny, nx, nz, 2] (m/a) of `patch` from `velocity`,
  /// in the velocity's dtype, differentiable with respect to
  /// patch.thickness, patch.bed and patch.beta2.
  torch::Tensor operator()(const TorchBPPatch& patch, const torch::Tensor& velocity);

  /// The last backward pass's report (and the totals so far).
  const AdjointReport& last_adjoint() const;
  /// The calls so far that started from the last call's refined velocity.
  long long warm_starts() const;

  struct State; ///< the last call's patch, velocity and adjoint (refinement.cpp)

private:
  std::unique_ptr<State> m_state;
};

} // namespace nunatak::emulator
