#include "nunatak/io/model_inputs.hpp"

#include "nunatak/core/constants.hpp"
#include "nunatak/core/error.hpp"
#include "nunatak/core/floatation.hpp"
#include "nunatak/core/regrid.hpp"
#include "nunatak/io/input_file.hpp"
#include "nunatak/io/quantities.hpp"
#include "nunatak/io/units.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
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

/// A number as "%g" with enough digits to show it (-2e-11, not -0.000000).
std::string number(double v) {
  std::ostringstream s;
  s.precision(7);
  s << v;
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

/// Values that must be >= 0 (ice thickness, radar thickness, till yield
/// stress): negatives from round-off (a thickness computed as s - b in single
/// precision, -2e-11 m after regridding) down to -tolerance are set to 0 and
/// counted in the log; tolerance = max(1e-6, 1e-6 * the largest |value|) in
/// SI units, i.e. 1 micrometre, or a millionth of the field's scale (3 mm for
/// 3 km of ice, above single precision's rounding of a surface minus a bed).
/// A more negative value is an error naming the cell and printing the value.
void require_non_negative(HostField& v, const core::Grid& g, const std::string& what,
                          const std::string& unit, const std::string& rule,
                          std::vector<InputMessage>& log) {
  double largest = 0.0;
  for (double x : v)
    if (std::isfinite(x)) largest = std::max(largest, std::abs(x));
  const double tolerance = std::max(1e-6, 1e-6 * largest);
  size_t clamped = 0, worst = 0;
  for (size_t k = 0; k < v.size(); ++k) {
    if (!(v[k] < 0.0)) continue;
    if (v[k] < -tolerance)
      throw Error(what + " is negative (" + number(v[k]) + " " + unit + ") at " +
                  cell_location(g, k) + "; " + rule + " (values down to -" + number(tolerance) +
                  " " + unit + " are taken as round-off and set to 0)");
    if (clamped++ == 0 || v[k] < v[worst]) worst = k;
  }
  if (clamped == 0) return;
  log.push_back({false, what + ": " + std::to_string(clamped) +
                            " cells with round-off negative values (down to " + number(v[worst]) +
                            " " + unit + " at " + cell_location(g, worst) + ", tolerance -" +
                            number(tolerance) + " " + unit + ") set to 0"});
  for (double& x : v)
    if (x < 0.0) x = 0.0;
}

/// A warning when values of `a` (SI units) lie outside [lo, hi]: values no
/// ice sheet has, most likely from units the file misstates (millimetres
/// labelled "m", speeds per second labelled per year). `scale` converts to
/// the units shown, `unit`.
void warn_if_implausible(const InputArray& a, const core::Grid& g, const std::string& what,
                         double lo, double hi, double scale, const std::string& unit,
                         const std::string& reason, std::vector<InputMessage>& log) {
  size_t count = 0, worst = 0;
  for (size_t k = 0; k < a.values.size(); ++k) {
    const double v = a.values[k];
    if (!(v < lo || v > hi)) continue; // NaN: no data
    if (count++ == 0 || std::abs(v) > std::abs(a.values[worst])) worst = k;
  }
  if (count == 0) return;
  log.push_back({true, what + " " + a.describe() + ": " + std::to_string(count) +
                           " cell(s) outside [" + number(lo * scale) + ", " + number(hi * scale) +
                           "] " + unit + ", up to " + number(a.values[worst] * scale) + " " + unit +
                           " at " + cell_location(g, worst) + " (" + reason +
                           "); are the file's units right?"});
}

/// Looks up quantity `name` in `file` (honouring input.names.<name>) and reads it.
std::optional<InputArray> look_up(const InputFile& file, const std::string& name,
                                  const Config& config) {
  const QuantitySpec& spec = quantity(name);
  auto var = file.find(spec, config.get_string("input.names." + name));
  if (!var) return std::nullopt;
  MassBalanceUnits mb;
  mb.water_equivalent = config.get_string("input.smb_length_rate_is") == "water_equivalent";
  mb.configured = config.origin("input.smb_length_rate_is") != "default";
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
std::optional<InputLevels> read_softness(const InputFile& file, const Config& config,
                                         std::vector<InputMessage>& log) {
  const std::string override_name = config.get_string("input.names.softness");
  auto var = file.find(quantity("softness"), override_name);
  if (!var) return std::nullopt;
  const std::string units = softness_units(config.get_real("flow_law.glen_exponent"));
  const std::string file_units =
      file.nc().text_attribute(file.nc().variable(*var), "units").value_or("");
  if (*var == "ATT" && override_name.empty() && !units_convertible(file_units, units)) {
    // Yelmo's rate factor is ATT in a^-1 Pa^-3; another ATT is something else.
    log.push_back({true, "'" + file.path() + "' has a variable ATT with units '" + file_units +
                             "', not an ice softness (" + units + "): ignored"});
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

/// The PISM cell types of an input mask in any common convention:
///  - by its flag_meanings, when it has them: each meaning is matched by
///    words (PISM's "ice_free_bedrock grounded_ice floating_ice
///    ice_free_ocean", BedMachine's "ocean ice_free_land grounded_ice
///    floating_ice lake_vostok"; ice on a lake counts as floating);
///  - else by its values: only 0 and 1 is an ice mask (IGM's icemask, 1 =
///    ice); with a 1 and larger values, BedMachine, RTopo and Yelmo's 0
///    ocean, 1 land, 2 grounded, 3 floating, 4 ice on a subglacial lake
///    (floating on the lake); without a 1, PISM's 0 bedrock, 2 grounded,
///    3 floating, 4 ocean.
/// A value no convention gives meaning to is an error naming it and the cell.
HostField cell_type_from_input_mask(const InputArray& mask, const InputFile& file,
                                    const core::Grid& g) {
  const HostField& raw = mask.values;
  std::map<long, double> meaning; // mask value -> cell type
  const int id = file.nc().variable(mask.variable);
  const auto flag_values = file.nc().number_attribute(id, "flag_values");
  const auto flag_meanings = file.nc().text_attribute(id, "flag_meanings");
  std::string convention;
  if (flag_values && flag_meanings) {
    std::istringstream words(*flag_meanings);
    std::vector<std::string> names;
    for (std::string w; words >> w;) names.push_back(w);
    for (size_t k = 0; k < flag_values->size() && k < names.size(); ++k) {
      std::string n = names[k];
      for (char& c : n) c = char(std::tolower(static_cast<unsigned char>(c)));
      auto has = [&](const char* word) { return n.find(word) != std::string::npos; };
      double type = -1;
      if (has("float") || has("shelf") || has("lake"))
        type = floating_ice;
      else if (has("ground") || (has("ice") && !has("free") && !has("no_ice")))
        type = grounded_ice;
      else if (has("ocean") || has("sea") || has("water"))
        type = ice_free_ocean;
      else if (has("land") || has("bedrock") || has("rock") || has("free") || has("no_ice"))
        type = ice_free_bedrock;
      if (type >= 0) meaning[std::lround((*flag_values)[k])] = type;
    }
    convention = "its flag_meanings \"" + *flag_meanings + "\"";
  } else {
    double top = -1;
    bool has_one = false;
    for (double v : raw)
      if (!std::isnan(v)) {
        top = std::max(top, v);
        has_one = has_one || v == 1.0;
      }
    if (top <= 1.0) {
      meaning = {{0, ice_free_bedrock}, {1, grounded_ice}};
      convention = "an ice mask (0 no ice, 1 ice)";
    } else if (has_one) {
      meaning = {{0, ice_free_ocean},
                 {1, ice_free_bedrock},
                 {2, grounded_ice},
                 {3, floating_ice},
                 {4, floating_ice}};
      convention = "BedMachine/Yelmo's (0 ocean, 1 land, 2 grounded, 3 floating, 4 lake)";
    } else {
      meaning = {{0, ice_free_bedrock}, {2, grounded_ice}, {3, floating_ice}, {4, ice_free_ocean}};
      convention = "PISM's (0 ice-free bedrock, 2 grounded, 3 floating, 4 ice-free ocean)";
    }
  }
  HostField out(raw.size(), std::numeric_limits<double>::quiet_NaN());
  for (size_t k = 0; k < raw.size(); ++k) {
    if (std::isnan(raw[k])) continue;
    const auto it = meaning.find(std::lround(raw[k]));
    if (it == meaning.end() || raw[k] != std::round(raw[k]))
      throw Error("ice mask " + mask.describe() + " has the value " + number(raw[k]) + " at " +
                  cell_location(g, k) + ", which means nothing in " + convention +
                  " (set input.names.mask to another variable, or give thickness and bed)");
    out[k] = it->second;
  }
  return out;
}

/// What the floatation rule says about thickness, bed and surface given
/// together (model inputs from Yelmo, BedMachine, ...), and the model's bed.
///
/// The transient model recomputes the surface from thickness and bed with the
/// floatation rule; where the rule calls the ice grounded but the given
/// surface is not b + H, the model would otherwise see another surface than
/// the data (at a subglacial lake, ice afloat on the lake over a bed far below
/// its base, b + H digs a pit hundreds of metres deep). There the model keeps
/// the given thickness and surface and takes the ice base s - H as its bed
/// (the lake's water column is left out; the ice is then grounded on it) —
/// what the reader does when only surface and thickness are given. Every
/// other disagreement beyond `geometry_tolerance` (floating ice whose surface
/// is not at floatation: the data's densities or sea level differ; ice-free
/// cells whose surface is not the bed or sea level) is reported and left to
/// the rule. Returns the messages for the log.
constexpr double geometry_tolerance = 1.0; // m

void reconcile_geometry(InputArrays& in, const core::Floatation& f,
                        const std::optional<HostField>& input_types,
                        const std::optional<InputArray>& input_mask,
                        std::vector<InputMessage>& log) {
  const core::Grid& g = in.grid;
  const HostField& H = in.thk->values;
  const HostField& s = in.usurf->values;
  HostField& b = in.topg->values;
  struct Worst {
    size_t cells = 0, at = 0;
    size_t mask_disagrees = 0; ///< cells where the input mask says otherwise than the rule
    double by = 0.0;           // the largest |difference|
    void add(size_t k, double d) {
      if (cells++ == 0 || std::abs(d) > by) {
        by = std::abs(d);
        at = k;
      }
    }
  };
  Worst raised, lowered, kept_grounded, floating, ice_free;
  std::optional<size_t> first_raised;
  for (size_t k = 0; k < H.size(); ++k) {
    const double rule = f.surface(H[k], b[k]);
    const double d = s[k] - rule;
    if (std::abs(d) <= geometry_tolerance) continue;
    const double input_type = input_types ? (*input_types)[k] : -1.0;
    if (!f.has_ice(H[k])) {
      ice_free.add(k, d);
    } else if (f.floats(H[k], b[k])) {
      floating.add(k, d);
      floating.mask_disagrees += input_type == grounded_ice;
    } else if (!f.floats(H[k], s[k] - H[k])) {
      // Grounded by the rule, and still grounded on the ice base: the model's
      // bed becomes s - H, so that the rule gives the given surface.
      Worst& w = d > 0 ? raised : lowered;
      w.add(k, d);
      w.mask_disagrees += input_type == floating_ice;
      b[k] = s[k] - H[k];
    } else {
      kept_grounded.add(k, d);
      kept_grounded.mask_disagrees += input_type == floating_ice;
    }
  }
  const std::string fields = "thickness " + in.thk->describe() + ", bed " + in.topg->describe() +
                             " and surface " + in.usurf->describe();
  const std::string rule = "the floatation rule (sea level " + number(f.sea_level) +
                           " m, ice density " + number(f.ice_density) + ", sea water " +
                           number(f.sea_water_density) + " kg m-3)";
  auto mask_note = [&](const Worst& w, const char* says = "floating or ice on a lake") {
    if (!input_mask) return std::string();
    return "; the input mask " + input_mask->describe() + " calls " +
           std::to_string(w.mask_disagrees) + " of them " + says;
  };
  auto worst = [&](const Worst& w) {
    return "by up to " + number(w.by) + " m, at " + cell_location(g, w.at) +
           ": H = " + number(H[w.at]) + " m, given surface " + number(s[w.at]) + " m";
  };
  if (raised.cells > 0)
    log.push_back({true, std::to_string(raised.cells) + " cells of " + fields +
                             " hold grounded ice by " + rule +
                             ", but a surface above bed + thickness: water between the bed and "
                             "the ice (a subglacial lake) that the rule cannot float" +
                             mask_note(raised) +
                             ". There the model takes the ice base s - H as its "
                             "bed, raised " +
                             worst(raised) +
                             ", so that it keeps the given surface (the lake's water column is "
                             "left out; the ice is grounded on it)"});
  if (lowered.cells > 0)
    log.push_back({true, std::to_string(lowered.cells) + " cells of " + fields +
                             " hold grounded ice by " + rule +
                             ", but a surface below bed + thickness (more ice than there is room "
                             "for)" +
                             mask_note(lowered) +
                             ". There the model takes s - H as its bed, lowered " + worst(lowered) +
                             ", so that it keeps the given thickness and surface"});
  if (kept_grounded.cells > 0)
    log.push_back({true, std::to_string(kept_grounded.cells) + " cells of " + fields +
                             " hold grounded ice by " + rule +
                             " whose given surface is not bed + thickness, and s - H as a bed "
                             "would float" +
                             mask_note(kept_grounded) +
                             "; the model uses the rule's surface there, differing " +
                             worst(kept_grounded)});
  if (floating.cells > 0)
    log.push_back({true, std::to_string(floating.cells) + " cells of " + fields +
                             " hold floating ice by " + rule +
                             " whose given surface is not at floatation (sea level + (1 - "
                             "rho_i/rho_w) H: are the data's densities or sea level others?)" +
                             mask_note(floating, "grounded") +
                             "; the model's surface there follows the rule, differing " +
                             worst(floating)});
  if (ice_free.cells > 0)
    log.push_back({true, std::to_string(ice_free.cells) + " ice-free cells of " + fields +
                             " have a surface that is neither the bed (land) nor sea level "
                             "(ocean); the model's surface there follows the rule, differing " +
                             worst(ice_free)});
  const size_t changed = raised.cells + lowered.cells;
  in.notes.push_back(
      "checked thk, topg and usurf against the floatation rule (tolerance " +
      number(geometry_tolerance) + " m): " +
      (changed + kept_grounded.cells + floating.cells + ice_free.cells == 0
           ? std::string("consistent")
           : std::to_string(changed) + " cells' bed set to usurf - thk, " +
                 std::to_string(kept_grounded.cells + floating.cells + ice_free.cells) +
                 " other cells disagree"));
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

namespace {

/// input.region: keeps the cells whose centres lie in [x_min, x_max] x
/// [y_min, y_max] (metres of the grid's coordinates), in every array.
void crop_to_region(InputArrays& in, const Config& config) {
  const std::vector<std::string>& list = config.get_list("input.region");
  if (list.empty()) return;
  if (list.size() != 4)
    throw Error("input.region: give four numbers [x_min, x_max, y_min, y_max] in metres, not " +
                std::to_string(list.size()));
  double b[4];
  for (size_t k = 0; k < 4; ++k) {
    size_t used = 0;
    try {
      b[k] = std::stod(list[k], &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != list[k].size() || !std::isfinite(b[k]))
      throw Error("input.region: '" + list[k] + "' is not a number (metres)");
  }
  if (!(b[0] < b[1]) || !(b[2] < b[3]))
    throw Error("input.region: needs x_min < x_max and y_min < y_max");
  const core::Grid g = in.grid;
  int i0 = g.nx(), i1 = -1, j0 = g.ny(), j1 = -1;
  for (int i = 0; i < g.nx(); ++i)
    if (g.x(i) >= b[0] && g.x(i) <= b[1]) {
      i0 = std::min(i0, i);
      i1 = std::max(i1, i);
    }
  for (int j = 0; j < g.ny(); ++j)
    if (g.y(j) >= b[2] && g.y(j) <= b[3]) {
      j0 = std::min(j0, j);
      j1 = std::max(j1, j);
    }
  if (i1 < 0 || j1 < 0)
    throw Error("input.region: the box [" + list[0] + ", " + list[1] + "] x [" + list[2] + ", " +
                list[3] + "] m holds no cell of the grid (" + g.describe() + ")");
  crop_input_arrays(in, i0, j0, i1 - i0 + 1, j1 - j0 + 1);
  in.notes.push_back("cropped to input.region: " + in.grid.describe());
}

} // namespace

void crop_input_arrays(InputArrays& in, int i0, int j0, int nx, int ny) {
  const core::Grid g = in.grid;
  if (i0 < 0 || j0 < 0 || nx < 1 || ny < 1 || i0 + nx > g.nx() || j0 + ny > g.ny())
    throw Error("crop_input_arrays: the box leaves the grid (" + g.describe() + ")");
  in.grid = core::Grid(nx, ny, g.dx(), g.dy(), g.x(i0), g.y(j0));
  if (const core::GridMapping* m = g.mapping()) in.grid.set_mapping(*m);
  const auto crop = [&](std::vector<double>& values, size_t per_cell) {
    std::vector<double> out(size_t(nx) * size_t(ny) * per_cell);
    for (int j = 0; j < ny; ++j)
      for (int i = 0; i < nx; ++i)
        for (size_t k = 0; k < per_cell; ++k)
          out[(size_t(j) * size_t(nx) + size_t(i)) * per_cell + k] =
              values[(size_t(j + j0) * size_t(g.nx()) + size_t(i + i0)) * per_cell + k];
    values = std::move(out);
  };
  for (std::optional<InputArray>* a :
       {&in.thk, &in.topg, &in.usurf, &in.ice_mask, &in.climatic_mass_balance, &in.uvelsurfobs,
        &in.vvelsurfobs, &in.velsurfobs_mag, &in.thkobs, &in.dhdt, &in.tauc})
    if (*a) crop((*a)->values, 1);
  if (in.softness) crop(in.softness->values, in.softness->sigma.size());
}

namespace {

/// input.coarsen_factor: every field on the grid of K x K blocks
/// (core/regrid.hpp); the surface from the coarse thickness and bed.
void coarsen_inputs(InputArrays& in, const Config& config) {
  const int factor = int(config.get_int("input.coarsen_factor"));
  if (factor == 1) return;
  const core::Grid fine = in.grid;
  const auto coarsen = [&](std::optional<InputArray>& a, core::Coarsening rule) {
    if (a) a->values = core::coarsen(fine, a->values, factor, rule);
  };
  coarsen(in.thk, core::Coarsening::volume);
  for (auto* a : {&in.topg, &in.usurf, &in.climatic_mass_balance, &in.uvelsurfobs, &in.vvelsurfobs,
                  &in.thkobs, &in.dhdt, &in.tauc})
    coarsen(*a, core::Coarsening::mean);
  coarsen(in.ice_mask, core::Coarsening::majority);
  if (in.velsurfobs_mag && in.velsurfobs_mag->file == "derived" && in.uvelsurfobs &&
      in.vvelsurfobs) {
    in.velsurfobs_mag->values = in.uvelsurfobs->values;
    for (size_t k = 0; k < in.velsurfobs_mag->values.size(); ++k)
      in.velsurfobs_mag->values[k] =
          std::hypot(in.uvelsurfobs->values[k], in.vvelsurfobs->values[k]);
  } else {
    coarsen(in.velsurfobs_mag, core::Coarsening::mean);
  }
  if (in.softness) {
    // [cell][level]: each level on its own.
    const size_t levels = in.softness->sigma.size(), cells = size_t(fine.size());
    std::vector<std::vector<double>> coarse_levels;
    for (size_t k = 0; k < levels; ++k) {
      std::vector<double> level(cells);
      for (size_t c = 0; c < cells; ++c) level[c] = in.softness->values[c * levels + k];
      coarse_levels.push_back(core::coarsen(fine, level, factor, core::Coarsening::mean));
    }
    const size_t coarse_cells = coarse_levels.empty() ? 0 : coarse_levels[0].size();
    in.softness->values.assign(coarse_cells * levels, 0.0);
    for (size_t c = 0; c < coarse_cells; ++c)
      for (size_t k = 0; k < levels; ++k) in.softness->values[c * levels + k] = coarse_levels[k][c];
  }
  in.grid = core::coarsened_grid(fine, factor);
  if (in.thk && in.topg && in.usurf) {
    const core::Floatation floatation = configured_floatation(config);
    for (size_t k = 0; k < in.usurf->values.size(); ++k)
      in.usurf->values[k] = floatation.surface(in.thk->values[k], in.topg->values[k]);
  }
  in.notes.push_back("coarsened the inputs by " + std::to_string(factor) + " (" + fine.describe() +
                     " to " + in.grid.describe() +
                     "): thickness by volume, other fields by their mean, the mask by majority" +
                     (in.thk && in.topg ? ", the surface from thickness and bed" : ""));
}

} // namespace

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
  if (thk)
    require_non_negative(thk->values, g, "ice thickness " + thk->describe(), "m",
                         "ice thickness must be >= 0", in.log);
  // Plausible values (warnings): the thickest ice on Earth is some 4.9 km,
  // the deepest ocean 11 km, the highest mountain 8.8 km.
  const std::string thickest = "no ice on Earth is thicker than about 4.9 km";
  if (thk) warn_if_implausible(*thk, g, "ice thickness", 0, 1e4, 1, "m", thickest, in.log);
  for (auto* f : {&topg, &usurf})
    if (*f)
      warn_if_implausible(**f, g, "elevation", -1.2e4, 1e4, 1, "m",
                          "Earth's solid surface lies between about -11 and 8.8 km", in.log);

  const core::Floatation floatation = configured_floatation(config);
  const size_t n = size_t(g.size());
  // The input's mask: the ice extent when thickness or bed is missing; with
  // all three fields, a second opinion on floating ice (a subglacial lake).
  std::optional<InputArray> input_mask;
  std::optional<HostField> input_types;
  const int given = int(bool(thk)) + int(bool(topg)) + int(bool(usurf));
  if (given < 2) {
    if ((input_mask = look_up(geometry_file, "mask", config)))
      input_types = cell_type_from_input_mask(*input_mask, geometry_file, g);
  } else if (given == 3) {
    try { // only for the report: a mask nunatak cannot read is ignored
      if ((input_mask = look_up(geometry_file, "mask", config)))
        input_types = cell_type_from_input_mask(*input_mask, geometry_file, g);
    } catch (const Error& e) {
      in.log.push_back({true, std::string("the input mask is ignored: ") + e.what()});
      input_mask.reset();
    }
  }
  if (thk && topg && usurf) {
    reconcile_geometry(in, floatation, input_types, input_mask, in.log);
  } else if (thk && topg && !usurf) {
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
      require_non_negative(tauc->values, g, "till yield stress " + tauc->describe(), "Pa",
                           "a yield stress must be >= 0", in.log);
      note("read tauc from " + tauc->describe());
      in.tauc = std::move(tauc);
    }
  if (auto A = read_softness(geometry_file, config, in.log)) {
    note("read softness from " + A->describe() +
         (A->level_dimension.empty() ? " (2-D: the same on every level)"
                                     : " on " + std::to_string(A->sigma.size()) + " levels"));
    in.softness = std::move(A);
  }
  if (input_mask && !(thk && topg)) {
    input_mask->values = std::move(*input_types);
    require_complete(input_mask->values, g, "ice mask " + input_mask->describe());
    in.ice_mask = std::move(input_mask);
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
      in.log.push_back({true, smb->describe() + ": " + std::to_string(missing) +
                                  " cells without data are set to zero mass balance"});
    // 100 m of water a year, gained or lost: more than anywhere on Earth.
    const double per_year = core::seconds_per_year;
    warn_if_implausible(*smb, g, "surface mass balance", -1e5 / per_year, 1e5 / per_year, per_year,
                        "kg m-2 year-1", "more than 100 m water equivalent a year", in.log);
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
  in.dhdt = look_up(*obs_file, "dhdt", config);
  if (radar) {
    require_non_negative(radar->values, g, "observed thickness " + radar->describe(), "m",
                         "a radar thickness must be >= 0", in.log);
    warn_if_implausible(*radar, g, "observed thickness", 0, 1e4, 1, "m", thickest, in.log);
  }
  // The fastest glaciers flow some 17 km a year.
  const double per_year = core::seconds_per_year;
  for (auto* f : {&u, &v, &speed})
    if (*f && (*f)->file != "derived")
      warn_if_implausible(**f, g, "observed velocity", -1e5 / per_year, 1e5 / per_year, per_year,
                          "m year-1", "faster than any glacier", in.log);
  // Outlet glaciers thin by tens of metres a year at most.
  if (in.dhdt)
    warn_if_implausible(*in.dhdt, g, "observed dh/dt", -1e3 / per_year, 1e3 / per_year, per_year,
                        "m year-1", "a kilometre of thickness a year", in.log);
  if (u && v && !speed) {
    speed = InputArray{"velsurfobs_mag", "derived", HostField(n)};
    for (size_t k = 0; k < n; ++k) speed->values[k] = std::hypot(u->values[k], v->values[k]);
    note("derived velsurfobs_mag = |(uvelsurfobs, vvelsurfobs)|");
  }
  for (auto [name, found] : {std::pair{"uvelsurfobs", &u}, std::pair{"vvelsurfobs", &v},
                             std::pair{"velsurfobs_mag", &speed}, std::pair{"thkobs", &radar},
                             std::pair{"dhdt", &in.dhdt}})
    if (*found && (*found)->file != "derived")
      note("read " + std::string(name) + " from " + (*found)->describe());
  if (!obs_path.empty() && !u && !v && !speed && !radar)
    throw Error("no observations found in '" + obs_path +
                "' (looked for surface velocity such as uvelsurfobs/ux_srf/vx and radar thickness "
                "such as thkobs; set input.names.*)");
  // What the reader assumed about each file (units), for the log.
  std::vector<const InputFile*> files = {&geometry_file};
  for (const InputFile* file : {forcing_file, obs_file})
    if (std::find(files.begin(), files.end(), file) == files.end()) files.push_back(file);
  for (const InputFile* file : files)
    for (const auto& w : file->warnings()) in.log.push_back({true, w});
  crop_to_region(in, config);
  coarsen_inputs(in, config);
  return in;
}

namespace {

/// `parallel.decomposition`: the ice-balanced split of the grid (from the
/// thickness every rank has read) or PETSc's even one.
core::DecompositionOptions decomposition(const InputArrays& arrays, const Config& config,
                                         MPI_Comm comm) {
  int ranks = 1;
  MPI_Comm_size(comm, &ranks);
  if (ranks < 2 || config.get_string("parallel.decomposition") != "ice" || !arrays.thk) return {};
  std::vector<double> weight(arrays.thk->values.size());
  for (size_t k = 0; k < weight.size(); ++k) weight[k] = arrays.thk->values[k] > 0 ? 1.0 : 0.1;
  return core::weight_balanced_decomposition(arrays.grid.nx(), arrays.grid.ny(), weight, ranks);
}

} // namespace

ModelInputs distribute_inputs(const InputArrays& arrays, const Config& config, MPI_Comm comm) {
  ModelInputs in;
  in.grid = core::ParallelGrid::create(comm, arrays.grid, decomposition(arrays, config, comm));
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
