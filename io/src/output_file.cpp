#include "nunatak/io/output_file.hpp"

#include "nunatak/core/error.hpp"
#include "nunatak/core/version.hpp"
#include "nunatak/io/netcdf_file.hpp"
#include "nunatak/io/units.hpp"

#include <netcdf.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>

namespace nunatak::io {

namespace fs = std::filesystem;

void on_rank_zero(MPI_Comm comm, const std::function<void()>& work) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  std::string message;
  if (rank == 0) {
    try {
      work();
    } catch (const std::exception& e) {
      message = e.what();
      if (message.empty()) message = "unknown error";
    }
  }
  int length = int(message.size());
  MPI_Bcast(&length, 1, MPI_INT, 0, comm);
  if (length == 0) return;
  message.resize(size_t(length));
  MPI_Bcast(message.data(), length, MPI_CHAR, 0, comm);
  throw CollectiveError(message, 0);
}

namespace {

const double fill_value = NC_FILL_DOUBLE; // netCDF's default fill, as _FillValue

std::string utc_now() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buffer;
}

void write_coordinate(NcFile& f, int dim, const std::string& name, const std::vector<double>& c) {
  const int var = f.define_variable(name, NC_DOUBLE, {dim});
  const bool is_x = name == "x";
  f.put_attribute(var, "units", std::string("m"));
  f.put_attribute(var, "axis", std::string(is_x ? "X" : "Y"));
  f.put_attribute(var, "standard_name",
                  std::string(is_x ? "projection_x_coordinate" : "projection_y_coordinate"));
  f.put_attribute(var, "long_name",
                  std::string(is_x ? "x coordinate of projection" : "y coordinate of projection"));
  f.end_definitions();
  f.write(var, {0}, {c.size()}, c.data());
  f.redefine();
}

/// The effective configuration as attributes of a scalar `nunatak_config`
/// variable (numbers as numbers, everything else as YAML text), as PISM does.
void write_config(NcFile& f, const Config& config) {
  const int var = f.define_variable("nunatak_config", NC_BYTE, {});
  f.put_attribute(var, "long_name",
                  std::string("nunatak configuration: every key's effective value"));
  for (const auto& spec : config_schema()) {
    if (spec.type == KeyType::real)
      f.put_attribute(var, spec.name, std::vector<double>{config.get_real(spec.name)});
    else if (spec.type == KeyType::integer)
      f.put_attribute(var, spec.name, std::vector<double>{double(config.get_int(spec.name))});
    else if (spec.type == KeyType::string)
      f.put_attribute(var, spec.name, config.get_string(spec.name));
    else
      f.put_attribute(var, spec.name, config.text(spec.name));
  }
  f.put_attribute(NC_GLOBAL, "nunatak_config_yaml", config.to_yaml());
  if (!config.source_file().empty())
    f.put_attribute(NC_GLOBAL, "nunatak_config_file", config.source_file());
}

} // namespace

OutputFile::OutputFile(std::shared_ptr<const core::ParallelGrid> grid, const std::string& path,
                       const Provenance& provenance, int deflate_level)
    : m_grid(std::move(grid)), m_path(path), m_deflate_level(deflate_level) {
  on_rank_zero(m_grid->comm(), [&] {
    const fs::path target(path);
    if (target.has_parent_path()) fs::create_directories(target.parent_path());
    m_temporary = path + ".tmp." + std::to_string(::getpid());
    m_file = std::make_unique<NcFile>(NcFile::create(m_temporary));
    NcFile& f = *m_file;
    const core::Grid& g = m_grid->grid();
    const int time_dim = f.define_dimension("time", 0);
    const int y_dim = f.define_dimension("y", size_t(g.ny()));
    const int x_dim = f.define_dimension("x", size_t(g.nx()));
    (void)y_dim;
    (void)x_dim;
    m_time_var = f.define_variable("time", NC_DOUBLE, {time_dim});
    f.put_attribute(m_time_var, "units", std::string(time_units));
    f.put_attribute(m_time_var, "calendar", std::string("proleptic_gregorian"));
    f.put_attribute(m_time_var, "axis", std::string("T"));
    f.put_attribute(m_time_var, "standard_name", std::string("time"));
    f.put_attribute(m_time_var, "long_name", std::string("model time"));
    write_coordinate(f, x_dim, "x", g.x_coords());
    write_coordinate(f, y_dim, "y", g.y_coords());

    if (const core::GridMapping* m = g.mapping()) {
      const int var = f.define_variable(m->variable_name, NC_INT, {});
      for (const auto& a : m->attributes) f.put_attribute(var, a);
    }
    f.put_attribute(NC_GLOBAL, "Conventions", std::string("CF-1.8"));
    f.put_attribute(NC_GLOBAL, "title",
                    provenance.title.empty() ? std::string("nunatak output") : provenance.title);
    f.put_attribute(NC_GLOBAL, "institution", std::string("nunatak users"));
    f.put_attribute(NC_GLOBAL, "source",
                    std::string("nunatak ") + nunatak::version + " (git " + nunatak::git_revision +
                        ")");
    f.put_attribute(NC_GLOBAL, "history", utc_now() + ": " + provenance.command_line + "\n");
    f.put_attribute(NC_GLOBAL, "nunatak_command", provenance.command_line);
    if (provenance.config) write_config(f, *provenance.config);
    f.end_definitions();
  });
}

