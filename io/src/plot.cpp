/// \file plot.cpp
/// Quick-look maps with cairo: a map panel (one flat-coloured rectangle per cell,
/// nearest, no smoothing), a vertical colour bar, a title block and axes in km,
/// written to a temporary PNG and renamed into place.

#include "nunatak/io/plot.hpp"

#include "plot_common.hpp"

#include "nunatak/core/error.hpp"

#include <cairo.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>

namespace nunatak::io {
namespace {

using detail::Context;
using detail::draw_text;
using detail::linear_ticks;
using detail::Rgb;
using detail::set_font;
using detail::Surface;
using detail::text_width;
using detail::Ticks;

constexpr Rgb k_mask_grey{0.85, 0.85, 0.85};

// Linear interpolation in RGB between equally spaced anchors given as 0xRRGGBB.
template <std::size_t N>
Rgb interpolate(const std::array<std::uint32_t, N>& anchors, double t) {
  t = std::isnan(t) ? 0.0 : std::clamp(t, 0.0, 1.0);
  const double s = t * (N - 1);
  const std::size_t i = std::min<std::size_t>(static_cast<std::size_t>(s), N - 2);
  const double f = s - static_cast<double>(i);
  Rgb c{};
  for (int k = 0; k < 3; ++k) {
    const unsigned shift = 16 - 8 * k;
    c[k] =
        ((1.0 - f) * (anchors[i] >> shift & 0xffu) + f * (anchors[i + 1] >> shift & 0xffu)) / 255.0;
  }
  return c;
}

// Decades (1, 10, 100, ...) in [lo, hi], about `target` of them at most; with 2 and 5
// as well if that gives fewer than three ticks, and linear ticks for very narrow ranges.
Ticks log_ticks(double lo, double hi, int target) {
  const int e0 = static_cast<int>(std::floor(std::log10(lo) + 1e-9));
  const int e1 = static_cast<int>(std::floor(std::log10(hi) + 1e-9));
  const int stride = std::max(1, (e1 - e0 + target) / (target + 1));
  for (const bool fine : {false, true}) {
    Ticks t;
    for (int e = e0; e <= e1; ++e) {
      if (!fine && (e % stride + stride) % stride != 0) continue; // every stride-th decade
      for (int m : {1, 2, 5}) {
        const double v = m * std::pow(10.0, e);
        if ((!fine && m != 1) || v < lo * (1 - 1e-9) || v > hi * (1 + 1e-9)) continue;
        char buf[32];
        if (e >= -3 && e <= 3)
          std::snprintf(buf, sizeof buf, "%g", v);
        else
          std::snprintf(buf, sizeof buf, "%de%d", m, e);
        t.at.push_back(v);
        t.label.push_back(buf);
      }
    }
    if (t.at.size() >= 3) return t;
  }
  return linear_ticks(lo, hi, std::min(target, 5));
}

// Cell edges from increasing centres: midpoints, half a spacing outside at the ends.
std::vector<double> edges(const std::vector<double>& c, double fallback_spacing) {
  const std::size_t n = c.size();
  std::vector<double> e(n + 1);
  for (std::size_t i = 1; i < n; ++i) e[i] = 0.5 * (c[i - 1] + c[i]);
  e[0] = n > 1 ? c[0] - (e[1] - c[0]) : c[0] - 0.5 * fallback_spacing;
  e[n] = n > 1 ? c[n - 1] + (c[n - 1] - e[n - 1]) : c[0] + 0.5 * fallback_spacing;
  return e;
}

// Index of the cell containing `v` given its edges (clamped to valid cells).
int cell_of(const std::vector<double>& e, double v) {
  const auto i = std::upper_bound(e.begin(), e.end(), v) - e.begin() - 1;
  return static_cast<int>(
      std::clamp<std::ptrdiff_t>(i, 0, static_cast<std::ptrdiff_t>(e.size()) - 2));
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// Throws if the grid, the options or the output folder are unusable.
void check_input(const MapData& d, const PlotOptions& o, const std::string& path,
                 const std::string& where) {
  const auto str = [](auto n) { return std::to_string(n); };
  if (d.nx <= 0 || d.ny <= 0)
    throw Error(where + "grid size nx = " + str(d.nx) + ", ny = " + str(d.ny) +
                " must be positive");
  if (d.values.size() != static_cast<std::size_t>(d.nx) * static_cast<std::size_t>(d.ny))
    throw Error(where + str(d.values.size()) + " values for a " + str(d.nx) + " x " + str(d.ny) +
                " grid");
  if (d.x.size() != static_cast<std::size_t>(d.nx) || d.y.size() != static_cast<std::size_t>(d.ny))
    throw Error(where + "coordinate sizes x: " + str(d.x.size()) + ", y: " + str(d.y.size()) +
                " do not match nx = " + str(d.nx) + ", ny = " + str(d.ny));
  for (const auto* c : {&d.x, &d.y})
    for (std::size_t i = 0; i < c->size(); ++i)
      if (!std::isfinite((*c)[i]) || (i > 0 && !((*c)[i] > (*c)[i - 1])))
        throw Error(where + (c == &d.x ? "x" : "y") + " coordinates must be finite and increasing");
  if (o.width_px < 300 || o.width_px > 10000)
    throw Error(where + "width_px = " + str(o.width_px) + " is outside [300, 10000]");
  for (const auto& lim : {o.vmin, o.vmax})
    if (lim && !std::isfinite(*lim)) throw Error(where + "colour limits must be finite");
  if (o.vmin && o.vmax && !(*o.vmin < *o.vmax))
    throw Error(where + "colour limits vmin = " + num(*o.vmin) +
                " must be less than vmax = " + num(*o.vmax));
  if (o.scale == ColourScale::log && o.vmin && *o.vmin <= 0)
    throw Error(where + "log colour scale needs vmin > 0, got vmin = " + num(*o.vmin));
  detail::check_output_folder(path, where);
}

// Maps values to colours: the colour limits and the scale.
struct ValueScale {
  ColourScale kind = ColourScale::linear;
  bool has_data = false; // false when every value is masked
  double lo = 0, hi = 1; // colour limits
  // Position of `v` along the colour map, clamped to [0, 1].
  double fraction(double v) const {
    if (kind == ColourScale::log)
      return std::clamp(v > 0 ? std::log10(v / lo) / std::log10(hi / lo) : 0.0, 0.0, 1.0);
    return std::clamp((v - lo) / (hi - lo), 0.0, 1.0);
  }
  Rgb colour(double t) const {
    return kind == ColourScale::diverging ? diverging_colour(t) : viridis(t);
  }
};

// Colour limits from the options, defaulting to the finite data (NaN is masked).
ValueScale value_scale(const MapData& d, const PlotOptions& o, const std::string& where) {
  ValueScale s;
  s.kind = o.scale;
  double dmin = HUGE_VAL, dmax = -HUGE_VAL, max_abs = 0, min_pos = HUGE_VAL;
  for (double v : d.values) {
    if (!std::isfinite(v)) continue;
    s.has_data = true;
    dmin = std::min(dmin, v);
    dmax = std::max(dmax, v);
    max_abs = std::max(max_abs, std::fabs(v));
    if (v > 0) min_pos = std::min(min_pos, v);
  }
  if (!s.has_data) return s;
  const bool is_log = o.scale == ColourScale::log;
  if (is_log) {
    if (!(dmax > 0)) throw Error(where + "log colour scale but the field has no positive value");
    s.lo = o.vmin.value_or(min_pos);
    s.hi = o.vmax.value_or(dmax);
  } else if (o.scale ==
             ColourScale::diverging) { // symmetric about zero unless both limits are given
    s.hi = o.vmax ? *o.vmax : o.vmin ? -*o.vmin : max_abs;
    s.lo = o.vmin ? *o.vmin : -s.hi;
  } else {
    s.lo = o.vmin.value_or(dmin);
    s.hi = o.vmax.value_or(dmax);
  }
  if (s.lo > s.hi)
    throw Error(where + "colour limits vmin = " + num(s.lo) +
                " must be less than vmax = " + num(s.hi));
  if (s.lo == s.hi) { // constant field: widen around the value
    const double w = s.lo != 0 ? 0.1 * std::fabs(s.lo) : 1.0;
    s.lo = is_log ? s.lo / 2 : s.lo - w;
    s.hi = is_log ? s.hi * 2 : s.hi + w;
  }
  return s;
}

} // namespace

Rgb viridis(double t) {
  return interpolate<9>(
      {0x440154, 0x472d7b, 0x3b528b, 0x2c728e, 0x21918c, 0x28ae80, 0x5ec962, 0xaddc30, 0xfde725},
      t);
}

Rgb diverging_colour(double t) {
  return interpolate<7>({0xb2182b, 0xef8a62, 0xfddbc7, 0xf7f7f7, 0xd1e5f0, 0x67a9cf, 0x2166ac}, t);
}

void write_map_png(const MapData& d, const PlotOptions& o, const std::string& path) {
  if (path.empty()) throw Error("cannot write map: empty output path");
  const std::string where = "cannot write map '" + path + "': ";
  check_input(d, o, path, where);
  const ValueScale vs = value_scale(d, o, where);

  const double sx = d.nx > 1 ? d.x[1] - d.x[0] : (d.ny > 1 ? d.y[1] - d.y[0] : 1.0);
  const double sy = d.ny > 1 ? d.y[1] - d.y[0] : sx;
  const std::vector<double> ex = edges(d.x, sx), ey = edges(d.y, sy);
  const double extent_x = ex.back() - ex.front(), extent_y = ey.back() - ey.front();
  const double aspect = extent_y / extent_x;

  // Layout in pixels; text is measured on a scratch surface first.
  Surface scratch(cairo_image_surface_create(CAIRO_FORMAT_RGB24, 1, 1), &cairo_surface_destroy);
  Context m(cairo_create(scratch.get()), &cairo_destroy);
  auto bar_ticks = [&](int target) { // decades for log; log_ticks falls back to linear ones
    if (!vs.has_data) return Ticks{};
    if (vs.kind == ColourScale::log) return log_ticks(vs.lo, vs.hi, target + 2);
    return linear_ticks(vs.lo, vs.hi, target);
  };
  Ticks cbar = bar_ticks(6);
  set_font(m.get(), 11);
  double cbar_label_w = 0;
  for (const auto& s : cbar.label) cbar_label_w = std::max(cbar_label_w, text_width(m.get(), s));
  const std::string note = "no valid data";
  // Right of the panel: gap 18, bar 18, tick 4 + gap 4, labels, gap 8 + units 14, margin 10;
  // or the note instead of the bar.
  const int bar_gap = 18, bar_w = 18;
  const double right_w = vs.has_data
                             ? bar_gap + bar_w + 8 + cbar_label_w + (d.units.empty() ? 0 : 22) + 10
                             : bar_gap + text_width(m.get(), note) + 10;
  const int right = static_cast<int>(std::ceil(right_w));
  // Above: title (16 px bold) and subtitle (12 px) lines, then 14 px so the top labels fit.
  const int top = 8 + (d.title.empty() ? 0 : 22) + (d.subtitle.empty() ? 0 : 18) + 14;
  // Below: tick 5, gap 4, labels 11, gap 9, axis label 12, margin 11.
  const int bottom = 52;
  const int width = o.width_px, max_height = static_cast<int>(1.6 * width);
  int left = 40, pw = 0, ph = 0;
  Ticks yt;
  for (int pass = 0; pass < 3; ++pass) { // the left margin depends on the y labels and vice versa
    pw = width - left - right;
    if (pw < 60)
      throw Error(where + "width_px = " + std::to_string(width) + " is too small for the labels");
    ph = std::max(1, static_cast<int>(std::lround(pw * aspect)));
    if (top + ph + bottom > max_height) { // tall domain: limit the height, narrow the panel
      ph = max_height - top - bottom;
      pw = std::max(1, static_cast<int>(std::lround(ph / aspect)));
    }
    yt = linear_ticks(ey.front() / 1000, ey.back() / 1000, std::clamp(ph / 60, 2, 8));
    double yw = 0;
    for (const auto& s : yt.label) yw = std::max(yw, text_width(m.get(), s));
    // Left of the panel: margin 10, axis label 14, gap 8, labels, gap 4, tick 5.
    left = std::max(left, static_cast<int>(std::ceil(10 + 14 + 8 + yw + 4 + 5)));
  }
  const int bar_h = std::max(ph, 80);
  if (bar_h < 180) cbar = bar_ticks(std::max(2, bar_h / 30)); // short bar: fewer labels
  const int height = top + bar_h + bottom;
  const int px = std::max(0, (width - left - pw - right) / 2) + left,
            py = top; // centre panel + bar
  const int bx = px + pw + bar_gap, by = py;
  const Ticks xt = linear_ticks(ex.front() / 1000, ex.back() / 1000, std::clamp(pw / 100, 2, 8));

  Surface surface(cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height),
                  &cairo_surface_destroy);
  Context cr(cairo_create(surface.get()), &cairo_destroy);
  cairo_t* g = cr.get();
  if (cairo_status(g) != CAIRO_STATUS_SUCCESS)
    throw Error(where + "cannot create a " + std::to_string(width) + " x " +
                std::to_string(height) + " image: " + cairo_status_to_string(cairo_status(g)));
  cairo_set_source_rgb(g, 1, 1, 1);
  cairo_paint(g);

