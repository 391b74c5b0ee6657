#pragma once
/// \file bp_energy.hpp
/// The discrete Blatter-Pattyn energy in LibTorch: the solver's Q1 energy
/// (same nodes, quadrature, masks, front condition and rho g scaling; see
/// emulator/src/bp_energy.cpp and docs/energy.md) written with tensor
/// operations over all elements at once, differentiable with respect to the
/// velocity and to the geometry and parameters (thickness, bed, beta2,
/// hardness), in double or single precision, on the CPU or a CUDA device.
///
/// Usage:
///
///     auto patch = emulator::make_torch_bp_patch(bp_patch);          // double, CPU
///     torch::Tensor u = emulator::velocity_tensor(patch, velocity);  // [ny][nx][nz][2], m/a
///     torch::Tensor E = emulator::bp_energy(patch, u);               // scalar
///     torch::Tensor g = emulator::bp_energy_gradient(patch, u);      // dE/du
///
/// For derivatives with respect to the geometry, replace a geometry tensor by
/// one that requires grad (`patch.thickness = H.requires_grad_()`), keeping
/// its shape, dtype and device. The masks (ice-filled elements, fixed nodes,
/// front faces) are fixed data built from the core::BPPatch: changing the
/// thickness across H_min does not move the margins.

#include "nunatak/core/bp_patch.hpp"

#include <torch/types.h>

#include <vector>

namespace nunatak::emulator {

/// A core::BPPatch as tensors of one dtype on one device, plus the index
/// tables of the elements and front faces that are integrated. Geometry and
/// parameter tensors may be replaced (same shape, dtype and device), e.g. by
/// tensors that require grad; the rest is fixed data.
struct TorchBPPatch {
  int nx = 0, ny = 0, nz = 0; ///< columns along x and y, nodes per column
  double dx = 1.0, dy = 1.0;  ///< node spacing, m
  core::BPConstants constants;
  /// Some column's bed node is free (core::BPPatch::bed_fixed): the friction
  /// term is integrated (over every ice-filled element's bed, as the solver does).
  bool sliding = false;

  // Geometry and parameters (differentiable inputs).
  torch::Tensor thickness; ///< H, [ny, nx], m
  torch::Tensor bed;       ///< z_b, [ny, nx], m
  torch::Tensor beta2;     ///< basal friction coefficient, [ny, nx], Pa (m/a)^-q
  torch::Tensor hardness;  ///< B, [ny, nx, nz], Pa a^(1/n)

  // Fixed data.
  torch::Tensor sigma;      ///< levels, [nz], 0 (bed) .. 1 (surface)
  torch::Tensor free_nodes; ///< [ny, nx, nz], 1 where the node is an unknown, 0 where fixed
  /// [E, 4] (int64): flat [y][x] indices of the corner columns c = 2 dj + di of
  /// each integrated ice-filled element (lowest corner in [ey0, ey1) x [ex0, ex1)).
  torch::Tensor element_columns;
  /// [F, 2] (int64): the two columns of each marine-front face, in order along the face.
  torch::Tensor front_columns;
  torch::Tensor front_normal; ///< [F, 2]: outward unit normal (n_x, n_y) of each front face
  torch::Tensor front_length; ///< [F]: length of each front face along the map plane, m
  /// [ny nx] (int64): the column that holds each column's values on a
  /// periodic grid (core::periodic_partner_columns: ghost columns point at
  /// their owned images); undefined on a patch with no periodic ghosts. The
  /// energy does not use it (it integrates each element once, so a velocity
  /// whose ghosts equal their partners gets the periodic problem's energy);
  /// refine_velocity keeps the ghosts tied with it.
  torch::Tensor column_partner;

  // Quadrature tables (fixed; see the file comment of bp_energy.cpp), [..., node, point].
  torch::Tensor volume_phi;    ///< [8 nodes, 8 points]: Q1 functions at the 2x2x2 Gauss points
  torch::Tensor volume_dphi;   ///< [3, 8, 8]: their derivatives along xi, eta, zeta
  torch::Tensor surface_grad;  ///< [2, 4 columns, 8]: d/dx, d/dy of the bilinear column functions
  torch::Tensor basal_phi;     ///< [4 columns, 4 points]: bilinear functions at the 2x2 bed points
  torch::Tensor front_phi;     ///< [2 columns, 3 points]: linear functions along a front face
  torch::Tensor front_weights; ///< [3]: 3-point Gauss weights
  torch::Tensor vertical_points; ///< [2]: 2-point Gauss abscissae

