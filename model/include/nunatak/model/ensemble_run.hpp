#pragma once
/// \file ensemble_run.hpp
/// Running an ensemble (`nunatak ensemble`, docs/ensembles.md): the members
/// of a configuration's ensemble.* keys, one transient run (model::Simulation)
/// per member, their files and status, and the summary of them all.
///
/// Files, in ensemble.directory (STEM = member_K, K zero-padded to the width
/// of the largest index, at least 3 digits):
///  - STEM.nc, STEM_ts.nc, STEM_checkpoint.nc: the member's output, time
///    series and checkpoint, as `nunatak run` writes them (output.file and
///    checkpoint.file are the member's); the member's values are in the
///    configuration stored in them, and in the output's global attributes
///    nunatak_ensemble_member and nunatak_ensemble_parameters;
///  - STEM.status: YAML, the member's state (running, finished, failed,
///    interrupted), its parameters, wall time, steps, error and the whole
///    member configuration; written under a temporary name and renamed, so
///    that it is always complete;
///  - STEM.log: what the run logged (the ensemble's own log has one line per
///    member);
///  - members.csv: the members' values (a table `ensemble.table` can read);
///  - summary.nc, summary.png: see write_ensemble_summary.
///
/// Scheduling: the world is split into groups of ensemble.ranks_per_member
/// ranks; each group's first rank asks world rank 0 for the next member when
/// it is free (dynamic assignment: a slow member does not hold up the
/// others). Rank 0 answers between the time steps of its own member, so a
/// request waits at most one of its steps.
///
/// Failures: a member whose run throws (bad value, non-finite state, a solver
/// that fails) is recorded as failed with its error; the others go on. With
/// more than one rank per member, an error raised on some ranks of a group
/// only (not a CollectiveError) cannot be recovered from: the ranks that
/// raised it wait 60 s for the rest of their group and then abort the whole
/// run with the error (MPI_Abort), rather than hang.
///
/// Rerunning the same command skips finished members, continues interrupted
/// ones from their checkpoints, and reruns members that were running when the
/// ensemble was killed (from their checkpoint if one was published); failed
/// members are skipped unless EnsembleOptions::retry_failed. A member that
/// has a status from a run with another configuration (its parameters or any
/// other key) is an error that names the member and the keys, before any
/// work.

#include "nunatak/io/config.hpp"
#include "nunatak/model/ensemble.hpp"
#include "nunatak/model/simulation.hpp"

#include <mpi.h>

#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace nunatak::model {

/// The ensemble of a configuration (its ensemble.* keys).
struct EnsembleSettings {
  std::vector<EnsembleMember> members;
  std::string directory;    ///< ensemble.directory
  int ranks_per_member = 1; ///< ensemble.ranks_per_member
  std::string description;  ///< e.g. "a Latin-hypercube sample of 8 members (seed 1)"
};

/// The members and settings of `config`. Throws nunatak::Error naming the
/// key for: no members (neither ensemble.table nor ensemble.parameters with
/// ensemble.members > 0), both a table and parameters, a range or table that
/// ensemble.hpp refuses, or a member value the configuration refuses.
EnsembleSettings ensemble_settings(const io::Config& config);

/// The members' values as CSV text: a comment line with the description, a
/// header of keys, a row per member (a table that ensemble.table can read).
std::string members_csv(const EnsembleSettings& settings);

/// DIR/member_K without extension (K zero-padded, see the file comment).
std::string member_stem(const EnsembleSettings& settings, int index);

/// The configuration that member `member` runs: `base` with the member's
/// values, output.file = STEM.nc and checkpoint.file = STEM_checkpoint.nc.
io::Config member_run_config(const io::Config& base, const EnsembleSettings& settings,
                             const EnsembleMember& member);

/// The state of a member.
enum class MemberState { not_run, running, finished, failed, interrupted };

/// "not_run", "running", "finished", "failed", "interrupted".
const char* state_name(MemberState state);

/// A member's status file (STEM.status).
struct MemberStatus {
  int index = 0;
  MemberState state = MemberState::not_run;
  std::vector<std::string> keys; ///< the member's parameters
  std::vector<double> values;
  double wall_seconds = 0; ///< of the last attempt
  long long steps = 0;
  double time_years = std::numeric_limits<double>::quiet_NaN();   ///< model time reached
  double volume_start = std::numeric_limits<double>::quiet_NaN(), ///< m^3, at time.start
      volume_end = std::numeric_limits<double>::quiet_NaN();      ///< m^3, at time_years
  double area_start = std::numeric_limits<double>::quiet_NaN();   ///< m^2, at time.start
  std::string error;                                              ///< why it failed
  std::string checkpoint;                                         ///< to continue from ("" if none)
  int attempts = 0;          ///< runs of this member so far (this one included)
  int ranks = 1;             ///< ranks it ran on
  std::string host;          ///< where its group's first rank ran
  std::string configuration; ///< the member's whole configuration (YAML)
};

/// Writes `status` to `path` under a temporary name, then renames it.
void write_member_status(const std::string& path, const MemberStatus& status);
/// Reads a status file; std::nullopt if there is none. Throws nunatak::Error
/// naming the file if it is not a status file.
std::optional<MemberStatus> read_member_status(const std::string& path);
/// STEM.status of member `index`.
std::string member_status_path(const EnsembleSettings& settings, int index);

/// What to run.
struct EnsembleOptions {
  bool retry_failed = false; ///< rerun failed members too
  int only_member = -1;      ///< run this member only (on all ranks), even if finished
  std::string command_line;  ///< for the outputs' provenance
};

/// How an ensemble run ended (counts over all members).
struct EnsembleReport {
  int finished = 0, failed = 0, interrupted = 0, not_run = 0;
  int ran = 0;             ///< members run (or continued) by this command
  bool stopped = false;    ///< a stop signal ended it early
  double wall_seconds = 0; ///< of the whole command
};

/// Collective on `world`: runs the members that are not finished (see the
/// file comment), writes their files, and returns the counts (on every rank).
/// Throws CollectiveError, before any member runs, for a world size that is
/// not a multiple of ranks_per_member, a member value the configuration
/// refuses, or a status from another configuration.
EnsembleReport run_ensemble(const io::Config& base, const EnsembleSettings& settings,
                            MPI_Comm world, RunSignals& signals, const EnsembleOptions& options);

/// The summary's files.
struct EnsembleSummary {
  std::string netcdf, png;
  EnsembleReport counts; ///< of the status files
};

/// Not collective: writes DIR/summary.nc and DIR/summary.png from the
/// members' status and time-series files. summary.nc has a `member`
/// dimension: one variable per parameter (named by its key, with its units),
/// status (flag_values/flag_meanings; the errors in the attribute `errors`),
/// wall_time, steps, and ice_volume and ice_area (member, time), linearly
/// interpolated from each member's time series onto times every
/// ensemble.summary_interval years (NaN where a member has no value). The PNG
/// shows the ice volume of every member (with ten or fewer) or the minimum,
/// median and maximum over the members. Written under temporary names and
/// renamed.
EnsembleSummary write_ensemble_summary(const io::Config& base, const EnsembleSettings& settings,
                                       const std::string& command_line);

} // namespace nunatak::model
