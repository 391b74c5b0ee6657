/// \file bp_energy_cpu.cpp
/// The energy, its gradient and its Hessian products in plain loops
/// (bp_energy_cpu.hpp; the discretisation is bp_energy.cpp's). Per
/// element-layer, the loops run over the 8 Gauss points innermost, so that
/// the compiler vectorises them.

#include "bp_energy_cpu.hpp"

#include "nunatak/core/error.hpp"

#include <ATen/Parallel.h>
#include <torch/csrc/autograd/autograd.h>

#include <algorithm>
#include <cmath>

namespace nunatak::emulator::detail {

namespace {

constexpr int geometry_fields = 4; // z_xi, z_eta, 1/z_zeta, detJ c B
constexpr int hessian_fields = 7;  // detJ Phi', detJ Phi'', De2's five coefficients
constexpr int bed_fields = 4;

/// `t`'s values as doubles (detached, on the CPU).
std::vector<double> values(const torch::Tensor& t) {
  const torch::Tensor h = t.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  return std::vector<double>(h.data_ptr<double>(), h.data_ptr<double>() + h.numel());
}

/// The nodes of element-layer k of the element with corner columns `col`
/// (local node a = 4 dk + 2 dj + di), and x's two components there.
void gather_nodes(const double* x, const int64_t* col, int64_t nz, int64_t k, int64_t node[8],
                  double out[2][8]) {
  for (int a = 0; a < 8; ++a) {
    node[a] = col[a & 3] * nz + k + (a >> 2);
    out[0][a] = x[2 * node[a]];
    out[1][a] = x[2 * node[a] + 1];
  }
}

/// The physical gradients of a field (two components at the 8 nodes) at the
/// 8 points: out = u_x, v_y, u_y, v_x, u_z, v_z, from the reference
/// derivatives `dphi` and the element-layer's geometry G (z_xi, z_eta,
/// 1/z_zeta): d/dz = (1/z_zeta) d/dzeta, d/dx = sx (d/dxi - z_xi d/dz),
/// d/dy = sy (d/deta - z_eta d/dz).
void point_gradients(const double* dphi, const double* G, double sx, double sy,
                     const double x[2][8], double out[6][8]) {
  double g[2][3][8] = {};
  for (int a = 0; a < 8; ++a)
    for (int c = 0; c < 2; ++c)
      for (int r = 0; r < 3; ++r)
        for (int q = 0; q < 8; ++q) g[c][r][q] += x[c][a] * dphi[(r * 8 + a) * 8 + q];
  for (int q = 0; q < 8; ++q) {
    const double z_xi = G[q], z_eta = G[8 + q], inv_zz = G[16 + q];
    const double u_z = g[0][2][q] * inv_zz, v_z = g[1][2][q] * inv_zz;
    out[0][q] = (g[0][0][q] - z_xi * u_z) * sx;
    out[1][q] = (g[1][1][q] - z_eta * v_z) * sy;
    out[2][q] = (g[0][1][q] - z_eta * u_z) * sy;
    out[3][q] = (g[1][0][q] - z_xi * v_z) * sx;
    out[4][q] = u_z;
    out[5][q] = v_z;
  }
}

/// The nodal values (ru, rv) of sum_points T . grad(w) over the element's
/// test functions w, for the coefficients T [5][8] of w1_x, w2_y,
/// (w1_y + w2_x), w1_z and w2_z at the points (the transpose of point_gradients).
void scatter_points(const double* dphi, const double* G, double sx, double sy, const double T[5][8],
                    double ru[8], double rv[8]) {
  double t[2][3][8];
  for (int q = 0; q < 8; ++q) {
    const double z_xi = G[q], z_eta = G[8 + q], inv_zz = G[16 + q];
    t[0][0][q] = sx * T[0][q];
    t[0][1][q] = sy * T[2][q];
    t[0][2][q] = inv_zz * (T[3][q] - z_xi * t[0][0][q] - z_eta * t[0][1][q]);
    t[1][0][q] = sx * T[2][q];
    t[1][1][q] = sy * T[1][q];
    t[1][2][q] = inv_zz * (T[4][q] - z_xi * t[1][0][q] - z_eta * t[1][1][q]);
  }
  for (int a = 0; a < 8; ++a) {
    double su = 0, sv = 0;
    for (int r = 0; r < 3; ++r)
      for (int q = 0; q < 8; ++q) {
        const double phi = dphi[(r * 8 + a) * 8 + q];
        su += t[0][r][q] * phi;
        sv += t[1][r][q] * phi;
      }
    ru[a] = su;
    rv[a] = sv;
  }
}

/// A field's two components at bed point q of the element with corner
/// columns `col`: the bilinear functions `basal` ([4 corners][4 points]) on
/// the bottom nodes (level 0).
void bed_point(const double* x, const int64_t* col, int64_t nz, const double* basal, int q,
               double& u, double& v) {
  u = v = 0;
  for (int a = 0; a < 4; ++a) {
    const double f = basal[4 * a + q];
    u += x[2 * col[a] * nz] * f;
    v += x[2 * col[a] * nz + 1] * f;
  }
}

/// e2 (with reg2) from the six gradients at point q.
double strain_rate2(const double g[6][8], int q, double reg2) {
  const double shear = g[2][q] + g[3][q];
  return g[0][q] * g[0][q] + g[1][q] * g[1][q] + g[0][q] * g[1][q] +
         0.25 * (shear * shear + g[4][q] * g[4][q] + g[5][q] * g[5][q]) + reg2;
}

} // namespace

BPEnergyCpu::BPEnergyCpu(const TorchBPPatch& p)
    : m_nz(p.nz), m_elements(p.element_columns.size(0)), m_dx(p.dx), m_dy(p.dy),
      m_sliding(p.sliding) {
  if (!p.thickness.device().is_cpu())
    throw Error("bp energy cpu: the patch must be on the CPU, not " + p.thickness.device().str());
  const core::BPConstants& k = p.constants;
  const double n = k.glen_exponent;
  m_power = (n + 1.0) / (2.0 * n);
  m_regularisation2 = k.regularisation2;
  m_friction_exponent = k.friction_exponent;
  m_friction_regularisation2 = k.friction_regularisation2;
  const torch::Tensor corners = p.element_columns.to(torch::kCPU).contiguous();
  m_corners.assign(corners.data_ptr<int64_t>(), corners.data_ptr<int64_t>() + corners.numel());
  m_free = values(p.free_nodes);
  m_dphi = values(p.volume_dphi);
  m_basal = values(p.basal_phi);
  m_shape = torch::empty({p.ny, p.nx, p.nz, 2}, torch::TensorOptions().dtype(torch::kFloat64));
  const std::vector<double> phi = values(p.volume_phi), H = values(p.thickness),
                            bed = values(p.bed), B = values(p.hardness), sigma = values(p.sigma),
                            beta2 = values(p.beta2);
  const int64_t nz = m_nz, K = nz - 1, E = m_elements;
  const double c = 2.0 * n / (n + 1.0) / k.rho_g, area = 0.25 * m_dx * m_dy;
  const double* dphi = m_dphi.data();
  m_geometry.assign(size_t(E * K * geometry_fields * 8), 0.0);
  for (int64_t e = 0; e < E; ++e) {
    const int64_t* col = &m_corners[size_t(4 * e)];
    for (int64_t layer = 0; layer < K; ++layer) {
      double z[8], hard[8];
      for (int a = 0; a < 8; ++a) {
        const int64_t column = col[a & 3], level = layer + (a >> 2);
        z[a] = bed[size_t(column)] +
               sigma[size_t(level)] * std::max(H[size_t(column)], k.minimum_thickness);
        hard[a] = B[size_t(column * nz + level)];
      }
      double* G = &m_geometry[size_t((e * K + layer) * geometry_fields * 8)];
      for (int q = 0; q < 8; ++q) {
        double z_xi = 0, z_eta = 0, z_zeta = 0, Bq = 0;
        for (int a = 0; a < 8; ++a) {
          z_xi += z[a] * dphi[(0 * 8 + a) * 8 + q];
          z_eta += z[a] * dphi[(1 * 8 + a) * 8 + q];
          z_zeta += z[a] * dphi[(2 * 8 + a) * 8 + q];
          Bq += hard[a] * phi[size_t(8 * a + q)];
        }
        G[q] = z_xi;
        G[8 + q] = z_eta;
        G[16 + q] = 1.0 / z_zeta;
        G[24 + q] = area * z_zeta * c * Bq; // detJ = dx dy z_zeta / 4
      }
    }
  }
  if (m_sliding) {
    m_bed_weight.assign(size_t(E * 4), 0.0);
    for (int64_t e = 0; e < E; ++e)
      for (int q = 0; q < 4; ++q) {
        double bq = 0;
        for (int a = 0; a < 4; ++a)
          bq += beta2[size_t(m_corners[size_t(4 * e + a)])] * m_basal[size_t(4 * a + q)];
        m_bed_weight[size_t(4 * e + q)] = area * bq / k.rho_g;
      }
  }
  // The driving and front terms' gradient, constant (they are linear in u).
  const torch::AutoGradMode enable(true);
  const torch::Tensor x = torch::zeros({p.ny, p.nx, p.nz, 2}, p.options()).requires_grad_(true);
  const torch::Tensor linear = bp_driving_energy(p, x) + bp_front_energy(p, x);
  const torch::Tensor g = torch::autograd::grad({linear}, {x}, {}, false, false, true)[0];
  m_linear = g.defined() ? values(g) : std::vector<double>(size_t(m_shape.numel()), 0.0);
}

std::vector<double> BPEnergyCpu::masked(const torch::Tensor& u) const {
  if (u.sizes() != m_shape.sizes()) throw Error("bp energy cpu: the velocity has the wrong shape");
  std::vector<double> x = values(u);
  for (size_t i = 0; i < x.size(); ++i) x[i] *= m_free[i / 2];
  return x;
}

template <class F>
std::vector<double> BPEnergyCpu::chunked(size_t out_size, F&& per_chunk) const {
  const int64_t E = m_elements;
  const int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), E / 64));
  std::vector<std::vector<double>> sums(static_cast<size_t>(chunks));
  at::parallel_for(0, chunks, 1, [&](int64_t first, int64_t last) {
    for (int64_t chunk = first; chunk < last; ++chunk) {
      std::vector<double>& out = sums[size_t(chunk)];
      out.assign(out_size, 0.0);
      per_chunk(E * chunk / chunks, E * (chunk + 1) / chunks, out.data());
    }
  });
  std::vector<double> total = std::move(sums[0]);
  for (size_t chunk = 1; chunk < sums.size(); ++chunk)
    for (size_t i = 0; i < out_size; ++i) total[i] += sums[chunk][i];
  return total;
}