  /// Optional cache of membrane_velocity(patch, options) (membrane_reference.hpp),
  /// [ny, nx, 2] m/a: undefined unless a caller fills it for a geometry that
  /// does not change (training samples), so that the solve runs once.
  torch::Tensor membrane;
  /// With it, for the glen viscosity: that viscosity at the refined levels,
  /// [ny, nx, L] Pa a (fill both with cache_membrane).
  torch::Tensor membrane_viscosity;
  /// Optional cache of membrane_imbalance(patch, options), [ny, nx, 2]
  /// (cache_membrane_imbalance): for a fixed geometry, held fixed.
  torch::Tensor membrane_imbalance;

  /// Dtype and device of the patch's tensors.
  torch::TensorOptions options() const { return thickness.options(); }
};

/// Builds the tensors of `patch` (checked with core::BPPatch::check) in
/// `dtype` (torch::kFloat64 or torch::kFloat32) on `device`. Throws
/// nunatak::Error on an inconsistent patch or an unsupported dtype.
TorchBPPatch make_torch_bp_patch(const core::BPPatch& patch, torch::Dtype dtype = torch::kFloat64,
                                 torch::Device device = torch::kCPU);

/// The terms of the energy: scalar tensors in m^4 a^-1 (a power in J/a divided by rho g).
struct BPEnergyTerms {
  torch::Tensor viscous;  ///< bp_viscous_energy
  torch::Tensor driving;  ///< bp_driving_energy
  torch::Tensor friction; ///< bp_friction_energy
  torch::Tensor front;    ///< bp_front_energy
  /// viscous + driving + friction + front.
  torch::Tensor total() const { return viscous + driving + friction + front; }
};

/// All four terms for velocity [ny, nx, nz, 2] (m/a; fixed nodes count as 0
/// whatever it holds), sharing the gathering of element data.
BPEnergyTerms bp_energy_terms(const TorchBPPatch& patch, const torch::Tensor& velocity);

/// The discrete Blatter-Pattyn energy (a scalar tensor, divided by rho g):
/// viscous + driving + friction + front.
torch::Tensor bp_energy(const TorchBPPatch& patch, const torch::Tensor& velocity);

/// Viscous dissipation, 1/(rho g) int_Omega (2n/(n+1)) B (e2 + reg2)^((n+1)/(2n)) dV,
/// with e2 = u_x^2 + v_y^2 + u_x v_y + (u_y + v_x)^2/4 + u_z^2/4 + v_z^2/4.
torch::Tensor bp_viscous_energy(const TorchBPPatch& patch, const torch::Tensor& velocity);

/// Gravitational driving, int_Omega grad(s) . (u, v) dV, s = z_b + H (already in
/// rho g units).
torch::Tensor bp_driving_energy(const TorchBPPatch& patch, const torch::Tensor& velocity);

/// Basal friction, 1/(rho g) int_bed beta2/(q+1) (|u|^2 + r2)^((q+1)/2) dA over the
/// map-plane area (0 when every bed node is fixed).
torch::Tensor bp_friction_energy(const TorchBPPatch& patch, const torch::Tensor& velocity);

/// Ocean pressure on marine-front faces, -int_front p (u, v) . n dA with
/// p = (s - z) - (rho_w/rho_i) max(z_sl - z, 0) (the pressure divided by rho g).
torch::Tensor bp_front_energy(const TorchBPPatch& patch, const torch::Tensor& velocity);

/// dE/du by autograd, [ny, nx, nz, 2] (0 at fixed nodes): the patch-local,
/// un-assembled gradient, which the solver's residual equals on free nodes.
torch::Tensor bp_energy_gradient(const TorchBPPatch& patch, const torch::Tensor& velocity);

/// (d^2E/du^2) direction by double autograd, [ny, nx, nz, 2].
torch::Tensor bp_hessian_vector_product(const TorchBPPatch& patch, const torch::Tensor& velocity,
                                        const torch::Tensor& direction);

/// Hardness B = (E A)^(-1/n), Pa a^(1/n), from softness A (Pa^-n a^-1) and
/// enhancement factor E (tensors that broadcast), differentiable in both.
torch::Tensor hardness_from_softness(const torch::Tensor& softness,
                                     const torch::Tensor& enhancement, double glen_exponent);
/// As above with a uniform enhancement factor.
torch::Tensor hardness_from_softness(const torch::Tensor& softness, double enhancement,
                                     double glen_exponent);

/// A [ny][nx][nz][2] velocity (m/a, the layout of core::BPPatch) as a tensor
/// in the patch's dtype and on its device. Throws nunatak::Error on a size mismatch.
torch::Tensor velocity_tensor(const TorchBPPatch& patch, const std::vector<double>& velocity);

/// The values of any tensor, row-major, as doubles on the host.
std::vector<double> to_vector(const torch::Tensor& tensor);

} // namespace nunatak::emulator
