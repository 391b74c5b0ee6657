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

namespace nunatak::model {

/// Makes "emulator" known to solver::make_stress_balance. Without LibTorch
/// (NUNATAK_ENABLE_EMULATOR=OFF) it does nothing, and "emulator" stays unknown.
void register_emulator_stress_balance();

} // namespace nunatak::model
