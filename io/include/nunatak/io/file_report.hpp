#pragma once
/// \file file_report.hpp
/// What `nunatak info FILE` reports: the grid, the CRS, every variable with its
/// units and range (velocities in m/yr), and ice-sheet figures for the
/// quantities it recognises (ice area and volume, surface speed, radar cells).
/// Values are decoded as CF says (unpacked, fill values and the valid range
/// as missing: io::CfDecoding), as the model reads them.

#include "nunatak/core/grid.hpp"

#include <optional>
#include <string>
#include <vector>

namespace nunatak::io {

/// One variable of the file.
struct VariableSummary {
  std::string name, dimensions; ///< e.g. "H_ice", "(yc, xc)"
  std::string units;            ///< as shown (velocities converted to "m year-1")
  std::string long_name;
  bool has_range = false;
  double min = 0, max = 0;
  long long valid = 0, missing = 0;
  std::string encoding; ///< a packed variable's type and packing (values shown unpacked)
  std::string problem;  ///< why it could not be read, if it could not
};

/// The whole report.
struct FileReport {
  std::string path;
  bool has_grid = true; ///< false for a file without x/y coordinates (a time series)
  core::Grid grid{1, 1, 1.0, 1.0, 0.0, 0.0};
  std::string crs; ///< "polar_stereographic (...)" or "none stated"
  std::vector<VariableSummary> variables;

  std::string thickness_variable; ///< "" if none recognised
  long long ice_cells = 0;
  double ice_area = 0, ice_volume = 0; ///< m^2, m^3 (map-plane cell areas)

  std::string velocity_variables; ///< e.g. "uvelsurfobs, vvelsurfobs"; "" if none
  long long velocity_cells = 0;
  double max_speed = 0, mean_speed = 0; ///< m/yr

  std::string radar_variable; ///< "" if none
  long long radar_cells = 0;
  double radar_min = 0, radar_max = 0; ///< m

  /// What the reader assumed (a coordinate without units taken as metres).
  std::vector<std::string> notes;
};

/// Reads `path` and summarises it. Throws nunatak::Error if it cannot be read.
FileReport report_file(const std::string& path);

/// The report as text for a terminal.
std::string format_report(const FileReport& report);

} // namespace nunatak::io
