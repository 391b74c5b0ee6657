// Built without LibTorch: the emulator stress balance does not exist.
#include "nunatak/model/emulator_stress_balance.hpp"

namespace nunatak::model {

void register_emulator_stress_balance() {}

} // namespace nunatak::model
