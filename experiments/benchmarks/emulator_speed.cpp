// Speed of the emulator against the Blatter-Pattyn solver on ISMIP-HOM A
// (L = 10 km), in one run: the solver's set-up and solve (nunatak ismip-hom,
// one rank) and the inference of an IGM-size CNN (16 layers x 32 channels),
// of a U-Net (width 32, 4 levels) and of the shipped configuration (CNN 6 x
// 32 correcting the glen membrane reference, whose Picard iterations and
// conjugate-gradient solves are timed with it) on the same nodes, on 1 and
// 2 threads, in double and single precision, with the ratio. Inference time
// does not depend on the weights (the reference's cost depends on the
// geometry only), so the networks are untrained here; accuracy is measured
// elsewhere (docs/emulator.md).
//
//   emulator_speed [NX NY NZ ...]   (default: 32 32 9  64 64 17)

#include "ismip_a_patch.hpp"
#include "nunatak/core/bp_patch.hpp"
#include "nunatak/core/machine.hpp"
#include "nunatak/core/runtime.hpp"
#include "nunatak/emulator/network.hpp"
#include "nunatak/model/ismip_hom.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

using namespace nunatak;

namespace {

/// Median wall time (s) of `repetitions` inferences after two warm-up ones.
double inference_seconds(emulator::Emulator& model, const emulator::TorchBPPatch& p,
                         int repetitions) {
  const torch::NoGradGuard no_grad;
  for (int w = 0; w < 2; ++w) model.velocity(p);
  std::vector<double> t;
  for (int r = 0; r < repetitions; ++r) {
    const auto start = std::chrono::steady_clock::now();
    const torch::Tensor u = model.velocity(p);
    (void)u.sum().item<double>();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

} // namespace

int main(int argc, char** argv) {
  core::Runtime runtime(MPI_COMM_WORLD, {});
  std::vector<int> sizes;
  for (int a = 1; a < argc; ++a) sizes.push_back(std::atoi(argv[a]));
  if (sizes.empty()) sizes = {32, 32, 9, 64, 64, 17};
  if (sizes.size() % 3 != 0) {
    std::fprintf(stderr, "usage: emulator_speed [NX NY NZ ...]\n");
    return 2;
  }
  // LibTorch's convolutions are matrix products: the BLAS sets their speed.
  std::printf("BLAS: %s\n", core::blas_library().c_str());
  std::printf("%-12s %10s | %-22s %-7s %10s %10s %10s %10s\n", "grid", "BP (s)", "network", "type",
              "1 thr (ms)", "2 thr (ms)", "BP/1 thr", "BP/2 thr");
  for (size_t c = 0; c < sizes.size(); c += 3) {
    const int nx = sizes[c], ny = sizes[c + 1], nz = sizes[c + 2];
    model::IsmipHomCase ismip;
    ismip.experiment = 'A';
    ismip.nx = nx;
    ismip.ny = ny;
    ismip.nz = nz;
    const double bp = model::run_ismip_hom(ismip, runtime.comm()).wall_seconds;
    const core::BPPatch patch = bench::ismip_a_patch(nx, ny, nz);
    struct Net {
      const char* name;
      const char* arch;
      int width, depth;
      bool glen_reference;
    };
    for (const Net net : {Net{"cnn 16 x 32 (IGM)", "cnn", 32, 16, false},
                          Net{"unet 32, 4 levels", "unet", 32, 4, false},
                          Net{"cnn 6 x 32, glen ref.", "cnn", 32, 6, true}})
      for (const auto dtype : {torch::kFloat64, torch::kFloat32}) {
        const emulator::TorchBPPatch p = emulator::make_torch_bp_patch(patch, dtype);
        emulator::EmulatorMetadata meta =
            emulator::emulator_metadata_for(p, net.arch, net.width, net.depth);
        if (net.glen_reference) {
          meta.output_scaling = "membrane";
          meta.membrane_viscosity = "glen";
        }
        emulator::Emulator model(meta, 1);
        model.to(p.options());
        double ms[2];
        for (int threads : {1, 2}) {
          torch::set_num_threads(threads);
          ms[threads - 1] = inference_seconds(model, p, 10) * 1e3;
        }
        char grid[32];
        std::snprintf(grid, sizeof grid, "%dx%dx%d", nx, ny, nz);
        std::printf("%-12s %10.3f | %-22s %-7s %10.2f %10.2f %10.0f %10.0f\n", grid, bp, net.name,
                    dtype == torch::kFloat64 ? "double" : "float", ms[0], ms[1], bp * 1e3 / ms[0],
                    bp * 1e3 / ms[1]);
      }
  }
  return 0;
}
