#pragma once
/// \file bp_energy_cpu.hpp
/// The Blatter-Pattyn energy (bp_energy.hpp), its gradient and its
/// Hessian-vector products as plain loops on the CPU (internal header), for
/// the refinement (refinement.cpp). Its Newton steps make tens of energy
/// evaluations and Hessian products per solve; LibTorch spends most of
/// their time in dispatch, temporaries and the autograd graph (double
/// back-propagation was 41 % of a refined Newton step on a 64 x 64 x 9 grid,
/// energy and gradient evaluations 14 %; docs/emulator.md). Same nodes,
/// quadrature, masks and constants as bp_energy.cpp;
/// tests/test_bp_energy_torch.cpp checks the two agree to round-off.
///
/// The energy E(u) = E_v(u) + E_f(u) + g_l . u: the viscous and friction
/// terms are nonlinear in u; the driving and front terms are linear and
/// homogeneous, so they are one vector g_l (their gradient, taken once by
/// autograd when the patch is set up) dotted with u. With the strain-rate
/// invariant e2 = g(u)^T Q g(u) + reg2 (g the six velocity gradients u_x,
/// v_y, u_y, v_x, u_z, v_z at a Gauss point, Q symmetric) and the viscous
/// density Phi(e2) = c B e2^p, p = (n + 1)/(2n), c = 2n/((n + 1) rho g):
///   E_v = sum_points detJ Phi(e2),   dE_v/du . w = sum detJ Phi'(e2) De2[w],
///   w . H_v d = sum detJ [Phi''(e2) De2[d] De2[w] + Phi'(e2) D2e2[d, w]],
///   De2[w] = 2 g(u)^T Q g(w)
///          = (2u_x + v_y) w1_x + (2v_y + u_x) w2_y + (u_y + v_x)(w1_y + w2_x)/2
///            + u_z w1_z / 2 + v_z w2_z / 2   for w = (w1, w2),
///   D2e2[d, w] = 2 g(d)^T Q g(w);
/// the friction density F = beta2/(q + 1) (|u|^2 + r2)^((q + 1)/2) / (rho g)
/// at the 2 x 2 bed points (weight dx dy / 4) has the gradient
/// beta2 m^((q - 1)/2) u / (rho g) and the Hessian beta2 [m^((q - 1)/2) I +
/// (q - 1) m^((q - 3)/2) u u^T] / (rho g), m = |u|^2 + r2.
/// Fixed nodes: u and d are 0 there (bp_energy masks the velocity) and the
/// gradient and products are 0 there. Units: E in m^4/a, its gradient in
/// m^3, H d in m^3 for d in m/a (the energy's scaling by rho g).
///
/// Sums: element-layers are split into as many contiguous chunks as
/// LibTorch has threads, each summed on its own, and the chunks added in
/// order: the same sums on every run with the same number of threads.

#include "nunatak/emulator/bp_energy.hpp"

#include <torch/types.h>

#include <vector>

namespace nunatak::emulator::detail {

class BPEnergyHessianCpu;

/// The energy of one patch, set up once (geometry, hardness, the linear
/// terms' gradient), evaluated at many velocities. Double precision, CPU.
class BPEnergyCpu {
public:
  /// Sets up the energy of `patch` (any floating dtype; on the CPU).
  explicit BPEnergyCpu(const TorchBPPatch& patch);

  /// E(u) (m^4/a) for u [ny, nx, nz, 2] (m/a, CPU); with `gradient`, also
  /// dE/du there ([ny, nx, nz, 2] double, m^3; 0 at fixed nodes).
  double operator()(const torch::Tensor& u, torch::Tensor* gradient = nullptr) const;

  /// The Hessian at u, ready to apply to directions.
  BPEnergyHessianCpu hessian(const torch::Tensor& u) const;

private:
  friend class BPEnergyHessianCpu;
  /// The velocity (or a direction) as doubles [N * 2], 0 at fixed nodes.
  std::vector<double> masked(const torch::Tensor& u) const;
  /// `per_chunk(e0, e1, out)` over contiguous chunks of elements, each into
  /// its own buffer of out_size zeros; the buffers added in chunk order.
  template <class F>
  std::vector<double> chunked(size_t out_size, F&& per_chunk) const;

  int64_t m_nz = 0, m_elements = 0;
  double m_dx = 1, m_dy = 1;
  double m_power = 1, m_regularisation2 = 0; ///< p and reg2 of Phi
  double m_friction_exponent = 1, m_friction_regularisation2 = 0;
  bool m_sliding = false;
  std::vector<int64_t> m_corners; ///< [E * 4] corner columns of the ice-filled elements
  std::vector<double> m_free;     ///< [ny nx nz] 1 where free, 0 where fixed
  std::vector<double> m_dphi;     ///< [xi, eta, zeta][8 nodes][8 points] reference derivatives
  std::vector<double> m_basal;    ///< [4 corners][4 points] bilinear functions on the bed
  /// Per element-layer, [4 fields][8 points]: z_xi, z_eta, 1/z_zeta, and
  /// detJ c B (the viscous density's factor).
  std::vector<double> m_geometry;
  /// Per element, [4 points]: beta2 dx dy / (4 rho g) on the bed (sliding only).
  std::vector<double> m_bed_weight;
  std::vector<double> m_linear; ///< [N * 2] g_l, the driving and front terms' gradient, m^3
  torch::Tensor m_shape;        ///< an empty double tensor of the velocity's shape
};

/// The energy's Hessian at one velocity, applied to many directions.
class BPEnergyHessianCpu {
public:
  /// H d for a direction d ([ny, nx, nz, 2] m/a, any floating dtype, CPU):
  /// [ny, nx, nz, 2] double, m^3; 0 at fixed nodes, d's values there ignored.
  torch::Tensor operator()(const torch::Tensor& d) const;

private:
  friend class BPEnergyCpu;
  BPEnergyHessianCpu(const BPEnergyCpu& energy, const torch::Tensor& u);

  const BPEnergyCpu* m_energy;
  /// Per element-layer, [7 fields][8 points]: detJ Phi', detJ Phi'', and
  /// De2's coefficients at u (2u_x + v_y, 2v_y + u_x, (u_y + v_x)/2, u_z/2, v_z/2).
  std::vector<double> m_points;
  /// Per element and bed point (sliding only), 4 values: w beta2 m^((q-1)/2),
  /// w beta2 (q - 1) m^((q-3)/2), and u, v there.
  std::vector<double> m_bed;
};

} // namespace nunatak::emulator::detail
