#include "nunatak/io/model_inputs.hpp"

#include "nunatak/core/error.hpp"
#include "nunatak/io/input_file.hpp"
#include "nunatak/io/quantities.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <sstream>

namespace nunatak::io {

namespace {

using HostField = std::vector<double>; // whole grid, row-major [y][x]

/// Copies the rank's ghosted box out of a whole-grid array into a new field.
core::Field2D make_field(const std::shared_ptr<const core::ParallelGrid>& grid,
                         const core::FieldInfo& info, const HostField& global) {
  core::Field2D field(grid, info);
  const core::LocalBox b = grid->box();
  const int nx = grid->grid().nx(), ny = grid->grid().ny();
  auto host = Kokkos::create_mirror_view(field.view());
  for (int j = b.gys; j < b.gys + b.gym; ++j)
    for (int i = b.gxs; i < b.gxs + b.gxm; ++i) {
      // Periodic ghosts wrap; ghosts outside a non-periodic domain copy the edge.
      const int ci = grid->options().periodic_x ? ((i % nx) + nx) % nx : std::clamp(i, 0, nx - 1);
      const int cj = grid->options().periodic_y ? ((j % ny) + ny) % ny : std::clamp(j, 0, ny - 1);
      host(b.lj(j), b.li(i)) = global[size_t(cj) * nx + ci];
    }
  Kokkos::deep_copy(field.view(), host);
  return field;
}

std::string cell_location(const core::Grid& g, size_t k) {
  std::ostringstream s;
  const int i = int(k % size_t(g.nx())), j = int(k / size_t(g.nx()));
  s << "(i = " << i << ", j = " << j << "; x = " << g.x(i) << " m, y = " << g.y(j) << " m)";
  return s.str();
}

/// Geometry must be complete: no missing cells.
void require_complete(const HostField& v, const core::Grid& g, const std::string& what) {
  size_t count = 0, first = 0;
  for (size_t k = 0; k < v.size(); ++k)
    if (std::isnan(v[k]) && count++ == 0) first = k;
  if (count > 0)
    throw Error(what + " has " + std::to_string(count) +
                " cells without data (NaN or missing value), first at " + cell_location(g, first) +
                "; geometry inputs must be complete");
}

void require_non_negative(const HostField& v, const core::Grid& g, const std::string& what) {
  for (size_t k = 0; k < v.size(); ++k)
    if (v[k] < 0.0)
      throw Error(what + " is negative (" + std::to_string(v[k]) + " m) at " + cell_location(g, k) +
                  "; ice thickness must be >= 0");
}

/// A quantity found in a file: where, and the values in SI units.
struct Found {
  std::string var, file;
  HostField values;
  std::string describe() const { return "'" + var + "' in '" + file + "'"; }
};

/// Looks up quantity `name` in `file` (honouring input.names.<name>) and reads it.
std::optional<Found> look_up(const InputFile& file, const std::string& name, const Config& config) {
  const QuantitySpec& spec = quantity(name);
  auto var = file.find(spec, config.get_string("input.names." + name));
  if (!var) return std::nullopt;
  MassBalanceUnits mb;
  mb.water_equivalent = config.get_string("input.smb_length_rate_is") == "water_equivalent";
  mb.fresh_water_density = config.get_real("constants.fresh_water.density");
  mb.ice_density = config.get_real("constants.ice.density");
  return Found{*var, file.path(),
               file.read(*var, spec, int(config.get_int("input.time_index")), mb)};
}

void check_same_grid(const InputFile& a, const InputFile& b) {
  if (!a.grid().matches(b.grid()))
    throw Error("grids do not match: '" + a.path() + "' has " + a.grid().describe() + ", but '" +
                b.path() + "' has " + b.grid().describe());
}

/// Ice / no ice from an input mask in any common convention.
HostField cell_type_from_input_mask(const HostField& raw) {
  const double top = *std::max_element(raw.begin(), raw.end());
  const bool binary = top <= 1.0;                                        // IGM icemask, 0/1
  const bool pism = std::find(raw.begin(), raw.end(), 4.0) != raw.end(); // PISM has 4 = ocean
  HostField out(raw.size());
  for (size_t k = 0; k < raw.size(); ++k) {
    const int v = int(std::lround(raw[k]));
    if (binary)
      out[k] = v == 1 ? grounded_ice : ice_free_bedrock;
    else if (v == 2 || v == 3)
      out[k] = v;
    else if (v == 4 || (v == 0 && !pism))
      out[k] = ice_free_ocean; // BedMachine / Yelmo: 0 = ocean
    else
      out[k] = ice_free_bedrock;
  }
  return out;
}

int comm_rank(MPI_Comm comm) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  return rank;
}

/// The plastic thickness estimate as configured (keys thickness_estimate.*):
/// calibrated against `radar` (whole grid, NaN = not observed) if asked.
ThicknessEstimate estimate_thickness(const Config& config, const core::Grid& g,
                                     const HostField& usurf, const HostField& cell_type,
                                     const HostField* radar, const std::string& radar_file) {
  ThicknessEstimate e;
  e.params.ice_density = config.get_real("constants.ice.density");
  e.params.gravity = config.get_real("constants.standard_gravity");
  e.params.shape_factor = config.get_real("thickness_estimate.shape_factor");
  e.params.minimum_slope = config.get_real("thickness_estimate.minimum_slope");
  e.params.smoothing_length = config.get_real("thickness_estimate.smoothing_length");
  e.params.taper_length = config.get_real("thickness_estimate.taper_length");
  std::vector<std::uint8_t> ice(cell_type.size());
  for (size_t k = 0; k < ice.size(); ++k)
    ice[k] = cell_type[k] == grounded_ice || cell_type[k] == floating_ice;
  if (std::count(ice.begin(), ice.end(), std::uint8_t(1)) == 0)
    throw Error("input.missing_thickness = plastic: the ice mask has no ice cells");
  e.shape = plastic_thickness_shape(g, usurf, ice, e.params);

  long long radar_on_ice = 0;
  if (radar)
    for (size_t k = 0; k < ice.size(); ++k) radar_on_ice += ice[k] && !std::isnan((*radar)[k]);
  if (config.get_string("thickness_estimate.calibration") == "radar") {
    if (radar_on_ice == 0)
      throw Error(std::string("thickness_estimate.calibration = radar needs observed thickness "
                              "(thkobs) on ice cells, but '") +
                  radar_file +
                  (radar ? "' has none inside the ice mask" : "' has no radar thickness") +
                  " (set input.names.thkobs or input.observations.file, or "
                  "thickness_estimate.calibration: none to use "
                  "thickness_estimate.basal_shear_stress)");
    const std::vector<std::uint8_t> all(ice.size(), 1);
    e.tau_b = calibrate_basal_shear_stress(e.shape, *radar, all).tau_b;
    e.calibrated = true;
    const double block = config.get_real("thickness_estimate.holdout_block_size");
    if (block > 0.0) e.hold_out = hold_out_check(g, e.shape, *radar, block);
  } else {
    e.tau_b = config.get_real("thickness_estimate.basal_shear_stress");
  }
  if (radar_on_ice > 0)
    e.radar = thickness_misfit(plastic_thickness(e.shape, e.tau_b), *radar, ice);
  return e;
}

void log_thickness_estimate(const ThicknessEstimate& e) {
  spdlog::info("thickness estimate (perfect plasticity, f = {}, slope_min = {}, slope smoothed "
               "over {} m, taper {} m): tau_b = {:.1f} kPa{}",
               e.params.shape_factor, e.params.minimum_slope, e.params.smoothing_length,
               e.params.taper_length, e.tau_b / 1e3,
               e.calibrated ? " (least squares against radar)" : " (configured)");
  if (e.radar)
    spdlog::info("  against radar thickness on {} cells: RMS {:.1f} m, bias {:+.1f} m (observed "
                 "mean {:.1f} m)",
                 e.radar->cells, e.radar->rms, e.radar->bias, e.radar->mean_observed);
  if (e.hold_out)
    for (int h = 0; h < 2; ++h)
      spdlog::info("  hold-out {}: calibrated on {} cells (tau_b = {:.1f} kPa, RMS {:.1f} m), "
                   "tested on the other {}: RMS {:.1f} m, bias {:+.1f} m",
                   h + 1, e.hold_out->fit[h].misfit.cells, e.hold_out->fit[h].tau_b / 1e3,
                   e.hold_out->fit[h].misfit.rms, e.hold_out->test[h].cells,
                   e.hold_out->test[h].rms, e.hold_out->test[h].bias);
}

} // namespace

