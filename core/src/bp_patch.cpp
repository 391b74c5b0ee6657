#include "nunatak/core/bp_patch.hpp"

#include "nunatak/core/error.hpp"

#include <algorithm>
#include <cmath>

namespace nunatak::core {

namespace {

std::string at_column(const BPPatch& p, std::size_t c) {
  const int i = int(c % std::size_t(p.nx)), j = int(c / std::size_t(p.nx));
  return " at column (i = " + std::to_string(p.i0 + i) + ", j = " + std::to_string(p.j0 + j) + ")";
}

} // namespace

void BPPatch::check(const std::string& what) const {
  const std::string where = what + ": ";
  if (nx < 1 || ny < 1 || nz < 2)
    throw Error(where + "a patch needs at least 1 x 1 columns of 2 nodes (got " +
                std::to_string(nx) + " x " + std::to_string(ny) + " x " + std::to_string(nz) + ")");
  if (!(dx > 0.0) || !(dy > 0.0) || !std::isfinite(dx) || !std::isfinite(dy))
    throw Error(where + "the node spacing must be positive");
  if (int(sigma.size()) != nz || sigma.front() != 0.0 || sigma.back() != 1.0)
    throw Error(where + "sigma must have nz levels from 0 to 1");
  for (int k = 1; k < nz; ++k)
    if (!(sigma[size_t(k)] > sigma[size_t(k - 1)]))
      throw Error(where + "sigma must increase (level " + std::to_string(k) + ")");
  const std::size_t columns = std::size_t(nx) * std::size_t(ny);
  const auto sized = [&](std::size_t got, std::size_t want, const char* name) {
    if (got != want)
      throw Error(where + "'" + name + "' has " + std::to_string(got) + " values, expected " +
                  std::to_string(want));
  };
  sized(thickness.size(), columns, "thickness");
  sized(bed.size(), columns, "bed");
  sized(beta2.size(), columns, "beta2");
  sized(hardness.size(), columns * std::size_t(nz), "hardness");
  sized(bed_fixed.size(), columns, "bed_fixed");
  sized(element_filled.size(), columns, "element_filled");
  sized(node_free.size(), columns, "node_free");
  sized(front_faces.size(), columns, "front_faces");
  const auto inside = [&](int lo, int hi, int n, const char* name) {
    if (lo < 0 || hi > n || lo > hi)
      throw Error(where + "range " + name + " [" + std::to_string(lo) + ", " + std::to_string(hi) +
                  ") leaves the box of " + std::to_string(n));
  };
  inside(xs, xs + xm, nx, "of owned columns along x");
  inside(ys, ys + ym, ny, "of owned columns along y");
  if (period_x < 0 || period_y < 0)
    throw Error(where + "the periods must be 0 (not periodic) or a number of columns");
  inside(ex0, ex1, nx - 1, "of elements along x");
  inside(ey0, ey1, ny - 1, "of elements along y");
  for (std::size_t c = 0; c < columns; ++c) {
    if (!std::isfinite(thickness[c]) || thickness[c] < 0.0)
      throw Error(where + "thickness is not a finite, non-negative number" + at_column(*this, c));
    if (!std::isfinite(bed[c])) throw Error(where + "bed is not finite" + at_column(*this, c));
    if (!std::isfinite(beta2[c]) || beta2[c] < 0.0)
      throw Error(where + "beta2 is not a finite, non-negative number" + at_column(*this, c));
    for (int k = 0; k < nz; ++k) {
      const double b = hardness[c * std::size_t(nz) + std::size_t(k)];
      if (!std::isfinite(b) || !(b > 0.0))
        throw Error(where + "hardness is not a positive number" + at_column(*this, c) + ", level " +
                    std::to_string(k));
    }
  }
}

std::vector<std::int64_t> periodic_partner_columns(const BPPatch& patch) {
  // The owned box index of the periodic image of box index i, else i itself.
  const auto partner = [](int i, int origin, int period, int owned0, int owned) {
    if (period <= 0) return i;
    const int image = ((origin + i) % period + period) % period - origin;
    return image >= owned0 && image < owned0 + owned ? image : i;
  };
  std::vector<std::int64_t> result(std::size_t(patch.nx) * std::size_t(patch.ny));
  for (int j = 0; j < patch.ny; ++j)
    for (int i = 0; i < patch.nx; ++i)
      result[patch.column(j, i)] =
          std::int64_t(patch.column(partner(j, patch.j0, patch.period_y, patch.ys, patch.ym),
                                    partner(i, patch.i0, patch.period_x, patch.xs, patch.xm)));
  return result;
}

void bp_element_flags(int nx, int ny, const double* thickness, const double* bed,
                      double minimum_thickness, double sea_level, std::uint8_t* filled,
                      std::uint8_t* wet) {
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) {
      const std::size_t e = std::size_t(j) * std::size_t(nx) + std::size_t(i);
      filled[e] = wet[e] = 0;
      if (j + 1 >= ny || i + 1 >= nx) continue;
      bool all_icy = true, ocean = false;
      for (int c = 0; c < 4; ++c) {
        const std::size_t n =
            std::size_t(j + (c >> 1)) * std::size_t(nx) + std::size_t(i + (c & 1));
        const bool icy = thickness[n] >= minimum_thickness;
        all_icy = all_icy && icy;
        ocean = ocean || (!icy && bed[n] <= sea_level);
      }
      filled[e] = all_icy ? 1 : 0;
      wet[e] = ocean ? 1 : 0;
    }
}

