#include "nunatak/io/output_file.hpp"

#include "nunatak/core/constants.hpp"
#include "nunatak/core/error.hpp"
#include "nunatak/core/version.hpp"
#include "nunatak/io/file_safety.hpp"
#include "nunatak/io/netcdf_file.hpp"
#include "nunatak/io/units.hpp"

#include <netcdf.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <sstream>

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

/// Closes and removes a file being written when its scope is left by an
/// exception: in a constructor, whose object's destructor would not run.
class RemoveUnlessReleased {
public:
  RemoveUnlessReleased(std::unique_ptr<NcFile>& file, const std::string& path)
      : m_file(file), m_path(path) {}
  ~RemoveUnlessReleased() {
    if (!m_armed) return;
    m_file.reset();
    std::error_code ignored;
    fs::remove(m_path, ignored);
  }
  RemoveUnlessReleased(const RemoveUnlessReleased&) = delete;
  RemoveUnlessReleased& operator=(const RemoveUnlessReleased&) = delete;
  /// The file is complete enough for its owner to take over.
  void release() { m_armed = false; }

private:
  std::unique_ptr<NcFile>& m_file;
  std::string m_path;
  bool m_armed = true;
};

const double fill_value = NC_FILL_DOUBLE; // netCDF's default fill, as _FillValue

std::string fmt_number(double v) {
  std::ostringstream s;
  s.precision(12);
  s << v;
  return s.str();
}

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
void write_config(NcFile& f, const Config& config, int existing = -1) {
  const int var = existing >= 0 ? existing : f.define_variable("nunatak_config", NC_BYTE, {});
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
  // An ensemble member's values (keys set with origin "ensemble member K",
  // model/ensemble.hpp) also in one line a reader sees at once.
  const std::string member_origin = "ensemble member ";
  std::string parameters, member;
  for (const auto& spec : config_schema()) {
    const std::string& origin = config.origin(spec.name);
    if (origin.rfind(member_origin, 0) != 0) continue;
    member = origin.substr(member_origin.size());
    parameters += (parameters.empty() ? "" : "; ") + spec.name + " = " + config.text(spec.name);
  }
  if (!parameters.empty()) {
    f.put_attribute(NC_GLOBAL, "nunatak_ensemble_member", std::vector<int>{std::stoi(member)});
    f.put_attribute(NC_GLOBAL, "nunatak_ensemble_parameters", parameters);
  }
}

/// The coordinates x, y of `g` along the dimensions `x_dim`, `y_dim`, and its
/// grid mapping variable when it has one.
void write_grid(NcFile& f, const core::Grid& g, int x_dim, int y_dim) {
  write_coordinate(f, x_dim, "x", g.x_coords());
  write_coordinate(f, y_dim, "y", g.y_coords());
  if (const core::GridMapping* m = g.mapping()) {
    const int var = f.define_variable(m->variable_name, NC_INT, {});
    for (const auto& a : m->attributes) f.put_attribute(var, a);
  }
}

/// The global attributes of every output: conventions, title, provenance
/// (source, history, the command) and the configuration.
void write_provenance(NcFile& f, const Provenance& provenance) {
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
}

} // namespace

OutputFile::OutputFile(std::shared_ptr<const core::ParallelGrid> grid, const std::string& path,
                       const Provenance& provenance, int deflate_level)
    : m_grid(std::move(grid)), m_path(path), m_deflate_level(deflate_level) {
  on_rank_zero(m_grid->comm(), [&] {
    const fs::path target(path);
    if (target.has_parent_path()) fs::create_directories(target.parent_path());
    m_temporary = temporary_path(path);
    m_file = std::make_unique<NcFile>(NcFile::create(m_temporary));
    RemoveUnlessReleased guard(m_file, m_temporary);
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
    write_grid(f, g, x_dim, y_dim);
    write_provenance(f, provenance);
    f.end_definitions();
    guard.release();
  });
}

OutputFile::OutputFile(std::shared_ptr<const core::ParallelGrid> grid, const std::string& path,
                       int deflate_level)
    : m_grid(std::move(grid)), m_path(path), m_deflate_level(deflate_level) {}

