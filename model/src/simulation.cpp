#include "nunatak/model/simulation.hpp"

#include "nunatak/model/ml_components.hpp"

#include "nunatak/core/collective.hpp"
#include "nunatak/core/constants.hpp"
#include "nunatak/core/error.hpp"
#include "nunatak/core/petsc_check.hpp"
#include "nunatak/core/runtime.hpp"
#include "nunatak/io/checkpoint.hpp"
#include "nunatak/io/output_file.hpp"
#include "nunatak/io/quantities.hpp"
#include "nunatak/io/quicklook.hpp"
#include "nunatak/io/units.hpp"
#include "nunatak/model/model_inputs.hpp"

#include <fmt/format.h>
#include <petscsys.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <optional>
#include <set>
#include <sstream>

namespace nunatak::model {

namespace fs = std::filesystem;

namespace {

core::Field2D clone(const core::Field2D& f) {
  core::Field2D copy(f.grid_ptr(), f.info());
  Kokkos::deep_copy(copy.view(), f.view());
  return copy;
}

constexpr double year = core::seconds_per_year;

/// Model times (s) start + k * interval, k = 1, 2, ..., and the end. Each is
/// computed from k in years and then converted (no accumulated round-off), so
/// record k of a run from year 0 with interval 100 is at exactly
/// (k * 100) * seconds_per_year; a time within a tolerance (a billionth of the
/// interval, or round-off of the times themselves) of the end is the end.
class Schedule {
public:
  /// Times in years; interval <= 0: only the end.
  Schedule(double start, double interval, double end)
      : m_start(start), m_interval(interval), m_end(end * year),
        m_tolerance(1e-9 * interval * year + 64.0 * std::numeric_limits<double>::epsilon() *
                                                 std::max(std::abs(start), std::abs(end)) * year) {}
  /// The first scheduled time after `t` (s), more than the tolerance after it.
  double next(double t) const {
    if (!(m_interval > 0.0)) return m_end;
    double k = std::max(0.0, std::floor((t / year - m_start) / m_interval) - 1.0);
    for (;; k += 1.0) {
      const double tk = time(k);
      if (tk >= m_end) return m_end;
      if (tk > t + m_tolerance) return tk;
    }
  }

