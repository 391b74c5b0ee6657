// The refinement's derivatives (emulator/refinement.hpp,
// DifferentiableRefinement): on a bumpy glacier with a sliding patch, the
// gradient of J = sum w . u_surface with respect to the thickness, the bed
// and the friction, by the adjoint of the energy's minimiser, equals
// central differences of the refined velocity (refine_velocity to
// convergence); it does not depend on the velocity the refinement starts
// from; a backward pass after a later call is refused; and a call starts
// from the last call's refined velocity where that is nearer the balance.
#include "bumpy_glacier.hpp"
#include "nunatak/core/error.hpp"
#include "nunatak/emulator/refinement.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <utility>
#include <vector>

using namespace nunatak;
using namespace nunatak::emulator;

namespace {

constexpr int nx = test::bumpy_nx, ny = test::bumpy_ny, nz = 4;
constexpr int converged_steps = 14; // Newton steps: to round-off on this glacier

core::BPPatch bumpy_glacier() {
  return test::bumpy_glacier(nz);
}

MembraneOptions glen() {
  MembraneOptions o;
  o.viscosity = "glen";
  return o;
}

/// Weights of the surface velocity in J.
torch::Tensor surface_weights() {
  return torch::sin(torch::arange(double(nx * ny * 2), torch::kFloat64)).view({ny, nx, 2});
}

double cost(const torch::Tensor& u) {
  return (u.select(2, nz - 1) * surface_weights()).sum().item<double>();
}

/// J of the refined velocity of `p`, from its membrane reference.
double refined_cost(TorchBPPatch p) {
  cache_membrane(p, glen());
  const torch::Tensor start = membrane_velocity_3d(p, glen());
  return cost(
      refine_velocity(p, start, glen(), converged_steps, 1.0, nullptr, RefineMethod::newton));
}

} // namespace

TEST(Refinement, AdjointGradientMatchesFiniteDifferences) {
  const core::BPPatch base = bumpy_glacier();
  TorchBPPatch p = make_torch_bp_patch(base);
  p.thickness = p.thickness.clone().requires_grad_(true);
  p.bed = p.bed.clone().requires_grad_(true);
  p.beta2 = p.beta2.clone().requires_grad_(true);
  TorchBPPatch cached = p;
  {
    const torch::NoGradGuard no_grad;
    cache_membrane(cached, glen());
  }
  const torch::Tensor start = [&] {
    const torch::NoGradGuard no_grad;
    return membrane_velocity_3d(cached, glen());
  }();
  DifferentiableRefinement refine(glen(), converged_steps, RefineMethod::newton, 1e-10, 500);
  const torch::Tensor u = refine(cached, start);
  const torch::Tensor J = (u.select(2, nz - 1) * surface_weights()).sum();
  const auto grads = torch::autograd::grad({J}, {p.thickness, p.bed, p.beta2});
  std::printf("adjoint: %d Hessian products, residual %.2e\n", refine.last_adjoint().iterations,
              refine.last_adjoint().reduction);
  EXPECT_LT(refine.last_adjoint().reduction, 1e-8);
  const char* names[3] = {"thickness", "bed", "beta2"};
  for (int field = 0; field < 3; ++field) {
    double dot = 0, ad2 = 0, fd2 = 0, worst = 0;
    for (const auto& [j, i] : std::vector<std::pair<int, int>>{
             {2, 3}, {4, 6}, {6, 8}, {7, 2}, {3, 9}, {5, 4}, {1, 5}, {6, 5}}) {
      const size_t k = size_t(j * nx + i);
      const double value = field == 0   ? base.thickness[k]
                           : field == 1 ? base.bed[k]
                                        : base.beta2[k];
      const double h = field == 1 ? 0.3 : 1e-3 * value;
      double Jh[2];
      for (int side = 0; side < 2; ++side) {
        core::BPPatch q = base;
        (field == 0 ? q.thickness : field == 1 ? q.bed : q.beta2)[k] += side ? h : -h;
        Jh[side] = refined_cost(make_torch_bp_patch(q));
      }
      const double fd = (Jh[1] - Jh[0]) / (2 * h);
      const double ad = grads[size_t(field)][j][i].item<double>();
      std::printf("%s (%d, %d): adjoint %.6e, differences %.6e\n", names[field], j, i, ad, fd);
      dot += ad * fd;
      ad2 += ad * ad;
      fd2 += fd * fd;
      worst = std::max(worst, std::abs(ad - fd));
    }
    SCOPED_TRACE(names[field]);
    // Relative to the gradient's size over the columns sampled.
    EXPECT_LT(worst / std::sqrt(fd2 / 8), 2e-3);
    EXPECT_GT(dot / std::sqrt(ad2 * fd2), 0.99999);
  }
}