namespace {

std::string years_text(double seconds) {
  return fmt_number(seconds / core::seconds_per_year);
}

/// Copies the NetCDF file `from` to a new NetCDF-4 file `to`: every
/// dimension, variable (type, chunking, compression) and attribute, and of
/// the variables along the unlimited dimension only the first `records`
/// records. A record variable is copied one record at a time.
void copy_with_records(const std::string& from, const std::string& to, size_t records) {
  const NcFile in = NcFile::open(from);
  NcFile out = NcFile::create(to);
  int ndims = 0, nvars = 0, ngatts = 0, unlimited = -1;
  in.check(nc_inq(in.id(), &ndims, &nvars, &ngatts, &unlimited), "reading its layout");
  char name[NC_MAX_NAME + 1];
  std::vector<size_t> lengths(size_t(ndims), 0);
  for (int d = 0; d < ndims; ++d) {
    in.check(nc_inq_dim(in.id(), d, name, &lengths[size_t(d)]), "reading a dimension");
    if (out.define_dimension(name, d == unlimited ? 0 : lengths[size_t(d)]) != d)
      throw Error("output '" + from + "': unexpected dimension numbering");
  }
  for (int a = 0; a < ngatts; ++a) {
    in.check(nc_inq_attname(in.id(), NC_GLOBAL, a, name), "reading a global attribute");
    out.check(nc_copy_att(in.id(), NC_GLOBAL, name, out.id(), NC_GLOBAL), "copying attributes");
  }
  for (int v = 0; v < nvars; ++v) {
    nc_type type = 0;
    int nd = 0, natts = 0;
    int dims[NC_MAX_VAR_DIMS];
    in.check(nc_inq_var(in.id(), v, name, &type, &nd, dims, &natts), "reading a variable");
    if (type == NC_STRING || type > NC_MAX_ATOMIC_TYPE)
      throw Error("output '" + from + "': variable '" + name +
                  "' has a type that nunatak does not write");
    const int id = out.define_variable(name, type, std::vector<int>(dims, dims + nd));
    if (nd > 0) {
      int storage = 0;
      std::vector<size_t> chunks(size_t(nd), 0);
      in.check(nc_inq_var_chunking(in.id(), v, &storage, chunks.data()), "reading chunking");
      int shuffle = 0, deflate = 0, level = 0;
      in.check(nc_inq_var_deflate(in.id(), v, &shuffle, &deflate, &level), "reading compression");
      if (storage == NC_CHUNKED)
        out.check(nc_def_var_chunking(out.id(), id, NC_CHUNKED, chunks.data()), "chunking");
      if (deflate) out.check(nc_def_var_deflate(out.id(), id, shuffle, 1, level), "compression");
    }
    for (int a = 0; a < natts; ++a) {
      in.check(nc_inq_attname(in.id(), v, a, name), "reading an attribute");
      out.check(nc_copy_att(in.id(), v, name, out.id(), id), "copying attributes");
    }
  }
  out.end_definitions();
  for (int v = 0; v < nvars; ++v) {
    nc_type type = 0;
    int nd = 0;
    int dims[NC_MAX_VAR_DIMS];
    in.check(nc_inq_var(in.id(), v, name, &type, &nd, dims, nullptr), "reading a variable");
    size_t type_size = 0;
    in.check(nc_inq_type(in.id(), type, nullptr, &type_size), "reading a type");
    std::vector<size_t> start(size_t(nd), 0), count(size_t(nd), 0);
    size_t per_record = 1, n_records = 1;
    for (int d = 0; d < nd; ++d) {
      count[size_t(d)] = lengths[size_t(dims[d])];
      if (d == 0 && dims[0] == unlimited) {
        n_records = std::min(records, count[0]);
        count[0] = 1;
      }
      per_record *= count[size_t(d)];
    }
    if (nd > 0 && dims[0] != unlimited) n_records = 1;
    if (per_record == 0) continue;
    std::vector<unsigned char> buffer(per_record * type_size);
    for (size_t r = 0; r < n_records; ++r) {
      if (nd > 0 && dims[0] == unlimited) start[0] = r;
      in.check(nc_get_vara(in.id(), v, start.data(), count.data(), buffer.data()),
               std::string("reading '") + name + "'");
      out.check(nc_put_vara(out.id(), v, start.data(), count.data(), buffer.data()),
                std::string("writing '") + name + "'");
    }
  }
  out.close();
}

} // namespace

std::unique_ptr<OutputFile>
OutputFile::resume(std::shared_ptr<const core::ParallelGrid> grid, const std::string& path,
                   const Provenance& provenance, double up_to_time, int deflate_level,
                   std::optional<long long> expected_records, double expected_last_time) {
  std::unique_ptr<OutputFile> out(new OutputFile(grid, path, deflate_level));
  int fresh = 0;
  on_rank_zero(grid->comm(), [&] {
    if (!fs::exists(path)) {
      if (expected_records)
        throw Error("the output file '" + path + "' is missing: it held " +
                    std::to_string(*expected_records) + " record(s) up to year " +
                    years_text(expected_last_time) +
                    " when the checkpoint was written; put it back, or set another output.file "
                    "to write the records from the checkpoint on into a new file");
      fresh = 1;
      return;
    }
    std::vector<double> times;
    {
      const NcFile old = NcFile::open(path);
      const auto time_var = old.find_variable("time");
      if (!time_var) throw Error("'" + path + "' is not a nunatak output (no time variable)");
      const auto dims = old.dimensions(*time_var);
      if (dims.size() != 1 || !dims[0].unlimited)
        throw Error("'" + path + "' is not a nunatak output (time is not its record dimension)");
      times = old.read_all(*time_var);
    }
    size_t keep = 0;
    while (keep < times.size() && times[keep] <= up_to_time) ++keep;
    if (expected_records) {
      const bool last_matches =
          keep == 0 ? *expected_records == 0 : times[keep - 1] == expected_last_time;
      if (static_cast<long long>(keep) != *expected_records || !last_matches)
        throw Error("the output file '" + path + "' holds " + std::to_string(keep) +
                    " record(s) up to year " + years_text(up_to_time) +
                    (keep > 0 ? " (the last at year " + years_text(times[keep - 1]) + ")" : "") +
                    ", but the checkpoint was written with " + std::to_string(*expected_records) +
                    " (the last at year " + years_text(expected_last_time) +
                    "): it is not the output this checkpoint belongs to; set another output.file "
                    "to write the records from the checkpoint on into a new file");
    }
    out->m_temporary = temporary_path(path);
    copy_with_records(path, out->m_temporary, keep);
    out->m_file = std::make_unique<NcFile>(NcFile::open_for_writing(out->m_temporary));
    NcFile& f = *out->m_file;
    out->m_time_var = f.variable("time");
    out->m_records = keep;
    if (keep > 0) out->m_last_time = times[keep - 1];
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
    if (provenance.config) {
      if (!f.find_variable("nunatak_config"))
        throw Error("'" + path + "' has no nunatak_config variable: not a nunatak run's output");
      write_config(f, *provenance.config, f.variable("nunatak_config"));
    }
    f.end_definitions();
  });
  MPI_Bcast(&fresh, 1, MPI_INT, 0, grid->comm());
  if (fresh) return std::make_unique<OutputFile>(grid, path, provenance, deflate_level);
  long long records = out->records();
  MPI_Bcast(&records, 1, MPI_LONG_LONG, 0, grid->comm());
  MPI_Bcast(&out->m_last_time, 1, MPI_DOUBLE, 0, grid->comm());
  out->m_records = size_t(records);
  return out;
}

