// `nunatak superres pairs|train|apply|eval` (docs/superres.md): runs of one
// scenario at a fine and at coarser resolutions, a network learnt from such a
// pair, its use on coarse runs of other scenarios, and its evaluation against
// bicubic interpolation and the fine run.
//
// A run's output file carries the configuration it was made with
// (nunatak_config_yaml): `apply` reads the fine grid's bed and surface mass
// balance from that configuration's inputs with input.coarsen_factor = 1 and
// its scenario keys, so that the coarse run file is all it needs.

#include "commands.hpp"
#include "progress.hpp"

#include "nunatak/core/constants.hpp"
#include "nunatak/core/error.hpp"
#include "nunatak/core/parallel_grid.hpp"
#include "nunatak/core/regrid.hpp"
#include "nunatak/core/version.hpp"
#include "nunatak/io/config.hpp"
#include "nunatak/io/input_file.hpp"
#include "nunatak/io/model_inputs.hpp"
#include "nunatak/io/output_file.hpp"
#include "nunatak/io/quantities.hpp"
#include "nunatak/io/quicklook.hpp"
#include "nunatak/model/model_inputs.hpp"
#include "nunatak/model/simulation.hpp"
#include "nunatak/superres/superres.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <netcdf.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <optional>
#include <sstream>

