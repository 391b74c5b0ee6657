// A host program (a Fortran model, a coupler) that initialised MPI, PETSc and
// Kokkos itself keeps them: nunatak's Runtime uses them and leaves them alone.
#include "nunatak/core/field.hpp"
#include "nunatak/core/runtime.hpp"

#include <gtest/gtest.h>
#include <petscsys.h>

TEST(Runtime, UsesAndLeavesTheHostsInitialisation) {
  for (int round = 0; round < 2; ++round) {
    {
      nunatak::core::Runtime runtime(MPI_COMM_WORLD);
      EXPECT_GE(runtime.size(), 1);
      // Usable: build a distributed grid and a field on it.
      auto grid = nunatak::core::ParallelGrid::create(
          runtime.comm(), nunatak::core::Grid(5, 4, 1.0, 1.0, 0.0, 0.0));
      nunatak::core::Field2D f(grid, {"f", "", "", "1", "1", {}, ""}, 2.0);
      EXPECT_DOUBLE_EQ(grid->sum(f), 40.0);
    }
    int mpi_up = 0, mpi_down = 0;
    MPI_Initialized(&mpi_up);
    MPI_Finalized(&mpi_down);
    PetscBool petsc_up = PETSC_FALSE;
    PetscInitialized(&petsc_up);
    EXPECT_TRUE(mpi_up && !mpi_down);
    EXPECT_TRUE(petsc_up);
    EXPECT_TRUE(Kokkos::is_initialized());
  }
}

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  MPI_Init(&argc, &argv);
  PetscInitializeNoArguments();
  Kokkos::initialize();
  const int result = RUN_ALL_TESTS();
  Kokkos::finalize();
  PetscFinalize();
  MPI_Finalize();
  return result;
}
