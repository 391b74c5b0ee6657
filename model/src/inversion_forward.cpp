// The inversion's solver and hybrid forward models (inversion_forward.hpp):
// a BP solve as a LibTorch autograd function whose backward is the adjoint,
// and the emulator retrained on BP solves during the inversion.

#include "nunatak/model/inversion_forward.hpp"

#include "nunatak/core/error.hpp"
#include "nunatak/emulator/network.hpp"
#include "nunatak/emulator/trainer.hpp"

#include <torch/autograd.h>
#include <torch/optim/adam.h>

#include <cmath>
#include <cstdio>

namespace nunatak::model {

namespace {

std::vector<double> host_values(const torch::Tensor& t) {
  return emulator::to_vector(t.detach().to(torch::kCPU, torch::kFloat64));
}

/// velocity = BP(thickness, base, beta2); backward by the adjoint.
struct BPSolveFunction : public torch::autograd::Function<BPSolveFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, torch::Tensor thickness,
                               torch::Tensor base, torch::Tensor beta2, SolverForward* self,
                               int nz) {
    const std::vector<double> u =
        self->solve(host_values(thickness), host_values(base), host_values(beta2));
    ctx->saved_data["self"] = static_cast<int64_t>(reinterpret_cast<intptr_t>(self));
    ctx->saved_data["solve"] = static_cast<int64_t>(self->solves());
    ctx->saved_data["solution"] = torch::tensor(u, torch::kFloat64);
    ctx->save_for_backward({thickness, base, beta2});
    const int64_t ny = thickness.size(0), nx = thickness.size(1);
    return torch::tensor(u, torch::kFloat64)
        .view({ny, nx, nz, 2})
        .to(thickness.options().requires_grad(false));
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    auto* self =
        reinterpret_cast<SolverForward*>(static_cast<intptr_t>(ctx->saved_data["self"].toInt()));
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor solution = ctx->saved_data["solution"].toTensor();
    const std::vector<torch::Tensor> g = self->adjoint_gradient(
        saved[0], saved[1], saved[2], ctx->saved_data["solve"].toInt(), host_values(solution),
        grad_outputs[0].to(torch::kCPU, torch::kFloat64));
    const auto like = [](const torch::Tensor& grad, const torch::Tensor& input) {
      return grad.to(input.options().requires_grad(false));
    };
    return {like(g[0], saved[0]), like(g[1], saved[1]), like(g[2], saved[2]), torch::Tensor(),
            torch::Tensor()};
  }
};

} // namespace

double surface_difference(const core::BPPatch& p, const std::vector<double>& a,
                          const std::vector<double>& b) {
  double diff2 = 0, norm2 = 0;
  for (int j = 0; j < p.ny; ++j)
    for (int i = 0; i < p.nx; ++i) {
      if (!p.node_free[p.column(j, i)]) continue;
      const size_t n = 2 * p.node(j, i, p.nz - 1);
      for (size_t c = n; c < n + 2; ++c) {
        diff2 += (a[c] - b[c]) * (a[c] - b[c]);
        norm2 += b[c] * b[c];
      }
    }
  return norm2 > 0 ? std::sqrt(diff2 / norm2) : 0.0;
}

SolverForward::SolverForward(const core::BPPatch& patch, bool ocean_pressure, bool small_grid,
                             const std::string& options_prefix, SolverTeam* team)
    : m_patch(patch), m_torch(emulator::make_torch_bp_patch(patch)),
      m_solver(team, patch, ocean_pressure, options_prefix, small_grid) {}

SolverForward::~SolverForward() = default;

torch::Tensor SolverForward::velocity(const emulator::TorchBPPatch& patch) {
  return BPSolveFunction::apply(patch.thickness, patch.bed, patch.beta2, this, patch.nz);
}

std::vector<double> SolverForward::solve(const std::vector<double>& thickness,
                                         const std::vector<double>& base,
                                         const std::vector<double>& beta2) {
  std::vector<double> u;
  try {
    u = m_solver.solve(thickness, base, beta2);
  } catch (const Error&) {
    // The next solve starts from the last converged velocity, not from the
    // failed iterate.
    if (!m_last_solution.empty()) m_solver.set_velocity(m_last_solution);
    throw;
  }
  ++m_solves;
  m_newton += m_solver.newton_iterations();
  m_last_solution = u;
  return u;
}

