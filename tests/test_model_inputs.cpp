// Reading model inputs from synthetic files: name recognition, unit
// conversion, derived geometry, layouts, a missing thickness estimated as
// configured, and one clear error per bad input (at 1 and 2 ranks).
#include "nunatak/core/constants.hpp"
#include "nunatak/core/error.hpp"
#include "nunatak/io/model_inputs.hpp"
#include "nunatak/io/quantities.hpp"
#include "nunatak/io/units.hpp"
#include "nunatak/model/model_inputs.hpp"
#include "test_files.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

using namespace nunatak;
using test::TempDir;
using test::TestFile;

namespace {

const int nx = 6, ny = 5;
const double dx = 1000.0;

double bed(int i, int) {
  return -500.0 + 200.0 * i;
} // ocean on the left, land on the right
double ice(int i, int j) {
  return i == 5 ? 0.0 : 300.0 + 10.0 * j;
}

TestFile geometry() {
  TestFile f = test::grid_file(nx, ny, dx, dx);
  test::add_field(f, "thk", "m", ice);
  test::add_field(f, "topg", "m", bed);
  return f;
}

/// The whole field on rank 0 (empty elsewhere).
std::vector<double> all(const std::optional<core::Field2D>& field) {
  return field->grid().gather_to_zero(*field);
}

bool root() {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank == 0;
}

/// Reads inputs with the given geometry file and overrides; returns the error text or "".
std::string read_error(const std::string& geometry_path, std::vector<std::string> overrides = {}) {
  io::Config c;
  c.set("input.geometry.file", "'" + geometry_path + "'", "test");
  for (const auto& o : overrides) c.set_override(o);
  try {
    model::read_model_inputs(c, MPI_COMM_WORLD);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

model::ModelInputs read(const std::string& geometry_path, std::vector<std::string> overrides = {}) {
  io::Config c;
  c.set("input.geometry.file", "'" + geometry_path + "'", "test");
  for (const auto& o : overrides) c.set_override(o);
  return model::read_model_inputs(c, MPI_COMM_WORLD);
}

/// Evaluates `text` once (it may be a collective call) and checks that it contains `part`.
} // namespace

TEST(ModelInputs, SurfaceAndMaskDerivedWithFloatation) {
  TempDir dir;
  test::write_test_file(dir.file("g.nc"), geometry());
  const model::ModelInputs in = read(dir.file("g.nc"));
  ASSERT_TRUE(in.geometry.usurf && in.geometry.mask);
  const auto s = all(in.geometry.usurf), m = all(in.geometry.mask);
  if (!root()) return;
  const double rho_i = 910, rho_w = 1028;
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) {
      const size_t k = size_t(j * nx + i);
      const double H = ice(i, j), b = bed(i, j);
      const bool floating = rho_i * H < rho_w * (0.0 - b);
      EXPECT_NEAR(s[k], floating ? (1 - rho_i / rho_w) * H : b + H, 1e-9) << i << "," << j;
      const int expected = H > 0 ? (floating ? io::floating_ice : io::grounded_ice)
                                 : (b < 0 ? io::ice_free_ocean : io::ice_free_bedrock);
      EXPECT_EQ(int(m[k]), expected) << i << "," << j;
    }
  // The geometry has both floating (i = 0: bed -500, H 300) and grounded cells.
  EXPECT_EQ(int(m[0]), io::floating_ice);
  EXPECT_EQ(int(m[3]), io::grounded_ice);
}

// input.coarsen_factor: blocks of 2 x 2 cells (the last row of blocks holds
// one row of the 6 x 5 grid); the volume is conserved, means skip missing
// radar cells, and the surface follows the coarse thickness and bed.
TEST(ModelInputs, CoarsenedInputsConserveTheVolume) {
  TempDir dir;
  TestFile g = geometry();
  std::vector<double> radar(size_t(nx * ny), NAN), u(size_t(nx * ny)), v(size_t(nx * ny));
  for (size_t k = 0; k < radar.size(); ++k) {
    u[k] = 10.0 * double(k);
    v[k] = -5.0;
  }
  radar[0] = 310.0; // cells (0, 0), (1, 0), (1, 1) of the first block
  radar[1] = 320.0;
  radar[size_t(nx + 1)] = 345.0;
  test::add_field(g, "thkobs", "m", radar);
  test::add_field(g, "uvelsurfobs", "m/a", u);
  test::add_field(g, "vvelsurfobs", "m/a", v);
  test::write_test_file(dir.file("g.nc"), g);
  io::Config c;
  c.set("input.geometry.file", "'" + dir.file("g.nc") + "'", "test");
  const io::InputArrays fine = io::read_input_arrays(c);
  c.set_override("input.coarsen_factor=2");
  const io::InputArrays coarse = io::read_input_arrays(c);
  ASSERT_EQ(coarse.grid.nx(), 3);
  ASSERT_EQ(coarse.grid.ny(), 3);
  EXPECT_DOUBLE_EQ(coarse.grid.dx(), 2 * dx);
  EXPECT_DOUBLE_EQ(coarse.grid.x(0), 0.5 * (fine.grid.x(0) + fine.grid.x(1)));
  double fine_volume = 0, coarse_volume = 0;
  for (double h : fine.thk->values) fine_volume += h * dx * dx;
  for (double h : coarse.thk->values) coarse_volume += h * 4 * dx * dx;
  EXPECT_NEAR(coarse_volume, fine_volume, 1e-12 * fine_volume);
  // Block (1, 2): fine cells (2..3, 4) only; the thickness counts the
  // missing row as ice-free, the bed is the mean of the cells there.
  EXPECT_DOUBLE_EQ(coarse.thk->values[7], (ice(2, 4) + ice(3, 4)) / 4);
  EXPECT_DOUBLE_EQ(coarse.topg->values[7], (bed(2, 4) + bed(3, 4)) / 2);
  const double rho_i = 910, rho_w = 1028;
  for (size_t k = 0; k < 9; ++k) {
    const double H = coarse.thk->values[k], b = coarse.topg->values[k];
    EXPECT_NEAR(coarse.usurf->values[k], std::max(b + H, (1 - rho_i / rho_w) * H), 1e-9) << k;
  }
  EXPECT_DOUBLE_EQ(coarse.thkobs->values[0], (310.0 + 320.0 + 345.0) / 3);
  EXPECT_TRUE(std::isnan(coarse.thkobs->values[1]));
  // The speed is that of the coarse velocity.
  EXPECT_DOUBLE_EQ(coarse.uvelsurfobs->values[0],
                   10.0 * (0 + 1 + 6 + 7) / 4 / core::seconds_per_year);
  EXPECT_DOUBLE_EQ(coarse.velsurfobs_mag->values[0],
                   std::hypot(coarse.uvelsurfobs->values[0], coarse.vvelsurfobs->values[0]));
  try {
    c.set_override("input.coarsen_factor=0");
    ADD_FAILURE() << "a factor of 0 was accepted";
  } catch (const Error& e) {
    EXPECT_CONTAINS(std::string(e.what()), "input.coarsen_factor");
  }
}

TEST(ModelInputs, ThicknessDerivedFromSurfaceAndBed) {
  TempDir dir;
  TestFile f = test::grid_file(nx, ny, dx, dx);
  test::add_field(f, "z_srf", "m",
                  [](int i, int j) { return std::max(bed(i, j) + ice(i, j), 0.1 * ice(i, j)); });
  test::add_field(f, "z_bed", "m", bed);
  test::write_test_file(dir.file("g.nc"), f);
  const model::ModelInputs in =
      read(dir.file("g.nc"), {"constants.sea_water.density=1011.1111111111111"});
  const auto H = all(in.geometry.thk);
  if (!root()) return;
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i)
      EXPECT_NEAR(H[size_t(j * nx + i)], ice(i, j), 1e-6) << i << "," << j;
}

