#pragma once
/// \file ensemble.hpp
/// The members of an ensemble (issue 13, docs/ensembles.md): parameter
/// ranges over configuration keys, a Latin-hypercube sample of them with a
/// seed, or a table of values read from a CSV file, and the configuration of
/// one member (the base configuration with the member's values set).
///
/// A range is written "KEY = MIN .. MAX" (uniform) or "KEY = MIN .. MAX log"
/// (log-uniform: uniform in log(value)), e.g.
/// "flow_law.softness = 5e-17 .. 2e-16 log". KEY must be a real or integer
/// configuration key (integers are rounded to the nearest).

#include "nunatak/io/config.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace nunatak::model {

/// The range of one sampled configuration key.
struct ParameterRange {
  std::string key;
  double min = 0, max = 0;
  bool log = false; ///< uniform in log(value)
};

/// One member: its index (from 0) and a value per parameter key.
struct EnsembleMember {
  int index = 0;
  std::vector<std::string> keys;
  std::vector<double> values;
};

/// Parses "KEY = MIN .. MAX [log|uniform]". Throws nunatak::Error naming
/// `spec` and `origin` for a malformed text, a key that is not a real or
/// integer configuration key, MIN > MAX, or a log range with MIN <= 0.
ParameterRange parse_parameter_range(const std::string& spec, const std::string& origin);

/// A Latin-hypercube sample of `members` points in [0, 1)^`dimensions`:
/// in every dimension each of the `members` strata [k/m, (k+1)/m) holds
/// exactly one point, at a random place in it. The same seed gives the same
/// sample on every platform (a 64-bit Mersenne twister and our own
/// shuffle). Result [member][dimension].
std::vector<std::vector<double>> latin_hypercube(int members, int dimensions, std::uint64_t seed);

/// `members` members: a Latin-hypercube sample of `ranges` mapped to their
/// values (linearly, or through log for log ranges).
std::vector<EnsembleMember> sample_members(const std::vector<ParameterRange>& ranges, int members,
                                           std::uint64_t seed);

/// The members of a CSV table: a header row of configuration keys, then one
/// row of numbers per member ('#' starts a comment line). Throws
/// nunatak::Error naming the file, row and column for a missing file, an
/// unknown or non-numeric key, a row of the wrong length or a value that is
/// not a finite number. A path ending in ".nc" is a NetCDF table instead:
/// the variables KEY(member) whose names are configuration keys (names with
/// a dot; others are ignored, so an ensemble's summary.nc is a table).
std::vector<EnsembleMember> read_member_table(const std::string& path);

/// `base` with the member's values set (origin "ensemble member K").
/// Throws nunatak::Error if the configuration refuses a value (its range).
io::Config member_config(const io::Config& base, const EnsembleMember& member);

} // namespace nunatak::model
