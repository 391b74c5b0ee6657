/// \file membrane_imbalance.cpp
/// The membrane reference's force imbalance under the Blatter-Pattyn energy
/// (membrane_reference.hpp, membrane_imbalance): an input that tells the
/// network where the reference already balances BP's forces, so that it can
/// leave those columns alone.
///
/// Equations. With E the discrete BP energy (bp_energy.hpp, divided by
/// rho g, m^4/a) and u_m the membrane reference at the solver's nodes
/// (membrane_velocity_3d, m/a), r = dE/du (u_m) (m^3) is 0 at free nodes
/// exactly where u_m is BP's solution. Its sum over a column's nodes,
/// R = sum_k r_k, is the column's net force (the derivative of E along a
/// uniform shift of the column); that of the driving term alone, R_drive
/// (about H grad s dx dy), its driving force. So
///   a = R . d / F,  b = R . d_perp / F,  F = |R_drive| + 0.01 mean_ice |R_drive|
/// (d = the reference's direction, d_perp its left normal) are fractions of
/// the driving force (the floor keeps flat divides finite). The channels
/// are asinh(-a) and asinh(-b): of order 1 and signed; asinh(-a) > 0 where
/// the energy falls as the column speeds up.

#include "nunatak/emulator/membrane_reference.hpp"

#include <torch/autograd.h>

namespace nunatak::emulator {

namespace {
/// Whether any geometry or parameter tensor of `p` asks for gradients.
bool geometry_requires_grad(const TorchBPPatch& p) {
  return p.thickness.requires_grad() || p.bed.requires_grad() || p.beta2.requires_grad() ||
         p.hardness.requires_grad();
}
} // namespace

torch::Tensor membrane_imbalance(const TorchBPPatch& patch, const MembraneOptions& options) {
  if (patch.membrane_imbalance.defined()) return patch.membrane_imbalance;
  TorchBPPatch solved; // one membrane solve for the velocity, direction and profile
  const bool solve = !patch.membrane.defined();
  if (solve) {
    solved = patch;
    cache_membrane(solved, options);
  }
  const TorchBPPatch& p = solve ? solved : patch;
  const torch::AutoGradMode enable(true); // also inside inference's NoGradGuard
  torch::Tensor u = membrane_velocity_3d(p, options);
  // Keep the graph only where a caller may differentiate the result.
  const bool graph = u.requires_grad() || geometry_requires_grad(p);
  if (!u.requires_grad()) u = u.detach().requires_grad_(true);
  const BPEnergyTerms terms = bp_energy_terms(p, u);
  const auto column_sum = [&](const torch::Tensor& energy, bool retain) {
    torch::Tensor r = torch::autograd::grad({energy}, {u}, {}, retain || graph, graph)[0];
    if (!graph) r = r.detach();
    return (r * p.free_nodes.unsqueeze(3)).sum(2); // [ny, nx, 2], m^3
  };
  const torch::Tensor net = column_sum(terms.total(), true);
  const torch::Tensor drive = torch::sqrt(column_sum(terms.driving, false).pow(2).sum(2) + 1e-30);
  const torch::Tensor icy = p.free_nodes.select(2, p.nz - 1);
  const torch::Tensor floor = 0.01 * (drive * icy).sum() / torch::clamp_min(icy.sum(), 1.0);
  const torch::Tensor scale = drive + floor + 1e-30;

  const torch::Tensor ubar = membrane_velocity(p, options); // [ny, nx, 2]
  const torch::Tensor norm = torch::sqrt(ubar.pow(2).sum(2) + 1e-24);
  const torch::Tensor dx = ubar.select(2, 0) / norm, dy = ubar.select(2, 1) / norm;
  const torch::Tensor along = net.select(2, 0) * dx + net.select(2, 1) * dy;
  const torch::Tensor across = -net.select(2, 0) * dy + net.select(2, 1) * dx;
  torch::Tensor out =
      torch::stack({torch::asinh(-along / scale), torch::asinh(-across / scale)}, 2) *
      icy.unsqueeze(2);
  return graph ? out : out.detach();
}

void cache_membrane_imbalance(TorchBPPatch& patch, const MembraneOptions& options) {
  patch.membrane_imbalance = torch::Tensor();
  patch.membrane_imbalance = membrane_imbalance(patch, options).detach();
}

} // namespace nunatak::emulator
