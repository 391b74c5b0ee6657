#include "nunatak/io/input_file.hpp"

#include "nunatak/core/error.hpp"
#include "nunatak/io/units.hpp"

#include <netcdf.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace nunatak::io {

namespace {

const double nan = std::numeric_limits<double>::quiet_NaN();

/// Is the 1-D coordinate variable `name` an x (axis 'X') or y ('Y') coordinate?
bool is_axis(const NcFile& f, int varid, const std::string& name, char axis) {
  if (auto a = f.text_attribute(varid, "axis")) return !a->empty() && std::toupper((*a)[0]) == axis;
  if (auto s = f.text_attribute(varid, "standard_name")) {
    if (*s == std::string("projection_") + char(std::tolower(axis)) + "_coordinate") return true;
  }
  static const std::vector<std::string> xs = {"x", "xc", "x1", "X", "easting"};
  static const std::vector<std::string> ys = {"y", "yc", "y1", "Y", "northing"};
  const auto& names = axis == 'X' ? xs : ys;
  return std::find(names.begin(), names.end(), name) != names.end();
}

/// Coordinates of a dimension in metres, plus checks of even spacing.
struct Axis {
  double first = 0.0, spacing = 1.0;
  size_t n = 0;
  bool decreasing = false;
};

Axis read_axis(const NcFile& f, const std::string& dim) {
  const int varid = f.variable(dim);
  std::vector<double> c = f.read_all(varid);
  std::string units = f.text_attribute(varid, "units").value_or("");
  if (units.empty()) {
    spdlog::warn("'{}': coordinate '{}' has no units; assuming metres", f.path(), dim);
    units = "m";
  }
  const UnitConversion to_m =
      unit_conversion(units, "m", "coordinate '" + dim + "' in '" + f.path() + "'");
  for (double& v : c) v = to_m(v);
  Axis a;
  a.n = c.size();
  if (a.n == 0) throw Error("'" + f.path() + "': dimension '" + dim + "' is empty");
  if (a.n == 1) {
    a.first = c[0];
    return a;
  }
  const double step = (c.back() - c.front()) / double(a.n - 1);
  if (!(std::abs(step) > 0.0) || !std::isfinite(step))
    throw Error("'" + f.path() + "': coordinate '" + dim + "' is not strictly monotonic");
  for (size_t i = 1; i < a.n; ++i)
    if (std::abs((c[i] - c[i - 1]) - step) > 1e-3 * std::abs(step))
      throw Error("'" + f.path() + "': coordinate '" + dim +
                  "' is not evenly spaced (nunatak needs a regular grid)");
  a.decreasing = step < 0;
  a.spacing = std::abs(step);
  a.first = a.decreasing ? c.back() : c.front();
  return a;
}

/// The CF grid mapping of the file: the one a variable names, or else the
/// only variable with a grid_mapping_name attribute.
core::GridMapping find_mapping(const NcFile& f) {
  std::vector<std::string> named, declared;
  for (const auto& name : f.variable_names()) {
    const int id = f.variable(name);
    if (auto gm = f.text_attribute(id, "grid_mapping")) named.push_back(*gm);
    if (f.text_attribute(id, "grid_mapping_name")) declared.push_back(name);
  }
  std::string chosen;
  for (const auto& n : named)
    if (std::find(declared.begin(), declared.end(), n) != declared.end()) chosen = n;
  if (chosen.empty() && !declared.empty()) chosen = declared.front();
  core::GridMapping m;
  if (chosen.empty()) return m;
  m.variable_name = chosen;
  m.attributes = f.attributes(f.variable(chosen));
  return m;
}

} // namespace

