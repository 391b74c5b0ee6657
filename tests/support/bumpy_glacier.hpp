#pragma once
/// \file bumpy_glacier.hpp
/// A small test glacier for the emulator's LibTorch tests: 12 x 9 columns
/// of 400 m, ice-free edges, a thickness of 300 +- 60 m on a bed sloping
/// at 30 m per column with cross-valley undulations, and a slippery patch
/// (beta^2 = 50 against 2000 Pa a/m); uniform levels, A = 1e-16 Pa^-3 a^-1.

#include "nunatak/core/bp_patch.hpp"

#include <cmath>
#include <vector>

namespace nunatak::test {

constexpr int bumpy_nx = 12, bumpy_ny = 9;

/// The bumpy glacier with `nz` levels; `no_slip`: frozen to its bed everywhere.
inline core::BPPatch bumpy_glacier(int nz, bool no_slip = false) {
  const int nx = bumpy_nx, ny = bumpy_ny;
  std::vector<double> H(size_t(nx * ny)), b(H.size()), beta2(H.size());
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) {
      const size_t k = size_t(j * nx + i);
      const bool edge = i == 0 || i == nx - 1 || j == 0 || j == ny - 1;
      H[k] = edge ? 0.0 : 300.0 + 60.0 * std::sin(0.7 * i) * std::cos(0.5 * j);
      b[k] = 1500.0 - 30.0 * i + 20.0 * std::cos(0.9 * j);
      beta2[k] = (i > 4 && i < 8 && j > 3) ? 50.0 : 2000.0;
    }
  std::vector<double> sigma(static_cast<size_t>(nz));
  for (int k = 0; k < nz; ++k) sigma[size_t(k)] = double(k) / (nz - 1);
  const std::vector<double> hardness(H.size() * size_t(nz), std::pow(1e-16, -1 / 3.0));
  return core::make_bp_patch(nx, ny, 400.0, 400.0, sigma, H, b, beta2, hardness,
                             core::BPConstants(), true, no_slip);
}

} // namespace nunatak::test
