// The LibTorch components linked into a program (nunatak::model_ml):
// link_ml_components() in ml_components.hpp.

#include "nunatak/model/emulator_stress_balance.hpp"
#include "nunatak/model/ml_components.hpp"

namespace nunatak::model {

void link_ml_components() {
  MlComponents components;
  components.emulator_stress_balance = emulator_stress_balance_factory();
  provide_ml_components(std::move(components));
}

} // namespace nunatak::model