MissingValues::MissingValues(const NcFile& f, int id)
    : m_lo(-std::numeric_limits<double>::infinity()),
      m_hi(std::numeric_limits<double>::infinity()) {
  for (const char* att : {"_FillValue", "missing_value"})
    if (auto v = f.number_attribute(id, att))
      m_missing.insert(m_missing.end(), v->begin(), v->end());
  if (auto r = f.number_attribute(id, "valid_range"); r && r->size() == 2) {
    m_lo = (*r)[0];
    m_hi = (*r)[1];
  }
  if (auto v = f.number_attribute(id, "valid_min"); v && !v->empty()) m_lo = (*v)[0];
  if (auto v = f.number_attribute(id, "valid_max"); v && !v->empty()) m_hi = (*v)[0];
}

bool MissingValues::operator()(double v) const {
  if (!std::isfinite(v) || v < m_lo || v > m_hi || std::abs(v) >= 9.0e36) return true;
  for (double m : m_missing)
    if (v == m || std::abs(v - m) <= 1e-6 * std::abs(m)) return true;
  return false;
}

InputFile::InputFile(const std::string& path) : m_file(NcFile::open(path)) {
  for (const auto& name : m_file.variable_names()) {
    const int id = m_file.variable(name);
    const auto dims = m_file.dimensions(id);
    if (dims.size() != 1 || dims[0].name != name) continue; // coordinate variables only
    if (m_x_dim.empty() && is_axis(m_file, id, name, 'X')) m_x_dim = name;
    if (m_y_dim.empty() && is_axis(m_file, id, name, 'Y')) m_y_dim = name;
  }
  if (m_x_dim.empty() || m_y_dim.empty())
    throw Error("'" + path +
                "': no x/y coordinate variables found (need 1-D variables such as x(x) and y(y), "
                "with axis = \"X\"/\"Y\" or standard_name projection_x/y_coordinate)");
  const Axis ax = read_axis(m_file, m_x_dim), ay = read_axis(m_file, m_y_dim);
  m_flip_x = ax.decreasing;
  m_flip_y = ay.decreasing;
  const double dx = ax.n > 1 ? ax.spacing : ay.spacing, dy = ay.n > 1 ? ay.spacing : ax.spacing;
  m_grid = core::Grid(int(ax.n), int(ay.n), dx, dy, ax.first, ay.first);
  m_grid.set_mapping(find_mapping(m_file));
}

bool InputFile::is_map_field(const std::string& var) const {
  auto id = m_file.find_variable(var);
  if (!id) return false;
  bool has_x = false, has_y = false;
  for (const auto& d : m_file.dimensions(*id)) {
    has_x = has_x || d.name == m_x_dim;
    has_y = has_y || d.name == m_y_dim;
  }
  return has_x && has_y;
}

std::optional<std::string> InputFile::find(const QuantitySpec& spec,
                                           const std::string& override_name) const {
  if (!override_name.empty()) {
    if (!m_file.find_variable(override_name))
      throw Error("variable '" + override_name + "' (configured for " + spec.info.name +
                  ") not found in '" + path() + "'");
    return override_name;
  }
  for (const auto& name : spec.names)
    if (is_map_field(name)) return name;
  for (const auto& var : m_file.variable_names()) {
    if (!is_map_field(var)) continue;
    auto sn = m_file.text_attribute(m_file.variable(var), "standard_name");
    if (sn && std::find(spec.standard_names.begin(), spec.standard_names.end(), *sn) !=
                  spec.standard_names.end())
      return var;
  }
  return std::nullopt;
}

