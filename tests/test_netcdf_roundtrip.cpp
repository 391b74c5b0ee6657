// NetCDF-CF output: write fields (at 1 or 2 ranks), read them back with the
// input reader, and check values, units, CF metadata and provenance.
#include "nunatak/core/constants.hpp"
#include "nunatak/core/error.hpp"
#include "nunatak/io/input_file.hpp"
#include "nunatak/io/output_file.hpp"
#include "nunatak/io/quantities.hpp"
#include "nunatak/io/units.hpp"
#include "test_files.hpp"

#include <gtest/gtest.h>
#include <netcdf.h>

#include <cmath>
#include <filesystem>

using namespace nunatak;
namespace fs = std::filesystem;

namespace {

const int nx = 20, ny = 15;
const double dx = 5000, dy = 4000, x0 = -50000, y0 = 120000;

core::Grid test_grid() {
  core::Grid g(nx, ny, dx, dy, x0, y0);
  core::GridMapping m;
  m.variable_name = "mapping";
  m.attributes = {{"grid_mapping_name", std::string("polar_stereographic")},
                  {"straight_vertical_longitude_from_pole", std::vector<double>{-45.0}},
                  {"standard_parallel", std::vector<double>{70.0}}};
  g.set_mapping(m);
  return g;
}

double thickness(int i, int j) {
  return 10.0 * i + 3.0 * j;
}
double speed(int i, int j) {
  return (i - j) * 1e-6;
} // m s-1, signed

void fill(core::Field2D& field, double (*f)(int, int)) {
  const core::LocalBox b = field.grid().box();
  auto v = Kokkos::create_mirror_view(field.view());
  for (int j = b.gys; j < b.gys + b.gym; ++j)
    for (int i = b.gxs; i < b.gxs + b.gxm; ++i) v(b.lj(j), b.li(i)) = f(i, j);
  Kokkos::deep_copy(field.view(), v);
}

/// A shared temporary folder name (rank 0 creates and removes it).
struct SharedDir {
  std::string path;
  SharedDir() {
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    path = (fs::temp_directory_path() / "nunatak_roundtrip_").string();
    int pid = rank == 0 ? int(::getpid()) : 0;
    MPI_Bcast(&pid, 1, MPI_INT, 0, MPI_COMM_WORLD);
    path += std::to_string(pid);
    if (rank == 0) fs::create_directories(path);
    MPI_Barrier(MPI_COMM_WORLD);
  }
  ~SharedDir() {
    MPI_Barrier(MPI_COMM_WORLD);
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank == 0) fs::remove_all(path);
  }
};

} // namespace

