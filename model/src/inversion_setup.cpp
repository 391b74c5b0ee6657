// The inversion's problem as configured (inversion_setup.hpp).

#include "nunatak/model/inversion_setup.hpp"

#include "nunatak/model/configured_patch.hpp"
#include "nunatak/model/model_inputs.hpp"

#include "nunatak/core/constants.hpp"
#include "nunatak/core/error.hpp"
#include "nunatak/io/input_file.hpp"
#include "nunatak/io/model_inputs.hpp"
#include "nunatak/io/quantities.hpp"

#include <algorithm>
#include <cmath>

namespace nunatak::model {

namespace {

constexpr double year = core::seconds_per_year;

inversion::InversionOptions inversion_options(const io::Config& c, const std::string& forward) {
  inversion::InversionOptions o;
  o.controls = c.get_list("inversion.controls");
  o.optimizer = c.get_string("inversion.optimizer");
  if (o.optimizer == "auto") o.optimizer = forward == "solver" ? "lbfgs" : "adam";
  o.iterations = int(c.get_int("inversion.iterations"));
  o.learning_rate = c.get_real("inversion.learning_rate");
  if (o.learning_rate == 0) o.learning_rate = o.optimizer == "adam" ? 0.1 : 1.0;
  o.tolerance = c.get_real("inversion.tolerance");
  o.precision = c.get_string("inversion.precision");
  o.thickness_scale = c.get_real("inversion.thickness.scale");
  o.thickness_min = c.get_real("inversion.thickness.min");
  o.thickness_max = c.get_real("inversion.thickness.max");
  o.friction_min = c.get_real("inversion.friction.min");
  o.friction_max = c.get_real("inversion.friction.max");
  o.velocity_sigma = c.get_real("inversion.velocity.sigma");
  o.velocity_huber = c.get_real("inversion.velocity.huber");
  o.velocity_relative_sigma = c.get_real("inversion.velocity.relative_sigma");
  o.velocity_margin_distance = c.get_real("inversion.velocity.margin_distance");
  o.radar_sigma = c.get_real("inversion.radar.sigma");
  o.radar_density_radius = c.get_real("inversion.radar.density_radius");
  o.surface_sigma = c.get_real("inversion.surface.sigma");
  o.mass_weight = c.get_real("inversion.mass.weight");
  o.mass_sigma = c.get_real("inversion.mass.sigma");
  const std::string t = "inversion.regularisation.thickness.",
                    f = "inversion.regularisation.friction.";
  o.thickness_smoothing = c.get_real(t + "smoothing");
  o.thickness_length = c.get_real(t + "length");
  o.across_flow_factor = c.get_real(t + "across_flow_factor");
  o.smooth_correction = c.get_bool(t + "smooth_correction");
  o.thickness_prior = c.get_real(t + "prior");
  o.thickness_prior_sigma = c.get_real(t + "prior_sigma");
  o.friction_smoothing = c.get_real(f + "smoothing");
  o.friction_length = c.get_real(f + "length");
  o.friction_prior = c.get_real(f + "prior");
  o.friction_prior_sigma = c.get_real(f + "prior_sigma");
  o.check();
  return o;
}

/// m/s to m/a, NaN kept.
std::vector<double> per_year(const std::vector<double>& v) {
  std::vector<double> out(v);
  for (double& x : out) x *= year;
  return out;
}

} // namespace

InversionSetup configure_inversion(const io::Config& config) {
  InversionSetup s;
  s.forward = config.get_string("inversion.forward");
  s.options = inversion_options(config, s.forward);
  s.hybrid.every = int(config.get_int("inversion.hybrid.every"));
  s.hybrid.steps = int(config.get_int("inversion.hybrid.steps"));
  s.hybrid.learning_rate = config.get_real("inversion.hybrid.learning_rate");
  s.hybrid.anchor = config.get_real("inversion.hybrid.anchor");
  s.ocean_pressure = config.get_bool("bp.ocean_pressure");

  io::InputArrays in = io::read_input_arrays(config);
  s.notes = in.notes;
  if (!in.usurf)
    throw Error("inversion: the geometry '" + in.geometry_file +
                "' has no surface elevation (usurf, or thk with topg): the inversion keeps the "
                "observed surface");
  const double H_min = config.get_real("bp.minimum_thickness");

  // The outline, on the input grid.
  const size_t full_columns = size_t(in.grid.size());
  std::vector<std::uint8_t> full_ice(full_columns, 0);
  if (in.thk) {
    for (size_t c = 0; c < full_columns; ++c) full_ice[c] = in.thk->values[c] >= H_min;
  } else if (in.ice_mask) {
    for (size_t c = 0; c < full_columns; ++c)
      full_ice[c] = in.ice_mask->values[c] == core::grounded_ice ||
                    in.ice_mask->values[c] == core::floating_ice;
  } else {
    throw Error("inversion: the geometry '" + in.geometry_file +
                "' has neither a thickness nor an ice mask: the outline is unknown");
  }
  if (std::count(full_ice.begin(), full_ice.end(), std::uint8_t(1)) == 0)
    throw Error("inversion: the outline in '" + in.geometry_file + "' has no ice cell");

  // The inversion's grid: the outline's bounding box and a margin.
  s.input_grid = in.grid;
  s.input_surface = in.usurf->values;
  {
    int i0 = in.grid.nx(), i1 = -1, j0 = in.grid.ny(), j1 = -1;
    for (int j = 0; j < in.grid.ny(); ++j)
      for (int i = 0; i < in.grid.nx(); ++i)
        if (full_ice[size_t(j) * size_t(in.grid.nx()) + size_t(i)]) {
          i0 = std::min(i0, i);
          i1 = std::max(i1, i);
          j0 = std::min(j0, j);
          j1 = std::max(j1, j);
        }
    const int margin = int(config.get_int("inversion.crop_margin"));
    if (margin >= 0) {
      s.crop_i0 = std::max(0, i0 - margin);
      s.crop_j0 = std::max(0, j0 - margin);
      i1 = std::min(in.grid.nx() - 1, i1 + margin);
      j1 = std::min(in.grid.ny() - 1, j1 + margin);
      io::crop_input_arrays(in, s.crop_i0, s.crop_j0, i1 - s.crop_i0 + 1, j1 - s.crop_j0 + 1);
    }
    s.grid = in.grid;
  }
  const int nx = s.grid.nx(), ny = s.grid.ny();
  const size_t columns = size_t(nx) * size_t(ny);
  std::vector<std::uint8_t> ice(columns);
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i)
      ice[size_t(j) * size_t(nx) + size_t(i)] =
          full_ice[size_t(j + s.crop_j0) * size_t(s.input_grid.nx()) + size_t(i + s.crop_i0)];
  const std::vector<double>& usurf = in.usurf->values;
  if (in.thk) s.input_thickness = in.thk->values;

