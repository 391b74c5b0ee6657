#pragma once
/// \file error_of.hpp
/// The message of a nunatak::Error, for tests that check what users read.

#include "nunatak/core/error.hpp"

#include <string>

namespace nunatak::test {

/// The message of the nunatak::Error thrown by `f`, or "" if none.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

} // namespace nunatak::test