  /// The scheduled time within the tolerance of `t` (s), or else `t`.
  double near(double t) const {
    if (std::abs(t - m_end) <= m_tolerance) return m_end;
    if (!(m_interval > 0.0)) return t;
    const double tk = time(std::max(0.0, std::round((t / year - m_start) / m_interval)));
    return std::abs(tk - t) <= m_tolerance ? tk : t;
  }

private:
  double time(double k) const {
    const double t = (m_start + k * m_interval) * year;
    return std::abs(t - m_end) <= m_tolerance ? m_end : t;
  }
  double m_start, m_interval, m_end, m_tolerance;
};

std::string stem_path(const std::string& output, const std::string& suffix) {
  const fs::path p(output);
  return (p.parent_path() / (p.stem().string() + suffix)).string();
}

std::string years_text(double seconds) {
  std::ostringstream s;
  s.precision(12);
  s << seconds / year;
  return s.str();
}

} // namespace

void insert_petsc_options(const std::string& text, const std::string& prefix) {
  for (auto [name, value] : core::parse_petsc_options(text, "petsc.options")) {
    if (!prefix.empty()) name = "-" + prefix + name.substr(1);
    PetscBool set = PETSC_FALSE;
    NUNATAK_PETSC(PetscOptionsHasName(nullptr, nullptr, name.c_str(), &set));
    if (!set)
      NUNATAK_PETSC(
          PetscOptionsSetValue(nullptr, name.c_str(), value.empty() ? nullptr : value.c_str()));
  }
}

/// Where a restart came from and which output it continues.
struct RestartOrigin {
  std::string checkpoint;  ///< the file given to --restart
  std::string output_file; ///< the output it belongs to ("" if it does not say)
  long long output_records = -1;
  double output_last_time = 0;
  bool continue_output = true; ///< false: this run writes a new output file
};

struct Simulation::Impl {
  io::Config config;
  std::string command_line;
  ModelInputs inputs;
  std::vector<std::string> variables;
  std::vector<double> sigma;
  std::string output, timeseries, checkpoint;
  double output_interval = 0, checkpoint_interval = 0; ///< years
  std::vector<io::TimeSeriesRecord> series;
  std::optional<RestartOrigin> restart;
  std::vector<std::string> warnings, state_warnings;
  /// A run stepped by a host (begin_stepping .. end_stepping).
  std::unique_ptr<io::OutputFile> host_output;
  double host_volume_start = 0;
  std::chrono::steady_clock::time_point host_start;
  io::Provenance provenance() const {
    return {command_line, &config, config.get_string("experiment.name")};
  }
};

namespace {

/// The time-series row of the step `r` that brought `model` to its state.
io::TimeSeriesRecord step_record(const StepReport& r, const TransientModel& model) {
  io::TimeSeriesRecord rec;
  rec.time = model.state().time;
  rec.dt = r.dt;
  rec.volume = model.volume();
  rec.area = model.area();
  rec.smb = r.budget.smb;
  rec.edge_outflow = r.budget.edge_outflow;
  rec.clipped = r.budget.clipped;
  rec.calved = r.budget.calved;
  rec.residual = r.budget.residual();
  rec.emulator_solver_difference = r.solver_check;
  return rec;
}

} // namespace

std::string timeseries_path(const std::string& output) {
  return stem_path(output, "_ts.nc");
}

std::string checkpoint_path(const io::Config& config) {
  const std::string configured = config.get_string("checkpoint.file");
  return configured.empty() ? stem_path(config.get_string("output.file"), "_checkpoint.nc")
                            : configured;
}

io::FilePlan configured_files(const io::Config& config, Purpose purpose,
                              const std::string& restart) {
  io::FilePlan plan;
  // The configuration file is read too: an output named like it would
  // replace the experiment's description.
  plan.read(config.source_file(), "the configuration file");
  for (const char* key : {"input.geometry.file", "input.forcing.file", "input.observations.file"})
    plan.read(config.get_string(key), key);
  const std::string output = config.get_string("output.file");
  if (output.empty()) throw Error("output.file is empty: it must name a file");
  plan.write(output, "output.file");
  const std::string series = timeseries_path(output);
  if (purpose == Purpose::run) {
    // A restart reads its checkpoint completely before it writes its own
    // checkpoints (renamed into place), so they may be the same file.
    plan.read(restart, "--restart", "checkpoint.file");
    plan.write(series, "the time series of output.file", "output.file");
    plan.write(checkpoint_path(config), "checkpoint.file");
  }
  const auto variables = config.get_list("output.variables");
  for (const auto& q : config.get_list("output.quicklook")) {
    const bool is_series = purpose == Purpose::run && io::is_timeseries_variable(q) &&
                           std::find(variables.begin(), variables.end(), q) == variables.end();
    plan.write(io::quicklook_path(is_series ? series : output, q), "output.quicklook (" + q + ")",
               "output.file");
  }
  return plan;
}

void prepare_files(const io::FilePlan& plan, MPI_Comm comm) {
  io::on_rank_zero(comm, [&] {
    io::check_file_plan(plan);
    for (const auto& message : io::clean_stale_temporaries(plan)) spdlog::warn("{}", message);
  });
}

bool restart_may_change(const std::string& key) {
  static const std::set<std::string> keys = {"time.end",
                                             "output.interval",
                                             "checkpoint.interval",
                                             "checkpoint.file",
                                             "output.file",
                                             "output.quicklook",
                                             "output.compression_level",
                                             "experiment.name",
                                             "petsc.options",
                                             "output.variables",
                                             "output.levels"};
  return keys.count(key) > 0;
}

namespace {

/// `base` with the scenario keys surface_mass_balance.factor, .offset and
/// .offset_rate (m/a ice equivalent, per year) applied, or `base` itself
/// when they are at their defaults. `start` in s, `ice_density` kg m-3.
std::unique_ptr<SurfaceForcing> scenario_forcing(std::unique_ptr<SurfaceForcing> base,
                                                 const io::Config& config, double start,
                                                 double ice_density) {
  const double factor = config.get_real("surface_mass_balance.factor");
  const double offset = config.get_real("surface_mass_balance.offset");
  const double rate = config.get_real("surface_mass_balance.offset_rate");
  if (factor == 1 && offset == 0 && rate == 0) return base;
  // m/a of ice to kg m-2 s-1 (and per year to per second for the rate).
  const double flux = ice_density / core::seconds_per_year;
  return std::make_unique<ScenarioForcing>(std::move(base), factor, offset * flux,
                                           rate * flux / core::seconds_per_year, start);
}

/// The friction coefficient of PISM's pseudo-plastic law,
///   tau_b = -tau_c |u_b|^(q-1) u_b / u0^q = -beta^2 |u_b|^(q-1) u_b,
///   beta^2 = tau_c / u0^q   (Pa (m/a)^-q; u0 = sliding.threshold_speed in m/a,
/// q = 1/sliding.exponent), with tau_c the input's tauc, or else the uniform
/// sliding.yield_stress. On the rank's ghosted box (the input has its ghosts).
core::Field2D pseudo_plastic_friction(const ModelInputs& in, const io::Config& config) {
  const double q = 1.0 / config.get_real("sliding.exponent");
  const double scale = 1.0 / std::pow(config.get_real("sliding.threshold_speed"), q);
  const core::FieldInfo info{"beta2",
                             "basal friction coefficient beta^2 = tau_c / u0^q (pseudo-plastic)",
                             "",
                             "Pa (m/a)^-q",
                             "Pa (m/a)^-q",
                             {},
                             ""};
  if (!in.tauc) {
    const double tau_c = config.get_real("sliding.yield_stress");
    if (!(tau_c > 0.0))
      throw Error("sliding.law = pseudo_plastic needs the till yield stress: a variable tauc in '" +
                  config.get_string("input.geometry.file") +
                  "' (or input.names.tauc), or a positive sliding.yield_stress");
    return core::Field2D(in.grid, info, tau_c * scale);
  }
  core::Field2D beta2(in.grid, info);
  const core::View2D tauc = in.tauc->view(), b2 = beta2.view();
  Kokkos::parallel_for(
      "model::pseudo_plastic_friction",
      Kokkos::MDRangePolicy<Kokkos::Rank<2>>({0, 0}, {int(tauc.extent(0)), int(tauc.extent(1))}),
      KOKKOS_LAMBDA(int j, int i) { b2(j, i) = tauc(j, i) * scale; });
  return beta2;
}

/// The fields a run can write, besides velocities.
std::set<std::string> known_variables(const io::ModelInputs& in) {
  std::set<std::string> names = {
      "thk",         "usurf",    "topg",     "mask",     "climatic_mass_balance",
      "velsurf_mag", "uvelsurf", "vvelsurf", "uvelbase", "vvelbase",
      "ubar",        "vbar",     "uvel",     "vvel"};
  const auto& o = in.observations;
  if (o.velsurfobs_mag) names.insert("velsurfobs_mag");
  if (o.uvelsurfobs) names.insert("uvelsurfobs");
  if (o.vvelsurfobs) names.insert("vvelsurfobs");
  if (o.thkobs) names.insert("thkobs");
  return names;
}

/// Throws if the interval `key` (years; 0: none) gives more than a million
/// records or checkpoints from time.start to time.end: each one shortens a
/// step to land on it, so a tiny interval is a run that never ends.
void check_interval(const io::Config& config, const std::string& key) {
  constexpr double max_count = 1e6;
  const double interval = config.get_real(key);
  const double span = config.get_real("time.end") - config.get_real("time.start");
  if (interval > 0.0 && span / interval > max_count)
    throw Error(fmt::format("{} = {:g} year gives {:.3g} times from time.start to time.end ({:g} "
                            ".. {:g} year); at most {:g}: choose a longer interval (0: none)",
                            key, interval, span / interval, config.get_real("time.start"),
                            config.get_real("time.end"), max_count));
}

} // namespace

Simulation::Simulation(const io::Config& config, MPI_Comm comm, std::string command_line,
                       const std::string& options_prefix)
    : m_impl(std::make_unique<Impl>()) {
  Impl& s = *m_impl;
  s.config = config;
  s.command_line = std::move(command_line);
  m_start = config.get_real("time.start") * year;
  m_end = config.get_real("time.end") * year;
  if (!(m_end > m_start))
    throw Error("time.end (" + config.text("time.end") + " year) must be after time.start (" +
                config.text("time.start") + " year)");
  check_interval(config, "output.interval");
  check_interval(config, "checkpoint.interval");
  s.inputs = read_model_inputs(config, comm);
  if (!s.inputs.geometry.thk || !s.inputs.geometry.topg)
    throw Error("a transient run needs ice thickness and bed elevation; '" +
                config.get_string("input.geometry.file") + "' does not provide both");

  s.variables = config.get_list("output.variables");
  const auto known = known_variables(s.inputs);
  for (const auto& v : s.variables)
    if (!known.count(v)) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      throw Error("output.variables: '" + v + "' cannot be written by this run (known: " + list +
                  ")");
    }
  s.sigma = core::uniform_sigma(int(config.get_int("output.levels")));
  s.output = config.get_string("output.file");
  s.timeseries = timeseries_path(s.output);
  s.checkpoint = checkpoint_path(config);
  s.output_interval = config.get_real("output.interval");
  s.checkpoint_interval = config.get_real("checkpoint.interval");

