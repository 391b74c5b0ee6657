#include "nunatak/model/bp_fixtures.hpp"

#include "nunatak/core/collective.hpp"
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
  // Every rank writes its own file; a failure on one is a failure on all.
  core::collective(comm, [&] {
    io::write_bp_fixture(file, {state.patch, state.velocity, state.energy, state.gradient, text});
  });
  return file;
}

} // namespace nunatak::model
