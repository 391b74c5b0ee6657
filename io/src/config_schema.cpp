// The configuration schema: every key nunatak reads, declared once with its
// type, default, units and doc. `nunatak config --list` prints this table and
// docs/configuration.md is generated from it.

#include "nunatak/io/config.hpp"

#include <algorithm>

namespace nunatak::io {

namespace {

KeySpec str(std::string name, std::string def, std::string doc,
            std::vector<std::string> choices = {}) {
  return {std::move(name),   KeyType::string, std::move(def), "", std::move(doc), {}, {},
          std::move(choices)};
}

KeySpec real(std::string name, std::string def, std::string units, std::string doc,
             std::optional<double> min = {}, std::optional<double> max = {}) {
  return {std::move(name),
          KeyType::real,
          std::move(def),
          std::move(units),
          std::move(doc),
          min,
          max,
          {}};
}

KeySpec integer(std::string name, std::string def, std::string doc, std::optional<double> min = {},
                std::optional<double> max = {}) {
  return {std::move(name), KeyType::integer, std::move(def), "", std::move(doc), min, max, {}};
}

KeySpec list(std::string name, std::string def, std::string doc) {
  return {std::move(name), KeyType::string_list, std::move(def), "", std::move(doc), {}, {}, {}};
}

/// A variable-name override for one input quantity.
KeySpec name_override(const std::string& quantity, const std::string& what) {
  return str("input.names." + quantity, "\"\"",
             "NetCDF variable holding " + what +
                 "; empty: recognise it by PISM/ISMIP6/BedMachine/IGM/Yelmo name or CF "
                 "standard_name");
}

std::vector<KeySpec> build_schema() {
  std::vector<KeySpec> s = {
      str("experiment.name", "\"\"", "free-text name of the experiment, written to outputs"),

      str("input.geometry.file", "\"\"",
          "NetCDF file with the geometry: two of thickness, bed and surface (the third is "
          "derived), or a surface and an ice mask"),
      str("input.forcing.file", "\"\"",
          "NetCDF file with the surface mass balance; empty: none (or use the geometry file)"),
      str("input.observations.file", "\"\"",
          "NetCDF file with observed surface velocity and/or radar thickness; empty: none"),
      integer("input.time_index", "-1",
              "record to read from inputs with a time dimension; -1 means the last one", -1),
      str("input.smb_length_rate_is", "water_equivalent",
          "how to read a surface mass balance given as a length per time (e.g. 'mm a**-1')",
          {"water_equivalent", "ice_equivalent"}),
      name_override("thk", "ice thickness"),
      name_override("topg", "bedrock elevation"),
      name_override("usurf", "ice surface elevation"),
      name_override("mask", "the ice mask"),
      name_override("climatic_mass_balance", "the surface mass balance"),
      name_override("uvelsurfobs", "observed surface velocity, x component"),
      name_override("vvelsurfobs", "observed surface velocity, y component"),
      name_override("velsurfobs_mag", "observed surface speed"),
      name_override("thkobs", "observed (radar) ice thickness"),

      real("constants.ice.density", "910", "kg m-3", "density of ice", 1.0),
      real("constants.sea_water.density", "1028", "kg m-3", "density of sea water", 1.0),
      real("constants.fresh_water.density", "1000", "kg m-3",
           "density of fresh water (water-equivalent mass balance)", 1.0),
      real("constants.standard_gravity", "9.81", "m s-2", "acceleration due to gravity", 0.0),
      real("geometry.sea_level", "0", "m", "sea level elevation, for the floatation criterion"),
      real("geometry.minimum_thickness", "0", "m",
           "thinner ice than this is treated as ice-free in the mask", 0.0),

      real("time.start", "0", "year", "model time at the start, written to the time axis"),

      str("output.file", "output/nunatak.nc", "NetCDF output file (folders are created)"),
      integer("output.compression_level", "1", "NetCDF-4 deflate level (0: no compression)", 0, 9),
      list("output.quicklook", "[thk]",
           "variables drawn as PNG quick-look maps beside the output file (empty: none)"),
  };
  std::sort(s.begin(), s.end(), [](const KeySpec& a, const KeySpec& b) { return a.name < b.name; });
  return s;
}

} // namespace

const std::vector<KeySpec>& config_schema() {
  static const std::vector<KeySpec> schema = build_schema();
  return schema;
}

} // namespace nunatak::io