namespace nunatak::app {

namespace {

constexpr double year = core::seconds_per_year;

/// A run's output file: its grid, record times (s) and configuration.
struct RunFile {
  std::string path;
  std::shared_ptr<io::InputFile> file;
  std::vector<double> times;
  io::Config config;
};

RunFile open_run(const std::string& path) {
  RunFile r;
  r.path = path;
  r.file = std::make_shared<io::InputFile>(path);
  const io::NcFile& nc = r.file->nc();
  if (!nc.find_variable("time"))
    throw Error("'" + path + "' has no time axis: is it the output of nunatak run?");
  r.times = nc.read_all(nc.variable("time"));
  const auto text = nc.text_attribute(NC_GLOBAL, "nunatak_config_yaml");
  if (!text)
    throw Error("'" + path +
                "' does not say how it was made (no nunatak_config_yaml): is it the output of "
                "nunatak run?");
  r.config = io::Config::from_text(*text, "the configuration stored in '" + path + "'");
  return r;
}

/// Record `record` of the run's thickness ("thk", m) or surface speed
/// ("velsurf_mag", m/a).
std::vector<double> read_record(const RunFile& run, const std::string& name, int record) {
  io::QuantitySpec spec =
      name == "thk"
          ? io::quantity("thk")
          : io::QuantitySpec{io::output_field_info(name), io::QuantityKind::velocity, {name}, {}};
  if (!run.file->nc().find_variable(name))
    throw Error("'" + run.path + "' has no variable '" + name +
                "' (add it to output.variables of the run)");
  std::vector<double> v = run.file->read(name, spec, record);
  if (name != "thk")
    for (double& x : v) x *= year;
  return v;
}

/// The fine grid's bed and surface mass balance of an experiment: its inputs
/// at input.coarsen_factor = 1, with its scenario keys.
struct FineInputs {
  core::Grid grid{1, 1, 1.0, 1.0, 0.0, 0.0};
  std::vector<double> bed, smb;  ///< m; m/a ice equivalent before the scenario
  std::vector<double> thickness; ///< the initial thickness, m (empty: none in the inputs)
  double factor = 1, offset = 0, rate = 0, start = 0, sea_level = 0;
  /// The scenario's surface mass balance at time t (s), m/a ice equivalent.
  std::vector<double> smb_at(double t) const {
    std::vector<double> out(smb);
    const double add = offset + rate * (t - start) / year;
    for (double& x : out) x = factor * x + add;
    return out;
  }
  /// The integral of smb_at from the start to time t (s), m of ice.
  std::vector<double> smb_integral(double t) const {
    const double years = (t - start) / year;
    std::vector<double> out(smb);
    const double add = offset * years + 0.5 * rate * years * years;
    for (double& x : out) x = factor * x * years + add;
    return out;
  }
};

FineInputs fine_inputs(io::Config config) {
  config.set("input.coarsen_factor", "1", "superres (the fine grid)");
  const io::InputArrays in = io::read_input_arrays(config);
  FineInputs f;
  f.grid = in.grid;
  if (!in.topg)
    throw Error("superres: the experiment's geometry '" + in.geometry_file +
                "' gives no bed (topg, or thickness and surface)");
  f.bed = in.topg->values;
  if (in.thk) f.thickness = in.thk->values;
  f.smb = model::ice_equivalent_smb(in, config);
  f.factor = config.get_real("surface_mass_balance.factor");
  f.offset = config.get_real("surface_mass_balance.offset");
  f.rate = config.get_real("surface_mass_balance.offset_rate");
  f.start = config.get_real("time.start") * year;
  f.sea_level = config.get_real("geometry.sea_level");
  return f;
}

/// The snapshots of a coarse run, with the fine run's fields at the same
/// times when `fine` is given.
std::vector<superres::Snapshot> snapshots(const RunFile& coarse, const RunFile* fine,
                                          const FineInputs& inputs) {
  std::vector<superres::Snapshot> out;
  for (size_t k = 0; k < coarse.times.size(); ++k) {
    superres::Snapshot s;
    const double t = coarse.times[k];
    s.time = (t - inputs.start) / year;
    s.coarse_thickness = read_record(coarse, "thk", int(k));
    s.coarse_speed = read_record(coarse, "velsurf_mag", int(k));
    s.coarse_initial_thickness = read_record(coarse, "thk", 0);
    s.bed = inputs.bed;
    s.smb = inputs.smb_at(t);
    s.smb_cumulative = inputs.smb_integral(t);
    s.fine_initial_thickness = inputs.thickness;
    if (fine) {
      size_t r = 0;
      while (r < fine->times.size() && std::abs(fine->times[r] - t) > 1.0) ++r;
      if (r == fine->times.size())
        throw Error("superres: '" + fine->path + "' has no record at year " +
                    fmt::format("{:g}", t / year) + " of '" + coarse.path +
                    "' (run both with the same output.interval)");
      s.fine_thickness = read_record(*fine, "thk", int(r));
      s.fine_speed = read_record(*fine, "velsurf_mag", int(r));
    }
    out.push_back(std::move(s));
  }
  return out;
}

/// `DIR/STEM_xK.nc` for the fine output `DIR/STEM.nc`.
std::string coarse_path(const std::string& fine_output, int factor) {
  const std::filesystem::path p(fine_output);
  return (p.parent_path() / (p.stem().string() + "_x" + std::to_string(factor) + ".nc")).string();
}

/// A training scenario: its configuration and its fine run's output file.
struct Scenario {
  io::Config config;
  std::string fine_output;
};

/// The configured scenario (output.file) and those of superres.scenarios,
/// the k-th of which (from 1) writes output.file's stem + _sK.nc. Each entry
/// of superres.scenarios is one or more `key=value` overrides joined by ';'.
std::vector<Scenario> training_scenarios(const io::Config& config) {
  const std::string fine = config.get_string("output.file");
  std::vector<Scenario> out = {{config, fine}};
  const std::filesystem::path p(fine);
  int index = 0;
  for (const std::string& entry : config.get_list("superres.scenarios")) {
    ++index;
    Scenario s{
        config,
        (p.parent_path() / (p.stem().string() + "_s" + std::to_string(index) + ".nc")).string()};
    std::istringstream parts(entry);
    std::string part;
    int assignments = 0;
    while (std::getline(parts, part, ';')) {
      const auto first = part.find_first_not_of(' '), last = part.find_last_not_of(' ');
      if (first == std::string::npos) continue;
      part = part.substr(first, last - first + 1);
      if (part.find('=') == std::string::npos)
        throw Error("superres.scenarios: entry " + std::to_string(index) + " ('" + entry + "'): '" +
                    part + "' is not key=value");
      try {
        s.config.set_override(part);
      } catch (const Error& e) {
        throw Error("superres.scenarios: entry " + std::to_string(index) + " ('" + entry +
                    "'): " + e.what());
      }
      ++assignments;
    }
    if (assignments == 0)
      throw Error("superres.scenarios: entry " + std::to_string(index) +
                  " is empty (give key=value overrides joined by ';')");
    out.push_back(std::move(s));
  }
  return out;
}

/// Runs `config` at input.coarsen_factor = `factor` writing `output`;
/// returns the run's wall time (s). Collective.
double run_at(io::Config config, int factor, const std::string& output, MPI_Comm comm,
              const std::string& command_line) {
  config.set("input.coarsen_factor", std::to_string(factor), "superres");
  config.set("output.file", "'" + output + "'", "superres");
  config.set("output.quicklook", "[]", "superres");
  config.set("checkpoint.interval", "0", "superres");
  auto variables = config.get_list("output.variables");
  for (const char* needed : {"thk", "velsurf_mag"})
    if (std::find(variables.begin(), variables.end(), needed) == variables.end())
      variables.push_back(needed);
  config.set("output.variables", "[" + fmt::format("{}", fmt::join(variables, ", ")) + "]",
             "superres");
  model::prepare_files(model::configured_files(config, model::Purpose::run), comm);
  model::Simulation simulation(config, comm, command_line);
  model::RunSignals signals;
  const model::RunSummary summary = simulation.run(signals);
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0)
    spdlog::info("  {} at {} x {} cells: {:.2f} s, ice volume {:.6g} -> {:.6g} km3", output,
                 simulation.model().state().thk.grid().grid().nx(),
                 simulation.model().state().thk.grid().grid().ny(), summary.wall_seconds,
                 summary.volume_start / 1e9, summary.volume_end / 1e9);
  return summary.wall_seconds;
}

/// Ice volume (m3) of thickness `H` on `g`.
double volume(const core::Grid& g, const std::vector<double>& H) {
  double v = 0;
  for (double h : H) v += std::isfinite(h) ? h : 0.0;
  return v * g.cell_area();
}

/// Area (m2) of the cells of `g` where `H` exceeds 1 m.
double area(const core::Grid& g, const std::vector<double>& H) {
  long long n = 0;
  for (double h : H) n += h > 1.0; // thicker than 1 m
  return double(n) * g.cell_area();
}

/// Applies `model` to every record of `coarse_run`, writes `output` (and
/// its quick-look maps); with `fine_run`, its fields and the errors too.
/// Returns the predictions and the time spent predicting (s). Rank 0.
std::pair<std::vector<superres::Prediction>, double>
apply_model(const superres::Model& model, const RunFile& coarse, const RunFile* fine,
            const std::string& output, const std::string& command_line) {
  const core::Grid expected = model.coarse_grid();
  if (!coarse.file->grid().matches(expected))
    throw Error("'" + coarse.path + "' is on " + coarse.file->grid().describe() +
                ", but the model takes the grid " + std::to_string(model.metadata().factor) +
                " times coarser than its fine grid, " + expected.describe());
  const FineInputs inputs = fine_inputs(coarse.config);
  if (!inputs.grid.matches(model.metadata().fine))
    throw Error("the fine inputs of '" + coarse.path + "' are on " + inputs.grid.describe() +
                ", the model's fine grid is " + model.metadata().fine.describe());
  if (fine && !fine->file->grid().matches(inputs.grid))
    throw Error("'" + fine->path + "' is not on the model's fine grid (" +
                model.metadata().fine.describe() + ")");
  const std::vector<superres::Snapshot> shots = snapshots(coarse, fine, inputs);
  std::vector<superres::Prediction> predictions;
  double seconds = 0;
  for (const auto& s : shots) {
    const auto start = std::chrono::steady_clock::now();
    predictions.push_back(model.predict(s));
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  core::Grid grid = inputs.grid;
  if (const core::GridMapping* m = coarse.file->grid().mapping()) grid.set_mapping(*m);
  const auto pgrid = core::ParallelGrid::create(MPI_COMM_SELF, grid);
  const auto info = [](const std::string& name, const std::string& long_name,
                       const std::string& units, const std::string& output_units) {
    return core::FieldInfo{name, long_name, "", units, output_units, {}, ""};
  };
  const std::string ms = "m s-1", ma = "m year-1";
  std::vector<core::FieldInfo> infos = {
      info("thk", "ice thickness, super-resolved", "m", "m"),
      info("velsurf_mag", "surface speed, super-resolved", ms, ma),
      info("thk_bicubic", "ice thickness, bicubic interpolation of the coarse run", "m", "m"),
      info("velsurf_mag_bicubic", "surface speed, bicubic interpolation of the coarse run", ms,
           ma)};
  if (fine) {
    infos.push_back(info("thk_fine", "ice thickness of the fine run", "m", "m"));
    infos.push_back(info("velsurf_mag_fine", "surface speed of the fine run", ms, ma));
    infos.push_back(info("thk_error", "super-resolved minus fine thickness", "m", "m"));
  }
  io::Provenance provenance;
  provenance.command_line = command_line;
  provenance.config = &coarse.config;
  provenance.title = "nunatak super-resolution of " + coarse.path;
  io::OutputFile out(pgrid, output, provenance);
  for (size_t k = 0; k < shots.size(); ++k) {
    const superres::Prediction& p = predictions[k];
    std::vector<std::vector<double>> values = {p.thickness, p.speed, p.bicubic_thickness,
                                               p.bicubic_speed};
    if (fine) {
      values.push_back(shots[k].fine_thickness);
      values.push_back(shots[k].fine_speed);
      std::vector<double> error = p.thickness;
      for (size_t c = 0; c < error.size(); ++c) error[c] -= shots[k].fine_thickness[c];
      values.push_back(error);
    }
    std::vector<core::Field2D> fields;
    for (size_t f = 0; f < infos.size(); ++f) {
      std::vector<double> si = values[f];
      if (infos[f].units == ms)
        for (double& x : si) x /= year;
      fields.emplace_back(pgrid, infos[f]);
      pgrid->scatter_from_zero(si, fields.back());
    }
    std::vector<const core::Field2D*> pointers;
    for (const auto& f : fields) pointers.push_back(&f);
    out.write_record(coarse.times[k], pointers);
  }
  out.commit();
  spdlog::info("wrote {} ({} records)", output, shots.size());
  // Quick looks of the last record: coarse | super-resolved | bicubic | fine | error.
  io::write_quicklook(coarse.path, "thk", io::quicklook_path(output, "thk_coarse"));
  for (const auto& q : fine
                           ? std::vector<std::string>{"thk", "thk_bicubic", "thk_fine", "thk_error",
                                                      "velsurf_mag", "velsurf_mag_fine"}
                           : std::vector<std::string>{"thk", "thk_bicubic", "velsurf_mag"})
    io::write_quicklook(output, q, io::quicklook_path(output, q));
  spdlog::info("wrote quick-look maps {}", io::quicklook_path(output, "*"));
  return {std::move(predictions), seconds};
}

void train_command(const io::Config& config, const std::string& command_line) {
  const int factor = int(config.get_int("superres.factor"));
  std::vector<superres::Snapshot> training, validation;
  std::optional<core::Grid> fine_grid;
  std::string pairs_text;
  double sea_level = 0;
  const long long every = config.get_int("superres.validation_every");
  for (const Scenario& scenario : training_scenarios(config)) {
    const RunFile fine = open_run(scenario.fine_output),
                  coarse = open_run(coarse_path(scenario.fine_output, factor));
    if (!coarse.file->grid().matches(core::coarsened_grid(fine.file->grid(), factor)))
      throw Error("'" + coarse.path + "' (" + coarse.file->grid().describe() + ") is not " +
                  std::to_string(factor) + " times coarser than '" + fine.path + "' (" +
                  fine.file->grid().describe() + "): make the pairs with nunatak superres pairs");
    if (fine_grid && !fine.file->grid().matches(*fine_grid))
      throw Error("'" + fine.path + "' is on " + fine.file->grid().describe() + ", '" +
                  config.get_string("output.file") + "' on " + fine_grid->describe() +
                  ": every training scenario needs the same grid");
    fine_grid = fine.file->grid();
    const FineInputs inputs = fine_inputs(coarse.config);
    sea_level = inputs.sea_level;
    std::vector<superres::Snapshot> all = snapshots(coarse, &fine, inputs);
    for (size_t k = 0; k < all.size(); ++k)
      (every > 0 && k % size_t(every) == size_t(every - 1) ? validation : training)
          .push_back(std::move(all[k]));
    pairs_text += "\nfine run: " + fine.path + "\ncoarse run: " + coarse.path;
  }
  if (training.empty()) throw Error("superres train: the pairs have no training snapshot");
  superres::Metadata m;
  m.factor = factor;
  m.fine = *fine_grid;
  m.width = int(config.get_int("superres.width"));
  m.depth = int(config.get_int("superres.depth"));
  m.conserve_mass = config.get_bool("superres.conserve_mass");
  m.use_time = config.get_bool("superres.use_time");
  m.use_change = config.get_bool("superres.use_change");
  m.use_smb = config.get_bool("superres.use_smb");
  m.use_initial = config.get_bool("superres.use_initial");
  m.time_scale = std::max(1.0, (config.get_real("time.end") - config.get_real("time.start")));
  m.sea_level = sea_level;
  m.code_version = std::string(nunatak::version) + " (" + nunatak::git_revision + ")";
  m.training = "command: " + command_line + pairs_text + "\nconfiguration:\n" + config.to_yaml();
  superres::TrainingOptions o;
  o.epochs = int(config.get_int("superres.epochs"));
  o.batch_size = int(config.get_int("superres.batch_size"));
  o.learning_rate = config.get_real("superres.learning_rate");
  o.final_learning_rate = config.get_real("superres.final_learning_rate");
  o.seed = std::uint64_t(config.get_int("superres.seed"));
  o.augment = config.get_bool("superres.augment");
  superres::Model model(m, o.seed);
  model.fit_normalisation(training);
  spdlog::info("superres train: {} training and {} validation snapshots of {} pair(s) ({} x {} "
               "from {} x {}), {} parameters",
               training.size(), validation.size(), training_scenarios(config).size(), m.fine.nx(),
               m.fine.ny(), model.coarse_grid().nx(), model.coarse_grid().ny(),
               model.parameter_count());
  ProgressBar bar("train", o.epochs, spdlog::get_level() <= spdlog::level::info);
  const superres::TrainingReport report =
      model.train(training, validation, o, [&](int epoch, double train_loss, double valid_loss) {
        bar.update(epoch + 1,
                   fmt::format("loss {:.3e}, validation {:.3e}", train_loss, valid_loss));
      });
  bar.finish();
  const std::string path = config.get_string("superres.model");
  if (const auto dir = std::filesystem::path(path).parent_path(); !dir.empty())
    std::filesystem::create_directories(dir);
  model.save(path);
  spdlog::info("trained in {:.1f} s ({:.2f} s per epoch, {:.1f} snapshots per second); best "
               "validation loss {:.3e} at epoch {} (first {:.3e})",
               report.seconds, report.seconds / o.epochs,
               double(training.size()) * o.epochs / report.seconds,
               report.validation_loss[size_t(report.best_epoch)], report.best_epoch + 1,
               report.validation_loss.front());
  spdlog::info("wrote {}", path);
}

void eval_command(const std::string& model_path, const io::Config& scenario,
                  const std::string& prefix, MPI_Comm comm, const std::string& command_line) {
  const superres::Model model = superres::Model::load(model_path);
  const int factor = model.metadata().factor;
  const std::string fine_out = prefix + "_fine.nc",
                    coarse_out = prefix + "_x" + std::to_string(factor) + ".nc",
                    sr_out = prefix + "_superres.nc";
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0)
    spdlog::info("superres eval: the scenario at the fine grid and {} times coarser", factor);
  const double fine_seconds = run_at(scenario, 1, fine_out, comm, command_line);
  const double coarse_seconds = run_at(scenario, factor, coarse_out, comm, command_line);
  io::on_rank_zero(comm, [&] {
    const RunFile fine = open_run(fine_out), coarse = open_run(coarse_out);
    const auto [predictions, sr_seconds] = apply_model(model, coarse, &fine, sr_out, command_line);
    const FineInputs inputs = fine_inputs(coarse.config);
    const std::vector<superres::Snapshot> shots = snapshots(coarse, &fine, inputs);
    const core::Grid& g = inputs.grid;
    const core::Grid cg = model.coarse_grid();
    std::string table = "| year | field | RMSE SR / bicubic | PSNR (dB) SR / bicubic | SSIM SR / "
                        "bicubic | bias SR / bicubic |\n|---|---|---|---|---|---|\n";
    double sum_ratio[2] = {0, 0};
    for (size_t k = 0; k < shots.size(); ++k)
      for (int f = 0; f < 2; ++f) {
        const auto& truth = f == 0 ? shots[k].fine_thickness : shots[k].fine_speed;
        const auto sr = superres::compare_fields(
            g, f == 0 ? predictions[k].thickness : predictions[k].speed, truth);
        const auto bi = superres::compare_fields(
            g, f == 0 ? predictions[k].bicubic_thickness : predictions[k].bicubic_speed, truth);
        sum_ratio[f] += bi.rmse > 0 ? sr.rmse / bi.rmse : 1.0;
        table += fmt::format("| {:g} | {} | {:.3g} / {:.3g} | {:.1f} / {:.1f} | {:.3f} / {:.3f} | "
                             "{:+.3g} / {:+.3g} |\n",
                             shots[k].time, f == 0 ? "thk (m)" : "velsurf_mag (m/a)", sr.rmse,
                             bi.rmse, sr.psnr, bi.psnr, sr.ssim, bi.ssim, sr.bias, bi.bias);
      }
    std::printf("%s\n", table.c_str());
    std::printf("mean RMSE ratio super-resolved / bicubic over %zu snapshots: thickness %.3f, "
                "surface speed %.3f\n\n",
                shots.size(), sum_ratio[0] / shots.size(), sum_ratio[1] / shots.size());
    std::printf("| year | volume fine (km3) | coarse | super-resolved | area fine (km2) | coarse "
                "| super-resolved |\n|---|---|---|---|---|---|---|\n");
    for (size_t k = 0; k < shots.size(); ++k)
      std::printf(
          "| %g | %.6g | %.6g | %.6g | %.6g | %.6g | %.6g |\n", shots[k].time,
          volume(g, shots[k].fine_thickness) / 1e9, volume(cg, shots[k].coarse_thickness) / 1e9,
          volume(g, predictions[k].thickness) / 1e9, area(g, shots[k].fine_thickness) / 1e6,
          area(cg, shots[k].coarse_thickness) / 1e6, area(g, predictions[k].thickness) / 1e6);
    const size_t last = shots.size() - 1;
    const auto trend = [&](const core::Grid& grid, const std::vector<double>& a,
                           const std::vector<double>& b) {
      return volume(grid, b) - volume(grid, a);
    };
    const double fine_trend = trend(g, shots[0].fine_thickness, shots[last].fine_thickness);
    const double coarse_error =
        trend(cg, shots[0].coarse_thickness, shots[last].coarse_thickness) - fine_trend;
    const double sr_error =
        trend(g, predictions[0].thickness, predictions[last].thickness) - fine_trend;
    std::printf("\nvolume change from year %g to %g: fine %.4g km3; error of the coarse run %.4g "
                "km3, of the super-resolved %.4g km3 (ratio %.2f)\n",
                shots[0].time, shots[last].time, fine_trend / 1e9, coarse_error / 1e9,
                sr_error / 1e9, sr_error != 0 ? std::abs(coarse_error / sr_error) : INFINITY);
    // The trend as the least-squares slope of the volume over all records:
    // less tied to the first record (the inputs, which no run keeps) and to
    // the last than the change between them.
    const auto slope = [&](const auto& volume_at) {
      double st = 0, sv = 0, stt = 0, stv = 0;
      const double n = double(shots.size());
      for (size_t k = 0; k < shots.size(); ++k) {
        const double t = shots[k].time, v = volume_at(k);
        st += t;
        sv += v;
        stt += t * t;
        stv += t * v;
      }
      const double d = n * stt - st * st;
      return d > 0 ? (n * stv - st * sv) / d : 0.0;
    };
    const double fine_slope = slope([&](size_t k) { return volume(g, shots[k].fine_thickness); });
    const double coarse_slope_error =
        slope([&](size_t k) { return volume(cg, shots[k].coarse_thickness); }) - fine_slope;
    const double sr_slope_error =
        slope([&](size_t k) { return volume(g, predictions[k].thickness); }) - fine_slope;
    std::printf("volume trend (least-squares slope over the %zu records): fine %.4g km3/a; error "
                "of the coarse run %.4g km3/a, of the super-resolved %.4g km3/a (ratio %.2f)\n",
                shots.size(), fine_slope / 1e9, coarse_slope_error / 1e9, sr_slope_error / 1e9,
                sr_slope_error != 0 ? std::abs(coarse_slope_error / sr_slope_error) : INFINITY);
    std::printf("cost: fine run %.2f s; coarse run %.2f s + super-resolution %.3f s = %.2f s "
                "(%.3f of the fine run)\n",
                fine_seconds, coarse_seconds, sr_seconds, coarse_seconds + sr_seconds,
                (coarse_seconds + sr_seconds) / fine_seconds);
  });
}

} // namespace

