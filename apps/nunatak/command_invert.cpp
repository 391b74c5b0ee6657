// `nunatak invert CONFIG`: the gradient-based inversion for thickness (and
// friction, surface) from observed surface velocity and radar thickness,
// through the emulator, the solver's adjoint, or both (docs/inversion.md).
// The final state is always re-solved with Blatter-Pattyn and both velocity
// misfits are printed. Rank 0 runs the inversion; on several ranks its
// Blatter-Pattyn solves (solver and hybrid modes, the final check) run on all
// of them (model/solver_team.hpp).

#include "commands.hpp"
#include "progress.hpp"

#include "nunatak/core/error.hpp"
#include "nunatak/emulator/network.hpp"
#include "nunatak/inversion/inversion.hpp"
#include "nunatak/io/line_plot.hpp"
#include "nunatak/io/output_file.hpp"
#include "nunatak/io/quicklook.hpp"
#include "nunatak/model/inversion_forward.hpp"
#include "nunatak/model/inversion_setup.hpp"
#include "nunatak/model/simulation.hpp"
#include "nunatak/model/solver_team.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>

namespace nunatak::app {

namespace {

/// DIR/STEM_cost.png for an output DIR/STEM.nc.
std::string cost_picture_path(const std::string& output) {
  const std::filesystem::path p(output);
  return (p.parent_path() / (p.stem().string() + "_cost.png")).string();
}

/// Loads the emulator of `emulator.model` and checks it against the run's physics.
emulator::Emulator load_emulator(const io::Config& config, const core::BPPatch& patch) {
  const std::string path = config.get_string("emulator.model");
  if (path.empty())
    throw Error("inversion.forward: " + config.get_string("inversion.forward") +
                " needs emulator.model, the path of a model file (docs/emulator.md)");
  emulator::Emulator model = emulator::Emulator::load(path);
  emulator::EmulatorMetadata run = model.metadata();
  run.sigma = patch.sigma;
  run.glen_exponent = patch.constants.glen_exponent;
  run.ice_density = config.get_real("constants.ice.density");
  run.gravity = config.get_real("constants.standard_gravity");
  run.sea_water_density = config.get_real("constants.sea_water.density");
  run.friction_exponent = patch.constants.friction_exponent;
  run.minimum_thickness = patch.constants.minimum_thickness;
  emulator::check_compatible(model.metadata(), run, path);
  return model;
}

/// "velocity 0.52 | radar 0.11 | ..." for the non-zero terms.
std::string terms_text(const inversion::CostTerms& t) {
  std::string s;
  for (const auto& [name, value] : t.named())
    if (value != 0 || name == "total")
      s += fmt::format("{}{} {:.3g}", s.empty() ? "" : " | ", name, value);
  return s;
}

core::FieldInfo field(const std::string& name, const std::string& long_name,
                      const std::string& units, const std::string& standard_name = "") {
  return core::FieldInfo{name, long_name, standard_name, units, units, {}, ""};
}

/// Speed of a [y][x][2] surface velocity; NaN off the outline.
std::vector<double> speed(const std::vector<double>& uv, const std::vector<double>& thk) {
  std::vector<double> s(thk.size());
  for (size_t c = 0; c < thk.size(); ++c)
    s[c] = thk[c] > 0 ? std::hypot(uv[2 * c], uv[2 * c + 1]) : NAN;
  return s;
}

std::vector<double> component(const std::vector<double>& uv, int k,
                              const std::vector<double>& thk) {
  std::vector<double> s(thk.size());
  for (size_t c = 0; c < thk.size(); ++c) s[c] = thk[c] > 0 ? uv[2 * c + size_t(k)] : NAN;
  return s;
}

std::vector<double> observed_speed(const inversion::InversionObservations& o, size_t n) {
  std::vector<double> s(n, NAN);
  for (size_t c = 0; c < n; ++c) {
    if (!o.u.empty() && std::isfinite(o.u[c]) && std::isfinite(o.v[c]))
      s[c] = std::hypot(o.u[c], o.v[c]);
    else if (!o.speed.empty())
      s[c] = o.speed[c];
  }
  return s;
}

void log_misfits(const char* what, const inversion::MisfitSummary& m) {
  spdlog::info("  {}: surface velocity RMS misfit {:.2f} m/a on {} cells; radar RMS {:.1f} m "
               "(bias {:+.1f} m) on {} cells used{}",
               what, m.velocity_rms, m.velocity_cells, m.radar_rms, m.radar_bias, m.radar_cells,
               m.holdout_cells > 0 ? fmt::format(", held out: RMS {:.1f} m (bias {:+.1f} m) on {} "
                                                 "cells",
                                                 m.holdout_rms, m.holdout_bias, m.holdout_cells)
                                   : std::string());
}

/// The inversion, on rank 0; `team`: the ranks its BP solves run on.
void run_inversion(const io::Config& config, const std::string& command_line,
                   model::SolverTeam& team) {
  const auto start = std::chrono::steady_clock::now();
  const auto elapsed = [](std::chrono::steady_clock::time_point from) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - from).count();
  };
  model::InversionSetup setup = model::configure_inversion(config);
  for (const auto& note : setup.notes) spdlog::debug("{}", note);
  const core::BPPatch& first = setup.first_guess;
  const size_t columns = size_t(first.nx) * size_t(first.ny);
  if (setup.plastic)
    spdlog::info("first guess: {}: {}{}", setup.plastic->describe_method(),
                 setup.plastic->describe_scale(setup.plastic->tau_b),
                 setup.plastic->calibrated ? " (fitted to the radar cells used)" : " (configured)");
  const inversion::InversionOptions& options = setup.options;
  inversion::Inversion inversion(first, setup.observations, options);
  const bool small_grid = columns <= 10000;
  std::optional<emulator::Emulator> model;
  std::unique_ptr<inversion::ForwardModel> forward;
  if (setup.forward != "solver") model.emplace(load_emulator(config, first));
  const bool reference_only = config.get_string("emulator.output") == "reference";
  if (reference_only && setup.forward != "emulator")
    throw Error("emulator.output: reference is for inversion.forward: emulator (the " +
                setup.forward + " forward model does not run the emulator's network alone)");
  if (reference_only)
    emulator::check_has_membrane_reference(model->metadata(), config.get_string("emulator.model"));
  const int refine_steps = int(config.get_int("emulator.refine_steps"));
  if (refine_steps > 0 && setup.forward != "emulator")
    throw Error("emulator.refine_steps is for inversion.forward: emulator (the " + setup.forward +
                " forward model " +
                (setup.forward == "solver" ? "solves Blatter-Pattyn itself"
                                           : "retrains the network on Blatter-Pattyn solves") +
                "; set it to 0)");
  if (setup.forward == "emulator")
    forward = std::make_unique<inversion::EmulatorForward>(
        *model, reference_only, refine_steps, config.get_string("emulator.refine_method"),
        config.get_real("emulator.refine_adjoint_tolerance"));
  else if (setup.forward == "solver")
    forward = std::make_unique<model::SolverForward>(
        inversion.current_patch(), setup.ocean_pressure, small_grid, "invert_", &team);
  else
    forward = std::make_unique<model::HybridForward>(
        *model, inversion.current_patch(), setup.ocean_pressure, small_grid, setup.hybrid, &team);
  std::string controls;
  for (const auto& c : options.controls) controls += (controls.empty() ? "" : ", ") + c;
  spdlog::info("inverting for {} on {} x {} columns ({} levels) with the {} forward model, {} "
               "(at most {} steps){}",
               controls, first.nx, first.ny, first.nz, forward->name(), options.optimizer,
               options.iterations,
               team.size() > 1 ? fmt::format("; Blatter-Pattyn solves on {} ranks", team.size())
                               : std::string());

