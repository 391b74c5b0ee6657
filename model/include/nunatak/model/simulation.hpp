#pragma once
/// \file simulation.hpp
/// A configured transient run (`nunatak run`): inputs from the configuration,
/// a TransientModel, spatial output at chosen times, a time series of the
/// mass budget, checkpoints, and restart from a checkpoint.
///
/// Outputs (all written under temporary names and renamed when complete):
///  - output.file: the fields of output.variables at time.start, every
///    output.interval years, and time.end;
///  - OUTPUT_ts.nc: per step, ice volume and area and the mass budget terms
///    (smb, edge outflow, clipped, calved, residual), m^3 of ice
///    (io/timeseries_file.hpp);
///  - the checkpoint (checkpoint.file): the prognostic thickness at full
///    precision, the model time and step count, the time series so far
///    (io/checkpoint.hpp).
/// A restarted run continues bit for bit: the step sequence depends only on
/// the state, the configuration and the fixed schedule of output and
/// checkpoint times (counted from time.start).

#include "nunatak/io/config.hpp"
#include "nunatak/io/output_file.hpp"
#include "nunatak/io/timeseries_file.hpp"
#include "nunatak/model/transient_model.hpp"

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace nunatak::model {

/// Requests from signal handlers (set asynchronously, read between steps).
struct RunSignals {
  std::atomic<int> stop{0};       ///< SIGTERM/SIGINT: checkpoint and stop
  std::atomic<int> checkpoint{0}; ///< SIGUSR1: checkpoint and go on
};

/// How a run ended.
struct RunSummary {
  bool completed = false; ///< false: stopped by a signal after a checkpoint
  double time = 0;        ///< s
  long long steps = 0;
  double wall_seconds = 0;
  std::string output, timeseries, checkpoint; ///< files written ("" if none)
  double volume_start = 0, volume_end = 0;    ///< m^3
  double budget_residual = 0;                 ///< sum over the run, m^3
  /// Surface speed against observations at the end (ice cells with data):
  long long compared_cells = 0;
  double speed_rms_misfit = 0;                          ///< m/yr
  double speed_mean_model = 0, speed_mean_observed = 0; ///< m/yr
  std::string solver; ///< the stress balance's account of its last solve ("" for SIA)
};

/// Progress report: time (s), steps, wall seconds.
using ProgressCallback = std::function<void(double time, long long steps, double wall)>;

/// The configured simulation. Collective on `comm`.
class Simulation {
public:
  /// Reads the inputs and builds the model. Throws nunatak::Error on bad
  /// configuration (e.g. time.end not after time.start) or input.
  Simulation(const io::Config& config, MPI_Comm comm, std::string command_line);
  ~Simulation();
  /// Replaces the state by a checkpoint's (grid must match).
  void restart_from(const std::string& checkpoint);
  /// Runs to time.end, or until signals.stop (then writes a checkpoint).
  RunSummary run(RunSignals& signals, const ProgressCallback& progress = {});
  /// Diagnostic solve: the flow of the initial state, written to output.file
  /// (one record) and compared with the observed surface speed.
  RunSummary diagnose();
  /// Writes a checkpoint of the current state to `path` (collective).
  void write_checkpoint(const std::string& path) const;

  const TransientModel& model() const { return *m_model; }
  double end_time() const { return m_end; }

private:
  void write_output(io::OutputFile& out);
  void compare_with_observations(RunSummary& summary);
  struct Impl;
  std::unique_ptr<Impl> m_impl;
  std::unique_ptr<TransientModel> m_model;
  double m_start = 0, m_end = 0;
};

} // namespace nunatak::model
