#pragma once
/// \file netcdf_file.hpp
/// A thin RAII wrapper over the NetCDF-C API: every call is checked and a
/// failure throws nunatak::Error naming the file and variable.

#include "nunatak/core/grid.hpp"

#include <optional>
#include <string>
#include <vector>

namespace nunatak::io {

/// A dimension of a variable.
struct Dimension {
  std::string name;
  size_t length = 0;
  bool unlimited = false;
};

/// Installed memory (bytes), 0 if unknown.
double physical_memory_bytes();
/// "1.5 GiB".
std::string format_bytes(double bytes);

/// An open NetCDF file (read-only, or newly created as NetCDF-4).
///
/// open() says what is wrong with a file that is not NetCDF before NetCDF's
/// generic "Unknown file format": missing, a folder, empty (0 bytes), another
/// format (gzip, HTML, ...), a name too long; a damaged NetCDF-4/HDF5 file,
/// and a classic file shorter than its header says (truncated), are errors
/// too. create() says why a file cannot be created (NetCDF-4 calls every
/// failure "Permission denied"). Every file is closed by the destructor, also
/// on error paths (a write failed on a full disk), and HDF5's exit-time
/// clean-up, which crashes on a file whose close failed, is switched off.
class NcFile {
public:
  /// Opens `path` for reading. Throws if it is missing, not NetCDF, damaged or truncated.
  static NcFile open(const std::string& path);
  /// Creates `path` as NetCDF-4 (HDF5), overwriting any file there.
  static NcFile create(const std::string& path);
  /// Opens an existing `path` for writing (appending records).
  static NcFile open_for_writing(const std::string& path);
  ~NcFile();
  NcFile(NcFile&& other) noexcept;
  NcFile& operator=(NcFile&& other) noexcept;
  NcFile(const NcFile&) = delete;
  NcFile& operator=(const NcFile&) = delete;

  const std::string& path() const { return m_path; }
  int id() const { return m_id; }
  /// Closes the file now (checked); the destructor closes silently otherwise.
  void close();

  /// Throws nunatak::Error for a non-zero NetCDF status, naming the file,
  /// `what` (e.g. "reading variable 'thk'") and NetCDF's message.
  void check(int status, const std::string& what) const;

  std::vector<std::string> variable_names() const;
  /// The length of dimension `name`; throws naming the file if it has none.
  size_t dimension_length(const std::string& name) const;
  std::optional<int> find_variable(const std::string& name) const;
  /// The id of `name`; throws "variable 'name' not found in FILE".
  int variable(const std::string& name) const;
  std::string variable_name(int varid) const;
  std::vector<Dimension> dimensions(int varid) const;
  /// The NetCDF type of a variable (NC_FLOAT, ...).
  int type(int varid) const;

  /// Text attribute of a variable (varid = NC_GLOBAL for global ones): NC_CHAR,
  /// or NetCDF-4 strings (several joined by newlines).
  std::optional<std::string> text_attribute(int varid, const std::string& name) const;
  /// The NetCDF type of an attribute, if the variable has it.
  std::optional<int> attribute_type(int varid, const std::string& name) const;
  /// Numeric attribute as doubles.
  std::optional<std::vector<double>> number_attribute(int varid, const std::string& name) const;
  /// All attributes of a variable (text or numbers), in file order.
  std::vector<core::Attribute> attributes(int varid) const;

  /// Reads a hyperslab as doubles (NetCDF converts the type; no CF decoding:
  /// see io::read_decoded). Throws, before allocating, if the values would not
  /// fit in this machine's memory.
  std::vector<double> read(int varid, const std::vector<size_t>& start,
                           const std::vector<size_t>& count) const;
  /// Reads a whole variable as doubles.
  std::vector<double> read_all(int varid) const;

  // --- writing (files from `create`) ---
  int define_dimension(const std::string& name, size_t length /* 0 = unlimited */);
  int define_variable(const std::string& name, int nc_type, const std::vector<int>& dimids);
  void put_attribute(int varid, const std::string& name, const std::string& text);
  void put_attribute(int varid, const std::string& name, const std::vector<double>& values);
  void put_attribute(int varid, const std::string& name, const std::vector<int>& values);
  void put_attribute(int varid, const core::Attribute& attribute);
  /// Chunk sizes and deflate level (0 = none) for a variable.
  void set_compression(int varid, const std::vector<size_t>& chunks, int deflate_level);
  void end_definitions();
  void redefine();
  void write(int varid, const std::vector<size_t>& start, const std::vector<size_t>& count,
             const double* values);

private:
  NcFile(std::string path, int id) : m_path(std::move(path)), m_id(id) {}
  std::string m_path;
  int m_id = -1;
};

} // namespace nunatak::io