  // Panel and colour bar: set pixels directly (nearest cell for each pixel centre).
  cairo_surface_flush(surface.get());
  unsigned char* pixels = cairo_image_surface_get_data(surface.get());
  const int stride = cairo_image_surface_get_stride(surface.get());
  auto put = [&](int X, int Y, const Rgb& c) {
    auto byte = [](double v) { return static_cast<std::uint32_t>(std::lround(v * 255)); };
    const std::uint32_t xrgb = 0xff000000u | byte(c[0]) << 16 | byte(c[1]) << 8 | byte(c[2]);
    std::memcpy(pixels + static_cast<std::size_t>(Y) * stride + 4 * static_cast<std::size_t>(X),
                &xrgb, 4);
  };
  std::vector<int> col(pw);
  for (int c = 0; c < pw; ++c) col[c] = cell_of(ex, ex.front() + (c + 0.5) / pw * extent_x);
  for (int r = 0; r < ph; ++r) {
    const int iy = cell_of(ey, ey.back() - (r + 0.5) / ph * extent_y); // row 0 of the image = north
    for (int c = 0; c < pw; ++c) {
      const double v = d.values[static_cast<std::size_t>(iy) * d.nx + col[c]];
      put(px + c, py + r,
          (!vs.has_data || std::isnan(v)) ? k_mask_grey : vs.colour(vs.fraction(v)));
    }
  }
  if (vs.has_data)
    for (int r = 0; r < bar_h; ++r)
      for (int c = 0; c < bar_w; ++c) put(bx + c, by + r, vs.colour(1.0 - (r + 0.5) / bar_h));
  cairo_surface_mark_dirty(surface.get());

