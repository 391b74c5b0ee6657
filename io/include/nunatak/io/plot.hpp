#pragma once
/// \file plot.hpp
/// Quick-look maps: draws a 2-D field on a regular grid as a PNG with a colour
/// bar, a title block and axes in km. The implementation uses cairo; this header
/// does not expose it.

#include <array>
#include <optional>
#include <string>
#include <vector>

namespace nunatak::io {

/// How values map to colours.
enum class ColourScale {
  linear,   ///< viridis, linear in the value
  log,      ///< viridis, linear in log10 of the value; non-positive values get the lowest colour
  diverging ///< red-white-blue (negative red, as ablation), symmetric about zero unless limits are
            ///< given
};

/// A 2-D field on a regular grid, ready to draw.
struct MapData {
  int nx = 0, ny = 0; ///< number of cells in x and y
  std::vector<double>
      values;               ///< row-major [y][x], row 0 = smallest y (south); NaN = masked/no data
  std::vector<double> x, y; ///< cell-centre coordinates in metres, increasing, sizes nx and ny
  std::string title;        ///< e.g. "thk (land_ice_thickness)"
  std::string subtitle;     ///< e.g. the file name and time
  std::string units;        ///< units label for the colour bar, e.g. "m" or "m year-1"
};

/// How to draw a MapData.
struct PlotOptions {
  ColourScale scale = ColourScale::linear; ///< colour map and value transform
  std::optional<double> vmin,
      vmax;           ///< colour limits; default from the data (log: positive data only)
  int width_px = 900; ///< total image width; the height follows the aspect ratio of the map
};

/// Draws `data` as a map with a colour bar, title, axes in km and masked cells in grey,
/// and writes a PNG to `path` (written to a temporary name in the same folder and renamed
/// when complete; on any failure no file is left at `path`). Throws nunatak::Error.
void write_map_png(const MapData& data, const PlotOptions& options, const std::string& path);

/// Colour of value `t` in [0,1] of the sequential colour map (viridis), as RGB in [0,1].
/// `t` outside [0,1] is clamped; NaN gives the colour at 0.
std::array<double, 3> viridis(double t);

/// Colour of value `t` in [0,1] of the diverging colour map (red-white-blue, white at 0.5),
/// as RGB in [0,1]. `t` outside [0,1] is clamped; NaN gives the colour at 0.
std::array<double, 3> diverging_colour(double t);

} // namespace nunatak::io
