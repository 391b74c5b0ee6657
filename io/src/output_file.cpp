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
  throw Error(message);
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

OutputFile::~OutputFile() {
  if (m_committed || !m_file) return;
  m_file.reset(); // closes
  std::error_code ignored;
  fs::remove(m_temporary, ignored);
}

void OutputFile::write_record(double time_seconds,
                              const std::vector<const core::Field2D*>& fields) {
  // Gathering is collective; only rank 0 gets data.
  std::vector<std::vector<double>> gathered;
  for (const auto* field : fields) gathered.push_back(m_grid->gather_to_zero(*field));
  on_rank_zero(m_grid->comm(), [&] {
    NcFile& f = *m_file;
    const core::Grid& g = m_grid->grid();
    const size_t nx = size_t(g.nx()), ny = size_t(g.ny());
    bool defining = false;
    for (const auto* field : fields) {
      const core::FieldInfo& info = field->info();
      if (m_vars.count(info.name)) continue;
      if (m_records > 0)
        throw Error("output '" + m_path + "': field '" + info.name + "' appears after record 0");
      if (!defining) f.redefine();
      defining = true;
      const bool is_flag = !info.flag_values.empty();
      int dims[3];
      f.check(nc_inq_dimid(f.id(), "time", &dims[0]), "looking up dimension time");
      f.check(nc_inq_dimid(f.id(), "y", &dims[1]), "looking up dimension y");
      f.check(nc_inq_dimid(f.id(), "x", &dims[2]), "looking up dimension x");
      const int var =
          f.define_variable(info.name, is_flag ? NC_BYTE : NC_DOUBLE, {dims[0], dims[1], dims[2]});
      f.set_compression(var, {1, ny, nx}, m_deflate_level);
      if (!is_flag) f.check(nc_def_var_fill(f.id(), var, 0, &fill_value), "setting _FillValue");
      f.put_attribute(var, "long_name", info.long_name);
      if (!info.standard_name.empty()) f.put_attribute(var, "standard_name", info.standard_name);
      if (is_flag) {
        f.put_attribute(var, "flag_values", info.flag_values);
        f.put_attribute(var, "flag_meanings", info.flag_meanings);
      } else {
        f.put_attribute(var, "units", info.output_units);
      }
      if (const core::GridMapping* m = g.mapping())
        f.put_attribute(var, "grid_mapping", m->variable_name);
      m_vars[info.name] = var;
    }
    if (defining) f.end_definitions();
    f.write(m_time_var, {m_records}, {1}, &time_seconds);
    for (size_t k = 0; k < fields.size(); ++k) {
      const core::FieldInfo& info = fields[k]->info();
      std::vector<double>& values = gathered[k];
      if (info.flag_values.empty()) {
        const UnitConversion c =
            unit_conversion(info.units, info.output_units, "output variable '" + info.name + "'");
        for (double& v : values) v = std::isnan(v) ? fill_value : c(v);
      }
      f.write(m_vars.at(info.name), {m_records, 0, 0}, {1, ny, nx}, values.data());
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