  // Observations.
  inversion::InversionObservations& o = s.observations;
  o.surface = usurf;
  if (in.uvelsurfobs && in.vvelsurfobs) {
    o.u = per_year(in.uvelsurfobs->values);
    o.v = per_year(in.vvelsurfobs->values);
  }
  if (in.velsurfobs_mag) o.speed = per_year(in.velsurfobs_mag->values);
  if (in.thkobs) o.radar = in.thkobs->values;
  // The surface mass balance: the inputs' field or surface_mass_balance.constant, not both.
  const bool smb_constant_set = config.origin("surface_mass_balance.constant") != "default";
  if (in.climatic_mass_balance && smb_constant_set)
    throw Error("surface_mass_balance.constant is set, but the inputs have a surface mass balance "
                "field (" +
                in.climatic_mass_balance->describe() + "): use one or the other");
  if (in.climatic_mass_balance || smb_constant_set) o.smb = ice_equivalent_smb(in, config);
  if (in.dhdt) o.dhdt = per_year(in.dhdt->values); // NaN where unknown: 0 there

  if (o.u.empty() && o.speed.empty() && o.radar.empty())
    throw Error("inversion: '" + in.observations_file +
                "' has no observed surface velocity (uvelsurfobs and vvelsurfobs, or "
                "velsurfobs_mag) and no radar thickness (thkobs): nothing to invert");
  // Radar cells held out in a checkerboard of blocks (blocks counted from
  // the input grid's corner, whatever the crop).
  const auto checkerboard = [&](double block, int parity) {
    std::vector<std::uint8_t> used(columns, 1);
    for (int j = 0; j < ny; ++j)
      for (int i = 0; i < nx; ++i) {
        const long bx = long(std::floor((s.grid.x(i) - s.input_grid.x(0)) / block));
        const long by = long(std::floor((s.grid.y(j) - s.input_grid.y(0)) / block));
        if (int((bx + by) % 2) == parity) used[size_t(j) * size_t(nx) + size_t(i)] = 0;
      }
    return used;
  };
  if (const double block = config.get_real("inversion.radar.holdout_block_size");
      block > 0 && !o.radar.empty()) {
    o.radar_used = checkerboard(block, int(config.get_int("inversion.radar.holdout_parity")));
    // A validation split: the test cells leave altogether; the others are
    // split again, and their held-out half is what the run reports.
    if (const double v = config.get_real("inversion.radar.validation_block_size"); v > 0) {
      for (size_t c = 0; c < columns; ++c)
        if (!o.radar_used[c]) o.radar[c] = NAN;
      o.radar_used = checkerboard(v, int(config.get_int("inversion.radar.validation_parity")));
    }
  } else if (config.get_real("inversion.radar.validation_block_size") > 0) {
    throw Error("inversion.radar.validation_block_size needs inversion.radar.holdout_block_size "
                "(the test cells that the validation split leaves out)");
  }

