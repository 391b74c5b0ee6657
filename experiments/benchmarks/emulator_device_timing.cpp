// Timing of the emulator on the CPU and, where LibTorch has it, on CUDA (a
// benchmark, not a test; LibTorch and nunatak::core_base only, so it builds
// on a GPU machine without PETSc):
//   emulator_device_timing [repetitions] [MODEL.pt]
// For the grids of the shipped experiments (ISMIP-HOM A 64 x 64 x 17,
// Greenland 16 km 106 x 181 x 9, Aletsch 100 m 199 x 264 x 9) it prints the
// inference time of three networks (the shipped CNN 32 x 6, a U-Net 16/4 and
// an IGM-size CNN 32 x 16), single precision, per device. Then one training
// step (forward, hybrid loss = data + physics, backward, Adam) on the data
// set's patch sizes (48 x 48 x 9 and 128 x 128 x 9): samples per second.
// Inference and training time do not depend on the weights, so the networks
// are untrained; the geometry is a synthetic glacier at the grid's size.
// With MODEL.pt (e.g. the shipped experiments/emulator/cnn_gauss_data.pt), the
// inference of that model too, on the grids with its number of levels: with
// the membrane output scaling this includes the membrane reference (Picard
// iterations of preconditioned conjugate gradients), most of its cost.
#include "nunatak/core/synthetic_glacier.hpp"
#include "nunatak/emulator/network.hpp"
#include "nunatak/emulator/trainer.hpp"

#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/optim/adam.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

namespace emu = nunatak::emulator;
namespace core = nunatak::core;

/// A synthetic glacier of nx x ny columns and nz levels.
core::BPPatch glacier(int nx, int ny, int nz, std::uint64_t seed) {
  core::SyntheticGlacierParams params;
  params.nx_min = params.nx_max = nx;
  params.ny_min = params.ny_max = ny;
  const core::SyntheticGlacier g = core::make_synthetic_glacier(params, seed);
  std::vector<double> sigma(static_cast<size_t>(nz));
  for (int k = 0; k < nz; ++k) sigma[size_t(k)] = double(k) / (nz - 1);
  const std::vector<double> B(size_t(nx) * size_t(ny) * size_t(nz), 2.0e5);
  core::BPConstants constants;
  return core::make_bp_patch(g.nx, g.ny, g.dx, g.dy, sigma, g.thk, g.topg, g.beta2, B, constants);
}

void synchronize(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize();
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

emu::Emulator network(const emu::TorchBPPatch& p, const std::string& architecture, int width,
                      int depth) {
  emu::EmulatorMetadata m = emu::emulator_metadata_for(p, architecture, width, depth);
  m.output_scaling = "log_speed";
  m.velocity_scale = 1.0;
  emu::Emulator model(m, 1);
  model.to(p.options());
  return model;
}

/// Seconds per inference (velocity of one grid, no gradients).
double inference_seconds(const core::BPPatch& patch, const std::string& architecture, int width,
                         int depth, const torch::Device& device, int repetitions) {
  const emu::TorchBPPatch p = emu::make_torch_bp_patch(patch, torch::kFloat32, device);
  emu::Emulator model = network(p, architecture, width, depth);
  const torch::NoGradGuard no_grad;
  model.velocity(p); // warm-up (CUDA kernels, allocator)
  synchronize(device);
  const auto start = std::chrono::steady_clock::now();
  for (int r = 0; r < repetitions; ++r) model.velocity(p);
  synchronize(device);
  return seconds_since(start) / repetitions;
}

/// Seconds per inference of a trained model read from `path`, moved to
/// `device` in single precision.
double model_inference_seconds(const core::BPPatch& patch, const std::string& path,
                               const torch::Device& device, int repetitions) {
  const emu::TorchBPPatch p = emu::make_torch_bp_patch(patch, torch::kFloat32, device);
  emu::Emulator model = emu::Emulator::load(path);
  model.to(p.options());
  const torch::NoGradGuard no_grad;
  model.velocity(p); // warm-up
  synchronize(device);
  const auto start = std::chrono::steady_clock::now();
  for (int r = 0; r < repetitions; ++r) model.velocity(p);
  synchronize(device);
  return seconds_since(start) / repetitions;
}

/// Training samples per second: hybrid steps (data + physics, balanced) with
/// Adam on `patch`, its shallow-ice velocity standing in for the solution.
double training_samples_per_second(const core::BPPatch& patch, const torch::Device& device,
                                   int repetitions) {
  emu::TrainingSample sample;
  sample.patch = emu::make_torch_bp_patch(patch, torch::kFloat32, device);
  sample.solution = emu::shallow_ice_velocity(sample.patch).detach();
  emu::Emulator model = network(sample.patch, "cnn", 32, 6);
  torch::optim::Adam adam(model.net()->parameters(), torch::optim::AdamOptions(1e-4));
  emu::StepMode mode;
  mode.loss = "hybrid";
  emu::LossBalance balance;
  const auto step = [&] {
    adam.zero_grad();
    emu::accumulate_gradients(model, {&sample}, mode, balance);
    adam.step();
  };
  step(); // warm-up
  synchronize(device);
  const auto start = std::chrono::steady_clock::now();
  for (int r = 0; r < repetitions; ++r) step();
  synchronize(device);
  return repetitions / seconds_since(start);
}

} // namespace

