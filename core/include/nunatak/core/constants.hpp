#pragma once
/// \file constants.hpp
/// Physical constants and unit factors used in more than one place. One value
/// each, here, so that the solver, the I/O layer and the ML libraries agree.
/// Header-only, no dependencies (part of nunatak::core_base).

namespace nunatak::core {

/// Seconds in a year: UDUNITS' `year` (its tropical year), defined in
/// udunits2-common.xml as 3.15569259747e7 s, about 365.242198781 days — what
/// io's unit conversion uses for "m/yr", "a" and "years since"
/// (tests/test_units.cpp checks that UDUNITS agrees). nunatak's only year:
/// velocities inside the solvers are m/a and become m/s with this factor.
inline constexpr double seconds_per_year = 3.15569259747e7;

} // namespace nunatak::core
