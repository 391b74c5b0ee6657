#pragma once
// The super-resolution network and the tensors it works on (private to
// superres/; see superres.hpp for the inputs and outputs).

#include "nunatak/superres/superres.hpp"

#include <torch/nn.h>

#include <mutex>

namespace nunatak::superres {

constexpr double thickness_scale = 1000.0; ///< H_s, m
constexpr double speed_reference = 10.0;   ///< u_0, m/a

/// conv3x3 - GELU - conv3x3, added to its input.
struct ResidualBlockImpl : torch::nn::Module {
  explicit ResidualBlockImpl(int width);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Conv2d a{nullptr}, b{nullptr};
};
TORCH_MODULE(ResidualBlock);

/// conv3x3 (inputs to width) - GELU - depth residual blocks - conv1x1 (to 2,
/// zero at the start).
struct SuperResNetImpl : torch::nn::Module {
  SuperResNetImpl(int inputs, int width, int depth);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Conv2d first{nullptr}, last{nullptr};
  torch::nn::ModuleList blocks;
};
TORCH_MODULE(SuperResNet);

/// The last static field's detail (the field minus the bicubic
/// interpolation of its coarse mean), kept so that the snapshots of one run,
/// which share their bed (and, without a ramp, their balance), compute it once.
struct DetailCache {
  std::vector<double> field, detail;
};

struct Model::Impl {
  SuperResNet net{nullptr};
  std::mutex cache_mutex; ///< predict is const and may be called from threads
  DetailCache bed, smb;
};

/// One snapshot's inputs: raw channels [1, C, ny, nx] (float) and the
/// bicubic baseline on the fine grid.
struct Inputs {
  torch::Tensor raw;
  std::vector<double> bicubic_thickness, bicubic_speed;
};

/// The inputs of `s`; with `bed_cache` and `smb_cache`, the details of
/// fields equal to the cached ones are taken from them (and the caches
/// updated otherwise).
Inputs make_inputs(const Metadata& m, const Snapshot& s, DetailCache* bed_cache = nullptr,
                   DetailCache* smb_cache = nullptr);
/// (raw - mean) / std per channel.
torch::Tensor normalise(const Metadata& m, const torch::Tensor& raw);
/// [1, 2, ny, nx]: H / H_s and log(1 + |u_s| / u_0) of the fine run.
torch::Tensor fine_targets(const Metadata& m, const Snapshot& s);
/// [B, 2, ny, nx] in the targets' units: the bicubic channels plus the
/// network's correction, kept >= 0.
torch::Tensor scaled_outputs(SuperResNet& net, const torch::Tensor& raw,
                             const torch::Tensor& normalised);
/// The thickness channel h [B, 1, ny, nx] scaled per block of factor^2 cells
/// to the volume of `coarse` [B, 1, nyc, nxc] (conserve_block_volume in torch).
torch::Tensor conserve_volume(const torch::Tensor& h, const torch::Tensor& coarse, int factor);

} // namespace nunatak::superres
