/// \file line_plot.cpp
/// Line charts with cairo: a framed plot area with grid lines at nice ticks, one
/// antialiased polyline per series (broken at non-finite points), axis labels with a
/// common power-of-ten scale where the values need one, an optional legend and a
/// title block, written to a temporary PNG and renamed into place.

#include "nunatak/io/line_plot.hpp"

#include "plot_common.hpp"

#include "nunatak/core/error.hpp"

#include <cairo.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

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

constexpr double k_line_width = 2.0;
constexpr Rgb k_grid_grey{0.88, 0.88, 0.88};
constexpr Rgb k_legend_frame{0.75, 0.75, 0.75};
constexpr Rgb k_text{0.1, 0.1, 0.1};

void set_colour(cairo_t* g, const Rgb& c) {
  cairo_set_source_rgb(g, c[0], c[1], c[2]);
}

// "×10⁶", "×10⁻³" (UTF-8; DejaVu Sans has the superscript digits).
std::string power_of_ten(int e) {
  static const char* const superscript[] = {"⁰", "¹", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹"};
  std::string digits;
  for (const char c : std::to_string(std::abs(e))) digits += superscript[c - '0'];
  return std::string("×10") + (e < 0 ? "⁻" : "") + digits;
}

// The axis label with the scale of its tick labels: "volume (km3)" -> "volume (×10⁶ km3)",
// "volume" -> "volume (×10⁶)".
std::string scaled_label(const std::string& label, int e) {
  if (e == 0) return label;
  const std::string scale = power_of_ten(e);
  if (label.empty()) return scale;
  const auto open = label.rfind('(');
  if (label.back() == ')' && open != std::string::npos)
    return label.substr(0, open + 1) + scale + " " + label.substr(open + 1);
  return label + " (" + scale + ")";
}

// One axis: the data range [lo, hi] shown, the power of ten e (a multiple of 3) the tick
// labels are scaled by, and the ticks in scaled units.
struct Axis {
  double lo = 0, hi = 1;
  int e = 0;
  Ticks ticks;
  double scale() const { return std::pow(10.0, e); }
};

// The range of `lo`..`hi` to show: a (near-)constant range is widened around its value,
// otherwise `pad` of the span is added on both sides.
Axis axis_range(double lo, double hi, double pad) {
  Axis a;
  const double max_abs = std::max(std::fabs(lo), std::fabs(hi));
  if (hi - lo <= 1e-9 * max_abs) { // constant
    const double mid = 0.5 * (lo + hi), w = mid != 0 ? 0.1 * std::fabs(mid) : 1.0;
    a.lo = mid - w;
    a.hi = mid + w;
  } else {
    a.lo = lo - pad * (hi - lo);
    a.hi = hi + pad * (hi - lo);
  }
  const double m = std::max(std::fabs(a.lo), std::fabs(a.hi));
  if (m >= 1e5 || (m > 0 && m < 1e-3)) a.e = 3 * static_cast<int>(std::floor(std::log10(m) / 3.0));
  return a;
}

// Ticks for `a` with about `target` of them, in scaled units, labelled with a true minus sign.
void make_ticks(Axis& a, int target) {
  a.ticks = linear_ticks(a.lo / a.scale(), a.hi / a.scale(), target);
  for (auto& s : a.ticks.label)
    if (!s.empty() && s[0] == '-') s = "−" + s.substr(1);
}

// Ticks as make_ticks, with an end of the range moved out to the next tick when that is
// within 2 % of the span (e.g. a time series that starts a step after 0 starts at 0).
void make_snapped_ticks(Axis& a, int target) {
  make_ticks(a, target);
  if (a.ticks.at.size() < 2) return;
  const double step = (a.ticks.at[1] - a.ticks.at[0]) * a.scale(), near = 0.02 * (a.hi - a.lo);
  const double lo = std::floor(a.lo / step + 1e-9) * step,
               hi = std::ceil(a.hi / step - 1e-9) * step;
  if (a.lo - lo <= near) a.lo = lo;
  if (hi - a.hi <= near) a.hi = hi;
  make_ticks(a, target);
}

// `s` in a font of `size` px; if it is wider than `room` px, in a smaller font (down to 3/4 of
// `size`) and if need be shortened with "…" before its trailing "(units)". Sets the font.
std::string fit_text(cairo_t* g, const std::string& s, double size, double room,
                     bool bold = false) {
  set_font(g, size, bold);
  const double w = text_width(g, s);
  if (w <= room) return s;
  set_font(g, std::max(0.75 * size, size * room / w), bold);
  if (text_width(g, s) <= room) return s;
  const auto open = s.rfind(" (");
  const bool units = s.back() == ')' && open != std::string::npos && open > 0;
  std::string head = units ? s.substr(0, open) : s;
  const std::string tail = "…" + (units ? s.substr(open) : std::string());
  while (!head.empty() && text_width(g, head + tail) > room) {
    while (!head.empty() && (static_cast<unsigned char>(head.back()) & 0xc0) == 0x80)
      head.pop_back(); // continuation bytes of a UTF-8 character
    if (!head.empty()) head.pop_back();
    while (!head.empty() && head.back() == ' ') head.pop_back();
  }
  const auto space = head.rfind(' '); // end at a whole word if that loses little
  if (space != std::string::npos && head.size() - space <= 12) head.erase(space);
  return head + tail;
}

double widest(cairo_t* cr, const std::vector<std::string>& labels) {
  double w = 0;
  for (const auto& s : labels) w = std::max(w, text_width(cr, s));
  return w;
}

// The range of the points with a finite x and y.
struct Extent {
  double x0 = HUGE_VAL, x1 = -HUGE_VAL, y0 = HUGE_VAL, y1 = -HUGE_VAL;
};

// Throws if the chart cannot be drawn; returns the range of its finite points.
Extent check_chart(const LineChart& c, const std::string& path, int width, int height,
                   const std::string& where) {
  if (c.series.empty()) throw Error(where + "the chart has no series");
  Extent r;
  bool any = false;
  for (std::size_t k = 0; k < c.series.size(); ++k) {
    const Series& s = c.series[k];
    if (s.x.size() != s.y.size())
      throw Error(where + "series " + std::to_string(k + 1) +
                  (s.label.empty() ? "" : " ('" + s.label + "')") + " has " +
                  std::to_string(s.x.size()) + " x values but " + std::to_string(s.y.size()) +
                  " y values");
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      any = true;
      r.x0 = std::min(r.x0, s.x[i]);
      r.x1 = std::max(r.x1, s.x[i]);
      r.y0 = std::min(r.y0, s.y[i]);
      r.y1 = std::max(r.y1, s.y[i]);
    }
  }
  if (!any) throw Error(where + "no point with a finite x and y to draw");
  if (width < 300 || width > 10000 || height < 200 || height > 10000)
    throw Error(where + "image size " + std::to_string(width) + " x " + std::to_string(height) +
                " px is outside [300, 10000] x [200, 10000]");
  detail::check_output_folder(path, where);
  return r;
}

} // namespace