double BPEnergyCpu::operator()(const torch::Tensor& u, torch::Tensor* gradient) const {
  const std::vector<double> x = masked(u);
  const bool want_gradient = gradient != nullptr;
  const size_t size = want_gradient ? x.size() + 1 : 1; // the energy in the last slot
  const int64_t nz = m_nz, K = nz - 1;
  const double sx = 2.0 / m_dx, sy = 2.0 / m_dy, p = m_power, reg2 = m_regularisation2;
  const double q_exp = m_friction_exponent, r2 = m_friction_regularisation2;
  const double* dphi = m_dphi.data();
  const std::vector<double> sums = chunked(size, [&](int64_t e0, int64_t e1, double* out) {
    double energy = 0;
    for (int64_t e = e0; e < e1; ++e) {
      const int64_t* col = &m_corners[size_t(4 * e)];
      for (int64_t k = 0; k < K; ++k) {
        int64_t node[8];
        double xn[2][8], g[6][8], T[5][8], ru[8], rv[8];
        gather_nodes(x.data(), col, nz, k, node, xn);
        const double* G = &m_geometry[size_t((e * K + k) * geometry_fields * 8)];
        point_gradients(dphi, G, sx, sy, xn, g);
        for (int q = 0; q < 8; ++q) {
          const double e2 = strain_rate2(g, q, reg2);
          const double scaled = G[24 + q] * std::pow(e2, p - 1.0); // detJ c B e2^(p-1)
          energy += scaled * e2;
          const double d1 = p * scaled; // detJ Phi'
          T[0][q] = d1 * (2.0 * g[0][q] + g[1][q]);
          T[1][q] = d1 * (2.0 * g[1][q] + g[0][q]);
          T[2][q] = d1 * 0.5 * (g[2][q] + g[3][q]);
          T[3][q] = d1 * 0.5 * g[4][q];
          T[4][q] = d1 * 0.5 * g[5][q];
        }
        if (!want_gradient) continue;
        scatter_points(dphi, G, sx, sy, T, ru, rv);
        for (int a = 0; a < 8; ++a) {
          out[2 * node[a]] += ru[a];
          out[2 * node[a] + 1] += rv[a];
        }
      }
      if (!m_sliding) continue;
      for (int q = 0; q < 4; ++q) {
        double uq, vq;
        bed_point(x.data(), col, nz, m_basal.data(), q, uq, vq);
        const double m = uq * uq + vq * vq + r2, w = m_bed_weight[size_t(4 * e + q)];
        const double scaled = w * std::pow(m, 0.5 * (q_exp - 1.0)); // w m^((q-1)/2)
        energy += scaled * m / (q_exp + 1.0);
        if (!want_gradient) continue;
        for (int a = 0; a < 4; ++a) {
          const double f = m_basal[size_t(4 * a + q)];
          out[2 * col[a] * nz] += scaled * uq * f;
          out[2 * col[a] * nz + 1] += scaled * vq * f;
        }
      }
    }
    out[size - 1] += energy;
  });
  double energy = sums.back();
  for (size_t i = 0; i < x.size(); ++i) energy += m_linear[i] * x[i];
  if (want_gradient) {
    *gradient = torch::empty_like(m_shape);
    double* out = gradient->data_ptr<double>();
    for (size_t i = 0; i < x.size(); ++i) out[i] = (sums[i] + m_linear[i]) * m_free[i / 2];
  }
  return energy;
}