  ModelParams params;
  params.stress.flow.n = config.get_real("flow_law.glen_exponent");
  params.stress.flow.softness = config.get_real("flow_law.softness") / year;
  if (const double B = config.get_real("flow_law.hardness"); B > 0.0)
    params.stress.flow.softness = std::pow(B, -params.stress.flow.n) / year;
  params.stress.flow.enhancement = config.get_real("flow_law.enhancement_factor");
  params.stress.flow.ice_density = config.get_real("constants.ice.density");
  params.stress.flow.gravity = config.get_real("constants.standard_gravity");
  // Sliding: weertman is uniform (the solvers' SlidingLaw); pseudo_plastic is
  // a friction field (StressCoefficients::basal_friction) with q = 1/m.
  const std::string sliding_law = config.get_string("sliding.law");
  params.stress.sliding.exponent = config.get_real("sliding.exponent");
  if (sliding_law == "weertman")
    params.stress.sliding.coefficient = config.get_real("sliding.coefficient") / year;
  params.transport.floatation = io::configured_floatation(config);
  params.transport.calve_floating_ice = config.get_bool("calving.remove_floating_ice");
  params.diffusivity_safety = config.get_real("time.diffusivity_safety");
  params.cfl = config.get_real("time.cfl");
  params.stress.bp_levels = int(config.get_int("bp.levels"));
  params.stress.bp_minimum_thickness = config.get_real("bp.minimum_thickness");
  params.stress.bp_regularisation = config.get_real("bp.regularisation");
  params.stress.bp_ocean_pressure = config.get_bool("bp.ocean_pressure");
  params.stress.sea_level = params.transport.floatation.sea_level;
  params.stress.sea_water_density = params.transport.floatation.sea_water_density;
  params.stress.emulator_model = config.get_string("emulator.model");
  params.stress.emulator_output = config.get_string("emulator.output");
  params.stress.emulator_device = config.get_string("emulator.device");
  params.stress.emulator_precision = config.get_string("emulator.precision");
  params.stress.emulator_retrain_every = int(config.get_int("emulator.retrain_every"));
  params.stress.emulator_retrain_steps = int(config.get_int("emulator.retrain_steps"));
  params.stress.emulator_retrain_learning_rate = config.get_real("emulator.retrain_learning_rate");
  params.stress.emulator_solver_check_every = int(config.get_int("emulator.solver_check_every"));
  params.stress.emulator_refine_steps = int(config.get_int("emulator.refine_steps"));
  params.stress.emulator_refine_method = config.get_string("emulator.refine_method");
  // LibTorch (the plugin, in the nunatak program) only for the emulator.
  if (config.get_string("stress_balance.model") == "emulator") register_emulator_stress_balance();
  params.max_dt = config.get_real("time.max_step") * year;

