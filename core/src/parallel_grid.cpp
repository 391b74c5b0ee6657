#include "nunatak/core/parallel_grid.hpp"

#include "nunatak/core/error.hpp"
#include "nunatak/core/field.hpp"
#include "nunatak/core/petsc_handle.hpp"

#include <Kokkos_Core.hpp>
#include <petscdmda.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace nunatak::core {

namespace {

/// Splits cells 0..n-1 with `weight`s into `parts` runs of at least
/// `min_cells` cells each and about equal total weight; returns their lengths.
std::vector<int> balanced_runs(const std::vector<double>& weight, int parts, int min_cells) {
  const int n = int(weight.size());
  double total = 0;
  for (double w : weight) total += w;
  std::vector<int> lengths;
  int start = 0;
  double cumulative = 0;
  for (int r = 0; r < parts - 1; ++r) {
    const double target = total * (r + 1) / parts;
    int end = start + min_cells; // exclusive
    for (int c = start; c < end; ++c) cumulative += weight[size_t(c)];
    const int last_end = n - (parts - 1 - r) * min_cells; // room for the later runs
    while (end < last_end && cumulative + 0.5 * weight[size_t(end)] < target)
      cumulative += weight[size_t(end++)];
    lengths.push_back(end - start);
    start = end;
  }
  lengths.push_back(n - start);
  return lengths;
}

} // namespace

DecompositionOptions weight_balanced_decomposition(int nx, int ny,
                                                   const std::vector<double>& column_weight,
                                                   int ranks, int min_cells) {
  DecompositionOptions options;
  if (ranks < 2) return options;
  if (column_weight.size() != size_t(nx) * size_t(ny))
    throw Error("weight_balanced_decomposition: " + std::to_string(column_weight.size()) +
                " weights for a grid of " + std::to_string(nx) + " x " + std::to_string(ny));
  if (std::all_of(column_weight.begin(), column_weight.end(),
                  [&](double w) { return w == column_weight.front(); }))
    return options; // uniform work: PETSc's even split is as good
  int best_m = 1;
  double best_mismatch = std::numeric_limits<double>::max();
  for (int m = 1; m <= ranks; ++m) {
    if (ranks % m != 0) continue;
    const int n = ranks / m;
    if (nx < min_cells * m || ny < min_cells * n) continue;
    const double mismatch = std::abs(std::log((double(nx) / m) / (double(ny) / n)));
    if (mismatch < best_mismatch) {
      best_mismatch = mismatch;
      best_m = m;
    }
  }
  if (best_mismatch == std::numeric_limits<double>::max())
    return options; // too small: PETSc's choice (and its error)
  std::vector<double> along_x(size_t(nx), 0.0), along_y(size_t(ny), 0.0);
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) {
      const double w = column_weight[size_t(j) * size_t(nx) + size_t(i)];
      along_x[size_t(i)] += w;
      along_y[size_t(j)] += w;
    }
  options.ownership_x = balanced_runs(along_x, best_m, min_cells);
  options.ownership_y = balanced_runs(along_y, ranks / best_m, min_cells);
  return options;
}

std::shared_ptr<const ParallelGrid> ParallelGrid::create(MPI_Comm comm, const Grid& grid,
                                                         const DecompositionOptions& options) {
  return std::shared_ptr<const ParallelGrid>(new ParallelGrid(comm, grid, options));
}