TEST(ModelInputs, GlacierOutlineWithoutThickness) {
  TempDir dir;
  TestFile f = test::grid_file(nx, ny, 100.0, 100.0);
  test::add_field(f, "usurf", "m", [](int i, int j) { return 3000.0 - 10 * i - j; });
  test::add_field(f, "icemask", "no unit", [](int i, int) { return i < 3 ? 1.0 : 0.0; });
  test::add_field(f, "uvelsurfobs", "m/y", [](int i, int) { return i < 3 ? 100.0 : NAN; });
  test::add_field(f, "vvelsurfobs", "m/y", [](int i, int) { return i < 3 ? -100.0 : NAN; });
  test::add_field(f, "thkobs", "m", [](int i, int j) { return i == 1 && j == 2 ? 250.0 : NAN; });
  test::write_test_file(dir.file("a.nc"), f);
  const model::ModelInputs in = read(dir.file("a.nc"));
  EXPECT_FALSE(in.geometry.thk);
  EXPECT_FALSE(in.geometry.topg);
  ASSERT_TRUE(in.geometry.mask && in.observations.velsurfobs_mag && in.observations.thkobs);
  const auto m = all(in.geometry.mask), speed = all(in.observations.velsurfobs_mag);
  EXPECT_EQ(in.grid->count_valid(*in.observations.thkobs), 1);
  EXPECT_EQ(in.grid->count_valid(*in.observations.velsurfobs_mag), 3 * ny);
  if (!root()) return;
  const double spy = core::seconds_per_year;
  EXPECT_EQ(int(m[0]), io::grounded_ice);
  EXPECT_EQ(int(m[4]), io::ice_free_bedrock);
  EXPECT_NEAR(speed[0] * spy, std::hypot(100.0, 100.0), 1e-9);
  EXPECT_TRUE(std::isnan(speed[5]));
}

