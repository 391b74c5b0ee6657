// The grid, its PETSc DMDA decomposition, ghost exchange, gather/scatter and
// reductions; run at 1 and 2 MPI ranks.
#include "nunatak/core/error.hpp"
#include "nunatak/core/field.hpp"
#include "nunatak/core/petsc_handle.hpp"

#include <gtest/gtest.h>

#include <cmath>

using namespace nunatak::core;

namespace {

double f(int i, int j) {
  return 1000.0 * j + i;
}

/// Sets the owned cells of `field` to f(i, j) and its ghosts to -1.
void fill_owned(Field2D& field) {
  const LocalBox b = field.grid().box();
  auto v = Kokkos::create_mirror_view(field.view());
  for (int j = b.gys; j < b.gys + b.gym; ++j)
    for (int i = b.gxs; i < b.gxs + b.gxm; ++i) {
      const bool owned = i >= b.xs && i < b.xs + b.xm && j >= b.ys && j < b.ys + b.ym;
      v(b.lj(j), b.li(i)) = owned ? f(i, j) : -1.0;
    }
  Kokkos::deep_copy(field.view(), v);
}

} // namespace

TEST(Grid, ValidatesAndDescribes) {
  EXPECT_THROW(Grid(0, 5, 1.0, 1.0, 0.0, 0.0), nunatak::Error);
  EXPECT_THROW(Grid(5, 5, 0.0, 1.0, 0.0, 0.0), nunatak::Error);
  EXPECT_THROW(Grid(5, 5, 1.0, -2.0, 0.0, 0.0), nunatak::Error);
  const Grid g(106, 181, 16000.0, 16000.0, -720000.0, -3450000.0);
  EXPECT_DOUBLE_EQ(g.x(105), 960000.0);
  EXPECT_DOUBLE_EQ(g.y(180), -570000.0);
  EXPECT_NE(g.describe().find("106 x 181 cells, dx = 16 km"), std::string::npos) << g.describe();
  EXPECT_TRUE(g.matches(Grid(106, 181, 16000.0, 16000.0, -720000.0 + 1e-3, -3450000.0)));
  EXPECT_FALSE(g.matches(Grid(106, 181, 16000.0, 16000.0, -712000.0, -3450000.0)));
  EXPECT_FALSE(g.matches(Grid(106, 180, 16000.0, 16000.0, -720000.0, -3450000.0)));
}

TEST(ParallelGrid, GhostsHoldTheNeighboursValues) {
  auto grid = ParallelGrid::create(MPI_COMM_WORLD, Grid(13, 9, 100.0, 100.0, 0.0, 0.0));
  Field2D field(grid, FieldInfo{"test", "", "", "1", "1", {}, ""});
  fill_owned(field);
  grid->update_ghosts(field);
  const LocalBox b = grid->box();
  auto v = Kokkos::create_mirror_view(field.view());
  Kokkos::deep_copy(v, field.view());
  for (int j = b.gys; j < b.gys + b.gym; ++j)
    for (int i = b.gxs; i < b.gxs + b.gxm; ++i) {
      const bool inside = i >= 0 && i < 13 && j >= 0 && j < 9;
      if (inside) {
        EXPECT_EQ(v(b.lj(j), b.li(i)), f(i, j)) << i << "," << j;
      }
    }
  // Every rank owns something, and the owned boxes tile the grid.
  long long owned = (long long)b.xm * b.ym, total = 0;
  MPI_Allreduce(&owned, &total, 1, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
  EXPECT_EQ(total, 13 * 9);
  EXPECT_GT(owned, 0);
}

TEST(ParallelGrid, PeriodicGhostsWrapAround) {
  DecompositionOptions o;
  o.periodic_x = o.periodic_y = true;
  auto grid = ParallelGrid::create(MPI_COMM_WORLD, Grid(8, 6, 1.0, 1.0, 0.0, 0.0), o);
  Field2D field(grid, FieldInfo{"p", "", "", "1", "1", {}, ""});
  fill_owned(field);
  grid->update_ghosts(field);
  const LocalBox b = grid->box();
  auto v = Kokkos::create_mirror_view(field.view());
  Kokkos::deep_copy(v, field.view());
  for (int j = b.gys; j < b.gys + b.gym; ++j)
    for (int i = b.gxs; i < b.gxs + b.gxm; ++i)
      EXPECT_EQ(v(b.lj(j), b.li(i)), f((i + 8) % 8, (j + 6) % 6)) << i << "," << j;
}

TEST(ParallelGrid, GatherScatterAndReductions) {
  const int nx = 11, ny = 7;
  auto grid = ParallelGrid::create(MPI_COMM_WORLD, Grid(nx, ny, 1.0, 1.0, 0.0, 0.0));
  Field2D field(grid, FieldInfo{"g", "", "", "1", "1", {}, ""});
  fill_owned(field);
  std::vector<double> all = grid->gather_to_zero(field);
  if (grid->rank() == 0) {
    ASSERT_EQ(all.size(), size_t(nx * ny));
    for (int j = 0; j < ny; ++j)
      for (int i = 0; i < nx; ++i) EXPECT_EQ(all[size_t(j * nx + i)], f(i, j));
    all[5] = std::nan(""); // one cell without data
  } else {
    EXPECT_TRUE(all.empty());
  }
  Field2D copy(grid, FieldInfo{"h", "", "", "1", "1", {}, ""});
  grid->scatter_from_zero(all, copy);
  double expected_sum = 0;
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) expected_sum += (j * nx + i == 5) ? 0.0 : f(i, j);
  EXPECT_DOUBLE_EQ(grid->sum(copy), expected_sum);
  EXPECT_EQ(grid->count_valid(copy), nx * ny - 1);
  EXPECT_DOUBLE_EQ(grid->min(copy), 0.0);
  EXPECT_DOUBLE_EQ(grid->max(copy), f(nx - 1, ny - 1));
  // Scatter fills ghosts too.
  const LocalBox b = grid->box();
  auto v = Kokkos::create_mirror_view(copy.view());
  Kokkos::deep_copy(v, copy.view());
  for (int j = std::max(b.gys, 0); j < std::min(b.gys + b.gym, ny); ++j)
    for (int i = std::max(b.gxs, 0); i < std::min(b.gxs + b.gxm, nx); ++i)
      if (j * nx + i != 5) {
        EXPECT_EQ(v(b.lj(j), b.li(i)), f(i, j));
      }
}

