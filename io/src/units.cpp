#include "nunatak/io/units.hpp"

#include "nunatak/core/error.hpp"

#include <udunits2.h>

#include <cctype>
#include <memory>
#include <mutex>

namespace nunatak::io {

namespace {

/// UDUNITS' unit system, loaded once (read-only afterwards) from the XML data
/// that libudunits2 was built with; its error messages are silenced because
/// nunatak reports errors itself.
ut_system* unit_system() {
  static std::once_flag once;
  static ut_system* system = nullptr;
  std::call_once(once, [] {
    ut_set_error_message_handler(ut_ignore);
    system = ut_read_xml(nullptr);
  });
  if (!system) throw Error("UDUNITS-2: cannot load the unit database (is udunits-data installed?)");
  return system;
}

struct UnitDeleter {
  void operator()(ut_unit* u) const { ut_free(u); }
};
using UnitPtr = std::unique_ptr<ut_unit, UnitDeleter>;

UnitPtr parse(const std::string& units) {
  const std::string text = normalise_units(units);
  return UnitPtr(ut_parse(unit_system(), text.c_str(), UT_ASCII));
}

bool is_word_char(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_';
}

} // namespace

std::string normalise_units(const std::string& units) {
  std::string out;
  size_t i = 0;
  while (i < units.size()) {
    if (!is_word_char(units[i])) {
      out += units[i++];
      continue;
    }
    size_t j = i;
    while (j < units.size() && is_word_char(units[j])) ++j;
    const std::string word = units.substr(i, j - i);
    if (word == "a" || word == "y" || word == "yr" || word == "yrs" || word == "annum")
      out += "year";
    else
      out += word;
    i = j;
  }
  return out;
}

bool units_parse(const std::string& units) {
  return static_cast<bool>(parse(units));
}

bool units_convertible(const std::string& from, const std::string& to) {
  UnitPtr a = parse(from), b = parse(to);
  return a && b && ut_are_convertible(a.get(), b.get());
}

UnitConversion unit_conversion(const std::string& from, const std::string& to,
                               const std::string& context) {
  const std::string where = context.empty() ? "" : " (" + context + ")";
  UnitPtr a = parse(from);
  if (!a) throw Error("cannot parse units '" + from + "'" + where);
  UnitPtr b = parse(to);
  if (!b) throw Error("cannot parse units '" + to + "'" + where);
  if (!ut_are_convertible(a.get(), b.get()))
    throw Error("units '" + from + "' cannot be converted to '" + to + "'" + where);
  cv_converter* cv = ut_get_converter(a.get(), b.get());
  if (!cv) throw Error("UDUNITS: no converter from '" + from + "' to '" + to + "'" + where);
  UnitConversion c;
  c.offset = cv_convert_double(cv, 0.0);
  c.scale = cv_convert_double(cv, 1.0) - c.offset;
  cv_free(cv);
  return c;
}

} // namespace nunatak::io
