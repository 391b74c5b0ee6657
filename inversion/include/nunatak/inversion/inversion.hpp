#pragma once
/// \file inversion.hpp
/// Gradient-based inversion for ice thickness (and optionally the basal
/// friction coefficient and the surface) from observed surface velocity,
/// sparse radar thickness and the surface: `nunatak invert CONFIG`
/// (docs/inversion.md). LibTorch only: the forward model is any
/// differentiable map from the Blatter-Pattyn patch's geometry to its
/// velocity (ForwardModel): the emulator (EmulatorForward, autograd through
/// the network), or, in the model layer, the solver with its adjoint.
///
/// Controls (whole grid, [y][x], only on the ice outline, which is fixed):
///   thickness  H = h_scale theta_H, bounds H_lo <= H <= H_hi (H_lo >= H_min,
///              so that the solver's masks never move); bed = s - H;
///   friction   beta^2 = 10^theta_beta (Pa (m/a)^-q) where the bed slides;
///   surface    s = s_obs + sigma_s theta_s.
///
/// Cost J = sum of the terms below (each reported; "mean" is over the cells
/// the term covers, so weights do not depend on the grid size):
///   velocity   1/2 mean_obs rho(|u_s - u_obs| / sigma_i), rho(r) = r^2, or
///              Huber's 2 delta r - delta^2 beyond r > delta, with
///              sigma_i^2 = sigma_u^2 + (r_u |u_obs,i|)^2 (r_u the relative
///              error: a model error that grows with the speed); cells without
///              an observation (NaN), off the ice, with fixed velocity or
///              within `velocity_margin_distance` of the outline are left out;
///   radar      1/2 sum_i w_i ((H_i - H_obs,i) / sigma_H)^2 / sum_i w_i over
///              the radar cells used, w_i = 1 / (radar cells within
///              `radar_density_radius` of i): dense lines do not dominate;
///   surface    1/2 mean_ice theta_s^2 (when the surface is a control);
///   mass       w_m/2 mean_ice ((div(H ubar) - (smb - dh/dt)) / sigma_m)^2
///              (optional; ubar the depth-averaged velocity, centred differences);
///   thickness smoothness
///              w/2 mean_ice (l / sigma_H)^2 ((d.grad D)^2 + f (d_perp.grad D)^2)
///              with D = H, or D = H - H_first when `smooth_correction` (the
///              inversion then corrects the first guess smoothly instead of
///              flattening the structure it carries), d the flow direction
///              (observed velocity, smoothed; the surface's downhill
///              direction where there is none) and f = `across_flow_factor`
///              (< 1: valley cross-sections may change faster across the
///              flow than the thickness along it);
///   thickness prior   w/2 mean_ice ((H - H_first) / sigma_prior)^2;
///   friction smoothness  w/2 mean_ice l^2 |grad theta_beta|^2;
///   friction prior    w/2 mean_ice ((theta_beta - theta_beta,first) / sigma)^2.
///
/// Units: m, m/a, Pa; all arrays row-major [y][x], NaN = no observation.

#include "nunatak/core/bp_patch.hpp"
#include "nunatak/emulator/bp_energy.hpp"

#include <torch/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace nunatak::emulator {
class Emulator;
class DifferentiableRefinement;
} // namespace nunatak::emulator

namespace nunatak::inversion {

/// What the inversion fits to: whole-grid arrays, [y][x], NaN = none.
struct InversionObservations {
  std::vector<double> u, v;  ///< surface velocity components, m/a (empty: none)
  std::vector<double> speed; ///< surface speed, m/a, used only where u, v are missing (empty: none)
  std::vector<double> radar; ///< ice thickness, m (empty: none)
  std::vector<double> surface; ///< surface elevation, m (required)
  std::vector<double> smb;     ///< surface mass balance, m/a ice equivalent (empty: 0)
  std::vector<double> dhdt;    ///< rate of thickness change dh/dt, m/a (empty or NaN: 0)
  /// 1 for radar cells the cost may use; 0 for cells held out to test the
  /// result (empty: all).
  std::vector<std::uint8_t> radar_used;
};

/// Options of the inversion (keys inversion.* in a configuration).
struct InversionOptions {
  std::vector<std::string> controls = {"thickness"}; ///< thickness, friction, surface
  std::string optimizer = "lbfgs";                   ///< adam | lbfgs
  std::string precision = "double"; ///< single | double: the controls, cost and forward patch
  int iterations = 100;             ///< optimiser steps at most
  double learning_rate = 1.0;       ///< Adam: step of the scaled controls; L-BFGS: its lr
  /// Stop when the cost changed by less than this fraction over the last 5 steps.
  double tolerance = 1e-4;

