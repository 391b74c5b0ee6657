// The members of an ensemble: parameter ranges, Latin-hypercube sampling,
// member tables and the member's configuration (ensemble.hpp).

#include "nunatak/model/ensemble.hpp"

#include "nunatak/core/error.hpp"
#include "nunatak/io/netcdf_file.hpp"

#include <fmt/format.h>

#include <cmath>
#include <fstream>
#include <random>
#include <sstream>

namespace nunatak::model {

namespace {

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t\r"), last = s.find_last_not_of(" \t\r");
  return first == std::string::npos ? "" : s.substr(first, last - first + 1);
}

/// Throws unless `key` is a real or integer configuration key.
void check_numeric_key(const std::string& key, const std::string& where) {
  const io::KeySpec* spec = io::find_key(key);
  if (!spec) {
    const std::string hint = io::closest_key(key);
    throw Error(where + ": unknown configuration key '" + key + "'" +
                (hint.empty() ? "" : "; did you mean '" + hint + "'?"));
  }
  if (spec->type != io::KeyType::real && spec->type != io::KeyType::integer)
    throw Error(where + ": '" + key + "' is not a number key (only real and integer keys vary)");
}

/// The number in `text`, or throws naming `what`.
double number(const std::string& text, const std::string& what) {
  const std::string t = trim(text);
  size_t used = 0;
  double v = NAN;
  try {
    v = std::stod(t, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (t.empty() || used != t.size() || !std::isfinite(v))
    throw Error(what + ": '" + t + "' is not a finite number");
  return v;
}

/// A uniform double in [0, 1) from 53 bits of the generator.
double unit(std::mt19937_64& rng) {
  return double(rng() >> 11) * 0x1.0p-53;
}

} // namespace

ParameterRange parse_parameter_range(const std::string& spec, const std::string& origin) {
  const std::string where = origin + " '" + spec + "'";
  const auto eq = spec.find('=');
  const auto dots = spec.find("..", eq == std::string::npos ? 0 : eq);
  if (eq == std::string::npos || dots == std::string::npos)
    throw Error(where + ": write a range as 'KEY = MIN .. MAX' or 'KEY = MIN .. MAX log'");
  ParameterRange r;
  r.key = trim(spec.substr(0, eq));
  check_numeric_key(r.key, where);
  r.min = number(spec.substr(eq + 1, dots - eq - 1), where + ", the minimum");
  std::istringstream rest(spec.substr(dots + 2));
  std::string max_text, scale, extra;
  rest >> max_text >> scale >> extra;
  r.max = number(max_text, where + ", the maximum");
  if (!extra.empty() || (!scale.empty() && scale != "log" && scale != "uniform"))
    throw Error(where + ": after the maximum only 'log' or 'uniform' may follow");
  r.log = scale == "log";
  if (r.min > r.max) throw Error(where + ": the minimum is above the maximum");
  if (r.log && r.min <= 0) throw Error(where + ": a log range needs a positive minimum");
  return r;
}

std::vector<std::vector<double>> latin_hypercube(int members, int dimensions, std::uint64_t seed) {
  if (members < 1 || dimensions < 0)
    throw Error("latin_hypercube: need at least one member and no negative dimension");
  std::mt19937_64 rng(seed);
  const auto n = static_cast<size_t>(members), dims = static_cast<size_t>(dimensions);
  std::vector<std::vector<double>> out(n, std::vector<double>(dims));
  std::vector<int> strata(n);
  for (int d = 0; d < dimensions; ++d) {
    for (int k = 0; k < members; ++k) strata[size_t(k)] = k;
    // Fisher-Yates with our own bounded draw (std::shuffle's is not portable).
    for (int k = members - 1; k > 0; --k) {
      const int j = int(unit(rng) * double(k + 1));
      std::swap(strata[size_t(k)], strata[size_t(std::min(j, k))]);
    }
    for (int k = 0; k < members; ++k)
      out[size_t(k)][size_t(d)] = (double(strata[size_t(k)]) + unit(rng)) / double(members);
  }
  return out;
}

std::vector<EnsembleMember> sample_members(const std::vector<ParameterRange>& ranges, int members,
                                           std::uint64_t seed) {
  const auto u = latin_hypercube(members, int(ranges.size()), seed);
  std::vector<EnsembleMember> out;
  for (int m = 0; m < members; ++m) {
    EnsembleMember member;
    member.index = m;
    for (size_t d = 0; d < ranges.size(); ++d) {
      const ParameterRange& r = ranges[d];
      const double x = u[size_t(m)][d];
      member.keys.push_back(r.key);
      member.values.push_back(
          r.log ? std::exp(std::log(r.min) + x * (std::log(r.max) - std::log(r.min)))
                : r.min + x * (r.max - r.min));
    }
    out.push_back(std::move(member));
  }
  return out;
}

namespace {

/// The members of a NetCDF table: the variables over the one dimension
/// `member` whose names are configuration keys (they have a dot; others,
/// such as a summary's status and wall_time, are not parameters).
std::vector<EnsembleMember> read_netcdf_table(const std::string& path) {
  const io::NcFile f = io::NcFile::open(path);
  const std::string where = "ensemble table '" + path + "'";
  const size_t count = f.dimension_length("member");
  std::vector<std::string> keys;
  std::vector<std::vector<double>> columns;
  for (const auto& name : f.variable_names()) {
    const int var = f.variable(name);
    const auto dims = f.dimensions(var);
    if (dims.size() != 1 || dims[0].name != "member" || name.find('.') == std::string::npos)
      continue;
    check_numeric_key(name, where + ", variable '" + name + "'");
    std::vector<double> values = f.read_all(var);
    for (size_t m = 0; m < values.size(); ++m)
      if (!std::isfinite(values[m]))
        throw Error(where + ", variable '" + name + "', member " + std::to_string(m) +
                    ": not a finite number");
    keys.push_back(name);
    columns.push_back(std::move(values));
  }
  if (keys.empty())
    throw Error(where + ": no variable KEY(member) named by a configuration key (e.g. "
                        "'flow_law.enhancement_factor')");
  if (count == 0) throw Error(where + ": no member rows (the dimension 'member' is empty)");
  std::vector<EnsembleMember> out(count);
  for (size_t m = 0; m < count; ++m) {
    out[m].index = int(m);
    out[m].keys = keys;
    for (const auto& c : columns) out[m].values.push_back(c[m]);
  }
  return out;
}

} // namespace

std::vector<EnsembleMember> read_member_table(const std::string& path) {
  const std::string ext = path.size() >= 3 ? path.substr(path.size() - 3) : "";
  if (ext == ".nc" || ext == ".NC") return read_netcdf_table(path);
  std::ifstream in(path);
  if (!in) throw Error("ensemble table '" + path + "': cannot open it");
  std::string line;
  std::vector<std::string> keys;
  std::vector<EnsembleMember> out;
  int row = 0;
  const auto split = [](const std::string& text) {
    std::vector<std::string> cells;
    std::istringstream s(text);
    std::string cell;
    while (std::getline(s, cell, ',')) cells.push_back(trim(cell));
    if (!text.empty() && text.back() == ',') cells.push_back("");
    return cells;
  };
  while (std::getline(in, line)) {
    ++row;
    const std::string t = trim(line);
    if (t.empty() || t[0] == '#') continue;
    const std::vector<std::string> cells = split(t);
    const std::string where = "ensemble table '" + path + "', row " + std::to_string(row);
    if (keys.empty()) {
      for (const auto& k : cells) check_numeric_key(k, where);
      keys = cells;
      continue;
    }
    if (cells.size() != keys.size())
      throw Error(where + ": " + std::to_string(cells.size()) + " values for " +
                  std::to_string(keys.size()) + " keys");
    EnsembleMember m;
    m.index = int(out.size());
    m.keys = keys;
    for (size_t c = 0; c < cells.size(); ++c)
      m.values.push_back(number(cells[c], where + ", column '" + keys[c] + "'"));
    out.push_back(std::move(m));
  }
  if (keys.empty()) throw Error("ensemble table '" + path + "': no header row of keys");
  if (out.empty()) throw Error("ensemble table '" + path + "': no member rows");
  return out;
}

io::Config member_config(const io::Config& base, const EnsembleMember& member) {
  io::Config config = base;
  const std::string origin = "ensemble member " + std::to_string(member.index);
  for (size_t k = 0; k < member.keys.size(); ++k) {
    const io::KeySpec* spec = io::find_key(member.keys[k]);
    const double v = member.values[k];
    const std::string text = spec && spec->type == io::KeyType::integer
                                 ? std::to_string(std::llround(v))
                                 : fmt::format("{:.17g}", v);
    config.set(member.keys[k], text, origin);
  }
  return config;
}

} // namespace nunatak::model
