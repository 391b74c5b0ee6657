/// \file bp_energy.cpp
/// The discrete Blatter-Pattyn energy in LibTorch, the twin of the solver's
/// (solver/src/bp_element.hpp and the energy of the PETSc solver): same
/// nodes, quadrature, masks, front condition and scaling, so that its autograd
/// gradient is the solver's residual on free nodes, to round-off.
///
/// Energy. For the horizontal velocity (u, v) (m/a) on the ice Omega with
/// surface s = z_b + H, bed Gamma_b and marine fronts Gamma_f,
///
///   E(u) = 1/(rho g) int_Omega (2n/(n+1)) B (e2 + reg2)^((n+1)/(2n)) dV   (viscous)
///        + int_Omega grad(s) . (u, v) dV                                   (driving)
///        + 1/(rho g) int_Gamma_b beta2/(q+1) (|u|^2 + r2)^((q+1)/2) dA     (friction)
///        - int_Gamma_f p (u, v) . n dA                                    (ocean front)
///
/// with the first-order strain-rate invariant
/// e2 = u_x^2 + v_y^2 + u_x v_y + (u_y + v_x)^2/4 + u_z^2/4 + v_z^2/4, hardness
/// B = (E A)^(-1/n) (Pa a^(1/n)), and the front pressure divided by rho g,
/// p(z) = (s - z) - (rho_w/rho_i) max(z_sl - z, 0) (ice overburden minus sea
/// water). Its stationary point is the BP solution; its gradient is the
/// solver's residual.
///
/// Boundary conditions. Stress-free surface; at the bed, per column, either
/// no slip (core::BPPatch::bed_fixed: the bed node is fixed at 0) or the
/// friction law tau_b = beta2 (|u|^2 + r2)^((q-1)/2) u (beta2 = 0: free slip,
/// as under floating ice); the friction term is integrated over the bed of
/// every ice-filled element when some bed node is free, none otherwise; nodes of columns that touch
/// no ice-filled element are fixed at 0; faces of ice-filled elements that border open water
/// (core::bp_column_flags) carry the ocean pressure. Fixed nodes take the value 0 whatever the
/// velocity tensor holds, so the energy does not depend on them and its gradient there is 0.
///
/// Units and scaling. m, m/a, Pa, years. Every term is divided by rho g (PETSc
/// ex48's scaling): the viscous and friction densities explicitly, the
/// driving and front terms by construction (grad(s) and p are in metres). The
/// energy is in m^4 a^-1 (a power in J/a divided by rho g).
///
/// Discretisation. Q1 hexahedra on the patch's nodes: element (j, i, k) has
/// lowest corner node (j, i, k) and local nodes a = 4 dk + 2 dj + di; node
/// elevations z = z_b + sigma max(H, H_min); only ice-filled elements of the
/// integrated range count. Volume integrals use 2x2x2 Gauss points
/// (+-1/sqrt(3), weights 1) with the isoparametric map: x, y affine, z = sum
/// z_a phi_a, det J = dx dy z_zeta / 4, and physical derivatives
/// d/dz = (1/z_zeta) d/dzeta, d/dx = (2/dx)(d/dxi - z_xi d/dz),
/// d/dy = (2/dy)(d/deta - z_eta d/dz). B is interpolated trilinearly from the
/// nodes; grad(s) is the gradient of the bilinear interpolant of the four
/// corner columns' surfaces (actual H, not max(H, H_min)). Friction: 2x2 Gauss
/// points on the bottom face of the bottom layer, beta2 bilinear, over the
/// map-plane area dx dy. Fronts: 3-point Gauss along the face, and in the
/// vertical 2-point Gauss on each side of sea level (the pressure is linear on
/// each side, so the rule is exact there). The solver splits only where sea
/// level cuts the face; here every face is split at the sea-level point
/// clamped to the face, so one piece may have zero length: the same integral,
/// without branches.
///
/// Vectorisation. Element data are gathered once per call by index_select on
/// the corner columns of the ice-filled elements ([E, 4] indices), giving
/// [E, 8, K] node arrays (K = nz - 1 layers); the quadrature is an einsum with
/// the shape-function tables. No loop runs over elements.