  const std::vector<double> first_thickness = inversion.thickness();
  std::vector<inversion::Inversion::Step> history;
  {
    ProgressBar bar("invert", double(std::max(options.iterations, 1)));
    history = inversion.run(*forward, [&](const inversion::Inversion::Step& step) {
      bar.update(std::min(double(step.iteration + 1), double(options.iterations)),
                 terms_text(step.terms));
      if (!step.note.empty()) spdlog::info("iteration {}: {}", step.iteration, step.note);
    });
  }
  const double invert_seconds = elapsed(start);
  const inversion::Inversion::Step& last = history.back();
  spdlog::info("inversion: {} steps, {} evaluations of the cost and its gradient in {:.1f} s; "
               "cost {:.4g} -> {:.4g}",
               last.iteration, last.evaluations, invert_seconds, history.front().terms.total,
               last.terms.total);
  if (const auto* emulated = dynamic_cast<const inversion::EmulatorForward*>(forward.get()))
    if (const std::string line = emulated->refinement_summary(); !line.empty())
      spdlog::info("{}", line);
  const auto first_terms = history.front().terms.named(), last_terms = last.terms.named();
  for (size_t k = 0; k < last_terms.size(); ++k)
    if (last_terms[k].second != 0 || first_terms[k].second != 0)
      spdlog::info("  {}: {:.4g} (first guess {:.4g})", last_terms[k].first, last_terms[k].second,
                   first_terms[k].second);

