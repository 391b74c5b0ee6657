// Where PETSc's arrays live against where nunatak's kernels run
// (petsc_handle.hpp).

#include "nunatak/core/petsc_handle.hpp"

#include "nunatak/core/error.hpp"

#include <Kokkos_Core.hpp>

#include <string>
#include <type_traits>

namespace nunatak::core {

void check_kernel_memory(PetscMemType type, const char* what) {
  using Exec = Kokkos::DefaultExecutionSpace;
  constexpr bool runs_on_host = std::is_same<Exec::memory_space, Kokkos::HostSpace>::value;
  constexpr bool reaches_host = Kokkos::SpaceAccessibility<Exec, Kokkos::HostSpace>::accessible;
  const bool on_device = PetscMemTypeDevice(type);
  if (on_device ? !runs_on_host : reaches_host) return;
  throw Error(std::string(what) + ": PETSc keeps this vector in " + PetscMemTypeToString(type) +
              " memory, which nunatak's kernels (Kokkos " + Exec::name() + ") cannot read; use a " +
              (on_device ? "host vector type (e.g. -bp_dm_vec_type standard)"
                         : "device vector type (e.g. -bp_dm_vec_type kokkos)") +
              " or build nunatak with the Kokkos that PETSc was built with");
}

} // namespace nunatak::core