TEST(ModelInputs, KilometreCoordinatesDecreasingYAndTransposedStorage) {
  TempDir dir;
  // y decreasing (as BedMachine stores it), coordinates in km, data stored (x, y).
  TestFile f = test::grid_file(nx, ny, 2.0, -2.0, 100.0, 50.0, "km");
  std::vector<double> thk_xy;
  for (int i = 0; i < nx; ++i)
    for (int j = 0; j < ny; ++j) thk_xy.push_back(100.0 * i + j); // file row j = northernmost first
  test::TestVar v{"thk", {"x", "y"}, thk_xy, {{"units", "m"}}, {}};
  f.vars.push_back(v);
  test::add_field(f, "topg", "m", [](int, int) { return 10.0; });
  test::write_test_file(dir.file("t.nc"), f);
  const model::ModelInputs in = read(dir.file("t.nc"));
  const core::Grid& g = in.grid->grid();
  EXPECT_DOUBLE_EQ(g.dx(), 2000.0);
  EXPECT_DOUBLE_EQ(g.dy(), 2000.0);
  EXPECT_DOUBLE_EQ(g.x0(), 100000.0);
  EXPECT_DOUBLE_EQ(g.y0(), 50000.0 - 2000.0 * (ny - 1));
  const auto H = all(in.geometry.thk);
  if (!root()) return;
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) // our row j (from the south) is file row ny-1-j
      EXPECT_EQ(H[size_t(j * nx + i)], 100.0 * i + (ny - 1 - j));
}

TEST(ModelInputs, TimeRecordsAndMassBalanceUnits) {
  TempDir dir;
  TestFile f = geometry();
  f.dims.insert(f.dims.begin(), {"time", 0});
  std::vector<double> smb;
  for (int t = 0; t < 2; ++t)
    for (int k = 0; k < nx * ny; ++k) smb.push_back(t == 0 ? 1000.0 : -500.0);
  f.vars.push_back({"smb", {"time", "y", "x"}, smb, {{"units", "mm a**-1"}}, {}});
  test::write_test_file(dir.file("f.nc"), f);
  const double spy = core::seconds_per_year;
  {
    const model::ModelInputs in = read(dir.file("f.nc"));
    EXPECT_NEAR(in.grid->max(*in.forcing.climatic_mass_balance) * spy, -500.0, 1e-9); // last record
  }
  {
    const model::ModelInputs in = read(dir.file("f.nc"), {"input.time_index=0"});
    EXPECT_NEAR(in.grid->max(*in.forcing.climatic_mass_balance) * spy, 1000.0,
                1e-9); // 1 m w.e. = 1000 kg m-2
  }
  {
    const model::ModelInputs in =
        read(dir.file("f.nc"), {"input.time_index=0", "input.smb_length_rate_is=ice_equivalent"});
    EXPECT_NEAR(in.grid->max(*in.forcing.climatic_mass_balance) * spy, 910.0, 1e-9);
  }
  EXPECT_CONTAINS(read_error(dir.file("f.nc"), {"input.time_index=5"}),
                  "time index 5 is out of range");
}

TEST(ModelInputs, BadThicknessIsOneClearError) {
  TempDir dir;
  TestFile nan_file = geometry();
  nan_file.var("thk").values[7] = NAN;
  test::write_test_file(dir.file("nan.nc"), nan_file);
  const std::string nan_msg = read_error(dir.file("nan.nc"));
  // (Each rank has its own temporary folder; the message is rank 0's.)
  EXPECT_CONTAINS(nan_msg, "'thk' in '");
  EXPECT_CONTAINS(nan_msg, "/nan.nc'");
  EXPECT_CONTAINS(nan_msg, "1 cells without data");
  EXPECT_CONTAINS(nan_msg, "i = 1, j = 1");

  TestFile fill_file = geometry();
  fill_file.var("thk").numbers["_FillValue"] = -9999.0;
  fill_file.var("thk").values[0] = -9999.0;
  test::write_test_file(dir.file("fill.nc"), fill_file);
  EXPECT_CONTAINS(read_error(dir.file("fill.nc")), "cells without data");

  TestFile negative = geometry();
  negative.var("thk").values[3] = -2.0;
  test::write_test_file(dir.file("neg.nc"), negative);
  EXPECT_CONTAINS(read_error(dir.file("neg.nc")), "is negative (-2 m)");
}

