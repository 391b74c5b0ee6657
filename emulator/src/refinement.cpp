/// \file refinement.cpp
/// Refinement (refinement.hpp) of any 3-D velocity u towards the discrete
/// Blatter-Pattyn balance dE/du = 0 (E the shared energy, bp_energy.hpp,
/// divided by rho g: dE/du in m^3; u in m/a), a two-level method with the
/// membrane reference's system (membrane_reference.cpp) as its coarse
/// level (refinement_levels.hpp). Boundary conditions are the energy's:
/// u = 0 at the patch's fixed nodes, which every direction keeps. A defect
/// correction step (RefineMethod::defect_correction):
///   1. coarse correction: the force along each column's profile q (the
///      reference's u(sigma)/ubar, of mean 1), f = -sum_k q_k dE/du_k; the
///      reference's system A at its cached viscosity solved, A dubar = f;
///      the direction q dubar;
///   2. column smoother: per column and component, the tridiagonal T of the
///      Picard form of the vertical shear, sum_l eta_l dA (du)(dv) /
///      (rho g H dsigma_l), plus beta^2 dA / (rho g) on a sliding base,
///      plus the node's quadrature share of A's diagonal; the direction
///      -T^-1 dE/du (0 at fixed nodes);
/// each followed by a line search on E along its direction: Armijo
/// backtracking from a full step, and, where E still falls at the full
/// step, secant steps on the directional derivative while E falls (far
/// from the balance A's viscosity makes the step too short). E is convex,
/// so no step raises it. With RefineMethod::newton a step is instead one
/// inexact Newton step: conjugate gradients on H d = -dE/du (H, E's
/// Hessian, applied without a matrix) preconditioned by the two
/// parts added (M = q A^-1 q^T + T^-1, symmetric positive definite), to a
/// reduction of 0.3 of the preconditioned residual or 8 iterations, then
/// one line search along d. Double precision. On the CPU the energy, its
/// gradient and H's products are hand-written loops (bp_energy_cpu.hpp);
/// on other devices they are LibTorch's, H's products by double
/// back-propagation, in single precision for conjugate gradients that stop
/// at a reduction of 1e-4 or more (loose_reduction). Those solves' coarse
/// solves stop at 1e-2 on every device (loose_coarse_reduction). On a
/// periodic patch (TorchBPPatch::column_partner) the ghost columns are kept
/// equal to their partners, so that E is the periodic problem's energy:
/// gradients are folded onto the partners, A becomes fold A spread (its
/// V-cycle on the patch's torus, column_tie.hpp), a ghost's column matrices
/// are added into its partner's, and every direction is spread back.
///
/// Derivatives (DifferentiableRefinement): at the balance, dE/du(u*(m), m)
/// = 0 for the controls m (thickness, bed, beta2), so for a cost J(u*),
///   dJ/dm = -(d^2E/du dm)^T lambda,   H lambda = dJ/du,   H = d^2E/du^2,
/// the adjoint of the solver's Newton system with the torch energy's own
/// Hessian. lambda is solved by the same preconditioned conjugate gradients
/// as the Newton steps, to a tighter tolerance; the product
/// -d/dm (dE/du . lambda) by double back-propagation at u*.

#include "nunatak/emulator/refinement.hpp"

#include "bp_energy_cpu.hpp"
#include "nunatak/core/error.hpp"
#include "refinement_levels.hpp"

#include <torch/autograd.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>

