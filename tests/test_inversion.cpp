// The gradient-based inversion (inversion/inversion.hpp, model/inversion_forward.hpp)
// on a small sliding glacier (14 x 10 columns of 1 km, 5 levels):
//   - the solver mode's gradient (BP adjoint + double backward of the torch
//     energy) against central differences of the full cost, BP re-solved
//     to 1e-12, for thickness and friction controls;
//   - twin experiments: observations from the forward model at a known
//     thickness, inverted from 0.7 times it, recover it (emulator and solver);
//   - cells without observations leave the cost and gradient finite;
//   - the hybrid mode's check: retraining on a BP solve brings the emulator
//     closer to it;
//   - bad options and observations are errors that name the key.
#include "nunatak/core/bp_patch.hpp"
#include "nunatak/core/error.hpp"
#include "nunatak/emulator/network.hpp"
#include "nunatak/inversion/inversion.hpp"
#include "nunatak/model/inversion_forward.hpp"
#include "nunatak/model/sample_solver.hpp"

#include <gtest/gtest.h>
#include <petscsys.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

using namespace nunatak;

namespace {

constexpr int nx = 14, ny = 10, nz = 5;
constexpr double dx = 1000.0;

/// The true glacier: an elliptic outline on a 3 % incline, thickness up
/// to ~450 m with a bump, sliding on beta^2 = 2000 Pa a/m (a slipperier
/// patch downstream). `scale` multiplies the thickness (the first guess).
core::BPPatch glacier(double scale = 1.0) {
  std::vector<double> H(size_t(nx * ny), 0.0), s(H.size()), beta2(H.size(), 2000.0);
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) {
      const size_t c = size_t(j * nx + i);
      const double x = (i - 6.5) / 6.0, y = (j - 4.5) / 4.2;
      const double r2 = x * x + y * y;
      s[c] = 2000.0 - 0.03 * i * dx;
      if (r2 < 1.0)
        H[c] = scale * (60.0 + 380.0 * std::sqrt(1.0 - r2) + 60.0 * std::exp(-4 * r2) * (x > 0));
      if (i >= 9) beta2[c] = 800.0;
    }
  std::vector<double> b(H.size());
  for (size_t c = 0; c < H.size(); ++c) b[c] = s[c] - H[c];
  std::vector<double> sigma(nz);
  for (int k = 0; k < nz; ++k) sigma[size_t(k)] = double(k) / (nz - 1);
  const std::vector<double> hardness(H.size() * nz, std::pow(1e-16, -1.0 / 3.0));
  return core::make_bp_patch(nx, ny, dx, dx, sigma, H, b, beta2, hardness, core::BPConstants{},
                             true, false);
}

/// Observations of a column velocity on `truth`: surface velocity
/// everywhere, radar along the row j = `radar_row` (none if < 0).
inversion::InversionObservations observe(const core::BPPatch& truth,
                                         const std::vector<double>& velocity, int radar_row) {
  inversion::InversionObservations o;
  const std::vector<double> us = inversion::surface_velocity(truth, velocity);
  const size_t n = size_t(nx * ny);
  o.u.assign(n, NAN);
  o.v.assign(n, NAN);
  o.radar.assign(n, NAN);
  o.surface.resize(n);
  for (size_t c = 0; c < n; ++c) {
    o.surface[c] = truth.bed[c] + truth.thickness[c];
    if (truth.thickness[c] > 0) {
      o.u[c] = us[2 * c];
      o.v[c] = us[2 * c + 1];
    }
  }
  if (radar_row >= 0)
    for (int i = 0; i < nx; ++i)
      o.radar[size_t(radar_row * nx + i)] = truth.thickness[size_t(radar_row * nx + i)];
  return o;
}

/// RMS of thickness differences over the ice of `truth`.
double thickness_rms(const core::BPPatch& truth, const std::vector<double>& H) {
  double sum = 0;
  int n = 0;
  for (size_t c = 0; c < H.size(); ++c)
    if (truth.thickness[c] > 0) {
      sum += (H[c] - truth.thickness[c]) * (H[c] - truth.thickness[c]);
      ++n;
    }
  return std::sqrt(sum / n);
}

