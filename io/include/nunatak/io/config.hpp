#pragma once
/// \file config.hpp
/// Typed, schema-validated configuration.
///
/// Every key is declared once in the schema (config_schema.cpp) with its type,
/// default, units and doc. A YAML file may set any of them with nested maps
/// (`input: {geometry: {file: x.nc}}`) or dotted keys (`input.geometry.file:
/// x.nc`); `--set key=value` overrides both. Unknown keys, wrong types and
/// out-of-range values are errors that name the file, line and key. The
/// effective configuration is written into every output file.

#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace nunatak::io {

/// The type of a configuration value.
enum class KeyType { boolean, integer, real, string, string_list };

/// One declared configuration key.
struct KeySpec {
  std::string name;                 ///< dotted name, e.g. "output.compression_level"
  KeyType type;                     ///< value type
  std::string default_value;        ///< default, written as in YAML ("[a, b]" for lists)
  std::string units;                ///< units of the value, "" for none
  std::string doc;                  ///< one-line description
  std::optional<double> min, max;   ///< inclusive range for numbers
  std::vector<std::string> choices; ///< allowed values for strings, empty = any
};

/// The schema: every key nunatak understands, sorted by name.
const std::vector<KeySpec>& config_schema();

/// A typed value.
using ConfigValue = std::variant<bool, long long, double, std::string, std::vector<std::string>>;

/// The effective configuration: every schema key with a validated value.
class Config {
public:
  /// All keys at their defaults.
  Config();
  /// Defaults overridden by the YAML file at `path`. Throws nunatak::Error on
  /// a missing, empty (no keys), binary or malformed file, one of several YAML
  /// documents, unknown or repeated keys, wrong types (a null value included)
  /// or ranges.
  static Config from_file(const std::string& path);
  /// The same from YAML `text`; `name` says where it came from in errors
  /// (e.g. "the configuration stored in 'run.nc'"). source_file() is "".
  static Config from_text(const std::string& text, const std::string& name);

  /// Applies "dotted.key=value" (value in YAML syntax). Throws on errors.
  void set_override(const std::string& assignment);
  /// Sets `key` from YAML text; `origin` names where it came from (for errors).
  void set(const std::string& key, const std::string& yaml_text, const std::string& origin);

  bool get_bool(const std::string& key) const;
  long long get_int(const std::string& key) const;
  double get_real(const std::string& key) const;
  const std::string& get_string(const std::string& key) const;
  const std::vector<std::string>& get_list(const std::string& key) const;

  /// Where each key's value came from: "default", "FILE:LINE" or "--set".
  const std::string& origin(const std::string& key) const;
  /// The value of `key` as YAML text.
  std::string text(const std::string& key) const;
  /// The whole effective configuration as nested YAML.
  std::string to_yaml() const;
  /// The file this configuration was read from, "" if none.
  const std::string& source_file() const { return m_source_file; }

private:
  const ConfigValue& value(const std::string& key) const;
  std::map<std::string, ConfigValue> m_values;
  std::map<std::string, std::string> m_origins;
  std::string m_source_file;
};

/// The schema key closest to `key` (edit distance), for "did you mean" hints;
/// "" if nothing is close.
std::string closest_key(const std::string& key);

/// The schema entry for `key`, or nullptr.
const KeySpec* find_key(const std::string& key);

} // namespace nunatak::io