std::vector<double> InputFile::read_raw(const std::string& var, int time_index) const {
  const int id = m_file.variable(var);
  const auto dims = m_file.dimensions(id);
  const std::string where = "variable '" + var + "' in '" + path() + "'";
  std::vector<size_t> start(dims.size(), 0), count(dims.size(), 1);
  int x_pos = -1, y_pos = -1;
  for (size_t k = 0; k < dims.size(); ++k) {
    if (dims[k].name == m_x_dim) {
      x_pos = int(k);
      count[k] = dims[k].length;
    } else if (dims[k].name == m_y_dim) {
      y_pos = int(k);
      count[k] = dims[k].length;
    } else if (dims[k].length == 0) {
      throw Error(where + " has no records along '" + dims[k].name + "'");
    } else if (dims[k].unlimited || dims[k].name == "time" || dims[k].name == "t") {
      const long n = long(dims[k].length);
      const long idx = time_index < 0 ? n - 1 : time_index;
      if (idx >= n)
        throw Error(where + ": time index " + std::to_string(time_index) + " is out of range (" +
                    std::to_string(n) + " records)");
      start[k] = size_t(idx);
    } else if (dims[k].length != 1) {
      throw Error(where + " has dimension '" + dims[k].name + "' of length " +
                  std::to_string(dims[k].length) + "; expected (" + m_y_dim + ", " + m_x_dim +
                  ") or (time, " + m_y_dim + ", " + m_x_dim + ")");
    }
  }
  if (x_pos < 0 || y_pos < 0)
    throw Error(where + " is not a map-plane field: it lacks dimension '" +
                (x_pos < 0 ? m_x_dim : m_y_dim) + "'");
  const std::vector<double> raw = m_file.read(id, start, count);

  const MissingValues is_missing(m_file, id);

  const int nx = m_grid.nx(), ny = m_grid.ny();
  const bool x_fastest = x_pos > y_pos;
  std::vector<double> out(size_t(nx) * ny);
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) {
      const int fi = m_flip_x ? nx - 1 - i : i, fj = m_flip_y ? ny - 1 - j : j;
      const double v = x_fastest ? raw[size_t(fj) * nx + fi] : raw[size_t(fi) * ny + fj];
      out[size_t(j) * nx + i] = is_missing(v) ? nan : v;
    }
  return out;
}

