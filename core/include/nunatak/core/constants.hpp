#pragma once
/// \file constants.hpp
/// Physical constants and unit factors used in more than one place. One value
/// each, here, so that the solver, the I/O layer and the ML libraries agree.
/// Header-only, no dependencies (part of nunatak::core_base).

namespace nunatak::core {

/// Seconds in a year: UDUNITS' `year`, the mean tropical year of
/// 365.242198781 days (what `io::convert` uses for "m/yr", "a", "years since").
/// Velocities inside the solvers are m/a and become m/s with this factor.
inline constexpr double seconds_per_year = 365.242198781 * 86400.0;

} // namespace nunatak::core
