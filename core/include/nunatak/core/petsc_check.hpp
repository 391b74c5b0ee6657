#pragma once
/// \file petsc_check.hpp
/// Turning PETSc error codes into nunatak::Error.

#include <petscsys.h>

namespace nunatak::core {

/// Throws nunatak::Error naming `call` and PETSc's message if `code` is non-zero.
void check_petsc(PetscErrorCode code, const char* call);

} // namespace nunatak::core

/// Calls a PETSc function and throws nunatak::Error if it fails.
#define NUNATAK_PETSC(call) ::nunatak::core::check_petsc((call), #call)