LevelField InputFile::read_levels(const std::string& var, const std::string& units,
                                  int time_index) const {
  const int id = m_file.variable(var);
  const auto dims = m_file.dimensions(id);
  const std::string where = "variable '" + var + "' in '" + path() + "'";
  const std::string file_units = m_file.text_attribute(id, "units").value_or("");
  if (file_units.empty())
    throw Error(where + " has no 'units' attribute; nunatak needs one to read it (e.g. '" + units +
                "')");
  const UnitConversion convert = unit_conversion(file_units, units, where);

  std::vector<size_t> start(dims.size(), 0), count(dims.size(), 1);
  int x_pos = -1, y_pos = -1, z_pos = -1;
  for (size_t k = 0; k < dims.size(); ++k) {
    if (dims[k].name == m_x_dim) {
      x_pos = int(k);
      count[k] = dims[k].length;
    } else if (dims[k].name == m_y_dim) {
      y_pos = int(k);
      count[k] = dims[k].length;
    } else if (dims[k].length == 0) {
      throw Error(where + " has no records along '" + dims[k].name + "'");
    } else if (dims[k].unlimited || dims[k].name == "time" || dims[k].name == "t") {
      const long n = long(dims[k].length);
      const long idx = time_index < 0 ? n - 1 : time_index;
      if (idx >= n)
        throw Error(where + ": time index " + std::to_string(time_index) + " is out of range (" +
                    std::to_string(n) + " records)");
      start[k] = size_t(idx);
    } else if (dims[k].length > 1) {
      if (z_pos >= 0)
        throw Error(where + " has two level dimensions, '" + dims[size_t(z_pos)].name + "' and '" +
                    dims[k].name + "'; expected one");
      z_pos = int(k);
      count[k] = dims[k].length;
    }
  }
  if (x_pos < 0 || y_pos < 0)
    throw Error(where + " is not a map-plane field: it lacks dimension '" +
                (x_pos < 0 ? m_x_dim : m_y_dim) + "'");

  LevelField out;
  size_t nz = 1;
  bool flip_z = false;
  if (z_pos >= 0) {
    const std::string& zdim = dims[size_t(z_pos)].name;
    out.level_dimension = zdim;
    const auto zvar = m_file.find_variable(zdim);
    if (!zvar || m_file.dimensions(*zvar).size() != 1)
      throw Error(where + ": its level dimension '" + zdim +
                  "' has no coordinate variable; nunatak needs sigma levels from 0 (base) to 1 "
                  "(surface)");
    std::vector<double> sigma = m_file.read_all(*zvar);
    nz = sigma.size();
    flip_z = sigma.front() > sigma.back();
    if (flip_z) std::reverse(sigma.begin(), sigma.end());
    const std::string zunits = m_file.text_attribute(*zvar, "units").value_or("1");
    bool ok = std::abs(sigma.front()) <= 1e-9 && std::abs(sigma.back() - 1.0) <= 1e-9 &&
              !units_convertible(zunits, "m");
    for (size_t k = 1; k < nz && ok; ++k) ok = sigma[k] > sigma[k - 1];
    if (!ok)
      throw Error(where + ": its levels '" + zdim + "' run from " + std::to_string(sigma.front()) +
                  " to " + std::to_string(sigma.back()) + " " + zunits +
                  "; nunatak needs terrain-following levels, sigma increasing from 0 (base) to 1 "
                  "(surface)");
    sigma.front() = 0.0;
    sigma.back() = 1.0;
    out.sigma = std::move(sigma);
  }
  const std::vector<double> raw = m_file.read(id, start, count);
  const MissingValues is_missing(m_file, id);

  // Strides of x, y and z in the hyperslab (C order over `count`).
  std::vector<size_t> stride(dims.size(), 1);
  for (size_t k = dims.size(); k-- > 1;) stride[k - 1] = stride[k] * count[k];
  const size_t sx = stride[size_t(x_pos)], sy = stride[size_t(y_pos)];
  const size_t sz = z_pos >= 0 ? stride[size_t(z_pos)] : 0;
  const int nx = m_grid.nx(), ny = m_grid.ny();
  out.values.resize(size_t(nx) * size_t(ny) * nz);
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i)
      for (size_t k = 0; k < nz; ++k) {
        const size_t fi = size_t(m_flip_x ? nx - 1 - i : i), fj = size_t(m_flip_y ? ny - 1 - j : j);
        const size_t fk = flip_z ? nz - 1 - k : k;
        const double v = raw[fi * sx + fj * sy + fk * sz];
        out.values[(size_t(j) * size_t(nx) + size_t(i)) * nz + k] =
            is_missing(v) ? nan : convert(v);
      }
  return out;
}

std::vector<double> InputFile::read(const std::string& var, const QuantitySpec& spec,
                                    int time_index, const MassBalanceUnits& mb) const {
  std::vector<double> values = read_raw(var, time_index);
  if (spec.kind == QuantityKind::flag) return values;
  const std::string where = "variable '" + var + "' in '" + path() + "'";
  std::string units = m_file.text_attribute(m_file.variable(var), "units").value_or("");
  if (units.empty()) {
    if (spec.kind != QuantityKind::length)
      throw Error(where + " has no 'units' attribute; nunatak needs one to read " + spec.info.name +
                  " (e.g. '" + spec.info.output_units + "')");
    spdlog::warn("{} has no units; assuming metres", where);
    units = "m";
  }
  UnitConversion convert;
  if (spec.kind == QuantityKind::mass_flux && !units_convertible(units, spec.info.units)) {
    if (!units_convertible(units, "m s-1"))
      throw Error(where + " has units '" + units + "', which are neither a mass flux (" +
                  spec.info.units + ") nor a length per time (water or ice equivalent)");
    const double density = mb.water_equivalent ? mb.fresh_water_density : mb.ice_density;
    convert = unit_conversion(units, "m s-1", where);
    convert.scale *= density;
    convert.offset *= density;
  } else {
    convert = unit_conversion(units, spec.info.units, where);
  }
  for (double& v : values)
    if (!std::isnan(v)) v = convert(v);
  return values;
}

} // namespace nunatak::io