  // The final state: the forward model's velocity, and a Blatter-Pattyn solve.
  const core::BPPatch final_patch = inversion.current_patch();
  const std::vector<double> thk = inversion.thickness();
  std::vector<double> u_forward;
  {
    const torch::NoGradGuard no_grad;
    u_forward =
        emulator::to_vector(forward->velocity(inversion.patch()).to(torch::kCPU, torch::kFloat64));
  }
  const auto check_start = std::chrono::steady_clock::now();
  model::TeamSampleSolver check(&team, final_patch, setup.ocean_pressure, "invert_check_",
                                small_grid);
  check.set_velocity(u_forward);
  const std::vector<double> u_bp = check.solve(thk);
  const double check_seconds = elapsed(check_start);
  const std::vector<double> us_forward = inversion::surface_velocity(final_patch, u_forward);
  const std::vector<double> us_bp = inversion::surface_velocity(final_patch, u_bp);
  const inversion::MisfitSummary m_forward =
      inversion::misfit_summary(first, setup.observations, thk, us_forward);
  const inversion::MisfitSummary m_bp =
      inversion::misfit_summary(first, setup.observations, thk, us_bp);
  const inversion::MisfitSummary m_first =
      inversion::misfit_summary(first, setup.observations, first_thickness, us_forward);
  spdlog::info("final state ({:.1f} s for the Blatter-Pattyn solve, {} Newton iterations; the "
               "forward model's surface velocity is {:.2f} % from it):",
               check_seconds, check.newton_iterations(),
               100 * model::surface_difference(final_patch, u_forward, u_bp));
  log_misfits(("with the " + forward->name() + "'s velocity").c_str(), m_forward);
  log_misfits("with Blatter-Pattyn's velocity", m_bp);
  spdlog::info("  first guess: radar RMS {:.1f} m on the cells used{}", m_first.radar_rms,
               m_first.holdout_cells > 0
                   ? fmt::format(", {:.1f} m on the held-out cells", m_first.holdout_rms)
                   : std::string());
  if (!setup.input_thickness.empty() && setup.plastic) {
    // A twin experiment: the geometry's thickness is the truth the inversion did not see.
    double e2 = 0, f2 = 0;
    long long n = 0;
    for (size_t c = 0; c < columns; ++c)
      if (first.thickness[c] >= first.constants.minimum_thickness) {
        e2 += std::pow(thk[c] - setup.input_thickness[c], 2);
        f2 += std::pow(first_thickness[c] - setup.input_thickness[c], 2);
        ++n;
      }
    spdlog::info("  against the geometry's thickness (a twin's truth, not used): RMS {:.1f} m "
                 "(first guess {:.1f} m) over {} cells",
                 std::sqrt(e2 / double(n)), std::sqrt(f2 / double(n)), n);
  }

