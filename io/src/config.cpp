#include "nunatak/io/config.hpp"

#include "nunatak/core/error.hpp"
#include "nunatak/io/path_checks.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

namespace nunatak::io {

namespace {

std::string type_name(KeyType type) {
  switch (type) {
  case KeyType::boolean:
    return "a boolean (true/false)";
  case KeyType::integer:
    return "an integer";
  case KeyType::real:
    return "a number";
  case KeyType::string:
    return "a string";
  case KeyType::string_list:
    return "a list of strings";
  }
  return "?";
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = up;
    }
  }
  return row[b.size()];
}

bool is_section(const std::string& key) {
  const std::string prefix = key + ".";
  for (const auto& spec : config_schema())
    if (spec.name.compare(0, prefix.size(), prefix) == 0) return true;
  return false;
}

std::string unknown_key_message(const std::string& key, const std::string& origin) {
  std::string msg = origin + ": unknown configuration key '" + key + "'";
  const std::string hint = closest_key(key);
  if (!hint.empty()) msg += "; did you mean '" + hint + "'?";
  msg += " ('nunatak config --list' shows every key)";
  return msg;
}

bool parse_integer(const std::string& s, long long& out) {
  if (s.empty()) return false;
  size_t pos = 0;
  try {
    out = std::stoll(s, &pos);
  } catch (...) {
    return false;
  }
  return pos == s.size();
}

bool parse_real(const std::string& s, double& out) {
  if (s.empty()) return false;
  size_t pos = 0;
  try {
    out = std::stod(s, &pos);
  } catch (...) {
    return false;
  }
  return pos == s.size() && std::isfinite(out);
}

/// Converts a YAML node to the key's type and checks its range and choices.
ConfigValue convert(const KeySpec& spec, const YAML::Node& node, const std::string& origin) {
  const std::string where = origin + ": key '" + spec.name + "'";
  auto fail = [&](const std::string& got) -> ConfigValue {
    throw Error(where + " expects " + type_name(spec.type) + ", got " + got);
  };
  if (spec.type == KeyType::string_list) {
    std::vector<std::string> list;
    if (node.IsSequence()) {
      for (const auto& item : node) {
        if (!item.IsScalar()) fail("a nested structure in the list");
        list.push_back(item.Scalar());
      }
    } else if (node.IsScalar()) {
      list.push_back(node.Scalar());
    } else if (!node.IsNull()) {
      fail("a map");
    }
    for (const auto& item : list)
      if (!spec.choices.empty() &&
          std::find(spec.choices.begin(), spec.choices.end(), item) == spec.choices.end())
        throw Error(where + ": '" + item + "' is not one of the allowed values");
    return list;
  }
  if (node.IsMap()) fail("a map");
  if (node.IsSequence()) fail("a list");
  const std::string s = node.IsNull() ? "" : node.Scalar();
  if (node.IsNull() && spec.type != KeyType::string) fail("no value (an empty or null entry)");
  ConfigValue value;
  double number = 0.0;
  switch (spec.type) {
  case KeyType::boolean: {
    bool b = false;
    if (!YAML::convert<bool>::decode(node, b)) fail("'" + s + "'");
    return b;
  }
  case KeyType::integer: {
    long long i = 0;
    if (!parse_integer(s, i)) fail("'" + s + "'");
    value = i;
    number = static_cast<double>(i);
    break;
  }
  case KeyType::real:
    if (!parse_real(s, number)) fail("'" + s + "'");
    value = number;
    break;
  case KeyType::string:
    if (!spec.choices.empty() &&
        std::find(spec.choices.begin(), spec.choices.end(), s) == spec.choices.end()) {
      std::string allowed;
      for (const auto& c : spec.choices) allowed += (allowed.empty() ? "" : ", ") + c;
      throw Error(where + ": '" + s + "' is not one of: " + allowed);
    }
    return s;
  default:
    break;
  }
  const std::string units = spec.units.empty() ? "" : " " + spec.units;
  if (spec.min && number < *spec.min) {
    std::ostringstream m;
    m << where << " = " << s << units << " is below its minimum " << *spec.min << units;
    throw Error(m.str());
  }
  if (spec.max && number > *spec.max) {
    std::ostringstream m;
    m << where << " = " << s << units << " is above its maximum " << *spec.max << units;
    throw Error(m.str());
  }
  return value;
}

