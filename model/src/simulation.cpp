#include "nunatak/model/simulation.hpp"

#include "nunatak/core/collective.hpp"
#include "nunatak/core/constants.hpp"
#include "nunatak/core/error.hpp"
#include "nunatak/core/petsc_check.hpp"
#include "nunatak/io/checkpoint.hpp"
#include "nunatak/io/output_file.hpp"
#include "nunatak/io/quantities.hpp"
#include "nunatak/io/units.hpp"
#include "nunatak/model/model_inputs.hpp"

#include <petscsys.h>

#include <cctype>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iterator>
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

/// The first time start + k * interval (k >= 1) after t; `end` if interval is 0.
double next_scheduled(double t, double start, double interval, double end) {
  if (interval <= 0.0) return end;
  double k = std::floor((t - start) / interval + 1e-9) + 1.0;
  double next = start + k * interval;
  while (next <= t) next = start + (++k) * interval;
  return std::min(next, end);
}

std::string stem_path(const std::string& output, const std::string& suffix) {
  const fs::path p(output);
  return (p.parent_path() / (p.stem().string() + suffix)).string();
}

/// Inserts the options of `text` ("-name [value] ...") into PETSc's global
/// options database, except those already set (PETSC_OPTIONS, the host
/// program), so that the environment overrides the configuration.
void insert_petsc_options(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> tokens{std::istream_iterator<std::string>(in),
                                  std::istream_iterator<std::string>()};
  auto is_name = [](const std::string& t) {
    return t.size() > 1 && t[0] == '-' && !std::isdigit(static_cast<unsigned char>(t[1])) &&
           t[1] != '.';
  };
  for (size_t k = 0; k < tokens.size(); ++k) {
    if (!is_name(tokens[k]))
      throw Error("petsc.options: expected an option name starting with '-', got '" + tokens[k] +
                  "'");
    const bool has_value = k + 1 < tokens.size() && !is_name(tokens[k + 1]);
    PetscBool set = PETSC_FALSE;
    NUNATAK_PETSC(PetscOptionsHasName(nullptr, nullptr, tokens[k].c_str(), &set));
    if (!set)
      NUNATAK_PETSC(PetscOptionsSetValue(nullptr, tokens[k].c_str(),
                                         has_value ? tokens[k + 1].c_str() : nullptr));
    if (has_value) ++k;
  }
}

} // namespace

struct Simulation::Impl {
  io::Config config;
  std::string command_line;
  ModelInputs inputs;
  std::vector<std::string> variables;
  std::vector<double> sigma;
  std::string output, timeseries, checkpoint;
  double output_interval = 0, checkpoint_interval = 0;
  std::vector<io::TimeSeriesRecord> series;
  bool restarted = false;
};

namespace {

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

} // namespace

Simulation::Simulation(const io::Config& config, MPI_Comm comm, std::string command_line)
    : m_impl(std::make_unique<Impl>(
          Impl{config, std::move(command_line), {}, {}, {}, {}, {}, {}, 0, 0, {}, false})) {
  Impl& s = *m_impl;
  const double year = core::seconds_per_year;
  m_start = config.get_real("time.start") * year;
  m_end = config.get_real("time.end") * year;
  if (!(m_end > m_start))
    throw Error("time.end (" + config.text("time.end") + " year) must be after time.start (" +
                config.text("time.start") + " year)");
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
  s.timeseries = stem_path(s.output, "_ts.nc");
  s.checkpoint = config.get_string("checkpoint.file");
  if (s.checkpoint.empty()) s.checkpoint = stem_path(s.output, "_checkpoint.nc");
  s.output_interval = config.get_real("output.interval") * year;
  s.checkpoint_interval = config.get_real("checkpoint.interval") * year;

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
  params.max_dt = config.get_real("time.max_step") * year;

  insert_petsc_options(config.get_string("petsc.options"));

  const auto& geometry = s.inputs.geometry;
  auto grid = s.inputs.grid;
  core::Field2D smb = s.inputs.forcing.climatic_mass_balance
                          ? clone(*s.inputs.forcing.climatic_mass_balance)
                          : core::Field2D(grid, io::quantity("climatic_mass_balance").info, 0.0);
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
      std::make_unique<ConstantForcing>(std::move(smb)), std::move(state), params,
      std::move(coefficients));
}

Simulation::~Simulation() = default;