TEST(ModelInputs, MissingFilesVariablesAndWrongLayouts) {
  TempDir dir;
  EXPECT_CONTAINS(read_error(dir.file("absent.nc")), "/absent.nc' does not exist");
  EXPECT_CONTAINS(read_error(""), "'input.geometry.file' is not set");

  test::write_test_file(dir.file("g.nc"), geometry());
  EXPECT_CONTAINS(read_error(dir.file("g.nc"), {"input.names.thk=H_missing"}),
                  "variable 'H_missing' (configured for thk) not found");

  test::write_text(dir.file("text.nc"), "not a netcdf file");
  EXPECT_CONTAINS(read_error(dir.file("text.nc")), "/text.nc' is not a NetCDF file");

  TestFile monthly = test::grid_file(nx, ny, dx, dx);
  monthly.dims.insert(monthly.dims.begin(), {"month", 12});
  monthly.vars.push_back(
      {"thk", {"month", "y", "x"}, std::vector<double>(12 * nx * ny, 1.0), {{"units", "m"}}, {}});
  test::add_field(monthly, "topg", "m", bed);
  test::write_test_file(dir.file("month.nc"), monthly);
  EXPECT_CONTAINS(read_error(dir.file("month.nc")), "has dimension 'month' of length 12");

  TestFile no_coords;
  no_coords.dims = {{"y", size_t(ny)}, {"x", size_t(nx)}};
  test::add_field(no_coords, "thk", "m", ice);
  test::write_test_file(dir.file("nocoord.nc"), no_coords);
  EXPECT_CONTAINS(read_error(dir.file("nocoord.nc")), "no x/y coordinate variables");

  TestFile uneven = geometry();
  uneven.var("x").values[2] += 100.0;
  test::write_test_file(dir.file("uneven.nc"), uneven);
  EXPECT_CONTAINS(read_error(dir.file("uneven.nc")), "/uneven.nc' is not evenly spaced");

  TestFile nothing = test::grid_file(nx, ny, dx, dx);
  test::add_field(nothing, "temperature", "K", bed);
  test::write_test_file(dir.file("nothing.nc"), nothing);
  EXPECT_CONTAINS(read_error(dir.file("nothing.nc")),
                  "neither ice thickness nor surface elevation");
}

TEST(ModelInputs, MismatchedGridsAndWrongUnits) {
  TempDir dir;
  test::write_test_file(dir.file("g.nc"), geometry());
  TestFile coarse = test::grid_file(nx, ny, 2 * dx, 2 * dx);
  test::add_field(coarse, "smb", "kg m-2 s-1", bed);
  test::write_test_file(dir.file("coarse.nc"), coarse);
  const std::string grid_msg =
      read_error(dir.file("g.nc"), {"input.forcing.file=" + dir.file("coarse.nc")});
  EXPECT_CONTAINS(grid_msg, "grids do not match");
  EXPECT_CONTAINS(grid_msg, "/coarse.nc");

  TestFile obs = test::grid_file(nx, ny, dx, dx);
  test::add_field(obs, "vx", "kg", bed);
  test::add_field(obs, "vy", "m/a", bed);
  test::write_test_file(dir.file("obs.nc"), obs);
  const std::string units_msg =
      read_error(dir.file("g.nc"), {"input.observations.file=" + dir.file("obs.nc")});
  EXPECT_CONTAINS(units_msg, "units 'kg' cannot be converted to 'm s-1'");
  EXPECT_CONTAINS(units_msg, "variable 'vx'");

  TestFile unitless = test::grid_file(nx, ny, dx, dx);
  test::add_field(unitless, "smb", "", bed);
  test::write_test_file(dir.file("unitless.nc"), unitless);
  EXPECT_CONTAINS(read_error(dir.file("g.nc"), {"input.forcing.file=" + dir.file("unitless.nc")}),
                  "has no 'units' attribute");
}

