/// \file test_plot.cpp
/// Tests of the quick-look map plotter: the PNGs are read back with cairo and
/// their pixels checked.

#include "nunatak/io/plot.hpp"

#include "nunatak/core/error.hpp"

#include "png_image.hpp"

#include <cairo.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>

namespace fs = std::filesystem;
using nunatak::io::ColourScale;
using nunatak::io::MapData;
using nunatak::io::PlotOptions;
using nunatak::io::write_map_png;

namespace {

using nunatak::test::Image;
using nunatak::test::near;

constexpr double k_nan = std::numeric_limits<double>::quiet_NaN();
constexpr std::array<double, 3> mask_grey{0.85, 0.85, 0.85};

/// A unique temporary folder, removed with its contents at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path = fs::temp_directory_path() /
           ("nunatak_plot_test_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
  std::size_t entries() const {
    return static_cast<std::size_t>(
        std::distance(fs::directory_iterator(path), fs::directory_iterator()));
  }
};

bool contains(const Image& im, const std::array<double, 3>& c) {
  return std::any_of(im.rgb.begin(), im.rgb.end(), [&](const auto& p) { return near(p, c, 2); });
}

/// The map panel: rows with more than 100 coloured or mask-grey pixels (text and
/// frame pixels are neutral grey/black), and the run of such pixels across its middle row.
struct Panel {
  int x0 = -1, y0 = -1, x1 = -1, y1 = -1; // inclusive
  int w() const { return x1 - x0 + 1; }
  int h() const { return y1 - y0 + 1; }
};
bool painted(const std::array<int, 3>& p) {
  const bool neutral = p[0] == p[1] && p[1] == p[2];
  return !neutral || std::abs(p[0] - 217) <= 1;
}
Panel find_panel(const Image& im) {
  Panel r;
  for (int y = 0; y < im.height; ++y) {
    int n = 0;
    for (int x = 0; x < im.width; ++x) n += painted(im.at(x, y));
    if (n > 100) {
      if (r.y0 < 0) r.y0 = y;
      r.y1 = y;
    }
  }
  if (r.y0 < 0) return r;
  const int mid = (r.y0 + r.y1) / 2;
  int x = 0;
  while (x < im.width && !painted(im.at(x, mid))) ++x;
  r.x0 = x;
  while (x < im.width && painted(im.at(x, mid))) ++x;
  r.x1 = x - 1;
  return r;
}

/// Cell centre (ix, iy) of an nx x ny grid mapped to the pixel inside the panel.
std::array<int, 3> cell_pixel(const Image& im, const Panel& p, int nx, int ny, int ix, int iy) {
  const int x = p.x0 + static_cast<int>((ix + 0.5) / nx * p.w());
  const int y = p.y1 - static_cast<int>((iy + 0.5) / ny * p.h());
  return im.at(x, y);
}

/// An nx x ny grid with spacing dx, dy and values f(ix, iy).
template <class F>
MapData grid(int nx, int ny, double dx, double dy, F f) {
  MapData d;
  d.nx = nx;
  d.ny = ny;
  for (int i = 0; i < nx; ++i) d.x.push_back(-50e3 + i * dx);
  for (int j = 0; j < ny; ++j) d.y.push_back(20e3 + j * dy);
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) d.values.push_back(f(i, j));
  d.title = "test field";
  d.subtitle = "test_plot.cpp";
  d.units = "m";
  return d;
}

std::array<double, 3> hex(unsigned c) {
  return {(c >> 16 & 0xff) / 255.0, (c >> 8 & 0xff) / 255.0, (c & 0xff) / 255.0};
}

void expect_colour(const std::array<double, 3>& a, const std::array<double, 3>& b) {
  for (int k = 0; k < 3; ++k) EXPECT_NEAR(a[k], b[k], 1e-12) << "component " << k;
}

} // namespace