OutputFile::OutputFile(std::shared_ptr<const core::ParallelGrid> grid, const std::string& path,
                       int deflate_level)
    : m_grid(std::move(grid)), m_path(path), m_deflate_level(deflate_level) {}

std::unique_ptr<OutputFile> OutputFile::append(std::shared_ptr<const core::ParallelGrid> grid,
                                               const std::string& path,
                                               const Provenance& provenance, double up_to_time,
                                               int deflate_level) {
  int exists = 0;
  int rank = 0;
  MPI_Comm_rank(grid->comm(), &rank);
  if (rank == 0) exists = fs::exists(path) ? 1 : 0;
  MPI_Bcast(&exists, 1, MPI_INT, 0, grid->comm());
  if (!exists) return std::make_unique<OutputFile>(grid, path, provenance, deflate_level);
  std::unique_ptr<OutputFile> out(new OutputFile(grid, path, deflate_level));
  on_rank_zero(grid->comm(), [&] {
    out->m_temporary = path + ".tmp." + std::to_string(::getpid());
    fs::copy_file(path, out->m_temporary, fs::copy_options::overwrite_existing);
    out->m_file = std::make_unique<NcFile>(NcFile::open_for_writing(out->m_temporary));
    NcFile& f = *out->m_file;
    out->m_time_var = f.variable("time");
    const auto times = f.read_all(out->m_time_var);
    while (out->m_records < times.size() && times[out->m_records] <= up_to_time) ++out->m_records;
    for (const auto& name : f.variable_names()) {
      const auto dims = f.dimensions(f.variable(name));
      if (!dims.empty() && dims[0].name == "time" && name != "time")
        out->m_vars[name] = f.variable(name);
    }
    int z = -1;
    if (nc_inq_dimid(f.id(), "z", &z) == NC_NOERR) out->m_z_dim = z;
    const std::string history = f.text_attribute(NC_GLOBAL, "history").value_or("");
    f.redefine();
    f.put_attribute(NC_GLOBAL, "history",
                    utc_now() + ": " + provenance.command_line + " (continued)\n" + history);
    f.end_definitions();
  });
  return out;
}

OutputFile::~OutputFile() {
  if (m_committed || !m_file) return;
  m_file.reset(); // closes
  std::error_code ignored;
  fs::remove(m_temporary, ignored);
}

namespace {

/// Defines a data variable with its CF attributes.
int define_field(NcFile& f, const core::FieldInfo& info, const std::vector<int>& dims,
                 const std::vector<size_t>& chunks, int deflate_level,
                 const core::GridMapping* mapping) {
  const bool is_flag = !info.flag_values.empty();
  const int var = f.define_variable(info.name, is_flag ? NC_BYTE : NC_DOUBLE, dims);
  f.set_compression(var, chunks, deflate_level);
  if (!is_flag) f.check(nc_def_var_fill(f.id(), var, 0, &fill_value), "setting _FillValue");
  f.put_attribute(var, "long_name", info.long_name);
  if (!info.standard_name.empty()) f.put_attribute(var, "standard_name", info.standard_name);
  if (is_flag) {
    f.put_attribute(var, "flag_values", info.flag_values);
    f.put_attribute(var, "flag_meanings", info.flag_meanings);
  } else {
    f.put_attribute(var, "units", info.output_units);
  }
  if (mapping) f.put_attribute(var, "grid_mapping", mapping->variable_name);
  return var;
}

/// Converts SI values to the field's output units in place (NaN -> fill value).
void to_output_units(const core::FieldInfo& info, std::vector<double>& values) {
  if (!info.flag_values.empty()) return;
  const UnitConversion c =
      unit_conversion(info.units, info.output_units, "output variable '" + info.name + "'");
  for (double& v : values) v = std::isnan(v) ? fill_value : c(v);
}

int dimension_id(const NcFile& f, const char* name) {
  int id = -1;
  f.check(nc_inq_dimid(f.id(), name, &id), std::string("looking up dimension ") + name);
  return id;
}

} // namespace