int main(int argc, char** argv) {
  const int repetitions = argc > 1 ? std::max(1, std::atoi(argv[1])) : 10;
  std::vector<torch::Device> devices = {torch::kCPU};
  if (torch::cuda::is_available()) devices.emplace_back(torch::kCUDA);
  std::printf("emulator timing: %d CPU threads, CUDA %s, %d repetitions\n", at::get_num_threads(),
              torch::cuda::is_available() ? "available" : "not available", repetitions);
  struct Grid {
    const char* name;
    int nx, ny, nz;
  };
  const Grid grids[] = {{"ISMIP-HOM A", 64, 64, 17},
                        {"Greenland 16 km", 106, 181, 9},
                        {"Aletsch 100 m", 199, 264, 9}};
  struct Net {
    const char* architecture;
    int width, depth;
  };
  const Net nets[] = {{"cnn", 32, 6}, {"unet", 16, 4}, {"cnn", 32, 16}};
  std::printf("\ninference, single precision (ms per grid)\n");
  std::printf("| grid | network | %s |\n", devices.size() > 1 ? "cpu | cuda | cpu / cuda" : "cpu");
  for (const Grid& g : grids) {
    const core::BPPatch patch = glacier(g.nx, g.ny, g.nz, 7);
    for (const Net& n : nets) {
      std::vector<double> ms;
      for (const auto& d : devices)
        ms.push_back(1e3 *
                     inference_seconds(patch, n.architecture, n.width, n.depth, d, repetitions));
      std::printf("| %s %dx%dx%d | %s %d/%d | %.2f", g.name, g.nx, g.ny, g.nz, n.architecture,
                  n.width, n.depth, ms[0]);
      if (ms.size() > 1) std::printf(" | %.3f | %.0f", ms[1], ms[0] / ms[1]);
      std::printf(" |\n");
    }
  }
  if (argc > 2) {
    const std::string path = argv[2];
    const int levels = int(emu::Emulator::load(path).metadata().sigma.size());
    std::printf("\ninference of %s (%d levels), single precision (ms per grid)\n", path.c_str(),
                levels);
    for (const Grid& g : grids) {
      const core::BPPatch patch = glacier(g.nx, g.ny, levels, 7);
      std::printf("| %s %dx%dx%d |", g.name, g.nx, g.ny, levels);
      std::vector<double> ms;
      for (const auto& d : devices)
        ms.push_back(1e3 * model_inference_seconds(patch, path, d, repetitions));
      std::printf(" %.2f", ms[0]);
      if (ms.size() > 1) std::printf(" | %.3f | %.1f", ms[1], ms[0] / ms[1]);
      std::printf(" |\n");
    }
  }
  std::printf("\ntraining step (CNN 32x6, hybrid loss, Adam, single precision): samples/s\n");
  for (int cells : {48, 128}) {
    const core::BPPatch patch = glacier(cells, cells, 9, 11);
    std::printf("| %dx%dx9 |", cells, cells);
    for (const auto& d : devices)
      std::printf(" %s %.1f |", d.is_cuda() ? "cuda" : "cpu",
                  training_samples_per_second(patch, d, repetitions));
    std::printf("\n");
  }
  return 0;
}
