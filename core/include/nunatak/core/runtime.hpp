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
#include <utility>
#include <vector>

namespace nunatak::core {

/// PETSc options as (name, value) pairs; value "" for a flag.
using PetscOptionList = std::vector<std::pair<std::string, std::string>>;

/// Splits PETSc option tokens ("-name [value] ...") into (name, value) pairs.
/// A name starts with '-' and a letter; a token that is not a name (a number
/// such as -1 is one) is the value of the name before it. Throws
/// nunatak::Error naming `source` and the token if one is neither (a first
/// token that is not an option, or a second value: "-- garbage 12").
PetscOptionList parse_petsc_options(const std::vector<std::string>& tokens,
                                    const std::string& source);
/// The same for whitespace-separated text.
PetscOptionList parse_petsc_options(const std::string& text, const std::string& source);

/// RAII owner of the MPI / PETSc / Kokkos lifetimes. Create exactly one, first.
class Runtime {
public:
  /// `comm`: the communicator nunatak works on (becomes PETSC_COMM_WORLD when
  /// this Runtime initialises PETSc). `petsc_options`: extra PETSc options,
  /// e.g. {"-log_view"} or {"-bp_snes_max_it", "20"} (each element one or
  /// more whitespace-separated tokens), checked by parse_petsc_options and
  /// inserted into PETSc's options database: before PetscInitialize when this
  /// Runtime initialises PETSc (so that -log_view, -info or -malloc_debug act),
  /// overriding the PETSC_OPTIONS environment variable.
  explicit Runtime(MPI_Comm comm = MPI_COMM_WORLD,
                   const std::vector<std::string>& petsc_options = {});
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  /// The options in PETSc's database that nothing has looked up (as PETSc's
  /// -options_left reports them): misspelled, or not for this command.
  /// Not collective; empty if PETSc is not initialised.
  PetscOptionList unused_petsc_options() const;

  MPI_Comm comm() const { return m_comm; }
  int rank() const { return m_rank; }
  int size() const { return m_size; }

private:
  MPI_Comm m_comm;
  int m_rank = 0, m_size = 1;
  bool m_owns_mpi = false, m_owns_petsc = false, m_owns_kokkos = false;
};

} // namespace nunatak::core
