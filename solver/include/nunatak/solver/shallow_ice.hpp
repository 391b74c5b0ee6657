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
/// Softness varying in the column (StressBalanceInputs::softness, A(sigma)
/// linear between the field's levels, times E): the column integrals of the
/// exact SIA with z = b + sigma H,
///   u(sigma) - u_b = -2 E (rho g)^n |grad s|^(n-1) grad s H^(n+1) int_0^sigma A(s) (1-s)^n ds,
///   q_def = -2 E (rho g)^n |grad s|^(n-1) grad s H^(n+2) int_0^1 A(s) (1-s)^(n+1) ds,
/// are the uniform-A formulas with A replaced by the weighted means
///   A_q = (n+2) int_0^1 A (1-s)^(n+1) ds  (in Gamma, so in D and the flux),
///   A_s = (n+1) int_0^1 A (1-s)^n ds      (surface speed: u_s - u_b = (n+2)/(n+1)
///                                          (A_s/A_q) (ubar - u_b)),
/// integrated exactly per cell over its levels; a face takes the mean of its
/// two cells' A_q and A_s, and the 3-D profile is the cell's
/// int_0^sigma A (1-s)^n ds / int_0^1 A (1-s)^n ds. A uniform A gives the
/// formulas above exactly; the field must be positive (else an error on every
/// rank naming the cell and level).
///
/// Sliding: uniform (StressBalanceParams::sliding, C in m s^-1 Pa^-m), or from
/// a basal friction field (StressBalanceInputs::basal_friction): with
/// tau_b = beta^2 |u_b|^(q-1) u_b, q = 1/m, beta^2 in Pa (m/a)^-q, the sliding
/// law inverts to u_b = -C |tau|^(m-1) tau with C = (beta^2)^(-m) m a^-1 Pa^-m,
/// i.e. C = (beta^2)^(-m) / seconds_per_year in SI, per cell. A face takes the
/// mean of its two cells' C (the one cell's where the other has none); cells
/// of floating ice have none (no friction under floating ice, and the SIA
/// cannot represent shelf flow). beta^2 must be a positive number under
/// grounded ice: otherwise update() throws, on every rank, an error naming
/// the first such cell.
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
  /// Checks the friction field and sets the per-cell coefficient C (collective).
  void set_basal_friction(const StressBalanceInputs& inputs);
  /// Checks the softness field and sets the per-cell means A_q, A_s (collective).
  void set_softness(const core::Field3D& softness);
  std::shared_ptr<const core::ParallelGrid> m_grid;
  StressBalanceParams m_params;
  // On faces (x faces: between i and i+1; y faces: between j and j+1):
  core::View2D m_thk_x, m_thk_y;       // face thickness, m
  core::View2D m_slope_x, m_slope_y;   // the face-normal surface slope
  core::View2D m_ddef_x, m_ddef_y;     // deformation diffusivity, m^2 s^-1
  core::View2D m_dslide_x, m_dslide_y; // sliding diffusivity, m^2 s^-1
  core::View2D m_sliding_c;            // per cell: C from the friction field (< 0: none)
  // Softness field: per cell A_q, A_s; per face the surface factor F; the
  // field and its levels (for the 3-D profile).
  core::View2D m_softness_flux, m_softness_surface;
  core::View2D m_surface_factor_x, m_surface_factor_y;
  core::View3D m_softness;
  Kokkos::View<double*> m_softness_levels;
  bool m_has_softness = false;
  FaceFluxes m_fluxes;
  double m_max_diffusivity = 0.0;
};

} // namespace nunatak::solver