std::vector<torch::Tensor> SolverForward::adjoint_gradient(const torch::Tensor& thickness,
                                                           const torch::Tensor& base,
                                                           const torch::Tensor& beta2,
                                                           long long solve_index,
                                                           const std::vector<double>& solution,
                                                           const torch::Tensor& velocity_gradient) {
  const std::vector<double> H = host_values(thickness), b = host_values(base),
                            beta = host_values(beta2);
  // The adjoint needs the Hessian at this state: solve again if another
  // solve came in between (warm-started from its own solution, one Newton step).
  if (solve_index != m_solves) {
    m_solver.set_velocity(solution);
    solve(H, b, beta);
  }
  const std::vector<double> lambda = m_solver.adjoint(host_values(velocity_gradient));
  ++m_adjoints;
  // (dR/dm)^T lambda = d/dm (lambda . dE/du) at the solution (a graph of
  // its own: autograd's backward pass runs with gradients off).
  const torch::AutoGradMode grad_on(true);
  const torch::Tensor Ht = torch::tensor(H, torch::kFloat64).view({m_patch.ny, m_patch.nx});
  emulator::TorchBPPatch p = m_torch;
  p.thickness = Ht.clone().requires_grad_(true);
  p.bed = torch::tensor(b, torch::kFloat64).view_as(Ht).requires_grad_(true);
  p.beta2 = torch::tensor(beta, torch::kFloat64).view_as(Ht).requires_grad_(true);
  const torch::Tensor u = emulator::velocity_tensor(p, solution).requires_grad_(true);
  const torch::Tensor E = emulator::bp_energy(p, u);
  const torch::Tensor gradient = torch::autograd::grad({E}, {u}, {}, true, true)[0];
  const torch::Tensor product = (gradient * emulator::velocity_tensor(p, lambda)).sum();
  const auto dm =
      torch::autograd::grad({product}, {p.thickness, p.bed, p.beta2}, {}, false, false, true);
  std::vector<torch::Tensor> out;
  for (const auto& d : dm) out.push_back(d.defined() ? -d : torch::zeros_like(Ht));
  return out;
}

struct HybridForward::Impl {
  emulator::Emulator& model;
  inversion::EmulatorForward emulator_forward;
  core::BPPatch patch;
  SolverForward solver;
  HybridOptions options;
  std::vector<torch::Tensor> anchor; ///< the pretrained weights
  double anchor_norm2 = 0;
  std::unique_ptr<torch::optim::Adam> adam;
  emulator::LossBalance balance;

  Impl(emulator::Emulator& m, const core::BPPatch& p, bool ocean_pressure, bool small_grid,
       const HybridOptions& o, SolverTeam* team)
      : model(m), emulator_forward(m), patch(p),
        solver(p, ocean_pressure, small_grid, "invert_hybrid_", team), options(o) {}
};

HybridForward::HybridForward(emulator::Emulator& model, const core::BPPatch& patch,
                             bool ocean_pressure, bool small_grid, const HybridOptions& options,
                             SolverTeam* team)
    : m_impl(std::make_unique<Impl>(model, patch, ocean_pressure, small_grid, options, team)) {
  if (options.every < 1 || options.steps < 0 || !(options.learning_rate > 0) ||
      !(options.anchor >= 0))
    throw Error("inversion.hybrid: every >= 1, steps >= 0, learning_rate > 0 and anchor >= 0");
}

HybridForward::~HybridForward() = default;

torch::Tensor HybridForward::velocity(const emulator::TorchBPPatch& patch) {
  return m_impl->emulator_forward.velocity(patch);
}

std::string HybridForward::before_iteration(int iteration, const emulator::TorchBPPatch& patch) {
  Impl& m = *m_impl;
  if (iteration % m.options.every != 0) return "";
  const std::vector<double> H = host_values(patch.thickness), b = host_values(patch.bed),
                            beta = host_values(patch.beta2);
  std::vector<double> u_bp;
  try {
    u_bp = m.solver.solve(H, b, beta);
  } catch (const Error& e) {
    return std::string("solver check failed: ") + e.what();
  }
  const auto emulated = [&] {
    const torch::NoGradGuard no_grad;
    return host_values(m.emulator_forward.velocity(patch));
  };
  core::BPPatch state = m.patch;
  state.thickness = H;
  state.bed = b;
  state.beta2 = beta;
  Check check;
  check.iteration = iteration;
  check.before = surface_difference(state, emulated(), u_bp);
  if (m.options.steps > 0) {
    std::vector<torch::Tensor> weights = m.model.net()->parameters();
    if (m.anchor.empty()) {
      for (const auto& w : weights) {
        m.anchor.push_back(w.detach().clone());
        m.anchor_norm2 += w.detach().pow(2).sum().item<double>();
      }
      m.adam = std::make_unique<torch::optim::Adam>(
          weights, torch::optim::AdamOptions(m.options.learning_rate));
    }
    emulator::TrainingSample sample;
    sample.patch = patch;
    sample.patch.membrane = torch::Tensor();
    {
      // The membrane reference of this geometry, solved once for all steps.
      const torch::NoGradGuard no_grad;
      emulator::cache_membrane(sample.patch, emulator::membrane_options(m.model.metadata()));
    }
    sample.solution = emulator::velocity_tensor(sample.patch, u_bp);
    const std::vector<const emulator::TrainingSample*> batch = {&sample};
    emulator::StepMode mode;
    mode.loss = "hybrid";
    for (int step = 0; step < m.options.steps; ++step) {
      mode.balance = step == 0;
      m.adam->zero_grad();
      emulator::accumulate_gradients(m.model, batch, mode, m.balance);
      if (m.options.anchor > 0 && m.anchor_norm2 > 0) {
        const torch::NoGradGuard no_grad;
        for (size_t k = 0; k < weights.size(); ++k)
          if (weights[k].grad().defined())
            weights[k].grad().add_(2 * m.options.anchor / m.anchor_norm2 *
                                   (weights[k].detach() - m.anchor[k]));
      }
      m.adam->step();
    }
  }
  check.after = surface_difference(state, emulated(), u_bp);
  m_checks.push_back(check);
  char line[160];
  std::snprintf(line, sizeof line,
                "solver check: emulator %.1f %% from BP, %.1f %% after %d retraining steps",
                100 * check.before, 100 * check.after, m.options.steps);
  return line;
}

} // namespace nunatak::model
