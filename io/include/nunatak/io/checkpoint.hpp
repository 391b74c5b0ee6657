#pragma once
/// \file checkpoint.hpp
/// Checkpoints of a transient run: what a restart needs to continue bit for
/// bit — the prognostic thickness at full precision, the model time and step
/// count, and the time series so far.
///
/// Layout (NetCDF-4): dimensions y, x and `series` (unlimited); coordinates
/// x, y (m); `thk(y, x)` (m, double); the scalar `model_time` (s) with the
/// attribute `steps`; `series_time` and the time-series columns
/// (timeseries_file.hpp) along `series`; `history` and `nunatak_config_yaml`
/// in global attributes; and (checkpoints written since the restart checks) the scalar
/// `nunatak_config` whose text attributes hold every configuration key's
/// effective value (Config::text), and the global attributes
/// `nunatak_output_file`, `nunatak_output_records` and
/// `nunatak_output_last_time` (s): the output file this checkpoint belongs to
/// and how many of its records (the last at that time) were committed with it.
/// Written under a temporary name and renamed when complete.
///
/// Reading checks the content like an input: the thickness must be finite
/// and non-negative in every cell, the time finite, the coordinates strictly
/// monotonic; an error names the file, the variable and the first bad cell.

#include "nunatak/core/grid.hpp"
#include "nunatak/io/timeseries_file.hpp"

#include <limits>
#include <map>
#include <string>
#include <vector>

namespace nunatak::io {

/// The content of a checkpoint.
struct Checkpoint {
  double time = 0; ///< model time, s
  long long steps = 0;
  std::vector<double> thk;  ///< whole grid, row-major [y][x], m
  std::vector<double> x, y; ///< cell-centre coordinates, m (read; written from the grid)
  std::vector<TimeSeriesRecord> series;
  /// The output this checkpoint belongs to ("" if unknown: an older checkpoint).
  std::string output_file;
  /// Records of output_file committed with the checkpoint (-1: unknown), the
  /// last at output_last_time (s; NaN if none).
  long long output_records = -1;
  double output_last_time = std::numeric_limits<double>::quiet_NaN();
  /// Every configuration key's effective value as text (Config::text); empty
  /// for an older checkpoint.
  std::map<std::string, std::string> config;
};

/// Not collective (call it on one rank): writes `checkpoint` on `grid` to `path`.
void write_checkpoint(const std::string& path, const core::Grid& grid, const Checkpoint& checkpoint,
                      const Provenance& provenance);

/// Reads a checkpoint written by write_checkpoint (or by nunatak before it:
/// the older layout lacks only the configuration and the output record).
/// Throws nunatak::Error naming the file if `path` is not a checkpoint, and
/// naming the variable and cell if its content is not a valid state
/// (non-finite or negative thickness, non-finite time, thickness and
/// coordinates of different sizes).
Checkpoint read_checkpoint(const std::string& path);

} // namespace nunatak::io
