#pragma once
/// \file timeseries_file.hpp
/// The time series of a transient run (`OUTPUT_ts.nc`): one row per step with
/// the ice volume and area and the mass budget of the step.
///
/// Layout: dimension `time` (unlimited), variable `time` in io::time_units,
/// and one double variable per column (table in timeseries_file.cpp:
/// dt in s, ice_volume m3, ice_area m2, smb_volume, edge_outflow_volume,
/// clipped_volume, calved_volume, budget_residual in m3 of ice); CF-1.8,
/// provenance and the configuration in global attributes. Written under a
/// temporary name and renamed when complete. Checkpoints carry the same
/// columns along their `series` dimension (checkpoint.hpp).

#include "nunatak/io/output_file.hpp"

#include <functional>
#include <limits>
#include <string>
#include <vector>

namespace nunatak::io {

class NcFile;

/// One row of the time series (SI units: s, m^3 and m^2 of ice).
struct TimeSeriesRecord {
  double time = 0, dt = 0, volume = 0, area = 0;
  double smb = 0, edge_outflow = 0, clipped = 0, calved = 0, residual = 0;
  /// The emulator's solver check in this step: relative L2 difference of the
  /// surface velocity over the ice to a Blatter-Pattyn solve; NaN where no
  /// check ran (the column is written only when one did).
  double emulator_solver_difference = std::numeric_limits<double>::quiet_NaN();
};

/// True if `name` is a column of the time series (ice_volume, ...).
bool is_timeseries_variable(const std::string& name);
/// The columns, comma-separated.
std::string timeseries_variable_list();

/// Not collective (call it on one rank): writes `series` to `path` (folders
/// are created), under a temporary name then renamed. `provenance.config`,
/// if set, is written as the global attribute nunatak_config_yaml; `status`
/// as the global attribute nunatak_run_status ("complete", or what a run
/// interrupted or still running has written so far).
void write_timeseries(const std::string& path, const std::vector<TimeSeriesRecord>& series,
                      const Provenance& provenance, const std::string& status = "complete");

/// Reads the time series of `path` (the time-series file of a run). Throws
/// nunatak::Error naming the file if a column is missing.
std::vector<TimeSeriesRecord> read_timeseries(const std::string& path);

namespace detail {
/// Defines the columns of `series` along dimension `dim` of `file` (in define
/// mode); returns their ids (-1 for an optional column with no value in `series`).
std::vector<int> define_series(NcFile& file, int dim, const std::vector<TimeSeriesRecord>& series);
/// Writes `series` into the variables `time_var` and `ids` (data mode).
void write_series(NcFile& file, int time_var, const std::vector<int>& ids,
                  const std::vector<TimeSeriesRecord>& series);
/// Reads the columns of `file` at the times in variable `time_var` (NaN for
/// an optional column the file lacks).
std::vector<TimeSeriesRecord> read_series(const NcFile& file, int time_var);
} // namespace detail

} // namespace nunatak::io
