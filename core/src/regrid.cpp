// Coarsening and interpolation between regular grids (regrid.hpp).

#include "nunatak/core/regrid.hpp"

#include "nunatak/core/error.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <string>

namespace nunatak::core {

namespace {

void check_size(const Grid& grid, const std::vector<double>& values, const char* what) {
  if (values.size() != size_t(grid.size()))
    throw Error(std::string(what) + ": " + std::to_string(values.size()) +
                " values for a grid of " + std::to_string(grid.size()) + " cells (" +
                grid.describe() + ")");
}

void check_factor(int factor) {
  if (factor < 1) throw Error("coarsening factor must be >= 1, not " + std::to_string(factor));
}

/// Keys' cubic convolution weights (a = -1/2) for the offsets -1, 0, 1, 2
/// of a point at fraction t in [0, 1) past cell 0.
void cubic_weights(double t, double w[4]) {
  const double t2 = t * t, t3 = t2 * t;
  w[0] = 0.5 * (-t3 + 2 * t2 - t);
  w[1] = 0.5 * (3 * t3 - 5 * t2 + 2);
  w[2] = 0.5 * (-3 * t3 + 4 * t2 + t);
  w[3] = 0.5 * (t3 - t2);
}

/// Index and fraction of coordinate s (in cells) on an axis of n cells,
/// clamped to [0, n - 1].
void locate(double s, int n, int& i, double& t) {
  s = std::clamp(s, 0.0, double(n - 1));
  i = std::min(int(std::floor(s)), std::max(n - 2, 0));
  t = s - i;
}

} // namespace

Grid coarsened_grid(const Grid& fine, int factor) {
  check_factor(factor);
  const int nx = (fine.nx() + factor - 1) / factor, ny = (fine.ny() + factor - 1) / factor;
  Grid coarse(nx, ny, factor * fine.dx(), factor * fine.dy(),
              fine.x0() + 0.5 * (factor - 1) * fine.dx(),
              fine.y0() + 0.5 * (factor - 1) * fine.dy());
  if (const GridMapping* m = fine.mapping()) coarse.set_mapping(*m);
  return coarse;
}

std::vector<double> coarsen(const Grid& fine, const std::vector<double>& values, int factor,
                            Coarsening rule) {
  check_factor(factor);
  check_size(fine, values, "coarsen");
  const Grid coarse = coarsened_grid(fine, factor);
  std::vector<double> out(size_t(coarse.size()), NAN);
  for (int J = 0; J < coarse.ny(); ++J)
    for (int I = 0; I < coarse.nx(); ++I) {
      double sum = 0;
      int count = 0;
      bool missing = false;
      std::map<double, int> votes;
      for (int j = J * factor; j < std::min((J + 1) * factor, fine.ny()); ++j)
        for (int i = I * factor; i < std::min((I + 1) * factor, fine.nx()); ++i) {
          const double v = values[size_t(j) * size_t(fine.nx()) + size_t(i)];
          if (std::isnan(v)) {
            missing = true;
            continue;
          }
          sum += v;
          ++count;
          if (rule == Coarsening::majority) ++votes[v];
        }
      double& c = out[size_t(J) * size_t(coarse.nx()) + size_t(I)];
      switch (rule) {
      case Coarsening::volume:
        c = missing ? NAN : sum / double(factor * factor);
        break;
      case Coarsening::mean:
        c = count > 0 ? sum / count : NAN;
        break;
      case Coarsening::majority: {
        int best = 0;
        for (const auto& [value, n] : votes) // ascending values: ties keep the smallest
          if (n > best) {
            best = n;
            c = value;
          }
        break;
      }
      }
    }
  return out;
}

std::vector<double> interpolate(const Grid& source, const std::vector<double>& values,
                                const Grid& target, Interpolation method) {
  check_size(source, values, "interpolate");
  const int nx = source.nx(), ny = source.ny();
  const auto at = [&](int i, int j) {
    return values[size_t(std::clamp(j, 0, ny - 1)) * size_t(nx) + size_t(std::clamp(i, 0, nx - 1))];
  };
  std::vector<double> out(size_t(target.size()));
  for (int j = 0; j < target.ny(); ++j)
    for (int i = 0; i < target.nx(); ++i) {
      int ic, jc;
      double tx, ty;
      locate((target.x(i) - source.x0()) / source.dx(), nx, ic, tx);
      locate((target.y(j) - source.y0()) / source.dy(), ny, jc, ty);
      double& result = out[size_t(j) * size_t(target.nx()) + size_t(i)];
      result = NAN;
      if (method == Interpolation::bicubic) {
        double wx[4], wy[4], sum = 0;
        cubic_weights(tx, wx);
        cubic_weights(ty, wy);
        for (int b = 0; b < 4; ++b)
          for (int a = 0; a < 4; ++a) sum += wx[a] * wy[b] * at(ic - 1 + a, jc - 1 + b);
        result = sum;
      }
      if (std::isnan(result)) {
        result = (1 - tx) * (1 - ty) * at(ic, jc) + tx * (1 - ty) * at(ic + 1, jc) +
                 (1 - tx) * ty * at(ic, jc + 1) + tx * ty * at(ic + 1, jc + 1);
      }
      if (std::isnan(result)) result = at(ic + (tx >= 0.5), jc + (ty >= 0.5));
    }
  return out;
}

} // namespace nunatak::core