void Simulation::restart_from(const std::string& path) {
  const core::ParallelGrid& grid = m_model->state().thk.grid();
  io::Checkpoint c;
  // Every rank reads the (small) checkpoint; one that fails must not leave
  // the others waiting in the ghost exchange of restore().
  core::collective(grid.comm(), [&] {
    c = io::read_checkpoint(path);
    if (!(c.time >= m_start) || !(c.time < m_end))
      throw Error("restart: the checkpoint '" + path + "' is at year " +
                  std::to_string(c.time / core::seconds_per_year) +
                  ", outside this run's time.start .. time.end");
    if (static_cast<long long>(c.thk.size()) != grid.grid().size())
      throw Error("restart: the checkpoint '" + path + "' has " + std::to_string(c.thk.size()) +
                  " cells, the grid " + std::to_string(grid.grid().size()) + " (" +
                  grid.grid().describe() + ")");
  });
  m_model->restore(c.thk, c.time, c.steps);
  m_impl->series = std::move(c.series);
  m_impl->restarted = true;
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

RunSummary Simulation::run(RunSignals& signals, const ProgressCallback& progress) {
  Impl& s = *m_impl;
  TransientModel& model = *m_model;
  const auto grid = s.inputs.grid;
  const auto start_wall = std::chrono::steady_clock::now();
  auto wall = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_wall).count();
  };

  io::Provenance provenance{s.command_line, &s.config, s.config.get_string("experiment.name")};
  const int deflate = int(s.config.get_int("output.compression_level"));
  std::unique_ptr<io::OutputFile> out =
      s.restarted ? io::OutputFile::append(grid, s.output, provenance, model.state().time, deflate)
                  : std::make_unique<io::OutputFile>(grid, s.output, provenance, deflate);

  RunSummary summary;
  summary.volume_start = model.volume();
  if (!s.restarted) write_output(*out);
  while (model.state().time < m_end) {
    const double t = model.state().time;
    const double next_output = next_scheduled(t, m_start, s.output_interval, m_end);
    const double next_checkpoint =
        next_scheduled(t, m_start, s.checkpoint_interval > 0 ? s.checkpoint_interval : 0.0, m_end);
    const double target =
        std::min(next_output, s.checkpoint_interval > 0 ? next_checkpoint : m_end);
    const StepReport r = model.step(target);
    const double now = model.state().time;
    io::TimeSeriesRecord rec;
    rec.time = now;
    rec.dt = r.dt;
    rec.volume = model.volume();
    rec.area = model.area();
    rec.smb = r.budget.smb;
    rec.edge_outflow = r.budget.edge_outflow;
    rec.clipped = r.budget.clipped;
    rec.calved = r.budget.calved;
    rec.residual = r.budget.residual();
    s.series.push_back(rec);
    summary.budget_residual += rec.residual;
    if (now == next_output) write_output(*out);
    if (s.checkpoint_interval > 0 && now == next_checkpoint && now < m_end)
      write_checkpoint(s.checkpoint);
    // All ranks act on a signal together.
    int local[2] = {signals.stop.load(), signals.checkpoint.load()}, global[2] = {0, 0};
    MPI_Allreduce(local, global, 2, MPI_INT, MPI_MAX, grid->comm());
    if (global[1]) {
      write_checkpoint(s.checkpoint);
      signals.checkpoint = 0;
      summary.checkpoint = s.checkpoint;
    }
    if (progress) progress(now, model.state().steps, wall());
    if (global[0] && now < m_end) {
      write_checkpoint(s.checkpoint);
      summary.checkpoint = s.checkpoint;
      break;
    }
  }
  out->commit();
  summary.output = s.output;
  io::on_rank_zero(grid->comm(), [&] { io::write_timeseries(s.timeseries, s.series, provenance); });
  summary.timeseries = s.timeseries;
  summary.completed = model.state().time >= m_end;
  summary.time = model.state().time;
  summary.steps = model.state().steps;
  summary.volume_end = model.volume();
  if (s.checkpoint_interval > 0) summary.checkpoint = s.checkpoint;

  compare_with_observations(summary);
  summary.wall_seconds = wall();
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
  const double year = core::seconds_per_year;
  if (s.inputs.observations.velsurfobs_mag) {
    // The flow of the last output (always the current state: the end of a run
    // and a diagnostic solve are output times), without solving again.
    const solver::Velocities v = model.stress_balance().velocities({});
    const core::LocalBox b = grid->box();
    auto model_speed = Kokkos::create_mirror_view(v.velsurf_mag.view());
    auto obs_speed = Kokkos::create_mirror_view(s.inputs.observations.velsurfobs_mag->view());
    auto thk = Kokkos::create_mirror_view(model.state().thk.view());
    Kokkos::deep_copy(model_speed, v.velsurf_mag.view());
    Kokkos::deep_copy(obs_speed, s.inputs.observations.velsurfobs_mag->view());
    Kokkos::deep_copy(thk, model.state().thk.view());
    const core::Floatation floatation = model.params().transport.floatation;
    double sums[4] = {0, 0, 0, 0}; // n, sum (m-o)^2, sum m, sum o
    for (int j = b.ys; j < b.ys + b.ym; ++j)
      for (int i = b.xs; i < b.xs + b.xm; ++i) {
        const double m = model_speed(b.lj(j), b.li(i)) * year,
                     o = obs_speed(b.lj(j), b.li(i)) * year;
        if (std::isnan(o) || !floatation.has_ice(thk(b.lj(j), b.li(i)))) continue;
        sums[0] += 1;
        sums[1] += (m - o) * (m - o);
        sums[2] += m;
        sums[3] += o;
      }
    double total[4];
    MPI_Allreduce(sums, total, 4, MPI_DOUBLE, MPI_SUM, grid->comm());
    summary.compared_cells = static_cast<long long>(total[0]);
    if (total[0] > 0) {
      summary.speed_rms_misfit = std::sqrt(total[1] / total[0]);
      summary.speed_mean_model = total[2] / total[0];
      summary.speed_mean_observed = total[3] / total[0];
    }
  }
}

RunSummary Simulation::diagnose() {
  Impl& s = *m_impl;
  const auto start_wall = std::chrono::steady_clock::now();
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
