#pragma once
/// \file stress_balance.hpp
/// One interface for every ice-flow model: geometry (and parameters) in,
/// velocities and mass fluxes out. SIA implements it now; Blatter-Pattyn and
/// the neural emulator will. `make_stress_balance` is the only place that picks
/// a model by name.

#include "nunatak/core/field3d.hpp"
#include "nunatak/core/floatation.hpp"
#include "nunatak/solver/flow_law.hpp"

#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>

namespace nunatak::solver {

/// What a stress balance reads (typed: every model gets the same fields and
/// takes what it uses). Fields must have up-to-date ghosts.
struct StressBalanceInputs {
  const core::Field2D& thk;    ///< ice thickness H, m
  const core::Field2D& topg;   ///< bed elevation b, m
  const core::Field2D& usurf;  ///< surface elevation, m (floatation.surface(H, b))
  core::Floatation floatation; ///< which ice floats: sea level, densities, minimum thickness
  /// Basal friction coefficient beta^2 per cell, in the friction law
  /// tau_b = beta^2 |u_b|^(q-1) u_b (q = 1/m, m = sliding.exponent), Pa (m/a)^-q;
  /// null: the configured uniform sliding (or none). Not used under floating ice.
  const core::Field2D* basal_friction = nullptr;
  /// Ice softness A per cell and level (sigma levels of the field), Pa^-n s^-1;
  /// null: the flow law's uniform A.
  const core::Field3D* softness = nullptr;
  /// True for an update that only diagnoses the velocity (for an output),
  /// not one that advances the model: a stress balance that does something
  /// every N steps (the emulator's retraining and solver check) skips it.
  bool diagnostic = false;
};

/// Horizontal ice flux through cell faces, m^2 s^-1, on the ghosted box:
/// qx(j, i) crosses the face between cells i and i+1 (positive towards +x);
/// qy(j, i) the face between cells j and j+1. Valid on the faces of owned cells.
struct FaceFluxes {
  core::View2D qx, qy;
};

/// Velocities at cell centres, m s^-1.
struct Velocities {
  core::Field2D uvelsurf, vvelsurf, uvelbase, vvelbase, ubar, vbar, velsurf_mag;
  std::optional<core::Field3D> uvel, vvel; ///< on sigma levels, when levels were requested
  /// The 2-D fields, in output order.
  std::vector<const core::Field2D*> fields2d() const;
};

/// An ice-flow model.
class StressBalance {
public:
  virtual ~StressBalance() = default;
  /// The model's name, as in the configuration ("sia", ...).
  virtual std::string name() const = 0;
  /// Collective: computes the flow for `inputs`.
  virtual void update(const StressBalanceInputs& inputs) = 0;
  /// Mass fluxes through faces from the last update.
  virtual const FaceFluxes& fluxes() const = 0;
  /// Largest diffusivity (m^2 s^-1) of the last update, over all ranks, for
  /// the explicit time-step limit: an effective one where the flux follows
  /// the surface slope without being written as -D grad s (Blatter-Pattyn,
  /// the emulator); 0 for non-diffusive models.
  virtual double max_diffusivity() const = 0;
  /// Largest |u|/dx + |v|/dy (s^-1) of the depth-averaged velocity that the
  /// fluxes advect, over all ranks, for the CFL limit; 0 for diffusive models.
  virtual double max_advection_rate() const { return 0.0; }
  /// One line about the last solve (iterations, residuals) for iterative
  /// solvers; "" otherwise.
  virtual std::string last_solve_summary() const { return ""; }
  /// The relative difference of the last update's velocity to a
  /// Blatter-Pattyn check solve (the emulator's solver check), or NaN where
  /// the last update ran no check. Same on every rank.
  virtual double last_solver_check() const { return std::numeric_limits<double>::quiet_NaN(); }
  /// Collective: velocities from the last update; 3-D ones on `sigma` levels
  /// when `sigma` is not empty.
  virtual Velocities velocities(const std::vector<double>& sigma) const = 0;
};

/// Parameters every stress balance may use.
struct StressBalanceParams {
  FlowLaw flow;
  SlidingLaw sliding;
  int bp_levels = 9;                  ///< Blatter-Pattyn: nodes per column
  double bp_minimum_thickness = 10.0; ///< m: thinner columns are excluded
  double bp_regularisation = 1e-5;    ///< a^-1: strain-rate regularisation
  bool bp_ocean_pressure = true;      ///< Blatter-Pattyn: calving-front condition
  /// Put before the solvers' PETSc options prefixes ("" -> -bp_*, "nk1_" ->
  /// -nk1_bp_*): two models in one process each read their own options.
  std::string options_prefix;
  double sea_level = 0.0;                       ///< m
  double sea_water_density = 1028.0;            ///< kg m^-3
  std::string emulator_model;                   ///< emulator: the model file
  std::string emulator_output = "network";      ///< emulator: network or reference
  std::string emulator_device = "cpu";          ///< emulator: cpu, cuda or auto
  std::string emulator_precision = "single";    ///< emulator: single or double
  int emulator_retrain_every = 0;               ///< emulator: retrain every K updates (0: never)
  int emulator_retrain_steps = 10;              ///< emulator: Adam steps per retraining
  double emulator_retrain_learning_rate = 1e-4; ///< emulator: Adam's, when retraining
  int emulator_solver_check_every = 0; ///< emulator: a BP check solve every M updates (0: never)
  int emulator_refine_steps = 0;       ///< emulator: refinement steps towards BP (0: none)
  std::string emulator_refine_method = "defect"; ///< emulator: refinement by defect or newton
};

/// Makes a stress balance on a grid with the given parameters.
using StressBalanceFactory = std::function<std::unique_ptr<StressBalance>(
    std::shared_ptr<const core::ParallelGrid>, const StressBalanceParams&)>;
/// Makes `name` known to make_stress_balance (for models built in other
/// libraries, such as the LibTorch emulator); replaces an earlier entry.
void register_stress_balance(const std::string& name, StressBalanceFactory factory);

/// The stress balance called `name` on `grid`; throws nunatak::Error for an
/// unknown name (listing the known ones).
std::unique_ptr<StressBalance> make_stress_balance(const std::string& name,
                                                   std::shared_ptr<const core::ParallelGrid> grid,
                                                   const StressBalanceParams& params);

/// The 2-D velocity fields on `grid`, zero, with their metadata (no 3-D fields).
Velocities make_velocities(std::shared_ptr<const core::ParallelGrid> grid);

/// Metadata of the velocity output fields ("uvelsurf", "ubar", "uvel", ...).
core::FieldInfo velocity_info(const std::string& name);

} // namespace nunatak::solver
