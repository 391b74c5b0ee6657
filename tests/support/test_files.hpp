#pragma once
/// \file test_files.hpp
/// Small synthetic NetCDF files for tests, written with the raw NetCDF-C API
/// (not nunatak's writer, so that readers are tested against an independent
/// producer), and a temporary folder that cleans itself up.

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

/// Expects `text` (a std::string expression) to contain `part`, printing the text if not.
#define EXPECT_CONTAINS(text, part)                                                                \
  do {                                                                                             \
    const std::string contains_text_ = (text);                                                     \
    EXPECT_NE(contains_text_.find(part), std::string::npos) << "message: " << contains_text_;      \
  } while (false)

/// Expects `text` not to contain `part`, printing the text if it does.
#define EXPECT_LACKS(text, part)                                                                   \
  do {                                                                                             \
    const std::string lacks_text_ = (text);                                                        \
    EXPECT_EQ(lacks_text_.find(part), std::string::npos) << "message: " << lacks_text_;            \
  } while (false)

namespace nunatak::test {

/// One variable of a test file.
struct TestVar {
  std::string name;
  std::vector<std::string> dims;
  std::vector<double> values; ///< in file order
  std::map<std::string, std::string> text;
  std::map<std::string, double> numbers; ///< numeric attributes of the variable's own type
  int nc_type = 6;                       ///< NC_DOUBLE
  /// Numeric attributes of a given NetCDF type and any length (e.g. a float
  /// scale_factor of an int16 variable, a valid_range): name -> (type, values).
  std::map<std::string, std::pair<int, std::vector<double>>> typed = {};
  /// NetCDF-4 string (NC_STRING) attributes, as h5py or R write them.
  std::map<std::string, std::string> strings = {};
};

/// A test file: dimensions (0 = unlimited, written with values' length) and variables.
struct TestFile {
  std::vector<std::pair<std::string, size_t>> dims;
  std::vector<TestVar> vars;
  bool classic = false; ///< the classic format (CDF-1) instead of NetCDF-4
  /// The variable called `name` (must exist).
  TestVar& var(const std::string& name);
};

/// Writes `file` to `path` (NetCDF-4, or classic).
void write_test_file(const std::string& path, const TestFile& file);

/// A grid with coordinate variables x(x), y(y) in metres (or `coord_units`),
/// cell centres at x0 + i dx, y0 + j dy.
TestFile grid_file(int nx, int ny, double dx, double dy, double x0 = 0, double y0 = 0,
                   const std::string& coord_units = "m");

/// Adds a (y, x) variable filled by `f(i, j)`.
void add_field(TestFile& file, const std::string& name, const std::string& units,
               double (*f)(int i, int j));
void add_field(TestFile& file, const std::string& name, const std::string& units,
               const std::vector<double>& values);

/// Writes an n x n ice cap (41 x 41 by default), 25 km cells from x = y =
/// -500 km (centred on 0 for n = 41), radius 400 km, on a bed partly below sea level, with a mass
/// balance that grows it in the middle and melts it at the margin (thk, topg,
/// climatic_mass_balance).
void write_ice_cap(const std::string& path, int n = 41);

/// A uniquely named temporary folder, removed with its contents on destruction.
class TempDir {
public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return m_path; }
  /// path()/name
  std::string file(const std::string& name) const { return m_path + "/" + name; }

private:
  std::string m_path;
};

/// Writes `text` to `path`.
void write_text(const std::string& path, const std::string& text);

/// Folder of the shared real data sets (../shared/data beside the repository).
std::string shared_data_dir();

} // namespace nunatak::test
