#pragma once
/// \file floatation.hpp
/// The one floatation rule of nunatak: which ice floats, where its surface and
/// base are, and the PISM cell type of a column. Used by the input reader (to
/// derive a missing field and the mask), the transient model (surface and
/// mask after each step), mass transport (calving of floating ice) and the
/// stress balances (the ice base of floating ice, no friction under it).
/// Header-only, no dependencies (part of nunatak::core_base); the functions
/// can be called from host and device kernels.
///
/// With ice thickness H, bed elevation b, sea level z_sl and densities rho_i,
/// rho_w, a column holds ice where H > H_min (geometry.minimum_thickness,
/// default 0), and the ice floats where
///
///     rho_i H < rho_w (z_sl - b)        (its weight is less than the water it displaces);
///
/// floating ice has its surface at z_sl + (1 - rho_i/rho_w) H and its base at
/// z_sl - (rho_i/rho_w) H; grounded ice has its base on the bed and its
/// surface at b + H (so an ice-free ocean column has its surface, and its
/// "ice base", at sea level). An ice-free column is ocean where b < z_sl, bedrock
/// elsewhere. A surface s and a bed b give the thickness back:
/// H = min(s - b, (s - z_sl) / (1 - rho_i/rho_w)), at least 0.

#if defined(__CUDACC__) || defined(__HIPCC__)
#define NUNATAK_HOST_DEVICE __host__ __device__
#else
#define NUNATAK_HOST_DEVICE
#endif

namespace nunatak::core {

/// PISM's cell types (the `mask` variable of inputs and outputs).
enum CellType : int {
  ice_free_bedrock = 0,
  grounded_ice = 2,
  floating_ice = 3,
  ice_free_ocean = 4,
};

/// What the floatation rule needs. SI units.
struct Floatation {
  double ice_density = 910.0;        ///< rho_i, kg m^-3
  double sea_water_density = 1028.0; ///< rho_w, kg m^-3
  double sea_level = 0.0;            ///< z_sl, m
  double minimum_thickness = 0.0;    ///< H_min, m: thinner columns are ice-free

  /// True if a column of H metres of ice on bed b floats.
  NUNATAK_HOST_DEVICE bool floats(double H, double b) const {
    return ice_density * H < sea_water_density * (sea_level - b);
  }
  /// True if the column holds ice (H > H_min).
  NUNATAK_HOST_DEVICE bool has_ice(double H) const { return H > minimum_thickness; }
  /// Surface elevation of the column (the bed where ice-free and above sea level).
  NUNATAK_HOST_DEVICE double surface(double H, double b) const {
    return floats(H, b) ? sea_level + (1.0 - ice_density / sea_water_density) * H : b + H;
  }
  /// The thickness whose surface is s on bed b (the inverse of surface()):
  /// min(s - b, (s - z_sl) / (1 - rho_i/rho_w)), the second term 0 where s <= z_sl,
  /// and at least 0.
  NUNATAK_HOST_DEVICE double thickness(double s, double b) const {
    const double grounded = s - b;
    const double afloat =
        s > sea_level ? (s - sea_level) / (1.0 - ice_density / sea_water_density) : 0.0;
    const double H = grounded < afloat ? grounded : afloat;
    return H > 0.0 ? H : 0.0;
  }
  /// Elevation of the ice base, surface(H, b) - H: the bed where grounded,
  /// z_sl - (rho_i/rho_w) H where floating (so sea level over open water,
  /// where H = 0 "floats": the water surface is what the ice at a marine
  /// margin sees, e.g. in the slope of a shallow-ice first guess).
  NUNATAK_HOST_DEVICE double ice_base(double H, double b) const {
    return floats(H, b) ? sea_level - ice_density / sea_water_density * H : b;
  }
  /// The PISM cell type of the column.
  NUNATAK_HOST_DEVICE CellType cell_type(double H, double b) const {
    if (has_ice(H)) return floats(H, b) ? floating_ice : grounded_ice;
    return b < sea_level ? ice_free_ocean : ice_free_bedrock;
  }
};

} // namespace nunatak::core