  // The output file.
  const inversion::InversionObservations& o = setup.observations;
  std::vector<double> topg = inversion.bed(), usurf = inversion.surface();
  std::vector<double> thk_obs(columns, NAN), thk_misfit(columns, NAN), radar_use(columns, NAN);
  for (size_t c = 0; c < columns; ++c)
    if (!o.radar.empty() && std::isfinite(o.radar[c])) {
      thk_obs[c] = o.radar[c];
      if (thk[c] > 0) {
        thk_misfit[c] = thk[c] - o.radar[c];
        radar_use[c] = o.radar_used.empty() || o.radar_used[c] ? 1.0 : 0.0;
      }
    }
  const std::vector<double> obs_speed = observed_speed(o, columns);
  const std::vector<double> speed_forward = speed(us_forward, thk), speed_bp = speed(us_bp, thk);
  std::vector<double> misfit_forward(columns), misfit_bp(columns), thk_change(columns);
  for (size_t c = 0; c < columns; ++c) {
    misfit_forward[c] = speed_forward[c] - obs_speed[c];
    misfit_bp[c] = speed_bp[c] - obs_speed[c];
    thk_change[c] = thk[c] - first_thickness[c];
  }
  const std::string a = "m year-1";
  std::vector<io::MapField> fields = {
      {field("thk", "land ice thickness", "m", "land_ice_thickness"), thk},
      {field("topg", "bedrock surface elevation", "m", "bedrock_altitude"), topg},
      {field("usurf", "ice upper surface elevation", "m", "surface_altitude"), usurf},
      {field("thk_first_guess", "first guess of the ice thickness", "m"), first_thickness},
      {field("thk_change", "inverted minus first-guess thickness", "m"), thk_change},
      {field("uvelsurf", "x-component of the surface velocity (" + forward->name() + ")", a),
       component(us_forward, 0, thk)},
      {field("vvelsurf", "y-component of the surface velocity (" + forward->name() + ")", a),
       component(us_forward, 1, thk)},
      {field("velsurf_mag", "surface speed (" + forward->name() + ")", a), speed_forward},
      {field("velsurf_mag_bp", "surface speed (Blatter-Pattyn at the final state)", a), speed_bp},
      {field("velsurfobs_mag", "observed surface speed", a), obs_speed},
      {field("velsurf_misfit", "modelled (" + forward->name() + ") minus observed surface speed",
             a),
       misfit_forward},
      {field("velsurf_misfit_bp", "Blatter-Pattyn minus observed surface speed", a), misfit_bp},
      {field("thkobs", "observed (radar) ice thickness", "m"), thk_obs},
      {field("thk_misfit", "inverted minus radar thickness", "m"), thk_misfit},
      {field("radar_used", "1: radar cell in the cost, 0: held out to test", "1"), radar_use},
  };
  if (!o.u.empty()) {
    fields.push_back(
        {field("uvelsurfobs", "observed x-component of the surface velocity", a), o.u});
    fields.push_back(
        {field("vvelsurfobs", "observed y-component of the surface velocity", a), o.v});
  }
  if (std::find(options.controls.begin(), options.controls.end(), "friction") !=
      options.controls.end()) {
    std::vector<double> b = inversion.beta2();
    for (size_t c = 0; c < columns; ++c) b[c] = b[c] > 0 ? std::log10(b[c]) : NAN;
    fields.push_back(
        {field("log10_beta2", "log10 of the basal friction coefficient beta^2 in Pa (m/a)^-q", "1"),
         b});
  }
  // On the input grid: ice-free (thk 0, bed = surface) and no data outside the crop.
  for (io::MapField& f : fields) {
    const std::string& name = f.info.name;
    if (name == "topg" || name == "usurf") {
      std::vector<double> full = setup.input_surface;
      const std::vector<double> pasted = setup.to_input_grid(f.values, NAN);
      for (size_t c = 0; c < full.size(); ++c)
        if (std::isfinite(pasted[c])) full[c] = pasted[c];
      f.values = std::move(full);
    } else {
      const bool zero = name == "thk" || name == "thk_first_guess" || name == "thk_change";
      f.values = setup.to_input_grid(f.values, zero ? 0.0 : NAN);
    }
  }
  std::vector<io::SeriesColumn> series(3);
  series[0] = {"iteration", "optimiser steps done", "1", {}};
  series[1] = {"evaluations", "cost and gradient evaluations so far", "1", {}};
  series[2] = {"wall_time", "wall time so far", "s", {}};
  const auto names = history.front().terms.named();
  for (const auto& [name, value] : names)
    series.push_back({"cost_" + name, "cost term: " + name, "1", {}});
  series.push_back({"velocity_rms", "RMS surface-velocity misfit", a, {}});
  series.push_back({"radar_rms", "RMS radar misfit, cells used", "m", {}});
  series.push_back({"radar_holdout_rms", "RMS radar misfit, held-out cells", "m", {}});
  for (const auto& step : history) {
    series[0].values.push_back(step.iteration);
    series[1].values.push_back(step.evaluations);
    series[2].values.push_back(step.seconds);
    const auto terms = step.terms.named();
    for (size_t k = 0; k < terms.size(); ++k) series[3 + k].values.push_back(terms[k].second);
    series[3 + terms.size()].values.push_back(step.terms.velocity_rms);
    series[4 + terms.size()].values.push_back(step.terms.radar_rms);
    series[5 + terms.size()].values.push_back(step.terms.radar_holdout_rms);
  }
  io::Provenance provenance;
  provenance.command_line = command_line;
  provenance.config = &config;
  provenance.title = "nunatak inversion (" + forward->name() + ")";
  const std::string output = config.get_string("output.file");
  io::write_map_file(output, setup.input_grid, fields, "iteration", series, provenance,
                     int(config.get_int("output.compression_level")));
  spdlog::info("wrote {}", output);