  double thickness_scale = 100.0; ///< h_scale, m
  double thickness_min = 10.0;    ///< m, on the ice (at least H_min)
  double thickness_max = 5000.0;  ///< m
  double friction_min = 1.0;      ///< log10 beta^2 at least
  double friction_max = 7.0;      ///< log10 beta^2 at most

  double velocity_sigma = 10.0;         ///< sigma_u, m/a
  double velocity_huber = 0.0;          ///< delta (in units of sigma_i); 0: quadratic
  double velocity_relative_sigma = 0.0; ///< r_u: the part of sigma_i proportional to the speed
  /// m: observations closer than this to the outline (the nearest ice-free
  /// cell centre) are left out; 0: none.
  double velocity_margin_distance = 0.0;
  double radar_sigma = 20.0;           ///< sigma_H, m
  double radar_density_radius = 300.0; ///< m; 0: every radar cell weighs the same
  double surface_sigma = 5.0;          ///< sigma_s, m
  double mass_weight = 0.0;            ///< w_m; 0: no mass-conservation term
  double mass_sigma = 1.0;             ///< sigma_m, m/a

  double thickness_smoothing = 1.0;     ///< w of the thickness smoothness
  double thickness_length = 500.0;      ///< l, m
  double across_flow_factor = 0.2;      ///< f
  bool smooth_correction = false;       ///< smooth H - H_first instead of H
  double thickness_prior = 0.0;         ///< w of the prior towards the first guess
  double thickness_prior_sigma = 100.0; ///< sigma_prior, m
  double friction_smoothing = 1.0;      ///< w of the friction smoothness
  double friction_length = 1000.0;      ///< l, m
  double friction_prior = 0.1;          ///< w of the friction prior
  double friction_prior_sigma = 1.0;    ///< sigma, decades of beta^2

  /// Throws nunatak::Error naming the inversion.* key of the first bad value.
  void check() const;
};

/// The cost terms at one state (dimensionless; see the file comment).
struct CostTerms {
  double velocity = 0, radar = 0, surface = 0, mass = 0;
  double thickness_smoothness = 0, thickness_prior = 0;
  double friction_smoothness = 0, friction_prior = 0;
  double total = 0;
  /// RMS of |u_s - u_obs| over the observed cells, m/a; radar misfit RMS
  /// over the cells used and over those held out, m (NaN: none).
  double velocity_rms = 0, radar_rms = 0, radar_holdout_rms = 0;
  /// The names and values of the terms, in the order above (total last).
  std::vector<std::pair<std::string, double>> named() const;
};

/// A differentiable forward model: the velocity of a patch.
class ForwardModel {
public:
  virtual ~ForwardModel() = default;
  /// "emulator", "solver", "hybrid".
  virtual std::string name() const = 0;
  /// The velocity [ny, nx, nz, 2] (m/a, 0 at fixed nodes) of `patch`,
  /// differentiable with respect to patch.thickness, bed and beta2.
  virtual torch::Tensor velocity(const emulator::TorchBPPatch& patch) = 0;
  /// Called before iteration `iteration` (0-based) with the current state,
  /// detached (the hybrid mode retrains here). Returns a line for the log, or "".
  virtual std::string before_iteration(int iteration, const emulator::TorchBPPatch& patch) {
    (void)iteration;
    (void)patch;
    return "";
  }
};

/// Gradients by autograd through an emulator (emulator/network.hpp). The
/// membrane reference, when the model has one, is solved at every call from
/// the previous call's solution, its Glen viscosity held fixed in the
/// derivative (membrane_reference.hpp). With refinement, the network's
/// velocity is refined towards the Blatter-Pattyn balance and the gradient
/// is that balance's adjoint through the shared energy (refinement.hpp).
class EmulatorForward final : public ForwardModel {
public:
  /// Keeps a reference to `model`, which must outlive this. With
  /// `reference_only` (emulator.output: reference), the velocity is the
  /// model's membrane reference without its network, differentiated by the
  /// reference's adjoint. With `refine_steps` > 0 (emulator.refine_steps),
  /// that velocity is refined by that many steps of `refine_method`
  /// (emulator.refine_method: defect or newton) and differentiated as the
  /// energy's minimiser (emulator::DifferentiableRefinement), its adjoint
  /// solved to `adjoint_tolerance`.
  explicit EmulatorForward(emulator::Emulator& model, bool reference_only = false,
                           int refine_steps = 0, const std::string& refine_method = "defect",
                           double adjoint_tolerance = 1e-2);
  ~EmulatorForward() override;
  std::string name() const override;
  torch::Tensor velocity(const emulator::TorchBPPatch& patch) override;
  /// A line on the refinement's adjoints so far ("" without refinement).
  std::string refinement_summary() const;

private:
  emulator::Emulator& m_model;
  bool m_reference_only = false;
  torch::Tensor m_membrane,
      m_viscosity; ///< the last call's membrane solution (the next first guess)
  std::unique_ptr<emulator::DifferentiableRefinement> m_refine;
};

/// The problem: the first guess as a patch (its masks are the inversion's:
/// ice where thickness >= H_min), the observations and the options.
/// `first_guess.thickness` is clamped into [thickness_min, thickness_max] on
/// the ice; `first_guess.bed` must be surface - thickness there.
class Inversion {
public:
  /// Checks sizes and options (nunatak::Error naming the array or key).
  Inversion(const core::BPPatch& first_guess, InversionObservations observations,
            InversionOptions options);
  ~Inversion();
  Inversion(const Inversion&) = delete;
  Inversion& operator=(const Inversion&) = delete;

