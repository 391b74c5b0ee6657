#include "nunatak/io/quantities.hpp"

#include "nunatak/core/error.hpp"

namespace nunatak::io {

namespace {

core::FieldInfo info(std::string name, std::string long_name, std::string standard_name,
                     std::string units, std::string output_units) {
  core::FieldInfo i;
  i.name = std::move(name);
  i.long_name = std::move(long_name);
  i.standard_name = std::move(standard_name);
  i.units = std::move(units);
  i.output_units = std::move(output_units);
  return i;
}

core::FieldInfo mask_info() {
  core::FieldInfo i =
      info("mask", "ice-type (ice-free/grounded/floating/ocean) integer mask", "", "1", "1");
  i.flag_values = {ice_free_bedrock, grounded_ice, floating_ice, ice_free_ocean};
  i.flag_meanings = "ice_free_bedrock grounded_ice floating_ice ice_free_ocean";
  return i;
}

std::vector<QuantitySpec> build() {
  const std::string velocity_units = "m s-1", user_velocity = "m year-1";
  return {
      {info("thk", "land ice thickness", "land_ice_thickness", "m", "m"),
       QuantityKind::length,
       {"thk", "H_ice", "lithk", "thickness", "ice_thickness", "H", "THK"},
       {"land_ice_thickness"}},
      {info("topg", "bedrock surface elevation", "bedrock_altitude", "m", "m"),
       QuantityKind::length,
       {"topg", "z_bed", "bed", "topg_bed", "zb", "bedrock", "BED"},
       {"bedrock_altitude"}},
      {info("usurf", "ice top surface elevation", "surface_altitude", "m", "m"),
       QuantityKind::length,
       {"usurf", "z_srf", "surface", "orog", "zs", "surface_elevation", "SRF"},
       {"surface_altitude", "land_ice_surface_altitude"}},
      {mask_info(), QuantityKind::flag, {"mask", "icemask", "ice_mask"}, {}},
      {info("climatic_mass_balance", "surface mass balance (accumulation/ablation) rate",
            "land_ice_surface_specific_mass_balance_flux", "kg m-2 s-1", "kg m-2 year-1"),
       QuantityKind::mass_flux,
       {"climatic_mass_balance", "smb", "acab", "SMB", "surface_mass_balance"},
       {"land_ice_surface_specific_mass_balance_flux",
        "land_ice_surface_specific_mass_balance_rate"}},
      {info("uvelsurfobs", "observed ice surface velocity, x component", "", velocity_units,
            user_velocity),
       QuantityKind::velocity,
       {"uvelsurfobs", "ux_srf", "uvelsurf_obs", "u_obs", "vx", "uvelsurf"},
       {"land_ice_surface_x_velocity"}},
      {info("vvelsurfobs", "observed ice surface velocity, y component", "", velocity_units,
            user_velocity),
       QuantityKind::velocity,
       {"vvelsurfobs", "uy_srf", "vvelsurf_obs", "v_obs", "vy", "vvelsurf"},
       {"land_ice_surface_y_velocity"}},
      {info("velsurfobs_mag", "observed ice surface speed", "", velocity_units, user_velocity),
       QuantityKind::velocity,
       {"velsurfobs_mag", "uxy_srf", "velsurf_mag_obs", "velsurf_mag", "speed"},
       {"land_ice_surface_speed"}},
      // The rate of thickness change (altimetry), for the inversion's
      // mass-conservation term div(H ubar) = smb - dh/dt.
      {info("dhdt", "rate of change of land ice thickness", "tendency_of_land_ice_thickness",
            velocity_units, user_velocity),
       QuantityKind::velocity,
       {"dhdt", "dHdt", "dh_dt", "dthk_dt", "dhdt_obs", "thk_rate"},
       {"tendency_of_land_ice_thickness"}},
      {info("thkobs", "observed (radar) ice thickness", "", "m", "m"),
       QuantityKind::length,
       {"thkobs", "thk_obs", "H_obs", "radar_thickness", "thickness_obs"},
       {}},
      // PISM's till yield stress (CF has no standard name for it), read with
      // sliding.law = pseudo_plastic.
      {info("tauc", "yield stress for basal till (plastic or pseudo-plastic model)", "", "Pa",
            "Pa"),
       QuantityKind::stress,
       {"tauc"},
       {}},
      // Glen's A per cell (2-D) or per cell and sigma level (3-D). CF has no
      // standard name for it; `softness` is nunatak's name, `ATT` Yelmo's
      // rate factor (a^-1 Pa^-3). The units here are for n = 3; they follow
      // flow_law.glen_exponent when read.
      {info("softness", "ice softness A in Glen's flow law (rate factor)", "", "Pa-3 s-1",
            "Pa-3 year-1"),
       QuantityKind::softness,
       {"softness", "ATT"},
       {}},
  };
}

} // namespace

const std::vector<QuantitySpec>& quantities() {
  static const std::vector<QuantitySpec> all = build();
  return all;
}

const QuantitySpec& quantity(const std::string& name) {
  for (const auto& q : quantities())
    if (q.info.name == name) return q;
  throw Error("internal: unknown quantity '" + name + "'");
}

core::FieldInfo output_field_info(const std::string& name) {
  if (name == "velsurf_mag")
    return info("velsurf_mag", "magnitude of horizontal velocity of ice at ice surface",
                "land_ice_surface_speed", "m s-1", "m year-1");
  for (const auto& q : quantities())
    if (q.info.name == name) return q.info;
  throw Error("internal: no metadata for output field '" + name + "'");
}

} // namespace nunatak::io