  params.stress.options_prefix = options_prefix;
  insert_petsc_options(config.get_string("petsc.options"), options_prefix);

  const auto& geometry = s.inputs.geometry;
  auto grid = s.inputs.grid;
  // The surface mass balance: the inputs' field, or else the configured
  // constant (m/a ice equivalent; 0 by default, said as a warning).
  const bool constant_set = config.origin("surface_mass_balance.constant") != "default";
  const double constant = config.get_real("surface_mass_balance.constant");
  if (s.inputs.forcing.climatic_mass_balance && constant_set)
    throw Error("surface_mass_balance.constant is set (" +
                config.text("surface_mass_balance.constant") +
                " m/a ice equivalent), but the inputs have a surface mass balance field (from " +
                (config.get_string("input.forcing.file").empty()
                     ? "input.geometry.file '" + config.get_string("input.geometry.file")
                     : "input.forcing.file '" + config.get_string("input.forcing.file")) +
                "'): use one or the other");
  if (!s.inputs.forcing.climatic_mass_balance && !constant_set)
    s.warnings.push_back(
        "no surface mass balance in the inputs (input.forcing.file, input.geometry.file '" +
        config.get_string("input.geometry.file") +
        "'): the run uses surface_mass_balance.constant = " +
        config.text("surface_mass_balance.constant") +
        " m/a ice equivalent everywhere (set it, or give a file with a surface mass balance)");
  core::Field2D smb =
      s.inputs.forcing.climatic_mass_balance
          ? clone(*s.inputs.forcing.climatic_mass_balance)
          : core::Field2D(grid, io::quantity("climatic_mass_balance").info,
                          constant * params.transport.floatation.ice_density / year);
  ModelState state{clone(*geometry.thk),
                   clone(*geometry.topg),
                   core::Field2D(grid, io::quantity("usurf").info),
                   core::Field2D(grid, io::quantity("mask").info),
                   clone(smb),
                   m_start,
                   0};
  StressCoefficients coefficients;
  if (sliding_law == "pseudo_plastic")
    coefficients.basal_friction = pseudo_plastic_friction(s.inputs, config);
  // A softness field in the input replaces flow_law.softness / hardness.
  if (s.inputs.softness) coefficients.softness = *s.inputs.softness;
  m_model = std::make_unique<TransientModel>(
      solver::make_stress_balance(config.get_string("stress_balance.model"), grid, params.stress),
      scenario_forcing(std::make_unique<ConstantForcing>(std::move(smb)), config, m_start,
                       params.transport.floatation.ice_density),
      std::move(state), params, std::move(coefficients));
  const TransientModel::InitialCalving& calved = m_model->initial_calving();
  if (calved.cells > 0) {
    std::ostringstream text;
    text.precision(4);
    text << "the input holds " << calved.cells << " cells of floating ice (" << calved.volume * 1e-9
         << " km3); calving.remove_floating_ice is true, so they were removed before the first "
            "stress balance, as every time step removes floating ice (set "
            "calving.remove_floating_ice: false to keep ice shelves: they then slide freely)";
    s.state_warnings.push_back(text.str());
  }
}

