#include "nunatak/io/checkpoint.hpp"

#include "nunatak/core/error.hpp"
#include "nunatak/io/netcdf_file.hpp"

#include <netcdf.h>

namespace nunatak::io {

void write_checkpoint(const std::string& path, const core::Grid& g, const Checkpoint& c,
                      const Provenance& provenance) {
  if (c.thk.size() != size_t(g.size()))
    throw Error("checkpoint '" + path + "': the thickness has " + std::to_string(c.thk.size()) +
                " cells, the grid " + std::to_string(g.size()));
  detail::write_then_rename(path, [&](const std::string& tmp) {
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
    const auto ids = detail::define_series(f, n);
    f.put_attribute(NC_GLOBAL, "title", std::string("nunatak checkpoint"));
    f.put_attribute(NC_GLOBAL, "history", provenance.command_line + "\n");
    if (provenance.config)
      f.put_attribute(NC_GLOBAL, "nunatak_config_yaml", provenance.config->to_yaml());
    f.end_definitions();
    f.write(xv, {0}, {size_t(g.nx())}, g.x_coords().data());
    f.write(yv, {0}, {size_t(g.ny())}, g.y_coords().data());
    f.write(thk_var, {0, 0}, {size_t(g.ny()), size_t(g.nx())}, c.thk.data());
    f.write(time_var, {}, {}, &c.time);
    detail::write_series(f, series_time, ids, c.series);
    f.close();
  });
}

Checkpoint read_checkpoint(const std::string& path) {
  const NcFile f = NcFile::open(path);
  Checkpoint c;
  if (!f.find_variable("thk") || !f.find_variable("model_time"))
    throw Error("'" + path + "' is not a nunatak checkpoint (no thk or model_time)");
  c.thk = f.read_all(f.variable("thk"));
  c.time = f.read_all(f.variable("model_time")).at(0);
  c.steps = static_cast<long long>(
      f.number_attribute(f.variable("model_time"), "steps").value_or(std::vector<double>{0})[0]);
  if (auto t = f.find_variable("series_time")) c.series = detail::read_series(f, *t);
  return c;
}

} // namespace nunatak::io
