#pragma once
/// \file emulator_stress_balance.hpp
/// The neural emulator as a stress balance (`stress_balance.model:
/// emulator`, `emulator.model: FILE`): the network of a model file
/// (emulator/network.hpp) gives the column velocities, from which the face
/// fluxes and output fields follow as for the Blatter-Pattyn solver
/// (solver/column_velocity.hpp). The transient model, `solve` and the coupling
/// layer get it through the stress-balance factory.
///
/// Collective. The network is fully convolutional, so it needs the whole
/// grid: the inputs are gathered on rank 0, which runs the network, and the
/// velocity is broadcast (results are the same at any rank count).
/// Inputs as the Blatter-Pattyn solver takes them: the ice base from the
/// floatation rule, floating ice free-slipping (beta^2 = 0), grounded ice
/// with no slip without a sliding law, else beta^2 (the input's friction
/// field or the uniform Weertman coefficient); hardness B = (E A)^(-1/n) from
/// the softness field's column mean or the flow law's A.
///
/// emulator.refine_steps > 0: at every update, after the network (or the
/// reference alone), that many refinement steps towards the Blatter-Pattyn
/// balance by the shared energy (emulator::refine_velocity), taken as
/// emulator.refine_method says (defect or newton).
///
/// Optional, on rank 0, in updates that advance the model (not in those that
/// only diagnose the velocity for an output), counted from the first:
/// - every emulator.retrain_every updates, emulator.retrain_steps Adam steps
///   (emulator.retrain_learning_rate) on the current geometry, physics loss
///   (the shared energy), with the last solver check's problem and solution
///   as a data sample (hybrid) once there is one, before the network runs;
/// - every emulator.solver_check_every updates, a Blatter-Pattyn solve of the
///   whole grid on rank 0 started from the network's velocity; the relative
///   L2 difference of the surface velocity over the ice is
///   StressBalance::last_solver_check (the time series'
///   emulator_solver_difference). The run keeps the network's velocity.

#include "nunatak/solver/stress_balance.hpp"

namespace nunatak::model {

/// The factory of the emulator stress balance (nunatak::model_ml, LibTorch).
/// Programs reach it through ml_components.hpp, which registers it as
/// "emulator" when a configuration asks for it.
solver::StressBalanceFactory emulator_stress_balance_factory();

} // namespace nunatak::model
