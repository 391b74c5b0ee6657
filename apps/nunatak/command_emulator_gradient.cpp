// `nunatak emulator gradient DATASET MODEL...`: gradient fidelity. For the
// velocity functional
//   J(H) = sum_icy |u_s(H)|^2 / sum_icy |u_s*(H0)|^2
// (u_s the surface velocity, icy the free columns, u_s* the solver's at the
// stored thickness H0), the gradient dJ/dH at a few dozen interior columns:
// the solver's by central differences of Blatter-Pattyn solves (H0 +- step H0,
// 0.2 % by default, at one column, the ice base held, each solve warm-started
// from the solution at H0, Newton to a relative residual of 1e-10), against
// each model's by back-propagation through the network, and the four
// baselines': the shallow-ice velocity and the membrane reference, linear,
// glen and glen_gauss (their adjoints; the glen ones hold their viscosity
// fixed).
// Printed per sample and as medians: the cosine similarity and the relative
// error |g - g_solver| / |g_solver| over the columns. Also the solver's
// gradient at every eligible column by its adjoint (model::SolverForward),
// checked against the differences at the probed columns, and each model's
// scores against it over all those columns.

#include "emulator_commands.hpp"

#include "nunatak/core/error.hpp"
#include "nunatak/core/petsc_check.hpp"
#include "nunatak/emulator/membrane_reference.hpp"
#include "nunatak/emulator/refinement.hpp"
#include "nunatak/emulator/trainer.hpp"
#include "nunatak/model/inversion_forward.hpp"
#include "nunatak/model/sample_solver.hpp"
#include "nunatak/model/simulation.hpp"

#include <fmt/format.h>
#include <petscsys.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <optional>