  /// The cost terms of `velocity` ([ny, nx, nz, 2]) at the current controls,
  /// as a tensor sum (for gradients) and in `terms` (for reports).
  torch::Tensor cost(const torch::Tensor& velocity, CostTerms* terms = nullptr) const;
  /// The current state as a patch (tensors depend on the controls, which require grad).
  emulator::TorchBPPatch patch() const;
  /// The cost at the current controls through `forward`, and its gradient in
  /// the controls' .grad() (for tests: the controls are scaled, see controls()).
  CostTerms evaluate(ForwardModel& forward, bool gradient);
  /// The scaled control tensors (theta_H, and theta_beta / theta_s when
  /// controlled), leaves that require grad.
  std::vector<torch::Tensor> controls() const;

  /// One record of the optimisation.
  struct Step {
    int iteration = 0;
    int evaluations = 0; ///< forward + gradient evaluations so far
    double seconds = 0;  ///< wall time so far
    CostTerms terms;
    std::string note; ///< what the forward model said (hybrid retraining)
  };
  /// Runs the optimiser from the current controls; `progress` is called after
  /// every step. Returns the history (the state before the first step first).
  /// Where the forward model throws nunatak::Error during a step (a solve
  /// that does not converge at a trial state), the controls go back to the
  /// last state and the optimiser starts afresh; a second failure in a row
  /// ends the run there. Either is said in that step's note.
  std::vector<Step> run(ForwardModel& forward,
                        const std::function<void(const Step&)>& progress = {});

  /// The current thickness, bed, surface (m) and beta^2 (Pa (m/a)^-q), [y][x].
  std::vector<double> thickness() const;
  std::vector<double> bed() const;
  std::vector<double> surface() const;
  std::vector<double> beta2() const;
  /// The first-guess patch with the current geometry (for a solver check).
  core::BPPatch current_patch() const;
  /// The radar weights w_i ([y][x], 0 off the radar cells used).
  std::vector<double> radar_weights() const;
  const InversionOptions& options() const { return m_options; }

private:
  struct State;
  std::unique_ptr<State> m_state;
  InversionOptions m_options;
};

/// The velocity-misfit and radar-misfit figures of a thickness `thk` and
/// surface velocity `surface_velocity` ([y][x][2], m/a) against the
/// observations: RMS |u - u_obs| (m/a) over the observed ice cells, and the
/// radar RMS and bias over the used and the held-out cells.
struct MisfitSummary {
  double velocity_rms = 0;
  long long velocity_cells = 0;
  double radar_rms = 0, radar_bias = 0;
  long long radar_cells = 0;
  double holdout_rms = 0, holdout_bias = 0;
  long long holdout_cells = 0;
};
MisfitSummary misfit_summary(const core::BPPatch& patch, const InversionObservations& observations,
                             const std::vector<double>& thk,
                             const std::vector<double>& surface_velocity);

/// The surface velocity [y][x][2] (m/a) of a column velocity [y][x][z][2].
std::vector<double> surface_velocity(const core::BPPatch& patch,
                                     const std::vector<double>& velocity);

} // namespace nunatak::inversion
