// GoogleTest main for nunatak tests: one Runtime (MPI, PETSc, Kokkos) around
// all tests, so the same test binary runs at any MPI size. Every rank prints its
// results, so a failure on one rank is seen.
#include "nunatak/core/runtime.hpp"

#include <gtest/gtest.h>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  nunatak::core::Runtime runtime;
  int result = RUN_ALL_TESTS();
  // A test that fails on one rank fails the run on every rank.
  int any = 0;
  MPI_Allreduce(&result, &any, 1, MPI_INT, MPI_MAX, runtime.comm());
  return any;
}
