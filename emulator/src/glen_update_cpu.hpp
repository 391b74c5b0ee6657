#pragma once
/// \file glen_update_cpu.hpp
/// One Picard update of the glen membrane reference (membrane_reference.cpp)
/// as plain loops on the CPU (internal header). The LibTorch operations of
/// membrane_reference.cpp (slope_factor, glen_update, glen_columns) do the
/// same on any device; on this project's CPUs each of their ~80 operations
/// on a grid of 10^4-10^5 columns costs more in dispatch and temporaries
/// than in arithmetic (Greenland at 16 km: 20 ms per update, against about
/// 2 ms here). tests/test_membrane_reference.cpp checks the two agree.
///
/// The update, per column (equations in membrane_reference.cpp), for the
/// velocity ubar and the viscosity eta_l at the L levels:
///   - e_m^2: the membrane strain rate of ubar at the 2 x 2 Gauss points of
///     each ice-filled element, averaged over its points, then over the
///     elements around the column;
///   - S_l = 1 + |grad z_l|^2 + 3 (grad z_l . t)^2, grad z_l = grad s -
///     zeta_l grad H, t = ubar / |ubar|;
///   - beta_e from F2 = H_min sum_l w_l zeta_l^2 / (S_l eta_l) (effective
///     friction), tau_b = beta_e |ubar|, shear_l = tau_b zeta_l / (S_l eta_l);
///   - eta_l' = eta_l (B_l/2 (e_m^2 + S_l shear_l^2/4 + e_0^2)^((1-n)/(2n)) /
///     eta_l)^r, r the relaxation;
///   - the system's coefficients of eta': eta_H = H sum_l w_l eta_l', and
///     the sliding and lumped parts of beta_e(eta');
///   - on request, the velocity profile of eta' at the L + 1 levels (for
///     the marine fronts' push): (1 - f) + beta_e H_min sum_{l below}
///     w_l zeta_l / (S_l eta_l'), f = min(beta_e F2, 1) (glen_columns).

#include <torch/types.h>

#include <vector>

namespace nunatak::emulator::detail {

/// The share of 1/F2 lumped on every column on top of its friction, so that
/// the membrane system stays definite under floating ice and frictionless
/// beds (effective_friction in membrane_reference.cpp).
constexpr double definite_share = 1e-6;

/// What the updates of one membrane solve share; tensors double, on the CPU,
/// contiguous. Columns n = j nx + i of the [ny, nx] grid, levels l.
struct GlenColumnData {
  torch::Tensor corners;            ///< [E * 4] int64: the ice-filled elements' corner columns
  torch::Tensor dphi_dx, dphi_dy;   ///< [4 corners, 4 points]: the element tables' derivatives, 1/m
  torch::Tensor icy, bed_free;      ///< [N] 0 or 1
  torch::Tensor H, H_min, beta2;    ///< [N] m, m, Pa a/m
  torch::Tensor sx, sy, Hx, Hy;     ///< [N] slopes of s and H between icy columns
  torch::Tensor log_half_hardness;  ///< [N, L] log(B/2), B at the levels in Pa a^(1/n)
  std::vector<double> zeta, weight; ///< [L] depth below the surface / H, and sigma weights
  double glen_exponent = 3, regularisation2 = 0;
};

/// The updated viscosity and the system's column coefficients of it.
struct GlenCoefficients {
  torch::Tensor eta;     ///< [N, L] Pa a
  torch::Tensor eta_H;   ///< [N] Pa a m
  torch::Tensor sliding; ///< [N] the sliding part of beta_e, Pa a/m
  torch::Tensor lumped;  ///< [N] the no-slip part of beta_e, Pa a/m
  torch::Tensor profile; ///< [N, L + 1] u(sigma) / ubar at the levels (if asked for)
};

/// One relaxed Picard update for ubar ([N, 2] m/a) and eta ([N, L]); the
/// profile too if `with_profile`.
GlenCoefficients glen_update_cpu(const GlenColumnData& data, const torch::Tensor& ubar,
                                 const torch::Tensor& eta, double relaxation,
                                 bool with_profile = false);

} // namespace nunatak::emulator::detail
