#pragma once
// Q1 hexahedral element of the Blatter-Pattyn discretisation: shape functions,
// quadrature, the isoparametric map of a terrain-following element, and the
// pointwise energy density with its first and second derivatives. Internal to
// nunatak::solver; see blatter_pattyn.hpp for the equations and units.

#include <Kokkos_Core.hpp>

#include <cmath>

namespace nunatak::solver::bp {

/// Local node a = 4 dk + 2 dj + di of a hexahedron (di: x, dj: y, dk: vertical).
KOKKOS_INLINE_FUNCTION int node_di(int a) {
  return a & 1;
}
KOKKOS_INLINE_FUNCTION int node_dj(int a) {
  return (a >> 1) & 1;
}
KOKKOS_INLINE_FUNCTION int node_dk(int a) {
  return (a >> 2) & 1;
}

/// 2-point Gauss abscissa (weights 1).
KOKKOS_INLINE_FUNCTION double gauss(int q) {
  return q == 0 ? -0.5773502691896257 : 0.5773502691896257;
}

/// Shape function values and reference derivatives at (xi, eta, zeta).
KOKKOS_INLINE_FUNCTION void shape(double xi, double eta, double zeta, double phi[8],
                                  double dphi[8][3]) {
  for (int a = 0; a < 8; ++a) {
    const double sx = node_di(a) ? 1.0 : -1.0, sy = node_dj(a) ? 1.0 : -1.0,
                 sz = node_dk(a) ? 1.0 : -1.0;
    const double fx = 0.5 * (1.0 + sx * xi), fy = 0.5 * (1.0 + sy * eta),
                 fz = 0.5 * (1.0 + sz * zeta);
    phi[a] = fx * fy * fz;
    dphi[a][0] = 0.5 * sx * fy * fz;
    dphi[a][1] = 0.5 * sy * fx * fz;
    dphi[a][2] = 0.5 * sz * fx * fy;
  }
}

/// The quadrature weight det J alone, as physical_gradients returns it (the
/// same sum, so the same bits).
KOKKOS_INLINE_FUNCTION double element_weight(const double dphi[8][3], const double z[8], double dx,
                                             double dy) {
  double z_zeta = 0;
  for (int a = 0; a < 8; ++a) z_zeta += z[a] * dphi[a][2];
  return 0.25 * dx * dy * z_zeta;
}

/// Physical gradients of the shape functions and the quadrature weight
/// (det J) for an element of size dx x dy with node elevations z[8]:
/// x and y are affine in (xi, eta); z = sum z_a phi_a.
KOKKOS_INLINE_FUNCTION double physical_gradients(const double dphi[8][3], const double z[8],
                                                 double dx, double dy, double grad[8][3]) {
  double z_xi = 0, z_eta = 0, z_zeta = 0;
  for (int a = 0; a < 8; ++a) {
    z_xi += z[a] * dphi[a][0];
    z_eta += z[a] * dphi[a][1];
    z_zeta += z[a] * dphi[a][2];
  }
  // One division per point, not one per node (a tenth of the residual's time).
  const double inv_z_zeta = 1.0 / z_zeta, sx = 2.0 / dx, sy = 2.0 / dy;
  for (int a = 0; a < 8; ++a) {
    const double pz = dphi[a][2] * inv_z_zeta;
    grad[a][2] = pz;
    grad[a][0] = (dphi[a][0] - z_xi * pz) * sx;
    grad[a][1] = (dphi[a][1] - z_eta * pz) * sy;
  }
  return 0.25 * dx * dy * z_zeta;
}

/// Constants of the viscous energy, in the solver's units (m, year, Pa).
struct Rheology {
  double n;        ///< Glen exponent
  double hardness; ///< B = (E A)^(-1/n), Pa a^(1/n)
  double reg2;     ///< strain-rate regularisation squared, a^-2
};

/// Second invariant of the first-order strain rate,
/// e2 = u_x^2 + v_y^2 + u_x v_y + (u_y + v_x)^2/4 + u_z^2/4 + v_z^2/4.
KOKKOS_INLINE_FUNCTION double strain_rate2(const double du[3], const double dv[3]) {
  const double shear = du[1] + dv[0];
  return du[0] * du[0] + dv[1] * dv[1] + du[0] * dv[1] + 0.25 * shear * shear +
         0.25 * du[2] * du[2] + 0.25 * dv[2] * dv[2];
}

/// Effective viscosity eta = (B/2) (e2 + reg2)^((1-n)/(2n)), Pa a.
KOKKOS_INLINE_FUNCTION double viscosity(const Rheology& r, double e2) {
  return 0.5 * r.hardness * pow(e2 + r.reg2, (1.0 - r.n) / (2.0 * r.n));
}

/// Viscous energy density (2n/(n+1)) B (e2 + reg2)^((n+1)/(2n)), whose derivative with
/// respect to e2 is 2 eta.
KOKKOS_INLINE_FUNCTION double viscous_density(const Rheology& r, double e2) {
  return 2.0 * r.n / (r.n + 1.0) * r.hardness * pow(e2 + r.reg2, (r.n + 1.0) / (2.0 * r.n));
}

/// Basal friction law tau = beta2 (|u|^2 + reg2)^((q-1)/2) u (q = 1: linear).
struct Friction {
  double q;    ///< exponent
  double reg2; ///< (m/a)^2
};

/// Friction energy density beta2/(q+1) (|u|^2 + reg2)^((q+1)/2).
KOKKOS_INLINE_FUNCTION double friction_density(const Friction& f, double beta2, double u,
                                               double v) {
  return beta2 / (f.q + 1.0) * pow(u * u + v * v + f.reg2, 0.5 * (f.q + 1.0));
}

/// beta2 (|u|^2 + reg2)^((q-1)/2): the traction per unit velocity.
KOKKOS_INLINE_FUNCTION double friction_coefficient(const Friction& f, double beta2, double u,
                                                   double v) {
  if (f.q == 1.0) return beta2;
  return beta2 * pow(u * u + v * v + f.reg2, 0.5 * (f.q - 1.0));
}

} // namespace nunatak::solver::bp
