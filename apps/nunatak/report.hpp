#pragma once
/// \file report.hpp
/// Log lines shared by the commands that run a model (`run`, `solve`).

#include "nunatak/model/simulation.hpp"

namespace nunatak::app {

/// Logs the surface speed against the observations, if there were any:
/// grounded and floating ice apart, each with its number of cells.
void log_speed_comparison(const model::RunSummary& summary);

} // namespace nunatak::app