// PISM's till yield stress, read with sliding.law = pseudo_plastic (in any
// pressure units), complete and non-negative.
TEST(ModelInputs, TillYieldStress) {
  TempDir dir;
  auto with_tauc = [](const std::string& units, double (*f)(int, int)) {
    TestFile file = geometry();
    test::add_field(file, "tauc", units, f);
    return file;
  };
  test::write_test_file(dir.file("kpa.nc"),
                        with_tauc("kPa", [](int i, int j) { return 10.0 + i + 0.5 * j; }));
  const model::ModelInputs in = read(dir.file("kpa.nc"), {"sliding.law=pseudo_plastic"});
  ASSERT_TRUE(in.tauc);
  EXPECT_EQ(in.tauc->info().units, "Pa");
  const auto tauc = all(in.tauc);
  for (int j = 0; j < ny && root(); ++j)
    for (int i = 0; i < nx; ++i)
      EXPECT_DOUBLE_EQ(tauc[size_t(j * nx + i)], 1000.0 * (10.0 + i + 0.5 * j));
  EXPECT_FALSE(read(dir.file("kpa.nc")).tauc) << "read only for pseudo-plastic sliding";

  TestFile gap = with_tauc("Pa", [](int, int) { return 5e4; });
  gap.var("tauc").values[8] = NAN;
  test::write_test_file(dir.file("gap.nc"), gap);
  const std::string gap_msg = read_error(dir.file("gap.nc"), {"sliding.law=pseudo_plastic"});
  EXPECT_CONTAINS(gap_msg, "till yield stress 'tauc' in '");
  EXPECT_CONTAINS(gap_msg, "1 cells without data (NaN or missing value), first at (i = 2, j = 1");
  EXPECT_CONTAINS(gap_msg, "it must be given in every cell");

  test::write_test_file(dir.file("neg.nc"),
                        with_tauc("Pa", [](int i, int) { return i == 3 ? -1.0 : 5e4; }));
  EXPECT_CONTAINS(read_error(dir.file("neg.nc"), {"sliding.law=pseudo_plastic"}),
                  "is negative (-1 Pa) at (i = 3, j = 0");
  test::write_test_file(dir.file("m.nc"), with_tauc("m", [](int, int) { return 1.0; }));
  EXPECT_CONTAINS(read_error(dir.file("m.nc"), {"sliding.law=pseudo_plastic"}),
                  "units 'm' cannot be converted to 'Pa'");
  test::write_test_file(dir.file("none.nc"), with_tauc("", [](int, int) { return 1.0; }));
  EXPECT_CONTAINS(read_error(dir.file("none.nc"), {"sliding.law=pseudo_plastic"}),
                  "has no 'units' attribute");
}

// Ice softness: nunatak's `softness` on sigma levels in any order of the
// dimensions, Yelmo's ATT (a^-1 Pa^-3, zeta from the surface down), 2-D
// fields as two equal levels, and one clear error for bad values or levels.
namespace softness {

const double year = core::seconds_per_year;

/// A(i, j, sigma) in Pa-3 a-1.
double A(int i, int j, double sigma) {
  return 1e-16 * (1.0 + 0.1 * i + 0.01 * j) * (1.0 + sigma);
}

/// The geometry plus a softness variable `name` with dimensions `dims` (x, y
/// and a level dimension `z` with coordinate `z_values`) in `units`.
TestFile with_levels(const std::string& name, const std::vector<std::string>& dims,
                     const std::vector<double>& z_values, const std::string& units,
                     const std::string& z_name = "z") {
  TestFile f = geometry();
  f.dims.push_back({z_name, z_values.size()});
  f.vars.push_back({z_name, {z_name}, z_values, {{"units", "1"}}, {}});
  // Values in the order of `dims`.
  std::vector<double> values;
  std::vector<size_t> lengths;
  for (const auto& d : dims) lengths.push_back(d == "x" ? nx : d == "y" ? ny : z_values.size());
  for (size_t a = 0; a < lengths[0]; ++a)
    for (size_t b = 0; b < lengths[1]; ++b)
      for (size_t c = 0; c < lengths[2]; ++c) {
        const size_t idx[3] = {a, b, c};
        int i = 0, j = 0;
        double sigma = 0;
        for (int p = 0; p < 3; ++p) {
          if (dims[size_t(p)] == "x") i = int(idx[p]);
          if (dims[size_t(p)] == "y") j = int(idx[p]);
          if (dims[size_t(p)] == z_name) sigma = z_values[idx[p]];
        }
        values.push_back(A(i, j, sigma));
      }
  f.vars.push_back({name, dims, values, {{"units", units}}, {}});
  return f;
}

/// A(i, j, level k) of a field read on `sigma` levels, in Pa-3 a-1 (rank 0; NaN elsewhere).
double value(const model::ModelInputs& in, int i, int j, int k) {
  const auto level = in.grid->gather_to_zero(in.softness->level(k));
  return level.empty() ? NAN : level[size_t(j * nx + i)] * year;
}

} // namespace softness