namespace nunatak::app {

namespace {

/// PETSc options prefix of the finite-difference solves.
const char* const fd_prefix = "emulator_fd_";

/// Interior columns whose 3 x 3 neighbourhood is free and whose thickness is
/// at least 3 H_min (so that +-step H changes no mask), `count` of them
/// spread evenly over the eligible ones ([y][x] indices).
std::vector<size_t> probe_columns(const core::BPPatch& p, int count) {
  std::vector<size_t> eligible;
  for (int j = 1; j + 1 < p.ny; ++j)
    for (int i = 1; i + 1 < p.nx; ++i) {
      bool free = p.thickness[p.column(j, i)] >= 3 * p.constants.minimum_thickness;
      for (int dj = -1; dj <= 1; ++dj)
        for (int di = -1; di <= 1; ++di) free = free && p.node_free[p.column(j + dj, i + di)];
      if (free) eligible.push_back(p.column(j, i));
    }
  if (int(eligible.size()) <= count) return eligible;
  std::vector<size_t> out;
  for (int m = 0; m < count; ++m)
    out.push_back(eligible[size_t((m + 0.5) * double(eligible.size()) / count)]);
  return out;
}

/// sum_icy |u_s|^2 of a [y][x][z][c] velocity.
double surface_energy(const core::BPPatch& p, const std::vector<double>& u) {
  double sum = 0;
  for (int j = 0; j < p.ny; ++j)
    for (int i = 0; i < p.nx; ++i)
      if (p.node_free[p.column(j, i)]) {
        const size_t n = 2 * p.node(j, i, p.nz - 1);
        sum += u[n] * u[n] + u[n + 1] * u[n + 1];
      }
  return sum;
}

/// dJ/dH at every column ([y][x]) of a differentiable velocity `velocity_of(patch)`.
template <class VelocityOf>
std::vector<double> torch_gradient(const core::BPPatch& patch, double normaliser,
                                   VelocityOf velocity_of) {
  emulator::TorchBPPatch p = emulator::make_torch_bp_patch(patch);
  p.thickness = p.thickness.detach().requires_grad_(true);
  const torch::Tensor u = velocity_of(p);
  const torch::Tensor icy = p.free_nodes.select(2, p.nz - 1);
  const torch::Tensor J = (u.select(2, p.nz - 1).pow(2).sum(2) * icy).sum() / normaliser;
  const torch::Tensor g = torch::autograd::grad({J}, {p.thickness})[0].flatten().contiguous();
  return std::vector<double>(g.data_ptr<double>(), g.data_ptr<double>() + g.numel());
}

/// `field`'s values at `cells`.
std::vector<double> at(const std::vector<double>& field, const std::vector<size_t>& cells) {
  std::vector<double> out;
  for (size_t c : cells) out.push_back(field[c]);
  return out;
}

struct Fidelity {
  double cosine = 0, relative_error = 0;
};

Fidelity compare(const std::vector<double>& g, const std::vector<double>& reference) {
  double dot = 0, gg = 0, rr = 0, dd = 0;
  for (size_t k = 0; k < g.size(); ++k) {
    dot += g[k] * reference[k];
    gg += g[k] * g[k];
    rr += reference[k] * reference[k];
    dd += (g[k] - reference[k]) * (g[k] - reference[k]);
  }
  return {gg > 0 && rr > 0 ? dot / std::sqrt(gg * rr) : 0.0, rr > 0 ? std::sqrt(dd / rr) : NAN};
}

} // namespace

void add_gradient_command(CLI::App& emulator_cmd, Context& context) {
  auto* cmd = emulator_cmd.add_subcommand(
      "gradient",
      "Gradient fidelity: dJ/d(thickness) of J = sum |u_s|^2 (surface velocity over the ice) "
      "through each model against the solver's (central differences of Blatter-Pattyn solves) "
      "at interior columns of data-set samples, and against its adjoint at every interior "
      "column: cosine similarity and relative error, beside the shallow-ice and membrane "
      "(linear, glen, glen_gauss) baselines");
  struct Options {
    std::string dataset, which = "validation";
    std::vector<std::string> models;
    int max_samples = 4, cells = 24;
    // 0.2 %: on Greenland at 16 km the differences with 1 % steps are 4.7 %
    // from the adjoint's gradient (their truncation error), with 0.2 % 0.3 %.
    double step = 0.002;
    int refine = 0;
    std::string refine_method = "defect";
  };
  auto o = std::make_shared<Options>();
  cmd->add_option("DATASET", o->dataset,
                  "data set (`nunatak emulator dataset`), or a Blatter-Pattyn fixture "
                  "(`--bp-fixture`; one sample: --samples all)")
      ->required();
  cmd->add_option("MODEL", o->models, "model files (`nunatak emulator train`)")->required();
  cmd->add_option("--samples", o->which, "which samples: all, validation or training")
      ->check(CLI::IsMember({"all", "validation", "training"}));
  cmd->add_option("--max-samples", o->max_samples, "the first this many converged samples")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--cells", o->cells, "columns per sample where the gradient is compared")
      ->check(CLI::Range(1, 10000));
  cmd->add_option("--step", o->step,
                  "relative thickness step of the central differences (H +- step H)")
      ->check(CLI::Range(1e-6, 0.2));
  add_refine_options(cmd, o->refine, o->refine_method,
                     "each model's velocity refined by this many steps towards the "
                     "Blatter-Pattyn balance, its gradient the balance's adjoint (as invert "
                     "with emulator.refine_steps)");
  cmd->callback([o, &context] {
    core::Runtime& runtime = context.runtime();
    io::FilePlan files;
    files.read(o->dataset, "DATASET");
    for (const auto& m : o->models) files.read(m, "MODEL");
    model::prepare_files(files, runtime.comm());
    if (runtime.rank() != 0) return;
    const io::EmulatorDataset dataset = io::read_emulator_samples(o->dataset);
    std::vector<emulator::Emulator> nets;
    for (const auto& m : o->models) {
      nets.push_back(emulator::Emulator::load(m));
      check_model_fits(nets.back(), dataset, m);
    }
    for (const auto& [key, value] : {std::pair{"snes_rtol", "1e-10"}, {"ksp_rtol", "1e-12"}})
      NUNATAK_PETSC(
          PetscOptionsSetValue(nullptr, fmt::format("-{}{}", fd_prefix, key).c_str(), value));
    // Per model, then the shallow-ice and membrane baselines (last).
    const size_t baselines = 4, rows = nets.size() + baselines;
    const char* const baseline_names[] = {"shallow-ice baseline", "membrane baseline",
                                          "glen membrane baseline", "glen_gauss membrane baseline"};
    emulator::MembraneOptions glen, glen_gauss;
    glen.viscosity = "glen";
    glen_gauss.viscosity = "glen_gauss";
    std::vector<std::vector<double>> cosines(rows), errors(rows), all_cosines(rows),
        all_errors(rows);
    std::vector<double> adjoint_cosines, adjoint_errors;
    int done = 0;
    for (const io::EmulatorSample& s : dataset.samples) {
      if (done >= o->max_samples) break;
      if (!s.converged || (o->which == "validation" && !s.validation) ||
          (o->which == "training" && s.validation))
        continue;
      const core::BPPatch& patch = s.patch;
      const std::vector<size_t> cells = probe_columns(patch, o->cells);
      if (cells.size() < 2) continue;
      const std::vector<size_t> every_cell = probe_columns(patch, INT_MAX);
      ++done;
      const auto start = std::chrono::steady_clock::now();
      // A cold solve of the stored problem first: it must give the stored
      // solution back (the problem is rebuilt right).
      model::SampleSolver solver(patch, dataset.ocean_pressure, fd_prefix);
      const std::vector<double> u0 = solver.solve(patch.thickness);
      double diff2 = 0, norm2 = 0;
      for (size_t n = 0; n < u0.size(); ++n) {
        diff2 += (u0[n] - s.velocity[n]) * (u0[n] - s.velocity[n]);
        norm2 += s.velocity[n] * s.velocity[n];
      }
      const double resolve_difference = std::sqrt(diff2 / std::max(norm2, 1e-300));
      const double normaliser = surface_energy(patch, u0);
      std::vector<double> g_solver;
      for (size_t c : cells) {
        const double h = o->step * patch.thickness[c];
        double J[2];
        for (int side = 0; side < 2; ++side) {
          std::vector<double> H = patch.thickness;
          H[c] += side ? -h : h;
          solver.set_velocity(u0);
          J[side] = surface_energy(patch, solver.solve(H)) / normaliser;
        }
        g_solver.push_back((J[0] - J[1]) / (2 * h));
      }
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      // The solver's gradient at every column: one solve and its adjoint.
      const auto adjoint_start = std::chrono::steady_clock::now();
      model::SolverForward adjoint_solver(patch, dataset.ocean_pressure, true, fd_prefix);
      const std::vector<double> g_adjoint =
          torch_gradient(patch, normaliser, [&](const emulator::TorchBPPatch& p) {
            return adjoint_solver.velocity(p);
          });
      const double adjoint_seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - adjoint_start).count();
      const Fidelity adjoint_check = compare(at(g_adjoint, cells), g_solver);
      adjoint_cosines.push_back(adjoint_check.cosine);
      adjoint_errors.push_back(adjoint_check.relative_error);
      const std::vector<double> g_every = at(g_adjoint, every_cell);
      std::string line = fmt::format(
          "sample {} ({}x{}, dx {:.0f} m, {} columns, {:.1f} s of solves, re-solve "
          "{:.1e} from the stored solution; adjoint in {:.1f} s, against the differences cos "
          "{:.5f} err {:.3f} %, {} columns in all):",
          s.index, patch.nx, patch.ny, patch.dx, cells.size(), seconds, resolve_difference,
          adjoint_seconds, adjoint_check.cosine, 100 * adjoint_check.relative_error,
          every_cell.size());
      for (size_t m = 0; m < rows; ++m) {
        // A model's refinement (with --refine) lives until its gradient is taken.
        std::optional<emulator::DifferentiableRefinement> refine;
        if (o->refine > 0 && m < nets.size())
          refine.emplace(emulator::membrane_options(nets[m].metadata()), o->refine,
                         emulator::refine_method(o->refine_method));
        const std::vector<double> g =
            torch_gradient(patch, normaliser, [&](const emulator::TorchBPPatch& p) {
              if (m == nets.size()) return emulator::shallow_ice_velocity(p);
              if (m == nets.size() + 1) return emulator::membrane_velocity_3d(p);
              if (m == nets.size() + 2) return emulator::membrane_velocity_3d(p, glen);
              if (m == nets.size() + 3) return emulator::membrane_velocity_3d(p, glen_gauss);
              nets[m].to(p.options());
              if (!refine) return nets[m].velocity(p);
              torch::Tensor u;
              {
                const torch::NoGradGuard no_grad;
                u = nets[m].velocity(p);
              }
              return (*refine)(p, u);
            });
        const Fidelity f = compare(at(g, cells), g_solver);
        const Fidelity every = compare(at(g, every_cell), g_every);
        cosines[m].push_back(f.cosine);
        errors[m].push_back(f.relative_error);
        all_cosines[m].push_back(every.cosine);
        all_errors[m].push_back(every.relative_error);
        line +=
            fmt::format(" {} cos {:.3f} err {:.0f} % (all {:.3f}, {:.0f} %)",
                        m < nets.size()        ? (o->refine > 0 ? "refined model" : "model")
                        : m == nets.size()     ? "SIA"
                        : m == nets.size() + 1 ? "membrane"
                        : m == nets.size() + 2 ? "glen"
                                               : "glen_gauss",
                        f.cosine, 100 * f.relative_error, every.cosine, 100 * every.relative_error);
      }
      spdlog::info("{}", line);
    }
    if (done == 0)
      throw Error("emulator gradient: no converged " + o->which + " sample with interior ice in '" +
                  o->dataset + "'");
    spdlog::info("gradient fidelity on {} {} samples of {} (J = sum |u_s|^2, step {} H):", done,
                 o->which, o->dataset, o->step);
    spdlog::info("the solver's adjoint against its differences: median cosine {:.5f}, median "
                 "relative error {:.3f} %",
                 emulator::median(adjoint_cosines), 100 * emulator::median(adjoint_errors));
    spdlog::info("| model | median cosine | median relative error | every column (against the "
                 "adjoint): median cosine | median relative error |");
    for (size_t m = 0; m < rows; ++m)
      spdlog::info("| {} | {:.3f} | {:.0f} % | {:.3f} | {:.0f} % |",
                   m < nets.size()
                       ? o->models[m] + (o->refine > 0 ? fmt::format(", refined ({} {} steps)",
                                                                     o->refine, o->refine_method)
                                                       : std::string())
                       : baseline_names[m - nets.size()],
                   emulator::median(cosines[m]), 100 * emulator::median(errors[m]),
                   emulator::median(all_cosines[m]), 100 * emulator::median(all_errors[m]));
  });
}

} // namespace nunatak::app
