#pragma once
/// \file parallel_grid.hpp
/// A Grid distributed over the ranks of a communicator by a PETSc 2-D DMDA.
///
/// Each rank owns a box of cells and sees it with a halo of `stencil_width`
/// ghost cells (box stencil). Fields on the grid (Field2D) store exactly the
/// ghosted box, row-major [y][x], so a Field2D's memory has the layout of the
/// DMDA's local vector. Ghost cells outside a non-periodic domain exist on
/// every rank (DM_BOUNDARY_GHOSTED) and are left for the caller to fill.

#include "nunatak/core/grid.hpp"

#include <mpi.h>

#include <memory>
#include <string>
#include <vector>

// PETSc's DM handle, declared as petscdm.h declares it, so that this header
// (and field.hpp, which includes it) does not pull in PETSc.
typedef struct _p_DM* DM;
typedef struct _p_Vec* Vec;

namespace nunatak::core {

class Field2D;

/// The part of the grid a rank works on, in global cell indices.
struct LocalBox {
  int xs = 0, ys = 0, xm = 0, ym = 0;     ///< owned cells: [xs, xs+xm) x [ys, ys+ym)
  int gxs = 0, gys = 0, gxm = 0, gym = 0; ///< the same with ghosts
  /// Index into a Field2D view of global cell (i, j): view(j - gys, i - gxs).
  int li(int i) const { return i - gxs; }
  int lj(int j) const { return j - gys; }
};

/// Options for the decomposition.
struct DecompositionOptions {
  int stencil_width = 1;   ///< ghost width, cells
  bool periodic_x = false; ///< periodic in x (ISMIP-HOM); else ghosted edges
  bool periodic_y = false; ///< periodic in y
  /// Cells per rank along x and y (their products must match the communicator
  /// size); empty: PETSc decides. Used for grids that must line up with
  /// another decomposition (e.g. a coarser grid for multigrid or grid sequencing).
  std::vector<int> ownership_x, ownership_y;
};

/// A split of an nx x ny grid over `ranks` ranks into boxes of about equal
/// total `column_weight` (row-major [y][x], the work of each column), each at
/// least `min_cells` cells wide. The process grid is the factorisation of
/// `ranks` closest to square boxes; each axis is split by the weights'
/// marginal sums. Empty (PETSc's even split) for one rank, for uniform
/// weights, or for a grid too small to split so.
DecompositionOptions weight_balanced_decomposition(int nx, int ny,
                                                   const std::vector<double>& column_weight,
                                                   int ranks, int min_cells = 2);

/// The grid, its communicator and the PETSc DMDA that distributes it.
/// Create with `ParallelGrid::create`; fields keep it alive via shared_ptr.
class ParallelGrid : public std::enable_shared_from_this<ParallelGrid> {
public:
  /// Collective on `comm`: builds the DMDA for `grid`.
  static std::shared_ptr<const ParallelGrid> create(MPI_Comm comm, const Grid& grid,
                                                    const DecompositionOptions& options = {});
  ~ParallelGrid();
  ParallelGrid(const ParallelGrid&) = delete;
  ParallelGrid& operator=(const ParallelGrid&) = delete;

  const Grid& grid() const { return m_grid; }
  const LocalBox& box() const { return m_box; }
  MPI_Comm comm() const { return m_comm; }
  int rank() const { return m_rank; }
  int size() const { return m_size; }
  /// The PETSc DMDA (one degree of freedom per cell).
  DM dm() const { return m_dm; }
  const DecompositionOptions& options() const { return m_options; }

  /// Collective: fills the ghost cells of `field` from the owning ranks.
  void update_ghosts(Field2D& field) const;
  /// Copies the owned cells of `field` into `global`, a global vector of dm().
  void copy_to_global(const Field2D& field, Vec global) const;
  /// Collective: sets `field` (owned cells and ghosts) from `global`, a global vector of dm().
  void copy_from_global(Vec global, Field2D& field) const;
  /// Collective: the whole field, row-major [y][x], on rank 0 (empty elsewhere).
  std::vector<double> gather_to_zero(const Field2D& field) const;
  /// Collective: sets the owned cells of `field` from `global` (row-major [y][x],
  /// read on rank 0 only; ignored elsewhere), then updates ghosts.
  void scatter_from_zero(const std::vector<double>& global, Field2D& field) const;

  /// Collective reductions over owned cells, skipping NaN.
  double sum(const Field2D& field) const;
  double min(const Field2D& field) const;
  double max(const Field2D& field) const;
  long long count_valid(const Field2D& field) const;

private:
  ParallelGrid(MPI_Comm comm, const Grid& grid, const DecompositionOptions& options);

  Grid m_grid;
  DecompositionOptions m_options;
  MPI_Comm m_comm;
  int m_rank = 0, m_size = 1;
  DM m_dm = nullptr;
  LocalBox m_box;
};

/// Collective on `dm`'s communicator: the global vector `global` of a DMDA (2-D
/// or 3-D, any dof) in natural ordering, on rank 0 (empty elsewhere).
std::vector<double> dmda_gather_to_zero(DM dm, Vec global);
/// Collective: sets the global vector `global` of a DMDA from `values` in
/// natural ordering, read on rank 0 only. Throws nunatak::Error on every rank,
/// naming `what`, if rank 0's `values` do not have the grid's size.
void dmda_scatter_from_zero(DM dm, const std::vector<double>& values, Vec global,
                            const std::string& what);

} // namespace nunatak::core
