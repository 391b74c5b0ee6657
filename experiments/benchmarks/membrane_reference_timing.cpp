// The emulator's glen membrane reference (emulator/membrane_reference.hpp):
// its conjugate gradients preconditioned by the diagonal (Jacobi) against
// the geometric multigrid V-cycle, in one run, on ISMIP-HOM A (L = 10 km, no
// slip; 32, 64 and 128 columns square, 9 levels) and on the geometries of
// data sets or Blatter-Pattyn fixtures named on the command line. Per
// geometry and preconditioner: Picard iterations, conjugate-gradient
// iterations (all solves), the wall time of the reference (one thread,
// median of R), the wall time of its derivative (the backward pass of a
// velocity functional: one more solve), and the largest difference from
// Jacobi's answer relative to the largest speed. Preconditioners: jacobi,
// multigrid (the V-cycle from the first solve) and auto (the default:
// Jacobi, then multigrid once a solve takes 200 iterations).
//
//   membrane_reference_timing [--first K] [--repetitions R] [--threads T] [--no-ismip]
//                             [--viscosity glen|glen_gauss] [FILE.nc ...]
//
// --first K: the first K samples of each data set (default 3); --threads T:
// LibTorch's threads (default 1); --no-ismip: the files' geometries only;
// --viscosity: the reference (default glen; glen_gauss takes the no-slip
// elements' shear at their Gauss points).

#include "ismip_a_patch.hpp"
#include "nunatak/emulator/bp_energy.hpp"
#include "nunatak/emulator/membrane_reference.hpp"
#include "nunatak/io/emulator_dataset.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

using namespace nunatak;

namespace {

struct Timing {
  emulator::MembraneReport report;
  double forward_ms = 0, backward_ms = 0;
  torch::Tensor ubar;
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// The reference `viscosity` of `patch` with `preconditioner`: the median
/// wall time of `repetitions` solves, and of the backward pass of
/// sum(|ubar|^2) with respect to the thickness.
Timing time_reference(const core::BPPatch& patch, const std::string& viscosity,
                      const std::string& preconditioner, int repetitions) {
  emulator::MembraneOptions o;
  o.viscosity = viscosity;
  o.preconditioner = preconditioner;
  Timing out;
  std::vector<double> forward, backward;
  for (int r = 0; r < repetitions; ++r) {
    emulator::TorchBPPatch p = emulator::make_torch_bp_patch(patch);
    auto start = std::chrono::steady_clock::now();
    {
      const torch::NoGradGuard no_grad;
      out.ubar = emulator::membrane_velocity(p, o, &out.report);
    }
    forward.push_back(seconds_since(start));
    p.thickness.requires_grad_(true);
    const torch::Tensor u = emulator::membrane_velocity(p, o);
    const torch::Tensor j = (u * u).sum();
    start = std::chrono::steady_clock::now();
    j.backward();
    backward.push_back(seconds_since(start));
  }
  std::sort(forward.begin(), forward.end());
  std::sort(backward.begin(), backward.end());
  out.forward_ms = 1e3 * forward[forward.size() / 2];
  out.backward_ms = 1e3 * backward[backward.size() / 2];
  return out;
}

void compare(const std::string& name, const core::BPPatch& patch, const std::string& viscosity,
             int repetitions) {
  char grid[32];
  std::snprintf(grid, sizeof grid, "%dx%dx%d", patch.xm, patch.ym, patch.nz);
  Timing jacobi;
  for (const std::string preconditioner : {"jacobi", "multigrid", "auto"}) {
    const Timing t = time_reference(patch, viscosity, preconditioner, repetitions);
    if (preconditioner == "jacobi") jacobi = t;
    const double scale = jacobi.ubar.abs().max().item<double>();
    const double difference =
        scale > 0 ? (t.ubar - jacobi.ubar).abs().max().item<double>() / scale : 0.0;
    std::printf("%-22s %-11s %-10s %7d %6d %7d %10.1f %10.1f %8.1f %8.1f %9.1e\n", name.c_str(),
                grid, preconditioner.c_str(), t.report.picard, t.report.iterations,
                t.report.multigrid_builds, t.forward_ms, t.backward_ms,
                jacobi.forward_ms / t.forward_ms, jacobi.backward_ms / t.backward_ms, difference);
    std::fflush(stdout);
  }
}

} // namespace

int main(int argc, char** argv) {
  int first = 3, repetitions = 3, threads = 1;
  bool ismip = true;
  std::string viscosity = "glen";
  std::vector<std::string> files;
  for (int a = 1; a < argc; ++a) {
    const std::string arg = argv[a];
    if ((arg == "--first" || arg == "--repetitions" || arg == "--threads") && a + 1 < argc)
      (arg == "--first"     ? first
       : arg == "--threads" ? threads
                            : repetitions) = std::max(1, std::atoi(argv[++a]));
    else if (arg == "--no-ismip")
      ismip = false;
    else if (arg == "--viscosity" && a + 1 < argc)
      viscosity = argv[++a];
    else if (!arg.empty() && arg[0] != '-')
      files.push_back(arg);
    else {
      std::fprintf(stderr, "usage: membrane_reference_timing [--first K] [--repetitions R] "
                           "[--threads T] [--no-ismip] [--viscosity V] [FILE.nc ...]\n");
      return 2;
    }
  }
  torch::set_num_threads(threads);
  std::printf("%s membrane reference, %d thread(s), median of %d runs: Picard iterations, "
              "conjugate-gradient iterations, V-cycle hierarchies built, ms of the solve and of "
              "its derivative, both against Jacobi's, and the largest difference from Jacobi's "
              "answer relative to the largest speed\n",
              viscosity.c_str(), threads, repetitions);
  std::printf("%-22s %-11s %-10s %7s %6s %7s %10s %10s %8s %8s %9s\n", "geometry", "grid",
              "precond.", "Picard", "CG", "builds", "solve ms", "deriv. ms", "x solve", "x deriv.",
              "max diff");
  for (int n : {32, 64, 128})
    if (ismip) compare("ISMIP-HOM A 10 km", bench::ismip_a_patch(n, n, 9), viscosity, repetitions);
  try {
    for (const std::string& file : files) {
      const io::EmulatorDataset d = io::read_emulator_samples(file);
      const std::string base = file.substr(file.find_last_of('/') + 1);
      for (size_t k = 0; k < d.samples.size() && int(k) < first; ++k)
        compare(base.substr(0, 16) + (d.samples.size() > 1 ? " #" + std::to_string(k) : ""),
                d.samples[k].patch, viscosity, repetitions);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "membrane_reference_timing: %s\n", e.what());
    return 1;
  }
  return 0;
}