Simulation::~Simulation() = default;

const std::vector<std::string>& Simulation::warnings() const {
  return m_impl->warnings;
}

const std::vector<std::string>& Simulation::state_warnings() const {
  return m_impl->state_warnings;
}

void Simulation::restart_from(const std::string& path, bool allow_config_change) {
  Impl& s = *m_impl;
  const core::ParallelGrid& grid = m_model->state().thk.grid();
  const core::Grid& g = grid.grid();
  io::Checkpoint c;
  RestartOrigin origin;
  std::vector<std::string> notes;
  // Every rank reads the (small) checkpoint and checks it; one that fails
  // must not leave the others waiting in the ghost exchange of restore().
  core::collective(grid.comm(), [&] {
    c = io::read_checkpoint(path);
    const std::string where = "restart: the checkpoint '" + path + "'";
    if (static_cast<long long>(c.thk.size()) != g.size())
      throw Error(where + " has " + std::to_string(c.thk.size()) + " cells, the grid " +
                  std::to_string(g.size()) + " (" + g.describe() + ")");
    if (int(c.x.size()) != g.nx() || int(c.y.size()) != g.ny())
      throw Error(where + " has " + std::to_string(c.x.size()) + " x " +
                  std::to_string(c.y.size()) + " cells, the grid " + g.describe());
    const double tol_x = 1e-6 * std::abs(g.dx()), tol_y = 1e-6 * std::abs(g.dy());
    for (int i = 0; i < g.nx(); ++i)
      if (!(std::abs(c.x[size_t(i)] - g.x(i)) <= tol_x))
        throw Error(where + " is on another grid: x[" + std::to_string(i) + "] is " +
                    std::to_string(c.x[size_t(i)]) + " m there, " + std::to_string(g.x(i)) +
                    " m in this run's inputs (" + g.describe() + ")");
    for (int j = 0; j < g.ny(); ++j)
      if (!(std::abs(c.y[size_t(j)] - g.y(j)) <= tol_y))
        throw Error(where + " is on another grid: y[" + std::to_string(j) + "] is " +
                    std::to_string(c.y[size_t(j)]) + " m there, " + std::to_string(g.y(j)) +
                    " m in this run's inputs (" + g.describe() + ")");
    if (!(c.time >= m_start) || !(c.time < m_end))
      throw Error(where + " is at year " + years_text(c.time) +
                  ", outside this run's time.start .. time.end (" + years_text(m_start) + " .. " +
                  years_text(m_end) + ")");

    origin.checkpoint = path;
    origin.output_file = c.output_file;
    origin.output_records = c.output_records;
    origin.output_last_time = c.output_last_time;
    origin.continue_output = c.output_file.empty() || c.output_file == s.output ||
                             io::same_file(c.output_file, s.output);

    // The configuration: the checkpoint's against this run's.
    if (c.config.empty()) {
      notes.push_back("the checkpoint '" + path +
                      "' does not hold its run's configuration (written by an older nunatak): "
                      "this run's configuration is not checked against it");
      return;
    }
    std::vector<std::string> refused;
    const io::Config defaults;
    for (const auto& spec : io::config_schema()) {
      // A key the checkpoint lacks (added since) had its default there.
      const auto it = c.config.find(spec.name);
      const std::string before = it != c.config.end() ? it->second : defaults.text(spec.name);
      const std::string now = s.config.text(spec.name);
      if (before == now) continue;
      const std::string change = spec.name + ": " + before + " -> " + now;
      const bool output_layout = spec.name == "output.variables" || spec.name == "output.levels";
      if (restart_may_change(spec.name) && !(output_layout && origin.continue_output))
        notes.push_back("restart: " + change + " (allowed)");
      else
        refused.push_back(change);
    }
    if (refused.empty()) return;
    std::string list;
    for (const auto& r : refused) list += (list.empty() ? "" : "; ") + r;
    if (allow_config_change) {
      notes.push_back("restart with a configuration other than the checkpoint's (" + list +
                      "): allowed by --allow-config-change; this is not a continuation of the "
                      "checkpoint's experiment");
      return;
    }
    throw Error(
        "restart: this run's configuration differs from that of the checkpoint '" + path + "' in " +
        std::to_string(refused.size()) + " key(s): " + list +
        ". Restart with the checkpoint's configuration (the same file and --set options; the "
        "checkpoint holds it in nunatak_config_yaml), or give --allow-config-change to run "
        "another experiment from this state" +
        std::string(std::any_of(refused.begin(), refused.end(),
                                [](const std::string& r) {
                                  return r.rfind("output.variables", 0) == 0 ||
                                         r.rfind("output.levels", 0) == 0;
                                })
                        ? " (output.variables and output.levels may change when the output is "
                          "a new file: set another output.file)"
                        : ""));
  });
  m_model->restore(c.thk, c.time, c.steps);
  s.series = std::move(c.series);
  s.restart = origin;
  if (grid.rank() == 0)
    for (const auto& n : notes) spdlog::warn("{}", n);
}