OutputFile::~OutputFile() {
  // Not committed: the temporary goes (also one whose copy or opening failed).
  if (m_committed || m_temporary.empty()) return;
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
  });
  ++m_records;
  m_last_time = time_seconds;
}

void OutputFile::publish(const std::string& status) {
  on_rank_zero(m_grid->comm(), [&] {
    NcFile& f = *m_file;
    f.redefine();
    f.put_attribute(NC_GLOBAL, "nunatak_run_status", status);
    f.end_definitions();
    f.close();
    // The final file appears whole (a rename); the copy written on goes on
    // under the temporary name. Killed in between, the run leaves the final
    // file and no temporary.
    fs::rename(m_temporary, m_path);
    fs::copy_file(m_path, m_temporary, fs::copy_options::overwrite_existing);
    *m_file = NcFile::open_for_writing(m_temporary);
  });
}

void OutputFile::commit(const std::string& status) {
  on_rank_zero(m_grid->comm(), [&] {
    if (m_committed) return;
    NcFile& f = *m_file;
    f.redefine();
    f.put_attribute(NC_GLOBAL, "nunatak_run_status", status);
    f.end_definitions();
    f.close();
    fs::rename(m_temporary, m_path);
    m_committed = true;
  });
  m_committed = true;
}

void write_map_file(const std::string& path, const core::Grid& grid,
                    const std::vector<MapField>& fields, const std::string& series_dimension,
                    const std::vector<SeriesColumn>& series, const Provenance& provenance,
                    int deflate_level) {
  const size_t nx = size_t(grid.nx()), ny = size_t(grid.ny());
  for (const auto& field : fields)
    if (field.values.size() != nx * ny)
      throw Error("output '" + path + "': field '" + field.info.name + "' has " +
                  std::to_string(field.values.size()) + " values, the grid " +
                  std::to_string(nx * ny));
  const size_t length = series.empty() ? 0 : series.front().values.size();
  for (const auto& column : series)
    if (column.values.size() != length)
      throw Error("output '" + path + "': the series '" + column.name + "' has " +
                  std::to_string(column.values.size()) + " values, the first " +
                  std::to_string(length));
  write_then_rename(path, [&](const std::string& temporary) {
    NcFile f = NcFile::create(temporary);
    const int y_dim = f.define_dimension("y", ny);
    const int x_dim = f.define_dimension("x", nx);
    write_grid(f, grid, x_dim, y_dim);
    write_provenance(f, provenance);
    std::vector<int> vars;
    for (const auto& field : fields)
      vars.push_back(
          define_field(f, field.info, {y_dim, x_dim}, {ny, nx}, deflate_level, grid.mapping()));
    std::vector<int> series_vars;
    if (!series.empty()) {
      const int dim = f.define_dimension(series_dimension, length);
      for (const auto& column : series) {
        const int var = f.define_variable(column.name, NC_DOUBLE, {dim});
        f.put_attribute(var, "long_name", column.long_name);
        f.put_attribute(var, "units", column.units);
        series_vars.push_back(var);
      }
    }
    f.end_definitions();
    for (size_t k = 0; k < fields.size(); ++k) {
      std::vector<double> values = fields[k].values;
      to_output_units(fields[k].info, values);
      f.write(vars[k], {0, 0}, {ny, nx}, values.data());
    }
    for (size_t k = 0; k < series.size(); ++k)
      if (length > 0) f.write(series_vars[k], {0}, {length}, series[k].values.data());
    f.close();
  });
}

} // namespace nunatak::io
