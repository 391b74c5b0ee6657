#include "nunatak/io/checkpoint.hpp"
#include "nunatak/io/file_safety.hpp"

#include "nunatak/core/error.hpp"
#include "nunatak/io/netcdf_file.hpp"

#include <netcdf.h>

#include <cmath>
#include <sstream>

namespace nunatak::io {

void write_checkpoint(const std::string& path, const core::Grid& g, const Checkpoint& c,
                      const Provenance& provenance) {
  if (c.thk.size() != size_t(g.size()))
    throw Error("checkpoint '" + path + "': the thickness has " + std::to_string(c.thk.size()) +
                " cells, the grid " + std::to_string(g.size()));
  write_then_rename(path, [&](const std::string& tmp) {
    NcFile f = NcFile::create(tmp);
    const int y = f.define_dimension("y", size_t(g.ny()));
    const int x = f.define_dimension("x", size_t(g.nx()));
    const int n = f.define_dimension("series", 0);
    const int xv = f.define_variable("x", NC_DOUBLE, {x});
    const int yv = f.define_variable("y", NC_DOUBLE, {y});
    f.put_attribute(xv, "units", std::string("m"));
    f.put_attribute(xv, "axis", std::string("X"));
    f.put_attribute(yv, "units", std::string("m"));
    f.put_attribute(yv, "axis", std::string("Y"));
    const int thk_var = f.define_variable("thk", NC_DOUBLE, {y, x});
    f.put_attribute(thk_var, "units", std::string("m"));
    f.put_attribute(thk_var, "standard_name", std::string("land_ice_thickness"));
    const int time_var = f.define_variable("model_time", NC_DOUBLE, {});
    f.put_attribute(time_var, "units", std::string("s"));
    f.put_attribute(time_var, "steps", std::vector<double>{double(c.steps)});
    const int series_time = f.define_variable("series_time", NC_DOUBLE, {n});
    f.put_attribute(series_time, "units", std::string(time_units));
    const auto ids = detail::define_series(f, n, c.series);
    f.put_attribute(NC_GLOBAL, "title", std::string("nunatak checkpoint"));
    f.put_attribute(NC_GLOBAL, "history", provenance.command_line + "\n");
    if (provenance.config) {
      f.put_attribute(NC_GLOBAL, "nunatak_config_yaml", provenance.config->to_yaml());
      const int config_var = f.define_variable("nunatak_config", NC_BYTE, {});
      f.put_attribute(config_var, "long_name",
                      std::string("nunatak configuration of the run: every key's effective value "
                                  "as YAML text (a restart checks it against its own)"));
      for (const auto& spec : config_schema())
        f.put_attribute(config_var, spec.name, provenance.config->text(spec.name));
    }
    if (!c.output_file.empty()) {
      f.put_attribute(NC_GLOBAL, "nunatak_output_file", c.output_file);
      f.put_attribute(NC_GLOBAL, "nunatak_output_records",
                      std::vector<double>{double(c.output_records)});
      f.put_attribute(NC_GLOBAL, "nunatak_output_last_time",
                      std::vector<double>{c.output_last_time});
    }
    f.end_definitions();
    f.write(xv, {0}, {size_t(g.nx())}, g.x_coords().data());
    f.write(yv, {0}, {size_t(g.ny())}, g.y_coords().data());
    f.write(thk_var, {0, 0}, {size_t(g.ny()), size_t(g.nx())}, c.thk.data());
    f.write(time_var, {}, {}, &c.time);
    detail::write_series(f, series_time, ids, c.series);
    f.close();
  });
}

namespace {

std::string number_text(double v) {
  std::ostringstream s;
  s.precision(17);
  s << v;
  return s.str();
}

/// Throws naming the first bad cell if the thickness is not finite and >= 0.
void check_thickness(const std::string& path, const std::vector<double>& thk,
                     const std::vector<double>& x, const std::vector<double>& y) {
  const size_t nx = x.size();
  size_t bad = 0, first = 0;
  for (size_t k = 0; k < thk.size(); ++k)
    if (!(std::isfinite(thk[k]) && thk[k] >= 0.0)) {
      if (bad == 0) first = k;
      ++bad;
    }
  if (bad == 0) return;
  const size_t i = first % nx, j = first / nx;
  throw Error("checkpoint '" + path + "': the ice thickness 'thk' must be finite and >= 0 in " +
              "every cell, but " + std::to_string(bad) + " cell(s) are not; the first is " +
              number_text(thk[first]) + " m at (i = " + std::to_string(i) +
              ", j = " + std::to_string(j) + "; x = " + number_text(x[i]) +
              " m, y = " + number_text(y[j]) + " m)");
}

void check_coordinate(const std::string& path, const std::string& name,
                      const std::vector<double>& c) {
  for (size_t k = 0; k < c.size(); ++k)
    if (!std::isfinite(c[k]) || (k > 0 && !(c[k] > c[k - 1])))
      throw Error("checkpoint '" + path + "': coordinate '" + name +
                  "' is not finite and strictly increasing at index " + std::to_string(k) + " (" +
                  number_text(c[k]) + " m)");
}

} // namespace

Checkpoint read_checkpoint(const std::string& path) {
  const NcFile f = NcFile::open(path);
  Checkpoint c;
  if (!f.find_variable("thk") || !f.find_variable("model_time"))
    throw Error("'" + path + "' is not a nunatak checkpoint (no thk or model_time)");
  const int thk_var = f.variable("thk");
  const auto dims = f.dimensions(thk_var);
  if (dims.size() != 2 || dims[0].name != "y" || dims[1].name != "x")
    throw Error("checkpoint '" + path + "': 'thk' must have the dimensions (y, x)");
  c.thk = f.read_all(thk_var);
  if (f.find_variable("x") && f.find_variable("y")) {
    c.x = f.read_all(f.variable("x"));
    c.y = f.read_all(f.variable("y"));
  }
  if (c.x.size() != dims[1].length || c.y.size() != dims[0].length)
    throw Error("checkpoint '" + path + "': the coordinates x, y do not match thk's " +
                std::to_string(dims[1].length) + " x " + std::to_string(dims[0].length) + " cells");
  check_coordinate(path, "x", c.x);
  check_coordinate(path, "y", c.y);
  check_thickness(path, c.thk, c.x, c.y);
  c.time = f.read_all(f.variable("model_time")).at(0);
  if (!std::isfinite(c.time))
    throw Error("checkpoint '" + path + "': 'model_time' is " + number_text(c.time) +
                ", not a finite time");
  const double steps =
      f.number_attribute(f.variable("model_time"), "steps").value_or(std::vector<double>{0})[0];
  if (!(std::isfinite(steps) && steps >= 0.0))
    throw Error("checkpoint '" + path + "': the step count (attribute 'steps' of 'model_time') " +
                "is " + number_text(steps) + ", not a count");
  c.steps = static_cast<long long>(steps);
  if (auto t = f.find_variable("series_time")) c.series = detail::read_series(f, *t);
  c.output_file = f.text_attribute(NC_GLOBAL, "nunatak_output_file").value_or("");
  if (!c.output_file.empty()) {
    const auto records = f.number_attribute(NC_GLOBAL, "nunatak_output_records");
    const auto last = f.number_attribute(NC_GLOBAL, "nunatak_output_last_time");
    if (!records || records->empty() || !((*records)[0] >= 0.0) || !last || last->empty())
      throw Error("checkpoint '" + path + "': names its output '" + c.output_file +
                  "' but not its record count (nunatak_output_records, nunatak_output_last_time)");
    c.output_records = static_cast<long long>((*records)[0]);
    c.output_last_time = (*last)[0];
  }
  if (auto config_var = f.find_variable("nunatak_config"))
    for (const auto& a : f.attributes(*config_var))
      if (const auto* text = std::get_if<std::string>(&a.value))
        if (a.name != "long_name") c.config[a.name] = *text;
  return c;
}

} // namespace nunatak::io