TEST(ModelInputs, SoftnessOnLevels) {
  using namespace softness;
  TempDir dir;
  // nunatak's own: (z, y, x), sigma 0, 0.25, 1.
  test::write_test_file(dir.file("zyx.nc"),
                        with_levels("softness", {"z", "y", "x"}, {0.0, 0.25, 1.0}, "Pa-3 a-1"));
  const model::ModelInputs in = read(dir.file("zyx.nc"));
  ASSERT_TRUE(in.softness);
  EXPECT_EQ(in.softness->sigma(), (std::vector<double>{0.0, 0.25, 1.0}));
  EXPECT_EQ(in.softness->info().units, "Pa-3 s-1");
  // (value() gathers: called on every rank, checked on rank 0.)
  const double in_431 = value(in, 4, 3, 1), in_002 = value(in, 0, 0, 2);
  if (root()) {
    EXPECT_NEAR(in_431, A(4, 3, 0.25), 1e-30);
    EXPECT_NEAR(in_002, A(0, 0, 1.0), 1e-30);
  }
  // Levels last, (y, x, z).
  test::write_test_file(dir.file("yxz.nc"),
                        with_levels("softness", {"y", "x", "z"}, {0.0, 0.5, 1.0}, "Pa-3 year-1"));
  const model::ModelInputs last = read(dir.file("yxz.nc"));
  const double last_521 = value(last, 5, 2, 1);
  if (root()) {
    EXPECT_NEAR(last_521, A(5, 2, 0.5), 1e-30);
  }
  // Yelmo: ATT(zeta, y, x) in a^-1 Pa^-3, zeta listed from the surface down.
  test::write_test_file(dir.file("yelmo.nc"), with_levels("ATT", {"zeta", "y", "x"},
                                                          {1.0, 0.6, 0.0}, "a^-1 Pa^-3", "zeta"));
  const model::ModelInputs yelmo = read(dir.file("yelmo.nc"));
  ASSERT_TRUE(yelmo.softness);
  EXPECT_EQ(yelmo.softness->sigma(), (std::vector<double>{0.0, 0.6, 1.0}));
  const double yelmo_140 = value(yelmo, 1, 4, 0), yelmo_141 = value(yelmo, 1, 4, 1);
  if (root()) {
    EXPECT_NEAR(yelmo_140, A(1, 4, 0.0), 1e-30);
    EXPECT_NEAR(yelmo_141, A(1, 4, 0.6), 1e-30);
  }
  // A 2-D field: two equal levels, sigma 0 and 1.
  TestFile flat = geometry();
  test::add_field(flat, "softness", "Pa-3 s-1", [](int i, int) { return 1e-24 * (1 + i); });
  test::write_test_file(dir.file("flat.nc"), flat);
  const model::ModelInputs two_d = read(dir.file("flat.nc"));
  ASSERT_TRUE(two_d.softness);
  EXPECT_EQ(two_d.softness->sigma(), (std::vector<double>{0.0, 1.0}));
  const double base = value(two_d, 3, 1, 0), top = value(two_d, 3, 1, 1);
  if (root()) {
    EXPECT_DOUBLE_EQ(base, 4e-24 * year);
    EXPECT_DOUBLE_EQ(top, 4e-24 * year);
  }
  // Another variable called ATT (not a rate factor) is left alone.
  TestFile other = geometry();
  test::add_field(other, "ATT", "K", [](int, int) { return 260.0; });
  test::write_test_file(dir.file("other.nc"), other);
  EXPECT_FALSE(read(dir.file("other.nc")).softness);
  // Any name, with input.names.softness.
  TestFile renamed = geometry();
  test::add_field(renamed, "rate_factor", "Pa-3 s-1", [](int, int) { return 2e-24; });
  test::write_test_file(dir.file("renamed.nc"), renamed);
  EXPECT_FALSE(read(dir.file("renamed.nc")).softness);
  EXPECT_TRUE(read(dir.file("renamed.nc"), {"input.names.softness=rate_factor"}).softness);
}

