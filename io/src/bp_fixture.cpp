#include "nunatak/io/bp_fixture.hpp"

#include "nc_own_format.hpp"

#include "nunatak/core/error.hpp"
#include "nunatak/io/file_safety.hpp"
#include "nunatak/io/netcdf_file.hpp"

#include <netcdf.h>

#include <cmath>
#include <cstdint>
#include <utility>

namespace nunatak::io {

namespace {

const char* const fixture_kind = "bp_patch";
const int fixture_version = 2;

/// The integer attributes of the box, in core::BPPatch.
std::vector<std::pair<const char*, int core::BPPatch::*>> box_attributes() {
  return {{"i0", &core::BPPatch::i0},   {"j0", &core::BPPatch::j0},   {"xs", &core::BPPatch::xs},
          {"ys", &core::BPPatch::ys},   {"xm", &core::BPPatch::xm},   {"ym", &core::BPPatch::ym},
          {"ex0", &core::BPPatch::ex0}, {"ex1", &core::BPPatch::ex1}, {"ey0", &core::BPPatch::ey0},
          {"ey1", &core::BPPatch::ey1}};
}

/// The periods of a periodic grid (0: not periodic; optional in a file: a
/// fixture written before them is not periodic).
std::vector<std::pair<const char*, int core::BPPatch::*>> period_attributes() {
  return {{"period_x", &core::BPPatch::period_x}, {"period_y", &core::BPPatch::period_y}};
}

std::vector<double> as_doubles(const std::vector<std::uint8_t>& flags) {
  return std::vector<double>(flags.begin(), flags.end());
}

void write_file(NcFile& f, const BPFixture& x) {
  const core::BPPatch& p = x.patch;
  const int y = f.define_dimension("y", size_t(p.ny));
  const int xd = f.define_dimension("x", size_t(p.nx));
  const int z = f.define_dimension("z", size_t(p.nz));
  const int c = f.define_dimension("component", 2);

  f.put_attribute(NC_GLOBAL, "nunatak_fixture", std::string(fixture_kind));
  f.put_attribute(NC_GLOBAL, "nunatak_fixture_version", std::vector<int>{fixture_version});
  f.put_attribute(NC_GLOBAL, "description", x.description);
  f.put_attribute(NC_GLOBAL, "dx", std::vector<double>{p.dx});
  f.put_attribute(NC_GLOBAL, "dy", std::vector<double>{p.dy});
  for (const auto& [name, member] : box_attributes())
    f.put_attribute(NC_GLOBAL, name, std::vector<int>{p.*member});
  for (const auto& [name, member] : period_attributes())
    f.put_attribute(NC_GLOBAL, name, std::vector<int>{p.*member});
  for (const auto& [name, member] : bp_constant_attributes())
    f.put_attribute(NC_GLOBAL, name, std::vector<double>{p.constants.*member});

  const int sigma = define_described(f, "sigma", NC_DOUBLE, {z}, "1", "terrain-following level");
  const int thk = define_described(f, "thickness", NC_DOUBLE, {y, xd}, "m", "ice thickness H");
  const int bed = define_described(f, "bed", NC_DOUBLE, {y, xd}, "m", "bed elevation z_b");
  const int beta2 = define_described(f, "beta2", NC_DOUBLE, {y, xd}, "Pa (m/a)^-q",
                                     "basal friction coefficient beta^2");
  const int hardness = define_described(f, "hardness", NC_DOUBLE, {y, xd, z}, "Pa a^(1/n)",
                                        "ice hardness B = (E A)^(-1/n)");
  const int filled =
      define_described(f, "element_filled", NC_BYTE, {y, xd}, "",
                       "1 where the element with this lowest corner column is ice-filled");
  const int free =
      define_described(f, "node_free", NC_BYTE, {y, xd}, "",
                       "1 where the column's nodes are unknowns, 0 where fixed at u = v = 0");
  const int bed_fixed =
      define_described(f, "bed_fixed", NC_BYTE, {y, xd}, "",
                       "1 where the column's bed node is fixed at u = v = 0 (no slip), 0 where the "
                       "friction law with beta2 holds");
  const int faces = define_described(f, "front_faces", NC_BYTE, {y, xd}, "",
                                     "faces of the element under ocean pressure");
  f.put_attribute(faces, "flag_masks", std::vector<int>{1, 2, 4, 8});
  f.put_attribute(faces, "flag_meanings", std::string("west east south north"));
  const int velocity =
      define_described(f, "velocity", NC_DOUBLE, {y, xd, z, c}, "m/a",
                       "horizontal ice velocity (component 0: u along x, 1: v along y)");
  const int gradient =
      define_described(f, "gradient", NC_DOUBLE, {y, xd, z, c}, "m^3",
                       "patch-local gradient of the energy with respect to the velocity");
  const int energy = define_described(f, "energy", NC_DOUBLE, {}, "m^4 a^-1",
                                      "Blatter-Pattyn energy of the patch, divided by rho g");
  f.end_definitions();

  const size_t ny = size_t(p.ny), nx = size_t(p.nx), nz = size_t(p.nz);
  f.write(sigma, {0}, {nz}, p.sigma.data());
  f.write(thk, {0, 0}, {ny, nx}, p.thickness.data());
  f.write(bed, {0, 0}, {ny, nx}, p.bed.data());
  f.write(beta2, {0, 0}, {ny, nx}, p.beta2.data());
  f.write(hardness, {0, 0, 0}, {ny, nx, nz}, p.hardness.data());
  f.write(filled, {0, 0}, {ny, nx}, as_doubles(p.element_filled).data());
  f.write(free, {0, 0}, {ny, nx}, as_doubles(p.node_free).data());
  f.write(bed_fixed, {0, 0}, {ny, nx}, as_doubles(p.bed_fixed).data());
  f.write(faces, {0, 0}, {ny, nx}, as_doubles(p.front_faces).data());
  f.write(velocity, {0, 0, 0, 0}, {ny, nx, nz, 2}, x.velocity.data());
  f.write(gradient, {0, 0, 0, 0}, {ny, nx, nz, 2}, x.gradient.data());
  f.write(energy, {}, {}, &x.energy);
}

/// Reads a fixture file (see the header): checked values and flags.
class Reader : public CheckedNcReader {
public:
  explicit Reader(const std::string& path) : CheckedNcReader(path, "bp fixture") {}