BPEnergyHessianCpu BPEnergyCpu::hessian(const torch::Tensor& u) const {
  return BPEnergyHessianCpu(*this, u);
}

BPEnergyHessianCpu::BPEnergyHessianCpu(const BPEnergyCpu& energy, const torch::Tensor& u)
    : m_energy(&energy) {
  const BPEnergyCpu& E = energy;
  const std::vector<double> x = E.masked(u);
  const int64_t nz = E.m_nz, K = nz - 1;
  const double sx = 2.0 / E.m_dx, sy = 2.0 / E.m_dy, p = E.m_power, reg2 = E.m_regularisation2;
  const double* dphi = E.m_dphi.data();
  m_points.assign(size_t(E.m_elements * K * hessian_fields * 8), 0.0);
  at::parallel_for(0, E.m_elements, 64, [&](int64_t e0, int64_t e1) {
    for (int64_t e = e0; e < e1; ++e)
      for (int64_t k = 0; k < K; ++k) {
        int64_t node[8];
        double xn[2][8], g[6][8];
        gather_nodes(x.data(), &E.m_corners[size_t(4 * e)], nz, k, node, xn);
        const double* G = &E.m_geometry[size_t((e * K + k) * geometry_fields * 8)];
        point_gradients(dphi, G, sx, sy, xn, g);
        double* P = &m_points[size_t((e * K + k) * hessian_fields * 8)];
        for (int q = 0; q < 8; ++q) {
          const double e2 = strain_rate2(g, q, reg2);
          const double d1 = G[24 + q] * p * std::pow(e2, p - 1.0); // detJ Phi'
          P[q] = d1;
          P[8 + q] = d1 * (p - 1.0) / e2; // detJ Phi''
          P[16 + q] = 2.0 * g[0][q] + g[1][q];
          P[24 + q] = 2.0 * g[1][q] + g[0][q];
          P[32 + q] = 0.5 * (g[2][q] + g[3][q]);
          P[40 + q] = 0.5 * g[4][q];
          P[48 + q] = 0.5 * g[5][q];
        }
      }
  });
  if (!E.m_sliding) return;
  const double q_exp = E.m_friction_exponent, r2 = E.m_friction_regularisation2;
  m_bed.assign(size_t(E.m_elements * 4 * bed_fields), 0.0);
  for (int64_t e = 0; e < E.m_elements; ++e) {
    const int64_t* col = &E.m_corners[size_t(4 * e)];
    for (int q = 0; q < 4; ++q) {
      double uq, vq;
      bed_point(x.data(), col, nz, E.m_basal.data(), q, uq, vq);
      const double m = uq * uq + vq * vq + r2, w = E.m_bed_weight[size_t(4 * e + q)];
      double* out = &m_bed[size_t((e * 4 + q) * bed_fields)];
      out[0] = w * std::pow(m, 0.5 * (q_exp - 1.0));
      out[1] = w * (q_exp - 1.0) * std::pow(m, 0.5 * (q_exp - 3.0));
      out[2] = uq;
      out[3] = vq;
    }
  }
}

