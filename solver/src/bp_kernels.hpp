#pragma once
// Element kernels of the discrete Blatter-Pattyn energy (bp_problem.hpp has
// the equations): what one hexahedron contributes to the energy, the
// gradient and the Hessian. Pure functions of a KernelData (sizes, constants
// and Views, captured by value as a device kernel needs) and the element's
// gathered values. Internal to nunatak::solver.

#include "bp_element.hpp"

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <type_traits>

namespace nunatak::solver::bp {

using View1D = Kokkos::View<double*>;
using FloatView1D = Kokkos::View<float*>;
using View2D = Kokkos::View<double**, Kokkos::LayoutRight>;
using View3D = Kokkos::View<double***, Kokkos::LayoutRight>;
using Flags2D = Kokkos::View<int**, Kokkos::LayoutRight>;
/// Where the kernels' arrays live: the memory of Kokkos' default execution
/// space (the host in a Serial or OpenMP build, the card in a CUDA one).
using KernelMemory = Kokkos::DefaultExecutionSpace::memory_space;
/// Unmanaged views of node arrays [y][x][z][c] (velocities, gradients), in
/// KernelMemory: PETSc's arrays as VecGetArrayAndMemType hands them out.
using NodeView = Kokkos::View<double****, Kokkos::LayoutRight, KernelMemory,
                              Kokkos::MemoryTraits<Kokkos::Unmanaged>>;
using ConstNodeView = Kokkos::View<const double****, Kokkos::LayoutRight, KernelMemory,
                                   Kokkos::MemoryTraits<Kokkos::Unmanaged>>;

/// What the element kernels read: a patch (core::BPPatch) in Views.
struct KernelData {
  int nx = 0, ny = 0, nz = 0;             // box of columns, levels
  int xs = 0, ys = 0, xm = 0, ym = 0;     // owned columns
  int ex0 = 0, ex1 = 0, ey0 = 0, ey1 = 0; // elements integrated (lowest corners)
  double dx = 1, dy = 1;
  Rheology rheology{3, 1, 0}; // n, (unused) hardness, reg^2
  Friction friction{1, 0};
  bool sliding = false;                // some bed node is free: the friction term is integrated
  double rho_g = 1.0, inv_rho_g = 1.0; // Pa/m and its reciprocal (the energy is divided by rho g)
  double sea_level = 0.0, water_ratio = 1.0;       // z_sl (m), rho_w / rho_i
  View3D hardness{"bp::hardness", 0, 0, 0};        // B at the nodes [y][x][z], Pa a^(1/n)
  View2D thickness_eff{"bp::thickness_eff", 0, 0}; // max(H, H_min)
  View2D bed{"bp::bed", 0, 0};
  View2D surface{"bp::surface", 0, 0}; // bed + H, for the driving stress
  View2D beta2{"bp::beta2", 0, 0};
  Flags2D filled{"bp::filled", 0, 0};       // element (lowest corner) is ice-filled
  Flags2D node_free{"bp::node_free", 0, 0}; // column's nodes are unknowns
  Flags2D bed_fixed{"bp::bed_fixed", 0, 0}; // column's bed node is fixed (no slip)
  Flags2D front_faces{"bp::front_faces", 0, 0};
  View1D sigma{"bp::sigma", 0};
  View2D dirichlet{"bp::dirichlet", 0, 0}; // scale of the fixed rows (dirichlet_scale)
  // Hessian COO: 108 entries per node of the box [ey0, ey1] x [ex0, ex1] x levels.
  int coo_ni = 0; // nodes along x of that box
  // A body force tabulated at the volume quadrature points (Pa/m), for tests.
  bool has_body_force = false;
  View1D body_force_q{"bp::body_force_q", 0};
  // Stress-velocity Newton: the normalised dual stress at the volume
  // quadrature points (dual_index; single precision: it only shapes the
  // Newton matrix), used by element_hessian where `dual_stress` is set
  // (update_element_dual).
  bool dual_stress = false;
  FloatView1D dual{"bp::dual", 0};