/// A new emulator whose zero head returns the glen membrane reference.
emulator::Emulator reference_model(const core::BPPatch& patch) {
  const emulator::TorchBPPatch p = emulator::make_torch_bp_patch(patch);
  emulator::EmulatorMetadata meta = emulator::emulator_metadata_for(p, "cnn", 8, 2);
  meta.output_scaling = "membrane";
  meta.membrane_viscosity = "glen";
  meta.velocity_scale = 1.0;
  emulator::Emulator model(meta, 3);
  emulator::fit_normalisation(model, {p});
  return model;
}

/// Tight Newton and Krylov tolerances for the solves of the prefix "invert_":
/// the residual (about 1e8 at rest) to 1e-6, just above its round-off floor.
void tight_solves() {
  for (const auto& [key, value] : {std::pair{"-invert_snes_rtol", "1e-14"},
                                   {"-invert_snes_atol", "1e-6"},
                                   {"-invert_snes_stol", "0"},
                                   {"-invert_ksp_rtol", "1e-13"}})
    ASSERT_EQ(PetscOptionsSetValue(nullptr, key, value), 0);
}

inversion::InversionOptions quiet_options() {
  inversion::InversionOptions o;
  o.thickness_smoothing = 0.001; // the truth has a step: smoothing biases it
  o.friction_smoothing = 0.01;
  return o;
}

} // namespace

TEST(Inversion, SolverGradientEqualsFiniteDifferencesOfTheCost) {
  tight_solves();
  const core::BPPatch truth = glacier();
  const std::vector<double> u_true = [&] {
    model::SampleSolver s(truth, true, "invert_");
    return s.solve(truth.thickness);
  }();
  inversion::InversionOptions options = quiet_options();
  options.controls = {"thickness", "friction"};
  options.velocity_huber = 2.0; // the Huber branch too
  inversion::Inversion inv(glacier(0.8), observe(truth, u_true, 5), options);
  model::SolverForward forward(inv.current_patch(), true, true);
  const inversion::CostTerms at = inv.evaluate(forward, true);
  ASSERT_TRUE(std::isfinite(at.total));
  EXPECT_GT(at.velocity, 0.0);
  EXPECT_GT(at.radar, 0.0);
  std::vector<torch::Tensor> controls = inv.controls();
  ASSERT_EQ(controls.size(), 2u);
  const std::vector<torch::Tensor> gradient = {controls[0].grad().clone(),
                                               controls[1].grad().clone()};
  // Interior ice cells, the bump, the radar row, the slippery patch.
  const std::pair<int, int> cells[] = {{4, 6}, {5, 9}, {3, 4}, {6, 10}};
  double worst = 0;
  for (size_t k = 0; k < controls.size(); ++k)
    for (const auto& [j, i] : cells) {
      const double theta = controls[k][j][i].item<double>();
      const double h = 1e-4 * std::max(std::abs(theta), 1.0);
      double J[2];
      for (int side = 0; side < 2; ++side) {
        {
          const torch::NoGradGuard no_grad;
          controls[k][j][i] = theta + (side ? -h : h);
        }
        J[side] = inv.evaluate(forward, false).total;
      }
      {
        const torch::NoGradGuard no_grad;
        controls[k][j][i] = theta;
      }
      const double fd = (J[0] - J[1]) / (2 * h);
      const double adjoint = gradient[k][j][i].item<double>();
      SCOPED_TRACE("control " + std::to_string(k) + " at (" + std::to_string(j) + ", " +
                   std::to_string(i) + ")");
      EXPECT_GT(std::abs(fd), 1e-8);
      const double error = std::abs(adjoint - fd) / std::abs(fd);
      worst = std::max(worst, error);
      EXPECT_LT(error, 1e-5) << "adjoint " << adjoint << ", finite differences " << fd;
    }
  std::printf("solver-mode gradient against finite differences: worst relative error %.2e\n",
              worst);
}

namespace {

/// The solver twins' truth (tight solves) and its velocity.
std::pair<core::BPPatch, std::vector<double>> solver_truth() {
  tight_solves();
  core::BPPatch truth = glacier();
  model::SampleSolver s(truth, true, "invert_");
  std::vector<double> u = s.solve(truth.thickness);
  return {std::move(truth), std::move(u)};
}

} // namespace

