// Timing of the LibTorch Blatter-Pattyn energy and its velocity gradient on a
// synthetic ice cap with a marine front and sliding (a benchmark, not a test):
//   bp_energy_timing [nx ny nz [repetitions]]
// prints the mean wall time of one energy + gradient evaluation in double and
// single precision on the CPU (and on CUDA when LibTorch has it) and, in a
// build with the solvers, the same evaluation by the solver's Kokkos element
// loops (solver::BPProblem) on the same patch, with the ratio torch / solver,
// and by the refinement's hand-written CPU loops (bp_energy_cpu.hpp); then
// one Hessian-vector product as the refinement makes it: set up at one
// velocity and applied to many directions, by double back-propagation in
// double and single precision and by the CPU loops, with the set-up times.
#include "bp_energy_cpu.hpp"
#include "nunatak/emulator/bp_energy.hpp"
#ifdef NUNATAK_WITH_SOLVER
#include "nunatak/core/runtime.hpp"
#include "nunatak/solver/bp_problem.hpp"
#endif

#include <ATen/Parallel.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/cuda.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>

namespace {

using nunatak::core::BPPatch;
namespace emu = nunatak::emulator;

/// A dome on a bed that dips below sea level on the east side.
BPPatch ice_cap(int nx, int ny, int nz) {
  const double dx = 2000.0, dy = 2000.0;
  const size_t columns = size_t(nx) * size_t(ny);
  std::vector<double> sigma(static_cast<size_t>(nz)), H(columns), b(columns), beta2(columns),
      B(columns * size_t(nz), 2.0e5);
  for (int k = 0; k < nz; ++k) sigma[size_t(k)] = double(k) / (nz - 1);
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) {
      const double x = double(i) / (nx - 1), y = double(j) / (ny - 1);
      const double r2 = (x - 0.45) * (x - 0.45) + (y - 0.5) * (y - 0.5);
      const size_t c = size_t(j * nx + i);
      H[c] = std::max(0.0, 1500.0 * (1.0 - r2 / 0.2));
      b[c] = 300.0 - 900.0 * x;
      beta2[c] = 1.0e3 * (1.0 + 0.5 * std::sin(6.0 * x) * std::cos(5.0 * y));
    }
  nunatak::core::BPConstants constants;
  return nunatak::core::make_bp_patch(nx, ny, dx, dy, sigma, H, b, beta2, B, constants);
}

double seconds_per_evaluation(const BPPatch& patch, torch::Dtype dtype, torch::Device device,
                              int repetitions) {
  const auto p = emu::make_torch_bp_patch(patch, dtype, device);
  const auto u = 50.0 * torch::ones({p.ny, p.nx, p.nz, 2}, p.options());
  emu::bp_energy_gradient(p, u); // warm-up
  if (device.is_cuda()) torch::cuda::synchronize();
  const auto start = std::chrono::steady_clock::now();
  for (int r = 0; r < repetitions; ++r) emu::bp_energy_gradient(p, u);
  if (device.is_cuda()) torch::cuda::synchronize();
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  return elapsed.count() / repetitions;
}

#ifdef NUNATAK_WITH_SOLVER
/// The solver's energy + gradient (Kokkos element loops on the host), seconds per evaluation.
double solver_seconds_per_evaluation(const BPPatch& patch, int repetitions) {
  const nunatak::solver::BPProblem problem(patch);
  const std::vector<double> u(patch.size(), 50.0);
  std::vector<double> g(patch.size());
  double sink = problem.energy(u.data());
  problem.gradient(u.data(), g.data()); // warm-up
  const auto start = std::chrono::steady_clock::now();
  for (int r = 0; r < repetitions; ++r) {
    sink += problem.energy(u.data());
    problem.gradient(u.data(), g.data());
  }
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  if (sink == 0.125) std::printf(" "); // keep the work
  return elapsed.count() / repetitions;
}
#endif

/// Seconds of `work`, the mean over `repetitions` after one warm-up call.
template <class F>
double seconds_per_call(F&& work, int repetitions) {
  work();
  const auto start = std::chrono::steady_clock::now();
  for (int r = 0; r < repetitions; ++r) work();
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  return elapsed.count() / repetitions;
}

