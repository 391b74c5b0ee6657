#pragma once
/// \file shallow_ice.hpp
/// The shallow-ice approximation (SIA), isothermal, with optional sliding.
///
/// Equations (Hutter 1983; Bueler et al. 2005). With surface s, thickness H,
/// Glen's law (n, A, enhancement E), rho g the ice weight per volume:
///
///   u(z) = u_b - 2 E A (rho g)^n |grad s|^(n-1) grad s * (H^(n+1) - (s - z)^(n+1)) / (n + 1)
///   q    = H ubar = -D grad s,   D = Gamma H^(n+2) |grad s|^(n-1) + D_b,
///   Gamma = 2 E A (rho g)^n / (n + 2),   u_b = -C |rho g H grad s|^(m-1) rho g H grad s,
///   D_b  = C (rho g H)^m |grad s|^(m-1) H  (zero without sliding).
///
/// Units: SI (m, s, Pa); D in m^2 s^-1, q in m^2 s^-1.
///
/// Discretisation (Mahaffy 1976, staggered, as in PISM): D and q live on cell
/// faces. On the face between cells (i, j) and (i+1, j): H = average of the two
/// cells, ds/dx = (s[i+1] - s[i]) / dx, ds/dy = average of the centred y
/// differences of the two cells; likewise on y faces. Velocities at cell centres
/// average the two faces across the cell. Kernels are labelled Kokkos loops over
/// the faces of the rank's owned cells (ghost width 1).
///
/// Boundary conditions: none of its own; the caller's ghost values of H and s
/// (zero thickness outside the domain, or periodic) decide the edge fluxes.
/// A face whose thickness is not above the floatation rule's minimum
/// thickness (geometry.minimum_thickness, StressBalanceInputs::floatation)
/// carries no flux: that ice is treated as ice-free.

#include "nunatak/solver/stress_balance.hpp"

namespace nunatak::solver {

/// SIA stress balance on a ParallelGrid.
class ShallowIce final : public StressBalance {
public:
  ShallowIce(std::shared_ptr<const core::ParallelGrid> grid, const StressBalanceParams& params);

  std::string name() const override { return "sia"; }
  void update(const StressBalanceInputs& inputs) override;
  const FaceFluxes& fluxes() const override { return m_fluxes; }
  double max_diffusivity() const override { return m_max_diffusivity; }
  Velocities velocities(const std::vector<double>& sigma) const override;

private:
  std::shared_ptr<const core::ParallelGrid> m_grid;
  StressBalanceParams m_params;
  // On faces (x faces: between i and i+1; y faces: between j and j+1):
  core::View2D m_thk_x, m_thk_y;       // face thickness, m
  core::View2D m_slope_x, m_slope_y;   // the face-normal surface slope
  core::View2D m_ddef_x, m_ddef_y;     // deformation diffusivity, m^2 s^-1
  core::View2D m_dslide_x, m_dslide_y; // sliding diffusivity, m^2 s^-1
  FaceFluxes m_fluxes;
  double m_max_diffusivity = 0.0;
};

} // namespace nunatak::solver