void OutputFile::write_record(double time_seconds, const std::vector<const core::Field2D*>& fields,
                              const std::vector<const core::Field3D*>& fields3d) {
  // Gathering is collective; only rank 0 gets data. 3-D fields go level by level.
  std::vector<std::vector<double>> gathered;
  for (const auto* field : fields) gathered.push_back(m_grid->gather_to_zero(*field));
  std::vector<std::vector<double>> gathered3d;
  for (const auto* field : fields3d) {
    const size_t nz = size_t(field->levels()), n = size_t(m_grid->grid().size());
    std::vector<double> column_major(m_grid->rank() == 0 ? n * nz : 0);
    for (int k = 0; k < field->levels(); ++k) {
      const std::vector<double> level = m_grid->gather_to_zero(field->level(k));
      for (size_t c = 0; c < level.size(); ++c) column_major[c * nz + size_t(k)] = level[c];
    }
    gathered3d.push_back(std::move(column_major));
  }
  on_rank_zero(m_grid->comm(), [&] {
    NcFile& f = *m_file;
    const core::Grid& g = m_grid->grid();
    const size_t nx = size_t(g.nx()), ny = size_t(g.ny());
    bool defining = false;
    auto begin_definitions = [&] {
      if (m_records > 0 && !defining)
        throw Error("output '" + m_path + "': new fields after the first record");
      if (!defining) f.redefine();
      defining = true;
    };
    for (const auto* field : fields) {
      if (m_vars.count(field->info().name)) continue;
      begin_definitions();
      m_vars[field->info().name] = define_field(
          f, field->info(), {dimension_id(f, "time"), dimension_id(f, "y"), dimension_id(f, "x")},
          {1, ny, nx}, m_deflate_level, g.mapping());
    }
    for (const auto* field : fields3d) {
      if (m_vars.count(field->info().name)) continue;
      begin_definitions();
      const size_t nz = size_t(field->levels());
      if (m_z_dim < 0) {
        m_z_dim = f.define_dimension("z", nz);
        const int z = f.define_variable("z", NC_DOUBLE, {m_z_dim});
        f.put_attribute(z, "long_name", std::string("sigma = (height above the bed) / thickness"));
        f.put_attribute(z, "standard_name", std::string("land_ice_sigma_coordinate"));
        f.put_attribute(z, "units", std::string("1"));
        f.put_attribute(z, "positive", std::string("up"));
        f.put_attribute(z, "axis", std::string("Z"));
        f.end_definitions();
        f.write(z, {0}, {nz}, field->sigma().data());
        f.redefine();
      }
      m_vars[field->info().name] = define_field(
          f, field->info(),
          {dimension_id(f, "time"), dimension_id(f, "y"), dimension_id(f, "x"), m_z_dim},
          {1, ny, nx, nz}, m_deflate_level, g.mapping());
    }
    if (defining) f.end_definitions();
    f.write(m_time_var, {m_records}, {1}, &time_seconds);
    for (size_t k = 0; k < fields.size(); ++k) {
      to_output_units(fields[k]->info(), gathered[k]);
      f.write(m_vars.at(fields[k]->info().name), {m_records, 0, 0}, {1, ny, nx},
              gathered[k].data());
    }
    for (size_t k = 0; k < fields3d.size(); ++k) {
      to_output_units(fields3d[k]->info(), gathered3d[k]);
      const size_t nz = size_t(fields3d[k]->levels());
      f.write(m_vars.at(fields3d[k]->info().name), {m_records, 0, 0, 0}, {1, ny, nx, nz},
              gathered3d[k].data());
    }
    ++m_records;
  });
}

void OutputFile::commit() {
  on_rank_zero(m_grid->comm(), [&] {
    if (m_committed) return;
    m_file->close();
    fs::rename(m_temporary, m_path);
    m_committed = true;
  });
  m_committed = true;
}

} // namespace nunatak::io
