#pragma once
/// \file validators.hpp
/// Checks of numeric command-line arguments. CLI11's Range lets NaN through
/// (every comparison with NaN is false) and accepts infinities where the
/// range is open; these refuse both, with one message naming the value.

#include <CLI/CLI.hpp>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>
#include <string>

namespace nunatak::app {

/// A finite number in [min, max], or (min, max] if `exclusive_min`.
inline CLI::Validator finite_range(double min, double max, bool exclusive_min = false) {
  std::ostringstream range;
  range << (exclusive_min ? "(" : "[") << min << ", " << max << "]";
  const std::string text = range.str();
  return CLI::Validator(
      [=](std::string& input) -> std::string {
        const char* begin = input.c_str();
        char* end = nullptr;
        errno = 0;
        const double v = std::strtod(begin, &end);
        if (input.empty() || end == begin || *end != '\0') return "'" + input + "' is not a number";
        if (!std::isfinite(v) || errno == ERANGE)
          return "'" + input + "' is not a finite number (it must be in " + text + ")";
        if (v < min || v > max || (exclusive_min && v == min))
          return "'" + input + "' is out of range: it must be in " + text;
        return {};
      },
      "finite number in " + text);
}

} // namespace nunatak::app
