#pragma once
/// \file mass_transport.hpp
/// Mass continuity for ice thickness, explicit and conservative.
///
/// Equation: dH/dt = M - div q, with M = smb / rho_i (m s^-1 of ice; smb in
/// kg m^-2 s^-1) and q the face fluxes of a stress balance (m^2 s^-1).
///
/// Discretisation: forward Euler in time, finite volumes in space:
///   H* = H + dt (M - (qx[i] - qx[i-1]) / dx - (qy[j] - qy[j-1]) / dy),
/// so every face flux leaves one cell and enters its neighbour (conservative).
///
/// Rules, each accounted in the mass budget (m^3 of ice per step):
///  - no negative thickness: where H* < 0 the thickness is set to 0 and the
///    added ice (-H* dx dy) is counted as `clipped` (ablation that found no ice);
///  - calving: floating ice (core::Floatation::floats, rho_i H < rho_w (z_sl - b))
///    is removed at once and counted as `calved` (a simple rule until a calving
///    law is added);
///  - the domain edge: ice that flows through the outer faces of the domain is
///    counted as `edge_outflow` (cells outside the domain hold no ice).
/// Then volume_change = smb + clipped - edge_outflow - calved, to round-off.

#include "nunatak/solver/stress_balance.hpp"

namespace nunatak::solver {

/// Ice volumes (m^3) moved by one step, summed over all ranks.
struct MassBudget {
  double smb = 0.0;           ///< dt * M * cell area, summed (negative = ablation)
  double edge_outflow = 0.0;  ///< through the outer faces of the domain
  double clipped = 0.0;       ///< added to keep H >= 0
  double calved = 0.0;        ///< floating ice removed
  double volume_change = 0.0; ///< V(after) - V(before)
  /// smb + clipped - edge_outflow - calved - volume_change (should be ~0).
  double residual() const { return smb + clipped - edge_outflow - calved - volume_change; }
  MassBudget& operator+=(const MassBudget& o);
};

/// Constants of mass transport.
struct TransportParams {
  /// The floatation rule (densities, sea level, minimum thickness); its ice
  /// density also converts the mass balance to ice thickness.
  core::Floatation floatation;
  bool calve_floating_ice = true;
};

/// Collective: advances `thk` (owned cells) by `dt` seconds and returns the
/// budget. `smb` in kg m^-2 s^-1; `topg` for the floatation rule.
MassBudget transport_step(const core::ParallelGrid& grid, const TransportParams& params, double dt,
                          const FaceFluxes& fluxes, const core::Field2D& smb,
                          const core::Field2D& topg, core::Field2D& thk);

} // namespace nunatak::solver
