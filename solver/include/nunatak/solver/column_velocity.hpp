#pragma once
/// \file column_velocity.hpp
/// From velocities at the nodes of columns (the Blatter-Pattyn solver's and
/// the emulator's: (u, v) in m/a at nz uniform sigma levels per column) to
/// what the rest of the model reads: upwind face fluxes for mass transport
/// with the CFL rate, and the output fields (surface, base, depth-averaged by
/// the trapezoid rule, and 3-D on requested levels by linear interpolation).

#include "nunatak/solver/stress_balance.hpp"

#include <cstdint>
#include <memory>
#include <vector>

namespace nunatak::solver {

/// Column velocities on a box of columns inside the 2-D grid's ghosted box.
struct ColumnVelocityBox {
  int x0 = 0, y0 = 0;                 ///< the box's first column, relative to the 2-D ghosted box
  int nx = 0, ny = 0;                 ///< columns of the box
  int nz = 0;                         ///< nodes per column, at sigma = k / (nz - 1)
  int xs = 0, ys = 0, xm = 0, ym = 0; ///< the rank's owned columns, in box coordinates
  const double* values = nullptr;     ///< [ny][nx][nz][2], m/a
  /// [ny][nx]: columns whose velocity counts for the CFL rate (null: all).
  const std::uint8_t* moving = nullptr;

  /// Component c of node k of column (j, i), m/a.
  double at(int j, int i, int k, int c) const {
    return values[((size_t(j) * size_t(nx) + size_t(i)) * size_t(nz) + size_t(k)) * 2 + size_t(c)];
  }
};

/// Collective: upwind fluxes through the faces between neighbouring columns
/// of the box (m^2/s, thickness `thk` upwind of the face-averaged
/// depth-averaged velocity) into `fluxes`; returns the largest
/// |u|/dx + |v|/dy (s^-1) of the owned moving columns over all ranks.
double update_column_fluxes(const core::ParallelGrid& grid, const core::Field2D& thk,
                            const ColumnVelocityBox& box, FaceFluxes& fluxes);

/// The output fields of the owned columns (m/s); 3-D ones on `sigma` when not empty.
Velocities column_velocity_fields(std::shared_ptr<const core::ParallelGrid> grid,
                                  const ColumnVelocityBox& box, const std::vector<double>& sigma);

} // namespace nunatak::solver
