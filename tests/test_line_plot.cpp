/// \file test_line_plot.cpp
/// Tests of the line-chart plotter and of `nunatak plot` on time series: the PNGs
/// are read back with cairo and their pixels checked.

#include "nunatak/core/constants.hpp"
#include "nunatak/io/line_plot.hpp"

#include "nunatak/core/error.hpp"
#include "nunatak/io/plot.hpp"
#include "nunatak/io/quicklook.hpp"
#include "nunatak/io/units.hpp"

#include "test_files.hpp"

#include "png_image.hpp"

#include <cairo.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using nunatak::io::LineChart;
using nunatak::io::Series;
using nunatak::io::series_colour;
using nunatak::io::write_line_png;

namespace {

using nunatak::test::Image;
using nunatak::test::near;

constexpr double k_nan = std::numeric_limits<double>::quiet_NaN();

std::size_t entries(const nunatak::test::TempDir& dir) {
  return static_cast<std::size_t>(
      std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()));
}

/// Number of pixels of colour `c`.
long count(const Image& im, const std::array<double, 3>& c) {
  return std::count_if(im.rgb.begin(), im.rgb.end(), [&](const auto& p) { return near(p, c, 2); });
}

/// True if `p` is colour `c` blended with at most 40 % white, as along the antialiased
/// edges of a line (a slanted line need not cover any pixel fully).
bool tinted(const std::array<int, 3>& p, const std::array<double, 3>& c) {
  double dot = 0, norm = 0;
  for (int k = 0; k < 3; ++k) {
    dot += (255 - p[k]) * (255 - 255 * c[k]);
    norm += (255 - 255 * c[k]) * (255 - 255 * c[k]);
  }
  const double a = dot / norm; // fraction of `c` in the blend
  double off = 0;
  for (int k = 0; k < 3; ++k) off += std::pow(p[k] - (255 - a * (255 - 255 * c[k])), 2);
  return a > 0.6 && std::sqrt(off) < 12;
}

/// For each column, whether it holds a pixel of colour `c` (or tinted with it).
std::vector<bool> columns_with(const Image& im, const std::array<double, 3>& c) {
  std::vector<bool> has(static_cast<std::size_t>(im.width), false);
  for (int y = 0; y < im.height; ++y)
    for (int x = 0; x < im.width; ++x)
      if (tinted(im.at(x, y), c)) has[static_cast<std::size_t>(x)] = true;
  return has;
}

/// Rows holding a pixel of colour `c`: first and last (-1 if none).
std::array<int, 2> rows_with(const Image& im, const std::array<double, 3>& c) {
  std::array<int, 2> r{-1, -1};
  for (int y = 0; y < im.height; ++y)
    for (int x = 0; x < im.width; ++x)
      if (near(im.at(x, y), c, 2)) {
        if (r[0] < 0) r[0] = y;
        r[1] = y;
        break;
      }
  return r;
}

/// A series y = f(x) at n points over [x0, x1].
template <class F>
Series curve(int n, double x0, double x1, F f, const std::string& label = "") {
  Series s;
  for (int i = 0; i < n; ++i) {
    const double x = x0 + (x1 - x0) * i / (n - 1);
    s.x.push_back(x);
    s.y.push_back(f(x));
  }
  s.label = label;
  return s;
}

LineChart volume_chart() {
  LineChart c;
  c.title = "ice_volume: ice volume";
  c.subtitle = "test_line_plot.cpp";
  c.x_label = "time (years)";
  c.y_label = "ice volume (km3)";
  c.series.push_back(
      curve(201, 0, 5000, [](double t) { return 2.955e6 + 0.095e6 * (1 - std::exp(-t / 1500)); }));
  return c;
}

} // namespace

