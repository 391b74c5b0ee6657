#include "nunatak/model/model_inputs.hpp"

#include "nunatak/model/configured_patch.hpp"

#include "nunatak/core/collective.hpp"
#include "nunatak/core/constants.hpp"
#include "nunatak/core/error.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

namespace nunatak::model {

namespace {

void log_thickness_estimate(const inversion::ThicknessEstimate& e) {
  spdlog::info("thickness estimate ({}): {}{}", e.describe_method(), e.describe_scale(e.tau_b),
               e.calibrated ? " (least squares against radar)" : " (configured)");
  if (e.radar)
    spdlog::info("  against radar thickness on {} cells: RMS {:.1f} m, bias {:+.1f} m (observed "
                 "mean {:.1f} m)",
                 e.radar->cells, e.radar->rms, e.radar->bias, e.radar->mean_observed);
  if (e.hold_out)
    for (int h = 0; h < 2; ++h)
      spdlog::info("  hold-out {}: calibrated on {} cells ({}, RMS {:.1f} m), "
                   "tested on the other {}: RMS {:.1f} m, bias {:+.1f} m",
                   h + 1, e.hold_out->fit[h].misfit.cells,
                   e.describe_scale(e.hold_out->fit[h].tau_b), e.hold_out->fit[h].misfit.rms,
                   e.hold_out->test[h].cells, e.hold_out->test[h].rms, e.hold_out->test[h].bias);
}

} // namespace

inversion::ThicknessEstimateOptions thickness_estimate_options(const io::Config& config) {
  inversion::ThicknessEstimateOptions o;
  o.params.ice_density = config.get_real("constants.ice.density");
  o.params.gravity = config.get_real("constants.standard_gravity");
  o.params.shape_factor = config.get_real("thickness_estimate.shape_factor");
  o.params.minimum_slope = config.get_real("thickness_estimate.minimum_slope");
  o.params.smoothing_length = config.get_real("thickness_estimate.smoothing_length");
  o.params.taper_length = config.get_real("thickness_estimate.taper_length");
  o.calibrate = config.get_string("thickness_estimate.calibration") == "radar";
  o.basal_shear_stress = config.get_real("thickness_estimate.basal_shear_stress");
  o.holdout_block_size = config.get_real("thickness_estimate.holdout_block_size");
  o.method = config.get_string("thickness_estimate.method");
  o.velocity.glen_exponent = config.get_real("flow_law.glen_exponent");
  o.velocity.softness = config.get_real("flow_law.enhancement_factor") *
                        configured_softness(config) / core::seconds_per_year;
  o.velocity.minimum_speed =
      config.get_real("thickness_estimate.minimum_speed") / core::seconds_per_year;
  return o;
}

std::optional<std::vector<double>> observed_surface_speed(const io::InputArrays& in) {
  if (in.uvelsurfobs && in.vvelsurfobs) {
    std::vector<double> speed(in.uvelsurfobs->values.size());
    for (size_t k = 0; k < speed.size(); ++k) {
      speed[k] = std::hypot(in.uvelsurfobs->values[k], in.vvelsurfobs->values[k]);
      if (!std::isfinite(speed[k]) && in.velsurfobs_mag) speed[k] = in.velsurfobs_mag->values[k];
    }
    return speed;
  }
  if (in.velsurfobs_mag) return in.velsurfobs_mag->values;
  return std::nullopt;
}

std::vector<double> ice_equivalent_smb(const io::InputArrays& in, const io::Config& config) {
  if (!in.climatic_mass_balance)
    return std::vector<double>(size_t(in.grid.size()),
                               config.get_real("surface_mass_balance.constant"));
  // kg m-2 s-1 to m/a ice equivalent.
  std::vector<double> smb = in.climatic_mass_balance->values;
  for (double& x : smb) x *= core::seconds_per_year / config.get_real("constants.ice.density");
  return smb;
}

std::optional<inversion::ThicknessEstimate> complete_thickness(io::InputArrays& in,
                                                               const io::Config& config, bool log) {
  if (!in.usurf || in.thk || in.topg || config.get_string("input.missing_thickness") != "plastic")
    return std::nullopt;
  if (!in.ice_mask)
    throw Error("input.missing_thickness = plastic needs an ice mask, but '" + in.geometry_file +
                "' has none (looked for mask, icemask, ice_mask; set input.names.mask)");
  const io::InputArray& mask = *in.ice_mask;
  std::vector<std::uint8_t> ice(mask.values.size());
  for (size_t k = 0; k < ice.size(); ++k)
    ice[k] = mask.values[k] == core::grounded_ice || mask.values[k] == core::floating_ice;
  if (std::count(ice.begin(), ice.end(), std::uint8_t(1)) == 0)
    throw Error("input.missing_thickness = plastic: the ice mask has no ice cells");

  const inversion::ThicknessEstimateOptions options = thickness_estimate_options(config);
  const std::vector<double>* radar = in.thkobs ? &in.thkobs->values : nullptr;
  if (options.calibrate && inversion::observed_cells_on_ice(ice, radar) == 0)
    throw Error(std::string("thickness_estimate.calibration = radar needs observed thickness "
                            "(thkobs) on ice cells, but '") +
                in.observations_file +
                (radar ? "' has none inside the ice mask" : "' has no radar thickness") +
                " (set input.names.thkobs or input.observations.file, or "
                "thickness_estimate.calibration: none to use "
                "thickness_estimate.basal_shear_stress)");
  const std::optional<std::vector<double>> speed = observed_surface_speed(in);
  inversion::ThicknessEstimate e = inversion::estimate_thickness(
      in.grid, in.usurf->values, ice, radar, options, speed ? &*speed : nullptr);

  const size_t n = in.usurf->values.size();
  in.thk = io::InputArray{"thk", "derived", e.thickness()};
  in.topg = io::InputArray{"topg", "derived", std::vector<double>(n)};
  for (size_t k = 0; k < n; ++k) in.topg->values[k] = in.usurf->values[k] - in.thk->values[k];
  in.notes.push_back("estimated thk from the outline " + mask.describe() + " (" +
                     e.describe_method() + ", " + e.describe_scale(e.tau_b) +
                     "); derived topg = usurf - thk");
  if (log) log_thickness_estimate(e);
  return e;
}

ModelInputs read_model_inputs(const io::Config& config, MPI_Comm comm) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  // Every rank reads the files itself: one that fails (a file it cannot
  // see, ...) must not leave the others waiting in distribute_inputs.
  io::InputArrays arrays;
  std::optional<inversion::ThicknessEstimate> estimate;
  core::collective(comm, [&] {
    arrays = io::read_input_arrays(config);
    estimate = complete_thickness(arrays, config, rank == 0);
  });
  if (rank == 0)
    for (const auto& m : arrays.log) {
      if (m.warning)
        spdlog::warn("{}", m.text);
      else
        spdlog::info("{}", m.text);
    }
  ModelInputs in;
  static_cast<io::ModelInputs&>(in) = io::distribute_inputs(arrays, config, comm);
  in.thickness_estimate = std::move(estimate);
  return in;
}

} // namespace nunatak::model
