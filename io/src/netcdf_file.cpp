#include "nunatak/io/netcdf_file.hpp"

#include "nunatak/core/error.hpp"

#include <netcdf.h>

#include <filesystem>
#include <utility>

namespace nunatak::io {

NcFile NcFile::open(const std::string& path) {
  if (!std::filesystem::exists(path)) throw Error("input file '" + path + "' does not exist");
  int id = -1;
  const int status = nc_open(path.c_str(), NC_NOWRITE, &id);
  if (status != NC_NOERR)
    throw Error("cannot open '" + path + "' as NetCDF: " + nc_strerror(status));
  return NcFile(path, id);
}

NcFile NcFile::create(const std::string& path) {
  int id = -1;
  const int status = nc_create(path.c_str(), NC_NETCDF4 | NC_CLOBBER, &id);
  if (status != NC_NOERR)
    throw Error("cannot create NetCDF file '" + path + "': " + nc_strerror(status));
  return NcFile(path, id);
}

NcFile NcFile::open_for_writing(const std::string& path) {
  int id = -1;
  const int status = nc_open(path.c_str(), NC_WRITE, &id);
  if (status != NC_NOERR)
    throw Error("cannot open '" + path + "' for writing: " + nc_strerror(status));
  return NcFile(path, id);
}

NcFile::~NcFile() {
  if (m_id >= 0) nc_close(m_id);
}

NcFile::NcFile(NcFile&& other) noexcept
    : m_path(std::move(other.m_path)), m_id(std::exchange(other.m_id, -1)) {}

NcFile& NcFile::operator=(NcFile&& other) noexcept {
  if (this != &other) {
    if (m_id >= 0) nc_close(m_id);
    m_path = std::move(other.m_path);
    m_id = std::exchange(other.m_id, -1);
  }
  return *this;
}

void NcFile::close() {
  if (m_id < 0) return;
  const int id = std::exchange(m_id, -1);
  check(nc_close(id), "closing the file");
}

void NcFile::check(int status, const std::string& what) const {
  if (status != NC_NOERR)
    throw Error("NetCDF error in '" + m_path + "' while " + what + ": " + nc_strerror(status));
}

std::vector<std::string> NcFile::variable_names() const {
  int n = 0;
  check(nc_inq_nvars(m_id, &n), "listing variables");
  std::vector<std::string> names;
  for (int v = 0; v < n; ++v) names.push_back(variable_name(v));
  return names;
}

std::optional<int> NcFile::find_variable(const std::string& name) const {
  int varid = -1;
  if (nc_inq_varid(m_id, name.c_str(), &varid) != NC_NOERR) return std::nullopt;
  return varid;
}

int NcFile::variable(const std::string& name) const {
  if (auto v = find_variable(name)) return *v;
  throw Error("variable '" + name + "' not found in '" + m_path + "'");
}

std::string NcFile::variable_name(int varid) const {
  char name[NC_MAX_NAME + 1] = {0};
  check(nc_inq_varname(m_id, varid, name), "reading a variable name");
  return name;
}

std::vector<Dimension> NcFile::dimensions(int varid) const {
  int ndims = 0;
  check(nc_inq_varndims(m_id, varid, &ndims),
        "reading dimensions of '" + variable_name(varid) + "'");
  std::vector<int> ids(ndims);
  check(nc_inq_vardimid(m_id, varid, ids.data()), "reading dimensions");
  int nunlim = 0;
  check(nc_inq_unlimdims(m_id, &nunlim, nullptr), "reading unlimited dimensions");
  std::vector<int> unlim(nunlim);
  if (nunlim > 0) check(nc_inq_unlimdims(m_id, &nunlim, unlim.data()), "reading unlimited dims");
  std::vector<Dimension> dims;
  for (int id : ids) {
    char name[NC_MAX_NAME + 1] = {0};
    size_t len = 0;
    check(nc_inq_dim(m_id, id, name, &len), "reading a dimension");
    bool is_unlimited = false;
    for (int u : unlim) is_unlimited = is_unlimited || u == id;
    dims.push_back({name, len, is_unlimited});
  }
  return dims;
}

int NcFile::type(int varid) const {
  nc_type t = NC_NAT;
  check(nc_inq_vartype(m_id, varid, &t), "reading a variable type");
  return t;
}

std::optional<std::string> NcFile::text_attribute(int varid, const std::string& name) const {
  nc_type t = NC_NAT;
  size_t len = 0;
  if (nc_inq_att(m_id, varid, name.c_str(), &t, &len) != NC_NOERR || t != NC_CHAR)
    return std::nullopt;
  std::string text(len, '\0');
  check(nc_get_att_text(m_id, varid, name.c_str(), text.data()), "reading attribute " + name);
  while (!text.empty() && text.back() == '\0') text.pop_back();
  return text;
}

std::optional<std::vector<double>> NcFile::number_attribute(int varid,
                                                            const std::string& name) const {
  nc_type t = NC_NAT;
  size_t len = 0;
  if (nc_inq_att(m_id, varid, name.c_str(), &t, &len) != NC_NOERR) return std::nullopt;
  if (t == NC_CHAR || t == NC_STRING) return std::nullopt;
  std::vector<double> values(len);
  check(nc_get_att_double(m_id, varid, name.c_str(), values.data()), "reading attribute " + name);
  return values;
}

std::vector<core::Attribute> NcFile::attributes(int varid) const {
  int natts = 0;
  if (varid == NC_GLOBAL)
    check(nc_inq_natts(m_id, &natts), "counting global attributes");
  else
    check(nc_inq_varnatts(m_id, varid, &natts), "counting attributes");
  std::vector<core::Attribute> result;
  for (int a = 0; a < natts; ++a) {
    char name[NC_MAX_NAME + 1] = {0};
    check(nc_inq_attname(m_id, varid, a, name), "reading an attribute name");
    if (auto text = text_attribute(varid, name))
      result.push_back({name, *text});
    else if (auto numbers = number_attribute(varid, name))
      result.push_back({name, *numbers});
  }
  return result;
}

std::vector<double> NcFile::read(int varid, const std::vector<size_t>& start,
                                 const std::vector<size_t>& count) const {
  size_t n = 1;
  for (size_t c : count) n *= c;
  std::vector<double> values(n);
  check(nc_get_vara_double(m_id, varid, start.data(), count.data(), values.data()),
        "reading variable '" + variable_name(varid) + "'");
  return values;
}

std::vector<double> NcFile::read_all(int varid) const {
  std::vector<size_t> start, count;
  for (const auto& d : dimensions(varid)) {
    start.push_back(0);
    count.push_back(d.length);
  }
  return read(varid, start, count);
}

int NcFile::define_dimension(const std::string& name, size_t length) {
  int id = -1;
  check(nc_def_dim(m_id, name.c_str(), length == 0 ? NC_UNLIMITED : length, &id),
        "defining dimension '" + name + "'");
  return id;
}

int NcFile::define_variable(const std::string& name, int nc_type_id, const std::vector<int>& dims) {
  int id = -1;
  check(nc_def_var(m_id, name.c_str(), nc_type_id, static_cast<int>(dims.size()), dims.data(), &id),
        "defining variable '" + name + "'");
  return id;
}

void NcFile::put_attribute(int varid, const std::string& name, const std::string& text) {
  check(nc_put_att_text(m_id, varid, name.c_str(), text.size(), text.c_str()),
        "writing attribute '" + name + "'");
}

void NcFile::put_attribute(int varid, const std::string& name, const std::vector<double>& v) {
  check(nc_put_att_double(m_id, varid, name.c_str(), NC_DOUBLE, v.size(), v.data()),
        "writing attribute '" + name + "'");
}

void NcFile::put_attribute(int varid, const std::string& name, const std::vector<int>& v) {
  nc_type t = NC_INT;
  if (varid != NC_GLOBAL) check(nc_inq_vartype(m_id, varid, &t), "reading a variable type");
  if (t != NC_BYTE && t != NC_SHORT) t = NC_INT; // flag_values must match the variable's type
  check(nc_put_att_int(m_id, varid, name.c_str(), t, v.size(), v.data()),
        "writing attribute '" + name + "'");
}

void NcFile::put_attribute(int varid, const core::Attribute& a) {
  if (auto text = std::get_if<std::string>(&a.value))
    put_attribute(varid, a.name, *text);
  else
    put_attribute(varid, a.name, std::get<std::vector<double>>(a.value));
}

void NcFile::set_compression(int varid, const std::vector<size_t>& chunks, int deflate_level) {
  check(nc_def_var_chunking(m_id, varid, NC_CHUNKED, chunks.data()), "setting chunk sizes");
  if (deflate_level > 0)
    check(nc_def_var_deflate(m_id, varid, 1, 1, deflate_level), "setting compression");
}

void NcFile::end_definitions() {
  check(nc_enddef(m_id), "ending the definitions");
}

void NcFile::redefine() {
  check(nc_redef(m_id), "re-entering define mode");
}

void NcFile::write(int varid, const std::vector<size_t>& start, const std::vector<size_t>& count,
                   const double* values) {
  check(nc_put_vara_double(m_id, varid, start.data(), count.data(), values),
        "writing variable '" + variable_name(varid) + "'");
}

} // namespace nunatak::io