TEST(LinePlot, PaletteIsDistinct) {
  for (std::size_t i = 0; i < 10; ++i) {
    for (std::size_t j = 0; j < i; ++j) EXPECT_NE(series_colour(i), series_colour(j));
    EXPECT_EQ(series_colour(i), series_colour(i + 10)); // repeats after ten
  }
  const auto blue = series_colour(0);
  EXPECT_NEAR(blue[0], 0x1f / 255.0, 1e-12);
  EXPECT_NEAR(blue[1], 0x77 / 255.0, 1e-12);
  EXPECT_NEAR(blue[2], 0xb4 / 255.0, 1e-12);
}

TEST(LinePlot, SizeAndCurveColour) {
  nunatak::test::TempDir tmp;
  const std::string file = tmp.file("volume.png");
  write_line_png(volume_chart(), file);
  ASSERT_TRUE(fs::exists(file));
  EXPECT_EQ(entries(tmp), 1u) << "temporary file left behind";
  const Image im(file);
  EXPECT_EQ(im.width, 900);
  EXPECT_EQ(im.height, 500);
  EXPECT_GT(count(im, series_colour(0)), 400); // a 2 px line across most of the width
  EXPECT_EQ(count(im, series_colour(1)), 0);   // one series: no legend, no second colour
  // The curve spans the plot area: most columns of the image hold it.
  const auto cols = columns_with(im, series_colour(0));
  EXPECT_GT(std::count(cols.begin(), cols.end(), true), im.width * 3 / 4);

  write_line_png(volume_chart(), file, 640, 360); // replaces the file
  const Image small(file);
  EXPECT_EQ(small.width, 640);
  EXPECT_EQ(small.height, 360);
  EXPECT_GT(count(small, series_colour(0)), 300);
  EXPECT_EQ(entries(tmp), 1u);
}

TEST(LinePlot, SecondSeriesAndLegend) {
  nunatak::test::TempDir tmp;
  LineChart c = volume_chart();
  c.series[0].label = "ice volume";
  c.series.push_back(curve(
      101, 0, 5000, [](double t) { return 3.0e6 - 20.0 * t; }, "ice volume (control)"));
  const std::string file = tmp.file("two.png");
  write_line_png(c, file);
  const Image im(file);
  EXPECT_GT(count(im, series_colour(0)), 400);
  EXPECT_GT(count(im, series_colour(1)), 400);
  EXPECT_EQ(count(im, series_colour(2)), 0);

  // The second series alone (still one series): its own colour is the first one.
  c.series.erase(c.series.begin());
  write_line_png(c, file);
  const Image one(file);
  EXPECT_GT(count(one, series_colour(0)), 400);
  EXPECT_EQ(count(one, series_colour(1)), 0);
}

TEST(LinePlot, NanBreaksTheLine) {
  nunatak::test::TempDir tmp;
  LineChart c;
  c.x_label = "x";
  c.y_label = "y";
  c.series.push_back(curve(101, 0, 100, [](double x) { return std::sin(x / 10); }));
  const std::string whole = tmp.file("whole.png"), gap = tmp.file("gap.png");
  write_line_png(c, whole);
  for (std::size_t i = 40; i <= 60; ++i) c.series[0].y[i] = k_nan; // x in [40, 60]
  write_line_png(c, gap);

  // Columns holding the curve: one unbroken run without the gap, a hole where the NaNs are.
  auto runs = [](const std::vector<bool>& has) {
    std::vector<std::array<int, 2>> r; // [first, last] column of each run
    for (int x = 0; x < static_cast<int>(has.size()); ++x)
      if (has[static_cast<std::size_t>(x)]) {
        if (r.empty() || r.back()[1] != x - 1)
          r.push_back({x, x});
        else
          r.back()[1] = x;
      }
    return r;
  };
  const auto full = runs(columns_with(Image(whole), series_colour(0)));
  ASSERT_EQ(full.size(), 1u);
  const auto broken = runs(columns_with(Image(gap), series_colour(0)));
  ASSERT_EQ(broken.size(), 2u);
  const double span = full[0][1] - full[0][0];                      // pixels for x in [0, 100]
  EXPECT_NEAR(broken[0][1] - full[0][0], 0.39 * span, 0.02 * span); // ends at x = 39
  EXPECT_NEAR(broken[1][0] - full[0][0], 0.61 * span, 0.02 * span); // resumes at x = 61

  // A single finite point between NaNs is drawn as a dot.
  Series dot;
  dot.x = {0, 1, 2, 3, 4};
  dot.y = {1, k_nan, 3, k_nan, 2};
  c.series = {dot};
  write_line_png(c, gap);
  const auto dots = runs(columns_with(Image(gap), series_colour(0)));
  EXPECT_EQ(dots.size(), 3u);
}