namespace nunatak::emulator {

namespace {

/// `patch` with every floating-point tensor detached and of `type`.
TorchBPPatch in_precision(TorchBPPatch p, torch::ScalarType type) {
  for (torch::Tensor* t :
       {&p.thickness, &p.bed, &p.beta2, &p.hardness, &p.sigma, &p.free_nodes, &p.front_normal,
        &p.front_length, &p.volume_phi, &p.volume_dphi, &p.surface_grad, &p.basal_phi, &p.front_phi,
        &p.front_weights, &p.vertical_points, &p.membrane, &p.membrane_viscosity,
        &p.membrane_imbalance})
    if (t->defined() && t->is_floating_point()) *t = t->detach().to(type);
  return p;
}

/// `patch` in double precision (the energy's line search compares values
/// that single precision cannot tell apart).
TorchBPPatch in_double(TorchBPPatch p) {
  return in_precision(std::move(p), torch::kFloat64);
}

/// Conjugate gradients on H that stop at a preconditioned residual
/// reduction of at least this (every Newton step, forcing 0.3, and the
/// adjoint at its default tolerance, 1e-2) are loose solves: their
/// preconditioner's coarse solves stop at loose_coarse_reduction, and off
/// the CPU their Hessian products by autograd are made in single precision
/// (relative round-off about 1e-7 per term, far below the reduction). Tighter
/// adjoints keep double precision and coarse solves to the reference's
/// tolerance. (On the CPU, products by autograd in single precision were
/// about twice as fast as in double; the hand-written loops in double are
/// faster still, bp_energy_timing.)
constexpr double loose_reduction = 1e-4;
/// The coarse solves' reduction in loose solves, chosen on the data set's
/// validation samples (two Newton steps: 1e-2 keeps the median error, 1.18 %,
/// in 0.84 of the time; 1e-1 raises it to 1.43 %; docs/emulator.md).
constexpr double loose_coarse_reduction = 1e-2;

/// What hessian_solve did.
struct HessianSolve {
  torch::Tensor x;      ///< the solution (spread)
  int iterations = 0;   ///< Hessian products
  double reduction = 1; ///< preconditioned residual relative to that of x = 0
};

/// Solves H x = b (b folded) by conjugate gradients preconditioned by the
/// two levels added (M = coarse + smoother, symmetric positive definite;
/// its coarse solves loose where the forcing is, loose_reduction),
/// from `initial` (spread; undefined: 0), until the preconditioned residual
/// is `forcing` times that of x = 0, or after `iterations` Hessian products.
/// Polak-Ribiere's beta, since the coarse solves' tolerance varies M a little.
HessianSolve hessian_solve(const std::function<torch::Tensor(const torch::Tensor&)>& hessian,
                           detail::RefinementLevels& levels, const torch::Tensor& b, double forcing,
                           int iterations, const torch::Tensor& initial = {}) {
  const double coarse_reduction = forcing >= loose_reduction ? loose_coarse_reduction : 0.0;
  const auto precondition = [&](const torch::Tensor& g) {
    return levels.coarse(g, coarse_reduction) + levels.smoother(g);
  };
  HessianSolve out;
  const double b_norm2 = (b * precondition(b)).sum().item<double>();
  torch::Tensor res = b;
  out.x = torch::zeros_like(b);
  if (initial.defined()) {
    out.x = initial.clone();
    res = b - hessian(out.x);
    ++out.iterations;
  }
  torch::Tensor z = precondition(res), direction = z;
  double rz = (res * z).sum().item<double>();
  const double target = forcing * forcing * b_norm2;
  while (out.iterations < iterations && rz > target) {
    const torch::Tensor Hd = hessian(direction);
    ++out.iterations;
    const double dHd = (direction * Hd).sum().item<double>();
    if (!(dHd > 0)) break; // E is convex: only round-off gets here
    const double alpha = rz / dHd;
    out.x.add_(direction, alpha);
    const torch::Tensor previous = res;
    res = res - alpha * Hd;
    z = precondition(res);
    const double rz_new = (res * z).sum().item<double>();
    const double beta = std::max(((res - previous) * z).sum().item<double>() / rz, 0.0);
    direction = z + beta * direction;
    rz = rz_new;
  }
  out.reduction = b_norm2 > 0 ? std::sqrt(std::max(rz, 0.0) / b_norm2) : 0.0;
  return out;
}

/// The energy's Hessian products at u for `patch` (double precision),
/// folded; directions (double, spread) in and products (double) out. By
/// the CPU loops where `cpu` is given (bp_energy_cpu.hpp, double); else
/// by double back-propagation from one graph of the gradient, built on
/// `loose` (the patch in single precision; loose_patch) where it is defined.
struct EnergyHessian {
  std::shared_ptr<const detail::BPEnergyHessianCpu> loops; ///< or null
  torch::Tensor x, gradient;
  const detail::RefinementLevels* levels = nullptr;

