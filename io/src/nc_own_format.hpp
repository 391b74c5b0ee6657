#pragma once
/// \file nc_own_format.hpp
/// (Private to nunatak::io.) Helpers for the NetCDF formats nunatak writes
/// itself (BP fixtures, emulator data sets): a described variable on
/// writing, and a reader whose every error is one nunatak::Error
/// "KIND 'PATH': what is wrong".

#include "nunatak/core/error.hpp"
#include "nunatak/io/netcdf_file.hpp"

#include <netcdf.h>

#include <cmath>
#include <string>
#include <vector>

namespace nunatak::io {

/// Defines a variable with `units` (none if empty) and `long_name`; returns its id.
inline int define_described(NcFile& f, const std::string& name, int type,
                            const std::vector<int>& dims, const std::string& units,
                            const std::string& long_name) {
  const int id = f.define_variable(name, type, dims);
  if (!units.empty()) f.put_attribute(id, "units", units);
  f.put_attribute(id, "long_name", long_name);
  return id;
}

/// A NetCDF file read with checks (see the file comment).
class CheckedNcReader {
public:
  /// Opens `path`; `kind` ("bp fixture", ...) starts every error message.
  CheckedNcReader(const std::string& path, std::string kind)
      : m_file(NcFile::open(path)), m_path(path), m_kind(std::move(kind)) {}

  /// Throws nunatak::Error naming the file.
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(m_kind + " '" + m_path + "': " + what);
  }
  /// The global attribute `name`, one number.
  double number(const std::string& name) const {
    auto value = m_file.number_attribute(NC_GLOBAL, name);
    if (!value || value->size() != 1) fail("global attribute '" + name + "' is missing");
    return value->front();
  }
  /// The global attribute `name`, one integer.
  int integer(const std::string& name) const {
    const double value = number(name);
    if (value != std::floor(value) || std::abs(value) > 1e9)
      fail("global attribute '" + name + "' is not an integer");
    return int(value);
  }
  /// The global attribute `name`, one integer, or `fallback` if it is missing.
  int optional_integer(const std::string& name, int fallback) const {
    return m_file.number_attribute(NC_GLOBAL, name) ? integer(name) : fallback;
  }
  /// The global text attribute `name` (an error if it is missing).
  std::string text(const std::string& name) const {
    auto value = m_file.text_attribute(NC_GLOBAL, name);
    if (!value) fail("global attribute '" + name + "' is missing or not text");
    return *value;
  }
  /// The global text attribute `name`, or "" if it is missing.
  std::string optional_text(const std::string& name) const {
    return m_file.text_attribute(NC_GLOBAL, name).value_or("");
  }
  /// The id of variable `name`, checked to have the dimensions `names` and,
  /// where `lengths` is given, those lengths.
  int variable(const std::string& name, const std::vector<std::string>& names,
               const std::vector<size_t>& lengths = {}) const {
    const int id = m_file.variable(name);
    const auto found = m_file.dimensions(id);
    bool same = found.size() == names.size();
    for (size_t d = 0; same && d < names.size(); ++d)
      same = found[d].name == names[d] && (lengths.empty() || found[d].length == lengths[d]);
    if (!same) {
      std::string want;
      for (size_t d = 0; d < names.size(); ++d)
        want += (d ? ", " : "") + names[d] +
                (lengths.empty() ? std::string() : " = " + std::to_string(lengths[d]));
      fail("variable '" + name + "' does not have the dimensions (" + want + ")");
    }
    return id;
  }
  /// A hyperslab of variable `id`.
  std::vector<double> read(int id, const std::vector<size_t>& start,
                           const std::vector<size_t>& count) const {
    return m_file.read(id, start, count);
  }
  /// All of variable `id`.
  std::vector<double> read_all(int id) const { return m_file.read_all(id); }
  /// The length of dimension `name`.
  size_t dimension(const std::string& name) const { return m_file.dimension_length(name); }

private:
  NcFile m_file;
  std::string m_path, m_kind;
};

} // namespace nunatak::io
