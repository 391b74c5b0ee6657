// Reading real-world input files as they come, and one clear error on bad
// ones: CF packing and the no-data rule in packed units, coordinates (NaN,
// non-monotonic, uneven, one cell), files that are not NetCDF (empty, a
// folder, text, gzip, truncated), names too long, grids too large to
// allocate, round-off negative thickness, and thickness, bed and surface given
// together (a subglacial lake, Yelmo's mask). At 1 and 2 ranks where reading
// is collective (model::read_model_inputs).
#include "nunatak/core/error.hpp"
#include "nunatak/core/floatation.hpp"
#include "nunatak/io/config.hpp"
#include "nunatak/io/file_report.hpp"
#include "nunatak/io/input_file.hpp"
#include "nunatak/io/model_inputs.hpp"
#include "nunatak/io/netcdf_file.hpp"
#include "nunatak/io/quantities.hpp"
#include "nunatak/model/model_inputs.hpp"
#include "test_files.hpp"

#include <gtest/gtest.h>
#include <mpi.h>
#include <netcdf.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

using namespace nunatak;
using test::TempDir;
using test::TestFile;
using test::TestVar;

namespace {

const int nx = 6, ny = 5;
const double dx = 1000.0;

double bed(int i, int) {
  return -500.0 + 200.0 * i;
}
double ice(int i, int j) {
  return i == 5 ? 0.0 : 300.0 + 10.0 * j;
}

TestFile geometry() {
  TestFile f = test::grid_file(nx, ny, dx, dx);
  test::add_field(f, "thk", "m", ice);
  test::add_field(f, "topg", "m", bed);
  return f;
}

bool root() {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank == 0;
}

io::Config config_for(const std::string& geometry_path, const std::vector<std::string>& overrides) {
  io::Config c;
  c.set("input.geometry.file", "'" + geometry_path + "'", "test");
  for (const auto& o : overrides) c.set_override(o);
  return c;
}

/// Reads inputs collectively; the error text, or "".
std::string read_error(const std::string& geometry_path, std::vector<std::string> overrides = {}) {
  try {
    model::read_model_inputs(config_for(geometry_path, overrides), MPI_COMM_WORLD);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

model::ModelInputs read(const std::string& geometry_path, std::vector<std::string> overrides = {}) {
  return model::read_model_inputs(config_for(geometry_path, overrides), MPI_COMM_WORLD);
}

std::vector<double> all(const std::optional<core::Field2D>& field) {
  return field->grid().gather_to_zero(*field);
}

/// The error of opening `path` as an input file (not collective), or "".
std::string open_error(const std::string& path) {
  try {
    io::InputFile f(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

/// A (y, x) variable of NetCDF type `type` holding `stored` (file order).
TestVar stored_field(const std::string& name, int type, const std::vector<double>& stored,
                     const std::string& units = "m") {
  TestVar v{name, {"y", "x"}, stored, {{"units", units}}, {}, type};
  return v;
}

} // namespace

// ---------------------------------------------------------------- CF packing

// An int16 thickness with scale_factor 0.1 is 10 times smaller than stored;
// add_offset shifts; the fill value, missing_value and valid range are in
// packed units (CF 2.5.1, 8.1), checked before unpacking.
TEST(CfPacking, ShortWithScaleAndOffsetIsUnpacked) {
  TempDir dir;
  TestFile f = test::grid_file(nx, ny, dx, dx);
  std::vector<double> thk_stored;
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) thk_stored.push_back(std::round(ice(i, j) * 10.0)); // 0.1 m steps
  TestVar thk = stored_field("thk", NC_SHORT, thk_stored);
  thk.typed["scale_factor"] = {NC_FLOAT, {0.1}};
  thk.typed["add_offset"] = {NC_FLOAT, {0.0}};
  thk.typed["_FillValue"] = {NC_SHORT, {-32768}};
  f.vars.push_back(thk);
  TestVar topg = stored_field("topg", NC_INT, {});
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) topg.values.push_back(bed(i, j));
  f.vars.push_back(topg);
  test::write_test_file(dir.file("packed.nc"), f);

  const model::ModelInputs in = read(dir.file("packed.nc"));
  const auto H = all(in.geometry.thk);
  if (root()) {
    for (int j = 0; j < ny; ++j)
      for (int i = 0; i < nx; ++i)
        EXPECT_NEAR(H[size_t(j * nx + i)], ice(i, j), 1e-4) << i << "," << j;
  }

  // `nunatak info`'s summary shows unpacked values too.
  if (root()) {
    const io::FileReport r = io::report_file(dir.file("packed.nc"));
    bool found = false;
    for (const auto& v : r.variables)
      if (v.name == "thk") {
        found = true;
        EXPECT_NEAR(v.max, 340.0, 1e-4);
        EXPECT_CONTAINS(v.encoding, "int16, packed: scale_factor 0.1");
      }
    EXPECT_TRUE(found);
    double volume = 0;
    for (int j = 0; j < ny; ++j)
      for (int i = 0; i < nx; ++i) volume += ice(i, j) * dx * dx;
    EXPECT_NEAR(r.ice_volume, volume, 1e-6 * volume);
  }
}

TEST(CfPacking, OffsetAndNoDataInPackedUnits) {
  TempDir dir;
  TestFile f = geometry();
  // Observed thickness: int16, scale 0.5, offset 100: stored 40 -> 120 m.
  // -1 is missing_value (packed: unpacked it would be 99.5), 30000 lies above
  // valid_range [0, 20000] (packed units; unpacked 15100 m would be inside an
  // unpacked reading of the range), -32767 is NetCDF's default fill (no
  // _FillValue).
  std::vector<double> stored(nx * ny, 40.0);
  stored[1] = -1;
  stored[2] = 30000;
  stored[3] = -32767;
  TestVar obs = stored_field("thkobs", NC_SHORT, stored);
  obs.typed["scale_factor"] = {NC_DOUBLE, {0.5}};
  obs.typed["add_offset"] = {NC_DOUBLE, {100.0}};
  obs.typed["missing_value"] = {NC_SHORT, {-1}};
  obs.typed["valid_range"] = {NC_SHORT, {0, 20000}};
  f.vars.push_back(obs);
  // Unsigned bytes in a classic-style variable: stored -56 means 200.
  TestVar u8 = stored_field("uvelsurfobs", NC_BYTE, std::vector<double>(nx * ny, -56), "m/a");
  u8.text["_Unsigned"] = "true";
  f.vars.push_back(u8);
  test::write_test_file(dir.file("obs.nc"), f);

  const model::ModelInputs in = read(dir.file("obs.nc"));
  const auto radar = all(in.observations.thkobs);
  const auto u = all(in.observations.uvelsurfobs);
  if (!root()) return;
  EXPECT_DOUBLE_EQ(radar[0], 120.0);
  EXPECT_TRUE(std::isnan(radar[1])) << radar[1];
  EXPECT_TRUE(std::isnan(radar[2])) << radar[2];
  EXPECT_TRUE(std::isnan(radar[3])) << radar[3];
  EXPECT_DOUBLE_EQ(radar[4], 120.0);
  EXPECT_NEAR(u[0] * 31556925.9747, 200.0, 1e-6);
}

// Valid limits of a packed integer written as float or double (the unpacked
// type) are in unpacked units, as the NetCDF User Guide and netCDF-Java read
// them: stored 30000 (15100 m) is above valid_max 10000 m, stored 40 (120 m)
// is inside.
TEST(CfPacking, FloatValidLimitsOfPackedIntegersAreUnpacked) {
  TempDir dir;
  TestFile f = geometry();
  std::vector<double> stored(nx * ny, 40.0);
  stored[2] = 30000;
  TestVar obs = stored_field("thkobs", NC_SHORT, stored);
  obs.typed["scale_factor"] = {NC_DOUBLE, {0.5}};
  obs.typed["add_offset"] = {NC_DOUBLE, {100.0}};
  obs.typed["valid_max"] = {NC_FLOAT, {10000.0}};
  f.vars.push_back(obs);
  test::write_test_file(dir.file("obs.nc"), f);
  const auto radar = all(read(dir.file("obs.nc")).observations.thkobs);
  if (!root()) return;
  EXPECT_DOUBLE_EQ(radar[0], 120.0);
  EXPECT_TRUE(std::isnan(radar[2])) << radar[2];
}

TEST(CfPacking, UnusableAttributesAreErrors) {
  TempDir dir;
  TestFile text_scale = geometry();
  text_scale.var("thk").text["scale_factor"] = "0.1";
  test::write_test_file(dir.file("text_scale.nc"), text_scale);
  const std::string msg = read_error(dir.file("text_scale.nc"));
  EXPECT_CONTAINS(msg, "attribute 'scale_factor' of variable 'thk'");
  EXPECT_CONTAINS(msg, "text_scale.nc'");
  EXPECT_CONTAINS(msg, "is text ('0.1')");

  TestFile zero_scale = geometry();
  zero_scale.var("thk").typed["scale_factor"] = {NC_DOUBLE, {0.0}};
  test::write_test_file(dir.file("zero_scale.nc"), zero_scale);
  EXPECT_CONTAINS(read_error(dir.file("zero_scale.nc")), "'scale_factor' of variable 'thk'");

  TestFile range = geometry();
  range.var("thk").typed["valid_range"] = {NC_DOUBLE, {100.0}};
  test::write_test_file(dir.file("range.nc"), range);
  EXPECT_CONTAINS(read_error(dir.file("range.nc")), "'valid_range' of variable 'thk'");
}

// NetCDF-4 string attributes (h5py, R) are text too: km coordinates stay km.
TEST(CfPacking, StringAttributes) {
  TempDir dir;
  TestFile f = geometry();
  for (const char* c : {"x", "y"}) {
    f.var(c).text.erase("units");
    f.var(c).strings["units"] = "km";
    for (double& v : f.var(c).values) v /= 1000.0;
  }
  test::write_test_file(dir.file("strings.nc"), f);
  if (!root()) return;
  const io::InputFile in(dir.file("strings.nc"));
  EXPECT_DOUBLE_EQ(in.grid().dx(), dx);
}

// A mass balance whose units say "ice equivalent" is read with the ice
// density, whatever the default (water equivalent) says; an explicit setting
// that contradicts the units is an error.
TEST(CfPacking, MassBalanceUnitsSayWhatTheyAreOf) {
  TempDir dir;
  TestFile f = geometry();
  test::add_field(f, "smb", "m ice eq. yr-1", std::vector<double>(nx * ny, 1.0));
  test::write_test_file(dir.file("smb.nc"), f);
  const model::ModelInputs in = read(dir.file("smb.nc"));
  const auto smb = all(in.forcing.climatic_mass_balance);
  if (root()) {
    EXPECT_NEAR(smb[0] * 31556925.9747, 910.0, 1e-6); // kg m-2 a-1
  }
  EXPECT_CONTAINS(read_error(dir.file("smb.nc"), {"input.smb_length_rate_is=water_equivalent"}),
                  "(ice equivalent), but input.smb_length_rate_is is set to water_equivalent");
}

// ------------------------------------------------------------- coordinates

TEST(Coordinates, NanFillNonMonotonicUnevenAreErrors) {
  TempDir dir;
  TestFile nan_x = geometry();
  nan_x.var("x").values[3] = NAN;
  test::write_test_file(dir.file("nan_x.nc"), nan_x);
  const std::string nan_msg = read_error(dir.file("nan_x.nc"));
  EXPECT_CONTAINS(nan_msg, "coordinate variable 'x' in '");
  EXPECT_CONTAINS(nan_msg, "nan_x.nc'");
  EXPECT_CONTAINS(nan_msg, "has no value at index 3 of 6 (stored nan: NaN, infinite,");
  // A huge value is NetCDF's default fill: the message shows it.
  TestFile huge_x = geometry();
  huge_x.var("x").values[2] = 1e300;
  test::write_test_file(dir.file("huge_x.nc"), huge_x);
  EXPECT_CONTAINS(read_error(dir.file("huge_x.nc")), "has no value at index 2 of 6 (stored 1e+300");

  TestFile fill_y = geometry();
  fill_y.var("y").numbers["missing_value"] = -9999.0;
  fill_y.var("y").values[0] = -9999.0;
  test::write_test_file(dir.file("fill_y.nc"), fill_y);
  const std::string fill_msg = read_error(dir.file("fill_y.nc"));
  EXPECT_CONTAINS(fill_msg, "'y' in '");
  EXPECT_CONTAINS(fill_msg, "/fill_y.nc' has no value");

  TestFile back = geometry();
  std::swap(back.var("x").values[1], back.var("x").values[2]);
  test::write_test_file(dir.file("back.nc"), back);
  EXPECT_CONTAINS(read_error(dir.file("back.nc")),
                  "/back.nc' is not strictly monotonic: value 1 is 2000 m, value 2 is 1000 m");

  // 0.5 % off in the middle, measured from the spacing of the end points.
  TestFile uneven = geometry();
  uneven.var("x").values[2] += 5.0;
  test::write_test_file(dir.file("uneven.nc"), uneven);
  const std::string uneven_msg = read_error(dir.file("uneven.nc"));
  EXPECT_CONTAINS(uneven_msg, "'x' in '");
  EXPECT_CONTAINS(uneven_msg, "/uneven.nc' is not evenly spaced");
  EXPECT_CONTAINS(uneven_msg, "value 2 is 2005 m, 5 m away");

  TestFile degrees = geometry();
  degrees.var("x").text["units"] = "degrees_east";
  test::write_test_file(dir.file("degrees.nc"), degrees);
  EXPECT_CONTAINS(read_error(dir.file("degrees.nc")), "not longitude/latitude");
}

// Float coordinates of a polar stereographic grid carry single precision's
// rounding (0.25 m at 3000 km): still a regular grid.
TEST(Coordinates, FloatRoundingIsNotUneven) {
  TempDir dir;
  TestFile f = test::grid_file(nx, ny, 150.0, 150.0, -3000000.0 + 0.3, 3000000.0);
  f.var("x").nc_type = NC_FLOAT;
  f.var("y").nc_type = NC_FLOAT;
  test::add_field(f, "thk", "m", ice);
  test::add_field(f, "topg", "m", bed);
  test::write_test_file(dir.file("float.nc"), f);
  EXPECT_EQ(read_error(dir.file("float.nc")), "");
}

// One cell along an axis: the spacing is unknown unless CF cell bounds give it.
TEST(Coordinates, OneCellNeedsBounds) {
  TempDir dir;
  TestFile single = test::grid_file(1, 1, dx, dx);
  test::add_field(single, "thk", "m", std::vector<double>{100.0});
  test::add_field(single, "topg", "m", std::vector<double>{10.0});
  test::write_test_file(dir.file("single.nc"), single);
  const std::string msg = read_error(dir.file("single.nc"));
  EXPECT_CONTAINS(msg, "'x' in '");
  EXPECT_CONTAINS(msg, "/single.nc' has a single value");
  EXPECT_CONTAINS(msg, "at least 2 cells along each axis, or the CF cell bounds");

  // A flow line (nx x 1) still has no dy: the other axis' spacing is not borrowed.
  TestFile line = test::grid_file(nx, 1, dx, dx);
  test::add_field(line, "thk", "m", std::vector<double>(nx, 100.0));
  test::add_field(line, "topg", "m", std::vector<double>(nx, 10.0));
  test::write_test_file(dir.file("line.nc"), line);
  const std::string line_msg = read_error(dir.file("line.nc"));
  EXPECT_CONTAINS(line_msg, "'y' in '");
  EXPECT_CONTAINS(line_msg, "/line.nc' has a single value");

  // With bounds y_bnds(y, nv) the cell is 500 m tall.
  line.dims.push_back({"nv", 2});
  line.var("y").text["bounds"] = "y_bnds";
  line.vars.push_back({"y_bnds", {"y", "nv"}, {-250.0, 250.0}, {}, {}});
  test::write_test_file(dir.file("bounds.nc"), line);
  if (!root()) return;
  const io::InputFile in(dir.file("bounds.nc"));
  EXPECT_DOUBLE_EQ(in.grid().dx(), dx);
  EXPECT_DOUBLE_EQ(in.grid().dy(), 500.0);
}

// A time dimension not called "time" (WRF's Time, NEMO's time_counter) is
// recognised by its coordinate variable; the last record is read.
TEST(Coordinates, TimeDimensionByItsCoordinate) {
  TempDir dir;
  TestFile f = test::grid_file(nx, ny, dx, dx);
  f.dims.push_back({"Time", 3});
  f.vars.push_back({"Time", {"Time"}, {0, 1, 2}, {{"units", "days since 2000-01-01"}}, {}});
  std::vector<double> thk;
  for (int r = 0; r < 3; ++r)
    for (int j = 0; j < ny; ++j)
      for (int i = 0; i < nx; ++i) thk.push_back(ice(i, j) + 1000.0 * r);
  f.vars.push_back({"thk", {"Time", "y", "x"}, thk, {{"units", "m"}}, {}});
  test::add_field(f, "topg", "m", bed);
  test::write_test_file(dir.file("time.nc"), f);
  const model::ModelInputs in = read(dir.file("time.nc"));
  const auto H = all(in.geometry.thk);
  if (root()) {
    EXPECT_DOUBLE_EQ(H[0], ice(0, 0) + 2000.0);
  }
  EXPECT_CONTAINS(read_error(dir.file("time.nc"), {"input.time_index=3"}),
                  "3 records along 'Time'");
}

// ---------------------------------------------------- files that are not NetCDF

TEST(NotNetcdf, EmptyFolderTextGzipTruncated) {
  TempDir dir;
  test::write_text(dir.file("empty.nc"), "");
  EXPECT_CONTAINS(open_error(dir.file("empty.nc")), "input file '" + dir.file("empty.nc") +
                                                        "' is empty (0 bytes), not a NetCDF file");
  EXPECT_CONTAINS(read_error(dir.file("empty.nc")), "is empty (0 bytes)");

  std::filesystem::create_directory(dir.file("folder.nc"));
  EXPECT_CONTAINS(open_error(dir.file("folder.nc")),
                  "input file '" + dir.file("folder.nc") + "' is a folder, not a file");

  test::write_text(dir.file("text.nc"), "x y thk\n0 0 100\n");
  const std::string text_msg = open_error(dir.file("text.nc"));
  EXPECT_CONTAINS(text_msg, "' is not a NetCDF file");
  EXPECT_CONTAINS(text_msg, "it looks like text");
  EXPECT_LACKS(text_msg, "Unknown file format");

  test::write_text(dir.file("page.nc"), "<!DOCTYPE html><html><body>404</body></html>");
  EXPECT_CONTAINS(open_error(dir.file("page.nc")), "an HTML page (a failed download?)");

  test::write_text(dir.file("packed.nc.gz"), std::string("\x1f\x8b\x08\x00\x00\x00", 6));
  EXPECT_CONTAINS(open_error(dir.file("packed.nc.gz")), "gzip-compressed");

  // Truncated files: a classic file (NetCDF reads its missing part as zeros,
  // so it must be caught by the size its header promises) and a NetCDF-4 one.
  for (bool classic : {true, false}) {
    TestFile big = test::grid_file(60, 50, dx, dx);
    std::vector<double> values(60 * 50, 1.0);
    test::add_field(big, "thk", "m", values);
    big.classic = classic;
    const std::string whole = dir.file(classic ? "whole3.nc" : "whole4.nc");
    const std::string cut = dir.file(classic ? "cut3.nc" : "cut4.nc");
    test::write_test_file(whole, big);
    EXPECT_EQ(open_error(whole), "");
    std::filesystem::copy_file(whole, cut);
    std::filesystem::resize_file(cut, std::filesystem::file_size(whole) / 2);
    const std::string msg = open_error(cut);
    EXPECT_CONTAINS(msg, "input file '" + cut + "'");
    EXPECT_CONTAINS(msg, classic ? "is truncated" : "damaged or truncated");
    // A classic header cut in the middle.
    if (classic) {
      std::filesystem::resize_file(cut, 30);
      EXPECT_CONTAINS(open_error(cut), "is truncated");
    }
  }
}

TEST(NotNetcdf, NameTooLongIsSaidSo) {
  TempDir dir;
  const std::string long_name = dir.file(std::string(300, 'a') + ".nc");
  const std::string msg = open_error(long_name);
  EXPECT_CONTAINS(msg, "File name too long");
  EXPECT_CONTAINS(msg, "the longest part 303 bytes; the system allows 255 bytes a part");
  EXPECT_LACKS(msg, "Permission denied");
  EXPECT_LACKS(msg, "does not exist");
  // Creating one (NetCDF-4 calls every failure of HDF5 "Permission denied").
  std::string create_msg;
  try {
    io::NcFile::create(long_name);
  } catch (const Error& e) {
    create_msg = e.what();
  }
  EXPECT_CONTAINS(create_msg, "cannot create NetCDF file '" + long_name + "': File name too long");
  EXPECT_LACKS(create_msg, "Permission denied");
  // In a folder that does not exist.
  std::string missing_msg;
  try {
    io::NcFile::create(dir.file("no/such/folder/out.nc"));
  } catch (const Error& e) {
    missing_msg = e.what();
  }
  EXPECT_CONTAINS(missing_msg, "No such file or directory");
}

// ------------------------------------------------------------ huge grids

// Declared sizes are checked before anything is allocated: no
// std::bad_alloc, no PETSc overflow, an error naming the file and the grid.
TEST(HugeGrid, ErrorBeforeAllocating) {
  TempDir dir;
  TestFile f;
  f.dims = {{"y", 100000}, {"x", 200000}};
  f.vars = {{"y", {"y"}, {}, {{"units", "m"}, {"axis", "Y"}}, {}},
            {"x", {"x"}, {}, {{"units", "m"}, {"axis", "X"}}, {}},
            {"thk", {"y", "x"}, {}, {{"units", "m"}}, {}, NC_FLOAT}};
  test::write_test_file(dir.file("huge.nc"), f);
  ASSERT_LT(std::filesystem::file_size(dir.file("huge.nc")), 1u << 20);
  const std::string msg = read_error(dir.file("huge.nc"));
  EXPECT_CONTAINS(msg, "/huge.nc' declares a grid of 200000 x 100000 cells");
  EXPECT_CONTAINS(msg, "at most 2147483647 cells");

  // Within the cell limit but far beyond memory: a read of 2^40 values.
  if (!root()) return;
  TestFile wide;
  wide.dims = {{"a", size_t(1) << 20}, {"b", size_t(1) << 20}};
  wide.vars = {{"v", {"a", "b"}, {}, {}, {}, NC_FLOAT}};
  test::write_test_file(dir.file("wide.nc"), wide);
  const io::NcFile nc = io::NcFile::open(dir.file("wide.nc"));
  std::string read_msg;
  try {
    nc.read_all(nc.variable("v"));
  } catch (const Error& e) {
    read_msg = e.what();
  }
  EXPECT_CONTAINS(read_msg, "variable 'v' in '" + dir.file("wide.nc") +
                                "': reading 1048576 x 1048576 values needs 8 TiB");
  EXPECT_CONTAINS(read_msg, "more than this machine's memory");
}

// ------------------------------------------------- round-off negative thickness

// Values no ice sheet has (a thickness in millimetres labelled "m", speeds
// per second labelled per year) are read, with a warning that names the
// variable, the worst cell and the plausible range.
TEST(Thickness, ImplausibleValuesAreWarnings) {
  TempDir dir;
  auto log_of = [&](const std::string& path) {
    std::string text;
    for (const auto& m : io::read_input_arrays(config_for(path, {})).log)
      text += (m.warning ? "warning: " : "info: ") + m.text + "\n";
    return text;
  };
  TestFile f = geometry();
  for (double& v : f.var("thk").values) v *= 1000.0;
  test::add_field(f, "uvelsurfobs", "m s-1", [](int, int) { return 100.0; });
  test::write_test_file(dir.file("mm.nc"), f);
  const std::string log = log_of(dir.file("mm.nc"));
  EXPECT_CONTAINS(log, "warning: ice thickness 'thk' in '");
  EXPECT_CONTAINS(log, "25 cell(s) outside [0, 10000] m, up to 340000 m at (i = 0, j = 4;");
  EXPECT_CONTAINS(log,
                  "no ice on Earth is thicker than about 4.9 km); are the file's units right?");
  EXPECT_CONTAINS(log, "warning: observed velocity 'uvelsurfobs'");
  EXPECT_LACKS(log, "elevation");
  test::write_test_file(dir.file("plain.nc"), geometry());
  EXPECT_LACKS(log_of(dir.file("plain.nc")), "are the file's units right?");
}

TEST(Thickness, RoundOffNegativesBecomeZero) {
  TempDir dir;
  TestFile f = geometry();
  f.var("thk").values[5] = -2e-11; // i = 5 is ice-free: H - b in single precision
  f.var("thk").values[11] = -3e-7;
  test::write_test_file(dir.file("roundoff.nc"), f);
  const model::ModelInputs in = read(dir.file("roundoff.nc"));
  const auto H = all(in.geometry.thk);
  if (root()) {
    EXPECT_EQ(H[5], 0.0);
    EXPECT_EQ(H[11], 0.0);
  }
  const io::InputArrays arrays = io::read_input_arrays(config_for(dir.file("roundoff.nc"), {}));
  ASSERT_EQ(arrays.log.size(), 1u);
  EXPECT_CONTAINS(arrays.log[0].text, "2 cells with round-off negative values (down to -3e-07 m");

  // A real negative is an error that prints its value.
  TestFile negative = geometry();
  negative.var("thk").values[3] = -0.004;
  test::write_test_file(dir.file("neg.nc"), negative);
  const std::string msg = read_error(dir.file("neg.nc"));
  EXPECT_CONTAINS(msg, "is negative (-0.004 m) at (i = 3, j = 0");
  EXPECT_LACKS(msg, "-0.004000");

  // Radar thickness and till yield stress follow the same rule.
  TestFile radar = geometry();
  test::add_field(radar, "thkobs", "m", std::vector<double>(nx * ny, -5e-9));
  radar.var("thkobs").values[0] = -2.5;
  test::write_test_file(dir.file("radar.nc"), radar);
  EXPECT_CONTAINS(read_error(dir.file("radar.nc")), "is negative (-2.5 m)");
}

// ----------------------------------- thickness, bed and surface all given

namespace {

// A Yelmo-like Antarctic transect, 8 x 3 cells of 32 km: ocean (mask 0),
// an ice shelf (3), grounded ice (2), ice afloat on a subglacial lake (4:
// the bed is the lake floor, 1000 m below the ice base), grounded ice, land (1).
const int lake_nx = 8, lake_ny = 3;
const double lake_dx = 32000.0;
const double rho_i = 910.0, rho_w = 1028.0;

struct LakeColumn {
  double H, b, s;
  int mask;
};

LakeColumn lake_column(int i) {
  switch (i) {
  case 0:
    return {0.0, -1000.0, 0.0, 0};
  case 1:
    return {400.0, -800.0, (1 - rho_i / rho_w) * 400.0, 3};
  case 2:
    return {2500.0, -200.0, 2300.0, 2};
  case 3:
  case 4:
    // Ice 3700 m thick, surface 3500 m: its base at -200 m; the lake floor at -950 m.
    return {3700.0, -950.0, 3500.0, 4};
  case 5:
    return {2600.0, 400.0, 3000.0, 2};
  case 6:
    return {1200.0, 1200.0, 2400.0, 2};
  default:
    return {0.0, 1500.0, 1500.0, 1};
  }
}

TestFile lake_file() {
  TestFile f = test::grid_file(lake_nx, lake_ny, lake_dx, lake_dx, -3000e3, 0.0);
  for (const char* c : {"x", "y"}) f.var(c).text["units"] = "m";
  std::vector<double> H, b, s, m;
  for (int j = 0; j < lake_ny; ++j)
    for (int i = 0; i < lake_nx; ++i) {
      const LakeColumn c = lake_column(i);
      H.push_back(c.H);
      b.push_back(c.b);
      s.push_back(c.s);
      m.push_back(c.mask);
    }
  f.vars.push_back({"H_ice", {"y", "x"}, H, {{"units", "m"}}, {}, NC_FLOAT});
  f.vars.push_back({"z_bed", {"y", "x"}, b, {{"units", "m"}}, {}, NC_FLOAT});
  f.vars.push_back({"z_srf", {"y", "x"}, s, {{"units", "m"}}, {}, NC_FLOAT});
  f.vars.push_back({"mask", {"y", "x"}, m, {}, {}, NC_FLOAT});
  return f;
}

} // namespace

TEST(SubglacialLake, GivenSurfaceIsKeptAndReported) {
  TempDir dir;
  test::write_test_file(dir.file("lake.nc"), lake_file());
  const io::InputArrays arrays = io::read_input_arrays(config_for(dir.file("lake.nc"), {}));
  // The report: 6 lake cells (2 columns x 3 rows), with the mask's opinion.
  ASSERT_EQ(arrays.log.size(), 1u);
  const std::string& report = arrays.log[0].text;
  EXPECT_TRUE(arrays.log[0].warning);
  EXPECT_CONTAINS(report, "6 cells of thickness 'H_ice'");
  EXPECT_CONTAINS(report, "a subglacial lake");
  EXPECT_CONTAINS(report, "calls 6 of them floating or ice on a lake");
  EXPECT_CONTAINS(report, "raised by up to 750 m");

  const model::ModelInputs in = read(dir.file("lake.nc"));
  const auto H = all(in.geometry.thk), b = all(in.geometry.topg), s = all(in.geometry.usurf);
  const auto mask = all(in.geometry.mask);
  if (!root()) return;
  core::Floatation rule;
  for (int j = 0; j < lake_ny; ++j)
    for (int i = 0; i < lake_nx; ++i) {
      const size_t k = size_t(j * lake_nx + i);
      const LakeColumn c = lake_column(i);
      // The given thickness and surface are what the model gets ...
      EXPECT_NEAR(H[k], c.H, 1e-3) << i;
      EXPECT_NEAR(s[k], c.s, 1e-3) << i;
      // ... and the model's own surface (the rule, from thk and topg, as the
      // transient model recomputes it) is the given one: no pit at the lake.
      EXPECT_NEAR(rule.surface(H[k], b[k]), c.s, 1e-3) << i;
    }
  EXPECT_NEAR(b[3], 3500.0 - 3700.0, 1e-3); // the ice base, not the lake floor
  EXPECT_NEAR(b[2], -200.0, 1e-3);          // consistent cells keep their bed
  EXPECT_EQ(int(mask[1]), core::floating_ice);
  EXPECT_EQ(int(mask[3]), core::grounded_ice);
}

// Floating ice whose surface is off (other densities) and ice-free cells off
// their bed are reported, not changed; a consistent file is silent.
TEST(SubglacialLake, OtherDisagreementsAreReported) {
  TempDir dir;
  TestFile f = lake_file();
  for (auto& v : f.vars)
    if (v.name == "z_srf") {
      v.values[1] = 0.107 * 400.0; // BedMachine's densities (917, 1027)
      v.values[7] = 1490.0;        // 10 m below the bare bed
    }
  // Make the lake consistent (a flat bed at the ice base) to isolate the rest.
  for (auto& v : f.vars)
    if (v.name == "z_bed")
      for (int j = 0; j < lake_ny; ++j)
        for (int i : {3, 4}) v.values[size_t(j * lake_nx + i)] = -200.0;
  test::write_test_file(dir.file("off.nc"), f);
  const io::InputArrays arrays = io::read_input_arrays(config_for(dir.file("off.nc"), {}));
  ASSERT_EQ(arrays.log.size(), 2u);
  EXPECT_CONTAINS(arrays.log[0].text, "1 cells of thickness 'H_ice'");
  EXPECT_CONTAINS(arrays.log[0].text, "floating ice");
  EXPECT_CONTAINS(arrays.log[1].text, "1 ice-free cells");
  EXPECT_CONTAINS(arrays.log[1].text, "by up to 10 m");
  EXPECT_NEAR(arrays.topg->values[1], -800.0, 1e-3); // unchanged
  EXPECT_NEAR(arrays.usurf->values[1], 0.107 * 400.0, 1e-3);

  // A consistent file is silent.
  for (auto& v : f.vars)
    if (v.name == "z_srf") {
      v.values[1] = (1 - rho_i / rho_w) * 400.0;
      v.values[7] = 1500.0;
    }
  test::write_test_file(dir.file("clean.nc"), f);
  EXPECT_TRUE(io::read_input_arrays(config_for(dir.file("clean.nc"), {})).log.empty());
}

// Yelmo's mask, 4 = ice on a lake: with only a surface (a glacier outline
// case) the lake is ice, not PISM's ocean.
TEST(SubglacialLake, YelmoMaskWithLakeIsIce) {
  TempDir dir;
  TestFile f = lake_file();
  f.vars.erase(f.vars.begin() + 2, f.vars.begin() + 4); // no H_ice, z_bed
  test::write_test_file(dir.file("surface_only.nc"), f);
  const io::InputArrays arrays = io::read_input_arrays(config_for(dir.file("surface_only.nc"), {}));
  ASSERT_TRUE(arrays.ice_mask);
  EXPECT_EQ(int(arrays.ice_mask->values[0]), core::ice_free_ocean);
  EXPECT_EQ(int(arrays.ice_mask->values[3]), core::floating_ice);
  EXPECT_EQ(int(arrays.ice_mask->values[7]), core::ice_free_bedrock);

  // A value no convention knows is one clear error.
  for (auto& v : f.vars)
    if (v.name == "mask") v.values[2] = 7;
  test::write_test_file(dir.file("bad_mask.nc"), f);
  const std::string msg = read_error(dir.file("bad_mask.nc"));
  EXPECT_CONTAINS(msg, "ice mask 'mask' in '");
  EXPECT_CONTAINS(msg, "has the value 7 at (i = 2, j = 0");
}

// ------------------------------------------------------------- configuration

TEST(ConfigFile, FolderNameTooLongAndBinary) {
  TempDir dir;
  std::filesystem::create_directory(dir.file("cfg.yaml"));
  std::string msg;
  try {
    io::Config::from_file(dir.file("cfg.yaml"));
  } catch (const Error& e) {
    msg = e.what();
  }
  EXPECT_CONTAINS(msg, "configuration file '" + dir.file("cfg.yaml") + "': it is a folder");

  msg.clear();
  try {
    io::Config::from_file(dir.file(std::string(260, 'c') + ".yaml"));
  } catch (const Error& e) {
    msg = e.what();
  }
  EXPECT_CONTAINS(msg, "File name too long");

  test::write_test_file(dir.file("g.nc"), geometry());
  msg.clear();
  try {
    io::Config::from_file(dir.file("g.nc"));
  } catch (const Error& e) {
    msg = e.what();
  }
  EXPECT_CONTAINS(msg, "it is a NetCDF file");
}