  // Frames, ticks and labels (half-pixel offsets keep 1 px lines crisp).
  cairo_set_source_rgb(g, 0, 0, 0);
  cairo_set_line_width(g, 1);
  cairo_rectangle(g, px - 0.5, py - 0.5, pw + 1, ph + 1);
  if (vs.has_data) cairo_rectangle(g, bx - 0.5, by - 0.5, bar_w + 1, bar_h + 1);
  cairo_stroke(g);
  auto line = [g](double x0, double y0, double x1, double y1) {
    cairo_move_to(g, x0, y0);
    cairo_line_to(g, x1, y1);
  };
  set_font(g, 11);
  for (std::size_t i = 0; i < xt.at.size(); ++i) { // below the panel
    const double X = std::floor(px + (xt.at[i] * 1000 - ex.front()) / extent_x * pw) + 0.5;
    line(X, py + ph + 0.5, X, py + ph + 5.5);
    draw_text(g, xt.label[i], X, py + ph + 9, 0.5, 0);
  }
  for (std::size_t i = 0; i < yt.at.size(); ++i) { // left of the panel
    const double Y = std::floor(py + (ey.back() - yt.at[i] * 1000) / extent_y * ph) + 0.5;
    line(px - 0.5, Y, px - 5.5, Y);
    draw_text(g, yt.label[i], px - 9, Y, 1, 0.5);
  }
  for (std::size_t i = 0; i < cbar.at.size(); ++i) { // right of the colour bar
    const double Y = std::floor(by + (1.0 - vs.fraction(cbar.at[i])) * bar_h) + 0.5;
    line(bx + bar_w + 0.5, Y, bx + bar_w + 4.5, Y);
    draw_text(g, cbar.label[i], bx + bar_w + 8, Y, 0, 0.5);
  }
  cairo_stroke(g);
  set_font(g, 12);
  draw_text(g, "x (km)", px + pw / 2.0, py + ph + 29, 0.5, 0);
  draw_text(g, "y (km)", px - left + 10, py + ph / 2.0, 0.5, 0, true);
  if (vs.has_data)
    draw_text(g, d.units, bx + bar_w + 16 + cbar_label_w, by + bar_h / 2.0, 0.5, 0, true);
  if (!vs.has_data) draw_text(g, note, bx, by + ph / 2.0, 0, 0.5);
  // Title block, centred (baselines at 26 and 46 px); a line wider than the image gets a smaller
  // font.
  auto title_line = [&](const std::string& s, double size, bool bold, double baseline) {
    set_font(g, size, bold);
    const double w = text_width(g, s);
    if (w > width - 20) set_font(g, size * (width - 20) / w, bold);
    draw_text(g, s, width / 2.0, baseline, 0.5, 1);
  };
  if (!d.title.empty()) title_line(d.title, 16, true, 26);
  if (!d.subtitle.empty()) title_line(d.subtitle, 12, false, d.title.empty() ? 24 : 46);
  if (cairo_status(g) != CAIRO_STATUS_SUCCESS)
    throw Error(where + "drawing failed: " + cairo_status_to_string(cairo_status(g)));
  detail::write_png_atomically(surface.get(), path, where);
}

} // namespace nunatak::io
