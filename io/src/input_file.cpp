#include "nunatak/io/input_file.hpp"

#include "nunatak/core/error.hpp"
#include "nunatak/io/units.hpp"

#include <netcdf.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
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

/// "%g" of a number: every digit a user needs to see the value (-2e-11, not -0.000000).
std::string number(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.9g", v);
  return text;
}

/// Coordinates of a dimension in metres, plus checks of even spacing.
struct Axis {
  double first = 0.0, spacing = 1.0;
  size_t n = 0;
  bool decreasing = false;
};

/// The cell size of an axis with one cell, from its CF cell bounds
/// (`bounds` naming a variable (dim, 2)), converted by `to_m`; nullopt if none.
std::optional<double> spacing_from_bounds(const NcFile& f, int varid, const UnitConversion& to_m) {
  const auto name = f.text_attribute(varid, "bounds");
  if (!name) return std::nullopt;
  const auto id = f.find_variable(*name);
  if (!id) return std::nullopt;
  const std::vector<double> b = read_decoded(f, *id);
  if (b.size() != 2) return std::nullopt;
  const double spacing = std::abs(to_m(b[1]) - to_m(b[0]));
  if (!(spacing > 0.0) || !std::isfinite(spacing)) return std::nullopt;
  return spacing;
}

Axis read_axis(const NcFile& f, const std::string& dim, std::vector<std::string>& warnings) {
  const int varid = f.variable(dim);
  const std::string where = "coordinate variable '" + dim + "' in '" + f.path() + "'";
  std::vector<double> c = read_decoded(f, varid);
  for (size_t k = 0; k < c.size(); ++k)
    if (std::isnan(c[k]))
      throw Error(where + " has no value at index " + std::to_string(k) + " of " +
                  std::to_string(c.size()) + " (stored " + number(f.read(varid, {k}, {1}).at(0)) +
                  ": NaN, infinite, a _FillValue or missing_value, outside the valid range, or "
                  "NetCDF's default fill, |v| >= 9e36); nunatak needs a coordinate for every row "
                  "and column of the grid");
  std::string units = f.text_attribute(varid, "units").value_or("");
  if (units.empty()) {
    warnings.push_back("'" + f.path() + "': coordinate '" + dim +
                       "' has no units; assuming metres");
    units = "m";
  }
  if (!units_convertible(units, "m")) {
    const bool degrees = units.find("degree") != std::string::npos;
    throw Error(where + " has units '" + units + "', not a length" +
                (degrees ? ": nunatak needs projected coordinates in metres or km (x/y of a "
                           "map projection), not longitude/latitude"
                         : ""));
  }
  const UnitConversion to_m = unit_conversion(units, "m", where);
  for (double& v : c) v = to_m(v);
  Axis a;
  a.n = c.size();
  if (a.n == 0) throw Error("'" + f.path() + "': dimension '" + dim + "' is empty");
  if (a.n == 1) {
    // One cell: its size cannot come from the coordinates.
    const auto spacing = spacing_from_bounds(f, varid, to_m);
    if (!spacing)
      throw Error(where + " has a single value (" + number(c[0]) +
                  " m), so the size of the grid's cells along '" + dim +
                  "' is unknown: nunatak needs at least 2 cells along each axis, or the CF cell "
                  "bounds of the one cell (an attribute bounds = \"" +
                  dim + "_bnds\" naming a variable " + dim + "_bnds(" + dim + ", 2))");
    a.first = c[0];
    a.spacing = *spacing;
    return a;
  }
  for (size_t i = 1; i < a.n; ++i) {
    const double d0 = c[1] - c[0], d = c[i] - c[i - 1];
    if (!(d != 0.0) || (d > 0) != (d0 > 0))
      throw Error(where + " is not strictly monotonic: value " + std::to_string(i - 1) + " is " +
                  number(c[i - 1]) + " m, value " + std::to_string(i) + " is " + number(c[i]) +
                  " m (nunatak needs a regular grid)");
  }
  const double step = (c.back() - c.front()) / double(a.n - 1);
  // 0.1 % of the spacing, or the precision of the stored values (float
  // coordinates of a polar stereographic grid carry ~0.2 m of rounding).
  double largest = 0.0;
  for (double v : c) largest = std::max(largest, std::abs(v));
  const double eps = f.type(varid) == NC_FLOAT ? std::numeric_limits<float>::epsilon()
                                               : std::numeric_limits<double>::epsilon();
  const double tolerance = std::max(1e-3 * std::abs(step), 4.0 * eps * largest);
  size_t worst = 0;
  double worst_error = 0.0;
  for (size_t i = 0; i < a.n; ++i) {
    const double error = std::abs(c[i] - (c.front() + double(i) * step));
    if (error > worst_error) {
      worst_error = error;
      worst = i;
    }
  }
  if (worst_error > tolerance)
    throw Error(where + " is not evenly spaced: value " + std::to_string(worst) + " is " +
                number(c[worst]) + " m, " + number(worst_error) +
                " m away from the regular spacing of " + number(std::abs(step)) +
                " m between its first and last values (tolerance " + number(tolerance) +
                " m); nunatak needs a regular grid");
  a.decreasing = step < 0;
  a.spacing = std::abs(step);
  a.first = a.decreasing ? c.back() : c.front();
  return a;
}

