#pragma once
/// \file transient_model.hpp
/// A transient ice-sheet model: a stress balance, mass transport and a surface
/// mass balance, advanced by adaptive explicit time steps.
///
/// One step from time t, at most to `t_limit`:
///  1. ghost exchange of H; outside a non-periodic domain H = 0 (ice leaves);
///  2. surface s and mask from the floatation rule (core/floatation.hpp:
///     s = max(b + H, z_sl + (1 - rho_i/rho_w) H), ice where H > H_min) on
///     the ghosted box;
///  3. the stress balance computes face fluxes and its largest diffusivity D
///     (the shallow-ice model's own; Blatter-Pattyn and the emulator give
///     the effective diffusivity of their deformation flux,
///     solver/column_velocity.hpp);
///  4. dt = min(theta / (2 D (1/dx^2 + 1/dy^2)), c / max(|u|/dx + |v|/dy),
///     max_dt, t_limit - t): the explicit diffusion limit scaled by theta
///     (time.diffusivity_safety) and the CFL limit with Courant number c
///     (time.cfl) for the advective fluxes of non-shallow models;
///  5. the surface mass balance at time t; 6. the mass transport step;
///  7. the mask and surface follow the new thickness.
/// A step checks what it computed: a non-finite diffusivity or advection
/// rate, a time step too short to advance the time, or a thickness that
/// became NaN or infinite stops the run with a CollectiveError (on every
/// rank) naming the step, the time and the first bad cell.
/// The stress balance gets the same floatation rule (transport.floatation).
/// The state after a step depends only on the state before it and the
/// parameters, so a run restarted from a checkpoint continues bit for bit.

#include "nunatak/core/constants.hpp"
#include "nunatak/solver/mass_transport.hpp"
#include "nunatak/solver/stress_balance.hpp"

#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>

namespace nunatak::model {

/// The evolving state (SI units). thk is the prognostic field; usurf and mask
/// are derived from it and topg.
struct ModelState {
  core::Field2D thk, topg, usurf, mask, smb; ///< smb: kg m^-2 s^-1, current forcing
  double time = 0.0;                         ///< s
  long long steps = 0;
};

/// Surface mass balance as a function of time (kg m^-2 s^-1).
class SurfaceForcing {
public:
  virtual ~SurfaceForcing() = default;
  /// Sets `smb` (owned cells) for time `t` (s), given the current state.
  virtual void update(double t, const ModelState& state, core::Field2D& smb) = 0;
};

/// A surface mass balance that does not change in time.
class ConstantForcing final : public SurfaceForcing {
public:
  explicit ConstantForcing(core::Field2D smb) : m_smb(std::move(smb)) {}
  void update(double, const ModelState&, core::Field2D& smb) override;

private:
  core::Field2D m_smb;
};

/// A surface mass balance given by a formula of time and position (x, y in m),
/// evaluated on the host at every step (for exact-solution tests).
class FormulaForcing final : public SurfaceForcing {
public:
  using Formula = std::function<double(double t, double x, double y)>;
  explicit FormulaForcing(Formula f) : m_formula(std::move(f)) {}
  void update(double t, const ModelState& state, core::Field2D& smb) override;

private:
  Formula m_formula;
};

/// A scenario on top of another forcing: smb = factor * base(t) + offset(t),
/// offset(t) = offset + offset_rate (t - start) (keys surface_mass_balance.*).
class ScenarioForcing final : public SurfaceForcing {
public:
  /// `offset` in kg m^-2 s^-1, `offset_rate` in kg m^-2 s^-2, `start` in s.
  ScenarioForcing(std::unique_ptr<SurfaceForcing> base, double factor, double offset,
                  double offset_rate, double start)
      : m_base(std::move(base)), m_factor(factor), m_offset(offset), m_offset_rate(offset_rate),
        m_start(start) {}
  void update(double t, const ModelState& state, core::Field2D& smb) override;

private:
  std::unique_ptr<SurfaceForcing> m_base;
  double m_factor, m_offset, m_offset_rate, m_start;
};

/// Coefficient fields of the stress balance that do not change in time; an
/// empty one means the uniform value of the parameters. The model owns them,
/// so they live as long as it does (StressBalanceInputs points at them).
struct StressCoefficients {
  /// beta^2 of tau_b = beta^2 |u_b|^(q-1) u_b, Pa (m/a)^-q, q = 1/sliding.exponent.
  std::optional<core::Field2D> basal_friction;
  /// Ice softness A per cell and sigma level, Pa^-n s^-1.
  std::optional<core::Field3D> softness;
};

/// Time-stepping and physics parameters.
struct ModelParams {
  solver::StressBalanceParams stress;
  solver::TransportParams transport;
  double diffusivity_safety = 0.5; ///< theta in (0, 1]
  double cfl = 0.5;                ///< Courant number for advective fluxes, in (0, 1]
  double max_dt = 100.0 * core::seconds_per_year; ///< s
};

/// What one step did.
struct StepReport {
  double dt = 0.0;             ///< s
  solver::MassBudget budget;   ///< m^3 of ice
  const char* limited_by = ""; ///< "diffusivity", "cfl", "max_dt" or "target time"
  /// The stress balance's solver check in this step (StressBalance::last_solver_check).
  double solver_check = std::numeric_limits<double>::quiet_NaN();
};

/// The model. Collective on the grid's communicator.
class TransientModel {
public:
  TransientModel(std::unique_ptr<solver::StressBalance> stress_balance,
                 std::unique_ptr<SurfaceForcing> forcing, ModelState initial,
                 const ModelParams& params, StressCoefficients coefficients = {});