void bp_column_flags(int nx, int ny, const std::uint8_t* filled, const std::uint8_t* wet,
                     bool ocean_pressure, std::uint8_t* node_free, std::uint8_t* front_faces) {
  const auto flag = [&](const std::uint8_t* f, int j, int i) {
    return j >= 0 && i >= 0 && j < ny && i < nx &&
           f[std::size_t(j) * std::size_t(nx) + std::size_t(i)];
  };
  // (dj, di) of the neighbour across each face, in BPFace order.
  const int neighbour[4][2] = {{0, -1}, {0, 1}, {-1, 0}, {1, 0}};
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) {
      const std::size_t c = std::size_t(j) * std::size_t(nx) + std::size_t(i);
      node_free[c] = (flag(filled, j, i) || flag(filled, j, i - 1) || flag(filled, j - 1, i) ||
                      flag(filled, j - 1, i - 1))
                         ? 1
                         : 0;
      int faces = 0;
      if (ocean_pressure && flag(filled, j, i))
        for (int f = 0; f < 4; ++f) {
          const int nj = j + neighbour[f][0], ni = i + neighbour[f][1];
          if (!flag(filled, nj, ni) && flag(wet, nj, ni)) faces |= 1 << f;
        }
      front_faces[c] = std::uint8_t(faces);
    }
}

BPPatch make_bp_patch(int nx, int ny, double dx, double dy, std::vector<double> sigma,
                      std::vector<double> thickness, std::vector<double> bed,
                      std::vector<double> beta2, std::vector<double> hardness,
                      const BPConstants& constants, bool ocean_pressure, bool no_slip) {
  BPPatch p;
  p.nx = nx;
  p.ny = ny;
  p.nz = int(sigma.size());
  p.dx = dx;
  p.dy = dy;
  p.sigma = std::move(sigma);
  p.xs = p.ys = 0;
  p.xm = nx;
  p.ym = ny;
  p.ex0 = p.ey0 = 0;
  p.ex1 = nx > 0 ? nx - 1 : 0;
  p.ey1 = ny > 0 ? ny - 1 : 0;
  p.thickness = std::move(thickness);
  p.bed = std::move(bed);
  p.beta2 = std::move(beta2);
  p.hardness = std::move(hardness);
  p.constants = constants;
  const std::size_t columns = std::size_t(std::max(nx, 0)) * std::size_t(std::max(ny, 0));
  p.bed_fixed.assign(columns, no_slip ? 1 : 0);
  p.element_filled.assign(columns, 0);
  p.node_free.assign(columns, 0);
  p.front_faces.assign(columns, 0);
  if (p.thickness.size() == columns && p.bed.size() == columns) {
    std::vector<std::uint8_t> wet(columns, 0);
    bp_element_flags(nx, ny, p.thickness.data(), p.bed.data(), constants.minimum_thickness,
                     constants.sea_level, p.element_filled.data(), wet.data());
    bp_column_flags(nx, ny, p.element_filled.data(), wet.data(), ocean_pressure, p.node_free.data(),
                    p.front_faces.data());
  }
  p.check("bp patch");
  return p;
}

} // namespace nunatak::core
