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

/// An Error that every rank of a communicator raises together, with the same
/// message (core::collective, io::on_rank_zero). `main` prints it once, on
/// rank 0; an error that is not a CollectiveError may have been raised on
/// some ranks only (core/error_report.hpp).
class CollectiveError : public Error {
public:
  /// `origin_rank`: the (lowest) rank where the error was raised.
  CollectiveError(const std::string& message, int origin_rank)
      : Error(message), m_origin_rank(origin_rank) {}
  int origin_rank() const { return m_origin_rank; }

private:
  int m_origin_rank;
};

} // namespace nunatak
