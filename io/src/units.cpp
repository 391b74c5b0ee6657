#include "nunatak/io/units.hpp"

#include "nunatak/core/error.hpp"

#include <udunits2.h>

#include <cctype>
#include <memory>
#include <mutex>
#include <regex>
#include <vector>

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
  UnitPtr u(ut_parse(unit_system(), text.c_str(), UT_ASCII));
  if (!u) { // "KM", "Km": UDUNITS' names and prefixes are case-sensitive
    std::string lower = text;
    for (char& c : lower) c = char(std::tolower(static_cast<unsigned char>(c)));
    if (lower != text) u.reset(ut_parse(unit_system(), lower.c_str(), UT_ASCII));
  }
  return u;
}

/// A phrase of a units string that is not a unit, bounded by anything but a
/// letter on both sides (group 1 keeps the left boundary).
std::regex phrase(const std::string& body) {
  return std::regex("(^|[^A-Za-z])(?:" + body + ")(?=[^A-Za-z]|$)", std::regex::icase);
}

bool is_word_char(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_';
}

} // namespace

QualifiedUnits split_qualifiers(const std::string& text) {
  struct Rule {
    std::regex pattern;
    const char* replacement;
    Equivalent equivalent;
  };
  // Order matters: longer phrases first.
  static const std::vector<Rule> rules = {
      // Elevations: "m a.s.l.", "m asl", "masl", "m above sea level".
      {phrase(R"(above (?:mean )?sea level|above (?:the )?geoid|a\.s\.l\.?|amsl|asl)"), "$1",
       Equivalent::none},
      {phrase(R"((k?m|cm|mm)(?:a\.s\.l\.?|amsl|asl))"), "$1$2", Equivalent::none},
      // Water equivalent: "mm w.e. a-1", "mmWE/yr", "m water equivalent".
      {phrase(R"((k?m|cm|mm)_?(?:w\.e\.?|weq|we))"), "$1$2", Equivalent::water},
      {phrase(R"(water equivalent|water eq\.?|of water|w\.\s?e\.?|weq|we)"), "$1",
       Equivalent::water},
      // Ice equivalent: "m ice eq. a-1", "m of ice", "m_ice/yr", "m ice".
      {phrase(R"((k?m|cm|mm)_(?:ice|ieq))"), "$1$2", Equivalent::ice},
      {phrase(R"(ice equivalent|ice eq\.?|of ice|i\.e\.|ieq|ice)"), "$1", Equivalent::ice},
  };
  QualifiedUnits out;
  std::string s = text;
  bool water = false, ice = false;
  for (const auto& r : rules) {
    if (!std::regex_search(s, r.pattern)) continue;
    water = water || r.equivalent == Equivalent::water;
    ice = ice || r.equivalent == Equivalent::ice;
    s = std::regex_replace(s, r.pattern, r.replacement);
  }
  out.equivalent = water && ice ? Equivalent::both
                   : water      ? Equivalent::water
                   : ice        ? Equivalent::ice
                                : Equivalent::none;
  // Brackets left empty ("m (ice)"), then runs of blanks.
  s = std::regex_replace(s, std::regex(R"(\(\s*\)|\[\s*\])"), " ");
  std::string collapsed;
  for (char c : s) {
    const bool blank = std::isspace(static_cast<unsigned char>(c)) || c == '\0';
    if (blank && (collapsed.empty() || collapsed.back() == ' ')) continue;
    collapsed += blank ? ' ' : c;
  }
  while (!collapsed.empty() && (collapsed.back() == ' ' || collapsed.back() == '.'))
    collapsed.pop_back();
  out.units = collapsed;
  return out;
}

std::string normalise_units(const std::string& text) {
  const std::string units = split_qualifiers(text).units;
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
