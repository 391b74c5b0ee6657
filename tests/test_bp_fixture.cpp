// Blatter-Pattyn fixtures in NetCDF (io::write_bp_fixture / read_bp_fixture):
// a patch whose energy and gradient come from the LibTorch energy is written,
// read back bit for bit, and the torch energy of the read patch equals the
// stored one: the path by which the torch side is tested from a solver's file
// without PETSc.
#include "nunatak/core/bp_patch.hpp"
#include "nunatak/core/error.hpp"
#include "nunatak/emulator/bp_energy.hpp"
#include "nunatak/io/bp_fixture.hpp"
#include "nunatak/io/netcdf_file.hpp"
#include "test_files.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

namespace {

using nunatak::core::BPPatch;
namespace emu = nunatak::emulator;
namespace io = nunatak::io;

/// 7 x 5 columns of 5 nodes: sliding, a marine front on the east side, a land
/// margin in one corner, and a box with ghosts (owned and integrated ranges
/// smaller than the box, as a rank's patch has).
BPPatch fixture_patch() {
  const int nx = 7, ny = 5, nz = 5;
  std::vector<double> H(nx * ny), b(nx * ny), beta2(nx * ny), B(nx * ny * nz);
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) {
      const size_t c = size_t(j * nx + i);
      H[c] = i >= 5 && j >= 1 ? 0.0 : 350.0 + 30.0 * std::sin(0.7 * i + j);
      b[c] = 80.0 - 55.0 * i + 8.0 * j;
      beta2[c] = 1500.0 + 400.0 * std::cos(i - j);
      for (int k = 0; k < nz; ++k) B[c * nz + size_t(k)] = 1.8e5 + 1.0e4 * k;
    }
  H[0] = 4.0; // ice-free, bed above sea level
  nunatak::core::BPConstants constants;
  constants.friction_exponent = 0.5;
  constants.sea_level = 12.0;
  BPPatch p = nunatak::core::make_bp_patch(nx, ny, 750.0, 640.0, {0.0, 0.15, 0.4, 0.7, 1.0}, H, b,
                                           beta2, B, constants);
  // A rank's ghosted box: global offset, owned columns, integrated elements.
  p.i0 = 3;
  p.j0 = 2;
  p.xs = 1;
  p.xm = 5;
  p.ys = 0;
  p.ym = 4;
  p.ex0 = 1;
  p.ex1 = 6;
  p.ey0 = 0;
  p.ey1 = 4;
  p.period_x = 9;                       // periodic along x only (global columns 0 .. 8)
  p.bed_fixed[3] = p.bed_fixed[10] = 1; // a frozen bed in two columns
  p.check("fixture patch");
  return p;
}

io::BPFixture torch_fixture() {
  io::BPFixture x;
  x.patch = fixture_patch();
  x.velocity.resize(x.patch.size());
  for (size_t n = 0; n < x.velocity.size(); ++n) x.velocity[n] = 20.0 + 15.0 * std::sin(0.37 * n);
  const auto t = emu::make_torch_bp_patch(x.patch);
  const auto u = emu::velocity_tensor(t, x.velocity);
  x.energy = emu::bp_energy(t, u).item<double>();
  x.gradient = emu::to_vector(emu::bp_energy_gradient(t, u));
  x.description = "round-trip test: 7 x 5 x 5 patch with a marine front, torch energy";
  return x;
}