#include "nunatak/emulator/bp_energy.hpp"

#include "front_pressure.hpp"

#include "nunatak/core/error.hpp"

#include <torch/csrc/autograd/autograd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

namespace nunatak::emulator {

namespace {

/// 2-point Gauss abscissa 1/sqrt(3) (the solver's literal).
constexpr double gauss2 = 0.5773502691896257;
/// 3-point Gauss abscissa sqrt(3/5) (the solver's literal).
constexpr double gauss3 = 0.7745966692414834;

/// A host vector as a tensor of `sizes` with `options` (a copy).
template <class T>
torch::Tensor from_host(const std::vector<T>& values, torch::IntArrayRef sizes, torch::Dtype type,
                        const torch::TensorOptions& options) {
  if (values.empty()) return torch::empty(sizes, options);
  return torch::from_blob(const_cast<T*>(values.data()), sizes, torch::TensorOptions(type))
      .to(options, /*non_blocking=*/false, /*copy=*/true);
}

/// Shape-function tables of the quadrature rules (see the file comment),
/// laid out [..., node, point] so that the quadrature is a matrix product.
void make_tables(TorchBPPatch& t) {
  const auto f64 = torch::kFloat64;
  const double g[2] = {-gauss2, gauss2};
  std::vector<double> phi(8 * 8), dphi(3 * 8 * 8), sgrad(2 * 4 * 8), bphi(4 * 4);
  for (int q = 0; q < 8; ++q) {
    const double xi = g[q & 1], eta = g[(q >> 1) & 1], zeta = g[q >> 2];
    for (int a = 0; a < 8; ++a) {
      const double sx = (a & 1) ? 1.0 : -1.0, sy = ((a >> 1) & 1) ? 1.0 : -1.0,
                   sz = ((a >> 2) & 1) ? 1.0 : -1.0;
      const double fx = 0.5 * (1.0 + sx * xi), fy = 0.5 * (1.0 + sy * eta),
                   fz = 0.5 * (1.0 + sz * zeta);
      phi[size_t(a * 8 + q)] = fx * fy * fz;
      dphi[size_t((0 * 8 + a) * 8 + q)] = 0.5 * sx * fy * fz;
      dphi[size_t((1 * 8 + a) * 8 + q)] = 0.5 * sy * fx * fz;
      dphi[size_t((2 * 8 + a) * 8 + q)] = 0.5 * sz * fx * fy;
    }
    // Bilinear column functions N_c = (1 + sx xi)(1 + sy eta)/4: physical gradient.
    for (int c = 0; c < 4; ++c) {
      const double sx = (c & 1) ? 1.0 : -1.0, sy = (c >> 1) ? 1.0 : -1.0;
      sgrad[size_t((0 * 4 + c) * 8 + q)] = 0.25 * sx * (1.0 + sy * eta) * 2.0 / t.dx;
      sgrad[size_t((1 * 4 + c) * 8 + q)] = 0.25 * sy * (1.0 + sx * xi) * 2.0 / t.dy;
    }
  }
  for (int q = 0; q < 4; ++q)
    for (int c = 0; c < 4; ++c) {
      const double sx = (c & 1) ? 1.0 : -1.0, sy = (c >> 1) ? 1.0 : -1.0;
      bphi[size_t(c * 4 + q)] = 0.5 * (1.0 + sx * g[q & 1]) * 0.5 * (1.0 + sy * g[q >> 1]);
    }
  const double t3[3] = {-gauss3, 0.0, gauss3};
  std::vector<double> fphi(2 * 3);
  for (int q = 0; q < 3; ++q) {
    fphi[size_t(0 * 3 + q)] = 0.5 * (1.0 - t3[q]);
    fphi[size_t(1 * 3 + q)] = 0.5 * (1.0 + t3[q]);
  }
  const torch::TensorOptions o = t.options();
  t.volume_phi = from_host(phi, {8, 8}, f64, o);
  t.volume_dphi = from_host(dphi, {3, 8, 8}, f64, o);
  t.surface_grad = from_host(sgrad, {2, 4, 8}, f64, o);
  t.basal_phi = from_host(bphi, {4, 4}, f64, o);
  t.front_phi = from_host(fphi, {2, 3}, f64, o);
  t.front_weights = from_host(std::vector<double>{5.0 / 9.0, 8.0 / 9.0, 5.0 / 9.0}, {3}, f64, o);
  t.vertical_points = from_host(std::vector<double>{-gauss2, gauss2}, {2}, f64, o);
}

std::string shape_string(const torch::Tensor& t) {
  std::string s = "[";
  for (int64_t d = 0; d < t.dim(); ++d) s += (d ? ", " : "") + std::to_string(t.size(d));
  return s + "]";
}

/// Throws unless `t` has `sizes` and the patch's dtype and device.
void check_tensor(const TorchBPPatch& p, const torch::Tensor& t, torch::IntArrayRef sizes,
                  const char* name) {
  if (!t.defined()) throw Error(std::string("bp energy: '") + name + "' is undefined");
  if (t.sizes() != sizes)
    throw Error(std::string("bp energy: '") + name + "' has shape " + shape_string(t) +
                ", expected " + shape_string(torch::empty(sizes)));
  if (t.scalar_type() != p.thickness.scalar_type() || t.device() != p.thickness.device())
    throw Error(std::string("bp energy: '") + name + "' is " +
                std::string(c10::toString(t.scalar_type())) + " on " + t.device().str() +
                ", the patch " + std::string(c10::toString(p.thickness.scalar_type())) + " on " +
                p.thickness.device().str());
}

/// Node data of the ice-filled elements, gathered once per evaluation, with
/// the local node a = 4 dk + 2 dj + di last (K = nz - 1 layers).
struct Elements {
  torch::Tensor z;        ///< [E, K, 8] node elevations, m
  torch::Tensor u;        ///< [2, E, K, 8] velocity components (0 at fixed nodes), m/a
  torch::Tensor hardness; ///< [E, K, 8] B, Pa a^(1/n)
  torch::Tensor surface;  ///< [E, 4] corner surfaces z_b + H, m
  torch::Tensor velocity; ///< [2, ny * nx, nz] velocity components with fixed nodes zeroed
};

/// Node elevations z = z_b + sigma max(H, H_min) of the columns `columns` ([...]): [..., nz].
torch::Tensor column_elevations(const TorchBPPatch& p, const torch::Tensor& columns) {
  const auto flat = columns.reshape({-1});
  const auto H = p.thickness.reshape({-1}).index_select(0, flat);
  const auto b = p.bed.reshape({-1}).index_select(0, flat);
  const auto H_eff = torch::clamp_min(H, p.constants.minimum_thickness);
  std::vector<int64_t> sizes(columns.sizes().begin(), columns.sizes().end());
  sizes.push_back(p.nz);
  return (b.unsqueeze(-1) + H_eff.unsqueeze(-1) * p.sigma).reshape(sizes);
}

/// Surfaces z_b + H of the columns `columns`, same shape.
torch::Tensor column_surfaces(const TorchBPPatch& p, const torch::Tensor& columns) {
  const auto flat = columns.reshape({-1});
  return (p.bed.reshape({-1}).index_select(0, flat) +
          p.thickness.reshape({-1}).index_select(0, flat))
      .reshape(columns.sizes());
}

/// Column values [..., 4 columns, nz] -> element-layer values [..., K, 8]:
/// the bottom nodes (a = 0..3, level k) then the top nodes (a = 4..7, level k + 1).
torch::Tensor element_nodes(const torch::Tensor& columns, int64_t nz) {
  const int64_t d = columns.dim();
  return torch::cat({columns.narrow(d - 1, 0, nz - 1).transpose(d - 2, d - 1),
                     columns.narrow(d - 1, 1, nz - 1).transpose(d - 2, d - 1)},
                    d - 1);
}

Elements gather(const TorchBPPatch& p, const torch::Tensor& velocity) {
  check_tensor(p, velocity, {p.ny, p.nx, p.nz, 2}, "velocity");
  check_tensor(p, p.thickness, {p.ny, p.nx}, "thickness");
  check_tensor(p, p.bed, {p.ny, p.nx}, "bed");
  check_tensor(p, p.beta2, {p.ny, p.nx}, "beta2");
  check_tensor(p, p.hardness, {p.ny, p.nx, p.nz}, "hardness");
  Elements e;
  const int64_t E = p.element_columns.size(0), nz = p.nz, columns = int64_t(p.ny) * p.nx;
  const auto flat = p.element_columns.reshape({-1});
  e.velocity =
      (velocity * p.free_nodes.unsqueeze(-1)).permute({3, 0, 1, 2}).reshape({2, columns, nz});
  e.u = element_nodes(e.velocity.index_select(1, flat).reshape({2, E, 4, nz}), nz);
  e.z = element_nodes(column_elevations(p, p.element_columns), nz);
  e.hardness = element_nodes(
      p.hardness.reshape({columns, nz}).index_select(0, flat).reshape({E, 4, nz}), nz);
  e.surface = column_surfaces(p, p.element_columns);
  return e;
}

/// At the 2x2x2 volume points: det J [E, K, 8] and, when asked for, the
/// velocity [2, E, K, 8] and its physical gradient (d/dx, d/dy, d/dz), each [2, E, K, 8].
struct VolumePoints {
  torch::Tensor weight;        ///< det J (Gauss weights 1), m^3
  torch::Tensor u_x, u_y, u_z; ///< a^-1
  torch::Tensor u;             ///< m/a
};

VolumePoints volume_points(const TorchBPPatch& p, const Elements& e, bool need_gradient,
                           bool need_velocity) {
  VolumePoints v;
  // z_xi, z_eta, z_zeta = sum_a z_a dphi_a/d(xi, eta, zeta)
  const auto z_xi = torch::matmul(e.z, p.volume_dphi[0]);
  const auto z_eta = torch::matmul(e.z, p.volume_dphi[1]);
  const auto z_zeta = torch::matmul(e.z, p.volume_dphi[2]);
  v.weight = 0.25 * p.dx * p.dy * z_zeta;
  if (need_gradient) {
    // d/dz = (1/z_zeta) d/dzeta, d/dx = (2/dx)(d/dxi - z_xi d/dz), d/dy = (2/dy)(d/deta - z_eta
    // d/dz)
    v.u_z = torch::matmul(e.u, p.volume_dphi[2]) / z_zeta;
    v.u_x = (torch::matmul(e.u, p.volume_dphi[0]) - z_xi * v.u_z) * (2.0 / p.dx);
    v.u_y = (torch::matmul(e.u, p.volume_dphi[1]) - z_eta * v.u_z) * (2.0 / p.dy);
  }
  if (need_velocity) v.u = torch::matmul(e.u, p.volume_phi);
  return v;
}

torch::Tensor viscous_term(const TorchBPPatch& p, const Elements& e, const VolumePoints& v) {
  const auto B = torch::matmul(e.hardness, p.volume_phi); // [E, K, 8]
  const auto dx = v.u_x.unbind(0), dy = v.u_y.unbind(0), dz = v.u_z.unbind(0);
  const auto &u_x = dx[0], &v_x = dx[1], &u_y = dy[0], &v_y = dy[1], &u_z = dz[0], &v_z = dz[1];
  const auto shear = u_y + v_x;
  // e2 = u_x^2 + v_y^2 + u_x v_y + (u_y + v_x)^2/4 + u_z^2/4 + v_z^2/4
  const auto e2 =
      u_x * u_x + v_y * v_y + u_x * v_y + 0.25 * (shear * shear + u_z * u_z + v_z * v_z);
  const double n = p.constants.glen_exponent;
  // (2n/(n+1)) B (e2 + reg2)^((n+1)/(2n)), divided by rho g
  const auto density = B * torch::pow(e2 + p.constants.regularisation2, (n + 1.0) / (2.0 * n));
  return (v.weight * density).sum() * (2.0 * n / (n + 1.0) / p.constants.rho_g);
}

torch::Tensor driving_term(const TorchBPPatch& p, const Elements& e, const VolumePoints& v) {
  // grad(s) . (u, v) at the 8 points; grad(s) is the same in every layer: [2, E, 1, 8]
  const auto ds = torch::matmul(e.surface, p.surface_grad).unsqueeze(2);
  return (v.weight * (ds * v.u).sum(0)).sum();
}

torch::Tensor friction_term(const TorchBPPatch& p, const Elements& e) {
  if (!p.sliding) return torch::zeros({}, p.options());
  // The bottom nodes of layer 0 at the 2x2 bed points: [2, E, 4]
  const auto u = torch::matmul(e.u.select(2, 0).narrow(2, 0, 4), p.basal_phi);
  const auto beta2_nodes = p.beta2.reshape({-1})
                               .index_select(0, p.element_columns.reshape({-1}))
                               .reshape({p.element_columns.size(0), 4});
  const auto beta2 = torch::matmul(beta2_nodes, p.basal_phi);
  const double q = p.constants.friction_exponent;
  // beta2/(q+1) (|u|^2 + r2)^((q+1)/2) at each point, weight dx dy / 4, divided by rho g
  const auto density =
      beta2 * torch::pow((u * u).sum(0) + p.constants.friction_regularisation2, 0.5 * (q + 1.0));
  return density.sum() * (0.25 * p.dx * p.dy / (q + 1.0) / p.constants.rho_g);
}

torch::Tensor front_term(const TorchBPPatch& p, const Elements& e) {
  const int64_t F = p.front_columns.size(0), nz = p.nz;
  if (F == 0) return torch::zeros({}, p.options());
  // Nodes of each face, [F, 2 columns, nz], and the normal velocity (u, v) . n there.
  const auto z_nodes = column_elevations(p, p.front_columns);
  const auto s_nodes = column_surfaces(p, p.front_columns); // [F, 2]
  const auto u_faces =
      e.velocity.index_select(1, p.front_columns.reshape({-1})).reshape({2, F, 2, nz});
  const auto normal = p.front_normal.t().reshape({2, F, 1, 1});
  const auto un_nodes = (u_faces * normal).sum(0);
  // At the 3 points along the face: [F, 3, nz].
  const auto along = [&](const torch::Tensor& nodes) {
    return torch::matmul(nodes.transpose(1, 2), p.front_phi).transpose(1, 2);
  };
  const auto s = torch::matmul(s_nodes, p.front_phi).unsqueeze(-1); // [F, 3, 1]
  const auto W = detail::front_level_weights(along(z_nodes), s, p.front_length, p.front_weights,
                                             p.vertical_points, p.constants.sea_level,
                                             p.constants.water_ratio);
  return -(W * along(un_nodes)).sum();
}

} // namespace

torch::Tensor detail::front_level_weights(const torch::Tensor& z, const torch::Tensor& s,
                                          const torch::Tensor& length, const torch::Tensor& weights,
                                          const torch::Tensor& points, double sea_level,
                                          double water_ratio) {
  const int64_t F = z.size(0), nz = z.size(2), K = nz - 1;
  const auto z_lo = z.narrow(2, 0, K), z_hi = z.narrow(2, 1, K); // [F, 3, K]
  // Sea level in the layer's zeta coordinate, clamped to [-1, 1]: pieces
  // [-1, cut] and [cut, 1], each with 2-point Gauss; index [F, 3, K, piece, point].
  const auto cut = torch::clamp(-1.0 + 2.0 * (sea_level - z_lo) / (z_hi - z_lo), -1.0, 1.0);
  const auto lo = torch::stack({torch::full_like(cut, -1.0), cut}, -1);
  const auto hi = torch::stack({cut, torch::full_like(cut, 1.0)}, -1);
  const auto mid = (0.5 * (lo + hi)).unsqueeze(-1), half = (0.5 * (hi - lo)).unsqueeze(-1);
  const auto zeta = mid + half * points; // [F, 3, K, 2, 2]
  const auto bottom = 0.5 * (1.0 - zeta), top = 0.5 * (1.0 + zeta);
  const auto expand = [](const torch::Tensor& t) { return t.unsqueeze(-1).unsqueeze(-1); };
  const auto zq = expand(z_lo) * bottom + expand(z_hi) * top;
  // p = (s - z) - (rho_w/rho_i) max(z_sl - z, 0)
  const auto pressure = (expand(s) - zq) - water_ratio * torch::relu(sea_level - zq);
  // dA = (length/2) w_q z_zeta half, z_zeta = (z_hi - z_lo)/2
  const auto dA =
      expand(0.5 * length.reshape({F, 1, 1}) * 0.5 * (z_hi - z_lo) * weights.reshape({1, 3, 1})) *
      half;
  // Onto the layer's bottom level and its top level.
  const auto zero = torch::zeros_like(z.narrow(2, 0, 1));
  return torch::cat({(pressure * dA * bottom).sum({-2, -1}), zero}, 2) +
         torch::cat({zero, (pressure * dA * top).sum({-2, -1})}, 2);
}

TorchBPPatch make_torch_bp_patch(const core::BPPatch& patch, torch::Dtype dtype,
                                 torch::Device device) {
  patch.check("torch bp patch");
  if (dtype != torch::kFloat64 && dtype != torch::kFloat32)
    throw Error("torch bp patch: the dtype must be float64 or float32, not " +
                std::string(c10::toString(dtype)));
  TorchBPPatch t;
  t.nx = patch.nx;
  t.ny = patch.ny;
  t.nz = patch.nz;
  t.dx = patch.dx;
  t.dy = patch.dy;
  t.constants = patch.constants;
  const auto o = torch::TensorOptions().dtype(dtype).device(device);
  const auto f64 = torch::kFloat64;
  t.thickness = from_host(patch.thickness, {t.ny, t.nx}, f64, o);
  t.bed = from_host(patch.bed, {t.ny, t.nx}, f64, o);
  t.beta2 = from_host(patch.beta2, {t.ny, t.nx}, f64, o);
  t.hardness = from_host(patch.hardness, {t.ny, t.nx, t.nz}, f64, o);
  t.sigma = from_host(patch.sigma, {t.nz}, f64, o);

  std::vector<double> free(patch.hardness.size());
  for (int j = 0; j < t.ny; ++j)
    for (int i = 0; i < t.nx; ++i)
      for (int k = 0; k < t.nz; ++k) free[patch.node(j, i, k)] = patch.fixed(j, i, k) ? 0.0 : 1.0;
  t.free_nodes = from_host(free, {t.ny, t.nx, t.nz}, f64, o);
  t.sliding = std::find(patch.bed_fixed.begin(), patch.bed_fixed.end(), 0) != patch.bed_fixed.end();

  // Elements and front faces, in the solver's order (j, then i).
  std::vector<int64_t> elements, fronts;
  std::vector<double> normals, lengths;
  const auto column = [&](int j, int i) { return int64_t(patch.column(j, i)); };
  for (int j = patch.ey0; j < patch.ey1; ++j)
    for (int i = patch.ex0; i < patch.ex1; ++i) {
      if (!patch.element_filled[patch.column(j, i)]) continue;
      elements.insert(elements.end(),
                      {column(j, i), column(j, i + 1), column(j + 1, i), column(j + 1, i + 1)});
      const int faces = patch.front_faces[patch.column(j, i)];
      // Face f (BPFace bit 1 << f): the two columns on it, its outward normal, its length.
      if (faces & core::face_west) {
        fronts.insert(fronts.end(), {column(j, i), column(j + 1, i)});
        normals.insert(normals.end(), {-1.0, 0.0});
        lengths.push_back(t.dy);
      }
      if (faces & core::face_east) {
        fronts.insert(fronts.end(), {column(j, i + 1), column(j + 1, i + 1)});
        normals.insert(normals.end(), {1.0, 0.0});
        lengths.push_back(t.dy);
      }
      if (faces & core::face_south) {
        fronts.insert(fronts.end(), {column(j, i), column(j, i + 1)});
        normals.insert(normals.end(), {0.0, -1.0});
        lengths.push_back(t.dx);
      }
      if (faces & core::face_north) {
        fronts.insert(fronts.end(), {column(j + 1, i), column(j + 1, i + 1)});
        normals.insert(normals.end(), {0.0, 1.0});
        lengths.push_back(t.dx);
      }
    }
  const auto index = torch::TensorOptions().dtype(torch::kInt64).device(device);
  const int64_t E = int64_t(elements.size() / 4), F = int64_t(lengths.size());
  t.element_columns = from_host(elements, {E, 4}, torch::kInt64, index);
  t.front_columns = from_host(fronts, {F, 2}, torch::kInt64, index);
  t.front_normal = from_host(normals, {F, 2}, f64, o);
  t.front_length = from_host(lengths, {F}, f64, o);
  const std::vector<int64_t> partner = core::periodic_partner_columns(patch);
  for (size_t c = 0; c < partner.size(); ++c)
    if (partner[c] != int64_t(c)) {
      t.column_partner = from_host(partner, {t.ny * t.nx}, torch::kInt64, index);
      break;
    }
  make_tables(t);
  return t;
}

BPEnergyTerms bp_energy_terms(const TorchBPPatch& patch, const torch::Tensor& velocity) {
  const Elements e = gather(patch, velocity);
  const VolumePoints v = volume_points(patch, e, true, true);
  return {viscous_term(patch, e, v), driving_term(patch, e, v), friction_term(patch, e),
          front_term(patch, e)};
}

torch::Tensor bp_energy(const TorchBPPatch& patch, const torch::Tensor& velocity) {
  return bp_energy_terms(patch, velocity).total();
}

torch::Tensor bp_viscous_energy(const TorchBPPatch& patch, const torch::Tensor& velocity) {
  const Elements e = gather(patch, velocity);
  return viscous_term(patch, e, volume_points(patch, e, true, false));
}

torch::Tensor bp_driving_energy(const TorchBPPatch& patch, const torch::Tensor& velocity) {
  const Elements e = gather(patch, velocity);
  return driving_term(patch, e, volume_points(patch, e, false, true));
}

torch::Tensor bp_friction_energy(const TorchBPPatch& patch, const torch::Tensor& velocity) {
  return friction_term(patch, gather(patch, velocity));
}

torch::Tensor bp_front_energy(const TorchBPPatch& patch, const torch::Tensor& velocity) {
  return front_term(patch, gather(patch, velocity));
}

torch::Tensor bp_energy_gradient(const TorchBPPatch& patch, const torch::Tensor& velocity) {
  const auto u = velocity.detach().requires_grad_(true);
  return torch::autograd::grad({bp_energy(patch, u)}, {u})[0];
}

torch::Tensor bp_hessian_vector_product(const TorchBPPatch& patch, const torch::Tensor& velocity,
                                        const torch::Tensor& direction) {
  const auto u = velocity.detach().requires_grad_(true);
  const auto g = torch::autograd::grad({bp_energy(patch, u)}, {u}, {}, /*retain_graph=*/true,
                                       /*create_graph=*/true)[0];
  return torch::autograd::grad({(g * direction).sum()}, {u})[0];
}

torch::Tensor hardness_from_softness(const torch::Tensor& softness,
                                     const torch::Tensor& enhancement, double glen_exponent) {
  // B = (E A)^(-1/n)
  return torch::pow(enhancement * softness, -1.0 / glen_exponent);
}

torch::Tensor hardness_from_softness(const torch::Tensor& softness, double enhancement,
                                     double glen_exponent) {
  return torch::pow(enhancement * softness, -1.0 / glen_exponent);
}

torch::Tensor velocity_tensor(const TorchBPPatch& patch, const std::vector<double>& velocity) {
  const size_t want = size_t(patch.nx) * size_t(patch.ny) * size_t(patch.nz) * 2;
  if (velocity.size() != want)
    throw Error("torch bp patch: the velocity has " + std::to_string(velocity.size()) +
                " values, expected " + std::to_string(want) + " ([ny][nx][nz][2])");
  return from_host(velocity, {patch.ny, patch.nx, patch.nz, 2}, torch::kFloat64, patch.options());
}

std::vector<double> to_vector(const torch::Tensor& tensor) {
  const auto host = tensor.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  const double* data = host.data_ptr<double>();
  return std::vector<double>(data, data + host.numel());
}

} // namespace nunatak::emulator
