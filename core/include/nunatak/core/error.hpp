#pragma once
/// \file error.hpp
/// The one exception type of nunatak: a message that names what went wrong and
/// where (file, variable, configuration key, rank).

#include <stdexcept>
#include <string>

namespace nunatak {

/// An error a user can act on. The message is complete: it names the file,
/// variable or key concerned. `main` prints it once and exits non-zero.
class Error : public std::runtime_error {
public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

} // namespace nunatak
