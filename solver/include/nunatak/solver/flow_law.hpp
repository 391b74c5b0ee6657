#pragma once
/// \file flow_law.hpp
/// Pointwise ice physics as pure inline functions of small parameter structs.
///
/// Glen's law: strain rate = E A tau^n, with softness A (Pa^-n s^-1), exponent
/// n and enhancement factor E. Weertman-type sliding: u_b = -C |tau_d|^(m-1) tau_d
/// with tau_d = rho g H grad(s) (Pa) and coefficient C (m s^-1 Pa^-m).

#include <Kokkos_Core.hpp>

#include <cmath>

namespace nunatak::solver {

/// Isothermal Glen flow law and the constants the SIA needs. SI units.
struct FlowLaw {
  double n = 3.0;               ///< Glen exponent
  double softness = 3.1689e-24; ///< A, Pa^-n s^-1 (1e-16 Pa^-3 a^-1)
  double enhancement = 1.0;     ///< E
  double ice_density = 910.0;   ///< kg m^-3
  double gravity = 9.81;        ///< m s^-2
};

/// Basal sliding for the SIA (none when coefficient is 0).
struct SlidingLaw {
  double coefficient = 0.0; ///< C, m s^-1 Pa^-m
  double exponent = 1.0;    ///< m
};

/// Gamma = 2 E A (rho g)^n / (n + 2): the SIA diffusivity is
/// D = Gamma H^(n+2) |grad s|^(n-1). Units m^(-n) s^-1... (Pa^-n s^-1 (Pa/m)^n).
KOKKOS_INLINE_FUNCTION double sia_gamma(const FlowLaw& f) {
  return 2.0 * f.enhancement * f.softness * pow(f.ice_density * f.gravity, f.n) / (f.n + 2.0);
}

/// SIA deformation diffusivity D = Gamma H^(n+2) |grad s|^(n-1), m^2 s^-1,
/// from the squared slope (dimensionless).
KOKKOS_INLINE_FUNCTION double sia_diffusivity(double gamma, double n, double H, double slope2) {
  if (n == 3.0) { // the usual case, without pow(): H^5 |grad s|^2
    const double H2 = H * H;
    return gamma * H2 * H2 * H * slope2;
  }
  return gamma * pow(H, n + 2.0) * pow(slope2, 0.5 * (n - 1.0));
}

/// Diffusivity of Weertman sliding, D_b = C (rho g H)^m |grad s|^(m-1) H, m^2 s^-1,
/// so that the sliding flux is -D_b grad s.
KOKKOS_INLINE_FUNCTION double sliding_diffusivity(const SlidingLaw& s, double rho_g, double H,
                                                  double slope2) {
  if (s.coefficient == 0.0 || H <= 0.0) return 0.0;
  return s.coefficient * pow(rho_g * H, s.exponent) * pow(slope2, 0.5 * (s.exponent - 1.0)) * H;
}

/// Shape of the SIA deformation velocity profile at sigma in [0, 1]:
/// u(sigma) - u_b = -(2 E A (rho g)^n / (n+1)) |grad s|^(n-1) grad s H^(n+1) * profile,
/// profile = 1 - (1 - sigma)^(n+1) (0 at the bed, 1 at the surface).
KOKKOS_INLINE_FUNCTION double sia_profile(double n, double sigma) {
  return 1.0 - pow(1.0 - sigma, n + 1.0);
}

} // namespace nunatak::solver
