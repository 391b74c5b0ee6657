#pragma once
/// \file input_file.hpp
/// Reading map-plane fields from other people's NetCDF files.
///
/// The grid comes from the 1-D coordinate variables of the x and y dimensions
/// (recognised by `axis`, `standard_name` or name: x, xc, x1, ...), in any
/// length unit UDUNITS knows (m, km); they must be evenly spaced and may
/// decrease (the data are then flipped so that x and y increase). Fields may
/// be stored (y, x), (x, y), with a time dimension, or with other dimensions
/// of length 1. Values are decoded as CF says (CfDecoding: packing, fill
/// values, valid range); cells without data are returned as NaN.
///
/// Checked on opening (each an error naming the file and variable): the grid's
/// size (at most 2^31 - 1 cells, and fields that fit in memory, before anything
/// is allocated); coordinates complete (no NaN or missing value), strictly
/// monotonic and evenly spaced (to 0.1 % of the spacing, or float precision);
/// an axis of one cell only with CF cell bounds (else its size is unknown).

#include "nunatak/core/grid.hpp"
#include "nunatak/io/netcdf_file.hpp"
#include "nunatak/io/quantities.hpp"

#include <optional>
#include <string>
#include <vector>

namespace nunatak::io {

/// The largest grid nunatak reads: cells are counted with 32-bit integers (as
/// PETSc's indices are in this build).
inline constexpr long long max_grid_cells = 2147483647;

/// Densities used to convert a surface mass balance given as a length rate.
struct MassBalanceUnits {
  bool water_equivalent = true;      ///< else ice equivalent
  bool configured = false;           ///< water_equivalent was set explicitly (else the
                                     ///< units' "w.e." / "ice eq." decide)
  double fresh_water_density = 1000; ///< kg m-3
  double ice_density = 910;          ///< kg m-3
};

/// How one variable's values are stored, as CF-1.8 says (sections 2.5.1 and
/// 8.1) and the NetCDF User Guide: packing (stored v, physical
/// v * scale_factor + add_offset), the "no data" rule (`_FillValue`,
/// `missing_value`, values outside `valid_range` / `valid_min` / `valid_max`,
/// all compared with the stored, packed values, before unpacking — except
/// valid limits of a packed integer variable stored as float or double (the
/// type of the unpacked data, not of the packed): those are in unpacked units
/// and compared after unpacking, as the NetCDF User Guide and netCDF-Java read
/// them; NaN/Inf;
/// NetCDF's default fill: |v| >= 9e36 for float and double, the type's
/// default for integers other than bytes when there is no `_FillValue`), and
/// `_Unsigned = "true"` (classic files' unsigned integers). Throws
/// nunatak::Error naming the attribute, variable and file for an attribute
/// that cannot be used (a text or zero scale_factor, ...).
class CfDecoding {
public:
  CfDecoding(const NcFile& file, int varid);
  /// True if the stored value `v` means "no data".
  bool missing(double v) const;
  /// The physical value of a stored one (unpacked, unsigned).
  double unpack(double v) const { return unsigned_value(v) * m_scale + m_offset; }
  /// Values as NcFile::read returns them, in place: NaN where there are no
  /// data, else unpacked.
  void decode(std::vector<double>& values) const;
  /// True if the variable is packed (scale_factor or add_offset).
  bool packed() const { return m_packed; }
  /// The NetCDF type of the stored values and, if packed, the packing:
  /// "int16, packed: scale_factor 0.1, add_offset 0".
  std::string describe() const;

private:
  double unsigned_value(double v) const;
  int m_type = 0;
  bool m_unsigned = false, m_packed = false, m_float = false;
  double m_scale = 1.0, m_offset = 0.0;
  std::vector<double> m_missing;  ///< stored values meaning "no data"
  double m_lo, m_hi;              ///< valid range of stored values (or unpacked, below)
  bool m_limits_unpacked = false; ///< m_lo, m_hi are in unpacked units
};

/// Reads a hyperslab of a variable and decodes it (CfDecoding): physical
/// values (not yet converted to other units), NaN where there are no data.
std::vector<double> read_decoded(const NcFile& file, int varid, const std::vector<size_t>& start,
                                 const std::vector<size_t>& count);
/// A whole variable, decoded.
std::vector<double> read_decoded(const NcFile& file, int varid);

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

  /// True if the dimension `name` is a time dimension: unlimited, called
  /// time or t, or with a coordinate variable that has axis = "T",
  /// standard_name = "time" or units "... since ...".
  bool is_time_dimension(const Dimension& dim) const;
  /// True if `var` is a field on the file's map-plane grid.
  bool is_map_field(const std::string& var) const;
  /// The variable holding `spec`: `override_name` if not empty (it must exist),
  /// else the first of spec.names, then a CF standard_name match.
  std::optional<std::string> find(const QuantitySpec& spec, const std::string& override_name) const;

  /// Reads `var` as `spec`'s quantity in SI units, row-major [y][x] with x and
  /// y increasing, NaN where there are no data. `time_index` < 0: last record.
  std::vector<double> read(const std::string& var, const QuantitySpec& spec, int time_index = -1,
                           const MassBalanceUnits& mb = {}) const;
  /// Reads `var` decoded (CfDecoding: unpacked, NaN where there are no data),
  /// without unit conversion.
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

  /// What the reader assumed about the file so far (a coordinate or a length
  /// without units taken as metres), in the order found. Returned rather than
  /// logged, so that one rank says it once under mpirun: read_input_arrays
  /// puts them in its log; `nunatak info` and `plot` print them.
  const std::vector<std::string>& warnings() const { return m_warnings; }

private:
  NcFile m_file;
  mutable std::vector<std::string> m_warnings;
  std::string m_x_dim, m_y_dim;
  bool m_flip_x = false, m_flip_y = false;
  core::Grid m_grid{1, 1, 1.0, 1.0, 0.0, 0.0};
};

} // namespace nunatak::io
