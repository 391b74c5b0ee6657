#pragma once
/// \file line_plot.hpp
/// Line charts (e.g. time series of ice volume) as PNG: one or more curves with
/// axes, nice ticks, grid lines and a legend. The implementation uses cairo; this
/// header does not expose it.

#include <array>
#include <cstddef>
#include <string>
#include <vector>

namespace nunatak::io {

/// One curve of a line chart.
struct Series {
  std::vector<double> x, y; ///< same size; a point with a non-finite x or y breaks the line
  std::string label;        ///< legend entry (a legend is drawn with two or more series)
};

/// A line chart: title, axis labels with units, one or more curves.
struct LineChart {
  std::string title;    ///< bold, centred at the top; may be empty
  std::string subtitle; ///< smaller, below the title; may be empty
  std::string x_label;  ///< e.g. "time (years)"
  std::string y_label;  ///< e.g. "ice volume (km3)"
  std::vector<Series> series;
};

/// Draws `chart` to a PNG at `path` (written to a temporary name in the same folder and
/// renamed when complete; on any failure no file is left at `path`).
///
/// The axes span the finite points (y padded by 5 %; a constant series gets a padded range)
/// with nice 1-2-5 ticks and light grid lines. Tick labels are plain numbers with a common
/// number of decimals; when the values are very large or small (|v| >= 1e5 or < 1e-3) they are
/// scaled by a power of ten that is a multiple of 3, and the axis label shows it, e.g.
/// "ice volume (×10⁶ km3)". Non-finite points break a curve; an isolated point is drawn as a
/// dot. With more than one series a legend is drawn inside the plot area, in the corner where
/// it hides the fewest points. Series colours are series_colour(0), series_colour(1), ...
///
/// Throws nunatak::Error (the message names `path`) if there is no series, a series has x and
/// y of different sizes, no point has a finite x and y, the output folder does not exist, or
/// the size is outside [300, 10000] x [200, 10000] px.
void write_line_png(const LineChart& chart, const std::string& path, int width_px = 900,
                    int height_px = 500);

/// Colour of series `index` of a line chart as RGB in [0,1]: a qualitative palette of ten
/// colours (blue, orange, green, red, purple, ...), repeating after ten series.
std::array<double, 3> series_colour(std::size_t index);

} // namespace nunatak::io
