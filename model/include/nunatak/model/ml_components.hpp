#pragma once
/// \file ml_components.hpp
/// The parts of nunatak that need LibTorch (the emulator stress balance, the
/// inversion, super-resolution), as the rest of nunatak reaches them.
///
/// LibTorch costs every process that links it about 150 MB of memory and
/// 0.7 s at start-up (docs/blatter_pattyn.md, "Memory"), even when no
/// network runs. So the `nunatak` program does not link it: its LibTorch
/// parts are a plugin (libnunatak_ml.so, beside the program's libraries)
/// that is loaded the first time they are needed: `stress_balance.model:
/// emulator`, `nunatak invert`, `nunatak superres`, `nunatak emulator train`.
/// Programs and libraries that link `nunatak::model_ml` (the tests, the
/// C/Fortran library) provide the components themselves with
/// link_ml_components() and never load the plugin.

#include "nunatak/solver/stress_balance.hpp"

#include <string>

namespace nunatak::model {

/// What the LibTorch part provides.
struct MlComponents {
  /// Makes the emulator stress balance (`stress_balance.model: emulator`).
  solver::StressBalanceFactory emulator_stress_balance;
};

/// Makes `components` the ones ml_components() returns (and no plugin is loaded).
void provide_ml_components(MlComponents components);

/// The components of the LibTorch part linked into this program
/// (model_ml_components.cpp, in nunatak::model_ml): calls
/// provide_ml_components() with them.
void link_ml_components();

/// The plugin to load when nothing was provided: `path` (empty: none, and
/// asking for the components is an error saying so).
void set_ml_plugin_path(std::string path);

/// The plugin's symbol `name`, loading the plugin first if needed. Throws
/// nunatak::Error naming the plugin file if there is none, it does not load,
/// it comes from another build of nunatak, or it lacks `name`.
void* ml_plugin_symbol(const std::string& name);

/// The components: those provided, else the plugin's (loaded on first call).
/// Throws nunatak::Error as ml_plugin_symbol does.
const MlComponents& ml_components();

/// Makes "emulator" known to solver::make_stress_balance, from ml_components().
void register_emulator_stress_balance();

} // namespace nunatak::model

/// The plugin's entry points (C names, so that dlsym finds them).
extern "C" {
/// The git revision the plugin was built from (core/version.hpp).
const char* nunatak_ml_git_revision();
/// Writes the plugin's components to `out`.
void nunatak_ml_components(nunatak::model::MlComponents* out);
}