YAML::Node parse_yaml_text(const std::string& text, const std::string& origin) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw Error(origin + ": malformed YAML value '" + text + "': " + e.msg);
  }
}

} // namespace

const KeySpec* find_key(const std::string& key) {
  const auto& schema = config_schema();
  auto it =
      std::find_if(schema.begin(), schema.end(), [&](const KeySpec& s) { return s.name == key; });
  return it == schema.end() ? nullptr : &*it;
}

std::string closest_key(const std::string& key) {
  std::string best;
  size_t best_distance = std::string::npos;
  for (const auto& spec : config_schema()) {
    size_t d = edit_distance(key, spec.name);
    // A key that ends like the schema key (wrong section) is also a good hint.
    const std::string last = spec.name.substr(spec.name.rfind('.') + 1);
    const std::string key_last = key.substr(key.rfind('.') + 1);
    if (key_last == last) d = std::min(d, size_t{2});
    if (d < best_distance) {
      best_distance = d;
      best = spec.name;
    }
  }
  const size_t limit = std::max<size_t>(3, key.size() / 3);
  return best_distance <= limit ? best : "";
}

Config::Config() {
  for (const auto& spec : config_schema()) {
    m_values[spec.name] = convert(spec, YAML::Load(spec.default_value), "schema default");
    m_origins[spec.name] = "default";
  }
}

Config Config::from_file(const std::string& path) {
  // A folder opens as an empty stream (an empty configuration): say what it is.
  if (auto why = unreadable_file(path))
    throw Error("cannot open configuration file '" + path + "': it " + *why);
  std::ifstream in(path);
  if (!in) throw Error("cannot open configuration file '" + path + "'");
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw Error("cannot read configuration file '" + path + "'");
  const std::string text = buffer.str();
  if (text.find('\0') != std::string::npos)
    throw Error("configuration file '" + path + "' is not a YAML text file (it holds binary data" +
                (text.compare(0, 3, "CDF") == 0 || text.compare(0, 4, "\x89HDF") == 0
                     ? ": it is a NetCDF file; the configuration comes first, e.g. nunatak "
                       "bootstrap config.yaml"
                     : "") +
                ")");
  Config config = from_text(text, path);
  config.m_source_file = path;
  return config;
}

Config Config::from_text(const std::string& text, const std::string& path) {
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    // yaml-cpp's messages do not say that a tab indents: YAML forbids it.
    std::string line;
    std::istringstream lines(text);
    for (int k = 0; k <= e.mark.line && std::getline(lines, line);) ++k;
    const size_t indent = line.find_first_not_of(" \t");
    const bool tab = line.substr(0, indent).find('\t') != std::string::npos;
    throw Error(path + ":" + std::to_string(e.mark.line + 1) + ":" +
                std::to_string(e.mark.column + 1) + ": malformed YAML: " + e.msg +
                (tab ? " (the line is indented with a tab; YAML allows spaces only)" : ""));
  }
  // A second document ("---" and more keys) would be ignored: say so.
  size_t used = 0;
  for (const auto& d : documents) used += !d.IsNull();
  if (used > 1)
    throw Error(path + ": holds " + std::to_string(used) +
                " YAML documents (separated by '---'); a configuration is one document");
  size_t first = 0;
  while (first + 1 < documents.size() && documents[first].IsNull()) ++first;
  const YAML::Node root = documents.empty() ? YAML::Node() : documents[first];
  // An empty file (a truncated copy, the wrong file) would run every key at
  // its default.
  if (root.IsNull())
    throw Error("configuration file '" + path + "' is empty (" +
                (text.find_first_not_of(" \t\r\n") == std::string::npos
                     ? std::to_string(text.size()) + " bytes" + (text.empty() ? "" : " of blanks")
                     : std::string("no keys, only comments or '---'")) +
                "): it sets no key; give at least input.geometry.file, e.g. "
                "'input: {geometry: {file: in.nc}}'");
  Config config;
  if (!root.IsMap())
    throw Error(path + ": the configuration must be a map of keys, e.g. 'output: {file: out.nc}'");

  // Walk nested maps; a dotted path that names a schema key is a leaf.
  std::vector<std::pair<std::string, YAML::Node>> stack{{"", root}};
  while (!stack.empty()) {
    auto [prefix, node] = stack.back();
    stack.pop_back();
    for (auto it = node.begin(); it != node.end(); ++it) {
      const std::string origin = path + ":" + std::to_string(it->first.Mark().line + 1);
      if (!it->first.IsScalar()) throw Error(origin + ": keys must be plain names");
      const std::string key =
          prefix.empty() ? it->first.Scalar() : prefix + "." + it->first.Scalar();
      const YAML::Node value = it->second;
      if (const KeySpec* spec = find_key(key)) {
        if (config.m_origins[key] != "default")
          throw Error(origin + ": key '" + key + "' is set twice (also at " +
                      config.m_origins[key] + ")");
        config.m_values[key] = convert(*spec, value, origin);
        config.m_origins[key] = origin;
      } else if (is_section(key)) {
        if (!value.IsMap())
          throw Error(origin + ": '" + key + "' is a section; it needs a map of keys under it");
        stack.emplace_back(key, value);
      } else {
        throw Error(unknown_key_message(key, origin));
      }
    }
  }
  return config;
}

