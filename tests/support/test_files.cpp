#include "test_files.hpp"

#include <netcdf.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace nunatak::test {

namespace {
void nc(int status, const std::string& what) {
  if (status != NC_NOERR)
    throw std::runtime_error("test file: " + what + ": " + nc_strerror(status));
}
} // namespace

TestVar& TestFile::var(const std::string& name) {
  for (auto& v : vars)
    if (v.name == name) return v;
  throw std::runtime_error("test file has no variable " + name);
}

void write_test_file(const std::string& path, const TestFile& file) {
  int id = -1;
  nc(nc_create(path.c_str(), (file.classic ? 0 : NC_NETCDF4) | NC_CLOBBER, &id), "create " + path);
  std::map<std::string, int> dim_ids;
  for (const auto& [name, length] : file.dims) {
    int d = -1;
    nc(nc_def_dim(id, name.c_str(), length == 0 ? NC_UNLIMITED : length, &d), "dim " + name);
    dim_ids[name] = d;
  }
  std::vector<int> var_ids;
  for (const auto& v : file.vars) {
    std::vector<int> dims;
    for (const auto& d : v.dims) dims.push_back(dim_ids.at(d));
    int var = -1;
    nc(nc_def_var(id, v.name.c_str(), v.nc_type, int(dims.size()), dims.data(), &var),
       "var " + v.name);
    for (const auto& [att, text] : v.text)
      nc(nc_put_att_text(id, var, att.c_str(), text.size(), text.c_str()), "att " + att);
    for (const auto& [att, value] : v.numbers)
      nc(nc_put_att_double(id, var, att.c_str(), v.nc_type == NC_INT ? NC_INT : v.nc_type, 1,
                           &value),
         "att " + att);
    for (const auto& [att, typed] : v.typed)
      nc(nc_put_att_double(id, var, att.c_str(), typed.first, typed.second.size(),
                           typed.second.data()),
         "att " + att);
    for (const auto& [att, text] : v.strings) {
      const char* value = text.c_str();
      nc(nc_put_att_string(id, var, att.c_str(), 1, &value), "att " + att);
    }
    var_ids.push_back(var);
  }
  nc(nc_enddef(id), "enddef");
  for (size_t k = 0; k < file.vars.size(); ++k) {
    const auto& v = file.vars[k];
    if (v.values.empty()) continue;
    std::vector<size_t> start(v.dims.size(), 0), count;
    size_t product = 1;
    for (const auto& d : v.dims) {
      size_t len = 0;
      for (const auto& [name, length] : file.dims)
        if (name == d) len = length;
      count.push_back(len);
      product *= len == 0 ? 1 : len;
    }
    for (auto& c : count)
      if (c == 0) c = v.values.size() / product; // unlimited: as many records as values hold
    nc(nc_put_vara_double(id, var_ids[k], start.data(), count.data(), v.values.data()),
       "write " + v.name);
  }
  nc(nc_close(id), "close");
}

TestFile grid_file(int nx, int ny, double dx, double dy, double x0, double y0,
                   const std::string& coord_units) {
  TestFile f;
  f.dims = {{"y", size_t(ny)}, {"x", size_t(nx)}};
  TestVar x{"x", {"x"}, {}, {{"units", coord_units}, {"axis", "X"}}, {}};
  TestVar y{"y", {"y"}, {}, {{"units", coord_units}, {"axis", "Y"}}, {}};
  for (int i = 0; i < nx; ++i) x.values.push_back(x0 + i * dx);
  for (int j = 0; j < ny; ++j) y.values.push_back(y0 + j * dy);
  f.vars = {y, x};
  return f;
}

void add_field(TestFile& file, const std::string& name, const std::string& units,
               const std::vector<double>& values) {
  TestVar v{name, {"y", "x"}, values, {}, {}};
  if (!units.empty()) v.text["units"] = units;
  file.vars.push_back(v);
}

void add_field(TestFile& file, const std::string& name, const std::string& units,
               double (*f)(int i, int j)) {
  const size_t ny = file.dims[0].second, nx = file.dims[1].second;
  std::vector<double> values;
  for (size_t j = 0; j < ny; ++j)
    for (size_t i = 0; i < nx; ++i) values.push_back(f(int(i), int(j)));
  add_field(file, name, units, values);
}

TempDir::TempDir() {
  static std::atomic<int> counter{0};
  m_path = (std::filesystem::temp_directory_path() /
            ("nunatak_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++)))
               .string();
  std::filesystem::remove_all(m_path);
  std::filesystem::create_directories(m_path);
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(m_path, ignored);
}

void write_ice_cap(const std::string& path, int n) {
  const double d = 25000.0, x0 = -500000.0;
  TestFile f = grid_file(n, n, d, d, x0, x0);
  std::vector<double> thk, topg, smb;
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < n; ++i) {
      const double x = x0 + d * i, y = x0 + d * j;
      const double r = std::hypot(x, y) / 400000.0;
      thk.push_back(r < 1.0 ? 2500.0 * std::pow(1.0 - r * r, 0.5) : 0.0);
      topg.push_back(200.0 - 0.001 * x);
      smb.push_back(500.0 - 1500.0 * r * r); // kg m-2 a-1
    }
  add_field(f, "thk", "m", thk);
  add_field(f, "topg", "m", topg);
  add_field(f, "climatic_mass_balance", "kg m-2 year-1", smb);
  write_test_file(path, f);
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

std::string shared_data_dir() {
  return NUNATAK_SHARED_DATA_DIR;
}

} // namespace nunatak::test