ParallelGrid::ParallelGrid(MPI_Comm comm, const Grid& grid, const DecompositionOptions& options)
    : m_grid(grid), m_options(options), m_comm(comm) {
  MPI_Comm_rank(comm, &m_rank);
  MPI_Comm_size(comm, &m_size);
  if (options.stencil_width < 0) throw Error("grid decomposition: negative stencil width");
  const DMBoundaryType bx = options.periodic_x ? DM_BOUNDARY_PERIODIC : DM_BOUNDARY_GHOSTED;
  const DMBoundaryType by = options.periodic_y ? DM_BOUNDARY_PERIODIC : DM_BOUNDARY_GHOSTED;
  const bool given = !options.ownership_x.empty() || !options.ownership_y.empty();
  std::vector<PetscInt> lx(options.ownership_x.begin(), options.ownership_x.end());
  std::vector<PetscInt> ly(options.ownership_y.begin(), options.ownership_y.end());
  if (given && (lx.empty() || ly.empty() || lx.size() * ly.size() != size_t(m_size)))
    throw Error("grid decomposition: ownership ranges need " + std::to_string(m_size) +
                " ranks in all, got " + std::to_string(lx.size()) + " x " +
                std::to_string(ly.size()));
  try {
    NUNATAK_PETSC(DMDACreate2d(comm, bx, by, DMDA_STENCIL_BOX, grid.nx(), grid.ny(),
                               given ? PetscInt(lx.size()) : PETSC_DECIDE,
                               given ? PetscInt(ly.size()) : PETSC_DECIDE, 1, options.stencil_width,
                               given ? lx.data() : nullptr, given ? ly.data() : nullptr, &m_dm));
    // The fields' kernels copy to and from this DMDA's vectors in their own
    // memory (copy_owned_to_global): where they run on a device, so must the
    // vectors (a PETSc built with Kokkos). Host kernels keep PETSc's default.
    if (!Kokkos::SpaceAccessibility<Kokkos::DefaultExecutionSpace, Kokkos::HostSpace>::accessible)
      NUNATAK_PETSC(DMSetVecType(m_dm, VECKOKKOS));
    NUNATAK_PETSC(DMSetUp(m_dm));
  } catch (const Error& e) {
    // PETSc's "Partition in y direction is too fine! 3 4" names neither the
    // grid nor the ranks. Every rank fails alike.
    if (m_dm) DMDestroy(&m_dm);
    throw Error("the grid of " + std::to_string(grid.nx()) + " x " + std::to_string(grid.ny()) +
                " cells cannot be split over " + std::to_string(m_size) +
                " MPI ranks (each needs at least " +
                std::to_string(std::max(1, options.stencil_width)) +
                " row(s) and column(s) of cells): run with fewer ranks (" + e.what() + ")");
  }
  NUNATAK_PETSC(DMDASetUniformCoordinates(m_dm, grid.x(0), grid.x(grid.nx() - 1), grid.y(0),
                                          grid.y(grid.ny() - 1), 0.0, 0.0));
  PetscInt xs, ys, xm, ym, gxs, gys, gxm, gym;
  NUNATAK_PETSC(DMDAGetCorners(m_dm, &xs, &ys, nullptr, &xm, &ym, nullptr));
  NUNATAK_PETSC(DMDAGetGhostCorners(m_dm, &gxs, &gys, nullptr, &gxm, &gym, nullptr));
  m_box = LocalBox{int(xs), int(ys), int(xm), int(ym), int(gxs), int(gys), int(gxm), int(gym)};
}

ParallelGrid::~ParallelGrid() {
  if (m_dm) DMDestroy(&m_dm);
}

namespace {

/// An unmanaged [y][x] view of a vector's array in the kernels' memory.
using ArrayView2D =
    Kokkos::View<double**, Kokkos::LayoutRight, Kokkos::DefaultExecutionSpace::memory_space,
                 Kokkos::MemoryTraits<Kokkos::Unmanaged>>;

/// Copies the owned cells of `field` into a DMDA global vector, in the
/// kernels' memory (VecGetArrayAndMemType: a device vector stays on the
/// device). (DMLocalToGlobal with INSERT_VALUES is not supported on
/// periodic DMDAs.)
void copy_owned_to_global(const LocalBox& b, const Field2D& field, Vec global) {
  const VecKernelWriteArray g(global,
                              ("the global vector of field '" + field.info().name + "'").c_str());
  const ArrayView2D owned(g.data(), size_t(b.ym), size_t(b.xm));
  const View2D view = field.view();
  const int dj = b.ys - b.gys, di = b.xs - b.gxs;
  Kokkos::parallel_for(
      "grid::owned_to_global", Kokkos::MDRangePolicy<Kokkos::Rank<2>>({0, 0}, {b.ym, b.xm}),
      KOKKOS_LAMBDA(int j, int i) { owned(j, i) = view(j + dj, i + di); });
}

/// Sets `field` (owned cells and ghosts) from a DMDA local vector.
void copy_local_to_field(const LocalBox& b, Vec local, Field2D& field) {
  const VecKernelReadArray l(local,
                             ("the local vector of field '" + field.info().name + "'").c_str());
  const Kokkos::View<const double**, Kokkos::LayoutRight,
                     Kokkos::DefaultExecutionSpace::memory_space,
                     Kokkos::MemoryTraits<Kokkos::Unmanaged>>
      ghosted(l.data(), size_t(b.gym), size_t(b.gxm));
  Kokkos::deep_copy(field.view(), ghosted);
}

void check_same_grid(const ParallelGrid& grid, const Field2D& field) {
  if (&field.grid() != &grid)
    throw Error("field '" + field.info().name + "' lives on another grid");
}

} // namespace

