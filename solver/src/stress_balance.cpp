#include "nunatak/solver/stress_balance.hpp"

#include "nunatak/core/constants.hpp"
#include "nunatak/core/error.hpp"
#include "nunatak/solver/blatter_pattyn.hpp"
#include "nunatak/solver/shallow_ice.hpp"

#include <cmath>
#include <map>

namespace nunatak::solver {

std::vector<const core::Field2D*> Velocities::fields2d() const {
  return {&uvelsurf, &vvelsurf, &velsurf_mag, &uvelbase, &vvelbase, &ubar, &vbar};
}

namespace {

std::map<std::string, StressBalanceFactory>& registered_stress_balances() {
  static std::map<std::string, StressBalanceFactory> registry;
  return registry;
}

} // namespace

void register_stress_balance(const std::string& name, StressBalanceFactory factory) {
  registered_stress_balances()[name] = std::move(factory);
}

std::unique_ptr<StressBalance> make_stress_balance(const std::string& name,
                                                   std::shared_ptr<const core::ParallelGrid> grid,
                                                   const StressBalanceParams& params) {
  if (name == "sia") return std::make_unique<ShallowIce>(std::move(grid), params);
  if (name == "bp") {
    BPParams p;
    p.flow = params.flow;
    p.levels = params.bp_levels;
    p.minimum_thickness = params.bp_minimum_thickness;
    p.strain_rate_regularisation = params.bp_regularisation;
    p.ocean_pressure = params.bp_ocean_pressure;
    p.options_prefix = params.options_prefix + "bp_";
    p.sea_level = params.sea_level;
    p.sea_water_density = params.sea_water_density;
    // Sliding laws as tau = -beta^2 |u|^(q-1) u with q = 1/m: Weertman's
    // u_b = -C |tau|^(m-1) tau has beta^2 = C^(-1/m) in Pa (m/a)^(-1/m), uniform;
    // the pseudo-plastic law comes as a beta^2 field in the inputs (update()),
    // with the same exponent.
    p.friction_exponent = 1.0 / params.sliding.exponent;
    if (params.sliding.coefficient > 0.0) {
      p.no_slip = false;
      p.uniform_beta2 = std::pow(params.sliding.coefficient * core::seconds_per_year,
                                 -1.0 / params.sliding.exponent);
    }
    return std::make_unique<BlatterPattyn>(std::move(grid), p);
  }
  const auto& registry = registered_stress_balances();
  if (const auto it = registry.find(name); it != registry.end()) return it->second(grid, params);
  std::string known = "sia, bp";
  for (const auto& [other, factory] : registry) known += ", " + other;
  throw Error("unknown stress balance '" + name + "' (known: " + known + ")");
}

Velocities make_velocities(std::shared_ptr<const core::ParallelGrid> grid) {
  auto field = [&](const char* name) { return core::Field2D(grid, velocity_info(name)); };
  return Velocities{field("uvelsurf"),    field("vvelsurf"), field("uvelbase"),
                    field("vvelbase"),    field("ubar"),     field("vbar"),
                    field("velsurf_mag"), std::nullopt,      std::nullopt};
}

core::FieldInfo velocity_info(const std::string& name) {
  struct Entry {
    const char *name, *long_name, *standard_name;
  };
  static const Entry entries[] = {
      {"uvelsurf", "x-component of the horizontal velocity of ice at ice surface",
       "land_ice_surface_x_velocity"},
      {"vvelsurf", "y-component of the horizontal velocity of ice at ice surface",
       "land_ice_surface_y_velocity"},
      {"velsurf_mag", "magnitude of horizontal velocity of ice at ice surface",
       "land_ice_surface_speed"},
      {"uvelbase", "x-component of the horizontal velocity of ice at the base of ice",
       "land_ice_basal_x_velocity"},
      {"vvelbase", "y-component of the horizontal velocity of ice at the base of ice",
       "land_ice_basal_y_velocity"},
      {"ubar", "vertical mean of horizontal ice velocity in the x direction",
       "land_ice_vertical_mean_x_velocity"},
      {"vbar", "vertical mean of horizontal ice velocity in the y direction",
       "land_ice_vertical_mean_y_velocity"},
      {"uvel", "horizontal velocity of ice in the x direction", "land_ice_x_velocity"},
      {"vvel", "horizontal velocity of ice in the y direction", "land_ice_y_velocity"},
  };
  for (const auto& e : entries)
    if (name == e.name)
      return core::FieldInfo{e.name, e.long_name, e.standard_name, "m s-1", "m year-1", {}, ""};
  throw Error("internal: no velocity field called '" + name + "'");
}

} // namespace nunatak::solver