torch::Tensor BPEnergyHessianCpu::operator()(const torch::Tensor& direction) const {
  const BPEnergyCpu& E = *m_energy;
  const std::vector<double> d = E.masked(direction);
  const int64_t nz = E.m_nz, K = nz - 1;
  const double sx = 2.0 / E.m_dx, sy = 2.0 / E.m_dy;
  const double* dphi = E.m_dphi.data();
  const std::vector<double> sums = E.chunked(d.size(), [&](int64_t e0, int64_t e1, double* out) {
    for (int64_t e = e0; e < e1; ++e) {
      const int64_t* col = &E.m_corners[size_t(4 * e)];
      for (int64_t k = 0; k < K; ++k) {
        int64_t node[8];
        double dn[2][8], g[6][8], T[5][8], ru[8], rv[8];
        gather_nodes(d.data(), col, nz, k, node, dn);
        const double* G = &E.m_geometry[size_t((e * K + k) * geometry_fields * 8)];
        point_gradients(dphi, G, sx, sy, dn, g);
        const double* P = &m_points[size_t((e * K + k) * hessian_fields * 8)];
        for (int q = 0; q < 8; ++q) {
          // De2[d] with De2's coefficients at u, then the coefficients T
          // of the test functions' gradients (see the header).
          const double shear = g[2][q] + g[3][q];
          const double s = P[16 + q] * g[0][q] + P[24 + q] * g[1][q] + P[32 + q] * shear +
                           P[40 + q] * g[4][q] + P[48 + q] * g[5][q];
          const double c1 = P[q], c2 = P[8 + q] * s;
          T[0][q] = c2 * P[16 + q] + c1 * (2.0 * g[0][q] + g[1][q]);
          T[1][q] = c2 * P[24 + q] + c1 * (2.0 * g[1][q] + g[0][q]);
          T[2][q] = c2 * P[32 + q] + c1 * 0.5 * shear;
          T[3][q] = c2 * P[40 + q] + c1 * 0.5 * g[4][q];
          T[4][q] = c2 * P[48 + q] + c1 * 0.5 * g[5][q];
        }
        scatter_points(dphi, G, sx, sy, T, ru, rv);
        for (int a = 0; a < 8; ++a) {
          out[2 * node[a]] += ru[a];
          out[2 * node[a] + 1] += rv[a];
        }
      }
      if (m_bed.empty()) continue;
      const double* B = &m_bed[size_t(e * 4 * bed_fields)];
      for (int q = 0; q < 4; ++q, B += bed_fields) {
        double dq, eq;
        bed_point(d.data(), col, nz, E.m_basal.data(), q, dq, eq);
        const double along = B[1] * (B[2] * dq + B[3] * eq);
        const double hu = B[0] * dq + along * B[2], hv = B[0] * eq + along * B[3];
        for (int a = 0; a < 4; ++a) {
          out[2 * col[a] * nz] += hu * E.m_basal[size_t(4 * a + q)];
          out[2 * col[a] * nz + 1] += hv * E.m_basal[size_t(4 * a + q)];
        }
      }
    }
  });
  torch::Tensor product = torch::empty_like(E.m_shape);
  double* result = product.data_ptr<double>();
  for (size_t i = 0; i < d.size(); ++i) result[i] = sums[i] * E.m_free[i / 2];
  return product;
}

} // namespace nunatak::emulator::detail
