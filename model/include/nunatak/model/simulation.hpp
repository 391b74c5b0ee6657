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
///
/// Files (docs/sia.md, "Transient runs and restarts"):
///  - no file read (inputs, the restart checkpoint) is ever written, and no
///    two outputs are the same file: checked before any work
///    (io/file_safety.hpp); the one exception is the restart checkpoint,
///    which is read completely before the run writes its own checkpoints,
///    possibly to the same path (replaced by a rename);
///  - with each checkpoint (interval, SIGUSR1, SIGTERM/SIGINT) the output and
///    time series written so far are published at their final paths first
///    (their nunatak_run_status says that the run has not finished), and the
///    checkpoint records the output file and how many of its records belong
///    to it; a restart continues exactly those records (later ones are
///    dropped) and refuses an output that lacks them, so that the output of
///    a run killed (even by SIGKILL) and restarted from its last checkpoint
///    equals that of an uninterrupted run;
///  - a restart checks the checkpoint like an input (finite, non-negative
///    thickness, the same grid) and its configuration against the run's:
///    only the keys of `restart_may_change` may differ;
///  - output and checkpoint times are start + k * interval computed from k
///    (no accumulated round-off), the last within a tolerance of time.end
///    being time.end;
///  - a state that becomes non-finite stops the run with an error (step,
///    time, cell), leaving the outputs of the last checkpoint, if any.

#include "nunatak/io/config.hpp"
#include "nunatak/io/file_safety.hpp"
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

/// The surface speed against observed speeds on one kind of ice cell.
struct SpeedComparison {
  long long cells = 0;      ///< cells of this kind with ice and an observed speed
  double rms_misfit = 0;    ///< m/yr
  double mean_model = 0;    ///< m/yr
  double mean_observed = 0; ///< m/yr
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
  /// Surface speed against observations at the end, on the ice cells with
  /// an observed speed (geometry.minimum_thickness, floatation rule):
  /// grounded and floating ice apart, since the stress balances treat them
  /// differently (no basal friction under floating ice);
  bool has_observed_speed = false;
  SpeedComparison grounded, floating;
  long long ice_cells_without_observation = 0;
  std::string solver; ///< the stress balance's account of its last solve ("" for SIA)
};

/// What a command does with a configuration, for the files it touches.
enum class Purpose { run, solve, bootstrap };

/// The files a command reads and writes as configured: the configuration
/// file itself, the inputs (input.*.file), the restart checkpoint, and for `run` the output, its
/// time series and checkpoint, for every purpose the output and the quick-look maps of
/// output.quicklook. Paths as the program will use them.
io::FilePlan configured_files(const io::Config& config, Purpose purpose,
                              const std::string& restart = "");

/// Collective: checks `plan` (io::check_file_plan) and removes the stale
/// temporaries of its outputs (io::clean_stale_temporaries, logged as
/// warnings), on rank 0; a failed check throws CollectiveError on every rank.
void prepare_files(const io::FilePlan& plan, MPI_Comm comm);

/// Inserts the options of `text` ("-name [value] ...", the key petsc.options)
/// into PETSc's global options database, except those already set
/// (PETSC_OPTIONS, the host program), so that the environment overrides the
/// configuration. With a `prefix`, "-name" is inserted as "-PREFIXname" (the
/// options of one coupled model instance).
void insert_petsc_options(const std::string& text, const std::string& prefix = "");

/// The time series file of a run's output: DIR/STEM_ts.nc for DIR/STEM.nc.
std::string timeseries_path(const std::string& output);
/// The checkpoint file as configured (checkpoint.file, or
/// DIR/STEM_checkpoint.nc beside output.file).
std::string checkpoint_path(const io::Config& config);

/// True if a restart may run with a value of `key` other than the
/// checkpoint's: time.end, output.interval, checkpoint.interval,
/// checkpoint.file, output.file, output.quicklook, output.compression_level,
/// experiment.name, petsc.options; output.variables and output.levels only
/// when the output is a new file (output.file changed). Every other key
/// (physics, inputs, time.start, time stepping) must be the checkpoint's.
bool restart_may_change(const std::string& key);

/// Progress report: time (s), steps, wall seconds.
using ProgressCallback = std::function<void(double time, long long steps, double wall)>;

/// The configured simulation. Collective on `comm`.
class Simulation {
public:
  /// Reads the inputs and builds the model. Throws nunatak::Error on bad
  /// configuration (e.g. time.end not after time.start) or input.
  /// `options_prefix`: prepended to the solvers' PETSc options prefixes and
  /// to the names of petsc.options (one of several models in a process).
  Simulation(const io::Config& config, MPI_Comm comm, std::string command_line,
             const std::string& options_prefix = "");
  ~Simulation();
  /// Collective: replaces the state by a checkpoint's. Throws
  /// CollectiveError on every rank, naming the file (and the variable, cell
  /// or keys), if the checkpoint is not a valid state on this grid (other
  /// coordinates, non-finite or negative thickness), lies outside
  /// time.start .. time.end, or its configuration differs from this run's in
  /// a key that may not change (restart_may_change), unless
  /// `allow_config_change` (then each difference is a warning).
  void restart_from(const std::string& checkpoint, bool allow_config_change = false);
  /// Runs to time.end, or until signals.stop (then writes a checkpoint).
  RunSummary run(RunSignals& signals, const ProgressCallback& progress = {});
  /// A run stepped by a host program (coupling/coupled_model.hpp), in three
  /// collective calls. begin_stepping checks the files (as run does), opens
  /// the output and writes its first record. step_to takes one step, never
  /// past `t_limit` (s) nor the next output time, and writes the output
  /// record when it reaches one, so that a host that steps to the output
  /// times takes the steps of `run`. end_stepping publishes the output and
  /// the time series (status "complete" at time.end, else where the host
  /// stopped). No checkpoints are written; without end_stepping, no output.
  void begin_stepping();
  StepReport step_to(double t_limit);
  RunSummary end_stepping();
  /// The output time (or time.end) within round-off of `t` (s), else `t`: a
  /// host's "year 42" computed in years is the run's output time at year 42.
  double output_time_near(double t) const;
  /// Diagnostic solve: the flow of the initial state, written to output.file
  /// (one record) and compared with the observed surface speed.
  RunSummary diagnose();
  /// Writes a checkpoint of the current state to `path` (collective). It
  /// records no output file (a run's checkpoints do: they come with the
  /// output published so far).
  void write_checkpoint(const std::string& path) const;
  /// Why the run uses what it uses where the inputs left a choice (for
  /// example: no surface mass balance in the inputs, so the constant of
  /// surface_mass_balance.constant); a command logs them as warnings.
  const std::vector<std::string>& warnings() const;
  /// Warnings about the model state made from the inputs (floating ice that
  /// the calving rule removed before the first stress balance); `run` and
  /// `solve` log them.
  const std::vector<std::string>& state_warnings() const;

  const TransientModel& model() const { return *m_model; }
  /// The model itself, for a host that steps it (coupling/coupled_model.hpp).
  TransientModel& model() { return *m_model; }
  double end_time() const { return m_end; }

private:
  void write_output(io::OutputFile& out);
  /// Publishes the output and the time series so far, then writes the
  /// checkpoint that belongs to them (collective).
  void write_run_checkpoint(io::OutputFile& out, const std::string& status);
  void compare_with_observations(RunSummary& summary);
  struct Impl;
  std::unique_ptr<Impl> m_impl;
  std::unique_ptr<TransientModel> m_model;
  double m_start = 0, m_end = 0;
};

} // namespace nunatak::model