  // Quick looks: the cost history and the maps of output.quicklook.
  io::LineChart chart;
  chart.title = "inversion cost (" + forward->name() + ", " + options.optimizer + ")";
  chart.x_label = "iteration";
  chart.y_label = "log10 cost term";
  for (size_t k = 0; k < names.size(); ++k) {
    io::Series line;
    line.label = names[k].first;
    bool any = false;
    for (const auto& step : history) {
      const double v = step.terms.named()[k].second;
      any = any || v > 0;
      line.x.push_back(step.iteration);
      line.y.push_back(v > 0 ? std::log10(v) : NAN);
    }
    if (any) chart.series.push_back(line);
  }
  const std::string picture = cost_picture_path(output);
  io::write_line_png(chart, picture);
  spdlog::info("wrote {}", picture);
  for (const auto& q : config.get_list("output.quicklook")) {
    const std::string path = io::quicklook_path(output, q);
    io::write_quicklook(output, q, path);
    spdlog::info("wrote {}", path);
  }
  spdlog::info("time: {:.1f} s inverting, {:.1f} s for the final Blatter-Pattyn check",
               invert_seconds, check_seconds);
}

} // namespace

void add_invert_command(CLI::App& app, Context& context) {
  auto* cmd = app.add_subcommand(
      "invert", "Invert for ice thickness (and friction, surface) from observed surface velocity "
                "and radar thickness, by gradients through the emulator, the solver's adjoint, or "
                "both (inversion.*); the result is checked by a Blatter-Pattyn solve");
  struct Options {
    std::string config_file;
    std::vector<std::string> overrides;
  };
  auto o = std::make_shared<Options>();
  cmd->add_option("CONFIG", o->config_file, "YAML configuration")->required();
  cmd->add_option("--set", o->overrides, "override a key: --set key=value")
      ->allow_extra_args(false);
  cmd->callback([o, &context] {
    io::Config config = io::Config::from_file(o->config_file);
    for (const auto& s : o->overrides) config.set_override(s);
    core::Runtime& runtime = context.runtime();
    io::FilePlan files = model::configured_files(config, model::Purpose::solve);
    if (config.get_string("inversion.forward") != "solver")
      files.read(config.get_string("emulator.model"), "emulator.model");
    files.read(config.get_string("inversion.first_guess_file"), "inversion.first_guess_file");
    files.write(cost_picture_path(config.get_string("output.file")),
                "the cost picture of output.file", "output.file");
    model::prepare_files(files, runtime.comm());
    model::insert_petsc_options(config.get_string("petsc.options"));
    // Rank 0 inverts; the others join its Blatter-Pattyn solves until it finishes.
    model::lead_on_rank_zero(runtime.comm(), [&](model::SolverTeam& team) {
      run_inversion(config, context.command_line(), team);
    });
  });
}

} // namespace nunatak::app
