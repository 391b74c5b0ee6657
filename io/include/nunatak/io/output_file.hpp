#pragma once
/// \file output_file.hpp
/// CF-1.8 NetCDF-4 output of fields on a ParallelGrid.
///
/// Layout: dimensions (time, y, x), time unlimited; variables named as PISM
/// names them, in their output units (velocities in m year-1); coordinates x,
/// y in metres; the input's grid_mapping copied; provenance (`history` with
/// the command line, `source` with version and git revision) and the whole
/// effective configuration (`nunatak_config` variable attributes and the
/// `nunatak_config_yaml` global attribute). Deflate-compressed, chunked one
/// record at a time.
///
/// The file is written under a temporary name beside the target
/// (`PATH.tmp.PID`) and renamed by `commit()`; if the writer is destroyed
/// before that (an error, a crash in a later step), the temporary is removed,
/// so a complete-looking file is always a complete file. A transient run also
/// `publish()`es the records so far with each checkpoint; such a file says
/// so in its global attribute `nunatak_run_status` (every committed file has
/// it: "complete" when the run finished). Rank 0 writes; fields are gathered
/// to it.

#include "nunatak/core/field3d.hpp"
#include "nunatak/io/config.hpp"

#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace nunatak::io {

class NcFile;

/// Who made an output, and how.
struct Provenance {
  std::string command_line;       ///< the full command, for `history`
  const Config* config = nullptr; ///< the effective configuration, if any
  std::string title;              ///< global `title`
};

/// Collective writer of one output file.
class OutputFile {
public:
  /// Collective: rank 0 creates the folders and `PATH.tmp.PID`, and writes the
  /// grid, coordinates and metadata.
  OutputFile(std::shared_ptr<const core::ParallelGrid> grid, const std::string& path,
             const Provenance& provenance, int deflate_level = 1);
  /// Collective: continues the output of an interrupted run (a restart).
  /// The new temporary is rebuilt from `path`: its definitions, attributes
  /// and its records up to and including `up_to_time` (s), nothing after
  /// them; the configuration attributes are those of `provenance`, and
  /// `history` gains a line. With `expected_records` (what the checkpoint
  /// committed), `path` must exist and hold exactly that many records up to
  /// `up_to_time`, the last at `expected_last_time` (s), or this throws
  /// naming the file and both counts. Without it (an older checkpoint that
  /// does not say) a missing file starts a new output.
  static std::unique_ptr<OutputFile> resume(std::shared_ptr<const core::ParallelGrid> grid,
                                            const std::string& path, const Provenance& provenance,
                                            double up_to_time, int deflate_level = 1,
                                            std::optional<long long> expected_records = {},
                                            double expected_last_time = 0.0);
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  /// Collective: appends one time record (time in seconds) with `fields` and
  /// 3-D `fields3d` (dimensions (time, y, x, z), z = sigma levels). Every
  /// record must hold the same fields.
  void write_record(double time_seconds, const std::vector<const core::Field2D*>& fields,
                    const std::vector<const core::Field3D*>& fields3d = {});
  /// Collective: makes the records so far the file at the final path (a
  /// copy; writing goes on in the temporary), with the global attribute
  /// nunatak_run_status = `status` saying that the run has not finished.
  /// A run does this with each checkpoint, so that the output on disk
  /// always holds the records that its last checkpoint belongs to.
  void publish(const std::string& status);
  /// Collective: closes the file, sets nunatak_run_status = `status` and
  /// renames it to its final path.
  void commit(const std::string& status = "complete");
  const std::string& path() const { return m_path; }
  /// Records written so far (kept ones of a resumed file included).
  long long records() const { return static_cast<long long>(m_records); }
  /// Time (s) of the last record; NaN if none.
  double last_time() const { return m_last_time; }

private:
  OutputFile(std::shared_ptr<const core::ParallelGrid> grid, const std::string& path,
             int deflate_level);
  std::shared_ptr<const core::ParallelGrid> m_grid;
  std::string m_path, m_temporary;
  int m_deflate_level;
  std::unique_ptr<NcFile> m_file; // rank 0 only
  int m_time_var = -1;
  size_t m_records = 0;
  double m_last_time = std::numeric_limits<double>::quiet_NaN();
  std::map<std::string, int> m_vars;
  int m_z_dim = -1;
  bool m_committed = false;
};

/// One map-plane field of write_map_file: [y][x] values in `info.units`
/// (written in info.output_units; NaN: no data).
struct MapField {
  core::FieldInfo info;
  std::vector<double> values;
};

/// One variable along the extra dimension of write_map_file.
struct SeriesColumn {
  std::string name, long_name, units;
  std::vector<double> values;
};

/// Not collective: writes a file of map-plane `fields` on `grid` (no time
/// axis) and of `series` (all of one length) along the dimension
/// `series_dimension` (e.g. the iterations of an inversion), with the
/// coordinates, grid mapping, provenance and configuration of every output;
/// under a temporary name, renamed when complete. Throws nunatak::Error
/// naming the file and the field on a size mismatch.
void write_map_file(const std::string& path, const core::Grid& grid,
                    const std::vector<MapField>& fields, const std::string& series_dimension,
                    const std::vector<SeriesColumn>& series, const Provenance& provenance,
                    int deflate_level = 1);

/// The time axis units of nunatak outputs.
inline constexpr const char* time_units = "seconds since 0001-01-01 00:00:00";

/// Runs `work` on rank 0 of `comm`; if it throws there, every rank throws the
/// same nunatak::CollectiveError. Collective.
void on_rank_zero(MPI_Comm comm, const std::function<void()>& work);

} // namespace nunatak::io
