// The LibTorch components as the rest of nunatak reaches them
// (ml_components.hpp): provided by linked code, or loaded once from the
// plugin with dlopen. Every rank makes the same calls, so an error here is
// every rank's.

#include "nunatak/model/ml_components.hpp"

#include "nunatak/core/error.hpp"
#include "nunatak/core/version.hpp"

#include <dlfcn.h>

#include <cstring>
#include <optional>
#include <utility>

namespace nunatak::model {

namespace {

struct MlState {
  std::optional<MlComponents> components; ///< provided or loaded
  std::string plugin_path;                ///< where to load them from (empty: nowhere)
  void* plugin = nullptr;                 ///< the loaded plugin, kept to the end of the program
};

MlState& ml_state() {
  static MlState state;
  return state;
}

void* load_plugin(const std::string& path) {
  if (path.empty())
    throw Error("this program has no LibTorch components (the emulator stress balance, the "
                "inversion, super-resolution): nunatak was built without LibTorch "
                "(NUNATAK_ENABLE_EMULATOR=OFF), or the program links nunatak::model_ml "
                "without calling nunatak::model::link_ml_components()");
  // RTLD_GLOBAL: LibTorch's own libraries, loaded with it, stay visible to each other.
  void* plugin = dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);
  if (!plugin) {
    const char* why = dlerror();
    throw Error("cannot load nunatak's LibTorch plugin '" + path +
                "': " + (why ? why : "unknown error") +
                " (set NUNATAK_ML_PLUGIN to its path if it was moved)");
  }
  using Revision = const char* (*)();
  const auto revision = reinterpret_cast<Revision>(dlsym(plugin, "nunatak_ml_git_revision"));
  if (!revision)
    throw Error("'" + path + "' is not nunatak's LibTorch plugin (no nunatak_ml_git_revision)");
  if (std::strcmp(revision(), git_revision) != 0)
    throw Error("nunatak's LibTorch plugin '" + path + "' is from another build (git " +
                revision() + ") than this program (git " + git_revision +
                "): reinstall both together");
  return plugin;
}

} // namespace

void provide_ml_components(MlComponents components) {
  ml_state().components = std::move(components);
}

void set_ml_plugin_path(std::string path) {
  ml_state().plugin_path = std::move(path);
}

void* ml_plugin_symbol(const std::string& name) {
  MlState& state = ml_state();
  if (!state.plugin) state.plugin = load_plugin(state.plugin_path);
  void* symbol = dlsym(state.plugin, name.c_str());
  if (!symbol)
    throw Error("nunatak's LibTorch plugin '" + state.plugin_path + "' lacks '" + name + "'");
  return symbol;
}

const MlComponents& ml_components() {
  MlState& state = ml_state();
  if (!state.components) {
    using Components = void (*)(MlComponents*);
    MlComponents loaded;
    reinterpret_cast<Components>(ml_plugin_symbol("nunatak_ml_components"))(&loaded);
    state.components = std::move(loaded);
  }
  return *state.components;
}

void register_emulator_stress_balance() {
  solver::register_stress_balance("emulator", ml_components().emulator_stress_balance);
}

} // namespace nunatak::model