void Config::set(const std::string& key, const std::string& yaml_text, const std::string& origin) {
  const KeySpec* spec = find_key(key);
  if (!spec) throw Error(unknown_key_message(key, origin));
  m_values[key] = convert(*spec, parse_yaml_text(yaml_text, origin), origin);
  m_origins[key] = origin;
}

void Config::set_override(const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw Error("--set '" + assignment + "': expected key=value, e.g. --set output.file=out.nc");
  set(assignment.substr(0, eq), assignment.substr(eq + 1), "--set " + assignment.substr(0, eq));
}

const ConfigValue& Config::value(const std::string& key) const {
  auto it = m_values.find(key);
  if (it == m_values.end())
    throw Error("internal: configuration key '" + key + "' is not declared");
  return it->second;
}

namespace {
template <class T>
const T& typed(const ConfigValue& v, const std::string& key) {
  if (auto p = std::get_if<T>(&v)) return *p;
  throw Error("internal: configuration key '" + key + "' read with the wrong type");
}
} // namespace

bool Config::get_bool(const std::string& key) const {
  return typed<bool>(value(key), key);
}
long long Config::get_int(const std::string& key) const {
  return typed<long long>(value(key), key);
}
double Config::get_real(const std::string& key) const {
  return typed<double>(value(key), key);
}
const std::string& Config::get_string(const std::string& key) const {
  return typed<std::string>(value(key), key);
}
const std::vector<std::string>& Config::get_list(const std::string& key) const {
  return typed<std::vector<std::string>>(value(key), key);
}
const std::string& Config::origin(const std::string& key) const {
  value(key);
  return m_origins.at(key);
}

namespace {
YAML::Node to_node(const ConfigValue& v) {
  return std::visit([](const auto& x) { return YAML::Node(x); }, v);
}
} // namespace

std::string Config::text(const std::string& key) const {
  YAML::Emitter out;
  out << YAML::Flow << to_node(value(key));
  return out.c_str();
}

std::string Config::to_yaml() const {
  // Keys are sorted, so keys sharing a section are adjacent: open and close
  // nested maps as the dotted prefix changes.
  YAML::Emitter out;
  out << YAML::BeginMap;
  std::vector<std::string> open;
  for (const auto& [key, v] : m_values) {
    std::vector<std::string> parts;
    std::stringstream ss(key);
    for (std::string part; std::getline(ss, part, '.');) parts.push_back(part);
    size_t common = 0;
    while (common < open.size() && common + 1 < parts.size() && open[common] == parts[common])
      ++common;
    for (; open.size() > common; open.pop_back()) out << YAML::EndMap;
    for (size_t i = common; i + 1 < parts.size(); ++i) {
      out << YAML::Key << parts[i] << YAML::Value << YAML::BeginMap;
      open.push_back(parts[i]);
    }
    out << YAML::Key << parts.back() << YAML::Value;
    if (auto list = std::get_if<std::vector<std::string>>(&v))
      out << YAML::Flow << *list;
    else
      out << to_node(v);
  }
  for (; !open.empty(); open.pop_back()) out << YAML::EndMap;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

} // namespace nunatak::io