void ParallelGrid::copy_to_global(const Field2D& field, Vec global) const {
  check_same_grid(*this, field);
  copy_owned_to_global(m_box, field, global);
}

void ParallelGrid::copy_from_global(Vec global, Field2D& field) const {
  check_same_grid(*this, field);
  BorrowedVec local(m_dm, BorrowedVec::local);
  NUNATAK_PETSC(DMGlobalToLocal(m_dm, global, INSERT_VALUES, local));
  copy_local_to_field(m_box, local, field);
}

void ParallelGrid::update_ghosts(Field2D& field) const {
  check_same_grid(*this, field);
  BorrowedVec global(m_dm, BorrowedVec::global);
  copy_owned_to_global(m_box, field, global);
  copy_from_global(global, field);
}

std::vector<double> ParallelGrid::gather_to_zero(const Field2D& field) const {
  check_same_grid(*this, field);
  BorrowedVec global(m_dm, BorrowedVec::global);
  copy_owned_to_global(m_box, field, global);
  return dmda_gather_to_zero(m_dm, global);
}

void ParallelGrid::scatter_from_zero(const std::vector<double>& global_data, Field2D& field) const {
  check_same_grid(*this, field);
  BorrowedVec global(m_dm, BorrowedVec::global);
  dmda_scatter_from_zero(m_dm, global_data, global, "field '" + field.info().name + "'");
  copy_from_global(global, field);
}

namespace {

/// The natural-ordering vector of a DMDA and the scatter to rank 0.
struct NaturalToZero {
  VecHandle natural, on_zero;
  PetscHandle<VecScatter> scatter;
  explicit NaturalToZero(DM dm) {
    NUNATAK_PETSC(DMDACreateNaturalVector(dm, natural.out()));
    NUNATAK_PETSC(VecScatterCreateToZero(natural, scatter.out(), on_zero.out()));
  }
};

int rank_of(DM dm) {
  int rank = 0;
  MPI_Comm_rank(PetscObjectComm(reinterpret_cast<PetscObject>(dm)), &rank);
  return rank;
}

} // namespace

std::vector<double> dmda_gather_to_zero(DM dm, Vec global) {
  NaturalToZero nat(dm);
  NUNATAK_PETSC(DMDAGlobalToNaturalBegin(dm, global, INSERT_VALUES, nat.natural));
  NUNATAK_PETSC(DMDAGlobalToNaturalEnd(dm, global, INSERT_VALUES, nat.natural));
  NUNATAK_PETSC(
      VecScatterBegin(nat.scatter, nat.natural, nat.on_zero, INSERT_VALUES, SCATTER_FORWARD));
  NUNATAK_PETSC(
      VecScatterEnd(nat.scatter, nat.natural, nat.on_zero, INSERT_VALUES, SCATTER_FORWARD));
  std::vector<double> result;
  if (rank_of(dm) == 0) {
    PetscInt n = 0;
    NUNATAK_PETSC(VecGetSize(nat.natural, &n));
    const VecReadArray a(nat.on_zero);
    result.assign(a.data(), a.data() + n);
  }
  return result;
}

