#pragma once
/// \file cg_iterations.hpp
/// Conjugate gradients that count their iterations, for the multigrid
/// tests (tests/test_stencil_multigrid.cpp, test_periodic_multigrid.cpp).

#include <torch/torch.h>

#include <functional>

namespace nunatak::test {

/// The iterations that conjugate gradients with operator A and
/// preconditioner M (maps of fields [1, 2, N]) take for A x = b, from 0, to
/// a residual of 1e-8 of b's norm; 5000 if they do not get there.
inline int cg_iterations(const std::function<torch::Tensor(const torch::Tensor&)>& A,
                         const std::function<torch::Tensor(const torch::Tensor&)>& M,
                         const torch::Tensor& b) {
  torch::Tensor x = torch::zeros_like(b), r = b.clone(), z = M(r), p = z.clone();
  double rz = (r * z).sum().item<double>();
  const double start = b.norm().item<double>();
  for (int it = 1; it <= 5000; ++it) {
    const torch::Tensor Ap = A(p);
    const double alpha = rz / (p * Ap).sum().item<double>();
    x = x + alpha * p;
    r = r - alpha * Ap;
    if (r.norm().item<double>() <= 1e-8 * start) return it;
    z = M(r);
    const double rz_new = (r * z).sum().item<double>();
    p = z + (rz_new / rz) * p;
    rz = rz_new;
  }
  return 5000;
}

} // namespace nunatak::test
