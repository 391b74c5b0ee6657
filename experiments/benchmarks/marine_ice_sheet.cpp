/// \file marine_ice_sheet.cpp
/// Writes a synthetic marine ice sheet with ice shelves, Antarctica-sized on
/// its default grid (200 x 200 columns of 16 km), for the Blatter-Pattyn
/// benchmark `bp_ice_shelf_grid.sh`: the shared data hold no such grid.
///
///   marine_ice_sheet OUT.nc [N [DX_M]]
///
/// Geometry (r, θ polar about the grid's centre, lengths scaled by
/// s = N DX / 3200 km so that smaller grids keep the same shape):
/// - bed b = 600 m - 1400 m (r / 1000 s km)² + 300 m cos(3θ) (r / 1000 s km),
///   not below -3000 m: a highland in the middle, deepening to an ocean, with
///   three troughs and three ridges;
/// - grounded dome H_g = 3500 m (1 - (r / R_g)^(4/3))^(3/8) (Vialov's profile),
///   R_g = 1150 s km (1 + 0.12 cos(3θ + 0.4));
/// - shelves H_s = 700 m - 450 m (r / R_f), R_f = 1450 s km (1 + 0.08 cos(2θ)),
///   down to 250 m at the front; none beyond R_f;
/// - thk = max(H_g, H_s) where r < R_f, else 0. Ice is afloat where
///   thk < -b ρ_w / ρ_i, which on the default grid puts a ring of shelves,
///   wider over the troughs, between the grounded sheet and the ocean.
/// Variables: x, y (m), thk (m), topg (m), climatic_mass_balance (kg m-2 a-1,
/// 300 inland to -500 at the front, so that `nunatak run` has a forcing).

#include "nunatak/io/netcdf_file.hpp"

#include <netcdf.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

/// The fields on an n x n grid, row-major with x fastest.
struct MarineSheet {
  std::vector<double> x, y, thk, topg, smb;
};

/// Evaluates the geometry described at the top of this file.
MarineSheet marine_sheet(int n, double dx) {
  const double scale = n * dx / 3.2e6;
  MarineSheet sheet;
  for (int i = 0; i < n; ++i) {
    sheet.x.push_back((i - 0.5 * (n - 1)) * dx);
    sheet.y.push_back((i - 0.5 * (n - 1)) * dx);
  }
  for (int j = 0; j < n; ++j) {
    for (int i = 0; i < n; ++i) {
      const double r = std::hypot(sheet.x[i], sheet.y[j]);
      const double theta = std::atan2(sheet.y[j], sheet.x[i]);
      const double rb = r / (1.0e6 * scale);
      const double bed =
          std::max(600.0 - 1400.0 * rb * rb + 300.0 * std::cos(3.0 * theta) * rb, -3000.0);
      const double r_grounded = 1.15e6 * scale * (1.0 + 0.12 * std::cos(3.0 * theta + 0.4));
      const double r_front = 1.45e6 * scale * (1.0 + 0.08 * std::cos(2.0 * theta));
      double thickness = 0.0;
      if (r < r_front) {
        const double rg = std::min(r / r_grounded, 1.0);
        const double dome = 3500.0 * std::pow(1.0 - std::pow(rg, 4.0 / 3.0), 3.0 / 8.0);
        const double shelf = std::max(700.0 - 450.0 * r / r_front, 250.0);
        thickness = std::max(dome, shelf);
      }
      sheet.topg.push_back(bed);
      sheet.thk.push_back(thickness);
      sheet.smb.push_back(300.0 - 800.0 * std::min(r / r_front, 1.0));
    }
  }
  return sheet;
}

/// Writes `sheet` (n x n) to `path` as CF NetCDF-4.
void write_sheet(const std::string& path, const MarineSheet& sheet, int n) {
  auto file = nunatak::io::NcFile::create(path);
  const int xd = file.define_dimension("x", n);
  const int yd = file.define_dimension("y", n);
  const int xv = file.define_variable("x", NC_DOUBLE, {xd});
  const int yv = file.define_variable("y", NC_DOUBLE, {yd});
  file.put_attribute(xv, "units", "m");
  file.put_attribute(yv, "units", "m");
  struct Out {
    const char* name;
    const char* units;
    const char* standard_name;
    const std::vector<double>* values;
  };
  const Out outs[] = {{"thk", "m", "land_ice_thickness", &sheet.thk},
                      {"topg", "m", "bedrock_altitude", &sheet.topg},
                      {"climatic_mass_balance", "kg m-2 year-1",
                       "land_ice_surface_specific_mass_balance_flux", &sheet.smb}};
  std::vector<int> ids;
  for (const Out& out : outs) {
    const int id = file.define_variable(out.name, NC_DOUBLE, {yd, xd});
    file.put_attribute(id, "units", out.units);
    file.put_attribute(id, "standard_name", out.standard_name);
    ids.push_back(id);
  }
  file.put_attribute(NC_GLOBAL, "title",
                     "synthetic marine ice sheet with ice shelves "
                     "(experiments/benchmarks/marine_ice_sheet.cpp)");
  file.end_definitions();
  const size_t un = static_cast<size_t>(n);
  file.write(xv, {0}, {un}, sheet.x.data());
  file.write(yv, {0}, {un}, sheet.y.data());
  for (size_t k = 0; k < ids.size(); ++k)
    file.write(ids[k], {0, 0}, {un, un}, outs[k].values->data());
  file.close();
}

} // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 4) {
    std::fprintf(stderr, "usage: marine_ice_sheet OUT.nc [N [DX_M]]\n");
    return 2;
  }
  const int n = argc > 2 ? std::atoi(argv[2]) : 200;
  const double dx = argc > 3 ? std::atof(argv[3]) : 16000.0;
  if (n < 8 || !(dx > 0)) {
    std::fprintf(stderr, "marine_ice_sheet: N must be >= 8 and DX_M > 0\n");
    return 2;
  }
  try {
    const MarineSheet sheet = marine_sheet(n, dx);
    write_sheet(argv[1], sheet, n);
    int grounded = 0, floating = 0;
    for (size_t k = 0; k < sheet.thk.size(); ++k) {
      if (sheet.thk[k] <= 0) continue;
      (sheet.thk[k] * 910.0 < -sheet.topg[k] * 1028.0 ? floating : grounded) += 1;
    }
    std::printf("%s: %d x %d columns of %.0f m, %d grounded, %d floating\n", argv[1], n, n, dx,
                grounded, floating);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "marine_ice_sheet: %s\n", e.what());
    return 1;
  }
  return 0;
}