void Simulation::write_checkpoint(const std::string& path) const {
  const core::ParallelGrid& grid = m_model->state().thk.grid();
  io::Checkpoint c;
  c.thk = grid.gather_to_zero(m_model->state().thk);
  c.time = m_model->state().time;
  c.steps = m_model->state().steps;
  const Impl& s = *m_impl;
  io::on_rank_zero(grid.comm(), [&] {
    c.series = s.series;
    io::write_checkpoint(path, grid.grid(), c, io::Provenance{s.command_line, &s.config, ""});
  });
}

void Simulation::write_run_checkpoint(io::OutputFile& out, const std::string& status) {
  const Impl& s = *m_impl;
  const core::ParallelGrid& grid = m_model->state().thk.grid();
  const io::Provenance provenance{s.command_line, &s.config,
                                  s.config.get_string("experiment.name")};
  // The outputs first: a run killed between the two leaves an output with
  // more records than the checkpoint's, and a restart drops the extra ones.
  out.publish(status);
  io::Checkpoint c;
  c.thk = grid.gather_to_zero(m_model->state().thk);
  c.time = m_model->state().time;
  c.steps = m_model->state().steps;
  c.output_file = s.output;
  c.output_records = out.records();
  c.output_last_time = out.last_time();
  io::on_rank_zero(grid.comm(), [&] {
    io::write_timeseries(s.timeseries, s.series, provenance, status);
    c.series = s.series;
    io::write_checkpoint(s.checkpoint, grid.grid(), c, provenance);
  });
}

RunSummary Simulation::run(RunSignals& signals, const ProgressCallback& progress) {
  Impl& s = *m_impl;
  TransientModel& model = *m_model;
  const auto grid = s.inputs.grid;
  const auto start_wall = std::chrono::steady_clock::now();
  auto wall = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_wall).count();
  };
  // No output over an input (also when the caller did not check).
  prepare_files(configured_files(s.config, Purpose::run, s.restart ? s.restart->checkpoint : ""),
                grid->comm());

  const io::Provenance provenance = s.provenance();
  const int deflate = int(s.config.get_int("output.compression_level"));
  const double now_at_start = model.state().time;
  std::unique_ptr<io::OutputFile> out;
  bool first_record = true;
  if (s.restart && s.restart->continue_output) {
    const RestartOrigin& r = *s.restart;
    if (r.output_file.empty() && grid->rank() == 0)
      spdlog::warn("the checkpoint '{}' does not say which output it belongs to (written by an "
                   "older nunatak): '{}' continues from its records up to year {}, if it exists",
                   r.checkpoint, s.output, years_text(now_at_start));
    try {
      out = io::OutputFile::resume(
          grid, s.output, provenance, now_at_start, deflate,
          r.output_file.empty() ? std::nullopt : std::optional<long long>(r.output_records),
          r.output_last_time);
    } catch (const CollectiveError& e) {
      throw CollectiveError("restart from '" + r.checkpoint + "': " + e.what(), e.origin_rank());
    }
    first_record = false;
  } else {
    if (s.restart && grid->rank() == 0)
      spdlog::warn("restart: output.file '{}' is not the output '{}' of the checkpoint '{}': it "
                   "is a new file that starts at year {} (the checkpoint's time); the records "
                   "before are in '{}'",
                   s.output, s.restart->output_file, s.restart->checkpoint,
                   years_text(now_at_start), s.restart->output_file);
    out = std::make_unique<io::OutputFile>(grid, s.output, provenance, deflate);
  }

  RunSummary summary;
  summary.volume_start = model.volume();
  if (first_record) write_output(*out);
  const double start_years = s.config.get_real("time.start"),
               end_years = s.config.get_real("time.end");
  const Schedule outputs(start_years, s.output_interval, end_years);
  const Schedule checkpoints(start_years, s.checkpoint_interval, end_years);
  auto status = [&] {
    return "incomplete: the records up to year " + years_text(model.state().time) +
           ", published with the checkpoint '" + s.checkpoint +
           "' (the run had not finished; continue it with --restart " + s.checkpoint + ")";
  };
  while (model.state().time < m_end) {
    const double t = model.state().time;
    const double next_output = outputs.next(t);
    const double next_checkpoint = s.checkpoint_interval > 0 ? checkpoints.next(t) : m_end;
    const StepReport r = model.step(std::min(next_output, next_checkpoint));
    const double now = model.state().time;
    s.series.push_back(step_record(r, model));
    summary.budget_residual += s.series.back().residual;
    if (now == next_output) write_output(*out);
    bool checkpoint_now = s.checkpoint_interval > 0 && now == next_checkpoint && now < m_end;
    // All ranks act on a signal together.
    int local[2] = {signals.stop.load(), signals.checkpoint.load()}, global[2] = {0, 0};
    MPI_Allreduce(local, global, 2, MPI_INT, MPI_MAX, grid->comm());
    if (global[1]) {
      checkpoint_now = true;
      signals.checkpoint = 0;
    }
    const bool stop = global[0] && now < m_end;
    if ((checkpoint_now || stop) && now < m_end) {
      write_run_checkpoint(*out, status());
      summary.checkpoint = s.checkpoint;
    }
    if (progress) progress(now, model.state().steps, wall());
    if (stop) break;
  }
  summary.completed = model.state().time >= m_end;
  summary.output = s.output;
  summary.timeseries = s.timeseries;
  if (summary.completed) {
    out->commit("complete");
    io::on_rank_zero(grid->comm(),
                     [&] { io::write_timeseries(s.timeseries, s.series, provenance); });
  }
  // Stopped: the outputs were published with the checkpoint; the writer's
  // temporary goes with it.
  summary.time = model.state().time;
  summary.steps = model.state().steps;
  summary.volume_end = model.volume();
  if (s.checkpoint_interval > 0) summary.checkpoint = s.checkpoint;

  compare_with_observations(summary);
  summary.wall_seconds = wall();
  return summary;
}

