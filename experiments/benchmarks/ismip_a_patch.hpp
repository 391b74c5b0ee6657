#pragma once
// ISMIP-HOM A's geometry as one Blatter-Pattyn patch, for the benchmarks.

#include "nunatak/core/bp_patch.hpp"

#include <cmath>
#include <vector>

namespace nunatak::bench {

/// ISMIP-HOM A (L = 10 km, surface slope 0.5 degrees, bumps of 500 m) on
/// nx x ny columns of nz nodes (not periodic), no slip, A = 1e-16 Pa^-3 a^-1.
inline core::BPPatch ismip_a_patch(int nx, int ny, int nz) {
  const double L = 10000.0, dx = L / nx, omega = 2.0 * M_PI / L;
  const double slope = std::tan(0.5 * M_PI / 180.0);
  std::vector<double> H(size_t(nx * ny)), b(size_t(nx * ny)), beta2(size_t(nx * ny), 0.0);
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) {
      const double s = -i * dx * slope;
      b[size_t(j * nx + i)] =
          s - 1000.0 + 500.0 * std::sin(omega * i * dx) * std::sin(omega * j * dx);
      H[size_t(j * nx + i)] = s - b[size_t(j * nx + i)];
    }
  std::vector<double> sigma(static_cast<size_t>(nz), 0.0);
  for (int k = 0; k < nz; ++k) sigma[size_t(k)] = double(k) / (nz - 1);
  const std::vector<double> B(size_t(nx * ny * nz), std::pow(1e-16, -1.0 / 3.0));
  return core::make_bp_patch(nx, ny, dx, dx, sigma, H, b, beta2, B, core::BPConstants{}, true,
                             true);
}

} // namespace nunatak::bench
