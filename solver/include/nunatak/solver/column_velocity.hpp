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
  /// ds/dx of the flow's geometry beyond the surface field's (the incline of
  /// ISMIP-HOM's periodic slabs, BPParams::surface_trend_x).
  double surface_trend_x = 0.0;

  /// Component c of node k of column (j, i), m/a.
  double at(int j, int i, int k, int c) const {
    return values[((size_t(j) * size_t(nx) + size_t(i)) * size_t(nz) + size_t(k)) * 2 + size_t(c)];
  }
};

/// What the explicit time step's limits need from the column velocities,
/// both the largest over the owned moving columns of all ranks.
struct ColumnFluxLimits {
  /// |u|/dx + |v|/dy of the depth-averaged velocity, s^-1 (the CFL limit).
  double advection_rate = 0.0;
  /// Effective diffusivity of the deformation flux for the grid's shortest
  /// surface wave, m^2/s (the diffusive limit):
  ///   D = H |u_bar - u_base| / (|grad s| + slope_floor) * G(pi H / dx),
  /// the surface gradient by centred differences (one-sided at the domain's
  /// edges), dx the larger spacing. A flux that follows the surface slope,
  /// q = -D grad s, makes the explicit transport step a diffusion step,
  /// unstable beyond dt ~ dx^2 / (4 D) however small the CFL number:
  /// Greenland at 16 km under Blatter-Pattyn with the CFL limit alone (steps
  /// of 6-9 a) grew an oscillation that changed speeds by 4.7e4 m/a in one
  /// step at year 37.
  /// The first factor is the shallow-ice diffusivity the velocity implies
  /// (PISM estimates its Blatter time step the same way, with the whole
  /// velocity). G is the relaxation rate of a surface wave of wavenumber k on
  /// a no-slip viscous slab of thickness H over its long-wave limit D k^2:
  ///   G(x) = 3 (sinh 2x - 2x) / (2 x^3 (cosh 2x + 2 x^2 + 1)),  x = k H,
  /// 1 for long waves, 3 / (2 x^3) for short ones, which longitudinal
  /// stresses damp: cells narrower than the ice is thick are not held to the
  /// shallow-ice limit. On ISMIP-HOM F1 (n = 1) this puts the stable step at
  /// 8 a for dx = 5 km and 5 a for dx = 2.5 km; measured: stable at 10 and 5
  /// a, unstable at 20 and 10 a (docs/blatter_pattyn.md). Only the
  /// deformation velocity counts: sliding and floating ice (plug flow) are
  /// carried by membrane stresses, which spread the response to a local
  /// slope, and are left to the CFL limit, as in hybrid SIA+SSA models.
  double diffusivity = 0.0;
};

/// The slope below which ColumnFluxLimits::diffusivity stops growing (a
/// divide's flat top: there the deformation velocity vanishes as well).
constexpr double effective_diffusivity_slope_floor = 1e-4;

/// G(x) of ColumnFluxLimits::diffusivity: the relaxation rate of a surface
/// wave (x = wavenumber x thickness) on a no-slip viscous slab, over its
/// shallow-ice limit; 1 at x = 0, decreasing.
double slab_relaxation_factor(double x);

/// Collective: upwind fluxes through the faces between neighbouring columns
/// of the box (m^2/s, thickness `thk` upwind of the face-averaged
/// depth-averaged velocity) into `fluxes`; returns the time-step limits of
/// the owned moving columns over all ranks. `usurf` (m, valid on the ghosted
/// box's cells inside the domain) gives the effective diffusivity's slope.
ColumnFluxLimits update_column_fluxes(const core::ParallelGrid& grid, const core::Field2D& thk,
                                      const core::Field2D& usurf, const ColumnVelocityBox& box,
                                      FaceFluxes& fluxes);

/// The output fields of the owned columns (m/s); 3-D ones on `sigma` when not empty.
Velocities column_velocity_fields(std::shared_ptr<const core::ParallelGrid> grid,
                                  const ColumnVelocityBox& box, const std::vector<double>& sigma);

} // namespace nunatak::solver