TEST(ModelInputs, BadSoftnessIsOneClearError) {
  using namespace softness;
  TempDir dir;
  TestFile zero = with_levels("softness", {"z", "y", "x"}, {0.0, 0.5, 1.0}, "Pa-3 a-1");
  zero.var("softness").values[size_t(2 * nx * ny + 1 * nx + 4)] = 0.0; // level 2, j = 1, i = 4
  zero.var("softness").values[size_t(0 * nx * ny + 3 * nx + 5)] = -1.0;
  test::write_test_file(dir.file("zero.nc"), zero);
  const std::string msg = read_error(dir.file("zero.nc"));
  EXPECT_CONTAINS(msg, "ice softness 'softness' in '");
  EXPECT_CONTAINS(msg, "/zero.nc' must be a positive number in every cell and on every level, "
                       "but 2 values are not");
  EXPECT_CONTAINS(msg, "the first, 0 Pa-3 s-1, at (i = 4, j = 1; x = 4000 m, y = 1000 m), level 2 "
                       "of 'z' (sigma = 1)");

  TestFile gap = with_levels("softness", {"z", "y", "x"}, {0.0, 1.0}, "Pa-3 a-1");
  gap.var("softness").numbers["_FillValue"] = -9999.0;
  gap.var("softness").values[3] = -9999.0;
  test::write_test_file(dir.file("gap.nc"), gap);
  EXPECT_CONTAINS(read_error(dir.file("gap.nc")), "but 1 values are not (missing, zero, negative");

  TestFile metres = with_levels("softness", {"z", "y", "x"}, {0.0, 1500.0, 3000.0}, "Pa-3 a-1");
  metres.var("z").text["units"] = "m";
  test::write_test_file(dir.file("metres.nc"), metres);
  EXPECT_CONTAINS(
      read_error(dir.file("metres.nc")),
      "its levels 'z' run from 0 to 3000 m (or are not strictly monotonic); nunatak needs "
      "terrain-following levels, sigma increasing from 0 (base) to 1 (surface)");

  test::write_test_file(dir.file("units.nc"),
                        with_levels("softness", {"z", "y", "x"}, {0.0, 1.0}, "Pa-2 s-1"));
  EXPECT_CONTAINS(read_error(dir.file("units.nc")),
                  "units 'Pa-2 s-1' cannot be converted to 'Pa-3 s-1' (variable 'softness'");
  EXPECT_CONTAINS(read_error(dir.file("units.nc"), {"flow_law.glen_exponent=2.5"}),
                  "an ice softness field needs an integer flow_law.glen_exponent");
}

// ---- a missing thickness estimated as configured (input.missing_thickness =
// plastic, keys thickness_estimate.*): the model layer completes io's arrays ----