  // The first guess.
  std::vector<double> H(columns, 0.0);
  if (const std::string method = config.get_string("inversion.first_guess");
      method == "plastic" || method == "velocity") {
    std::vector<double> radar_for_fit = o.radar;
    for (size_t c = 0; c < radar_for_fit.size() && !o.radar_used.empty(); ++c)
      if (!o.radar_used[c]) radar_for_fit[c] = NAN;
    inversion::ThicknessEstimateOptions eo = thickness_estimate_options(config);
    eo.method = method;
    const std::optional<std::vector<double>> speed = observed_surface_speed(in); // m/s
    // The inversion's own hold-out is the test; the estimate's checkerboard
    // would split the cells used again.
    if (!o.radar_used.empty()) eo.holdout_block_size = 0;
    const bool radar_on_ice =
        inversion::observed_cells_on_ice(ice, radar_for_fit.empty() ? nullptr : &radar_for_fit) > 0;
    if (!radar_on_ice) eo.calibrate = false;
    s.plastic = inversion::estimate_thickness(
        s.grid, usurf, ice, radar_on_ice ? &radar_for_fit : nullptr, eo, speed ? &*speed : nullptr);
    H = s.plastic->thickness();
  } else {
    const std::string file = config.get_string("inversion.first_guess_file");
    if (!file.empty()) {
      const io::InputFile f(file);
      if (!f.grid().matches(s.input_grid))
        throw Error("inversion.first_guess_file: '" + file + "' is on another grid (" +
                    f.grid().describe() + ") than the geometry (" + s.input_grid.describe() + ")");
      const io::QuantitySpec& spec = io::quantity("thk");
      const auto var = f.find(spec, "");
      if (!var) throw Error("inversion.first_guess_file: '" + file + "' has no thickness (thk)");
      const std::vector<double> full = f.read(*var, spec);
      for (int j = 0; j < ny; ++j)
        for (int i = 0; i < nx; ++i)
          H[size_t(j) * size_t(nx) + size_t(i)] =
              full[size_t(j + s.crop_j0) * size_t(s.input_grid.nx()) + size_t(i + s.crop_i0)];
    } else if (in.thk) {
      H = in.thk->values; // cropped above
    } else {
      throw Error("inversion.first_guess = input, but '" + in.geometry_file +
                  "' has no thickness and inversion.first_guess_file is empty");
    }
    for (size_t c = 0; c < columns; ++c)
      if (ice[c] && !std::isfinite(H[c]))
        throw Error("inversion: the first guess thickness is not a number inside the outline");
  }
  for (size_t c = 0; c < columns; ++c)
    H[c] = ice[c] ? std::clamp(H[c], s.options.thickness_min, s.options.thickness_max) : 0.0;

  // Physics: hardness, friction, constants.
  const bool friction_control = std::find(s.options.controls.begin(), s.options.controls.end(),
                                          "friction") != s.options.controls.end();
  s.first_guess =
      configured_bp_patch(config, s.grid, H, usurf, in.softness ? &*in.softness : nullptr,
                          friction_control ? config.get_real("inversion.friction.initial") : 0.0);
  return s;
}

std::vector<double> InversionSetup::to_input_grid(const std::vector<double>& values,
                                                  double fill) const {
  std::vector<double> out(size_t(input_grid.size()), fill);
  for (int j = 0; j < grid.ny(); ++j)
    for (int i = 0; i < grid.nx(); ++i)
      out[size_t(j + crop_j0) * size_t(input_grid.nx()) + size_t(i + crop_i0)] =
          values[size_t(j) * size_t(grid.nx()) + size_t(i)];
  return out;
}

} // namespace nunatak::model