TEST(Inversion, SolverTwinRecoversTheThickness) {
  const auto [truth, u_true] = solver_truth();
  inversion::InversionOptions options = quiet_options();
  options.iterations = 40;
  inversion::Inversion inv(glacier(0.7), observe(truth, u_true, 5), options);
  model::SolverForward forward(inv.current_patch(), true, true);
  const double before = thickness_rms(truth, inv.thickness());
  const auto history = inv.run(forward);
  const double after = thickness_rms(truth, inv.thickness());
  std::printf("solver twin: thickness RMS %.1f m -> %.1f m in %d iterations, %d solves; "
              "velocity misfit %.3g -> %.3g m/a\n",
              before, after, history.back().iteration, forward.solves(),
              history.front().terms.velocity_rms, history.back().terms.velocity_rms);
  EXPECT_LT(after, 0.1 * before);
  EXPECT_LT(history.back().terms.velocity_rms, 0.05 * history.front().terms.velocity_rms);
}

namespace {

/// The solver, failing (nunatak::Error) at the evaluations listed: as a
/// Blatter-Pattyn solve that does not converge at a trial state.
class FailingForward final : public inversion::ForwardModel {
public:
  FailingForward(model::SolverForward& solver, std::vector<int> failing)
      : m_solver(solver), m_failing(std::move(failing)) {}
  std::string name() const override { return "failing solver"; }
  torch::Tensor velocity(const emulator::TorchBPPatch& patch) override {
    if (std::find(m_failing.begin(), m_failing.end(), ++m_calls) != m_failing.end())
      throw Error("sample solver: Newton did not converge (DIVERGED_MAX_IT)");
    return m_solver.velocity(patch);
  }

private:
  model::SolverForward& m_solver;
  std::vector<int> m_failing;
  int m_calls = 0;
};

/// A forward model that fails at states more than `reach` metres of
/// thickness (anywhere) from the last state it solved, as a warm-started
/// Newton solve fails after a step too long; records the longest step asked.
class ShortReachForward final : public inversion::ForwardModel {
public:
  ShortReachForward(model::SolverForward& solver, double reach)
      : m_solver(solver), m_reach(reach) {}
  std::string name() const override { return "short-reach solver"; }
  torch::Tensor velocity(const emulator::TorchBPPatch& patch) override {
    const torch::Tensor H = patch.thickness.detach().to(torch::kFloat64);
    if (m_last.defined()) {
      const double jump = (H - m_last).abs().max().item<double>();
      longest = std::max(longest, jump);
      if (jump > m_reach) throw Error("sample solver: Newton did not converge (DIVERGED_MAX_IT)");
    }
    m_last = H.clone();
    return m_solver.velocity(patch);
  }
  double longest = 0;

private:
  model::SolverForward& m_solver;
  double m_reach;
  torch::Tensor m_last;
};

} // namespace

// A solve that fails where a step starts (here the fourth call, the first
// of the second step; trial states are the line search's, below) does not
// end (or lose) the inversion: the controls go back to the last state and
// L-BFGS starts afresh; two failures in a row stop it there, with the state
// before them.
TEST(Inversion, AFailedSolveWhereAStepStartsGoesBackAndGoesOn) {
  const auto [truth, u_true] = solver_truth();
  inversion::InversionOptions options = quiet_options();
  options.iterations = 12;
  {
    inversion::Inversion inv(glacier(0.7), observe(truth, u_true, 5), options);
    model::SolverForward solver(inv.current_patch(), true, true);
    FailingForward forward(solver, {4});
    const double before = thickness_rms(truth, inv.thickness());
    const auto history = inv.run(forward);
    int restarts = 0;
    for (const auto& step : history)
      restarts += step.note.find("the optimiser restarted") != std::string::npos ? 1 : 0;
    EXPECT_EQ(restarts, 1);
    EXPECT_EQ(history.back().iteration, options.iterations); // it went on to the end
    EXPECT_LT(thickness_rms(truth, inv.thickness()), 0.5 * before);
  }
  {
    inversion::Inversion inv(glacier(0.7), observe(truth, u_true, 5), options);
    model::SolverForward solver(inv.current_patch(), true, true);
    FailingForward forward(solver, {6, 7}); // two steps in a row; the last state solves
    const auto history = inv.run(forward);
    ASSERT_GE(history.size(), 3u);
    const inversion::Inversion::Step& stopped = history[history.size() - 2];
    EXPECT_NE(stopped.note.find("again, stopped at the last state"), std::string::npos)
        << stopped.note;
    EXPECT_LT(history.back().iteration, options.iterations);
    // The final state is the last good one: finite, and no worse than the start.
    EXPECT_TRUE(std::isfinite(history.back().terms.total));
    EXPECT_LT(history.back().terms.total, history.front().terms.total);
  }
}

