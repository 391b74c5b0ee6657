#pragma once
/// \file quicklook.hpp
/// Quick-look PNGs of variables in NetCDF files (`nunatak plot`): maps of 2-D fields,
/// line charts of time series.

#include "nunatak/io/plot.hpp"

#include <optional>
#include <string>

namespace nunatak::io {

/// Choices for one quick-look map; unset members are chosen from the data.
struct QuicklookOptions {
  /// Default: log for non-negative speeds, diverging for signed fields,
  /// linear otherwise.
  std::optional<ColourScale> scale;
  std::optional<double> vmin, vmax; ///< in the units shown
  int time_index = -1; ///< record to draw; -1: the last (a time series is drawn whole: -1 only)
  int width_px = 900;
};

/// Draws variable `var` of `nc_path` to `png_path`. Velocities are shown in
/// m/yr; zero ice thickness is shown as ice-free (masked). A 1-D variable along
/// the `time` dimension (as in the time-series file of a run) is drawn as a line
/// chart against time in years (width_px wide, 5/9 as high; the other options do not
/// apply). Throws nunatak::Error.
void write_quicklook(const std::string& nc_path, const std::string& var,
                     const std::string& png_path, const QuicklookOptions& options = {});

/// `DIR/STEM_VAR.png` for an output file `DIR/STEM.nc`.
std::string quicklook_path(const std::string& nc_path, const std::string& var);

} // namespace nunatak::io
