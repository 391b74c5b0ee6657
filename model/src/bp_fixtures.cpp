#include "nunatak/model/bp_fixtures.hpp"

#include "nunatak/core/error.hpp"
#include "nunatak/io/bp_fixture.hpp"

#include <filesystem>

namespace nunatak::model {

std::string bp_fixture_path(const std::string& path, int rank, int size) {
  if (size <= 1) return path;
  const std::filesystem::path p(path);
  return (p.parent_path() /
          (p.stem().string() + ".rank" + std::to_string(rank) + p.extension().string()))
      .string();
}

std::string write_bp_fixtures(const solver::BlatterPattyn& bp, const std::string& path,
                              const std::string& description) {
  MPI_Comm comm = MPI_COMM_NULL;
  PetscObjectGetComm(reinterpret_cast<PetscObject>(bp.dm()), &comm);
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  const solver::BPPatchState state = bp.patch_state();
  const std::string file = bp_fixture_path(path, rank, size);
  const std::string text =
      description +
      (size > 1 ? " (rank " + std::to_string(rank) + " of " + std::to_string(size) + ")" : "");
  // A failure on one rank is a failure on all (io::collective would be the
  // place; every rank writes its own file here).
  std::string error;
  try {
    io::write_bp_fixture(file, {state.patch, state.velocity, state.energy, state.gradient, text});
  } catch (const std::exception& e) {
    error = e.what();
  }
  int failed = error.empty() ? 0 : 1, any = 0;
  MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, comm);
  if (any) throw Error(error.empty() ? "bp fixture: writing failed on another rank" : error);
  return file;
}

} // namespace nunatak::model
