#pragma once
/// \file grid_ops.hpp
/// Small differentiable grid operations shared by the emulator's sources
/// (internal header): centred differences and neighbourhood means over the ice.

#include <torch/nn/functional/pooling.h>
#include <torch/types.h>

namespace nunatak::emulator::detail {

/// Centred differences of f along `dim` (one-sided at the ends) divided by `h`.
inline torch::Tensor centred_difference(const torch::Tensor& f, int64_t dim, double h) {
  const int64_t n = f.size(dim);
  if (n < 2) return torch::zeros_like(f);
  const auto first = f.narrow(dim, 1, 1) - f.narrow(dim, 0, 1);
  const auto last = f.narrow(dim, n - 1, 1) - f.narrow(dim, n - 2, 1);
  if (n == 2) return torch::cat({first, last}, dim) / h;
  const auto inner = (f.narrow(dim, 2, n - 2) - f.narrow(dim, 0, n - 2)) / 2.0;
  return torch::cat({first, inner, last}, dim) / h;
}

/// The mean of f ([C, ny, nx] or [ny, nx]) over the icy columns (icy [ny, nx],
/// 0 or 1) of each column's 5 x 5 neighbourhood; 0 where none is icy.
inline torch::Tensor icy_mean_5x5(const torch::Tensor& f, const torch::Tensor& icy) {
  namespace F = torch::nn::functional;
  const auto pool = F::AvgPool2dFuncOptions(5).stride(1).padding(2).count_include_pad(false);
  const bool plane = f.dim() == 2;
  const torch::Tensor x = plane ? f.unsqueeze(0) : f; // [C, ny, nx]
  const torch::Tensor sum = F::avg_pool2d((x * icy).unsqueeze(0), pool).squeeze(0);
  const torch::Tensor count = F::avg_pool2d(icy.unsqueeze(0).unsqueeze(0), pool).squeeze(0);
  const torch::Tensor mean = sum / torch::clamp_min(count, 1e-12);
  return plane ? mean.squeeze(0) : mean;
}

} // namespace nunatak::emulator::detail