TEST(NetcdfRoundTrip, ValuesUnitsAndMetadata) {
  SharedDir dir;
  auto grid = core::ParallelGrid::create(MPI_COMM_WORLD, test_grid());
  core::Field2D thk(grid, io::quantity("thk").info);
  core::Field2D u(grid, io::quantity("uvelsurfobs").info);
  core::Field2D mask(grid, io::quantity("mask").info, io::grounded_ice);
  fill(thk, thickness);
  fill(u, speed);
  {
    // One cell without an observation.
    const core::LocalBox b = grid->box();
    if (b.xs <= 3 && 3 < b.xs + b.xm && b.ys <= 4 && 4 < b.ys + b.ym) {
      auto v = Kokkos::create_mirror_view(u.view());
      Kokkos::deep_copy(v, u.view());
      v(b.lj(4), b.li(3)) = std::nan("");
      Kokkos::deep_copy(u.view(), v);
    }
  }
  io::Config config;
  config.set_override("experiment.name=round trip");
  const std::string path = dir.path + "/sub/out.nc";
  {
    io::OutputFile out(grid, path, {"nunatak test --flag", &config, "round trip"}, 4);
    out.write_record(0.0, {&thk, &u, &mask});
    fill(thk, [](int i, int j) { return 2.0 * thickness(i, j); });
    out.write_record(10.0 * core::seconds_per_year, {&thk, &u, &mask});
    out.commit();
  }
  MPI_Barrier(MPI_COMM_WORLD);
  if (grid->rank() != 0) return;

  // Only the final file remains: no temporaries.
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir.path + "/sub")) files += e.is_regular_file();
  EXPECT_EQ(files, 1);

  io::InputFile in(path);
  EXPECT_TRUE(in.grid().matches(grid->grid()));
  ASSERT_NE(in.grid().mapping(), nullptr);
  EXPECT_EQ(in.grid().mapping()->mapping_name(), "polar_stereographic");

  const auto last = in.read("thk", io::quantity("thk"));
  const auto first = in.read("thk", io::quantity("thk"), 0);
  const auto vel = in.read("uvelsurfobs", io::quantity("uvelsurfobs"));
  const auto m = in.read_raw("mask");
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) {
      const size_t k = size_t(j * nx + i);
      EXPECT_DOUBLE_EQ(first[k], thickness(i, j));
      EXPECT_DOUBLE_EQ(last[k], 2.0 * thickness(i, j));
      if (i == 3 && j == 4)
        EXPECT_TRUE(std::isnan(vel[k]));
      else
        EXPECT_NEAR(vel[k], speed(i, j), 1e-12 * (std::abs(speed(i, j)) + 1e-6));
      EXPECT_EQ(m[k], double(io::grounded_ice));
    }

  const io::NcFile& f = in.nc();
  EXPECT_EQ(f.text_attribute(NC_GLOBAL, "Conventions").value_or(""), "CF-1.8");
  EXPECT_NE(f.text_attribute(NC_GLOBAL, "history").value_or("").find("nunatak test --flag"),
            std::string::npos);
  EXPECT_NE(f.text_attribute(NC_GLOBAL, "source").value_or("").find("nunatak "), std::string::npos);
  EXPECT_EQ(f.text_attribute(f.variable("thk"), "standard_name").value_or(""),
            "land_ice_thickness");
  EXPECT_EQ(f.text_attribute(f.variable("thk"), "grid_mapping").value_or(""), "mapping");
  EXPECT_EQ(f.text_attribute(f.variable("uvelsurfobs"), "units").value_or(""), "m year-1");
  EXPECT_EQ(f.text_attribute(f.variable("mask"), "flag_meanings").value_or(""),
            "ice_free_bedrock grounded_ice floating_ice ice_free_ocean");
  EXPECT_EQ(f.text_attribute(f.variable("time"), "units").value_or(""), io::time_units);
  const auto times = f.read_all(f.variable("time"));
  ASSERT_EQ(times.size(), 2u);
  EXPECT_NEAR(times[1], 10.0 * core::seconds_per_year, 1e-3);
  const int config_var = f.variable("nunatak_config");
  EXPECT_EQ(
      f.number_attribute(config_var, "constants.ice.density").value_or(std::vector<double>{0})[0],
      910.0);
  EXPECT_EQ(f.text_attribute(config_var, "experiment.name").value_or(""), "round trip");
  EXPECT_NE(f.text_attribute(NC_GLOBAL, "nunatak_config_yaml").value_or("").find("density: 910"),
            std::string::npos);
  // Compression is on.
  int shuffle = 0, deflate = 0, level = 0;
  nc_inq_var_deflate(f.id(), f.variable("thk"), &shuffle, &deflate, &level);
  EXPECT_EQ(deflate, 1);
  EXPECT_EQ(level, 4);
}

TEST(NetcdfRoundTrip, UncommittedOutputLeavesNothing) {
  SharedDir dir;
  auto grid = core::ParallelGrid::create(MPI_COMM_WORLD, test_grid());
  core::Field2D thk(grid, io::quantity("thk").info);
  const std::string path = dir.path + "/partial.nc";
  {
    io::OutputFile out(grid, path, {"test", nullptr, ""});
    out.write_record(0.0, {&thk});
    // destroyed without commit(), as when a later step throws
  }
  MPI_Barrier(MPI_COMM_WORLD);
  if (grid->rank() == 0) {
    EXPECT_TRUE(fs::is_empty(dir.path)) << "left files in " << dir.path;
  }
}

TEST(NetcdfRoundTrip, UnwritableFolderIsAnErrorOnEveryRank) {
  auto grid = core::ParallelGrid::create(MPI_COMM_WORLD, test_grid());
  EXPECT_THROW(io::OutputFile(grid, "/proc/nunatak-cannot-write-here/x.nc", {"test", nullptr, ""}),
               Error);
}
