#pragma once
/// \file gauss_shear.hpp
/// The glen_gauss membrane reference's no-slip elements (internal header of
/// membrane_reference.cpp): on an ice-filled element whose four corner
/// columns are frozen to the bed, the column shear and the membrane
/// viscosity are taken at the element's 2 x 2 Gauss points q, as the
/// Blatter-Pattyn solver integrates them, not on the corner columns.
///
/// At each point, with the point's own depth-averaged velocity
/// ubar_q = sum_c phi_c(q) ubar_c, membrane strain rate e_m^2 (of ubar),
/// thickness H_q, level slopes and hardness B_q (bilinear between the
/// corners), and a viscosity eta_l at the L layer midpoints (the Picard
/// state):
///   - F2 = H_q sum_l w_l zeta_l^2 / (S_l eta_l), S_l the slope factor of
///     the point's levels z = s - zeta H (membrane_reference.cpp);
///   - the basal stress tau_b = |ubar_q| / F2 and the layers' shear
///     du/dz_l = tau_b zeta_l / (S_l eta_l);
///   - the profile p_l = u_l / ubar_q at the layer midpoints (mean 1), the
///     integral of that shear from the bed;
///   - eta_l <- eta_l (B_l/2 (p_l^2 e_m^2 + S_l (du/dz_l)^2/4 +
///     e_0^2)^((1-n)/(2n)) / eta_l)^r, each layer stretched as its own
///     velocity p_l ubar is;
/// and the element's coefficients:
///   - the shear stiffness 1/F2 at each point, a consistent friction matrix
///     sum_q phi_c phi_d / F2_q in place of the corners' lumped 1/F2;
///   - the membrane coefficient 2 H_q sum_l w_l eta_l p_l^2 averaged over
///     the points: the membrane stress of velocities p_l ubar in every layer
///     tested with the same profile (the Galerkin projection onto it).
///
/// Why: a node's velocity in the solver is shared by the elements around
/// it, but the shear that resists it is integrated at their points. On
/// ice as thick as a sixteenth of a 16 km cell, whose surface jumps by up to
/// 200 m from one column to the next, the lumped column shear smooths the
/// flow out: 40 % too slow on average, against 2 % here
/// (tests/test_membrane_vs_bp.cpp; docs/emulator.md, "Eighth round").
///
/// The CPU update is one loop over the points; other devices use LibTorch
/// operations with the same numbers (tests/test_membrane_reference.cpp).

#include <torch/types.h>

namespace nunatak::emulator::detail {

/// The no-slip elements of one membrane solve and their points.
struct GaussShear {
  torch::Tensor elements;          ///< [M] int64: the elements, rows of the patch's element_columns
  torch::Tensor corners;           ///< [M * 4] int64: their corner columns
  torch::Tensor elements_around;   ///< [N] how many of the elements each column is a corner of
  torch::Tensor phi;               ///< [4 corners, 4 points]: the bilinear functions at the points
  torch::Tensor dphi_dx, dphi_dy;  ///< [4, 4]: their derivatives, 1/m
  torch::Tensor H;                 ///< [M, 4] thickness at the points, floored at H_min, m
  torch::Tensor sx, sy, Hx, Hy;    ///< [M, 4] slopes of the surface and thickness at the points
  torch::Tensor log_half_hardness; ///< [M, 4, L] log(B/2), B at the points in Pa a^(1/n)
  torch::Tensor zeta, weight;      ///< [L] depth below the surface / H, sigma weights
  torch::Tensor eta;               ///< [M, 4, L] the points' viscosity, Pa a (the Picard state)
  double glen_exponent = 3, regularisation2 = 0;
};

/// The coefficients of one element's points.
struct GaussShearCoefficients {
  torch::Tensor stiffness; ///< [M, 4] 1/F2 at the points, Pa a/m
  torch::Tensor membrane;  ///< [M] 2 H sum_l w_l eta_l p_l^2 averaged over the points, Pa a m
};

/// The no-slip elements of a patch: those of `element_corners` ([E, 4]
/// columns) whose four corners are icy and fixed at the bed
/// (`no_slip` [N], 1 or 0), with their points' geometry from the columns'
/// thickness H and surface s ([N]; differentiable, so the coefficients
/// carry their derivatives), and the viscosity eta_columns ([N, L])
/// interpolated to the points as the first state. half_hardness [N, L];
/// the tables phi, dphi_dx, dphi_dy as GaussShear's.
GaussShear gauss_shear(const torch::Tensor& element_corners, const torch::Tensor& no_slip,
                       const torch::Tensor& H, const torch::Tensor& s, double minimum_thickness,
                       const torch::Tensor& half_hardness, const torch::Tensor& eta_columns,
                       const torch::Tensor& phi, const torch::Tensor& dphi_dx,
                       const torch::Tensor& dphi_dy, const torch::Tensor& zeta,
                       const torch::Tensor& weight, double glen_exponent, double regularisation2);

/// One relaxed Picard update of gs.eta for ubar ([N, 2] m/a, double) and
/// the coefficients of the updated viscosity; in plain loops if `cpu_loops`
/// (gs on the CPU), else LibTorch operations. No derivatives.
GaussShearCoefficients gauss_shear_update(GaussShear& gs, const torch::Tensor& ubar,
                                          double relaxation, bool cpu_loops);

/// The coefficients of gs.eta held fixed for ubar, differentiable with
/// respect to the geometry that gs carries (the last Picard system's, for
/// the derivatives).
GaussShearCoefficients gauss_shear_coefficients(const GaussShear& gs, const torch::Tensor& ubar);

} // namespace nunatak::emulator::detail
