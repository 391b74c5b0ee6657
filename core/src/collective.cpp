#include "nunatak/core/collective.hpp"

#include <string>

namespace nunatak::core {

void collective(MPI_Comm comm, const std::function<void()>& work) {
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  bool failed = false;
  std::string message;
  try {
    work();
  } catch (const std::exception& e) {
    failed = true;
    message = e.what();
  } catch (...) {
    failed = true;
    message = "unknown error (not a std::exception)";
  }
  // The lowest failing rank (size: none), then how many failed.
  const int mine = failed ? rank : size;
  int origin = size;
  MPI_Allreduce(&mine, &origin, 1, MPI_INT, MPI_MIN, comm);
  if (origin == size) return;
  const int one = failed ? 1 : 0;
  int failures = 0;
  MPI_Allreduce(&one, &failures, 1, MPI_INT, MPI_SUM, comm);
  int length = rank == origin ? int(message.size()) : 0;
  MPI_Bcast(&length, 1, MPI_INT, origin, comm);
  message.resize(size_t(length));
  if (length > 0) MPI_Bcast(message.data(), length, MPI_CHAR, origin, comm);
  if (failures < size) {
    message += " (on rank " + std::to_string(origin) + " of " + std::to_string(size);
    if (failures > 1) message += ", and on " + std::to_string(failures - 1) + " other ranks";
    message += ")";
  }
  throw CollectiveError(message, origin);
}

} // namespace nunatak::core