TEST(Plot, ColourMapAnchors) {
  using nunatak::io::diverging_colour;
  using nunatak::io::viridis;
  expect_colour(viridis(0), hex(0x440154));
  expect_colour(viridis(0.5), hex(0x21918c));
  expect_colour(viridis(1), hex(0xfde725));
  expect_colour(viridis(-3), viridis(0));
  expect_colour(viridis(7), viridis(1));
  expect_colour(diverging_colour(0), hex(0xb2182b));
  expect_colour(diverging_colour(1), hex(0x2166ac));
  for (double c : diverging_colour(0.5)) EXPECT_GT(c, 0.95);
  // Halfway between two anchors is their mean.
  const auto a = hex(0x440154), b = hex(0x472d7b), m = viridis(0.0625);
  for (int k = 0; k < 3; ++k) EXPECT_NEAR(m[k], 0.5 * (a[k] + b[k]), 1e-12);
}

TEST(Plot, LinearRampPixels) {
  TempDir tmp;
  const int nx = 20, ny = 10;
  MapData d = grid(nx, ny, 5e3, 5e3, [&](int i, int j) { return double(i + nx * j); });
  d.values[5 * nx + 10] = k_nan; // cell (10, 5) masked
  PlotOptions o;
  o.width_px = 800;
  const std::string file = tmp.file("ramp.png");
  write_map_png(d, o, file);
  ASSERT_TRUE(fs::exists(file));
  EXPECT_EQ(tmp.entries(), 1u) << "temporary file left behind";

  const Image im(file);
  ASSERT_EQ(im.width, 800);
  const Panel p = find_panel(im);
  ASSERT_GT(p.w(), 100);
  EXPECT_NEAR(p.h(), p.w() * 0.5, 1.5); // 100 km x 50 km extent
  EXPECT_GT(im.height, p.h() + 60);     // room for title and axes
  EXPECT_LT(im.height, p.h() + 250);
  // Maximum at the north-east corner (top right), minimum at the south-west.
  EXPECT_TRUE(near(cell_pixel(im, p, nx, ny, nx - 1, ny - 1), nunatak::io::viridis(1)));
  EXPECT_TRUE(near(cell_pixel(im, p, nx, ny, 0, 0), nunatak::io::viridis(0)));
  EXPECT_TRUE(near(cell_pixel(im, p, nx, ny, 10, 5), mask_grey));
  EXPECT_TRUE(near(cell_pixel(im, p, nx, ny, nx - 1, 0), nunatak::io::viridis((nx - 1) / 198.0)));
  EXPECT_TRUE(contains(im, nunatak::io::viridis(1)));
  EXPECT_TRUE(contains(im, nunatak::io::viridis(0)));
  EXPECT_TRUE(contains(im, mask_grey));
}

TEST(Plot, ExplicitLimitsClamp) {
  TempDir tmp;
  MapData d = grid(30, 30, 2e3, 2e3, [](int i, int j) { return double(i + j); });
  PlotOptions o;
  o.vmin = 20;
  o.vmax = 30;
  const std::string file = tmp.file("clamp.png");
  write_map_png(d, o, file);
  const Image im(file);
  const Panel p = find_panel(im);
  EXPECT_NEAR(p.h(), p.w(), 1.5);
  EXPECT_TRUE(near(cell_pixel(im, p, 30, 30, 0, 0), nunatak::io::viridis(0)));
  EXPECT_TRUE(near(cell_pixel(im, p, 30, 30, 5, 5), nunatak::io::viridis(0)));
  EXPECT_TRUE(near(cell_pixel(im, p, 30, 30, 29, 29), nunatak::io::viridis(1)));
  EXPECT_TRUE(near(cell_pixel(im, p, 30, 30, 15, 10), nunatak::io::viridis(0.5)));
}

TEST(Plot, TallAllMaskedDomain) {
  TempDir tmp;
  MapData d = grid(50, 200, 1e3, 1e3, [](int, int) { return k_nan; });
  PlotOptions o;
  o.width_px = 600;
  const std::string file = tmp.file("tall.png");
  write_map_png(d, o, file); // all masked: still drawn, all grey
  const Image im(file);
  EXPECT_EQ(im.width, 600);
  EXPECT_LE(im.height, static_cast<int>(1.6 * 600));
  const Panel p = find_panel(im);
  ASSERT_GT(p.h(), 100);
  EXPECT_NEAR(p.h(), 4.0 * p.w(), 4.0);
  EXPECT_TRUE(near(cell_pixel(im, p, 50, 200, 25, 100), mask_grey));
  EXPECT_FALSE(contains(im, nunatak::io::viridis(1))); // no colour bar
}