Rgb series_colour(std::size_t index) {
  // Tableau 10: distinct hues that stay distinguishable for most colour-vision deficiencies.
  static constexpr std::uint32_t palette[] = {0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd,
                                              0x8c564b, 0xe377c2, 0x7f7f7f, 0xbcbd22, 0x17becf};
  const std::uint32_t c = palette[index % 10];
  return {(c >> 16 & 0xffu) / 255.0, (c >> 8 & 0xffu) / 255.0, (c & 0xffu) / 255.0};
}

void write_line_png(const LineChart& chart, const std::string& path, int width_px, int height_px) {
  if (path.empty()) throw Error("cannot write line chart: empty output path");
  const std::string where = "cannot write line chart '" + path + "': ";
  const Extent ext = check_chart(chart, path, width_px, height_px, where);
  const int width = width_px, height = height_px;

  const Axis ax_data = axis_range(ext.x0, ext.x1, 0.0); // time series run from edge to edge
  Axis ax = ax_data;
  Axis ay = axis_range(ext.y0, ext.y1, 0.05); // curves keep clear of the frame
  const std::string x_label = scaled_label(chart.x_label, ax.e);
  const std::string y_label = scaled_label(chart.y_label, ay.e);

  // Layout in pixels; text is measured on a scratch surface first.
  Surface scratch(cairo_image_surface_create(CAIRO_FORMAT_RGB24, 1, 1), &cairo_surface_destroy);
  Context m(cairo_create(scratch.get()), &cairo_destroy);
  set_font(m.get(), 11);
  // Above: title (16 px bold) and subtitle (12 px) lines, then room for the top tick label.
  const int top = 8 + (chart.title.empty() ? 0 : 22) + (chart.subtitle.empty() ? 0 : 18) + 14;
  // Below: tick 5, gap 4, labels 11, then gap 9, axis label 12; margin 11.
  const int bottom = 5 + 4 + 11 + (x_label.empty() ? 0 : 21) + 11;
  const int ph = height - top - bottom;
  if (ph < 60)
    throw Error(where + "height_px = " + std::to_string(height) + " is too small for the labels");
  make_ticks(ay, std::clamp(ph / 55, 2, 8));
  // Left: margin 10, axis label 14 + gap 8, labels, gap 4, tick 5.
  const int left = static_cast<int>(
      std::ceil(10 + (y_label.empty() ? 0 : 22) + widest(m.get(), ay.ticks.label) + 4 + 5));
  int right = 20, pw = 0;
  for (int pass = 0; pass < 2; ++pass) { // the right margin holds half the last x label
    pw = width - left - right;
    if (pw < 80)
      throw Error(where + "width_px = " + std::to_string(width) + " is too small for the labels");
    // As many x ticks as fit with a gap of 1.5 label heights between the labels.
    for (int target = std::clamp(pw / 90, 2, 10); target >= 2; --target) {
      ax = ax_data;
      make_snapped_ticks(ax, target);
      if (ax.ticks.at.size() < 2) break;
      const double spacing = (ax.ticks.at[1] - ax.ticks.at[0]) * ax.scale() / (ax.hi - ax.lo) * pw;
      if (spacing >= widest(m.get(), ax.ticks.label) + 16) break;
    }
    right = std::max(20, static_cast<int>(std::ceil(widest(m.get(), ax.ticks.label) / 2 + 8)));
  }
  pw = width - left - right;
  const int px = left, py = top;
  auto to_x = [&](double x) { return px + (x - ax.lo) / (ax.hi - ax.lo) * pw; };
  auto to_y = [&](double y) { return py + ph - (y - ay.lo) / (ay.hi - ay.lo) * ph; };

  Surface surface(cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height),
                  &cairo_surface_destroy);
  Context cr(cairo_create(surface.get()), &cairo_destroy);
  cairo_t* g = cr.get();
  if (cairo_status(g) != CAIRO_STATUS_SUCCESS)
    throw Error(where + "cannot create a " + std::to_string(width) + " x " +
                std::to_string(height) + " image: " + cairo_status_to_string(cairo_status(g)));
  cairo_set_source_rgb(g, 1, 1, 1);
  cairo_paint(g);
  auto line = [g](double x0, double y0, double x1, double y1) {
    cairo_move_to(g, x0, y0);
    cairo_line_to(g, x1, y1);
  };

  // Grid lines at the ticks (half-pixel offsets keep 1 px lines crisp).
  std::vector<double> tick_x, tick_y; // pixel positions
  for (double t : ax.ticks.at) tick_x.push_back(std::floor(to_x(t * ax.scale())) + 0.5);
  for (double t : ay.ticks.at) tick_y.push_back(std::floor(to_y(t * ay.scale())) + 0.5);
  cairo_set_line_width(g, 1);
  set_colour(g, k_grid_grey);
  for (double X : tick_x) line(X, py, X, py + ph);
  for (double Y : tick_y) line(px, Y, px + pw, Y);
  cairo_stroke(g);

  // Curves, clipped to the plot area; a point between two gaps becomes a dot. The occupancy
  // grid (8 px cells) records where curves run, to place the legend where it hides least.
  constexpr int cell = 8;
  const int gx = pw / cell + 1, gy = ph / cell + 1;
  std::vector<int> occupied(static_cast<std::size_t>(gx) * gy, 0);
  auto mark = [&](double X, double Y) {
    const int i = std::clamp(static_cast<int>((X - px) / cell), 0, gx - 1);
    const int j = std::clamp(static_cast<int>((Y - py) / cell), 0, gy - 1);
    occupied[static_cast<std::size_t>(j) * gx + i] = 1;
  };
  cairo_save(g);
  cairo_rectangle(g, px, py, pw, ph);
  cairo_clip(g);
  cairo_set_line_width(g, k_line_width);
  cairo_set_line_join(g, CAIRO_LINE_JOIN_ROUND);
  cairo_set_line_cap(g, CAIRO_LINE_CAP_ROUND);
  for (std::size_t k = 0; k < chart.series.size(); ++k) {
    const Series& s = chart.series[k];
    std::vector<std::array<double, 2>> dots;
    std::size_t run = 0; // points in the current unbroken run
    double last_x = 0, last_y = 0;
    for (std::size_t i = 0; i <= s.x.size(); ++i) {
      const bool ok = i < s.x.size() && std::isfinite(s.x[i]) && std::isfinite(s.y[i]);
      if (!ok) {
        if (run == 1) dots.push_back({last_x, last_y});
        run = 0;
        continue;
      }
      const double X = to_x(s.x[i]), Y = to_y(s.y[i]);
      if (run == 0) {
        cairo_move_to(g, X, Y);
        mark(X, Y);
      } else {
        cairo_line_to(g, X, Y);
        const int steps = static_cast<int>(std::hypot(X - last_x, Y - last_y) / (cell / 2)) + 1;
        for (int q = 1; q <= steps; ++q)
          mark(last_x + (X - last_x) * q / steps, last_y + (Y - last_y) * q / steps);
      }
      ++run;
      last_x = X;
      last_y = Y;
    }
    set_colour(g, series_colour(k));
    cairo_stroke(g);
    for (const auto& d : dots) {
      cairo_new_sub_path(g);
      cairo_arc(g, d[0], d[1], 1.5 * k_line_width, 0, 2 * std::acos(-1.0));
    }
    cairo_fill(g);
  }
  cairo_restore(g);

  // Frame, ticks and tick labels.
  cairo_set_source_rgb(g, 0, 0, 0);
  cairo_set_line_width(g, 1);
  cairo_rectangle(g, px - 0.5, py - 0.5, pw + 1, ph + 1);
  for (double X : tick_x) line(X, py + ph + 0.5, X, py + ph + 5.5);
  for (double Y : tick_y) line(px - 0.5, Y, px - 5.5, Y);
  cairo_stroke(g);
  set_colour(g, k_text);
  set_font(g, 11);
  for (std::size_t i = 0; i < tick_x.size(); ++i)
    draw_text(g, ax.ticks.label[i], tick_x[i], py + ph + 9, 0.5, 0);
  for (std::size_t i = 0; i < tick_y.size(); ++i)
    draw_text(g, ay.ticks.label[i], px - 9, tick_y[i], 1, 0.5);

  // Axis labels, centred on the plot area; long ones smaller or shortened.
  if (!x_label.empty()) {
    const std::string s = fit_text(g, x_label, 12, width - 20);
    const double half = text_width(g, s) / 2; // keep the label inside the image
    draw_text(g, s, std::clamp(px + pw / 2.0, 10 + half, width - 10 - half), py + ph + 29, 0.5, 0);
  }
  if (!y_label.empty()) {
    const std::string s = fit_text(g, y_label, 12, ph + 40);
    draw_text(g, s, 10, py + ph / 2.0, 0.5, 0, true);
  }

  // Legend with two or more series: a framed box in the corner of the plot area that covers
  // the fewest curve cells (ties: top right, top left, bottom right, bottom left).
  if (chart.series.size() > 1) {
    set_font(g, 11);
    std::vector<std::string> labels;
    for (std::size_t k = 0; k < chart.series.size(); ++k)
      labels.push_back(chart.series[k].label.empty() ? "series " + std::to_string(k + 1)
                                                     : chart.series[k].label);
    const double sample = 24, pad = 8, row = 18;
    const double bw = std::ceil(pad + sample + 6 + widest(g, labels) + pad);
    const double bh = std::ceil(2 * pad - 4 + row * static_cast<double>(labels.size()));
    const double inset = 8;
    double best_x = 0, best_y = 0;
    long best = -1;
    for (const auto& [cx, cy] : {std::array<int, 2>{1, 0}, {0, 0}, {1, 1}, {0, 1}}) {
      const double bx = cx ? px + pw - inset - bw : px + inset;
      const double by = cy ? py + ph - inset - bh : py + inset;
      long covered = 0;
      for (int j = 0; j < gy; ++j)
        for (int i = 0; i < gx; ++i) {
          const double X = px + (i + 0.5) * cell, Y = py + (j + 0.5) * cell;
          if (X >= bx - cell && X <= bx + bw + cell && Y >= by - cell && Y <= by + bh + cell)
            covered += occupied[static_cast<std::size_t>(j) * gx + i];
        }
      if (best < 0 || covered < best) {
        best = covered;
        best_x = bx;
        best_y = by;
      }
    }
    const double bx = std::floor(best_x) + 0.5, by = std::floor(best_y) + 0.5;
    cairo_rectangle(g, bx, by, bw, bh);
    cairo_set_source_rgb(g, 1, 1, 1);
    cairo_fill_preserve(g);
    set_colour(g, k_legend_frame);
    cairo_stroke(g);
    cairo_set_line_width(g, k_line_width);
    cairo_set_line_cap(g, CAIRO_LINE_CAP_BUTT);
    for (std::size_t k = 0; k < labels.size(); ++k) {
      const double mid = std::round(by + pad - 2 + row * (static_cast<double>(k) + 0.5));
      set_colour(g, series_colour(k));
      line(bx + pad, mid, bx + pad + sample, mid);
      cairo_stroke(g);
      set_colour(g, k_text);
      draw_text(g, labels[k], bx + pad + sample + 6, mid, 0, 0.5);
    }
  }

  // Title block, centred (baselines at 26 and 46 px); a line wider than the image gets a
  // smaller font or is shortened.
  set_colour(g, k_text);
  auto title_line = [&](const std::string& s, double size, bool bold, double baseline) {
    draw_text(g, fit_text(g, s, size, width - 20, bold), width / 2.0, baseline, 0.5, 1);
  };
  if (!chart.title.empty()) title_line(chart.title, 16, true, 26);
  if (!chart.subtitle.empty()) title_line(chart.subtitle, 12, false, chart.title.empty() ? 24 : 46);

  if (cairo_status(g) != CAIRO_STATUS_SUCCESS)
    throw Error(where + "drawing failed: " + cairo_status_to_string(cairo_status(g)));
  detail::write_png_atomically(surface.get(), path, where);
}

} // namespace nunatak::io