void add_superres_command(CLI::App& app, Context& context) {
  auto* sr = app.add_subcommand("superres",
                                "Super-resolution of coarse runs: pairs of runs, training, use and "
                                "evaluation (docs/superres.md)");
  sr->require_subcommand(1);
  struct Options {
    std::string config_file, model, coarse, output, fine, prefix = "output/superres/eval";
    std::vector<std::string> overrides;
  };
  auto o = std::make_shared<Options>();
  const auto read_config = [o] {
    io::Config config = io::Config::from_file(o->config_file);
    for (const auto& s : o->overrides) config.set_override(s);
    return config;
  };

  auto* pairs = sr->add_subcommand(
      "pairs", "Run the configured scenario at its grid (output.file) and at the coarser grids of "
               "superres.factors (output.file's stem + _xK.nc), with the same output times");
  pairs->add_option("CONFIG", o->config_file, "YAML configuration of the scenario")->required();
  pairs->add_option("--set", o->overrides, "override a key: --set key=value")
      ->allow_extra_args(false);
  pairs->callback([o, read_config, &context] {
    const io::Config config = read_config();
    core::Runtime& runtime = context.runtime();
    std::vector<int> factors;
    for (const auto& f : config.get_list("superres.factors")) {
      int k = 0;
      try {
        k = std::stoi(f);
      } catch (const std::exception&) {
      }
      if (k < 2) throw Error("superres.factors: '" + f + "' is not an integer >= 2");
      factors.push_back(k);
    }
    const bool root = runtime.rank() == 0;
    const std::vector<Scenario> scenarios = training_scenarios(config);
    for (const Scenario& scenario : scenarios) {
      const std::string& fine = scenario.fine_output;
      if (root) spdlog::info("superres pairs: {} and {} coarser grid(s)", fine, factors.size());
      const double fine_seconds =
          run_at(scenario.config, 1, fine, runtime.comm(), context.command_line());
      for (int k : factors) {
        const double s = run_at(scenario.config, k, coarse_path(fine, k), runtime.comm(),
                                context.command_line());
        if (root) spdlog::info("  factor {}: {:.3f} of the fine run's time", k, s / fine_seconds);
      }
    }
  });

  auto* train = sr->add_subcommand(
      "train", "Train a model on the pair of runs made by `superres pairs` (keys superres.*)");
  train->add_option("CONFIG", o->config_file, "YAML configuration of the training scenario")
      ->required();
  train->add_option("--set", o->overrides, "override a key: --set key=value")
      ->allow_extra_args(false);
  train->callback([o, read_config, &context] {
    const io::Config config = read_config();
    io::on_rank_zero(context.runtime().comm(),
                     [&] { train_command(config, context.command_line()); });
  });

  auto* apply = sr->add_subcommand(
      "apply", "Every record of a coarse run's output to the fine grid (thickness and surface "
               "speed, with bicubic interpolation beside them)");
  apply->add_option("MODEL", o->model, "model file of `superres train`")->required();
  apply->add_option("COARSE_RUN", o->coarse, "output file of a coarse run")->required();
  apply->add_option("-o,--output", o->output, "the file to write")->required();
  apply->add_option("--fine", o->fine, "the fine run of the same scenario, for the errors");
  apply->callback([o, &context] {
    core::Runtime& runtime = context.runtime();
    io::on_rank_zero(runtime.comm(), [&] {
      const superres::Model model = superres::Model::load(o->model);
      const RunFile coarse = open_run(o->coarse);
      std::optional<RunFile> fine;
      if (!o->fine.empty()) fine = open_run(o->fine);
      const auto [predictions, seconds] =
          apply_model(model, coarse, fine ? &*fine : nullptr, o->output, context.command_line());
      spdlog::info("super-resolved {} records in {:.3f} s", predictions.size(), seconds);
    });
  });

  auto* eval = sr->add_subcommand(
      "eval", "Run a scenario at the fine and the model's coarse grid, super-resolve the coarse "
              "run, and print its errors beside bicubic interpolation's, the volume and area "
              "trajectories and the cost");
  eval->add_option("MODEL", o->model, "model file of `superres train`")->required();
  eval->add_option("--scenario", o->config_file, "YAML configuration of the scenario")->required();
  eval->add_option("--set", o->overrides, "override a key of the scenario: --set key=value")
      ->allow_extra_args(false);
  eval->add_option("--prefix", o->prefix,
                   "files written: PREFIX_fine.nc, PREFIX_xK.nc, PREFIX_superres.nc")
      ->capture_default_str();
  eval->callback([o, read_config, &context] {
    const io::Config scenario = read_config();
    eval_command(o->model, scenario, o->prefix, context.runtime().comm(), context.command_line());
  });
}

} // namespace nunatak::app
