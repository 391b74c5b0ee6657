#include "nunatak/io/quicklook.hpp"

#include "nunatak/core/constants.hpp"
#include "nunatak/core/error.hpp"
#include "nunatak/io/input_file.hpp"
#include "nunatak/io/line_plot.hpp"
#include "nunatak/io/netcdf_file.hpp"
#include "nunatak/io/units.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <utility>

namespace nunatak::io {
namespace {

// True if `id` is a time series: exactly one dimension, named "time".
bool is_time_series(const NcFile& f, int id) {
  const auto dims = f.dimensions(id);
  return dims.size() == 1 && dims[0].name == "time";
}

// Times of the `time` coordinate in years when its units are "<unit> since <date>" with a
// unit of time, else as stored; without a usable `time` variable, the record numbers.
void time_axis(const NcFile& f, std::size_t n, Series& s, std::string& label) {
  s.x.resize(n);
  for (std::size_t i = 0; i < n; ++i) s.x[i] = double(i);
  label = "record";
  const auto t = f.find_variable("time");
  if (!t || !is_time_series(f, *t) || f.dimensions(*t)[0].length != n) return;
  s.x = read_decoded(f, *t);
  const std::string units = f.text_attribute(*t, "units").value_or("");
  const auto since = units.find(" since ");
  const std::string unit = units.substr(0, since);
  if (since != std::string::npos && unit == "seconds") {
    for (double& v : s.x) v /= core::seconds_per_year;
    label = "time (years)";
  } else if (since != std::string::npos && units_convertible(unit, "year")) {
    const UnitConversion c = unit_conversion(unit, "year", "time in '" + f.path() + "'");
    for (double& v : s.x) v = c(v);
    label = "time (years)";
  } else {
    label = units.empty() ? "time" : "time (" + units + ")";
  }
}

// Draws the time series `var` (variable `id` of `f`) as a line chart against time.
void write_time_series(const NcFile& f, int id, const std::string& var, const std::string& png_path,
                       const QuicklookOptions& options) {
  const std::size_t n = f.dimensions(id)[0].length;
  if (n == 0) throw Error("variable '" + var + "' in '" + f.path() + "' has no records");
  Series s;
  s.y = read_decoded(f, id);
  std::string units = f.text_attribute(id, "units").value_or("");
  if (!units.empty() && units_convertible(units, "m s-1")) { // speeds in m/yr, as on maps
    const UnitConversion c = unit_conversion(units, "m year-1", "variable '" + var + "'");
    for (double& v : s.y) v = c(v);
    units = "m/yr";
  }
  const std::string long_name = f.text_attribute(id, "long_name").value_or("");
  LineChart chart;
  chart.title = long_name.empty() ? var : var + ": " + long_name;
  chart.subtitle = std::filesystem::path(f.path()).filename().string();
  chart.y_label = (long_name.empty() ? var : long_name) + (units.empty() ? "" : " (" + units + ")");
  time_axis(f, n, s, chart.x_label);
  s.label = var;
  chart.series.push_back(std::move(s));
  const int height = static_cast<int>(std::lround(options.width_px * 5.0 / 9.0));
  write_line_png(chart, png_path, options.width_px, std::max(height, 200));
}

} // namespace

std::string quicklook_path(const std::string& nc_path, const std::string& var) {
  const std::filesystem::path p(nc_path);
  return (p.parent_path() / (p.stem().string() + "_" + var + ".png")).string();
}

void write_quicklook(const std::string& nc_path, const std::string& var,
                     const std::string& png_path, const QuicklookOptions& options) {
  { // A 1-D variable along time (e.g. the time-series file of a run): a line chart. Such
    // files have no x/y coordinates, so they are opened without InputFile.
    const NcFile f = NcFile::open(nc_path);
    const auto id = f.find_variable(var);
    if (!id) throw Error("variable '" + var + "' not found in '" + nc_path + "'");
    if (is_time_series(f, *id)) {
      if (options.time_index >= 0)
        throw Error("variable '" + var + "' in '" + nc_path +
                    "' is a time series, drawn whole as a line chart: a record (" +
                    std::to_string(options.time_index) + ") cannot be chosen");
      write_time_series(f, *id, var, png_path, options);
      return;
    }
  }
  const InputFile file(nc_path);
  if (!file.nc().find_variable(var))
    throw Error("variable '" + var + "' not found in '" + nc_path + "'");
  if (!file.is_map_field(var))
    throw Error("variable '" + var + "' in '" + nc_path +
                "' is not a map-plane field (it lacks the " + file.x_dimension() + "/" +
                file.y_dimension() + " dimensions)");
  const int id = file.nc().variable(var);
  // A record other than the first of a field without a time dimension: there
  // is none, rather than the one record drawn under another number.
  if (options.time_index > 0) {
    bool has_time = false;
    for (const auto& d : file.nc().dimensions(id)) has_time = has_time || file.is_time_dimension(d);
    if (!has_time)
      throw Error("variable '" + var + "' in '" + nc_path +
                  "' has no time dimension: it holds one record (0), not record " +
                  std::to_string(options.time_index));
  }
  MapData map;
  map.nx = file.grid().nx();
  map.ny = file.grid().ny();
  map.x = file.grid().x_coords();
  map.y = file.grid().y_coords();
  map.values = file.read_raw(var, options.time_index);
  for (const auto& w : file.warnings()) spdlog::warn("{}", w); // drawn on one rank
  map.units = file.nc().text_attribute(id, "units").value_or("");
  const std::string long_name = file.nc().text_attribute(id, "long_name").value_or("");
  const std::string standard_name = file.nc().text_attribute(id, "standard_name").value_or("");
  map.title = long_name.empty() ? var : var + ": " + long_name;
  map.subtitle = std::filesystem::path(nc_path).filename().string();
  if (auto t = file.nc().find_variable("time")) {
    const auto times = read_decoded(file.nc(), *t);
    const std::string t_units = file.nc().text_attribute(*t, "units").value_or("");
    if (!times.empty() && t_units.rfind("seconds since", 0) == 0) {
      const size_t k = options.time_index < 0 ? times.size() - 1 : size_t(options.time_index);
      if (k < times.size())
        map.subtitle +=
            "    t = " + std::to_string(long(std::lround(times[k] / core::seconds_per_year))) +
            " years";
    }
  }

  const bool is_speed_like = !map.units.empty() && units_convertible(map.units, "m s-1");
  if (is_speed_like) {
    const UnitConversion c = unit_conversion(map.units, "m year-1", "variable '" + var + "'");
    for (double& v : map.values)
      if (!std::isnan(v)) v = c(v);
    map.units = "m/yr";
  }
  // Zero thickness means no ice: show it as masked.
  if (standard_name == "land_ice_thickness" || var == "thk")
    for (double& v : map.values)
      if (v == 0.0) v = std::numeric_limits<double>::quiet_NaN();

  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (double v : map.values)
    if (!std::isnan(v)) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  PlotOptions plot;
  plot.vmin = options.vmin;
  plot.vmax = options.vmax;
  plot.width_px = options.width_px;
  const bool has_flags = file.nc().number_attribute(id, "flag_values").has_value();
  if (options.scale)
    plot.scale = *options.scale;
  else if (has_flags)
    plot.scale = ColourScale::linear;
  else if (lo < 0.0 && hi > 0.0)
    plot.scale = ColourScale::diverging;
  else if (is_speed_like && hi > 0.0)
    plot.scale = ColourScale::log;
  if (plot.scale == ColourScale::diverging && !plot.vmin && !plot.vmax) {
    // Symmetric limits at the 98th percentile of |value|, so that a few
    // extreme cells (outlet glaciers, ablation at the margin) do not wash out
    // the rest of the map.
    std::vector<double> magnitude;
    for (double v : map.values)
      if (!std::isnan(v)) magnitude.push_back(std::abs(v));
    if (magnitude.size() > 50) {
      const size_t k = magnitude.size() * 49 / 50;
      std::nth_element(magnitude.begin(), magnitude.begin() + long(k), magnitude.end());
      if (magnitude[k] > 0.0) {
        plot.vmin = -magnitude[k];
        plot.vmax = magnitude[k];
      }
    }
  }
  if (plot.scale == ColourScale::log) {
    // No ice motion is "no data" on a log scale; the default lower limit is the
    // 2nd percentile of the positive values, so a few near-zero cells do not
    // stretch the colour bar over many empty decades.
    std::vector<double> positive;
    for (double& v : map.values) {
      if (v <= 0.0) v = std::numeric_limits<double>::quiet_NaN();
      if (v > 0.0) positive.push_back(v);
    }
    if (!plot.vmin && positive.size() > 50) {
      const size_t k = positive.size() / 50;
      std::nth_element(positive.begin(), positive.begin() + long(k), positive.end());
      plot.vmin = positive[k];
      if (plot.vmax && *plot.vmin >= *plot.vmax) plot.vmin.reset();
    }
  }
  write_map_png(map, plot, png_path);
}

} // namespace nunatak::io