/// Checks the size of the grid a file declares before anything is read.
void check_grid_size(const std::string& path, const std::string& x_dim, size_t nx,
                     const std::string& y_dim, size_t ny) {
  const std::string grid = std::to_string(nx) + " x " + std::to_string(ny);
  const double cells = double(nx) * double(ny);
  if (cells > double(max_grid_cells))
    throw Error("'" + path + "' declares a grid of " + grid + " cells ('" + x_dim + "' x '" +
                y_dim + "'), " + number(cells) + " cells: nunatak's grids hold at most " +
                std::to_string(max_grid_cells) + " cells (32-bit indices, as PETSc's)");
  // A model run keeps about ten fields of the grid (geometry, forcing,
  // observations, velocities, the solver's work vectors).
  const double bytes = 10.0 * cells * double(sizeof(double)), memory = physical_memory_bytes();
  if (memory > 0.0 && bytes > memory)
    throw Error("'" + path + "' declares a grid of " + grid + " cells ('" + x_dim + "' x '" +
                y_dim + "'): one field takes " + format_bytes(bytes / 10.0) +
                ", and nunatak holds about ten (" + format_bytes(bytes) +
                "), more than this machine's memory (" + format_bytes(memory) + ")");
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

CfDecoding::CfDecoding(const NcFile& f, int id)
    : m_type(f.type(id)), m_lo(-std::numeric_limits<double>::infinity()),
      m_hi(std::numeric_limits<double>::infinity()) {
  const std::string var = f.variable_name(id);
  auto where = [&](const std::string& att) {
    return "attribute '" + att + "' of variable '" + var + "' in '" + f.path() + "'";
  };
  /// A numeric attribute; text (or an empty list) is an error, not ignored.
  auto numbers = [&](const std::string& att) -> std::optional<std::vector<double>> {
    if (!f.attribute_type(id, att)) return std::nullopt;
    auto v = f.number_attribute(id, att);
    if (!v || v->empty())
      throw Error(
          where(att) + " is " +
          (v ? std::string("empty") : "text ('" + f.text_attribute(id, att).value_or("") + "')") +
          "; CF needs a number");
    return v;
  };
  m_float = m_type == NC_FLOAT || m_type == NC_DOUBLE;
  const bool integer = m_type == NC_BYTE || m_type == NC_SHORT || m_type == NC_INT ||
                       m_type == NC_INT64 || m_type == NC_UBYTE || m_type == NC_USHORT ||
                       m_type == NC_UINT || m_type == NC_UINT64;
  if (auto u = f.text_attribute(id, "_Unsigned"))
    m_unsigned = (*u == "true" || *u == "True" || *u == "TRUE") &&
                 (m_type == NC_BYTE || m_type == NC_SHORT || m_type == NC_INT);

  for (const char* att : {"scale_factor", "add_offset"})
    if (auto v = numbers(att)) {
      if (v->size() != 1 || !std::isfinite((*v)[0]))
        throw Error(where(att) + " must be one finite number, not " +
                    (v->size() == 1 ? number((*v)[0]) : std::to_string(v->size()) + " numbers"));
      m_packed = true;
      (att == std::string("scale_factor") ? m_scale : m_offset) = (*v)[0];
    }
  if (m_packed && m_scale == 0.0)
    throw Error(where("scale_factor") + " is 0: every value would unpack to add_offset");

  // The no-data rule in stored (packed) units.
  bool has_fill = false;
  for (const char* att : {"_FillValue", "missing_value"})
    if (auto v = numbers(att)) {
      for (double m : *v) m_missing.push_back(unsigned_value(m));
      has_fill = has_fill || att == std::string("_FillValue");
    }
  if (!has_fill && integer && m_type != NC_BYTE && m_type != NC_UBYTE) {
    // NetCDF's default fill of the type (bytes have none: any byte is a value).
    switch (m_unsigned ? (m_type == NC_SHORT ? NC_USHORT : NC_UINT) : m_type) {
    case NC_SHORT:
      m_missing.push_back(NC_FILL_SHORT);
      break;
    case NC_INT:
      m_missing.push_back(NC_FILL_INT);
      break;
    case NC_USHORT:
      m_missing.push_back(NC_FILL_USHORT);
      break;
    case NC_UINT:
      m_missing.push_back(NC_FILL_UINT);
      break;
    case NC_INT64:
      m_missing.push_back(double(NC_FILL_INT64));
      break;
    case NC_UINT64:
      m_missing.push_back(double(NC_FILL_UINT64));
      break;
    default:
      break;
    }
  }
  if (auto r = numbers("valid_range")) {
    if (r->size() != 2)
      throw Error(where("valid_range") + " has " + std::to_string(r->size()) +
                  " numbers; CF needs two (minimum, maximum)");
    m_lo = unsigned_value((*r)[0]);
    m_hi = unsigned_value((*r)[1]);
  }
  if (auto v = numbers("valid_min")) m_lo = unsigned_value((*v)[0]);
  if (auto v = numbers("valid_max")) m_hi = unsigned_value((*v)[0]);
  // Limits of packed integers written as float/double are in unpacked units
  // (NetCDF User Guide; netCDF-Java): the producer stored the physical range.
  if (m_packed && integer)
    for (const char* att : {"valid_range", "valid_min", "valid_max"})
      if (auto t = f.attribute_type(id, att))
        m_limits_unpacked = m_limits_unpacked || *t == NC_FLOAT || *t == NC_DOUBLE;
  if (m_limits_unpacked) { // as given, not as unsigned integers
    if (auto r = numbers("valid_range")) {
      m_lo = (*r)[0];
      m_hi = (*r)[1];
    }
    if (auto v = numbers("valid_min")) m_lo = (*v)[0];
    if (auto v = numbers("valid_max")) m_hi = (*v)[0];
  }
  if (m_lo > m_hi)
    throw Error("variable '" + var + "' in '" + f.path() + "': its valid minimum (" + number(m_lo) +
                ") is above its valid maximum (" + number(m_hi) +
                "), so no value would be valid (valid_range, valid_min, valid_max)");
}

double CfDecoding::unsigned_value(double v) const {
  if (!m_unsigned || v >= 0.0) return v;
  const int bits = m_type == NC_BYTE ? 8 : m_type == NC_SHORT ? 16 : 32;
  return v + std::ldexp(1.0, bits);
}

bool CfDecoding::missing(double stored) const {
  const double v = unsigned_value(stored);
  const double limited = m_limits_unpacked ? unpack(stored) : v;
  if (!std::isfinite(v) || limited < m_lo || limited > m_hi) return true;
  if (m_float && std::abs(v) >= 9.0e36) return true; // NetCDF's default fill, 9.96921e36
  for (double m : m_missing)
    if (v == m || (m_float && std::abs(v - m) <= 1e-6 * std::abs(m))) return true;
  return false;
}

void CfDecoding::decode(std::vector<double>& values) const {
  for (double& v : values) v = missing(v) ? nan : unpack(v);
}

std::string CfDecoding::describe() const {
  std::string type;
  switch (m_type) {
  case NC_BYTE:
    type = m_unsigned ? "uint8" : "int8";
    break;
  case NC_UBYTE:
    type = "uint8";
    break;
  case NC_SHORT:
    type = m_unsigned ? "uint16" : "int16";
    break;
  case NC_USHORT:
    type = "uint16";
    break;
  case NC_INT:
    type = m_unsigned ? "uint32" : "int32";
    break;
  case NC_UINT:
    type = "uint32";
    break;
  case NC_INT64:
    type = "int64";
    break;
  case NC_UINT64:
    type = "uint64";
    break;
  case NC_FLOAT:
    type = "float32";
    break;
  case NC_DOUBLE:
    type = "float64";
    break;
  default:
    type = "type " + std::to_string(m_type);
  }
  if (m_packed) { // 6 digits: a float attribute's 0.100000001 is 0.1
    char packing[96];
    std::snprintf(packing, sizeof packing, ", packed: scale_factor %g, add_offset %g", m_scale,
                  m_offset);
    type += packing;
  }
  return type;
}

std::vector<double> read_decoded(const NcFile& f, int varid, const std::vector<size_t>& start,
                                 const std::vector<size_t>& count) {
  const CfDecoding decoding(f, varid); // checks the attributes before reading
  std::vector<double> values = f.read(varid, start, count);
  decoding.decode(values);
  return values;
}

std::vector<double> read_decoded(const NcFile& f, int varid) {
  std::vector<size_t> start, count;
  for (const auto& d : f.dimensions(varid)) {
    start.push_back(0);
    count.push_back(d.length);
  }
  return read_decoded(f, varid, start, count);
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
  check_grid_size(path, m_x_dim, m_file.dimensions(m_file.variable(m_x_dim))[0].length, m_y_dim,
                  m_file.dimensions(m_file.variable(m_y_dim))[0].length);
  const Axis ax = read_axis(m_file, m_x_dim, m_warnings),
             ay = read_axis(m_file, m_y_dim, m_warnings);
  m_flip_x = ax.decreasing;
  m_flip_y = ay.decreasing;
  m_grid = core::Grid(int(ax.n), int(ay.n), ax.spacing, ay.spacing, ax.first, ay.first);
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

bool InputFile::is_time_dimension(const Dimension& dim) const {
  if (dim.unlimited || dim.name == "time" || dim.name == "t") return true;
  const auto id = m_file.find_variable(dim.name);
  if (!id || m_file.dimensions(*id).size() != 1) return false;
  const auto axis = m_file.text_attribute(*id, "axis");
  if (axis && (*axis == "T" || *axis == "t")) return true;
  if (m_file.text_attribute(*id, "standard_name").value_or("") == "time") return true;
  return m_file.text_attribute(*id, "units").value_or("").find(" since ") != std::string::npos;
}

namespace {

/// One record of a map-plane variable: the hyperslab to read and where x, y
/// and (with `levels`) the one level dimension are in it.
struct Slab {
  std::vector<Dimension> dims;
  std::vector<size_t> start, count;
  int x_pos = -1, y_pos = -1, z_pos = -1;
};

Slab select_record(const InputFile& file, const std::string& var, int time_index, bool levels) {
  const int id = file.nc().variable(var);
  Slab s;
  s.dims = file.nc().dimensions(id);
  const auto& dims = s.dims;
  const std::string where = "variable '" + var + "' in '" + file.path() + "'";
  s.start.assign(dims.size(), 0);
  s.count.assign(dims.size(), 1);
  int time_pos = -1;
  for (size_t k = 0; k < dims.size(); ++k) {
    if (dims[k].name == file.x_dimension()) {
      s.x_pos = int(k);
      s.count[k] = dims[k].length;
    } else if (dims[k].name == file.y_dimension()) {
      s.y_pos = int(k);
      s.count[k] = dims[k].length;
    } else if (dims[k].length == 0) {
      throw Error(where + " has no records along '" + dims[k].name + "'");
    } else if (file.is_time_dimension(dims[k])) {
      if (time_pos >= 0)
        throw Error(where + " has two time dimensions, '" + dims[size_t(time_pos)].name +
                    "' and '" + dims[k].name + "'; expected one");
      time_pos = int(k);
      const long n = long(dims[k].length);
      const long idx = time_index < 0 ? n - 1 : time_index;
      if (idx >= n)
        throw Error(where + ": time index " + std::to_string(time_index) + " is out of range (" +
                    std::to_string(n) + " records along '" + dims[k].name +
                    "'; records count from 0, -1 = the last)");
      s.start[k] = size_t(idx);
    } else if (dims[k].length > 1) {
      if (!levels)
        throw Error(where + " has dimension '" + dims[k].name + "' of length " +
                    std::to_string(dims[k].length) + "; expected (" + file.y_dimension() + ", " +
                    file.x_dimension() + ") or (time, " + file.y_dimension() + ", " +
                    file.x_dimension() + "), in any order, and other dimensions of length 1");
      if (s.z_pos >= 0)
        throw Error(where + " has two level dimensions, '" + dims[size_t(s.z_pos)].name +
                    "' and '" + dims[k].name + "'; expected one");
      s.z_pos = int(k);
      s.count[k] = dims[k].length;
    }
  }
  if (s.x_pos < 0 || s.y_pos < 0)
    throw Error(where + " is not a map-plane field: it lacks dimension '" +
                (s.x_pos < 0 ? file.x_dimension() : file.y_dimension()) + "'");
  return s;
}

} // namespace

std::vector<double> InputFile::read_raw(const std::string& var, int time_index) const {
  const int id = m_file.variable(var);
  const Slab slab = select_record(*this, var, time_index, false);
  const std::vector<double> raw = read_decoded(m_file, id, slab.start, slab.count);

  const int nx = m_grid.nx(), ny = m_grid.ny();
  const bool x_fastest = slab.x_pos > slab.y_pos;
  std::vector<double> out(size_t(nx) * ny);
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) {
      const int fi = m_flip_x ? nx - 1 - i : i, fj = m_flip_y ? ny - 1 - j : j;
      out[size_t(j) * nx + i] = x_fastest ? raw[size_t(fj) * nx + fi] : raw[size_t(fi) * ny + fj];
    }
  return out;
}

LevelField InputFile::read_levels(const std::string& var, const std::string& units,
                                  int time_index) const {
  const int id = m_file.variable(var);
  const std::string where = "variable '" + var + "' in '" + path() + "'";
  const std::string file_units = m_file.text_attribute(id, "units").value_or("");
  if (file_units.empty())
    throw Error(where + " has no 'units' attribute; nunatak needs one to read it (e.g. '" + units +
                "')");
  const UnitConversion convert = unit_conversion(file_units, units, where);
  const Slab slab = select_record(*this, var, time_index, true);
  const auto& dims = slab.dims;
  const int z_pos = slab.z_pos;

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
    std::vector<double> sigma = read_decoded(m_file, *zvar);
    nz = sigma.size();
    for (size_t k = 0; k < nz; ++k)
      if (std::isnan(sigma[k]))
        throw Error(where + ": its level coordinate '" + zdim + "' has no value (NaN or a " +
                    "missing value) at index " + std::to_string(k));
    flip_z = sigma.front() > sigma.back();
    if (flip_z) std::reverse(sigma.begin(), sigma.end());
    const std::string zunits = m_file.text_attribute(*zvar, "units").value_or("1");
    bool ok = std::abs(sigma.front()) <= 1e-9 && std::abs(sigma.back() - 1.0) <= 1e-9 &&
              !units_convertible(zunits, "m");
    for (size_t k = 1; k < nz && ok; ++k) ok = sigma[k] > sigma[k - 1];
    if (!ok)
      throw Error(where + ": its levels '" + zdim + "' run from " + number(sigma.front()) + " to " +
                  number(sigma.back()) + " " + zunits +
                  " (or are not strictly monotonic); nunatak needs terrain-following levels, "
                  "sigma increasing from 0 (base) to 1 (surface)");
    sigma.front() = 0.0;
    sigma.back() = 1.0;
    out.sigma = std::move(sigma);
  }
  const std::vector<double> raw = read_decoded(m_file, id, slab.start, slab.count);

  // Strides of x, y and z in the hyperslab (C order over `count`).
  std::vector<size_t> stride(dims.size(), 1);
  for (size_t k = dims.size(); k-- > 1;) stride[k - 1] = stride[k] * slab.count[k];
  const size_t sx = stride[size_t(slab.x_pos)], sy = stride[size_t(slab.y_pos)];
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
            std::isnan(v) ? nan : convert(v);
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
    const std::string text = where + " has no units; assuming metres";
    if (std::find(m_warnings.begin(), m_warnings.end(), text) == m_warnings.end())
      m_warnings.push_back(text);
    units = "m";
  }
  UnitConversion convert;
  if (spec.kind == QuantityKind::mass_flux && !units_convertible(units, spec.info.units)) {
    if (!units_convertible(units, "m s-1"))
      throw Error(where + " has units '" + units + "', which are neither a mass flux (" +
                  spec.info.units + ") nor a length per time (water or ice equivalent)");
    // The units may say what the length is of ("mm w.e. a-1", "m ice eq. a-1"):
    // that wins over the default, and contradicts an explicit setting.
    bool water = mb.water_equivalent;
    const Equivalent said = split_qualifiers(units).equivalent;
    if (said == Equivalent::both)
      throw Error(where + " has units '" + units +
                  "', which say both water and ice equivalent; set the units attribute straight");
    if (said != Equivalent::none) {
      const bool says_water = said == Equivalent::water;
      if (mb.configured && says_water != water)
        throw Error(where + " has units '" + units + "' (" + (says_water ? "water" : "ice") +
                    " equivalent), but input.smb_length_rate_is is set to " +
                    (water ? "water_equivalent" : "ice_equivalent") +
                    "; remove the setting or correct the file's units");
      water = says_water;
    }
    const double density = water ? mb.fresh_water_density : mb.ice_density;
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