TEST(LinePlot, ConstantSeriesIsPadded) {
  nunatak::test::TempDir tmp;
  LineChart c;
  c.y_label = "ice area (km2)";
  for (const double v : {0.0, 1.7e6}) {
    c.series = {curve(50, 0, 1000, [v](double) { return v; })};
    const std::string file = tmp.file("constant.png");
    write_line_png(c, file);
    const Image im(file);
    const auto rows = rows_with(im, series_colour(0));
    ASSERT_GE(rows[0], 0) << "constant " << v << " not drawn";
    EXPECT_LE(rows[1] - rows[0], 2) << "a horizontal 2 px line";
    EXPECT_GT(rows[0], im.height / 4); // near the middle of the plot area
    EXPECT_LT(rows[1], im.height * 3 / 4);
  }
}

TEST(LinePlot, Errors) {
  nunatak::test::TempDir tmp;
  const std::string file = tmp.file("bad.png");
  auto expect_error = [&](const LineChart& c, const std::string& what,
                          const std::string& path = "") {
    const std::string where = path.empty() ? file : path;
    try {
      write_line_png(c, where);
      ADD_FAILURE() << "no error for " << what;
    } catch (const nunatak::Error& e) {
      EXPECT_NE(std::string(e.what()).find(where), std::string::npos) << e.what();
    }
    EXPECT_FALSE(fs::exists(where)) << what;
    EXPECT_EQ(entries(tmp), 0u) << what;
  };
  const LineChart good = volume_chart();

  LineChart c = good;
  c.series.clear();
  expect_error(c, "no series");
  c = good;
  c.series[0].y.pop_back();
  expect_error(c, "x/y size mismatch");
  c = good;
  for (double& y : c.series[0].y) y = k_nan;
  expect_error(c, "no finite point");
  c = good;
  c.series[0].x.assign(c.series[0].x.size(), std::numeric_limits<double>::infinity());
  expect_error(c, "no finite x");
  c = good;
  c.series.push_back(Series{}); // an empty series beside a good one is fine, but not alone
  c.series.erase(c.series.begin());
  expect_error(c, "only an empty series");
  expect_error(good, "missing folder",
               (fs::path(tmp.path()) / "no_such_folder" / "v.png").string());
  try {
    write_line_png(good, file, 100, 500);
    ADD_FAILURE() << "no error for a tiny width";
  } catch (const nunatak::Error& e) {
    EXPECT_NE(std::string(e.what()).find("100 x 500"), std::string::npos) << e.what();
  }
  EXPECT_EQ(entries(tmp), 0u);

  // The chart is fine with a valid configuration, also with an empty series beside a good one.
  c = good;
  c.series.push_back(Series{});
  write_line_png(c, file);
  EXPECT_TRUE(fs::exists(file));
  EXPECT_EQ(entries(tmp), 1u);
}

