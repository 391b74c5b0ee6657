#pragma once
/// \file plot_common.hpp
/// Internal helpers shared by the cairo plotters (plot.cpp: maps, line_plot.cpp: line
/// charts): nice 1-2-5 ticks, text drawing in DejaVu Sans, the output-folder check and
/// writing a PNG atomically. Not installed; not part of the public interface.

#include "nunatak/core/error.hpp"

#include <cairo.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

namespace nunatak::io::detail {

using Rgb = std::array<double, 3>;

inline constexpr const char* k_font = "DejaVu Sans";

// "1.5e+07" -> "1.5e7", "2e-05" -> "2e-5".
inline std::string tidy_exponent(std::string s) {
  const auto e = s.find('e');
  if (e == std::string::npos) return s;
  const auto digits = s.find_first_not_of("+-0", e + 1);
  return s.substr(0, e) + (s[e + 1] == '-' ? "e-" : "e") +
         (digits == std::string::npos ? "0" : s.substr(digits));
}

struct Ticks {
  std::vector<double> at;
  std::vector<std::string> label;
};

// Ticks at multiples of a 1-2-5 step, about `target` of them inside [lo, hi].
inline Ticks linear_ticks(double lo, double hi, int target) {
  Ticks t;
  const double span = hi - lo;
  if (!(span > 0) || std::max(std::fabs(lo), std::fabs(hi)) > 1e12 * span)
    return t; // no usable step
  const double raw = span / std::max(target, 1);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / mag;
  const double step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
  const long i0 = std::lround(std::ceil(lo / step - 1e-9));
  const long i1 = std::lround(std::floor(hi / step + 1e-9));
  const double max_abs = std::max(std::fabs(lo), std::fabs(hi));
  for (long i = i0; i <= i1; ++i) {
    double v = static_cast<double>(i) * step;
    if (std::fabs(v) < 1e-6 * step) v = 0.0; // no "-0"
    char buf[40];
    if (max_abs >= 1e5 || max_abs < 1e-3) { // very large or small: significant digits
      const int digits = std::clamp(
          static_cast<int>(std::floor(std::log10(max_abs)) - std::floor(std::log10(step))) + 1, 1,
          15);
      std::snprintf(buf, sizeof buf, "%.*g", digits, v);
    } else { // fixed point with just enough decimals for the step
      const int decimals = std::max(0, static_cast<int>(std::ceil(-std::log10(step) - 1e-9)));
      std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    }
    t.at.push_back(v);
    t.label.push_back(tidy_exponent(buf));
  }
  return t;
}

using Surface = std::unique_ptr<cairo_surface_t, decltype(&cairo_surface_destroy)>;
using Context = std::unique_ptr<cairo_t, decltype(&cairo_destroy)>;

inline void set_font(cairo_t* cr, double size, bool bold = false) {
  cairo_select_font_face(cr, k_font, CAIRO_FONT_SLANT_NORMAL,
                         bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, size);
}

inline double text_width(cairo_t* cr, const std::string& s) {
  cairo_text_extents_t e;
  cairo_text_extents(cr, s.c_str(), &e);
  return e.x_advance;
}

// Draws `s` anchored at (x, y): ax = 0 / 0.5 / 1 for left / centre / right; ay = 0 / 0.5 / 1
// for the top / middle / baseline of the digit height, so labels in a row share a baseline.
// `up`: rotated to read bottom-to-top, centred on y, with the top of the text facing left at x.
inline void draw_text(cairo_t* cr, const std::string& s, double x, double y, double ax, double ay,
                      bool up = false) {
  cairo_save(cr);
  cairo_translate(cr, x, y);
  if (up) cairo_rotate(cr, -std::acos(-1.0) / 2);
  cairo_text_extents_t digit;
  cairo_text_extents(cr, "0", &digit);
  cairo_move_to(cr, -ax * text_width(cr, s), -(1.0 - ay) * digit.y_bearing);
  cairo_show_text(cr, s.c_str());
  cairo_restore(cr);
}

// Throws if the folder that is to hold `path` does not exist.
inline void check_output_folder(const std::string& path, const std::string& where) {
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!dir.empty() && !std::filesystem::is_directory(dir, ec))
    throw Error(where + "output folder '" + dir.string() + "' does not exist");
}

// Writes `surface` to `<path>.tmp.<pid>` and renames it to `path`; removes it on failure.
inline void write_png_atomically(cairo_surface_t* surface, const std::string& path,
                                 const std::string& where) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const cairo_status_t st = cairo_surface_write_to_png(surface, tmp.c_str());
  if (st != CAIRO_STATUS_SUCCESS) {
    std::remove(tmp.c_str());
    throw Error(where + "writing '" + tmp + "' failed: " + cairo_status_to_string(st));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    throw Error(where + "cannot rename '" + tmp + "': " + std::strerror(err));
  }
}

} // namespace nunatak::io::detail
