#pragma once
/// \file inversion_forward.hpp
/// The inversion's forward models that need the Blatter-Pattyn solver
/// (inversion/inversion.hpp has the emulator's):
///
/// - SolverForward ("solver"): the velocity of a BP solve, with the exact
///   gradient of the discrete problem by its adjoint. With R(u, m) = dE/du
///   the solver's residual (the gradient of the shared energy E, m = the
///   thickness, ice base and beta^2) and K = dR/du its Hessian (symmetric),
///   a cost J(u(m), m) has
///       dJ/dm = dJ/dm|_u - (dR/dm)^T lambda,   K lambda = dJ/du,
///   where the last product is the derivative d/dm (lambda . R(u, m)) of the
///   torch energy's autograd gradient at the solver's solution (double
///   backward). Each call solves from the previous solution (warm start).
/// - HybridForward ("hybrid"): the emulator's velocity and gradients; every
///   K iterations a BP solve at the current state, whose difference from the
///   emulator is logged, and Adam steps on that sample (the emulator's hybrid
///   loss: data + balanced physics) plus an anchor to the pretrained weights,
///   mu sum |w - w0|^2 / sum |w0|^2, so that the network learns the geometry
///   being inverted without forgetting the rest.
///
/// Both keep the controls on one rank; their BP solves run there, or on every
/// rank of a SolverTeam when given one (solver_team.hpp).

#include "nunatak/inversion/inversion.hpp"
#include "nunatak/model/solver_team.hpp"

#include <memory>
#include <string>
#include <vector>

namespace nunatak::model {

/// The Blatter-Pattyn solver as a differentiable forward model (see the file comment).
class SolverForward final : public inversion::ForwardModel {
public:
  /// A solver for the problem of `patch` (its masks, hardness, constants and
  /// bed_fixed; thickness, base and beta^2 come with each call).
  /// `small_grid`: SampleSolver's choice of fallback (LU for small grids).
  /// `team`: the ranks its solves run on (null: this rank alone).
  SolverForward(const core::BPPatch& patch, bool ocean_pressure, bool small_grid,
                const std::string& options_prefix = "invert_", SolverTeam* team = nullptr);
  ~SolverForward() override;
  std::string name() const override { return "solver"; }
  torch::Tensor velocity(const emulator::TorchBPPatch& patch) override;

  /// BP solves and adjoint solves done, Newton iterations in all.
  int solves() const { return m_solves; }
  int adjoints() const { return m_adjoints; }
  int newton_iterations() const { return m_newton; }

  /// For the autograd function: a solve at (thickness, base, beta2), [y][x].
  /// Throws nunatak::Error if it does not converge; the next solve then
  /// starts from the last converged velocity.
  std::vector<double> solve(const std::vector<double>& thickness, const std::vector<double>& base,
                            const std::vector<double>& beta2);
  /// For the autograd function: (dR/dm)^T lambda for the state of a solve,
  /// where K lambda = `velocity_gradient` ([ny, nx, nz, 2]); returns the
  /// three gradients (thickness, base, beta2), [ny, nx] in double.
  std::vector<torch::Tensor> adjoint_gradient(const torch::Tensor& thickness,
                                              const torch::Tensor& base, const torch::Tensor& beta2,
                                              long long solve_index,
                                              const std::vector<double>& solution,
                                              const torch::Tensor& velocity_gradient);

private:
  core::BPPatch m_patch;
  emulator::TorchBPPatch m_torch; ///< double, CPU: the energy for the adjoint's products
  TeamSampleSolver m_solver;
  std::vector<double> m_last_solution; ///< of the last converged solve
  int m_solves = 0, m_adjoints = 0, m_newton = 0;
};

/// Options of the hybrid mode (keys inversion.hybrid.*).
struct HybridOptions {
  int every = 10;              ///< K: iterations between solver checks
  int steps = 20;              ///< Adam steps on each check's sample
  double learning_rate = 1e-3; ///< Adam's
  double anchor = 1.0;         ///< mu
};

/// Emulator steps, checked and retrained against BP solves (see the file comment).
class HybridForward final : public inversion::ForwardModel {
public:
  /// Keeps a reference to `model` (retrained in place), which must outlive
  /// this. `team`: the ranks its solver checks run on (null: this rank alone).
  HybridForward(emulator::Emulator& model, const core::BPPatch& patch, bool ocean_pressure,
                bool small_grid, const HybridOptions& options, SolverTeam* team = nullptr);
  ~HybridForward() override;
  std::string name() const override { return "hybrid"; }
  torch::Tensor velocity(const emulator::TorchBPPatch& patch) override;
  /// Every `every` iterations: the check and the retraining; says what they did.
  std::string before_iteration(int iteration, const emulator::TorchBPPatch& patch) override;
  /// Solver checks done, and the emulator's relative L2 surface-velocity
  /// difference from BP at each, before and after its retraining.
  struct Check {
    int iteration = 0;
    double before = 0, after = 0;
  };
  const std::vector<Check>& checks() const { return m_checks; }

private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
  std::vector<Check> m_checks;
};

/// The relative L2 difference of two column velocities' surface values over
/// the free columns of `patch`, sqrt(sum |a - b|^2 / sum |b|^2).
double surface_difference(const core::BPPatch& patch, const std::vector<double>& a,
                          const std::vector<double>& b);

} // namespace nunatak::model
