// The Blatter-Pattyn patch of a geometry as configured (configured_patch.hpp).

#include "nunatak/model/configured_patch.hpp"

#include "nunatak/core/constants.hpp"
#include "nunatak/core/error.hpp"

#include <cmath>

namespace nunatak::model {

double configured_softness(const io::Config& config) {
  const double B = config.get_real("flow_law.hardness");
  return B > 0.0 ? std::pow(B, -config.get_real("flow_law.glen_exponent"))
                 : config.get_real("flow_law.softness");
}

core::BPPatch configured_bp_patch(const io::Config& config, const core::Grid& grid,
                                  const std::vector<double>& thickness,
                                  const std::vector<double>& surface,
                                  const io::InputLevels* softness_field, double beta2_without_law) {
  const size_t columns = size_t(grid.size());
  if (thickness.size() != columns || surface.size() != columns)
    throw Error("the Blatter-Pattyn patch: thickness and surface must have one value per cell");
  const std::string law = config.get_string("sliding.law");
  if (law == "pseudo_plastic")
    throw Error("sliding.law: pseudo_plastic is not supported here (use none or weertman; the "
                "inversion inverts for friction with inversion.controls: [thickness, friction])");
  const double n = config.get_real("flow_law.glen_exponent");
  const double A = configured_softness(config); // Pa^-n a^-1
  const double E = config.get_real("flow_law.enhancement_factor");
  std::vector<double> softness(columns, A);
  if (softness_field) {
    const size_t levels = softness_field->sigma.size();
    for (size_t c = 0; c < columns; ++c) {
      double sum = 0;
      for (size_t k = 0; k < levels; ++k) sum += softness_field->values[c * levels + k];
      softness[c] = sum / double(levels) * core::seconds_per_year;
    }
  }
  const int nz = int(config.get_int("bp.levels"));
  std::vector<double> sigma(static_cast<size_t>(nz)), hardness(columns * size_t(nz));
  for (int k = 0; k < nz; ++k) sigma[size_t(k)] = double(k) / (nz - 1);
  for (size_t c = 0; c < columns; ++c)
    for (int k = 0; k < nz; ++k)
      hardness[c * size_t(nz) + size_t(k)] = std::pow(E * softness[c], -1.0 / n);
  const double m = config.get_real("sliding.exponent");
  double beta2 = 0.0;
  if (law == "weertman") {
    const double C = config.get_real("sliding.coefficient");
    if (!(C > 0)) throw Error("sliding.law = weertman needs sliding.coefficient > 0");
    beta2 = std::pow(C, -1.0 / m);
  } else if (beta2_without_law > 0) {
    beta2 = beta2_without_law;
  }
  const bool sliding = beta2 > 0;
  core::BPConstants k;
  k.glen_exponent = n;
  k.friction_exponent = 1.0 / m;
  k.regularisation2 = std::pow(config.get_real("bp.regularisation"), 2);
  k.rho_g =
      config.get_real("constants.ice.density") * config.get_real("constants.standard_gravity");
  k.minimum_thickness = config.get_real("bp.minimum_thickness");
  const core::Floatation floatation = io::configured_floatation(config);
  k.sea_level = floatation.sea_level;
  k.water_ratio = floatation.sea_water_density / floatation.ice_density;
  std::vector<double> base(columns), beta(columns, beta2);
  for (size_t c = 0; c < columns; ++c) base[c] = surface[c] - thickness[c];
  return core::make_bp_patch(grid.nx(), grid.ny(), grid.dx(), grid.dy(), sigma, thickness, base,
                             beta, hardness, k, config.get_bool("bp.ocean_pressure"), !sliding);
}

} // namespace nunatak::model
