#pragma once
/// \file runtime.hpp
/// The one place where MPI, PETSc and Kokkos are initialised and finalised.
///
/// A `Runtime` initialises whatever is not yet initialised and, on destruction,
/// finalises exactly what it initialised, in reverse order. So a host program
/// (a Fortran model coupling nunatak, a test driver) that already initialised
/// MPI, PETSc or Kokkos keeps ownership of them.

#include <mpi.h>

#include <string>
#include <vector>

namespace nunatak::core {

/// RAII owner of the MPI / PETSc / Kokkos lifetimes. Create exactly one, first.
class Runtime {
public:
  /// `comm`: the communicator nunatak works on (becomes PETSC_COMM_WORLD when
  /// this Runtime initialises PETSc). `petsc_options`: extra PETSc options,
  /// e.g. {"-log_view"}, inserted into PETSc's options database.
  explicit Runtime(MPI_Comm comm = MPI_COMM_WORLD,
                   const std::vector<std::string>& petsc_options = {});
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  MPI_Comm comm() const { return m_comm; }
  int rank() const { return m_rank; }
  int size() const { return m_size; }

private:
  MPI_Comm m_comm;
  int m_rank = 0, m_size = 1;
  bool m_owns_mpi = false, m_owns_petsc = false, m_owns_kokkos = false;
};

} // namespace nunatak::core