// A trial state of L-BFGS's line search that the forward model cannot solve
// is a step too long, not the end of the step: the search steps back
// towards the start and the run goes on.
TEST(Inversion, AnUnsolvedTrialStateMakesTheLineSearchStepBack) {
  const auto [truth, u_true] = solver_truth();
  inversion::InversionOptions options = quiet_options();
  options.iterations = 1;
  // How long is the first trial step? (No limit on the reach.)
  double first_step = 0;
  {
    inversion::Inversion inv(glacier(0.7), observe(truth, u_true, 5), options);
    model::SolverForward solver(inv.current_patch(), true, true);
    ShortReachForward probe(solver, 1e30);
    inv.run(probe);
    first_step = probe.longest;
  }
  ASSERT_GT(first_step, 1.0);
  // A reach of a third of it: the first trial fails.
  options.iterations = 8;
  inversion::Inversion inv(glacier(0.7), observe(truth, u_true, 5), options);
  model::SolverForward solver(inv.current_patch(), true, true);
  ShortReachForward forward(solver, first_step / 3);
  const double before = thickness_rms(truth, inv.thickness());
  const auto history = inv.run(forward);
  ASSERT_GE(history.size(), 2u);
  EXPECT_NE(history.front().note.find("not solved"), std::string::npos) << history.front().note;
  EXPECT_NE(history.front().note.find("the line search stepped back"), std::string::npos);
  for (const auto& step : history)
    EXPECT_EQ(step.note.find("restarted"), std::string::npos) << step.note;
  EXPECT_EQ(history.back().iteration, options.iterations); // it went on to the end
  EXPECT_LT(thickness_rms(truth, inv.thickness()), 0.8 * before);
}

TEST(Inversion, EmulatorTwinRecoversTheThickness) {
  const core::BPPatch truth = glacier();
  emulator::Emulator model = reference_model(truth);
  std::vector<double> u_true;
  {
    const torch::NoGradGuard no_grad;
    u_true = emulator::to_vector(model.velocity(emulator::make_torch_bp_patch(truth)));
  }
  inversion::InversionOptions options = quiet_options();
  // Adam: the glen reference's gradient holds its viscosity fixed, too
  // inexact for L-BFGS's line search (which stalls after two steps here).
  options.optimizer = "adam";
  options.learning_rate = 0.2;
  options.iterations = 100;
  inversion::Inversion inv(glacier(0.7), observe(truth, u_true, 5), options);
  inversion::EmulatorForward forward(model);
  const double before = thickness_rms(truth, inv.thickness());
  const auto history = inv.run(forward);
  const double after = thickness_rms(truth, inv.thickness());
  std::printf("emulator twin: thickness RMS %.1f m -> %.1f m in %d iterations (%d evaluations)\n",
              before, after, history.back().iteration, history.back().evaluations);
  EXPECT_LT(after, 0.1 * before);
  // The cost history goes down.
  EXPECT_LT(history.back().terms.total, 0.01 * history.front().terms.total);
}