namespace plastic {

const int nx = 30, ny = 20;

double surface(int i, int j) {
  return 3000.0 - 5.0 * i - 2.0 * j;
}
double outline(int i, int j) {
  return i >= 3 && i < 27 && j >= 3 && j < 17 ? 1.0 : 0.0;
}
double radar_on_ice(int i, int j) {
  return j == 10 && i >= 5 && i < 25 ? 150.0 : std::numeric_limits<double>::quiet_NaN();
}
double radar_off_ice(int i, int j) {
  return i == 1 && j == 1 ? 150.0 : std::numeric_limits<double>::quiet_NaN();
}

TestFile glacier(bool with_mask, double (*radar)(int, int)) {
  TestFile file = test::grid_file(nx, ny, 100.0, 100.0);
  test::add_field(file, "usurf", "m", surface);
  if (with_mask) test::add_field(file, "icemask", "no unit", outline);
  if (radar) test::add_field(file, "thkobs", "m", radar);
  return file;
}

io::Config config(const std::string& path, std::vector<std::string> overrides) {
  io::Config c;
  c.set("input.geometry.file", "'" + path + "'", "test");
  c.set_override("input.missing_thickness=plastic");
  for (const auto& o : overrides) c.set_override(o);
  return c;
}

std::string read_error(const std::string& path, std::vector<std::string> overrides = {}) {
  try {
    model::read_model_inputs(config(path, std::move(overrides)), MPI_COMM_WORLD);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

} // namespace plastic

TEST(PlasticThicknessInputs, EstimatedThicknessAndBed) {
  TempDir dir;
  test::write_test_file(dir.file("g.nc"), plastic::glacier(true, plastic::radar_on_ice));
  const model::ModelInputs in =
      model::read_model_inputs(plastic::config(dir.file("g.nc"), {}), MPI_COMM_WORLD);
  ASSERT_TRUE(in.geometry.thk && in.geometry.topg && in.geometry.mask && in.thickness_estimate);
  const auto& e = *in.thickness_estimate;
  EXPECT_TRUE(e.calibrated);
  EXPECT_TRUE(e.radar && e.hold_out);
  // Ice in the radar row is thick enough for a 150 m fit with a plausible tau.
  EXPECT_GT(e.tau_b, 1e4);
  EXPECT_LT(e.tau_b, 1e6);
  EXPECT_EQ(e.radar->cells, 20);
  const auto H = in.grid->gather_to_zero(*in.geometry.thk);
  const auto b = in.grid->gather_to_zero(*in.geometry.topg);
  const auto m = in.grid->gather_to_zero(*in.geometry.mask);
  if (H.empty()) return; // not rank 0
  for (int j = 0; j < plastic::ny; ++j)
    for (int i = 0; i < plastic::nx; ++i) {
      const size_t k = size_t(j) * plastic::nx + i;
      EXPECT_EQ(H[k] > 0.0, plastic::outline(i, j) == 1.0);
      EXPECT_EQ(m[k], plastic::outline(i, j) == 1.0 ? 2.0 : 0.0);
      EXPECT_NEAR(b[k], plastic::surface(i, j) - H[k], 1e-9);
    }
}

TEST(PlasticThicknessInputs, ConfiguredStressWithoutRadar) {
  TempDir dir;
  test::write_test_file(dir.file("g.nc"), plastic::glacier(true, nullptr));
  const model::ModelInputs in = model::read_model_inputs(
      plastic::config(dir.file("g.nc"), {"thickness_estimate.calibration=none",
                                         "thickness_estimate.basal_shear_stress=150000"}),
      MPI_COMM_WORLD);
  ASSERT_TRUE(in.thickness_estimate);
  EXPECT_FALSE(in.thickness_estimate->calibrated);
  EXPECT_FALSE(in.thickness_estimate->radar);
  EXPECT_EQ(in.thickness_estimate->tau_b, 1.5e5);
}

TEST(PlasticThicknessInputs, DefaultLeavesThicknessUnknown) {
  TempDir dir;
  test::write_test_file(dir.file("g.nc"), plastic::glacier(true, plastic::radar_on_ice));
  const model::ModelInputs in = model::read_model_inputs(
      plastic::config(dir.file("g.nc"), {"input.missing_thickness=none"}), MPI_COMM_WORLD);
  EXPECT_FALSE(in.geometry.thk);
  EXPECT_FALSE(in.thickness_estimate);
}

TEST(PlasticThicknessInputs, BadInputIsOneClearError) {
  TempDir dir;
  test::write_test_file(dir.file("no_mask.nc"), plastic::glacier(false, plastic::radar_on_ice));
  const std::string no_mask = plastic::read_error(dir.file("no_mask.nc"));
  EXPECT_CONTAINS(no_mask, "input.missing_thickness = plastic needs an ice mask");
  EXPECT_CONTAINS(no_mask, "input.names.mask");

  test::write_test_file(dir.file("no_radar.nc"), plastic::glacier(true, nullptr));
  const std::string no_radar = plastic::read_error(dir.file("no_radar.nc"));
  EXPECT_CONTAINS(no_radar, "thickness_estimate.calibration = radar");
  EXPECT_CONTAINS(no_radar, "thkobs");
  EXPECT_CONTAINS(no_radar, "has no radar thickness");

  test::write_test_file(dir.file("radar_off_ice.nc"),
                        plastic::glacier(true, plastic::radar_off_ice));
  EXPECT_CONTAINS(plastic::read_error(dir.file("radar_off_ice.nc")),
                  "has none inside the ice mask");

  TestFile no_ice = plastic::glacier(false, plastic::radar_on_ice);
  test::add_field(no_ice, "icemask", "no unit", [](int, int) { return 0.0; });
  test::write_test_file(dir.file("no_ice.nc"), no_ice);
  EXPECT_CONTAINS(plastic::read_error(dir.file("no_ice.nc")), "the ice mask has no ice cells");

  test::write_test_file(dir.file("ok.nc"), plastic::glacier(true, plastic::radar_on_ice));
  EXPECT_CONTAINS(plastic::read_error(dir.file("ok.nc"), {"thickness_estimate.shape_factor=0"}),
                  "thickness_estimate.shape_factor");
}

// parallel.decomposition: ice splits the grid by ice columns, even by cells.
TEST(ModelInputs, GridSplitByTheIce) {
  // 40 x 6 cells, ice on the last 8 columns only.
  TempDir dir;
  TestFile f = test::grid_file(40, 6, dx, dx);
  test::add_field(f, "thk", "m", [](int i, int) { return i >= 32 ? 400.0 : 0.0; });
  test::add_field(f, "topg", "m", [](int i, int) { return 100.0 + i; });
  test::write_test_file(dir.file("g.nc"), f);
  const auto ice_columns = [](const model::ModelInputs& in) {
    const core::LocalBox& b = in.grid->box();
    return b.xs + b.xm > 32 ? std::min(b.xs + b.xm, 40) - std::max(b.xs, 32) : 0;
  };
  const model::ModelInputs by_ice = read(dir.file("g.nc"));
  const model::ModelInputs even = read(dir.file("g.nc"), {"parallel.decomposition=even"});
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size == 2) {
    // Ice: 32 * 0.1 + 8 = 11.2 per row, half reached at 32 + 2 columns.
    EXPECT_EQ(ice_columns(by_ice), root() ? 2 : 6);
    EXPECT_EQ(ice_columns(even), root() ? 0 : 8);
  } else {
    EXPECT_EQ(ice_columns(by_ice), 8);
  }
  // The fields are the same whatever the split.
  EXPECT_EQ(all(by_ice.geometry.thk), all(even.geometry.thk));
  io::Config c;
  try {
    c.set_override("parallel.decomposition=cells");
    ADD_FAILURE() << "an unknown decomposition was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("parallel.decomposition"), std::string::npos) << e.what();
  }
}
