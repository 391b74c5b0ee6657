#pragma once
/// \file input_file.hpp
/// Reading map-plane fields from other people's NetCDF files.
///
/// The grid comes from the 1-D coordinate variables of the x and y dimensions
/// (recognised by `axis`, `standard_name` or name: x, xc, x1, ...), in any
/// length unit UDUNITS knows (m, km); they must be evenly spaced and may
/// decrease (the data are then flipped so that x and y increase). Fields may
/// be stored (y, x), (x, y) or with a leading time dimension. `_FillValue`,
/// `missing_value`, `valid_range`/`valid_min`/`valid_max` and NaN mark cells
/// without data, which are returned as NaN.

#include "nunatak/core/grid.hpp"
#include "nunatak/io/netcdf_file.hpp"
#include "nunatak/io/quantities.hpp"

#include <optional>
#include <string>
#include <vector>

namespace nunatak::io {

/// Densities used to convert a surface mass balance given as a length rate.
struct MassBalanceUnits {
  bool water_equivalent = true;      ///< else ice equivalent
  double fresh_water_density = 1000; ///< kg m-3
  double ice_density = 910;          ///< kg m-3
};

/// The "no data" rule of one variable: `_FillValue`, `missing_value`,
/// `valid_range`/`valid_min`/`valid_max`, NaN/Inf and netCDF's default fill.
class MissingValues {
public:
  MissingValues(const NcFile& file, int varid);
  /// True if `v` means "no data".
  bool operator()(double v) const;

private:
  std::vector<double> m_missing;
  double m_lo, m_hi;
};

/// A field on terrain-following levels as read: sigma from 0 (base) to 1
/// (surface), values row-major [y][x][z] (z fastest), NaN where there are no data.
struct LevelField {
  std::vector<double> sigma;
  std::vector<double> values;
  std::string level_dimension; ///< the file's name of the level dimension
};

/// A NetCDF input file and the grid of its map-plane variables.
class InputFile {
public:
  /// Opens `path` and finds its x/y coordinates. Throws nunatak::Error.
  explicit InputFile(const std::string& path);

  const std::string& path() const { return m_file.path(); }
  const NcFile& nc() const { return m_file; }
  const core::Grid& grid() const { return m_grid; }
  const std::string& x_dimension() const { return m_x_dim; }
  const std::string& y_dimension() const { return m_y_dim; }

  /// True if `var` is a field on the file's map-plane grid.
  bool is_map_field(const std::string& var) const;
  /// The variable holding `spec`: `override_name` if not empty (it must exist),
  /// else the first of spec.names, then a CF standard_name match.
  std::optional<std::string> find(const QuantitySpec& spec, const std::string& override_name) const;

  /// Reads `var` as `spec`'s quantity in SI units, row-major [y][x] with x and
  /// y increasing, NaN where there are no data. `time_index` < 0: last record.
  std::vector<double> read(const std::string& var, const QuantitySpec& spec, int time_index = -1,
                           const MassBalanceUnits& mb = {}) const;
  /// Reads `var` without unit conversion (missing values become NaN).
  std::vector<double> read_raw(const std::string& var, int time_index = -1) const;
  /// Reads `var` on levels, converted from its `units` to `units` (which it
  /// must have): a map-plane variable with one more dimension (before, between
  /// or after y and x) whose 1-D coordinate variable holds sigma levels from 0
  /// (base) to 1 (surface), increasing or decreasing (CF
  /// land_ice_sigma_coordinate, Yelmo's zeta, nunatak's z). A variable with no
  /// level dimension has no levels (`sigma` empty, values [y][x]). Throws
  /// nunatak::Error naming the variable and the file otherwise.
  LevelField read_levels(const std::string& var, const std::string& units,
                         int time_index = -1) const;

private:
  NcFile m_file;
  std::string m_x_dim, m_y_dim;
  bool m_flip_x = false, m_flip_y = false;
  core::Grid m_grid{1, 1, 1.0, 1.0, 0.0, 0.0};
};

} // namespace nunatak::io