TEST(Inversion, CellsWithoutObservationsLeaveCostAndGradientFinite) {
  const core::BPPatch truth = glacier();
  emulator::Emulator model = reference_model(truth);
  std::vector<double> u_true;
  {
    const torch::NoGradGuard no_grad;
    u_true = emulator::to_vector(model.velocity(emulator::make_torch_bp_patch(truth)));
  }
  inversion::InversionObservations o = observe(truth, u_true, -1);
  // No velocity on the western half, no radar at all, one speed-only cell.
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx / 2; ++i) o.u[size_t(j * nx + i)] = o.v[size_t(j * nx + i)] = NAN;
  o.speed.assign(size_t(nx * ny), NAN);
  o.speed[size_t(4 * nx + 3)] = 20.0;
  inversion::InversionOptions options = quiet_options();
  options.controls = {"thickness", "friction", "surface"};
  options.mass_weight = 1.0;
  options.thickness_prior = 0.1;
  inversion::Inversion inv(glacier(0.7), o, options);
  inversion::EmulatorForward forward(model);
  const inversion::CostTerms terms = inv.evaluate(forward, true);
  for (const auto& [name, value] : terms.named()) EXPECT_TRUE(std::isfinite(value)) << name;
  EXPECT_EQ(terms.radar, 0.0);
  EXPECT_TRUE(std::isnan(terms.radar_rms));
  for (const auto& c : inv.controls()) {
    ASSERT_TRUE(c.grad().defined());
    EXPECT_TRUE(torch::isfinite(c.grad()).all().item<bool>());
  }
  EXPECT_GT(terms.velocity, 0.0);
  // The speed-only cell enters the velocity term: without it the term changes.
  inversion::InversionObservations no_speed = o;
  no_speed.speed.clear();
  inversion::Inversion without(glacier(0.7), no_speed, options);
  EXPECT_NE(without.evaluate(forward, false).velocity, terms.velocity);
}

TEST(Inversion, HybridCheckRetrainsTheEmulatorTowardsTheSolver) {
  tight_solves();
  const core::BPPatch first = glacier(0.8);
  emulator::Emulator model = reference_model(first);
  model::HybridOptions hybrid;
  hybrid.every = 5;
  hybrid.steps = 30;
  hybrid.learning_rate = 1e-3;
  model::HybridForward forward(model, first, true, true, hybrid);
  const emulator::TorchBPPatch p = emulator::make_torch_bp_patch(first);
  EXPECT_EQ(forward.before_iteration(3, p), ""); // not due
  const std::string note = forward.before_iteration(0, p);
  ASSERT_EQ(forward.checks().size(), 1u) << note;
  const auto& check = forward.checks().front();
  std::printf("hybrid check: %s\n", note.c_str());
  EXPECT_GT(check.before, 0.01);
  EXPECT_LT(check.after, 0.7 * check.before);
}

