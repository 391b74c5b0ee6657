// Floating ice in `nunatak solve`: with the default calving rule
// (calving.remove_floating_ice: true) it is removed before the first stress
// balance, as every time step of a run removes it, and the log says how much;
// kept (remove_floating_ice: false), an ice shelf slides freely in the
// Blatter-Pattyn solver (zero basal traction) and spreads at hundreds of m/a,
// where the grounded ice above a frozen bed moves at a few m/a; ice-free
// cells hold exactly zero velocity.
#include "cli_support.hpp"
#include "nunatak/io/netcdf_file.hpp"
#include "test_files.hpp"

#include <gtest/gtest.h>

#include <cmath>

using namespace nunatak;
using namespace nunatak::test;

namespace {

constexpr int nx = 21, ny = 7;

/// A flowline glacier on a bed from +200 m to -1000 m (5 km cells), ice in
/// the rows j = 1..5 up to i = 16; it floats from about i = 10 (a 35 km shelf
/// with ocean on three sides).
void write_marine_glacier(const std::string& path) {
  TestFile f = grid_file(nx, ny, 5000.0, 5000.0);
  std::vector<double> thk, topg;
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) {
      topg.push_back(200.0 - 60.0 * i);
      thk.push_back(j >= 1 && j <= 5 && i <= 16 ? 600.0 - 15.0 * i : 0.0);
    }
  add_field(f, "thk", "m", thk);
  add_field(f, "topg", "m", topg);
  write_test_file(path, f);
}

std::vector<double> read_variable(const std::string& path, const std::string& var) {
  io::NcFile f = io::NcFile::open(path);
  return f.read_all(f.variable(var));
}

const char* config = "input.geometry.file: input_glacier.nc\n"
                     "stress_balance.model: bp\n"
                     "bp: {levels: 5}\n"
                     "output: {file: out.nc, variables: [thk, mask, velsurf_mag], quicklook: []}\n";

} // namespace

TEST(FloatingIceCli, RemovedByTheCalvingRuleAndSaidSo) {
  TempDir dir;
  write_marine_glacier(dir.file("input_glacier.nc"));
  write_text(dir.file("input.yaml"), config);
  const Result r = run_nunatak(dir, "solve input.yaml");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("cells of floating ice"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("calving.remove_floating_ice: false to keep ice shelves"), std::string::npos)
      << r.err;
  const auto thk = read_variable(dir.file("out.nc"), "thk");
  const auto mask = read_variable(dir.file("out.nc"), "mask");
  for (size_t k = 0; k < thk.size(); ++k) EXPECT_NE(mask[k], 3.0) << "floating ice left at " << k;
  EXPECT_EQ(thk[size_t(3 * nx + 14)], 0.0);  // the shelf is gone
  EXPECT_GT(thk[size_t(3 * nx + 4)], 500.0); // the grounded ice is not
}

TEST(FloatingIceCli, KeptShelfSlidesFreelyInBlatterPattyn) {
  TempDir dir;
  write_marine_glacier(dir.file("input_glacier.nc"));
  write_text(dir.file("input.yaml"), config);
  const Result r = run_nunatak(dir, "solve input.yaml --set calving.remove_floating_ice=false");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err.find("cells of floating ice"), std::string::npos) << r.err;
  const auto mask = read_variable(dir.file("out.nc"), "mask");
  const auto speed = read_variable(dir.file("out.nc"), "velsurf_mag");
  int floating = 0;
  double shelf_min = 1e30, grounded_max = 0;
  for (int j = 2; j <= 4; ++j)
    for (int i = 0; i < nx; ++i) {
      const size_t k = size_t(j * nx + i);
      if (mask[k] == 3.0) {
        ++floating;
        shelf_min = std::min(shelf_min, speed[k]);
      } else if (mask[k] == 2.0 && i <= 6 && j == 3) {
        grounded_max = std::max(grounded_max, speed[k]);
      }
    }
  std::string row; // the centre line, for failure messages
  for (int i = 0; i < nx; ++i)
    row += std::to_string(int(mask[size_t(3 * nx + i)])) + ":" +
           std::to_string(std::lround(speed[size_t(3 * nx + i)])) + " ";
  SCOPED_TRACE("centre line mask:speed (m/a): " + row);
  EXPECT_GE(floating, 15);
  // No slip under grounded ice far from the grounding line (on the centre
  // line): tens of m/a; the shelf spreads (Weertman: A (rho g H (1 - rho/rho_w) / 4)^3 ~ 0.1 a^-1
  // over ~35 km), with zero basal traction, hundreds of m/a and more.
  EXPECT_LT(grounded_max, 50.0);
  EXPECT_GT(shelf_min, 10.0 * grounded_max);
  EXPECT_GT(shelf_min, 100.0);
  // Ice-free cells: exactly zero (not round-off).
  for (int i = 0; i < nx; ++i) {
    EXPECT_EQ(speed[size_t(0 * nx + i)], 0.0) << i;
    EXPECT_EQ(speed[size_t(6 * nx + i)], 0.0) << i;
  }
  for (int j = 0; j < ny; ++j) EXPECT_EQ(speed[size_t(j * nx + 20)], 0.0) << j;
}
