// A program whose ranks fail the ways `nunatak` can, reporting through the
// same core::report_error as nunatak's main (run by test_error_report):
//   local      - the last rank throws; the others wait in MPI_Barrier for it
//                (a rank-local error before a collective call);
//   shared     - every rank throws the same nunatak::Error;
//   collective - the last rank fails inside core::collective.
#include "nunatak/core/collective.hpp"
#include "nunatak/core/error.hpp"
#include "nunatak/core/error_report.hpp"

#include <mpi.h>

#include <iostream>
#include <string>

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const std::string mode = argc > 1 ? argv[1] : "";
  int status = 0;
  try {
    if (mode == "local") {
      if (rank == size - 1) throw nunatak::Error("cell (i = 3, j = 4) has no bed elevation");
      MPI_Barrier(MPI_COMM_WORLD); // never completes: the last rank is gone
    } else if (mode == "shared") {
      throw nunatak::Error("configuration key 'time.end' must be after time.start");
    } else if (mode == "collective") {
      nunatak::core::collective(MPI_COMM_WORLD, [&] {
        if (rank == size - 1) throw nunatak::Error("checkpoint 'ck.nc' does not exist");
      });
    } else {
      throw nunatak::Error("unknown mode '" + mode + "'");
    }
  } catch (const std::exception& e) {
    status = nunatak::core::report_error(e, "error_report_program", std::cerr, 3.0);
  }
  MPI_Finalize();
  return status;
}