TEST(Inversion, BadOptionsAndObservationsAreErrorsNamingTheKey) {
  const core::BPPatch first = glacier(0.7);
  inversion::InversionObservations o;
  o.surface.assign(size_t(nx * ny), 1000.0);
  const auto message = [&](const inversion::InversionOptions& options,
                           const inversion::InversionObservations& obs) -> std::string {
    try {
      inversion::Inversion inv(first, obs, options);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  inversion::InversionOptions options;
  options.controls = {"thickness", "softness"};
  EXPECT_NE(message(options, o).find("inversion.controls: unknown control 'softness'"),
            std::string::npos);
  options = {};
  options.radar_sigma = -5;
  EXPECT_NE(message(options, o).find("inversion.radar_sigma"), std::string::npos);
  options = {};
  options.thickness_min = 5; // below H_min = 10 m
  EXPECT_NE(message(options, o).find("inversion.thickness_min"), std::string::npos);
  options = {};
  inversion::InversionObservations wrong = o;
  wrong.radar.assign(7, 100.0);
  EXPECT_NE(message(options, wrong).find("radar thickness has 7 values"), std::string::npos);
  wrong = o;
  wrong.u.assign(size_t(nx * ny), 1.0);
  EXPECT_NE(message(options, wrong).find("both components"), std::string::npos);
  EXPECT_EQ(message(options, o), "");
}

// The velocity's error model and the correction's smoothness, against sums
// done by hand: a modelled velocity that is the observation plus e_c in x
// costs 1/2 mean (e_c^2 / (sigma_u^2 + (r_u |u_obs|)^2)) over the observed
// cells; observations within margin_distance of the outline leave the mean;
// the smoothness of H - H_first is 0 at the first guess, that of H is not.
TEST(Inversion, VelocityErrorModelMarginAndSmoothCorrectionAreAsDefined) {
  const core::BPPatch truth = glacier();
  const size_t n = size_t(nx * ny);
  std::vector<double> u_obs(n * nz * 2, 0.0);
  for (size_t c = 0; c < n; ++c)
    if (truth.thickness[c] > 0)
      for (int k = 0; k < nz; ++k) {
        u_obs[(c * nz + size_t(k)) * 2] = 40.0 + 2.0 * double(c % 7);
        u_obs[(c * nz + size_t(k)) * 2 + 1] = -5.0;
      }
  const inversion::InversionObservations o = observe(truth, u_obs, -1);
  // The model: the observation plus 1 to 5 m/a in x, depending on the column.
  const auto offset = [](size_t c) { return 1.0 + double(c % 5); };
  std::vector<double> shifted = u_obs;
  for (size_t q = 0; q < shifted.size(); q += 2) shifted[q] += offset(q / 2 / size_t(nz));
  const torch::Tensor velocity = torch::tensor(shifted, torch::kFloat64).view({ny, nx, nz, 2});
  // Every ice cell's surface node is free here (the outline is inside the domain).
  const auto expected = [&](double sigma, double r, double margin) {
    double sum = 0;
    int cells = 0;
    for (int j = 0; j < ny; ++j)
      for (int i = 0; i < nx; ++i) {
        const size_t c = size_t(j * nx + i);
        if (!(truth.thickness[c] > 0)) continue;
        bool near = false;
        const int reach = int(std::floor(margin / dx));
        for (int jj = j - reach; jj <= j + reach; ++jj)
          for (int ii = i - reach; ii <= i + reach; ++ii) {
            if ((ii - i) * (ii - i) + (jj - j) * (jj - j) > reach * reach) continue;
            near = near || jj < 0 || jj >= ny || ii < 0 || ii >= nx ||
                   !(truth.thickness[size_t(jj * nx + ii)] > 0);
          }
        if (margin > 0 && near) continue;
        const double speed = std::hypot(o.u[c], o.v[c]);
        sum += offset(c) * offset(c) / (sigma * sigma + r * r * speed * speed);
        ++cells;
      }
    return 0.5 * sum / cells;
  };
  inversion::InversionOptions options = quiet_options();
  options.velocity_sigma = 2.0;
  for (const auto& [r, margin] : {std::pair{0.0, 0.0}, {0.25, 0.0}, {0.0, 1000.0}, {0.5, 1000.0}}) {
    options.velocity_relative_sigma = r;
    options.velocity_margin_distance = margin;
    inversion::Inversion inv(truth, o, options);
    inversion::CostTerms terms;
    inv.cost(velocity, &terms);
    EXPECT_NEAR(terms.velocity, expected(2.0, r, margin), 1e-12 * expected(2.0, r, margin))
        << "relative_sigma " << r << ", margin_distance " << margin;
  }
  // The cases differ: the relative error lowers the cost, the margin changes the cells.
  EXPECT_LT(expected(2.0, 0.25, 0.0), 0.5 * expected(2.0, 0.0, 0.0));
  EXPECT_GT(std::abs(expected(2.0, 0.0, 1000.0) - expected(2.0, 0.0, 0.0)), 1e-5);

  options.velocity_relative_sigma = options.velocity_margin_distance = 0;
  options.thickness_smoothing = 1.0;
  inversion::CostTerms plain, correction;
  inversion::Inversion smooth_h(truth, o, options);
  smooth_h.cost(velocity, &plain);
  options.smooth_correction = true;
  inversion::Inversion smooth_d(truth, o, options);
  smooth_d.cost(velocity, &correction);
  EXPECT_GT(plain.thickness_smoothness, 1e-3);
  EXPECT_LT(correction.thickness_smoothness, 1e-20); // round-off of H = scale theta_H
  EXPECT_EQ(correction.velocity, plain.velocity);
}
