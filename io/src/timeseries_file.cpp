#include "nunatak/io/timeseries_file.hpp"

#include "nunatak/core/error.hpp"
#include "nunatak/core/version.hpp"
#include "nunatak/io/file_safety.hpp"
#include "nunatak/io/netcdf_file.hpp"

#include <netcdf.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

namespace nunatak::io {

namespace fs = std::filesystem;

namespace {

/// The columns: name, units, long_name, and where the value lives in a record.
struct Column {
  const char* name;
  const char* units;
  const char* doc;
  double TimeSeriesRecord::*value;
  bool optional = false; ///< written only when a record has a finite value
};

const Column columns[] = {
    {"dt", "s", "time step ending at this time", &TimeSeriesRecord::dt},
    {"ice_volume", "m3", "ice volume", &TimeSeriesRecord::volume},
    {"ice_area", "m2", "ice-covered area", &TimeSeriesRecord::area},
    {"smb_volume", "m3", "surface mass balance added during the step (negative: ablation)",
     &TimeSeriesRecord::smb},
    {"edge_outflow_volume", "m3", "ice that left the domain through its edge during the step",
     &TimeSeriesRecord::edge_outflow},
    {"clipped_volume", "m3", "ice added to keep the thickness non-negative during the step",
     &TimeSeriesRecord::clipped},
    {"calved_volume", "m3", "floating ice removed (calved) during the step",
     &TimeSeriesRecord::calved},
    {"budget_residual", "m3", "smb + clipped - edge_outflow - calved - volume change (round-off)",
     &TimeSeriesRecord::residual},
    {"emulator_solver_difference", "1",
     "emulator solver check: relative L2 difference of the surface velocity over the ice to a "
     "Blatter-Pattyn solve (NaN: no check in this step)",
     &TimeSeriesRecord::emulator_solver_difference, true},
};

} // namespace

bool is_timeseries_variable(const std::string& name) {
  for (const Column& c : columns)
    if (name == c.name) return true;
  return false;
}

std::string timeseries_variable_list() {
  std::string list;
  for (const Column& c : columns) list += (list.empty() ? "" : ", ") + std::string(c.name);
  return list;
}

namespace detail {

std::vector<int> define_series(NcFile& f, int dim, const std::vector<TimeSeriesRecord>& series) {
  std::vector<int> ids;
  for (const Column& c : columns) {
    if (c.optional && std::none_of(series.begin(), series.end(), [&](const TimeSeriesRecord& r) {
          return std::isfinite(r.*c.value);
        })) {
      ids.push_back(-1);
      continue;
    }
    const int id = f.define_variable(c.name, NC_DOUBLE, {dim});
    f.put_attribute(id, "units", std::string(c.units));
    f.put_attribute(id, "long_name", std::string(c.doc));
    ids.push_back(id);
  }
  return ids;
}

void write_series(NcFile& f, int time_var, const std::vector<int>& ids,
                  const std::vector<TimeSeriesRecord>& series) {
  const size_t n = series.size();
  if (n == 0) return;
  std::vector<double> column(n);
  for (size_t r = 0; r < n; ++r) column[r] = series[r].time;
  f.write(time_var, {0}, {n}, column.data());
  for (size_t k = 0; k < std::size(columns); ++k) {
    if (ids[k] < 0) continue;
    for (size_t r = 0; r < n; ++r) column[r] = series[r].*columns[k].value;
    f.write(ids[k], {0}, {n}, column.data());
  }
}

std::vector<TimeSeriesRecord> read_series(const NcFile& f, int time_var) {
  const auto times = f.read_all(time_var);
  std::vector<TimeSeriesRecord> series(times.size());
  for (size_t r = 0; r < times.size(); ++r) series[r].time = times[r];
  for (const Column& c : columns) {
    if (c.optional && !f.find_variable(c.name)) continue;
    const auto values = f.read_all(f.variable(c.name));
    if (values.size() != times.size())
      throw Error("'" + f.path() + "': time-series variable '" + c.name + "' has " +
                  std::to_string(values.size()) + " values for " + std::to_string(times.size()) +
                  " times");
    for (size_t r = 0; r < times.size(); ++r) series[r].*c.value = values[r];
  }
  return series;
}

} // namespace detail

void write_timeseries(const std::string& path, const std::vector<TimeSeriesRecord>& series,
                      const Provenance& provenance, const std::string& status) {
  write_then_rename(path, [&](const std::string& tmp) {
    NcFile f = NcFile::create(tmp);
    const int dim = f.define_dimension("time", 0);
    const int time_var = f.define_variable("time", NC_DOUBLE, {dim});
    f.put_attribute(time_var, "units", std::string(time_units));
    f.put_attribute(time_var, "calendar", std::string("proleptic_gregorian"));
    f.put_attribute(time_var, "axis", std::string("T"));
    const auto ids = detail::define_series(f, dim, series);
    f.put_attribute(NC_GLOBAL, "Conventions", std::string("CF-1.8"));
    f.put_attribute(NC_GLOBAL, "title",
                    std::string("nunatak time series: ice volume, area, mass budget per step"));
    f.put_attribute(NC_GLOBAL, "history", provenance.command_line + "\n");
    f.put_attribute(NC_GLOBAL, "source",
                    std::string("nunatak ") + nunatak::version + " (git " + nunatak::git_revision +
                        ")");
    if (provenance.config)
      f.put_attribute(NC_GLOBAL, "nunatak_config_yaml", provenance.config->to_yaml());
    f.put_attribute(NC_GLOBAL, "nunatak_run_status", status);
    f.end_definitions();
    detail::write_series(f, time_var, ids, series);
    f.close();
  });
}

std::vector<TimeSeriesRecord> read_timeseries(const std::string& path) {
  const NcFile f = NcFile::open(path);
  return detail::read_series(f, f.variable("time"));
}

} // namespace nunatak::io
