#include "nunatak/core/runtime.hpp"

#include "nunatak/core/error.hpp"
#include "nunatak/core/petsc_check.hpp"

#include <Kokkos_Core.hpp>
#include <petscsys.h>

#include <string>

namespace nunatak::core {

void check_petsc(PetscErrorCode code, const char* call) {
  if (code == 0) return;
  const char* text = nullptr;
  char* specific = nullptr; // the message of the error raised (SETERRQ, PetscError), if any
  PetscErrorMessage(code, &text, &specific);
  std::string message =
      std::string("PETSc error in ") + call + ": " + (text ? text : "unknown error");
  if (specific && *specific) message += ": " + std::string(specific);
  throw Error(message + " (code " + std::to_string(static_cast<int>(code)) + ")");
}

Runtime::Runtime(MPI_Comm comm, const std::vector<std::string>& petsc_options) : m_comm(comm) {
  int mpi_ready = 0;
  MPI_Initialized(&mpi_ready);
  if (!mpi_ready) {
    int provided = 0;
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
    m_owns_mpi = true;
  }
  MPI_Comm_rank(m_comm, &m_rank);
  MPI_Comm_size(m_comm, &m_size);

  PetscBool petsc_ready = PETSC_FALSE;
  PetscInitialized(&petsc_ready);
  if (!petsc_ready) {
    PETSC_COMM_WORLD = m_comm;
    // No argv: nunatak's command line is parsed by nunatak; PETSc options come
    // through `petsc_options` (and the PETSC_OPTIONS environment variable).
    if (PetscInitializeNoArguments() != 0) throw Error("PETSc failed to initialise");
    m_owns_petsc = true;
    // Errors come back as codes that nunatak turns into exceptions with
    // PETSc's message, instead of PETSc printing a traceback.
    PetscPushErrorHandler(PetscReturnErrorHandler, nullptr);
  }
  for (const auto& option : petsc_options)
    NUNATAK_PETSC(PetscOptionsInsertString(nullptr, option.c_str()));

  if (!Kokkos::is_initialized()) {
    Kokkos::initialize();
    m_owns_kokkos = true;
  }
}

Runtime::~Runtime() {
  if (m_owns_kokkos) Kokkos::finalize();
  if (m_owns_petsc) PetscFinalize();
  if (m_owns_mpi) MPI_Finalize();
}

} // namespace nunatak::core
