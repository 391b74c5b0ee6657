#include "report.hpp"

#include <spdlog/spdlog.h>

namespace nunatak::app {

void log_speed_comparison(const model::RunSummary& summary) {
  if (summary.compared_cells == 0) return;
  spdlog::info("surface speed vs observed on {} ice cells: model mean {:.1f} m/yr, observed "
               "mean {:.1f} m/yr, RMS difference {:.1f} m/yr",
               summary.compared_cells, summary.speed_mean_model, summary.speed_mean_observed,
               summary.speed_rms_misfit);
}

} // namespace nunatak::app