  EnergyHessian(const TorchBPPatch& patch, const TorchBPPatch& loose,
                const detail::BPEnergyCpu* cpu, const torch::Tensor& u,
                const detail::RefinementLevels& l)
      : levels(&l) {
    if (cpu) {
      loops = std::make_shared<const detail::BPEnergyHessianCpu>(cpu->hessian(u));
      return;
    }
    const TorchBPPatch& graph = loose.thickness.defined() ? loose : patch;
    const torch::AutoGradMode enable(true);
    x = u.detach().to(graph.thickness.scalar_type()).requires_grad_(true);
    gradient = torch::autograd::grad({bp_energy(graph, x)}, {x}, {}, true, true)[0];
  }
  torch::Tensor operator()(const torch::Tensor& d) const {
    if (loops) return levels->fold((*loops)(d));
    const torch::AutoGradMode enable(true);
    const torch::Tensor product =
        torch::autograd::grad({(gradient * d.to(x.scalar_type())).sum()}, {x}, {}, true)[0];
    return levels->fold(product.detach().to(torch::kFloat64));
  }
};

/// The CPU loops of the energy of `p` where it is on the CPU, else null.
std::unique_ptr<const detail::BPEnergyCpu> cpu_energy(const TorchBPPatch& p) {
  if (!p.thickness.device().is_cpu()) return nullptr;
  return std::make_unique<const detail::BPEnergyCpu>(p);
}

/// The patch in single precision for loose Hessian products by autograd
/// (off the CPU; see EnergyHessian), else an empty patch.
TorchBPPatch loose_patch(const TorchBPPatch& p, bool loose) {
  return loose && !p.thickness.device().is_cpu() ? in_precision(p, torch::kFloat32)
                                                 : TorchBPPatch();
}

} // namespace

RefineMethod refine_method(const std::string& name) {
  if (name == "defect") return RefineMethod::defect_correction;
  if (name == "newton") return RefineMethod::newton;
  throw Error("refinement: unknown method '" + name + "' (defect or newton)");
}

namespace {

/// refine_velocity on a patch already in double precision, with its levels
/// and, on the CPU, its energy's loops (`loops`; null elsewhere).
torch::Tensor refine(const TorchBPPatch& p, detail::RefinementLevels& levels,
                     const detail::BPEnergyCpu* loops, const torch::Tensor& velocity, int steps,
                     double relaxation, std::vector<double>* residuals, RefineMethod method) {
  // Newton's inner iterations: at most newton_iterations, until the
  // preconditioned residual falls by newton_forcing (chosen on the data
  // set's validation samples: 0.3 against 0.1 and 0.5; docs/emulator.md).
  constexpr int newton_iterations = 8;
  constexpr double newton_forcing = 0.3;
  const torch::NoGradGuard no_grad;
  torch::Tensor u = levels.spread(velocity.detach().to(torch::kFloat64));
  // The energy at v, and its gradient (m^3) if `r` is given.
  const auto energy = [&](const torch::Tensor& v, torch::Tensor* r) {
    if (loops) return (*loops)(v, r);
    if (!r) return bp_energy(p, v).item<double>();
    const torch::AutoGradMode enable(true);
    torch::Tensor x = v.detach().requires_grad_(true);
    const torch::Tensor e = bp_energy(p, x);
    *r = torch::autograd::grad({e}, {x})[0].detach();
    return e.item<double>();
  };
  torch::Tensor r; // the gradient at u
  double e0 = energy(u, &r);
  static_assert(newton_forcing >= loose_reduction);
  const TorchBPPatch single = loose_patch(p, method == RefineMethod::newton);
  // A step along the descent direction d of the convex energy: from
  // alpha = `relaxation`, backtracked until the energy falls enough (Armijo);
  // where the energy still falls at the full step's end at half its
  // starting rate or more, secant steps on the directional derivative carry
  // it further (far from the balance, where the reference's viscosity makes
  // the step too short), as long as the energy falls. The trials at full
  // length also give the gradient at the new u (dE/du is 0 at fixed nodes:
  // bp_energy masks the velocity).
  const auto descend = [&](const torch::Tensor& d) {
    const double slope = (r * d).sum().item<double>();
    if (!(slope < 0)) return false;
    double alpha = relaxation;
    for (int t = 0; t < 12; ++t, alpha *= 0.5) {
      torch::Tensor g;
      const double e = energy(u + alpha * d, t == 0 ? &g : nullptr);
      if (e > e0 + 1e-4 * alpha * slope) continue;
      if (t > 0) {
        u = u + alpha * d;
        e0 = energy(u, &r);
        return true;
      }
      double best_alpha = alpha, best_e = e, previous_alpha = 0, previous_slope = slope;
      torch::Tensor best_g = g;
      for (int secant = 0; secant < 6; ++secant) {
        const double end_slope = (best_g * d).sum().item<double>();
        // Worth it only while the energy still falls at half the rate it
        // started with (a quadratic's best step would be 2 or more).
        if (!(end_slope < 0.5 * slope) || !(end_slope > previous_slope)) break;
        double next = std::min(best_alpha + (best_alpha - previous_alpha) * end_slope /
                                                (previous_slope - end_slope),
                               1000.0 * relaxation);
        bool better = false;
        for (int half = 0; half < 4 && !better; ++half, next = 0.5 * (best_alpha + next)) {
          const double e_next = energy(u + next * d, &g);
          if (e_next < best_e) {
            previous_alpha = best_alpha;
            previous_slope = end_slope;
            best_alpha = next;
            best_e = e_next;
            best_g = g;
            better = true;
          }
        }
        if (!better) break;
      }
      u = u + best_alpha * d;
      e0 = best_e;
      r = best_g;
      return true;
    }
    return false;
  };
  for (int k = 0; k < steps; ++k) {
    const torch::Tensor force = -levels.fold(r);
    if (residuals) residuals->push_back(levels.column_residual(force));
    if (method == RefineMethod::defect_correction) {
      const bool moved = descend(levels.coarse(force));
      if (!descend(levels.smoother(-levels.fold(r))) && !moved) break;
      continue;
    }
    // Newton: H d = -g to a forcing of newton_forcing in the preconditioned
    // norm, or newton_iterations.
    const EnergyHessian hessian(p, single, loops, u, levels);
    const HessianSolve step =
        hessian_solve(hessian, levels, force, newton_forcing, newton_iterations);
    if (!descend(step.x)) break;
  }
  return u;
}

} // namespace

torch::Tensor refine_velocity(const TorchBPPatch& patch, const torch::Tensor& velocity,
                              const MembraneOptions& options, int steps, double relaxation,
                              std::vector<double>* residuals, RefineMethod method) {
  if (steps <= 0) return velocity;
  TorchBPPatch p = in_double(patch);
  detail::RefinementLevels levels(p, options);
  const auto loops = cpu_energy(p);
  return refine(p, levels, loops.get(), velocity, steps, relaxation, residuals, method)
      .to(velocity.options());
}

struct DifferentiableRefinement::State {
  MembraneOptions options;
  int steps = 0;
  RefineMethod method = RefineMethod::defect_correction;
  double adjoint_tolerance = 1e-2;
  int adjoint_iterations = 200;
  long long calls = 0;       ///< forward passes so far
  long long warm_starts = 0; ///< of them, those started from the last call's velocity
  TorchBPPatch patch;        ///< the last call's, double precision, detached
  torch::Tensor u;           ///< its refined velocity (double)
  torch::Tensor lambda;      ///< the last adjoint (a warm start), or undefined
  std::unique_ptr<detail::RefinementLevels> levels; ///< the last call's
  std::unique_ptr<const detail::BPEnergyCpu> loops; ///< the last call's (CPU) or null
  AdjointReport report;
};

namespace {

/// The refined velocity as an autograd function of thickness, bed and beta2.
struct RefineFunction : public torch::autograd::Function<RefineFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, torch::Tensor thickness,
                               torch::Tensor bed, torch::Tensor beta2,
                               DifferentiableRefinement::State* state, const TorchBPPatch* patch,
                               torch::Tensor velocity) {
    const torch::NoGradGuard no_grad;
    DifferentiableRefinement::State& s = *state;
    s.patch = in_double(*patch);
    s.levels = std::make_unique<detail::RefinementLevels>(s.patch, s.options);
    s.loops = cpu_energy(s.patch);
    // The start: the velocity given, or the last call's refined velocity
    // where it has the lower energy on this patch (E is convex: the nearer
    // the balance; between the nearby states of an inversion the refinement
    // then goes on where it stopped).
    torch::Tensor start = velocity.detach().to(torch::kFloat64);
    if (s.u.defined() && s.u.sizes() == start.sizes() &&
        bp_energy(s.patch, s.u).item<double>() < bp_energy(s.patch, start).item<double>()) {
      start = s.u;
      ++s.warm_starts;
    }
    s.u = refine(s.patch, *s.levels, s.loops.get(), start, s.steps, 1.0, nullptr, s.method);
    ++s.calls;
    ctx->saved_data["state"] = static_cast<int64_t>(reinterpret_cast<intptr_t>(state));
    ctx->saved_data["call"] = static_cast<int64_t>(s.calls);
    ctx->saved_data["thickness"] = thickness.detach();
    ctx->saved_data["bed"] = bed.detach();
    ctx->saved_data["beta2"] = beta2.detach();
    return s.u.to(velocity.options());
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    auto& s = *reinterpret_cast<DifferentiableRefinement::State*>(
        static_cast<intptr_t>(ctx->saved_data["state"].toInt()));
    if (ctx->saved_data["call"].toInt() != s.calls)
      throw Error("refinement: the derivative of an earlier call was asked for after a later "
                  "call (DifferentiableRefinement keeps the last call only)");
    TorchBPPatch p = s.patch;
    detail::RefinementLevels& levels = *s.levels;
    const torch::Tensor free = p.free_nodes.to(torch::kFloat64).unsqueeze(3);
    const torch::Tensor g = levels.fold(grad_outputs[0].detach().to(torch::kFloat64) * free);
    const TorchBPPatch single = loose_patch(p, s.adjoint_tolerance >= loose_reduction);
    const EnergyHessian hessian(p, single, s.loops.get(), s.u, levels);
    // The last adjoint starts this one where the patch has the same shape.
    const torch::Tensor warm =
        s.lambda.defined() && s.lambda.sizes() == g.sizes() ? s.lambda : torch::Tensor();
    const HessianSolve adjoint =
        hessian_solve(hessian, levels, g, s.adjoint_tolerance, s.adjoint_iterations, warm);
    s.lambda = adjoint.x.detach();
    s.report.iterations = adjoint.iterations;
    s.report.reduction = adjoint.reduction;
    ++s.report.solves;
    s.report.total_iterations += adjoint.iterations;
    // -d/dm (dE/du . lambda) at u, on a graph of its own (the backward pass
    // runs with gradients off).
    const torch::AutoGradMode enable(true);
    p.thickness = p.thickness.detach().requires_grad_(true);
    p.bed = p.bed.detach().requires_grad_(true);
    p.beta2 = p.beta2.detach().requires_grad_(true);
    const torch::Tensor x = s.u.detach().requires_grad_(true);
    const torch::Tensor gradient = torch::autograd::grad({bp_energy(p, x)}, {x}, {}, true, true)[0];
    const auto dm = torch::autograd::grad({(gradient * s.lambda).sum()},
                                          {p.thickness, p.bed, p.beta2}, {}, false, false, true);
    torch::autograd::variable_list out;
    const char* names[3] = {"thickness", "bed", "beta2"};
    for (int k = 0; k < 3; ++k) {
      const torch::Tensor like = ctx->saved_data[names[k]].toTensor();
      out.push_back(dm[size_t(k)].defined() ? (-dm[size_t(k)]).to(like.options())
                                            : torch::zeros_like(like));
    }
    for (int k = 0; k < 3; ++k) out.push_back(torch::Tensor()); // state, patch, velocity
    return out;
  }
};

} // namespace

DifferentiableRefinement::DifferentiableRefinement(MembraneOptions options, int steps,
                                                   RefineMethod method, double adjoint_tolerance,
                                                   int adjoint_iterations)
    : m_state(std::make_unique<State>()) {
  if (steps < 1 || !(adjoint_tolerance > 0) || adjoint_iterations < 1)
    throw Error("refinement: steps >= 1, an adjoint tolerance > 0 and adjoint iterations >= 1");
  m_state->options = std::move(options);
  m_state->steps = steps;
  m_state->method = method;
  m_state->adjoint_tolerance = adjoint_tolerance;
  m_state->adjoint_iterations = adjoint_iterations;
}

DifferentiableRefinement::~DifferentiableRefinement() = default;

torch::Tensor DifferentiableRefinement::operator()(const TorchBPPatch& patch,
                                                   const torch::Tensor& velocity) {
  return RefineFunction::apply(patch.thickness, patch.bed, patch.beta2, m_state.get(), &patch,
                               velocity.detach());
}

const DifferentiableRefinement::AdjointReport& DifferentiableRefinement::last_adjoint() const {
  return m_state->report;
}

long long DifferentiableRefinement::warm_starts() const {
  return m_state->warm_starts;
}

} // namespace nunatak::emulator
