// libnunatak_ml.so: the LibTorch part of the nunatak program, loaded when a
// command needs it (model/ml_components.hpp): the subcommands `emulator
// train|eval|gradient`, `invert` and `superres`, and the emulator stress
// balance. The program exports its own symbols (ENABLE_EXPORTS), so the
// plugin's code shares the program's state (registries, loggers, PETSc's
// log events) rather than its own copies of it.

#include "commands.hpp"

#include "nunatak/core/version.hpp"
#include "nunatak/model/emulator_stress_balance.hpp"
#include "nunatak/model/ml_components.hpp"

extern "C" {

const char* nunatak_ml_git_revision() {
  return nunatak::git_revision;
}

void nunatak_ml_components(nunatak::model::MlComponents* out) {
  out->emulator_stress_balance = nunatak::model::emulator_stress_balance_factory();
}

void nunatak_ml_add_commands(CLI::App* cli, nunatak::app::Context* context) {
  using namespace nunatak::app;
  add_emulator_training_commands(*cli->get_subcommand("emulator"), *context);
  add_invert_command(*cli, *context);
  add_superres_command(*cli, *context);
}

} // extern "C"
