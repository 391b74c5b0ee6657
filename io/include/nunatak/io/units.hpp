#pragma once
/// \file units.hpp
/// Unit conversion through UDUNITS-2, with the spellings glaciologists use.
///
/// In UDUNITS, `a` is the *are* (100 m^2) and `y` is no unit, but ice-sheet data
/// write `m/a`, `m/y`, `m yr-1`, `m year-1`, `mm a**-1`, all meaning per year.
/// `normalise_units` rewrites a standalone `a`, `y`, `yr` or `annum` to
/// UDUNITS' `year` (365.242198781 days = 31556925.97 s, core::seconds_per_year)
/// before parsing.

#include <string>

namespace nunatak::io {

/// What a length (rate) is a length of, when its units say so.
enum class Equivalent { none, water, ice, both };

/// A units string without the words that are not units, and what they said.
struct QualifiedUnits {
  std::string units;
  Equivalent equivalent = Equivalent::none;
};

/// Splits off what real files write beside the units: elevation references
/// ("m a.s.l.", "m asl", "masl", "m above sea level"), water equivalent
/// ("mm w.e. a-1", "mmWE/yr", "m water equivalent") and ice equivalent ("m
/// ice eq. yr-1", "m of ice", "m_ice/yr"), matched as whole words in any case;
/// then collapses blanks and trims (a trailing space or NUL is no unit).
QualifiedUnits split_qualifiers(const std::string& units);

/// The units string without qualifiers (split_qualifiers), with glaciology's
/// year spellings mapped to `year`, and `**` exponents kept as UDUNITS reads
/// them. Parsing falls back to lower case ("KM" is km).
std::string normalise_units(const std::string& units);

/// True if UDUNITS can parse `units` (after normalisation).
bool units_parse(const std::string& units);

/// True if values in `from` can be converted to `to`.
bool units_convertible(const std::string& from, const std::string& to);

/// A linear (affine) conversion y = scale * x + offset between two units.
struct UnitConversion {
  double scale = 1.0;
  double offset = 0.0;
  double operator()(double x) const { return scale * x + offset; }
};

/// The conversion from `from` to `to`; throws nunatak::Error naming both
/// units (and `context`, e.g. "variable 'smb' in file.nc") if impossible.
UnitConversion unit_conversion(const std::string& from, const std::string& to,
                               const std::string& context = "");

} // namespace nunatak::io
