/// \file column_tie.cpp
/// The torus of a periodic patch and its folded stencil (column_tie.hpp).

#include "column_tie.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <vector>

namespace nunatak::emulator::detail {

std::optional<Torus> find_torus(const ColumnTie& tie, int64_t ny, int64_t nx) {
  if (!tie.partner.defined() || tie.partner.numel() != ny * nx) return std::nullopt;
  const torch::Tensor partner = tie.partner.to(torch::kCPU, torch::kInt64).contiguous();
  const int64_t* p = partner.data_ptr<int64_t>();
  int64_t j0 = ny, j1 = -1, i0 = nx, i1 = -1, owned = 0;
  for (int64_t j = 0; j < ny; ++j)
    for (int64_t i = 0; i < nx; ++i)
      if (p[j * nx + i] == j * nx + i) {
        j0 = std::min(j0, j), j1 = std::max(j1, j);
        i0 = std::min(i0, i), i1 = std::max(i1, i);
        ++owned;
      }
  if (owned == 0) return std::nullopt;
  Torus t;
  t.ny = j1 - j0 + 1;
  t.nx = i1 - i0 + 1;
  if (owned != t.ny * t.nx) return std::nullopt;
  const auto image = [](int64_t k, int64_t start, int64_t n) {
    return start + ((k - start) % n + n) % n;
  };
  for (int64_t j = 0; j < ny; ++j)
    for (int64_t i = 0; i < nx; ++i)
      if (p[j * nx + i] != image(j, j0, t.ny) * nx + image(i, i0, t.nx)) return std::nullopt;
  t.wrap.y = t.ny < ny;
  t.wrap.x = t.nx < nx;
  std::vector<int64_t> nodes;
  nodes.reserve(size_t(t.ny * t.nx));
  for (int64_t j = 0; j < t.ny; ++j)
    for (int64_t i = 0; i < t.nx; ++i) nodes.push_back((j0 + j) * nx + i0 + i);
  t.nodes = torch::tensor(nodes, torch::kInt64).to(tie.partner.device());
  return t;
}

torch::Tensor torus_stencil(const torch::Tensor& stencil, const torch::Tensor& free,
                            const ColumnTie& tie, int64_t ny, int64_t nx, const Torus& torus) {
  const int64_t B = torus.ny * torus.nx;
  const torch::Tensor S = stencil.to(torch::kCPU, torch::kFloat64).contiguous();
  const torch::Tensor is_free = free.to(torch::kCPU, torch::kFloat64).contiguous();
  const torch::Tensor partner = tie.partner.to(torch::kCPU, torch::kInt64).contiguous();
  const torch::Tensor nodes = torus.nodes.to(torch::kCPU).contiguous();
  // The box index of each owned patch column.
  std::vector<int64_t> box(size_t(ny * nx), -1);
  for (int64_t b = 0; b < B; ++b) box[size_t(nodes.data_ptr<int64_t>()[b])] = b;
  torch::Tensor T = torch::zeros({B, 9, 2, 2}, torch::kFloat64);
  std::vector<char> box_free(size_t(B), 0);
  const double *s = S.data_ptr<double>(), *f = is_free.data_ptr<double>();
  const int64_t* p = partner.data_ptr<int64_t>();
  double* t = T.data_ptr<double>();
  for (int64_t j = 0; j < ny; ++j)
    for (int64_t i = 0; i < nx; ++i) {
      const int64_t r = j * nx + i;
      if (f[r] == 0) continue;
      const int64_t b = box[size_t(p[r])];
      box_free[size_t(b)] = 1;
      for (int64_t o = 0; o < 9; ++o) {
        const int64_t jj = j + o / 3 - 1, ii = i + o % 3 - 1;
        if (jj < 0 || jj >= ny || ii < 0 || ii >= nx) continue; // no neighbour: no coupling
        for (int64_t k = 0; k < 4; ++k) t[(b * 9 + o) * 4 + k] += s[(r * 9 + o) * 4 + k];
      }
    }
  for (int64_t b = 0; b < B; ++b)
    if (!box_free[size_t(b)]) {
      std::fill(t + b * 36, t + (b + 1) * 36, 0.0);
      t[b * 36 + 16] = t[b * 36 + 19] = 1.0;
    }
  return T.to(stencil.device());
}

} // namespace nunatak::emulator::detail