TEST(LinePlot, QuicklookOfTimeSeries) {
  nunatak::test::TempDir tmp;
  nunatak::test::TestFile f;
  f.dims = {{"time", 0}}; // unlimited, as in the time-series file of a run
  const int n = 51;
  const double fill = -9999.0;
  nunatak::test::TestVar time{"time", {"time"}, {}, {}, {}};
  time.text = {{"units", "seconds since 0001-01-01 00:00:00"}, {"axis", "T"}};
  nunatak::test::TestVar volume{"ice_volume", {"time"}, {}, {}, {}};
  volume.text = {{"units", "m3"}, {"long_name", "ice volume"}};
  volume.numbers = {{"_FillValue", fill}};
  nunatak::test::TestVar area{"ice_area", {"time"}, {}, {}, {}};
  area.text = {{"units", "m2"}, {"long_name", "ice-covered area"}};
  for (int i = 0; i < n; ++i) {
    time.values.push_back(100.0 * i * nunatak::core::seconds_per_year); // 0 .. 5000 years
    volume.values.push_back(2.955e15 + 1.9e10 * i);
    area.values.push_back(1.7e12); // constant
  }
  for (int i = 20; i < 25; ++i) volume.values[static_cast<std::size_t>(i)] = fill; // a gap
  f.vars = {time, volume, area};
  const std::string nc = tmp.file("run_ts.nc");
  nunatak::test::write_test_file(nc, f);

  const std::string png = nunatak::io::quicklook_path(nc, "ice_volume");
  EXPECT_EQ(fs::path(png).filename(), "run_ts_ice_volume.png");
  nunatak::io::write_quicklook(nc, "ice_volume", png);
  ASSERT_TRUE(fs::exists(png));
  const Image im(png);
  EXPECT_EQ(im.width, 900);
  EXPECT_EQ(im.height, 500);
  EXPECT_GT(count(im, series_colour(0)), 300);
  // The fill values break the line into two runs of columns.
  const auto cols = columns_with(im, series_colour(0));
  int runs = 0;
  for (std::size_t x = 0; x < cols.size(); ++x) runs += cols[x] && (x == 0 || !cols[x - 1]);
  EXPECT_EQ(runs, 2);

  nunatak::io::QuicklookOptions narrow;
  narrow.width_px = 600;
  const std::string area_png = tmp.file("area.png");
  nunatak::io::write_quicklook(nc, "ice_area", area_png, narrow); // constant: still drawn
  const Image small(area_png);
  EXPECT_EQ(small.width, 600);
  EXPECT_EQ(small.height, 333);
  EXPECT_GT(count(small, series_colour(0)), 200);

  // The time coordinate itself is a 1-D variable along time too.
  nunatak::io::write_quicklook(nc, "time", tmp.file("time.png"));
  EXPECT_TRUE(fs::exists(tmp.file("time.png")));

  try {
    nunatak::io::write_quicklook(nc, "nothing", tmp.file("nothing.png"));
    ADD_FAILURE() << "no error for a missing variable";
  } catch (const nunatak::Error& e) {
    EXPECT_NE(std::string(e.what()).find("variable 'nothing' not found"), std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(fs::exists(tmp.file("nothing.png")));
}

TEST(LinePlot, QuicklookOfMapIsUnchanged) {
  // A (time, y, x) field in a file that also holds a 1-D time variable: still a map.
  nunatak::test::TempDir tmp;
  nunatak::test::TestFile f = nunatak::test::grid_file(20, 10, 5e3, 5e3);
  f.dims.insert(f.dims.begin(), {"time", 0});
  nunatak::test::TestVar time{"time", {"time"}, {0.0, 3.15e10}, {}, {}};
  time.text = {{"units", "seconds since 0001-01-01 00:00:00"}};
  nunatak::test::TestVar thk{"thk", {"time", "y", "x"}, {}, {{"units", "m"}}, {}};
  for (int k = 0; k < 2; ++k)
    for (int j = 0; j < 10; ++j)
      for (int i = 0; i < 20; ++i) thk.values.push_back(100.0 + 10 * i + j + 1000 * k);
  f.vars.push_back(time);
  f.vars.push_back(thk);
  const std::string nc = tmp.file("run.nc");
  nunatak::test::write_test_file(nc, f);
  const std::string png = tmp.file("thk.png");
  nunatak::io::write_quicklook(nc, "thk", png);
  const Image im(png);
  EXPECT_EQ(im.width, 900);
  EXPECT_GT(count(im, nunatak::io::viridis(1)), 100); // map cells and colour bar
  EXPECT_EQ(count(im, series_colour(0)), 0);          // not a line chart
}
