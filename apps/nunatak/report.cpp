#include "report.hpp"

#include <spdlog/spdlog.h>

namespace nunatak::app {

void log_speed_comparison(const model::RunSummary& summary) {
  if (!summary.has_observed_speed) return;
  // Grounded and floating ice apart: the stress balances treat them
  // differently (no basal friction under floating ice), and a mean over both
  // hides either.
  const std::pair<const char*, const model::SpeedComparison*> kinds[] = {
      {"grounded", &summary.grounded}, {"floating", &summary.floating}};
  for (const auto& [kind, c] : kinds) {
    if (c->cells == 0) {
      spdlog::info("surface speed vs observed, {} ice: no cells with ice and an observed speed",
                   kind);
      continue;
    }
    spdlog::info("surface speed vs observed, {} ice ({} cells with ice and an observed speed): "
                 "model mean {:.1f} m/yr, observed mean {:.1f} m/yr, RMS difference {:.1f} m/yr",
                 kind, c->cells, c->mean_model, c->mean_observed, c->rms_misfit);
  }
  if (summary.ice_cells_without_observation > 0)
    spdlog::info("({} ice cells have no observed speed and are not compared)",
                 summary.ice_cells_without_observation);
}

} // namespace nunatak::app