  /// Advances one adaptive step, never past `t_limit` (s).
  StepReport step(double t_limit);
  /// Steps until `t_end` (s); calls `after_step` after each step if given.
  void run_until(double t_end, const std::function<void(const StepReport&)>& after_step = {});

  const ModelState& state() const { return m_state; }
  ModelState& state() { return m_state; }
  const solver::StressBalance& stress_balance() const { return *m_stress; }
  const ModelParams& params() const { return m_params; }
  const StressCoefficients& coefficients() const { return m_coefficients; }
  /// Recomputes the flow for the current state (for output) and returns it.
  solver::Velocities velocities(const std::vector<double>& sigma);
  /// Replaces the thickness (whole grid, row-major [y][x], m), the time (s)
  /// and the step count, as when restarting from a checkpoint.
  void restore(const std::vector<double>& thk, double time, long long steps);
  /// Replaces the surface mass balance forcing (a coupled host's) and
  /// returns the one it replaces.
  std::unique_ptr<SurfaceForcing> replace_forcing(std::unique_ptr<SurfaceForcing> forcing);
  /// Collective: the ghosts of H and topg, the surface and the mask from the
  /// current thickness and bed (after a host set them; every step does it).
  void refresh_geometry();
  /// Ice volume (m^3) and area (m^2, of the cells that hold ice: H > H_min)
  /// of the current state.
  double volume() const;
  double area() const;

  /// Floating ice that the calving rule (transport.calve_floating_ice)
  /// removed from the initial state, before the first stress balance, as
  /// every transport step does: cells (all ranks) and volume (m^3).
  struct InitialCalving {
    long long cells = 0;
    double volume = 0.0;
  };
  const InitialCalving& initial_calving() const { return m_initial_calving; }

private:
  /// Applies the calving rule to the initial state (sets m_initial_calving).
  void calve_initial_state();
  /// Collective: throws CollectiveError naming the step, time and first cell
  /// if the thickness after the step from `t` is not finite everywhere.
  void check_state(const StepReport& report, double t) const;
  /// The stress balance's inputs from the current state.
  solver::StressBalanceInputs stress_inputs() const;
  std::unique_ptr<solver::StressBalance> m_stress;
  std::unique_ptr<SurfaceForcing> m_forcing;
  ModelState m_state;
  ModelParams m_params;
  StressCoefficients m_coefficients;
  InitialCalving m_initial_calving;
};

/// Collective: sets the ghost cells of `field` from neighbours and, outside a
/// non-periodic domain, to `outside`.
void update_ghosts_with_edge(core::Field2D& field, double outside);

} // namespace nunatak::model