TEST(BPFixture, RoundTripKeepsEveryValueAndTheTorchEnergy) {
  const nunatak::test::TempDir dir;
  const std::string path = dir.file("sub/fixture.nc");
  const io::BPFixture written = torch_fixture();
  ASSERT_NE(written.energy, 0.0);
  io::write_bp_fixture(path, written);
  const io::BPFixture read = io::read_bp_fixture(path);

  const BPPatch &a = written.patch, &b = read.patch;
  EXPECT_EQ(b.nx, a.nx);
  EXPECT_EQ(b.ny, a.ny);
  EXPECT_EQ(b.nz, a.nz);
  EXPECT_EQ(b.i0, a.i0);
  EXPECT_EQ(b.j0, a.j0);
  EXPECT_EQ(b.dx, a.dx);
  EXPECT_EQ(b.dy, a.dy);
  EXPECT_EQ(b.sigma, a.sigma);
  EXPECT_EQ(std::vector<int>({b.xs, b.ys, b.xm, b.ym, b.ex0, b.ex1, b.ey0, b.ey1}),
            std::vector<int>({a.xs, a.ys, a.xm, a.ym, a.ex0, a.ex1, a.ey0, a.ey1}));
  EXPECT_EQ(b.period_x, 9);
  EXPECT_EQ(b.period_y, 0);
  // Global columns 3 .. 9 with 4 .. 8 owned: 9 is column 0, another rank's,
  // so no column is tied (ties are within a box).
  const std::vector<std::int64_t> partner = nunatak::core::periodic_partner_columns(b);
  for (size_t c = 0; c < partner.size(); ++c) EXPECT_EQ(partner[c], std::int64_t(c));
  EXPECT_EQ(b.thickness, a.thickness);
  EXPECT_EQ(b.bed, a.bed);
  EXPECT_EQ(b.beta2, a.beta2);
  EXPECT_EQ(b.hardness, a.hardness);
  EXPECT_EQ(b.element_filled, a.element_filled);
  EXPECT_EQ(b.node_free, a.node_free);
  EXPECT_EQ(b.front_faces, a.front_faces);
  EXPECT_EQ(b.constants.glen_exponent, a.constants.glen_exponent);
  EXPECT_EQ(b.constants.regularisation2, a.constants.regularisation2);
  EXPECT_EQ(b.bed_fixed, a.bed_fixed);
  EXPECT_EQ(b.constants.friction_exponent, a.constants.friction_exponent);
  EXPECT_EQ(b.constants.friction_regularisation2, a.constants.friction_regularisation2);
  EXPECT_EQ(b.constants.rho_g, a.constants.rho_g);
  EXPECT_EQ(b.constants.minimum_thickness, a.constants.minimum_thickness);
  EXPECT_EQ(b.constants.sea_level, a.constants.sea_level);
  EXPECT_EQ(b.constants.water_ratio, a.constants.water_ratio);
  EXPECT_EQ(read.velocity, written.velocity);
  EXPECT_EQ(read.gradient, written.gradient);
  EXPECT_EQ(read.energy, written.energy);
  EXPECT_EQ(read.description, written.description);
  // The patch has the margins the fixture is meant to carry.
  int fronts = 0;
  for (auto f : b.front_faces) fronts += f != 0;
  EXPECT_GT(fronts, 0);

  // The torch side, from the file alone.
  const auto t = emu::make_torch_bp_patch(read.patch);
  const auto u = emu::velocity_tensor(t, read.velocity);
  const double energy = emu::bp_energy(t, u).item<double>();
  EXPECT_NEAR(energy, read.energy, 1e-12 * std::abs(read.energy));
  const std::vector<double> gradient = emu::to_vector(emu::bp_energy_gradient(t, u));
  double scale = 0, error = 0;
  for (size_t n = 0; n < gradient.size(); ++n) {
    scale = std::max(scale, std::abs(read.gradient[n]));
    error = std::max(error, std::abs(gradient[n] - read.gradient[n]));
  }
  EXPECT_GT(scale, 0.0);
  EXPECT_LE(error, 1e-12 * scale);
  // Only the integrated elements count: the full box's energy differs.
  BPPatch whole = read.patch;
  whole.ex0 = whole.ey0 = 0;
  whole.ex1 = whole.nx - 1;
  whole.ey1 = whole.ny - 1;
  const auto tw = emu::make_torch_bp_patch(whole);
  EXPECT_GT(std::abs(emu::bp_energy(tw, u).item<double>() - energy), 1e-6 * std::abs(energy));

  // The file has the documented dimensions, and no temporary file is left.
  const auto file = io::NcFile::open(path);
  const auto dims = file.dimensions(file.variable("velocity"));
  ASSERT_EQ(dims.size(), 4u);
  EXPECT_EQ(dims[0].name, "y");
  EXPECT_EQ(dims[1].name, "x");
  EXPECT_EQ(dims[2].name, "z");
  EXPECT_EQ(dims[3].name, "component");
  EXPECT_EQ(dims[3].length, 2u);
  EXPECT_EQ(file.text_attribute(file.variable("velocity"), "units"), std::string("m/a"));
  int entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path() + "/sub"))
    ++entries;
  EXPECT_EQ(entries, 1);
}

TEST(BPFixture, ErrorsNameTheFileAndWhatIsWrong) {
  const nunatak::test::TempDir dir;
  io::BPFixture x = torch_fixture();
  x.gradient.pop_back();
  const std::string path = dir.file("bad.nc");
  try {
    io::write_bp_fixture(path, x);
    FAIL() << "a short gradient was written";
  } catch (const nunatak::Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("gradient"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(path));

  // An ordinary NetCDF file is not a fixture.
  const std::string other = dir.file("other.nc");
  nunatak::test::write_test_file(other, nunatak::test::grid_file(4, 3, 100.0, 100.0));
  try {
    io::read_bp_fixture(other);
    FAIL() << "a grid file was read as a fixture";
  } catch (const nunatak::Error& e) {
    EXPECT_NE(std::string(e.what()).find(other), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("nunatak_fixture"), std::string::npos) << e.what();
  }
  EXPECT_THROW(io::read_bp_fixture(dir.file("missing.nc")), nunatak::Error);
}

} // namespace
