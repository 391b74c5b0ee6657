#include "nunatak/io/emulator_dataset.hpp"

#include "nc_own_format.hpp"

#include "nunatak/core/error.hpp"
#include "nunatak/core/version.hpp"
#include "nunatak/io/bp_fixture.hpp"
#include "nunatak/io/file_safety.hpp"
#include "nunatak/io/netcdf_file.hpp"

#include <netcdf.h>

#include <algorithm>
#include <cmath>
#include <utility>

namespace nunatak::io {

namespace {

const char* const dataset_kind = "emulator_samples";
const int dataset_version = 1;

void check_sample(const EmulatorDataset& d, const EmulatorSample& s, const std::string& path) {
  const core::BPPatch& p = s.patch;
  const std::string where = "emulator data set '" + path + "', sample " + std::to_string(s.index);
  p.check(where);
  if (p.sigma != d.sigma) throw Error(where + ": its levels differ from the data set's");
  for (const auto& [name, member] : bp_constant_attributes())
    if (p.constants.*member != d.constants.*member)
      throw Error(where + ": its constant " + name + " differs from the data set's");
  if (s.converged && s.velocity.size() != p.size())
    throw Error(where + ": the velocity needs " + std::to_string(p.size()) + " values, got " +
                std::to_string(s.velocity.size()));
}

void write_file(NcFile& f, const EmulatorDataset& d) {
  int max_nx = 1, max_ny = 1;
  for (const auto& s : d.samples) {
    max_nx = std::max(max_nx, s.patch.nx);
    max_ny = std::max(max_ny, s.patch.ny);
  }
  const int sd = f.define_dimension("sample", 0);
  const int yd = f.define_dimension("y", size_t(max_ny));
  const int xd = f.define_dimension("x", size_t(max_nx));
  const int zd = f.define_dimension("level", d.sigma.size());
  const int cd = f.define_dimension("component", 2);

  f.put_attribute(NC_GLOBAL, "nunatak_dataset", std::string(dataset_kind));
  f.put_attribute(NC_GLOBAL, "nunatak_dataset_version", std::vector<int>{dataset_version});
  f.put_attribute(NC_GLOBAL, "ocean_pressure", std::vector<int>{d.ocean_pressure ? 1 : 0});
  for (const auto& [name, member] : bp_constant_attributes())
    f.put_attribute(NC_GLOBAL, name, std::vector<double>{d.constants.*member});
  f.put_attribute(NC_GLOBAL, "configuration", d.configuration);
  f.put_attribute(NC_GLOBAL, "history", d.history);
  f.put_attribute(NC_GLOBAL, "source",
                  std::string("nunatak ") + nunatak::version + " (git " + nunatak::git_revision +
                      ")");

  const int sigma = define_described(f, "sigma", NC_DOUBLE, {zd}, "1", "terrain-following level");
  const int index =
      define_described(f, "index", NC_INT, {sd}, "", "the sample's number in its data set");
  const int source =
      define_described(f, "source", NC_BYTE, {sd}, "", "where the geometry comes from");
  f.put_attribute(source, "flag_values", std::vector<int>{0, 1});
  f.put_attribute(source, "flag_meanings", std::string("synthetic_glacier patch"));
  const int validation = define_described(f, "validation", NC_BYTE, {sd}, "",
                                          "1: held back from training (validation)");
  const int nx = define_described(f, "nx", NC_INT, {sd}, "", "columns along x");
  const int ny = define_described(f, "ny", NC_INT, {sd}, "", "columns along y");
  const int dx = define_described(f, "dx", NC_DOUBLE, {sd}, "m", "column spacing along x");
  const int dy = define_described(f, "dy", NC_DOUBLE, {sd}, "m", "column spacing along y");
  const int converged =
      define_described(f, "converged", NC_BYTE, {sd}, "", "1: the solver converged");
  const int newton =
      define_described(f, "newton_iterations", NC_INT, {sd}, "", "Newton iterations");
  const int krylov =
      define_described(f, "krylov_iterations", NC_INT, {sd}, "", "Krylov iterations");
  const int seconds =
      define_described(f, "solve_seconds", NC_DOUBLE, {sd}, "s", "wall time of the solve");
  const int thk = define_described(f, "thickness", NC_DOUBLE, {sd, yd, xd}, "m", "ice thickness H");
  const int bed =
      define_described(f, "bed", NC_DOUBLE, {sd, yd, xd}, "m", "elevation of the ice base z_b");
  const int beta2 = define_described(f, "beta2", NC_DOUBLE, {sd, yd, xd}, "Pa (m/a)^-q",
                                     "basal friction coefficient beta^2");
  const int bed_fixed = define_described(f, "bed_fixed", NC_BYTE, {sd, yd, xd}, "",
                                         "1 where the bed node is fixed at u = v = 0 (no slip)");
  const int hardness = define_described(f, "hardness", NC_DOUBLE, {sd, yd, xd, zd}, "Pa a^(1/n)",
                                        "ice hardness B = (E A)^(-1/n)");
  const int velocity =
      define_described(f, "velocity", NC_DOUBLE, {sd, yd, xd, zd, cd}, "m/a",
                       "Blatter-Pattyn velocity (component 0: u along x, 1: v along y)");
  const size_t Y = size_t(max_ny), X = size_t(max_nx), Z = d.sigma.size();
  for (const int v : {thk, bed, beta2, bed_fixed}) f.set_compression(v, {1, Y, X}, 1);
  f.set_compression(hardness, {1, Y, X, Z}, 1);
  f.set_compression(velocity, {1, Y, X, Z, 2}, 1);
  f.end_definitions();

  f.write(sigma, {0}, {Z}, d.sigma.data());
  for (size_t k = 0; k < d.samples.size(); ++k) {
    const EmulatorSample& s = d.samples[k];
    const core::BPPatch& p = s.patch;
    const size_t py = size_t(p.ny), px = size_t(p.nx);
    const auto scalar = [&](int id, double value) { f.write(id, {k}, {1}, &value); };
    scalar(index, s.index);
    scalar(source, s.source);
    scalar(validation, s.validation ? 1 : 0);
    scalar(nx, p.nx);
    scalar(ny, p.ny);
    scalar(dx, p.dx);
    scalar(dy, p.dy);
    scalar(converged, s.converged ? 1 : 0);
    scalar(newton, s.newton_iterations);
    scalar(krylov, s.krylov_iterations);
    scalar(seconds, s.solve_seconds);
    f.write(thk, {k, 0, 0}, {1, py, px}, p.thickness.data());
    f.write(bed, {k, 0, 0}, {1, py, px}, p.bed.data());
    f.write(beta2, {k, 0, 0}, {1, py, px}, p.beta2.data());
    const std::vector<double> fixed(p.bed_fixed.begin(), p.bed_fixed.end());
    f.write(bed_fixed, {k, 0, 0}, {1, py, px}, fixed.data());
    f.write(hardness, {k, 0, 0, 0}, {1, py, px, Z}, p.hardness.data());
    if (s.converged) f.write(velocity, {k, 0, 0, 0, 0}, {1, py, px, Z, 2}, s.velocity.data());
  }
}

} // namespace

void write_emulator_dataset(const std::string& path, const EmulatorDataset& dataset) {
  for (const auto& s : dataset.samples) check_sample(dataset, s, path);
  write_then_rename(path, [&](const std::string& temporary) {
    NcFile f = NcFile::create(temporary);
    write_file(f, dataset);
    f.close();
  });
}

EmulatorDataset read_emulator_dataset(const std::string& path) {
  const CheckedNcReader r(path, "emulator data set");
  if (r.optional_text("nunatak_dataset") != dataset_kind)
    r.fail("not an emulator data set (no global attribute nunatak_dataset = \"" +
           std::string(dataset_kind) + "\"; make one with `nunatak emulator dataset`)");
  if (r.number("nunatak_dataset_version") != dataset_version)
    r.fail("version " + std::to_string(r.number("nunatak_dataset_version")) +
           ", this nunatak reads version " + std::to_string(dataset_version));
  EmulatorDataset d;
  d.ocean_pressure = r.number("ocean_pressure") != 0;
  for (const auto& [name, member] : bp_constant_attributes()) d.constants.*member = r.number(name);
  d.configuration = r.optional_text("configuration");
  d.history = r.optional_text("history");
  const size_t nz = r.dimension("level"), count = r.dimension("sample");
  const size_t Y = r.dimension("y"), X = r.dimension("x");
  d.sigma = r.read(r.variable("sigma", {"level"}), {0}, {nz});
  const auto scalars = [&](const char* name) {
    return r.read(r.variable(name, {"sample"}), {0}, {count});
  };
  const auto index = scalars("index"), source = scalars("source");
  const auto validation = scalars("validation"), converged = scalars("converged");
  const auto nx = scalars("nx"), ny = scalars("ny"), dx = scalars("dx"), dy = scalars("dy");
  const auto newton = scalars("newton_iterations"), krylov = scalars("krylov_iterations");
  const auto seconds = scalars("solve_seconds");
  const std::vector<std::string> map_dims{"sample", "y", "x"};
  const int thk = r.variable("thickness", map_dims), bed = r.variable("bed", map_dims);
  const int beta2 = r.variable("beta2", map_dims), fixed = r.variable("bed_fixed", map_dims);
  const int hardness = r.variable("hardness", {"sample", "y", "x", "level"});
  const int velocity = r.variable("velocity", {"sample", "y", "x", "level", "component"});
  for (size_t k = 0; k < count; ++k) {
    const std::string which = "sample " + std::to_string(k) + ": ";
    if (!(nx[k] >= 1 && nx[k] <= double(X) && ny[k] >= 1 && ny[k] <= double(Y)))
      r.fail(which + "nx, ny outside the file's x, y dimensions");
    if (!(dx[k] > 0 && dy[k] > 0)) r.fail(which + "dx, dy must be positive");
    const size_t px = size_t(nx[k]), py = size_t(ny[k]);
    EmulatorSample s;
    s.index = int(index[k]);
    s.source = int(source[k]);
    s.validation = validation[k] != 0;
    s.converged = converged[k] != 0;
    s.newton_iterations = int(newton[k]);
    s.krylov_iterations = int(krylov[k]);
    s.solve_seconds = seconds[k];
    s.patch = core::make_bp_patch(
        int(px), int(py), dx[k], dy[k], d.sigma, r.read(thk, {k, 0, 0}, {1, py, px}),
        r.read(bed, {k, 0, 0}, {1, py, px}), r.read(beta2, {k, 0, 0}, {1, py, px}),
        r.read(hardness, {k, 0, 0, 0}, {1, py, px, nz}), d.constants, d.ocean_pressure);
    const auto flags = r.read(fixed, {k, 0, 0}, {1, py, px});
    for (size_t c = 0; c < flags.size(); ++c) {
      if (flags[c] != 0 && flags[c] != 1) r.fail(which + "bed_fixed holds values other than 0, 1");
      s.patch.bed_fixed[c] = std::uint8_t(flags[c]);
    }
    if (s.converged) {
      s.velocity = r.read(velocity, {k, 0, 0, 0, 0}, {1, py, px, nz, 2});
      for (const double v : s.velocity)
        if (!std::isfinite(v)) r.fail(which + "the velocity is not finite");
    }
    try {
      s.patch.check("sample " + std::to_string(k));
    } catch (const Error& e) {
      r.fail(e.what());
    }
    d.samples.push_back(std::move(s));
  }
  return d;
}

EmulatorDataset read_emulator_samples(const std::string& path) {
  bool fixture = false;
  {
    const NcFile f = NcFile::open(path);
    fixture = f.text_attribute(NC_GLOBAL, "nunatak_fixture").has_value();
  }
  if (!fixture) return read_emulator_dataset(path);
  BPFixture x = read_bp_fixture(path);
  EmulatorDataset d;
  d.sigma = x.patch.sigma;
  d.constants = x.patch.constants;
  EmulatorSample s;
  s.source = 1;
  s.converged = true;
  s.solve_seconds = std::nan("");
  s.patch = std::move(x.patch);
  s.velocity = std::move(x.velocity);
  d.samples.push_back(std::move(s));
  return d;
}

} // namespace nunatak::io
