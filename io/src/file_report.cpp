#include "nunatak/io/file_report.hpp"

#include "nunatak/core/constants.hpp"
#include "nunatak/core/error.hpp"
#include "nunatak/io/input_file.hpp"
#include "nunatak/io/quantities.hpp"
#include "nunatak/io/units.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

namespace nunatak::io {

namespace {

const char* user_velocity_units = "m year-1";

/// Reads a whole variable decoded (unpacked, missing values as NaN); for a map
/// field, as InputFile::read_raw does (last record, flipped to increasing x/y).
std::vector<double> read_values(const NcFile& nc, const InputFile* file, const std::string& name) {
  if (file && file->is_map_field(name)) {
    try {
      return file->read_raw(name);
    } catch (const std::exception&) {
      // e.g. a (month, y, x) field: summarise all of it below
    }
  }
  return read_decoded(nc, nc.variable(name));
}

/// Values of quantity `name` in SI units, or empty if the file lacks it.
std::pair<std::string, std::vector<double>> find_quantity(const InputFile& file,
                                                          const std::string& name) {
  const QuantitySpec& spec = quantity(name);
  auto var = file.find(spec, "");
  if (!var) return {};
  try {
    return {*var, file.read(*var, spec)};
  } catch (const std::exception&) {
    return {};
  }
}

} // namespace

FileReport report_file(const std::string& path) {
  FileReport r;
  r.path = path;
  // A file without x/y coordinates (a time series) is still described.
  std::optional<InputFile> file;
  std::optional<NcFile> plain;
  try {
    file.emplace(path);
  } catch (const Error& e) {
    if (std::string(e.what()).find("no x/y coordinate variables") == std::string::npos) throw;
    plain.emplace(NcFile::open(path));
    r.has_grid = false;
  }
  const NcFile& nc = file ? file->nc() : *plain;
  if (file) {
    r.grid = file->grid();
    r.crs = r.grid.mapping() ? r.grid.mapping()->describe() : "none stated";
  }

  for (const auto& name : nc.variable_names()) {
    const int id = nc.variable(name);
    VariableSummary v;
    v.name = name;
    for (const auto& d : nc.dimensions(id))
      v.dimensions += (v.dimensions.empty() ? "" : ", ") + d.name;
    v.dimensions = "(" + v.dimensions + ")";
    v.units = nc.text_attribute(id, "units").value_or("");
    v.long_name = nc.text_attribute(id, "long_name").value_or("");
    const int type = nc.type(id);
    if (type == 2 /* NC_CHAR */ || type == 12 /* NC_STRING */ || v.dimensions == "()") {
      r.variables.push_back(v);
      continue;
    }
    // One variable that cannot be read (a bad attribute, too large) is
    // reported on its line, not the end of the report.
    std::vector<double> values;
    try {
      const CfDecoding decoding(nc, id);
      if (decoding.packed()) v.encoding = decoding.describe();
      values = read_values(nc, file ? &*file : nullptr, name);
    } catch (const Error& e) {
      v.problem = e.what();
      r.variables.push_back(v);
      continue;
    }
    UnitConversion show;
    if (!v.units.empty() && units_convertible(v.units, "m s-1")) {
      show = unit_conversion(v.units, user_velocity_units);
      v.units = user_velocity_units;
    }
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (double x : values) {
      if (std::isnan(x)) {
        ++v.missing;
        continue;
      }
      ++v.valid;
      lo = std::min(lo, show(x));
      hi = std::max(hi, show(x));
    }
    v.has_range = v.valid > 0;
    v.min = lo;
    v.max = hi;
    r.variables.push_back(v);
  }
  if (!file) return r;

  const double cell_area = r.grid.cell_area();
  if (auto [var, thk] = find_quantity(*file, "thk"); !var.empty()) {
    r.thickness_variable = var;
    for (double h : thk)
      if (h > 0.0) {
        ++r.ice_cells;
        r.ice_volume += h * cell_area;
      }
    r.ice_area = double(r.ice_cells) * cell_area;
  }

  const double per_year = core::seconds_per_year;
  auto [u_var, u] = find_quantity(*file, "uvelsurfobs");
  auto [v_var, v] = find_quantity(*file, "vvelsurfobs");
  std::vector<double> speed;
  if (!u_var.empty() && !v_var.empty()) {
    r.velocity_variables = u_var + ", " + v_var;
    for (size_t k = 0; k < u.size(); ++k) speed.push_back(std::hypot(u[k], v[k]));
  } else if (auto [s_var, s] = find_quantity(*file, "velsurfobs_mag"); !s_var.empty()) {
    r.velocity_variables = s_var;
    speed = s;
  }
  double total = 0;
  for (double s : speed)
    if (!std::isnan(s)) {
      ++r.velocity_cells;
      r.max_speed = std::max(r.max_speed, s * per_year);
      total += s * per_year;
    }
  if (r.velocity_cells > 0) r.mean_speed = total / double(r.velocity_cells);

  if (auto [var, radar] = find_quantity(*file, "thkobs"); !var.empty()) {
    r.radar_variable = var;
    r.radar_min = std::numeric_limits<double>::infinity();
    r.radar_max = -r.radar_min;
    for (double h : radar)
      if (!std::isnan(h)) {
        ++r.radar_cells;
        r.radar_min = std::min(r.radar_min, h);
        r.radar_max = std::max(r.radar_max, h);
      }
  }
  r.notes = file->warnings();
  return r;
}

std::string format_report(const FileReport& r) {
  const core::Grid& g = r.grid;
  std::string out;
  out += fmt::format("file:   {}\n", r.path);
  auto length = [](double m) {
    return m >= 1000.0 ? fmt::format("{:g} km", m / 1e3) : fmt::format("{:g} m", m);
  };
  if (r.has_grid) {
    out += fmt::format("grid:   {} x {} cells (nx x ny), dx = {}, dy = {}\n", g.nx(), g.ny(),
                       length(g.dx()), length(g.dy()));
    out += fmt::format("extent: x [{:g}, {:g}] km, y [{:g}, {:g}] km (cell edges)\n",
                       (g.x(0) - g.dx() / 2) / 1e3, (g.x(g.nx() - 1) + g.dx() / 2) / 1e3,
                       (g.y(0) - g.dy() / 2) / 1e3, (g.y(g.ny() - 1) + g.dy() / 2) / 1e3);
    out += fmt::format("CRS:    {}\n\nvariables:\n", r.crs);
  } else {
    out += "grid:   none (no x/y coordinate variables)\n\nvariables:\n";
  }
  size_t name_width = 8, dims_width = 8, units_width = 4;
  for (const auto& v : r.variables) {
    name_width = std::max(name_width, v.name.size());
    dims_width = std::max(dims_width, v.dimensions.size());
    units_width = std::max(units_width, v.units.size());
  }
  for (const auto& v : r.variables) {
    out += fmt::format("  {:<{}} {:<{}} {:<{}}", v.name, name_width, v.dimensions, dims_width,
                       v.units.empty() ? "-" : v.units, units_width);
    if (v.has_range) out += fmt::format(" [{:.6g}, {:.6g}]", v.min, v.max);
    if (v.missing > 0) out += fmt::format(", {} cells without data", v.missing);
    if (!v.encoding.empty()) out += " (" + v.encoding + ")";
    if (!v.problem.empty()) out += " cannot be read: " + v.problem;
    if (!v.long_name.empty()) out += "  " + v.long_name;
    out += "\n";
  }
  if (!r.thickness_variable.empty())
    out += fmt::format("\nice ({}): {} cells, area {:.4g} million km2, volume {:.4g} million km3"
                       " (map-plane cell areas)\n",
                       r.thickness_variable, r.ice_cells, r.ice_area / 1e12, r.ice_volume / 1e15);
  if (!r.velocity_variables.empty())
    out +=
        fmt::format("surface speed ({}): {} cells with data, max {:.1f} m/yr, mean {:.1f} m/yr\n",
                    r.velocity_variables, r.velocity_cells, r.max_speed, r.mean_speed);
  if (!r.radar_variable.empty())
    out += fmt::format("radar thickness ({}): {} observed cells, [{:.1f}, {:.1f}] m\n",
                       r.radar_variable, r.radar_cells, r.radar_min, r.radar_max);
  for (const auto& note : r.notes) out += "note: " + note + "\n";
  return out;
}

} // namespace nunatak::io