ModelInputs read_model_inputs(const Config& config, MPI_Comm comm) {
  const std::string geometry_path = config.get_string("input.geometry.file");
  if (geometry_path.empty())
    throw Error("configuration key 'input.geometry.file' is not set: nunatak needs a geometry");
  const InputFile geometry_file(geometry_path);
  const core::Grid& g = geometry_file.grid();

  ModelInputs in;
  in.grid = core::ParallelGrid::create(comm, g);
  auto note = [&](const std::string& text) { in.notes.push_back(text); };

  // --- geometry ---
  auto thk = look_up(geometry_file, "thk", config);
  auto topg = look_up(geometry_file, "topg", config);
  auto usurf = look_up(geometry_file, "usurf", config);
  for (auto* f : {&thk, &topg, &usurf})
    if (*f) {
      require_complete((*f)->values, g, "variable " + (*f)->describe());
      note("read " + (*f)->describe());
    }
  if (thk) require_non_negative(thk->values, g, "ice thickness " + thk->describe());

  const double rho_i = config.get_real("constants.ice.density");
  const double rho_sw = config.get_real("constants.sea_water.density");
  const double sea_level = config.get_real("geometry.sea_level");
  const double floating_fraction = 1.0 - rho_i / rho_sw; // freeboard / thickness of floating ice
  const size_t n = size_t(g.size());

  if (thk && topg && !usurf) {
    usurf = Found{"usurf", "derived", HostField(n)};
    for (size_t k = 0; k < n; ++k)
      usurf->values[k] = std::max(topg->values[k] + thk->values[k],
                                  sea_level + floating_fraction * thk->values[k]);
    note("derived usurf = max(topg + thk, sea_level + (1 - rho_i/rho_sw) thk)");
  } else if (usurf && topg && !thk) {
    thk = Found{"thk", "derived", HostField(n)};
    for (size_t k = 0; k < n; ++k) {
      const double s = usurf->values[k], b = topg->values[k];
      const double afloat = s > sea_level ? (s - sea_level) / floating_fraction : 0.0;
      thk->values[k] = std::max(0.0, std::min(s - b, afloat));
    }
    note("derived thk = min(usurf - topg, (usurf - sea_level) / (1 - rho_i/rho_sw)), >= 0");
  } else if (usurf && thk && !topg) {
    topg = Found{"topg", "derived", HostField(n)};
    for (size_t k = 0; k < n; ++k) topg->values[k] = usurf->values[k] - thk->values[k];
    note("derived topg = usurf - thk (assumes grounded ice)");
  }
  if (!usurf && !thk)
    throw Error("'" + geometry_path +
                "' has neither ice thickness nor surface elevation (looked for names such as "
                "thk, H_ice, usurf, z_srf; set input.names.thk or input.names.usurf)");

  auto add = [&](std::optional<core::Field2D>& slot, const std::string& name, const Found& f) {
    slot.emplace(make_field(in.grid, quantity(name).info, f.values));
  };

  // --- forcing (own file, or the geometry file) ---
  const std::string forcing_path = config.get_string("input.forcing.file");
  const InputFile* forcing_file = &geometry_file;
  std::optional<InputFile> forcing_storage;
  if (!forcing_path.empty() && forcing_path != geometry_path) {
    forcing_storage.emplace(forcing_path);
    check_same_grid(geometry_file, *forcing_storage);
    forcing_file = &*forcing_storage;
  }
  if (auto smb = look_up(*forcing_file, "climatic_mass_balance", config)) {
    size_t missing = 0;
    for (double& v : smb->values)
      if (std::isnan(v)) {
        v = 0.0;
        ++missing;
      }
    if (missing > 0)
      spdlog::warn("{}: {} cells without data are set to zero mass balance", smb->describe(),
                   missing);
    note("read climatic_mass_balance from " + smb->describe());
    add(in.forcing.climatic_mass_balance, "climatic_mass_balance", *smb);
  } else if (!forcing_path.empty()) {
    throw Error("no surface mass balance found in '" + forcing_path +
                "' (looked for climatic_mass_balance, smb, acab, ...; set "
                "input.names.climatic_mass_balance)");
  }

  // --- observations (own file, or the geometry file) ---
  const std::string obs_path = config.get_string("input.observations.file");
  const InputFile* obs_file = &geometry_file;
  std::optional<InputFile> obs_storage;
  if (!obs_path.empty() && obs_path != geometry_path) {
    obs_storage.emplace(obs_path);
    check_same_grid(geometry_file, *obs_storage);
    obs_file = &*obs_storage;
  }
  auto u = look_up(*obs_file, "uvelsurfobs", config);
  auto v = look_up(*obs_file, "vvelsurfobs", config);
  auto speed = look_up(*obs_file, "velsurfobs_mag", config);
  auto radar = look_up(*obs_file, "thkobs", config);
  if (radar) {
    for (size_t k = 0; k < n; ++k)
      if (radar->values[k] < 0.0)
        throw Error("observed thickness " + radar->describe() + " is negative at " +
                    cell_location(g, k));
  }
  if (u && v && !speed) {
    speed = Found{"velsurfobs_mag", "derived", HostField(n)};
    for (size_t k = 0; k < n; ++k) speed->values[k] = std::hypot(u->values[k], v->values[k]);
    note("derived velsurfobs_mag = |(uvelsurfobs, vvelsurfobs)|");
  }
  for (auto [slot, name, found] :
       {std::tuple{&in.observations.uvelsurfobs, "uvelsurfobs", &u},
        std::tuple{&in.observations.vvelsurfobs, "vvelsurfobs", &v},
        std::tuple{&in.observations.velsurfobs_mag, "velsurfobs_mag", &speed},
        std::tuple{&in.observations.thkobs, "thkobs", &radar}})
    if (*found) {
      if ((*found)->file != "derived")
        note("read " + std::string(name) + " from " + (*found)->describe());
      add(*slot, name, **found);
    }
  if (!obs_path.empty() && !u && !v && !speed && !radar)
    throw Error("no observations found in '" + obs_path +
                "' (looked for surface velocity such as uvelsurfobs/ux_srf/vx and radar thickness "
                "such as thkobs; set input.names.*)");

  // --- a missing thickness estimated from the surface and the outline ---
  if (usurf && !thk && !topg && config.get_string("input.missing_thickness") == "plastic") {
    auto m = look_up(geometry_file, "mask", config);
    if (!m)
      throw Error("input.missing_thickness = plastic needs an ice mask, but '" + geometry_path +
                  "' has none (looked for mask, icemask, ice_mask; set input.names.mask)");
    require_complete(m->values, g, "ice mask " + m->describe());
    const std::string radar_file = obs_path.empty() ? geometry_path : obs_path;
    in.thickness_estimate =
        estimate_thickness(config, g, usurf->values, cell_type_from_input_mask(m->values),
                           radar ? &radar->values : nullptr, radar_file);
    thk = Found{"thk", "derived",
                plastic_thickness(in.thickness_estimate->shape, in.thickness_estimate->tau_b)};
    topg = Found{"topg", "derived", HostField(n)};
    for (size_t k = 0; k < n; ++k) topg->values[k] = usurf->values[k] - thk->values[k];
    note("estimated thk from the smoothed surface slope and the outline " + m->describe() +
         " (perfect plasticity, tau_b = " + std::to_string(in.thickness_estimate->tau_b) +
         " Pa); derived topg = usurf - thk");
    if (comm_rank(comm) == 0) log_thickness_estimate(*in.thickness_estimate);
  }

  HostField mask;
  const double min_thk = config.get_real("geometry.minimum_thickness");
  if (thk && topg) {
    mask.resize(n);
    for (size_t k = 0; k < n; ++k) {
      const double H = thk->values[k], b = topg->values[k];
      const bool floating = rho_i * H < rho_sw * (sea_level - b);
      const bool ice = H > min_thk;
      mask[k] = ice ? (floating ? floating_ice : grounded_ice)
                    : (b < sea_level ? ice_free_ocean : ice_free_bedrock);
    }
    note("derived mask from thk, topg and the floatation criterion");
  } else if (auto m = look_up(geometry_file, "mask", config)) {
    require_complete(m->values, g, "ice mask " + m->describe());
    mask = cell_type_from_input_mask(m->values);
    note("read ice mask " + m->describe());
  }

  if (thk) add(in.geometry.thk, "thk", *thk);
  if (topg) add(in.geometry.topg, "topg", *topg);
  if (usurf) add(in.geometry.usurf, "usurf", *usurf);
  if (!mask.empty()) add(in.geometry.mask, "mask", Found{"mask", "", mask});

  return in;
}

std::vector<const core::Field2D*> all_fields(const ModelInputs& in) {
  std::vector<const core::Field2D*> out;
  for (const auto* f :
       {&in.geometry.thk, &in.geometry.topg, &in.geometry.usurf, &in.geometry.mask,
        &in.forcing.climatic_mass_balance, &in.observations.uvelsurfobs,
        &in.observations.vvelsurfobs, &in.observations.velsurfobs_mag, &in.observations.thkobs})
    if (*f) out.push_back(&**f);
  return out;
}

} // namespace nunatak::io