void Simulation::begin_stepping() {
  Impl& s = *m_impl;
  if (s.host_output) throw Error("begin_stepping: the run is being stepped already");
  const auto grid = s.inputs.grid;
  prepare_files(configured_files(s.config, Purpose::run), grid->comm());
  s.host_output = std::make_unique<io::OutputFile>(
      grid, s.output, s.provenance(), int(s.config.get_int("output.compression_level")));
  s.host_volume_start = m_model->volume();
  s.host_start = std::chrono::steady_clock::now();
  write_output(*s.host_output);
}

StepReport Simulation::step_to(double t_limit) {
  Impl& s = *m_impl;
  if (!s.host_output) throw Error("step_to: call begin_stepping first");
  TransientModel& model = *m_model;
  const Schedule outputs(s.config.get_real("time.start"), s.output_interval,
                         s.config.get_real("time.end"));
  const double next_output = outputs.next(model.state().time);
  // A host's target that is an output time but for round-off is that time.
  const StepReport r = model.step(std::min(outputs.near(t_limit), next_output));
  s.series.push_back(step_record(r, model));
  if (model.state().time == next_output) write_output(*s.host_output);
  return r;
}

double Simulation::output_time_near(double t) const {
  const Impl& s = *m_impl;
  return Schedule(s.config.get_real("time.start"), s.output_interval, s.config.get_real("time.end"))
      .near(t);
}

RunSummary Simulation::end_stepping() {
  Impl& s = *m_impl;
  RunSummary summary;
  if (!s.host_output) return summary;
  const TransientModel& model = *m_model;
  summary.completed = model.state().time >= m_end;
  const std::string status = summary.completed ? "complete"
                                               : "stopped by the host program at year " +
                                                     years_text(model.state().time) +
                                                     " (time.end is " + years_text(m_end) + ")";
  s.host_output->commit(status);
  s.host_output.reset();
  const io::Provenance provenance = s.provenance();
  io::on_rank_zero(s.inputs.grid->comm(),
                   [&] { io::write_timeseries(s.timeseries, s.series, provenance, status); });
  summary.time = model.state().time;
  summary.steps = model.state().steps;
  summary.output = s.output;
  summary.timeseries = s.timeseries;
  summary.volume_start = s.host_volume_start;
  summary.volume_end = model.volume();
  for (const auto& r : s.series) summary.budget_residual += r.residual;
  summary.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - s.host_start).count();
  return summary;
}

