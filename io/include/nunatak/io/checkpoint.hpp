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
/// in global attributes. Written under a temporary name and renamed when
/// complete.

#include "nunatak/core/grid.hpp"
#include "nunatak/io/timeseries_file.hpp"

#include <string>
#include <vector>

namespace nunatak::io {

/// The content of a checkpoint.
struct Checkpoint {
  double time = 0; ///< model time, s
  long long steps = 0;
  std::vector<double> thk; ///< whole grid, row-major [y][x], m
  std::vector<TimeSeriesRecord> series;
};

/// Not collective (call it on one rank): writes `checkpoint` on `grid` to `path`.
void write_checkpoint(const std::string& path, const core::Grid& grid, const Checkpoint& checkpoint,
                      const Provenance& provenance);

/// Reads a checkpoint written by write_checkpoint (or by nunatak before it:
/// the layout is unchanged). Throws nunatak::Error if `path` is not a
/// checkpoint.
Checkpoint read_checkpoint(const std::string& path);

} // namespace nunatak::io