  KOKKOS_INLINE_FUNCTION bool fixed(int j, int i, int k) const {
    return !node_free(j, i) || (k == 0 && bed_fixed(j, i));
  }
  KOKKOS_INLINE_FUNCTION std::size_t coo_index(int j, int i, int k, int c, int dj, int di, int dk,
                                               int c2) const {
    const std::size_t node =
        (std::size_t(j - ey0) * std::size_t(coo_ni) + std::size_t(i - ex0)) * std::size_t(nz) +
        std::size_t(k);
    return node * 108 + std::size_t((c * 27 + (dj + 1) * 9 + (di + 1) * 3 + (dk + 1)) * 2 + c2);
  }
  /// Elements integrated on the patch: [ey0, ey1) x [ex0, ex1) x layers.
  KOKKOS_INLINE_FUNCTION std::size_t element_count() const {
    return std::size_t(ey1 > ey0 ? ey1 - ey0 : 0) * std::size_t(ex1 > ex0 ? ex1 - ex0 : 0) *
           std::size_t(nz - 1);
  }
  /// Position of element (j, i, k) in arrays over the integrated elements.
  KOKKOS_INLINE_FUNCTION std::size_t element_index(int j, int i, int k) const {
    return (std::size_t(j - ey0) * std::size_t(ex1 - ex0) + std::size_t(i - ex0)) *
               std::size_t(nz - 1) +
           std::size_t(k);
  }
  /// Position of the first of the 5 dual-stress components at quadrature
  /// point q of element (j, i, k).
  KOKKOS_INLINE_FUNCTION std::size_t dual_index(int j, int i, int k, int q) const {
    return (element_index(j, i, k) * 8 + std::size_t(q)) * 5;
  }
  /// Position of component 0 of the body force at quadrature point q of element (j, i, k).
  KOKKOS_INLINE_FUNCTION std::size_t body_force_index(int j, int i, int k, int q) const {
    return element_index(j, i, k) * 16 + std::size_t(q) * 2;
  }
};

/// A velocity field that is 0 everywhere, for the gradient at rest
/// (BPProblem::gradient_at_rest): element_gradient then skips the terms that
/// vanish there.
struct ZeroVelocity {
  KOKKOS_INLINE_FUNCTION double operator()(int, int, int, int) const { return 0.0; }
};

/// Element-local data gathered from the patch.
struct ElementData {
  double z[8], u[8], v[8], s[4], beta2[4], hardness[8];
  bool fixed[8];
};

/// Gathers element (j, i, k). Fixed nodes take their prescribed value 0
/// whatever `x` holds, so free rows do not depend on them.
template <class X>
KOKKOS_INLINE_FUNCTION void gather(const KernelData& m, const X& x, int j, int i, int k,
                                   ElementData& e) {
  for (int a = 0; a < 8; ++a) {
    const int ja = j + node_dj(a), ia = i + node_di(a), ka = k + node_dk(a);
    e.z[a] = m.bed(ja, ia) + m.sigma(ka) * m.thickness_eff(ja, ia);
    e.hardness[a] = m.hardness(ja, ia, ka);
    e.fixed[a] = m.fixed(ja, ia, ka);
    e.u[a] = e.fixed[a] ? 0.0 : x(ja, ia, ka, 0);
    e.v[a] = e.fixed[a] ? 0.0 : x(ja, ia, ka, 1);
    if (a < 4) {
      e.s[a] = m.surface(ja, ia);
      e.beta2[a] = m.beta2(ja, ia);
    }
  }
}

/// What the element integrals need at volume quadrature point q (2x2x2 Gauss).
struct QuadraturePoint {
  double xi, eta, w; // reference position (map plane) and weight det J
  double phi[8], grad[8][3];
  double du[3], dv[3], u, v; // velocity gradients (a^-1) and values (m/a)
  Rheology rheology;         // with the hardness interpolated from the nodes
};

KOKKOS_INLINE_FUNCTION void evaluate_point(const KernelData& m, const ElementData& e, int q,
                                           QuadraturePoint& p) {
  p.xi = gauss(q & 1);
  p.eta = gauss((q >> 1) & 1);
  double dphi[8][3];
  shape(p.xi, p.eta, gauss(q >> 2), p.phi, dphi);
  p.w = physical_gradients(dphi, e.z, m.dx, m.dy, p.grad);
  p.u = p.v = 0.0;
  p.rheology = m.rheology;
  p.rheology.hardness = 0.0;
  for (int d = 0; d < 3; ++d) p.du[d] = p.dv[d] = 0.0;
  for (int a = 0; a < 8; ++a) {
    p.rheology.hardness += e.hardness[a] * p.phi[a];
    for (int d = 0; d < 3; ++d) {
      p.du[d] += e.u[a] * p.grad[a][d];
      p.dv[d] += e.v[a] * p.grad[a][d];
    }
    p.u += e.u[a] * p.phi[a];
    p.v += e.v[a] * p.phi[a];
  }
}

/// Values at bed quadrature point q (2x2 Gauss on the bottom face).
struct BasalPoint {
  double phi[8];
  double u, v, beta2;
};

KOKKOS_INLINE_FUNCTION void evaluate_basal_point(const ElementData& e, int q, BasalPoint& p) {
  double dphi[8][3];
  shape(gauss(q & 1), gauss(q >> 1), -1.0, p.phi, dphi);
  p.u = p.v = p.beta2 = 0.0;
  for (int a = 0; a < 4; ++a) {
    p.u += e.u[a] * p.phi[a];
    p.v += e.v[a] * p.phi[a];
    p.beta2 += e.beta2[a] * p.phi[a];
  }
}

/// Surface gradient at (xi, eta) from the 4 corner surface values (bilinear).
KOKKOS_INLINE_FUNCTION void surface_gradient(const double s[4], double xi, double eta, double dx,
                                             double dy, double ds[2]) {
  ds[0] = ((s[1] - s[0]) * (1 - eta) + (s[3] - s[2]) * (1 + eta)) * 0.25 * 2.0 / dx;
  ds[1] = ((s[2] - s[0]) * (1 - xi) + (s[3] - s[1]) * (1 + xi)) * 0.25 * 2.0 / dy;
}

/// Ocean-pressure loads of the element's calving-front faces (core::BPFace
/// bits of `faces`): load[a][c] = int_face g(z) n_c phi_a dA with
/// g = (s - z) - (rho_w/rho) max(z_sl - z, 0), in m^3 (divided by rho g).
/// The residual gains -load and the energy -load.(u, v). Along the face:
/// 3-point Gauss; in the vertical: 2-point Gauss on each side of sea level,
/// exact for the piecewise-linear pressure.
KOKKOS_INLINE_FUNCTION void front_loads(const KernelData& m, const ElementData& e, int faces,
                                        double load[8][2]) {
  for (int a = 0; a < 8; ++a) load[a][0] = load[a][1] = 0.0;
  const double t[3] = {-0.7745966692414834, 0.0, 0.7745966692414834};
  const double w[3] = {5.0 / 9.0, 8.0 / 9.0, 5.0 / 9.0};
  for (int f = 0; f < 4; ++f) {
    if (!(faces & (1 << f))) continue;
    const bool x_face = f < 2;
    const double side = (f & 1) ? 1.0 : -1.0, length = x_face ? m.dy : m.dx;
    for (int q = 0; q < 3; ++q) {
      const double xi = x_face ? side : t[q], eta = x_face ? t[q] : side;
      double phi[8], dphi[8][3], z_lo = 0, z_hi = 0, s = 0;
      shape(xi, eta, -1.0, phi, dphi);
      for (int a = 0; a < 8; ++a) z_lo += e.z[a] * phi[a];
      for (int a = 0; a < 4; ++a) s += e.s[a] * phi[a];
      shape(xi, eta, 1.0, phi, dphi);
      for (int a = 0; a < 8; ++a) z_hi += e.z[a] * phi[a];
      const double z_zeta = 0.5 * (z_hi - z_lo);
      double cuts[3] = {-1.0, 1.0, 1.0};
      int pieces = 1;
      if (z_lo < m.sea_level && m.sea_level < z_hi) {
        cuts[1] = -1.0 + 2.0 * (m.sea_level - z_lo) / (z_hi - z_lo);
        pieces = 2;
      }
      for (int piece = 0; piece < pieces; ++piece) {
        const double mid = 0.5 * (cuts[piece] + cuts[piece + 1]);
        const double half = 0.5 * (cuts[piece + 1] - cuts[piece]);
        for (int g = 0; g < 2; ++g) {
          shape(xi, eta, mid + half * gauss(g), phi, dphi);
          double z = 0;
          for (int a = 0; a < 8; ++a) z += e.z[a] * phi[a];
          const double below = m.sea_level > z ? m.sea_level - z : 0.0;
          const double pressure = (s - z) - m.water_ratio * below;
          const double dA = 0.5 * length * z_zeta * w[q] * half;
          for (int a = 0; a < 8; ++a) load[a][x_face ? 0 : 1] += side * pressure * phi[a] * dA;
        }
      }
    }
  }
}

/// True if element (j, i) (lowest corner) is ice-filled: only those are integrated.
KOKKOS_INLINE_FUNCTION bool element_is_filled(const KernelData& m, int j, int i) {
  return m.filled(j, i) != 0;
}

/// Energy of element (j, i, k), divided by rho g.
template <class X>
KOKKOS_FORCEINLINE_FUNCTION double element_energy(const KernelData& m, const X& x, int j, int i,
                                                  int k) {
  ElementData e;
  gather(m, x, j, i, k, e);
  double sum = 0.0;
  for (int q = 0; q < 8; ++q) {
    QuadraturePoint p;
    evaluate_point(m, e, q, p);
    double ds[2];
    surface_gradient(e.s, p.xi, p.eta, m.dx, m.dy, ds);
    sum += p.w * (viscous_density(p.rheology, strain_rate2(p.du, p.dv)) * m.inv_rho_g +
                  ds[0] * p.u + ds[1] * p.v);
    if (m.has_body_force) {
      const std::size_t b = m.body_force_index(j, i, k, q);
      sum -= p.w * (m.body_force_q(b) * p.u + m.body_force_q(b + 1) * p.v) * m.inv_rho_g;
    }
  }
  if (m.front_faces(j, i)) {
    double load[8][2];
    front_loads(m, e, m.front_faces(j, i), load);
    for (int a = 0; a < 8; ++a) sum -= load[a][0] * e.u[a] + load[a][1] * e.v[a];
  }
  if (k == 0 && m.sliding) {
    for (int q = 0; q < 4; ++q) {
      BasalPoint b;
      evaluate_basal_point(e, q, b);
      sum += 0.25 * m.dx * m.dy * friction_density(m.friction, b.beta2, b.u, b.v) * m.inv_rho_g;
    }
  }
  return sum;
}

/// Gradient of element (j, i, k)'s energy with respect to its nodes' (u, v):
/// ru[a], rv[a] (0 at fixed nodes). Returns the gathered element in `e`.
template <class X>
KOKKOS_FORCEINLINE_FUNCTION void element_gradient(const KernelData& m, const X& x, int j, int i,
                                                  int k, ElementData& e, double ru[8],
                                                  double rv[8]) {
  // At rest (X = ZeroVelocity) the viscous and friction terms are exactly 0
  // and are skipped: the loads alone, the same bits as at x = 0.
  constexpr bool at_rest = std::is_same_v<X, ZeroVelocity>;
  gather(m, x, j, i, k, e);
  for (int a = 0; a < 8; ++a) ru[a] = rv[a] = 0.0;
  for (int q = 0; q < 8; ++q) {
    QuadraturePoint p;
    if constexpr (at_rest) {
      p.xi = gauss(q & 1);
      p.eta = gauss((q >> 1) & 1);
      double dphi[8][3];
      shape(p.xi, p.eta, gauss(q >> 2), p.phi, dphi);
      p.w = element_weight(dphi, e.z, m.dx, m.dy);
    } else {
      evaluate_point(m, e, q, p);
    }
    const double w = p.w;
    double ds[2];
    surface_gradient(e.s, p.xi, p.eta, m.dx, m.dy, ds);
    // The load per unit volume (divided by rho g): surface slope minus body force.
    double load[2] = {ds[0], ds[1]};
    if (m.has_body_force) {
      const std::size_t b = m.body_force_index(j, i, k, q);
      load[0] -= m.body_force_q(b) * m.inv_rho_g;
      load[1] -= m.body_force_q(b + 1) * m.inv_rho_g;
    }
    if constexpr (at_rest) {
      for (int a = 0; a < 8; ++a) {
        ru[a] += w * (load[0] * p.phi[a]);
        rv[a] += w * (load[1] * p.phi[a]);
      }
      continue;
    } else {
      const double *du = p.du, *dv = p.dv;
      const double eta2 = 2.0 * viscosity(p.rheology, strain_rate2(du, dv)) * m.inv_rho_g;
      const double shear = 0.5 * (du[1] + dv[0]);
      for (int a = 0; a < 8; ++a) {
        const double* g = p.grad[a];
        ru[a] += w * (eta2 * ((2 * du[0] + dv[1]) * g[0] + shear * g[1] + 0.5 * du[2] * g[2]) +
                      load[0] * p.phi[a]);
        rv[a] += w * (eta2 * ((2 * dv[1] + du[0]) * g[1] + shear * g[0] + 0.5 * dv[2] * g[2]) +
                      load[1] * p.phi[a]);
      }
    }
  }
  if (!at_rest && k == 0 && m.sliding) {
    for (int q = 0; q < 4; ++q) {
      BasalPoint b;
      evaluate_basal_point(e, q, b);
      const double c =
          0.25 * m.dx * m.dy * friction_coefficient(m.friction, b.beta2, b.u, b.v) * m.inv_rho_g;
      for (int a = 0; a < 4; ++a) {
        ru[a] += c * b.u * b.phi[a];
        rv[a] += c * b.v * b.phi[a];
      }
    }
  }
  if (m.front_faces(j, i)) {
    double load[8][2];
    front_loads(m, e, m.front_faces(j, i), load);
    for (int a = 0; a < 8; ++a) {
      ru[a] -= load[a][0];
      rv[a] -= load[a][1];
    }
  }
  for (int a = 0; a < 8; ++a)
    if (e.fixed[a]) ru[a] = rv[a] = 0.0;
}

/// Hessian K (16 x 16, dofs (node a, component c) = 2a + c) of element (j, i, k);
/// rows and columns of fixed nodes are 0.
template <class X>
KOKKOS_FORCEINLINE_FUNCTION void element_hessian(const KernelData& m, const X& x, int j, int i,
                                                 int k, double K[256]) {
  for (int r = 0; r < 256; ++r) K[r] = 0.0;
  ElementData e;
  gather(m, x, j, i, k, e);
  const double n_glen = m.rheology.n;
  for (int q = 0; q < 8; ++q) {
    QuadraturePoint p;
    evaluate_point(m, e, q, p);
    const double w = p.w;
    const double *du = p.du, *dv = p.dv;
    const double e2 = strain_rate2(du, dv);
    const double eta_v = viscosity(p.rheology, e2);
    const double c1 = w * 2.0 * eta_v * m.inv_rho_g; // 2 eta
    // 2 d(eta)/d(e2) = 2 eta (1-n)/(2n (e2 + reg2))
    const double c2 = c1 * (1.0 - n_glen) / (2.0 * n_glen * (e2 + m.rheology.reg2));
    const double shear = 0.5 * (du[1] + dv[0]);
    double gu[8], gv[8], tu[8], tv[8];
    for (int a = 0; a < 8; ++a) {
      const double* g = p.grad[a];
      gu[a] = (2 * du[0] + dv[1]) * g[0] + shear * g[1] + 0.5 * du[2] * g[2];
      gv[a] = (2 * dv[1] + du[0]) * g[1] + shear * g[0] + 0.5 * dv[2] * g[2];
      tu[a] = gu[a];
      tv[a] = gv[a];
    }
    if (m.dual_stress) {
      // Stress-velocity Newton: one factor of the rank-one term takes the
      // dual stress's direction instead of the strain rate's (symmetrised).
      const std::size_t d = m.dual_index(j, i, k, q);
      const double s = 2.0 * sqrt(e2 + m.rheology.reg2);
      const double t0 = s * double(m.dual(d)), t1 = s * double(m.dual(d + 1)),
                   t2 = s * double(m.dual(d + 2)), t3 = s * double(m.dual(d + 3)),
                   t4 = s * double(m.dual(d + 4));
      for (int a = 0; a < 8; ++a) {
        const double* g = p.grad[a];
        tu[a] = t0 * g[0] + 0.5 * (t2 * g[1] + t3 * g[2]);
        tv[a] = t1 * g[1] + 0.5 * (t2 * g[0] + t4 * g[2]);
      }
    }
    // The element Hessian is symmetric: node pairs b >= a here, the lower
    // triangle is mirrored below. Rows 2a (u_a) and 2a + 1 (v_a) gain, over
    // the columns (2b, 2b + 1) of the nodes b >= a, combinations of vectors
    // interleaved like the columns (gradient g = (X, Y, Z)):
    //   K_uu = c1 (2 X_a X_b + Y_a Y_b/2 + Z_a Z_b/2),  K_uv = c1 (X_a Y_b + Y_a X_b/2),
    //   K_vu = c1 (Y_a X_b + X_a Y_b/2),  K_vv = c1 (X_a X_b/2 + 2 Y_a Y_b + Z_a Z_b/2),
    // plus the rank-one term h (t_a g_b + g_a t_b) in (gu, gv) and (tu, tv):
    // contiguous axpys that the compiler vectorises.
    double x_coef_u[16], y_coef_u[16], z_coef_u[16], y_coef_v[16], z_coef_v[16], g_pair[16],
        t_pair[16];
    const double c1_half = 0.5 * c1;
    for (int b = 0; b < 8; ++b) {
      const double* gb = p.grad[b];
      x_coef_u[2 * b] = 2.0 * c1 * gb[0];
      x_coef_u[2 * b + 1] = c1 * gb[1];
      y_coef_u[2 * b] = c1_half * gb[1]; // also x_coef_v
      y_coef_u[2 * b + 1] = c1_half * gb[0];
      z_coef_u[2 * b] = c1_half * gb[2];
      z_coef_u[2 * b + 1] = 0.0;
      y_coef_v[2 * b] = c1 * gb[0];
      y_coef_v[2 * b + 1] = 2.0 * c1 * gb[1];
      z_coef_v[2 * b] = 0.0;
      z_coef_v[2 * b + 1] = c1_half * gb[2];
      g_pair[2 * b] = gu[b];
      g_pair[2 * b + 1] = gv[b];
      t_pair[2 * b] = tu[b];
      t_pair[2 * b + 1] = tv[b];
    }
    const double h = 0.5 * c2;
    for (int a = 0; a < 8; ++a) {
      const double xa = p.grad[a][0], ya = p.grad[a][1], za = p.grad[a][2];
      double* row_u = K + (2 * a) * 16;
      double* row_v = row_u + 16;
      if (m.dual_stress) {
        const double tu_a = h * tu[a], gu_a = h * gu[a], tv_a = h * tv[a], gv_a = h * gv[a];
        for (int t = 2 * a; t < 16; ++t) {
          row_u[t] += xa * x_coef_u[t] + ya * y_coef_u[t] + za * z_coef_u[t] + tu_a * g_pair[t] +
                      gu_a * t_pair[t];
          row_v[t] += xa * y_coef_u[t] + ya * y_coef_v[t] + za * z_coef_v[t] + tv_a * g_pair[t] +
                      gv_a * t_pair[t];
        }
      } else {
        const double gu_a = c2 * gu[a], gv_a = c2 * gv[a];
        for (int t = 2 * a; t < 16; ++t) {
          row_u[t] += xa * x_coef_u[t] + ya * y_coef_u[t] + za * z_coef_u[t] + gu_a * g_pair[t];
          row_v[t] += xa * y_coef_u[t] + ya * y_coef_v[t] + za * z_coef_v[t] + gv_a * g_pair[t];
        }
      }
    }
  }
  if (k == 0 && m.sliding) {
    const double q_exp = m.friction.q;
    for (int q = 0; q < 4; ++q) {
      BasalPoint b;
      evaluate_basal_point(e, q, b);
      const double u = b.u, v = b.v;
      const double area = 0.25 * m.dx * m.dy * m.inv_rho_g;
      const double c = friction_coefficient(m.friction, b.beta2, u, v);
      const double s2 = u * u + v * v + m.friction.reg2;
      const double d = (q_exp - 1.0) * c / s2; // derivative of the coefficient part
      const double H[2][2] = {{c + d * u * u, d * u * v}, {d * v * u, c + d * v * v}};
      for (int a = 0; a < 4; ++a)
        for (int bb = a; bb < 4; ++bb)
          for (int r = 0; r < 2; ++r)
            for (int s = 0; s < 2; ++s)
              K[(a * 2 + r) * 16 + bb * 2 + s] += area * H[r][s] * b.phi[a] * b.phi[bb];
    }
  }
  for (int a = 0; a < 8; ++a)
    for (int b = a + 1; b < 8; ++b)
      for (int r = 0; r < 2; ++r)
        for (int s = 0; s < 2; ++s)
          K[(b * 2 + s) * 16 + a * 2 + r] = K[(a * 2 + r) * 16 + b * 2 + s];
  for (int a = 0; a < 8; ++a)
    if (e.fixed[a])
      for (int r = 0; r < 16; ++r) {
        K[(a * 2 + 0) * 16 + r] = K[(a * 2 + 1) * 16 + r] = 0.0;
        K[r * 16 + a * 2 + 0] = K[r * 16 + a * 2 + 1] = 0.0;
      }
}

/// Stress-velocity Newton's update of the dual stress of element (j, i, k)
/// from velocities `x0` to `x1` = x0 + step * (Newton direction): at each
/// quadrature point, with t = D r / sqrt(E) the normalised stress at x0 (r =
/// (u_x, v_y, (u_y + v_x)/2, u_z/2, v_z/2), e2 = r.D r, E = e2 + reg2),
///   tau <- tau + step (t - tau) + (D dr - tau (t.dr)) / sqrt(E),  dr = r(x1) - r(x0),
/// then scaled back into the unit ball |tau|^2 = tau.D^-1 tau <= 1 (where t
/// lies).
template <class X>
KOKKOS_FORCEINLINE_FUNCTION void update_element_dual(const KernelData& m, const X& x0, const X& x1,
                                                     double step, int j, int i, int k) {
  ElementData e0;
  gather(m, x0, j, i, k, e0);
  // x1 on the same element: its geometry and fixed nodes are e0's.
  double u1[8], v1[8];
  for (int a = 0; a < 8; ++a) {
    const int ja = j + node_dj(a), ia = i + node_di(a), ka = k + node_dk(a);
    u1[a] = e0.fixed[a] ? 0.0 : x1(ja, ia, ka, 0);
    v1[a] = e0.fixed[a] ? 0.0 : x1(ja, ia, ka, 1);
  }
  for (int q = 0; q < 8; ++q) {
    QuadraturePoint p0;
    evaluate_point(m, e0, q, p0);
    double du1[3] = {0.0, 0.0, 0.0}, dv1[3] = {0.0, 0.0, 0.0};
    for (int a = 0; a < 8; ++a)
      for (int d = 0; d < 3; ++d) {
        du1[d] += u1[a] * p0.grad[a][d];
        dv1[d] += v1[a] * p0.grad[a][d];
      }
    const double r0[5] = {p0.du[0], p0.dv[1], 0.5 * (p0.du[1] + p0.dv[0]), 0.5 * p0.du[2],
                          0.5 * p0.dv[2]};
    const double r1[5] = {du1[0], dv1[1], 0.5 * (du1[1] + dv1[0]), 0.5 * du1[2], 0.5 * dv1[2]};
    const double inv_root = 1.0 / sqrt(strain_rate2(p0.du, p0.dv) + m.rheology.reg2);
    double dr[5], Dr[5], Ddr[5];
    for (int c = 0; c < 5; ++c) dr[c] = r1[c] - r0[c];
    const auto apply_D = [](const double* v, double* out) {
      out[0] = v[0] + 0.5 * v[1];
      out[1] = v[1] + 0.5 * v[0];
      for (int c = 2; c < 5; ++c) out[c] = v[c];
    };
    apply_D(r0, Dr);
    apply_D(dr, Ddr);
    double t[5], t_dr = 0.0;
    for (int c = 0; c < 5; ++c) {
      t[c] = Dr[c] * inv_root;
      t_dr += t[c] * dr[c];
    }
    const std::size_t d = m.dual_index(j, i, k, q);
    double tau[5];
    for (int c = 0; c < 5; ++c) {
      const double old = double(m.dual(d + std::size_t(c)));
      tau[c] = old + step * (t[c] - old) + (Ddr[c] - old * t_dr) * inv_root;
    }
    // |tau|^2 in D^-1: D^-1 = [[4/3, -2/3], [-2/3, 4/3]] + identity on the rest.
    const double norm2 = (4.0 * (tau[0] * tau[0] + tau[1] * tau[1]) - 4.0 * tau[0] * tau[1]) / 3.0 +
                         tau[2] * tau[2] + tau[3] * tau[3] + tau[4] * tau[4];
    const double scale = norm2 > 1.0 ? 1.0 / sqrt(norm2) : 1.0;
    for (int c = 0; c < 5; ++c) m.dual(d + std::size_t(c)) = float(tau[c] * scale);
  }
}

} // namespace nunatak::solver::bp