void Simulation::write_output(io::OutputFile& out) {
  const Impl& s = *m_impl;
  TransientModel& model = *m_model;
  const bool wants_3d = std::count(s.variables.begin(), s.variables.end(), "uvel") +
                            std::count(s.variables.begin(), s.variables.end(), "vvel") >
                        0;
  const solver::Velocities v = model.velocities(wants_3d ? s.sigma : std::vector<double>{});
  const ModelState& st = model.state();
  std::vector<const core::Field2D*> fields;
  std::vector<const core::Field3D*> fields3d;
  const auto& obs = s.inputs.observations;
  for (const auto& name : s.variables) {
    const core::Field2D* f = nullptr;
    if (name == "thk") f = &st.thk;
    if (name == "usurf") f = &st.usurf;
    if (name == "topg") f = &st.topg;
    if (name == "mask") f = &st.mask;
    if (name == "climatic_mass_balance") f = &st.smb;
    for (const auto* vf : v.fields2d())
      if (vf->info().name == name) f = vf;
    if (name == "velsurfobs_mag") f = &*obs.velsurfobs_mag;
    if (name == "uvelsurfobs") f = &*obs.uvelsurfobs;
    if (name == "vvelsurfobs") f = &*obs.vvelsurfobs;
    if (name == "thkobs") f = &*obs.thkobs;
    if (f) fields.push_back(f);
    if (name == "uvel") fields3d.push_back(&*v.uvel);
    if (name == "vvel") fields3d.push_back(&*v.vvel);
  }
  out.write_record(st.time, fields, fields3d);
}

void Simulation::compare_with_observations(RunSummary& summary) {
  const Impl& s = *m_impl;
  TransientModel& model = *m_model;
  const auto grid = s.inputs.grid;
  if (!s.inputs.observations.velsurfobs_mag) return;
  // The flow of the last output (always the current state: the end of a run
  // and a diagnostic solve are output times), without solving again.
  const solver::Velocities v = model.stress_balance().velocities({});
  const core::LocalBox b = grid->box();
  auto model_speed = Kokkos::create_mirror_view(v.velsurf_mag.view());
  auto obs_speed = Kokkos::create_mirror_view(s.inputs.observations.velsurfobs_mag->view());
  auto thk = Kokkos::create_mirror_view(model.state().thk.view());
  auto bed = Kokkos::create_mirror_view(model.state().topg.view());
  Kokkos::deep_copy(model_speed, v.velsurf_mag.view());
  Kokkos::deep_copy(obs_speed, s.inputs.observations.velsurfobs_mag->view());
  Kokkos::deep_copy(thk, model.state().thk.view());
  Kokkos::deep_copy(bed, model.state().topg.view());
  const core::Floatation floatation = model.params().transport.floatation;
  // Per kind (grounded, floating): n, sum (m-o)^2, sum m, sum o; then ice
  // cells without an observed speed.
  double sums[9] = {0, 0, 0, 0, 0, 0, 0, 0, 0};
  for (int j = b.ys; j < b.ys + b.ym; ++j)
    for (int i = b.xs; i < b.xs + b.xm; ++i) {
      const double H = thk(b.lj(j), b.li(i));
      if (!floatation.has_ice(H)) continue;
      const double m = model_speed(b.lj(j), b.li(i)) * year, o = obs_speed(b.lj(j), b.li(i)) * year;
      if (std::isnan(o)) {
        sums[8] += 1;
        continue;
      }
      double* k = floatation.floats(H, bed(b.lj(j), b.li(i))) ? sums + 4 : sums;
      k[0] += 1;
      k[1] += (m - o) * (m - o);
      k[2] += m;
      k[3] += o;
    }
  double total[9];
  MPI_Allreduce(sums, total, 9, MPI_DOUBLE, MPI_SUM, grid->comm());
  summary.has_observed_speed = true;
  for (int kind = 0; kind < 2; ++kind) {
    const double* t = total + 4 * kind;
    SpeedComparison& c = kind == 0 ? summary.grounded : summary.floating;
    c.cells = static_cast<long long>(t[0]);
    if (t[0] > 0) {
      c.rms_misfit = std::sqrt(t[1] / t[0]);
      c.mean_model = t[2] / t[0];
      c.mean_observed = t[3] / t[0];
    }
  }
  summary.ice_cells_without_observation = static_cast<long long>(total[8]);
}

RunSummary Simulation::diagnose() {
  Impl& s = *m_impl;
  const auto start_wall = std::chrono::steady_clock::now();
  prepare_files(configured_files(s.config, Purpose::solve), s.inputs.grid->comm());
  io::Provenance provenance{s.command_line, &s.config, s.config.get_string("experiment.name")};
  io::OutputFile out(s.inputs.grid, s.output, provenance,
                     int(s.config.get_int("output.compression_level")));
  write_output(out);
  out.commit();
  RunSummary summary;
  summary.completed = true;
  summary.output = s.output;
  summary.time = m_model->state().time;
  summary.volume_start = summary.volume_end = m_model->volume();
  compare_with_observations(summary);
  summary.solver = m_model->stress_balance().last_solve_summary();
  summary.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_wall).count();
  return summary;
}

} // namespace nunatak::model