/// Set-up and product times (s) of the Hessian by double back-propagation
/// at `dtype`: the graph of the gradient, then one product per direction.
std::pair<double, double> autograd_hessian_seconds(const BPPatch& patch, torch::Dtype dtype,
                                                   int repetitions) {
  const auto p = emu::make_torch_bp_patch(patch, dtype);
  const auto u0 = 50.0 * torch::ones({p.ny, p.nx, p.nz, 2}, p.options());
  const auto d = torch::sin(torch::arange(double(u0.numel()), p.options())).view(u0.sizes());
  torch::Tensor x, g;
  const double setup = seconds_per_call(
      [&] {
        x = u0.detach().requires_grad_(true);
        g = torch::autograd::grad({emu::bp_energy(p, x)}, {x}, {}, true, true)[0];
      },
      repetitions);
  const double product = seconds_per_call(
      [&] { (void)torch::autograd::grad({(g * d).sum()}, {x}, {}, true)[0]; }, repetitions);
  return {setup, product};
}

/// Set-up and product times (s) of the hand-written CPU Hessian (double).
std::pair<double, double> loop_hessian_seconds(const BPPatch& patch, int repetitions) {
  const auto p = emu::make_torch_bp_patch(patch);
  const emu::detail::BPEnergyCpu energy(p);
  const auto u0 = 50.0 * torch::ones({p.ny, p.nx, p.nz, 2}, p.options());
  const auto d = torch::sin(torch::arange(double(u0.numel()), p.options())).view(u0.sizes());
  std::unique_ptr<emu::detail::BPEnergyHessianCpu> hessian;
  const double setup = seconds_per_call(
      [&] { hessian = std::make_unique<emu::detail::BPEnergyHessianCpu>(energy.hessian(u0)); },
      repetitions);
  const double product = seconds_per_call([&] { (void)(*hessian)(d); }, repetitions);
  return {setup, product};
}

/// The CPU loops' energy + gradient (double), seconds per evaluation.
double loop_seconds_per_evaluation(const BPPatch& patch, int repetitions) {
  const auto p = emu::make_torch_bp_patch(patch);
  const emu::detail::BPEnergyCpu energy(p);
  const auto u = 50.0 * torch::ones({p.ny, p.nx, p.nz, 2}, p.options());
  torch::Tensor gradient;
  return seconds_per_call([&] { (void)energy(u, &gradient); }, repetitions);
}

} // namespace

int main(int argc, char** argv) {
#ifdef NUNATAK_WITH_SOLVER
  nunatak::core::Runtime runtime;
#endif
  const int nx = argc > 3 ? std::atoi(argv[1]) : 64, ny = argc > 3 ? std::atoi(argv[2]) : 64,
            nz = argc > 3 ? std::atoi(argv[3]) : 17,
            repetitions = argc > 4 ? std::atoi(argv[4]) : 20;
  const BPPatch patch = ice_cap(nx, ny, nz);
  std::printf("bp energy + gradient, %d x %d x %d nodes, %d threads\n", nx, ny, nz,
              at::get_num_threads());
#ifdef NUNATAK_WITH_SOLVER
  const double solver = solver_seconds_per_evaluation(patch, repetitions);
  std::printf("  solver (Kokkos element loops, double): %.2f ms\n", 1e3 * solver);
#endif
  for (auto dtype : {torch::kFloat64, torch::kFloat32}) {
    const double cpu = seconds_per_evaluation(patch, dtype, torch::kCPU, repetitions);
    std::printf("  cpu  %s: %.2f ms", dtype == torch::kFloat64 ? "double" : "float ", 1e3 * cpu);
#ifdef NUNATAK_WITH_SOLVER
    std::printf("  (torch / solver %.2f)", cpu / solver);
#endif
    std::printf("\n");
    if (torch::cuda::is_available())
      std::printf("  cuda %s: %.3f ms\n", dtype == torch::kFloat64 ? "double" : "float ",
                  1e3 * seconds_per_evaluation(patch, dtype, torch::kCUDA, repetitions));
  }
  const double loops = loop_seconds_per_evaluation(patch, repetitions);
  std::printf("  cpu loops double: %.2f ms", 1e3 * loops);
#ifdef NUNATAK_WITH_SOLVER
  std::printf("  (loops / solver %.2f)", loops / solver);
#endif
  std::printf("\n");
  std::printf("bp energy Hessian-vector product (set-up once per velocity, then per product)\n");
  const auto hessian = loop_hessian_seconds(patch, repetitions);
  for (auto dtype : {torch::kFloat64, torch::kFloat32}) {
    const auto graph = autograd_hessian_seconds(patch, dtype, repetitions);
    std::printf("  autograd %s: set-up %.2f ms, product %.2f ms\n",
                dtype == torch::kFloat64 ? "double" : "float ", 1e3 * graph.first,
                1e3 * graph.second);
    if (dtype == torch::kFloat32)
      std::printf("  cpu loops double: set-up %.2f ms, product %.2f ms  (product: loops / autograd "
                  "float %.2f)\n",
                  1e3 * hessian.first, 1e3 * hessian.second, hessian.second / graph.second);
  }
  return 0;
}