TEST(ParallelGrid, WeightBalancedSplitFollowsTheWork) {
  // 30 x 12 cells, all the work in the last 10 columns (the rest weighs 0.1).
  const int nx = 30, ny = 12;
  std::vector<double> weight(size_t(nx * ny), 0.1);
  for (int j = 0; j < ny; ++j)
    for (int i = 20; i < nx; ++i) weight[size_t(j * nx + i)] = 1.0;
  EXPECT_TRUE(weight_balanced_decomposition(nx, ny, weight, 1).ownership_x.empty());
  // Uniform work: PETSc's even split.
  EXPECT_TRUE(weight_balanced_decomposition(nx, ny, std::vector<double>(weight.size(), 2.0), 2)
                  .ownership_x.empty());
  // Two ranks split x (the longer axis): columns weigh 1.2 and 12, half of
  // 144 is reached at 20 + 4 columns, not at 15.
  const DecompositionOptions two = weight_balanced_decomposition(nx, ny, weight, 2);
  EXPECT_EQ(two.ownership_y, std::vector<int>({ny}));
  ASSERT_EQ(two.ownership_x.size(), 2u);
  EXPECT_EQ(two.ownership_x[0], 24);
  EXPECT_EQ(two.ownership_x[1], 6);
  // Six ranks: 3 x 2 boxes, every box at least 2 cells wide, every cell owned.
  const DecompositionOptions six = weight_balanced_decomposition(nx, ny, weight, 6);
  ASSERT_EQ(six.ownership_x.size() * six.ownership_y.size(), 6u);
  int cells = 0;
  for (int w : six.ownership_x) {
    EXPECT_GE(w, 2);
    cells += w;
  }
  EXPECT_EQ(cells, nx);
  EXPECT_THROW(weight_balanced_decomposition(nx, ny, std::vector<double>(5, 1.0), 2),
               nunatak::Error);
  // The split is a valid DMDA on this communicator's ranks.
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const auto grid = ParallelGrid::create(MPI_COMM_WORLD, Grid(nx, ny, 1.0, 1.0, 0.0, 0.0),
                                         weight_balanced_decomposition(nx, ny, weight, size));
  double work = 0;
  const LocalBox& b = grid->box();
  for (int j = b.ys; j < b.ys + b.ym; ++j)
    for (int i = b.xs; i < b.xs + b.xm; ++i) work += weight[size_t(j * nx + i)];
  EXPECT_NEAR(work, 144.0 / size, 144.0 / size * 0.1);
}

TEST(PetscArrays, KernelsReadOnlyMemoryTheyCanReach) {
  // This build's Kokkos runs on the host: host vectors pass, device memory
  // is one error that names the array and the way out.
  EXPECT_NO_THROW(check_kernel_memory(PETSC_MEMTYPE_HOST, "the velocity"));
  try {
    check_kernel_memory(PETSC_MEMTYPE_DEVICE, "the velocity");
    ADD_FAILURE() << "device memory passed to host kernels";
  } catch (const nunatak::Error& e) {
    const std::string text = e.what();
    EXPECT_NE(text.find("the velocity"), std::string::npos) << text;
    EXPECT_NE(text.find("-bp_dm_vec_type standard"), std::string::npos) << text;
  }
  // A standard vector's array comes back where it is, with its values.
  Vec v = nullptr;
  ASSERT_EQ(VecCreateSeq(PETSC_COMM_SELF, 3, &v), 0);
  ASSERT_EQ(VecSet(v, 2.5), 0);
  {
    const VecKernelWriteArray w(v, "a test vector");
    w.data()[1] = 4.0;
  }
  {
    const VecKernelReadArray r(v, "a test vector");
    EXPECT_EQ(r.data()[0], 2.5);
    EXPECT_EQ(r.data()[1], 4.0);
  }
  VecDestroy(&v);
}