TEST(Plot, LogScale) {
  TempDir tmp;
  const int nx = 40, ny = 30;
  MapData d =
      grid(nx, ny, 1e3, 1e3, [&](int i, int) { return std::pow(10.0, 3.0 * i / (nx - 1)); });
  d.values[0] = -5;    // non-positive: lowest colour
  d.values[1] = k_nan; // masked
  PlotOptions o;
  o.scale = ColourScale::log;
  const std::string file = tmp.file("log.png");
  write_map_png(d, o, file);
  const Image im(file);
  const Panel p = find_panel(im);
  EXPECT_TRUE(near(cell_pixel(im, p, nx, ny, nx - 1, 5), nunatak::io::viridis(1)));
  EXPECT_TRUE(near(cell_pixel(im, p, nx, ny, 0, 5), nunatak::io::viridis(0)));
  EXPECT_TRUE(near(cell_pixel(im, p, nx, ny, 13, 5), nunatak::io::viridis(13.0 / 39)));
  EXPECT_TRUE(near(cell_pixel(im, p, nx, ny, 0, 0), nunatak::io::viridis(0)));
  EXPECT_TRUE(near(cell_pixel(im, p, nx, ny, 1, 0), mask_grey));
}

TEST(Plot, DivergingIsSymmetricByDefault) {
  TempDir tmp;
  MapData d = grid(20, 20, 1e3, 1e3, [](int i, int) { return -1.0 + 4.0 * i / 19; }); // -1 .. 3
  PlotOptions o;
  o.scale = ColourScale::diverging;
  const std::string file = tmp.file("div.png");
  write_map_png(d, o, file);
  const Image im(file);
  const Panel p = find_panel(im);
  EXPECT_TRUE(near(cell_pixel(im, p, 20, 20, 0, 3), nunatak::io::diverging_colour(1.0 / 3)));
  EXPECT_TRUE(near(cell_pixel(im, p, 20, 20, 19, 3), nunatak::io::diverging_colour(1)));
}

TEST(Plot, Errors) {
  TempDir tmp;
  const std::string file = tmp.file("bad.png");
  auto expect_error = [&](const MapData& d, const PlotOptions& o, const std::string& where,
                          const std::string& what) {
    try {
      write_map_png(d, o, where);
      ADD_FAILURE() << "no error for " << what;
    } catch (const nunatak::Error& e) {
      EXPECT_NE(std::string(e.what()).find(where), std::string::npos) << e.what();
    }
    EXPECT_FALSE(fs::exists(where)) << what;
    EXPECT_EQ(tmp.entries(), 0u) << what;
  };
  const MapData good = grid(6, 4, 1e3, 1e3, [](int i, int j) { return double(i - j); });
  const PlotOptions linear;

  MapData d = good;
  d.values.pop_back();
  expect_error(d, linear, file, "values size");
  d = good;
  d.x.push_back(1e6);
  expect_error(d, linear, file, "x size");
  d = good;
  d.nx = 0;
  expect_error(d, linear, file, "nx = 0");
  d = good;
  d.y[2] = d.y[1];
  expect_error(d, linear, file, "y not increasing");

  PlotOptions o;
  o.vmin = 2;
  o.vmax = 2;
  expect_error(good, o, file, "vmin == vmax");
  try {
    write_map_png(good, o, file);
  } catch (const nunatak::Error& e) {
    EXPECT_NE(std::string(e.what()).find("vmin = 2"), std::string::npos) << e.what();
  }
  o.vmax.reset(); // data maximum is 5: a larger vmin is an error
  o.vmin = 6;
  expect_error(good, o, file, "vmin above the data");

  PlotOptions log;
  log.scale = ColourScale::log;
  d = good;
  for (double& v : d.values) v = -1.0 - std::fabs(v);
  expect_error(d, log, file, "log of negative data");

  const std::string missing = (tmp.path / "no_such_folder" / "map.png").string();
  try {
    write_map_png(good, linear, missing);
    ADD_FAILURE() << "no error for a missing folder";
  } catch (const nunatak::Error& e) {
    EXPECT_NE(std::string(e.what()).find("no_such_folder"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(missing));

  // The same data is fine with a valid configuration.
  write_map_png(good, linear, file);
  EXPECT_TRUE(fs::exists(file));
  EXPECT_EQ(tmp.entries(), 1u);
}
