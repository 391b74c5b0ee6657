#include "nunatak/io/model_inputs.hpp"

#include "nunatak/core/error.hpp"
#include "nunatak/core/floatation.hpp"
#include "nunatak/io/input_file.hpp"
#include "nunatak/io/quantities.hpp"
#include "nunatak/io/units.hpp"

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

/// The rank's ghosted box of a whole-grid field on levels, as make_field does.
core::Field3D make_field3d(const std::shared_ptr<const core::ParallelGrid>& grid,
                           const core::FieldInfo& info, const InputLevels& global) {
  core::Field3D field(grid, info, global.sigma);
  const core::LocalBox b = grid->box();
  const int nx = grid->grid().nx(), ny = grid->grid().ny();
  const size_t nz = global.sigma.size();
  auto host = Kokkos::create_mirror_view(field.view());
  for (int j = b.gys; j < b.gys + b.gym; ++j)
    for (int i = b.gxs; i < b.gxs + b.gxm; ++i) {
      const int ci = grid->options().periodic_x ? ((i % nx) + nx) % nx : std::clamp(i, 0, nx - 1);
      const int cj = grid->options().periodic_y ? ((j % ny) + ny) % ny : std::clamp(j, 0, ny - 1);
      for (size_t k = 0; k < nz; ++k)
        host(b.lj(j), b.li(i), k) = global.values[(size_t(cj) * nx + ci) * nz + k];
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

/// Geometry (and basal and flow-law fields) must be complete: no missing cells.
void require_complete(const HostField& v, const core::Grid& g, const std::string& what,
                      const std::string& rule = "geometry inputs must be complete") {
  size_t count = 0, first = 0;
  for (size_t k = 0; k < v.size(); ++k)
    if (std::isnan(v[k]) && count++ == 0) first = k;
  if (count > 0)
    throw Error(what + " has " + std::to_string(count) +
                " cells without data (NaN or missing value), first at " + cell_location(g, first) +
                "; " + rule);
}

void require_non_negative(const HostField& v, const core::Grid& g, const std::string& what) {
  for (size_t k = 0; k < v.size(); ++k)
    if (v[k] < 0.0)
      throw Error(what + " is negative (" + std::to_string(v[k]) + " m) at " + cell_location(g, k) +
                  "; ice thickness must be >= 0");
}

/// Looks up quantity `name` in `file` (honouring input.names.<name>) and reads it.
std::optional<InputArray> look_up(const InputFile& file, const std::string& name,
                                  const Config& config) {
  const QuantitySpec& spec = quantity(name);
  auto var = file.find(spec, config.get_string("input.names." + name));
  if (!var) return std::nullopt;
  MassBalanceUnits mb;
  mb.water_equivalent = config.get_string("input.smb_length_rate_is") == "water_equivalent";
  mb.fresh_water_density = config.get_real("constants.fresh_water.density");
  mb.ice_density = config.get_real("constants.ice.density");
  return InputArray{*var, file.path(),
                    file.read(*var, spec, int(config.get_int("input.time_index")), mb)};
}

/// Units of Glen's A for exponent n: "Pa-n s-1" (n must be an integer: UDUNITS
/// has no fractional powers).
std::string softness_units(double n, const std::string& time = "s") {
  if (n != std::round(n))
    throw Error("an ice softness field needs an integer flow_law.glen_exponent (its units are "
                "Pa-n s-1), not " +
                std::to_string(n));
  return "Pa-" + std::to_string(long(std::lround(n))) + " " + time + "-1";
}

/// The ice softness of `file`, if it has one: 2-D or on sigma levels, in
/// Pa-n s-1, positive and finite everywhere.
std::optional<InputLevels> read_softness(const InputFile& file, const Config& config) {
  const std::string override_name = config.get_string("input.names.softness");
  auto var = file.find(quantity("softness"), override_name);
  if (!var) return std::nullopt;
  const std::string units = softness_units(config.get_real("flow_law.glen_exponent"));
  const std::string file_units =
      file.nc().text_attribute(file.nc().variable(*var), "units").value_or("");
  if (*var == "ATT" && override_name.empty() && !units_convertible(file_units, units)) {
    // Yelmo's rate factor is ATT in a^-1 Pa^-3; another ATT is something else.
    spdlog::warn("'{}' has a variable ATT with units '{}', not an ice softness ({}): ignored",
                 file.path(), file_units, units);
    return std::nullopt;
  }
  LevelField f = file.read_levels(*var, units, int(config.get_int("input.time_index")));
  const bool levels = !f.sigma.empty();
  const size_t nz = levels ? f.sigma.size() : 1;
  size_t bad = 0, first = 0;
  for (size_t k = 0; k < f.values.size(); ++k)
    if (!(f.values[k] > 0.0 && std::isfinite(f.values[k])) && bad++ == 0) first = k;
  if (bad > 0) {
    std::ostringstream m;
    m << "ice softness '" << *var << "' in '" << file.path()
      << "' must be a positive number in every cell" << (levels ? " and on every level" : "")
      << ", but " << bad << (levels ? " values are" : " cells are")
      << " not (missing, zero, negative or infinite); the first, " << f.values[first] << " "
      << units << ", at " << cell_location(file.grid(), first / nz);
    if (levels)
      m << ", level " << first % nz << " of '" << f.level_dimension
        << "' (sigma = " << f.sigma[first % nz] << ")";
    throw Error(m.str());
  }
  InputLevels out{*var, file.path(), std::move(f.sigma), std::move(f.values), f.level_dimension};
  if (!levels) { // a 2-D field: the same A at the base and the surface
    out.sigma = {0.0, 1.0};
    std::vector<double> both(2 * out.values.size());
    for (size_t c = 0; c < out.values.size(); ++c) both[2 * c] = both[2 * c + 1] = out.values[c];
    out.values = std::move(both);
  }
  return out;
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

} // namespace

core::Floatation configured_floatation(const Config& config) {
  core::Floatation f;
  f.ice_density = config.get_real("constants.ice.density");
  f.sea_water_density = config.get_real("constants.sea_water.density");
  f.sea_level = config.get_real("geometry.sea_level");
  f.minimum_thickness = config.get_real("geometry.minimum_thickness");
  return f;
}

InputArrays read_input_arrays(const Config& config) {
  const std::string geometry_path = config.get_string("input.geometry.file");
  if (geometry_path.empty())
    throw Error("configuration key 'input.geometry.file' is not set: nunatak needs a geometry");
  const InputFile geometry_file(geometry_path);
  const core::Grid& g = geometry_file.grid();

  InputArrays in;
  in.grid = g;
  in.geometry_file = geometry_path;
  auto note = [&](const std::string& text) { in.notes.push_back(text); };

  // --- geometry ---
  auto& thk = in.thk;
  auto& topg = in.topg;
  auto& usurf = in.usurf;
  thk = look_up(geometry_file, "thk", config);
  topg = look_up(geometry_file, "topg", config);
  usurf = look_up(geometry_file, "usurf", config);
  for (auto* f : {&thk, &topg, &usurf})
    if (*f) {
      require_complete((*f)->values, g, "variable " + (*f)->describe());
      note("read " + (*f)->describe());
    }
  if (thk) require_non_negative(thk->values, g, "ice thickness " + thk->describe());

  const core::Floatation floatation = configured_floatation(config);
  const size_t n = size_t(g.size());
  if (thk && topg && !usurf) {
    usurf = InputArray{"usurf", "derived", HostField(n)};
    for (size_t k = 0; k < n; ++k)
      usurf->values[k] = floatation.surface(thk->values[k], topg->values[k]);
    note("derived usurf = max(topg + thk, sea_level + (1 - rho_i/rho_sw) thk)");
  } else if (usurf && topg && !thk) {
    thk = InputArray{"thk", "derived", HostField(n)};
    for (size_t k = 0; k < n; ++k)
      thk->values[k] = floatation.thickness(usurf->values[k], topg->values[k]);
    note("derived thk = min(usurf - topg, (usurf - sea_level) / (1 - rho_i/rho_sw)), >= 0");
  } else if (usurf && thk && !topg) {
    topg = InputArray{"topg", "derived", HostField(n)};
    for (size_t k = 0; k < n; ++k) topg->values[k] = usurf->values[k] - thk->values[k];
    note("derived topg = usurf - thk (assumes grounded ice)");
  }
  if (!usurf && !thk)
    throw Error("'" + geometry_path +
                "' has neither ice thickness nor surface elevation (looked for names such as "
                "thk, H_ice, usurf, z_srf; set input.names.thk or input.names.usurf)");
  if (config.get_string("sliding.law") == "pseudo_plastic")
    if (auto tauc = look_up(geometry_file, "tauc", config)) {
      require_complete(tauc->values, g, "till yield stress " + tauc->describe(),
                       "it must be given in every cell");
      for (size_t k = 0; k < n; ++k)
        if (tauc->values[k] < 0.0)
          throw Error("till yield stress " + tauc->describe() + " is negative (" +
                      std::to_string(tauc->values[k]) + " Pa) at " + cell_location(g, k));
      note("read tauc from " + tauc->describe());
      in.tauc = std::move(tauc);
    }
  if (auto A = read_softness(geometry_file, config)) {
    note("read softness from " + A->describe() +
         (A->level_dimension.empty() ? " (2-D: the same on every level)"
                                     : " on " + std::to_string(A->sigma.size()) + " levels"));
    in.softness = std::move(A);
  }
  if (!(thk && topg))
    if (auto m = look_up(geometry_file, "mask", config)) {
      require_complete(m->values, g, "ice mask " + m->describe());
      m->values = cell_type_from_input_mask(m->values);
      in.ice_mask = std::move(m);
    }

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
    in.climatic_mass_balance = std::move(smb);
  } else if (!forcing_path.empty()) {
    throw Error("no surface mass balance found in '" + forcing_path +
                "' (looked for climatic_mass_balance, smb, acab, ...; set "
                "input.names.climatic_mass_balance)");
  }

  // --- observations (own file, or the geometry file) ---
  const std::string obs_path = config.get_string("input.observations.file");
  in.observations_file = obs_path.empty() ? geometry_path : obs_path;
  const InputFile* obs_file = &geometry_file;
  std::optional<InputFile> obs_storage;
  if (!obs_path.empty() && obs_path != geometry_path) {
    obs_storage.emplace(obs_path);
    check_same_grid(geometry_file, *obs_storage);
    obs_file = &*obs_storage;
  }
  auto& u = in.uvelsurfobs;
  auto& v = in.vvelsurfobs;
  auto& speed = in.velsurfobs_mag;
  auto& radar = in.thkobs;
  u = look_up(*obs_file, "uvelsurfobs", config);
  v = look_up(*obs_file, "vvelsurfobs", config);
  speed = look_up(*obs_file, "velsurfobs_mag", config);
  radar = look_up(*obs_file, "thkobs", config);
  if (radar) {
    for (size_t k = 0; k < n; ++k)
      if (radar->values[k] < 0.0)
        throw Error("observed thickness " + radar->describe() + " is negative at " +
                    cell_location(g, k));
  }
  if (u && v && !speed) {
    speed = InputArray{"velsurfobs_mag", "derived", HostField(n)};
    for (size_t k = 0; k < n; ++k) speed->values[k] = std::hypot(u->values[k], v->values[k]);
    note("derived velsurfobs_mag = |(uvelsurfobs, vvelsurfobs)|");
  }
  for (auto [name, found] : {std::pair{"uvelsurfobs", &u}, std::pair{"vvelsurfobs", &v},
                             std::pair{"velsurfobs_mag", &speed}, std::pair{"thkobs", &radar}})
    if (*found && (*found)->file != "derived")
      note("read " + std::string(name) + " from " + (*found)->describe());
  if (!obs_path.empty() && !u && !v && !speed && !radar)
    throw Error("no observations found in '" + obs_path +
                "' (looked for surface velocity such as uvelsurfobs/ux_srf/vx and radar thickness "
                "such as thkobs; set input.names.*)");
  return in;
}

ModelInputs distribute_inputs(const InputArrays& arrays, const Config& config, MPI_Comm comm) {
  ModelInputs in;
  in.grid = core::ParallelGrid::create(comm, arrays.grid);
  in.notes = arrays.notes;
  auto add = [&](std::optional<core::Field2D>& slot, const std::string& name,
                 const std::optional<InputArray>& a) {
    if (a) slot.emplace(make_field(in.grid, quantity(name).info, a->values));
  };

  std::optional<InputArray> mask;
  if (arrays.thk && arrays.topg) {
    const core::Floatation floatation = configured_floatation(config);
    const size_t n = arrays.thk->values.size();
    mask = InputArray{"mask", "derived", HostField(n)};
    for (size_t k = 0; k < n; ++k)
      mask->values[k] = floatation.cell_type(arrays.thk->values[k], arrays.topg->values[k]);
    in.notes.push_back("derived mask from thk, topg and the floatation criterion");
  } else if (arrays.ice_mask) {
    mask = arrays.ice_mask;
    in.notes.push_back("read ice mask " + arrays.ice_mask->describe());
  }

  add(in.geometry.thk, "thk", arrays.thk);
  add(in.geometry.topg, "topg", arrays.topg);
  add(in.geometry.usurf, "usurf", arrays.usurf);
  add(in.geometry.mask, "mask", mask);
  add(in.forcing.climatic_mass_balance, "climatic_mass_balance", arrays.climatic_mass_balance);
  add(in.observations.uvelsurfobs, "uvelsurfobs", arrays.uvelsurfobs);
  add(in.observations.vvelsurfobs, "vvelsurfobs", arrays.vvelsurfobs);
  add(in.observations.velsurfobs_mag, "velsurfobs_mag", arrays.velsurfobs_mag);
  add(in.observations.thkobs, "thkobs", arrays.thkobs);
  add(in.tauc, "tauc", arrays.tauc);
  if (arrays.softness) {
    core::FieldInfo info = quantity("softness").info;
    const double n = config.get_real("flow_law.glen_exponent");
    info.units = softness_units(n);
    info.output_units = softness_units(n, "year");
    in.softness.emplace(make_field3d(in.grid, info, *arrays.softness));
  }
  return in;
}

std::vector<const core::Field2D*> all_fields(const ModelInputs& in) {
  std::vector<const core::Field2D*> out;
  for (const auto* f : {&in.geometry.thk, &in.geometry.topg, &in.geometry.usurf, &in.geometry.mask,
                        &in.forcing.climatic_mass_balance, &in.observations.uvelsurfobs,
                        &in.observations.vvelsurfobs, &in.observations.velsurfobs_mag,
                        &in.observations.thkobs, &in.tauc})
    if (*f) out.push_back(&**f);
  return out;
}

} // namespace nunatak::io