void dmda_scatter_from_zero(DM dm, const std::vector<double>& values, Vec global,
                            const std::string& what) {
  NaturalToZero nat(dm);
  PetscInt n = 0;
  NUNATAK_PETSC(VecGetSize(nat.natural, &n));
  const int rank = rank_of(dm);
  int ok = (rank != 0 || static_cast<PetscInt>(values.size()) == n) ? 1 : 0;
  MPI_Bcast(&ok, 1, MPI_INT, 0, PetscObjectComm(reinterpret_cast<PetscObject>(dm)));
  if (!ok)
    throw Error("scatter of " + what + ": " + std::to_string(values.size()) + " values, the grid " +
                std::to_string(n));
  if (rank == 0) {
    const VecWriteArray a(nat.on_zero);
    std::copy(values.begin(), values.end(), a.data());
  }
  NUNATAK_PETSC(
      VecScatterBegin(nat.scatter, nat.on_zero, nat.natural, INSERT_VALUES, SCATTER_REVERSE));
  NUNATAK_PETSC(
      VecScatterEnd(nat.scatter, nat.on_zero, nat.natural, INSERT_VALUES, SCATTER_REVERSE));
  NUNATAK_PETSC(DMDANaturalToGlobalBegin(dm, nat.natural, INSERT_VALUES, global));
  NUNATAK_PETSC(DMDANaturalToGlobalEnd(dm, nat.natural, INSERT_VALUES, global));
}

namespace {

/// Reduces `op` over the owned, non-NaN cells of `field` on this rank.
template <class Reducer, class Value>
Value local_reduce(const Field2D& field, Value init, const char* label) {
  const LocalBox b = field.grid().box();
  const View2D v = field.view();
  const int oy = b.ys - b.gys, ox = b.xs - b.gxs;
  Value result = init;
  Kokkos::parallel_reduce(
      label, Kokkos::MDRangePolicy<Kokkos::Rank<2>>({oy, ox}, {oy + b.ym, ox + b.xm}),
      KOKKOS_LAMBDA(int j, int i, Value& acc) {
        const double value = v(j, i);
        if (value == value) Reducer::join_value(acc, value);
      },
      typename Reducer::template kokkos_reducer<Value>(result));
  return result;
}

struct SumOp {
  template <class V>
  using kokkos_reducer = Kokkos::Sum<V>;
  KOKKOS_INLINE_FUNCTION static void join_value(double& a, double v) { a += v; }
  KOKKOS_INLINE_FUNCTION static void join_value(long long& a, double) { a += 1; }
};
struct MinOp {
  template <class V>
  using kokkos_reducer = Kokkos::Min<V>;
  KOKKOS_INLINE_FUNCTION static void join_value(double& a, double v) { a = v < a ? v : a; }
};
struct MaxOp {
  template <class V>
  using kokkos_reducer = Kokkos::Max<V>;
  KOKKOS_INLINE_FUNCTION static void join_value(double& a, double v) { a = v > a ? v : a; }
};

} // namespace

double ParallelGrid::sum(const Field2D& field) const {
  check_same_grid(*this, field);
  double local = local_reduce<SumOp>(field, 0.0, "core::field_sum"), total = 0.0;
  MPI_Allreduce(&local, &total, 1, MPI_DOUBLE, MPI_SUM, m_comm);
  return total;
}

long long ParallelGrid::count_valid(const Field2D& field) const {
  check_same_grid(*this, field);
  long long local = local_reduce<SumOp>(field, 0LL, "core::field_count"), total = 0;
  MPI_Allreduce(&local, &total, 1, MPI_LONG_LONG, MPI_SUM, m_comm);
  return total;
}

double ParallelGrid::min(const Field2D& field) const {
  check_same_grid(*this, field);
  const double inf = std::numeric_limits<double>::infinity();
  double local = local_reduce<MinOp>(field, inf, "core::field_min"), total = inf;
  MPI_Allreduce(&local, &total, 1, MPI_DOUBLE, MPI_MIN, m_comm);
  return total;
}

double ParallelGrid::max(const Field2D& field) const {
  check_same_grid(*this, field);
  const double inf = std::numeric_limits<double>::infinity();
  double local = local_reduce<MaxOp>(field, -inf, "core::field_max"), total = -inf;
  MPI_Allreduce(&local, &total, 1, MPI_DOUBLE, MPI_MAX, m_comm);
  return total;
}

} // namespace nunatak::core