  /// A variable with exactly the dimensions `dims` (names and lengths).
  std::vector<double> values(const std::string& name,
                             const std::vector<std::pair<std::string, size_t>>& dims) const {
    std::vector<std::string> names;
    std::vector<size_t> lengths;
    for (const auto& [n, l] : dims) {
      names.push_back(n);
      lengths.push_back(l);
    }
    return read_all(variable(name, names, lengths));
  }
  /// A byte flag variable (y, x) as uint8, checked to hold integers in [0, max].
  std::vector<std::uint8_t> flags(const std::string& name, size_t ny, size_t nx, int max) const {
    const auto v = values(name, {{"y", ny}, {"x", nx}});
    std::vector<std::uint8_t> result(v.size());
    for (size_t n = 0; n < v.size(); ++n) {
      if (!(v[n] >= 0.0 && v[n] <= max) || v[n] != std::floor(v[n]))
        fail("variable '" + name + "' holds " + std::to_string(v[n]) + ", not a flag in [0, " +
             std::to_string(max) + "]");
      result[n] = std::uint8_t(v[n]);
    }
    return result;
  }
};

} // namespace

const std::vector<std::pair<const char*, double core::BPConstants::*>>& bp_constant_attributes() {
  static const std::vector<std::pair<const char*, double core::BPConstants::*>> attributes = {
      {"glen_exponent", &core::BPConstants::glen_exponent},
      {"regularisation2", &core::BPConstants::regularisation2},
      {"friction_exponent", &core::BPConstants::friction_exponent},
      {"friction_regularisation2", &core::BPConstants::friction_regularisation2},
      {"rho_g", &core::BPConstants::rho_g},
      {"minimum_thickness", &core::BPConstants::minimum_thickness},
      {"sea_level", &core::BPConstants::sea_level},
      {"water_ratio", &core::BPConstants::water_ratio}};
  return attributes;
}

void write_bp_fixture(const std::string& path, const BPFixture& fixture) {
  fixture.patch.check("bp fixture '" + path + "'");
  const size_t n = fixture.patch.size();
  if (fixture.velocity.size() != n || fixture.gradient.size() != n)
    throw Error("bp fixture '" + path + "': velocity and gradient need " + std::to_string(n) +
                " values ([ny][nx][nz][2]), got " + std::to_string(fixture.velocity.size()) +
                " and " + std::to_string(fixture.gradient.size()));
  write_then_rename(path, [&](const std::string& temporary) {
    NcFile f = NcFile::create(temporary);
    write_file(f, fixture);
    f.close();
  });
}

BPFixture read_bp_fixture(const std::string& path) {
  const Reader r(path);
  if (r.text("nunatak_fixture") != fixture_kind)
    r.fail("not a Blatter-Pattyn patch fixture (nunatak_fixture is not 'bp_patch')");
  if (r.integer("nunatak_fixture_version") != fixture_version)
    r.fail("fixture version " + std::to_string(r.integer("nunatak_fixture_version")) +
           " is not the supported version " + std::to_string(fixture_version));
  BPFixture x;
  core::BPPatch& p = x.patch;
  const size_t ny = r.dimension("y"), nx = r.dimension("x"), nz = r.dimension("z");
  if (r.dimension("component") != 2) r.fail("dimension 'component' must have length 2");
  p.nx = int(nx);
  p.ny = int(ny);
  p.nz = int(nz);
  p.dx = r.number("dx");
  p.dy = r.number("dy");
  for (const auto& [name, member] : box_attributes()) p.*member = r.integer(name);
  for (const auto& [name, member] : period_attributes()) p.*member = r.optional_integer(name, 0);
  for (const auto& [name, member] : bp_constant_attributes()) p.constants.*member = r.number(name);
  x.description = r.text("description");

  p.sigma = r.values("sigma", {{"z", nz}});
  p.thickness = r.values("thickness", {{"y", ny}, {"x", nx}});
  p.bed = r.values("bed", {{"y", ny}, {"x", nx}});
  p.beta2 = r.values("beta2", {{"y", ny}, {"x", nx}});
  p.hardness = r.values("hardness", {{"y", ny}, {"x", nx}, {"z", nz}});
  p.element_filled = r.flags("element_filled", ny, nx, 1);
  p.node_free = r.flags("node_free", ny, nx, 1);
  p.bed_fixed = r.flags("bed_fixed", ny, nx, 1);
  p.front_faces = r.flags("front_faces", ny, nx, 15);
  x.velocity = r.values("velocity", {{"y", ny}, {"x", nx}, {"z", nz}, {"component", 2}});
  x.gradient = r.values("gradient", {{"y", ny}, {"x", nx}, {"z", nz}, {"component", 2}});
  x.energy = r.values("energy", {}).front();
  p.check("bp fixture '" + path + "'");
  return x;
}

} // namespace nunatak::io