TEST(Refinement, GradientDoesNotDependOnTheStartAndOnlyTheLastCallDifferentiates) {
  TorchBPPatch p = make_torch_bp_patch(bumpy_glacier());
  p.thickness = p.thickness.clone().requires_grad_(true);
  {
    const torch::NoGradGuard no_grad;
    cache_membrane(p, glen());
  }
  const torch::Tensor reference = membrane_velocity_3d(p, glen()).detach();
  std::vector<torch::Tensor> gradients;
  for (const double factor : {1.0, 0.5, 2.0}) {
    DifferentiableRefinement refine(glen(), converged_steps, RefineMethod::newton, 1e-10, 500);
    const torch::Tensor J =
        (refine(p, factor * reference).select(2, nz - 1) * surface_weights()).sum();
    gradients.push_back(torch::autograd::grad({J}, {p.thickness})[0]);
  }
  for (int k = 1; k < 3; ++k)
    EXPECT_LT((gradients[size_t(k)] - gradients[0]).norm().item<double>(),
              1e-5 * gradients[0].norm().item<double>());
  // The second call's state replaces the first's.
  DifferentiableRefinement refine(glen(), 1, RefineMethod::newton);
  const torch::Tensor first = refine(p, reference).sum();
  const torch::Tensor second = refine(p, reference).sum();
  (void)second;
  EXPECT_THROW(torch::autograd::grad({first}, {p.thickness}), std::exception);
}

// One Newton step per call from a start twice too fast: the second call
// starts from the first's refined velocity (its energy is lower) and ends
// nearer the balance; a start nearer than that is taken as given.
TEST(Refinement, ACallStartsFromTheLastOneWhereItsEnergyIsLower) {
  TorchBPPatch p = make_torch_bp_patch(bumpy_glacier());
  cache_membrane(p, glen());
  const torch::Tensor reference = membrane_velocity_3d(p, glen()).detach();
  const torch::Tensor balance =
      refine_velocity(p, reference, glen(), converged_steps, 1.0, nullptr, RefineMethod::newton);
  const auto distance = [&](const torch::Tensor& u) {
    return ((u - balance).norm() / balance.norm()).item<double>();
  };
  DifferentiableRefinement refine(glen(), 1, RefineMethod::newton);
  const double once = distance(refine(p, 2 * reference));
  const double twice = distance(refine(p, 2 * reference));
  std::printf("from twice the reference: %.3f %% after one call, %.3f %% after two\n", 100 * once,
              100 * twice);
  EXPECT_EQ(refine.warm_starts(), 1);
  EXPECT_LT(twice, 0.5 * once);
  refine(p, balance);
  EXPECT_EQ(refine.warm_starts(), 1);
}

// The adjoint at its default tolerance (1e-2), a loose solve (coarse solves
// to 1e-2; off the CPU, Hessian products in single precision), against the
// tight one: the gradient agrees to the order of the tolerance (measured on
// the CPU, with the hand-written products in double: 0.84 % for thickness,
// 2.2 % for beta2; with single-precision products by autograd it was 0.8
// and 2.2 %), in a sixth of the products.
TEST(Refinement, DefaultLooseAdjointMatchesTheTightOne) {
  TorchBPPatch p = make_torch_bp_patch(bumpy_glacier());
  p.thickness = p.thickness.clone().requires_grad_(true);
  p.beta2 = p.beta2.clone().requires_grad_(true);
  {
    const torch::NoGradGuard no_grad;
    cache_membrane(p, glen());
  }
  const torch::Tensor reference = membrane_velocity_3d(p, glen()).detach();
  std::vector<std::vector<torch::Tensor>> gradients;
  std::vector<int> products;
  for (const double tolerance : {1e-10, 1e-2}) {
    DifferentiableRefinement refine(glen(), converged_steps, RefineMethod::newton, tolerance, 500);
    const torch::Tensor J = (refine(p, reference).select(2, nz - 1) * surface_weights()).sum();
    gradients.push_back(torch::autograd::grad({J}, {p.thickness, p.beta2}));
    products.push_back(refine.last_adjoint().iterations);
  }
  std::printf("Hessian products: %d (1e-10), %d (1e-2)\n", products[0], products[1]);
  EXPECT_LT(products[1], products[0] / 2);
  for (int field = 0; field < 2; ++field) {
    const torch::Tensor& tight = gradients[0][size_t(field)];
    const torch::Tensor& loose = gradients[1][size_t(field)];
    const double error = ((loose - tight).norm() / tight.norm()).item<double>();
    const double cosine = ((loose * tight).sum() / (loose.norm() * tight.norm())).item<double>();
    std::printf("%s: relative error %.2e, cosine %.8f\n", field ? "beta2" : "thickness", error,
                cosine);
    EXPECT_LT(error, 5e-2);
    EXPECT_GT(cosine, 0.9995);
  }
}
