// `nunatak emulator train CONFIG` and `nunatak emulator eval MODEL DATASET`:
// training the Blatter-Pattyn emulator on a data set, and measuring it on one
// (docs/emulator.md). LibTorch; built with NUNATAK_ENABLE_EMULATOR.

#include "emulator_commands.hpp"

#include "nunatak/core/error.hpp"
#include "nunatak/core/machine.hpp"
#include "nunatak/core/version.hpp"
#include "nunatak/emulator/membrane_reference.hpp"
#include "nunatak/emulator/network.hpp"
#include "nunatak/emulator/refinement.hpp"
#include "nunatak/emulator/trainer.hpp"
#include "nunatak/io/bp_fixture.hpp"
#include "nunatak/io/config.hpp"
#include "nunatak/io/emulator_dataset.hpp"
#include "nunatak/io/file_safety.hpp"
#include "nunatak/io/line_plot.hpp"
#include "nunatak/io/netcdf_file.hpp"
#include "nunatak/io/plot.hpp"
#include "nunatak/model/simulation.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <netcdf.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <sstream>
#include <tuple>
#include <utility>

namespace nunatak::app {

namespace {

namespace fs = std::filesystem;

/// PATH without its extension, for the files written beside a model.
std::string stem_of(const std::string& path) {
  const fs::path p(path);
  return (p.parent_path() / p.stem()).string();
}

/// The samples of `dataset` that are `validation` (or not) and converged, as tensors.
std::vector<emulator::TrainingSample> torch_samples(const io::EmulatorDataset& dataset,
                                                    bool validation, torch::Dtype dtype) {
  std::vector<emulator::TrainingSample> out;
  for (const auto& s : dataset.samples) {
    if (s.validation != validation || !s.converged) continue;
    emulator::TrainingSample t;
    t.patch = emulator::make_torch_bp_patch(s.patch, dtype);
    t.solution = emulator::velocity_tensor(t.patch, s.velocity);
    out.push_back(std::move(t));
  }
  return out;
}

/// Writes the loss curves as NetCDF (one record per epoch) and as a PNG.
void write_history(const std::vector<emulator::EpochRecord>& history, const std::string& stem,
                   const std::string& loss) {
  const std::string path = stem + "_history.nc";
  io::write_then_rename(path, [&](const std::string& tmp) {
    io::NcFile f = io::NcFile::create(tmp);
    const int e = f.define_dimension("epoch", history.size());
    struct Column {
      const char* name;
      const char* units;
      const char* long_name;
      double emulator::EpochRecord::*member;
    };
    const Column columns[] = {
        {"learning_rate", "1", "Adam's learning rate", &emulator::EpochRecord::learning_rate},
        {"physics_weight", "1", "hybrid: weight lambda of the physics term",
         &emulator::EpochRecord::weight},
        {"train_loss", "1", "mean training loss", &emulator::EpochRecord::train_loss},
        {"train_physics", "1", "mean physics loss of the training samples",
         &emulator::EpochRecord::train_physics},
        {"train_data", "1", "mean data loss (relative squared misfit) of the training samples",
         &emulator::EpochRecord::train_data},
        {"validation_error", "1",
         "median relative L2 error of the velocity over the validation samples",
         &emulator::EpochRecord::validation_error},
        {"validation_physics", "1", "mean physics loss of the validation samples",
         &emulator::EpochRecord::validation_physics},
        {"seconds", "s", "wall time of the epoch", &emulator::EpochRecord::seconds}};
    std::vector<int> ids;
    const int epoch = f.define_variable("epoch", NC_INT, {e});
    f.put_attribute(epoch, "long_name", std::string("epoch (1-based)"));
    for (const auto& c : columns) {
      ids.push_back(f.define_variable(c.name, NC_DOUBLE, {e}));
      f.put_attribute(ids.back(), "units", std::string(c.units));
      f.put_attribute(ids.back(), "long_name", std::string(c.long_name));
    }
    f.put_attribute(NC_GLOBAL, "loss", loss);
    f.end_definitions();
    std::vector<double> values(history.size());
    for (size_t k = 0; k < history.size(); ++k) values[k] = history[k].epoch;
    if (!history.empty()) f.write(epoch, {0}, {history.size()}, values.data());
    for (size_t c = 0; c < ids.size(); ++c) {
      for (size_t k = 0; k < history.size(); ++k) values[k] = history[k].*(columns[c].member);
      if (!history.empty()) f.write(ids[c], {0}, {history.size()}, values.data());
    }
    f.close();
  });
  io::LineChart chart;
  chart.title = "Emulator training (" + loss + " loss)";
  chart.subtitle = fs::path(stem).filename().string();
  chart.x_label = "epoch";
  chart.y_label = "log10 of the loss or error";
  io::Series validation{{}, {}, "validation: relative L2 error of the velocity"};
  io::Series data{{}, {}, "training: relative misfit, sqrt(data loss)"};
  io::Series physics{{}, {}, "validation: physics loss (energy / driving work), sign kept"};
  for (const auto& r : history) {
    validation.x.push_back(r.epoch);
    validation.y.push_back(std::log10(r.validation_error));
    data.x.push_back(r.epoch);
    data.y.push_back(std::log10(std::sqrt(r.train_data)));
    physics.x.push_back(r.epoch);
    physics.y.push_back(
        std::copysign(std::log10(1.0 + std::abs(r.validation_physics)), r.validation_physics));
  }
  for (auto* s : {&validation, &data, &physics})
    if (std::any_of(s->y.begin(), s->y.end(), [](double v) { return std::isfinite(v); }))
      chart.series.push_back(*s);
  if (!chart.series.empty()) io::write_line_png(chart, stem + "_history.png");
}

/// The training keys as YAML lines (the model's provenance).
std::string training_text(const io::Config& config) {
  std::ostringstream text;
  for (const auto& key : io::config_schema())
    if (key.name.rfind("emulator.training.", 0) == 0)
      text << key.name << ": " << config.text(key.name) << "\n";
  return text.str();
}

/// emulator.training.inputs: the channels listed, or every channel this
/// version computes when the list is empty. Throws nunatak::Error naming the
/// configuration file, the key and the first unknown or repeated channel.
std::vector<std::string> training_inputs(const io::Config& config, const std::string& source) {
  const std::string key = "emulator.training.inputs";
  const auto& known = emulator::emulator_input_names();
  const std::vector<std::string>& listed = config.get_list(key);
  if (listed.empty()) return known;
  for (size_t k = 0; k < listed.size(); ++k) {
    if (std::find(known.begin(), known.end(), listed[k]) == known.end())
      throw Error(fmt::format("{}: {}: unknown channel '{}' (known: {})", source, key, listed[k],
                              fmt::join(known, ", ")));
    if (std::find(listed.begin(), listed.begin() + long(k), listed[k]) != listed.begin() + long(k))
      throw Error(fmt::format("{}: {}: channel '{}' listed twice", source, key, listed[k]));
  }
  return listed;
}

void add_train_command(CLI::App& emulator_cmd, Context& context) {
  auto* cmd = emulator_cmd.add_subcommand(
      "train", "Train the emulator on a data set (keys emulator.training.*): Adam with a cosine "
               "learning-rate schedule, mini-batches, validation every epoch, the best model kept, "
               "a checkpoint every epoch (--resume continues it); bitwise reproducible on a CPU");
  struct Options {
    std::string config_file;
    std::vector<std::string> overrides;
    bool resume = false;
  };
  auto o = std::make_shared<Options>();
  cmd->add_option("CONFIG", o->config_file, "YAML configuration (keys emulator.training.*)")
      ->required();
  cmd->add_option("--set", o->overrides, "override a key: --set key=value")
      ->allow_extra_args(false);
  cmd->add_flag("--resume", o->resume,
                "continue from MODEL_checkpoint.pt (same configuration) instead of starting anew");
  cmd->callback([o, &context] {
    io::Config config = io::Config::from_file(o->config_file);
    for (const auto& s : o->overrides) config.set_override(s);
    const std::string t = "emulator.training.";
    const std::string dataset_path = config.get_string(t + "dataset");
    const std::string model_path = config.get_string(t + "model");
    const std::string stem = stem_of(model_path);
    const std::string checkpoint = stem + "_checkpoint.pt";
    const std::vector<std::string> inputs = training_inputs(config, o->config_file);
    core::Runtime& runtime = context.runtime();
    io::FilePlan files;
    files.read(o->config_file, "CONFIG");
    files.read(dataset_path, t + "dataset");
    // The checkpoint is read completely before it is replaced (by a rename).
    if (o->resume) files.read(checkpoint, "--resume", t + "model (checkpoint)");
    files.write(model_path, t + "model");
    files.write(stem + "_history.nc", t + "model (loss curves)");
    files.write(stem + "_history.png", t + "model (loss curves)");
    files.write(checkpoint, t + "model (checkpoint)");
    model::prepare_files(files, runtime.comm());
    if (runtime.rank() == 0 && fs::path(model_path).has_parent_path())
      fs::create_directories(fs::path(model_path).parent_path());
    // Training runs on rank 0 (on LibTorch's threads); other ranks have no part in it.
    if (runtime.rank() != 0) return;

    const io::EmulatorDataset dataset = io::read_emulator_dataset(dataset_path);
    const torch::Dtype dtype =
        config.get_string(t + "precision") == "single" ? torch::kFloat32 : torch::kFloat64;
    std::vector<emulator::TrainingSample> training = torch_samples(dataset, false, dtype);
    std::vector<emulator::TrainingSample> validation = torch_samples(dataset, true, dtype);
    if (training.empty())
      throw Error(t + "dataset '" + dataset_path +
                  "' has no converged training sample (all are validation, or none converged)");

    emulator::EmulatorMetadata meta = emulator::emulator_metadata_for(
        training.front().patch, config.get_string(t + "architecture"),
        int(config.get_int(t + "width")), int(config.get_int(t + "depth")));
    meta.inputs = inputs;
    meta.input_mean.assign(inputs.size(), 0.0);
    meta.input_std.assign(inputs.size(), 1.0);
    meta.output_scaling = config.get_string(t + "output_scaling");
    meta.membrane_viscosity = config.get_string(t + "membrane_viscosity");
    meta.training = training_text(config);
    meta.dataset = dataset_path + " (" + std::to_string(training.size()) + " training and " +
                   std::to_string(validation.size()) + " validation samples)\n" +
                   dataset.configuration;
    meta.code_version =
        std::string("nunatak ") + nunatak::version + " (git " + nunatak::git_revision + ")";
    emulator::Emulator net(meta, std::uint64_t(config.get_int(t + "seed")));
    if (emulator::uses_membrane(meta)) {
      // The samples' geometry is fixed: solve each one's membrane reference
      // (and, if read, its imbalance) once.
      const bool imbalance =
          std::find(inputs.begin(), inputs.end(), "membrane_imbalance_along") != inputs.end() ||
          std::find(inputs.begin(), inputs.end(), "membrane_imbalance_across") != inputs.end();
      for (auto* set : {&training, &validation})
        for (auto& s : *set) {
          emulator::cache_membrane(s.patch, emulator::membrane_options(meta));
          if (imbalance)
            emulator::cache_membrane_imbalance(s.patch, emulator::membrane_options(meta));
        }
    }
    {
      std::vector<emulator::TorchBPPatch> patches;
      for (const auto& s : training) patches.push_back(s.patch);
      emulator::fit_normalisation(net, patches);
      emulator::fit_velocity_scale(net, training);
    }
    emulator::EpochOptions options;
    options.loss = config.get_string(t + "loss");
    options.epochs = int(config.get_int(t + "epochs"));
    options.batch_size = int(config.get_int(t + "batch_size"));
    options.learning_rate = config.get_real(t + "learning_rate");
    options.final_learning_rate = config.get_real(t + "final_learning_rate");
    options.seed = std::uint64_t(config.get_int(t + "seed"));
    options.physics_warmup_epochs = int(config.get_int(t + "physics_warmup_epochs"));
    options.balance_ratio = config.get_real(t + "balance_ratio");
    emulator::Trainer trainer(net, std::move(training), std::move(validation), options);
    if (o->resume) {
      trainer.resume(checkpoint);
      spdlog::info("resumed from {} after epoch {}", checkpoint, trainer.epochs_done());
    }
    spdlog::info("training a {} of width {} and depth {} ({} loss, {} output scaling, {} "
                 "precision) on {}",
                 meta.architecture, meta.width, meta.depth, options.loss, meta.output_scaling,
                 config.get_string(t + "precision"), dataset_path);
    while (!trainer.finished()) {
      const emulator::EpochRecord r = trainer.run_epoch();
      spdlog::info("epoch {}/{}: loss {:.4g} (data {:.4g}, physics {:.4g}, weight {:.3g}), "
                   "validation error {:.2f} %, lr {:.2g}, {:.1f} s ({:.1f} samples/s)",
                   r.epoch, options.epochs, r.train_loss, r.train_data, r.train_physics, r.weight,
                   100 * r.validation_error, r.learning_rate, r.seconds,
                   r.samples / std::max(r.seconds, 1e-9));
      trainer.save_checkpoint(checkpoint);
      trainer.save_best(model_path);
      write_history(trainer.history(), stem, options.loss);
    }
    spdlog::info("best epoch {}: validation error {:.2f} %", trainer.best_epoch(),
                 100 * trainer.history()[size_t(trainer.best_epoch() - 1)].validation_error);
    spdlog::info("wrote {}, {}_history.nc, {}_history.png and {}", model_path, stem, stem,
                 checkpoint);
  });
}

/// Relative L2 error sqrt(sum |a - b|^2 / sum |b|^2) of [ny, nx, 2] fields over `mask` [ny, nx].
double relative_error(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& mask) {
  const torch::Tensor m = mask.unsqueeze(2);
  const double num = ((a - b) * m).pow(2).sum().item<double>();
  const double den = (b * m).pow(2).sum().item<double>();
  return den > 0 ? std::sqrt(num / den) : std::nan("");
}

/// The depth average of [ny, nx, nz, 2] over uniform-or-not levels `sigma` (trapezoid).
torch::Tensor depth_average(const torch::Tensor& u, const std::vector<double>& sigma) {
  torch::Tensor sum = torch::zeros_like(u.select(2, 0));
  for (size_t k = 0; k + 1 < sigma.size(); ++k)
    sum = sum +
          0.5 * (sigma[k + 1] - sigma[k]) * (u.select(2, int64_t(k)) + u.select(2, int64_t(k + 1)));
  return sum;
}

struct SampleError {
  size_t sample = 0;
  double surface = 0, depth_average = 0, seconds = 0, solver_seconds = 0;
  double sia_surface = 0, sia_depth_average = 0;           ///< the shallow-ice baseline's errors
  double membrane_surface = 0, membrane_depth_average = 0; ///< the membrane baseline's errors
  double glen_surface = 0, glen_depth_average = 0;         ///< the glen membrane baseline's errors
  double gauss_surface = 0, gauss_depth_average = 0;       ///< the glen_gauss baseline's errors
  double refined_surface = 0, refined_depth_average = 0;   ///< glen_gauss refined (--refine)
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  const double x = p * double(v.size() - 1);
  const size_t i = size_t(x);
  return i + 1 < v.size() ? v[i] + (x - double(i)) * (v[i + 1] - v[i]) : v.back();
}

/// Maps of the solver's surface speed and the emulator's error for one sample.
void write_error_maps(const io::EmulatorSample& s, const torch::Tensor& us, const torch::Tensor& ss,
                      const torch::Tensor& icy, const std::string& prefix,
                      const std::string& subtitle) {
  const int nx = s.patch.nx, ny = s.patch.ny;
  io::MapData speed, error;
  for (io::MapData* m : {&speed, &error}) {
    m->nx = nx;
    m->ny = ny;
    for (int i = 0; i < nx; ++i) m->x.push_back(i * s.patch.dx);
    for (int j = 0; j < ny; ++j) m->y.push_back(j * s.patch.dy);
    m->subtitle = subtitle;
    m->units = "m year-1";
  }
  const torch::Tensor solver_speed = ss.pow(2).sum(2).sqrt().to(torch::kFloat64).contiguous();
  const torch::Tensor diff = (us - ss).pow(2).sum(2).sqrt().to(torch::kFloat64).contiguous();
  const torch::Tensor mask = icy.to(torch::kFloat64).contiguous();
  for (int64_t c = 0; c < int64_t(nx) * ny; ++c) {
    const bool ice = mask.data_ptr<double>()[c] > 0.5;
    speed.values.push_back(ice ? solver_speed.data_ptr<double>()[c] : std::nan(""));
    error.values.push_back(ice ? diff.data_ptr<double>()[c] : std::nan(""));
  }
  speed.title = "Blatter-Pattyn surface speed (sample " + std::to_string(s.index) + ")";
  error.title = "|emulator - solver| surface velocity";
  io::PlotOptions options;
  options.scale = io::ColourScale::log;
  io::write_map_png(speed, options, prefix + "_solver_speed.png");
  io::write_map_png(error, options, prefix + "_error.png");
}

/// 1 on the patch's owned columns (a fixture's ghosts excluded), [ny, nx].
torch::Tensor owned_columns(const core::BPPatch& p) {
  torch::Tensor mask = torch::zeros({p.ny, p.nx}, torch::kFloat64);
  mask.narrow(0, p.ys, p.ym).narrow(1, p.xs, p.xm).fill_(1.0);
  return mask;
}

} // namespace

void add_refine_options(CLI::App* cmd, int& steps, std::string& method,
                        const std::string& steps_help) {
  cmd->add_option("--refine", steps, steps_help)->check(CLI::Range(0, 1000));
  cmd->add_option("--refine-method", method,
                  "how each refinement step is taken (as emulator.refine_method)")
      ->check(CLI::IsMember({"defect", "newton"}));
}

void check_model_fits(const emulator::Emulator& net, const io::EmulatorDataset& dataset,
                      const std::string& model_path) {
  emulator::EmulatorMetadata run = net.metadata();
  run.sigma = dataset.sigma;
  run.glen_exponent = dataset.constants.glen_exponent;
  run.ice_density = dataset.constants.rho_g / run.gravity;
  run.sea_water_density = dataset.constants.water_ratio * run.ice_density;
  run.friction_exponent = dataset.constants.friction_exponent;
  run.minimum_thickness = dataset.constants.minimum_thickness;
  emulator::check_compatible(net.metadata(), run, model_path);
}

namespace {

void add_eval_command(CLI::App& emulator_cmd, Context& context) {
  auto* cmd = emulator_cmd.add_subcommand(
      "eval", "Measure an emulator on a data set: per sample, the relative L2 error of the "
              "surface and of the depth-averaged velocity over the ice, their distribution, error "
              "maps of the worst samples, and the inference time against the solver's");
  struct Options {
    std::string model, dataset, which = "all", precision = "single", maps_prefix;
    int maps = 3;
    int refine = 0;
    std::string refine_method = "defect";
  };
  auto o = std::make_shared<Options>();
  cmd->add_option("MODEL", o->model, "model file (`nunatak emulator train`)")->required();
  cmd->add_option("DATASET", o->dataset,
                  "data set (`nunatak emulator dataset`), or a Blatter-Pattyn fixture at a "
                  "solution (`nunatak solve --bp-fixture`, `nunatak ismip-hom --bp-fixture`)")
      ->required();
  cmd->add_option("--samples", o->which, "which samples: all, validation or training")
      ->check(CLI::IsMember({"all", "validation", "training"}));
  cmd->add_option("--precision", o->precision, "precision of the network (as emulator.precision)")
      ->check(CLI::IsMember({"single", "double"}));
  cmd->add_option("--maps", o->maps, "error maps (PNG) of this many worst samples")
      ->check(CLI::Range(0, 1000));
  add_refine_options(cmd, o->refine, o->refine_method,
                     "defect-correction steps towards the Blatter-Pattyn balance after the "
                     "network (as emulator.refine_steps; timed with it), and the glen_gauss "
                     "reference refined as many for comparison");
  cmd->add_option("--maps-prefix", o->maps_prefix,
                  "path prefix of the maps (default: MODEL's folder and stem, then _eval_)");
  cmd->callback([o, &context] {
    core::Runtime& runtime = context.runtime();
    const std::string prefix =
        o->maps_prefix.empty() ? stem_of(o->model) + "_eval" : o->maps_prefix;
    io::FilePlan files;
    files.read(o->model, "MODEL");
    files.read(o->dataset, "DATASET");
    model::prepare_files(files, runtime.comm());
    if (runtime.rank() != 0) return;
    emulator::Emulator net = emulator::Emulator::load(o->model);
    const io::EmulatorDataset dataset = io::read_emulator_samples(o->dataset);
    check_model_fits(net, dataset, o->model);
    const torch::Dtype dtype = o->precision == "single" ? torch::kFloat32 : torch::kFloat64;
    const int nz = int(dataset.sigma.size());
    std::vector<SampleError> errors;
    std::vector<torch::Tensor> surface_pairs; // per error entry: [2, ny, nx, 2]
    for (size_t k = 0; k < dataset.samples.size(); ++k) {
      const io::EmulatorSample& s = dataset.samples[k];
      if (!s.converged || (o->which == "validation" && !s.validation) ||
          (o->which == "training" && s.validation))
        continue;
      const emulator::TorchBPPatch p = emulator::make_torch_bp_patch(s.patch, dtype);
      net.to(p.options());
      const torch::NoGradGuard no_grad;
      net.velocity(p); // warm-up (allocations), not timed
      const auto start = std::chrono::steady_clock::now();
      torch::Tensor u;
      if (o->refine > 0) {
        // One membrane solve, shared by the network and the refinement (as
        // the stress balance shares it).
        emulator::TorchBPPatch solved = p;
        const emulator::MembraneOptions options = emulator::membrane_options(net.metadata());
        emulator::cache_membrane(solved, options);
        u = emulator::refine_velocity(solved, net.velocity(solved), options, o->refine, 1.0,
                                      nullptr, emulator::refine_method(o->refine_method));
      } else {
        u = net.velocity(p);
      }
      u = u.to(torch::kFloat64);
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const emulator::TorchBPPatch p64 = emulator::make_torch_bp_patch(s.patch);
      const torch::Tensor star = emulator::velocity_tensor(p64, s.velocity);
      const torch::Tensor icy = p64.free_nodes.select(2, nz - 1) * owned_columns(s.patch);
      SampleError e;
      e.sample = k;
      e.surface = relative_error(u.select(2, nz - 1), star.select(2, nz - 1), icy);
      e.depth_average =
          relative_error(depth_average(u, dataset.sigma), depth_average(star, dataset.sigma), icy);
      const torch::Tensor sia = emulator::shallow_ice_velocity(p64);
      e.sia_surface = relative_error(sia.select(2, nz - 1), star.select(2, nz - 1), icy);
      e.sia_depth_average = relative_error(depth_average(sia, dataset.sigma),
                                           depth_average(star, dataset.sigma), icy);
      const torch::Tensor membrane = emulator::membrane_velocity_3d(p64);
      e.membrane_surface = relative_error(membrane.select(2, nz - 1), star.select(2, nz - 1), icy);
      e.membrane_depth_average = relative_error(depth_average(membrane, dataset.sigma),
                                                depth_average(star, dataset.sigma), icy);
      // The glen references' errors (surface, depth average).
      emulator::MembraneReport glen_report;
      // The patch with the reference cached, for the refined baseline.
      emulator::TorchBPPatch gauss_patch;
      const auto glen_errors = [&](const std::string& viscosity, emulator::MembraneReport* report) {
        emulator::MembraneOptions glen;
        glen.viscosity = viscosity;
        emulator::TorchBPPatch glen_patch = p64;
        emulator::cache_membrane(glen_patch, glen, report);
        if (viscosity == "glen_gauss") gauss_patch = glen_patch;
        const torch::Tensor nonlinear = emulator::membrane_velocity_3d(glen_patch, glen);
        return std::pair<double, double>{
            relative_error(nonlinear.select(2, nz - 1), star.select(2, nz - 1), icy),
            relative_error(depth_average(nonlinear, dataset.sigma),
                           depth_average(star, dataset.sigma), icy)};
      };
      std::tie(e.glen_surface, e.glen_depth_average) = glen_errors("glen", &glen_report);
      std::tie(e.gauss_surface, e.gauss_depth_average) = glen_errors("glen_gauss", nullptr);
      if (o->refine > 0) {
        // The glen_gauss reference refined as the network's output is.
        emulator::MembraneOptions gauss;
        gauss.viscosity = "glen_gauss";
        const torch::Tensor refined = emulator::refine_velocity(
            gauss_patch, emulator::membrane_velocity_3d(gauss_patch, gauss), gauss, o->refine, 1.0,
            nullptr, emulator::refine_method(o->refine_method));
        e.refined_surface = relative_error(refined.select(2, nz - 1), star.select(2, nz - 1), icy);
        e.refined_depth_average = relative_error(depth_average(refined, dataset.sigma),
                                                 depth_average(star, dataset.sigma), icy);
      }
      e.seconds = seconds;
      e.solver_seconds = s.solve_seconds;
      if (!std::isfinite(e.surface)) continue; // no ice in motion
      spdlog::debug("sample {} ({}, {}x{}, dx {:.0f} m): surface error {:.1f} %, SIA {:.1f} %, "
                    "linear membrane {:.1f} %, glen membrane {:.1f} % ({} Picard, {} CG "
                    "iterations), glen_gauss {:.1f} %",
                    s.index, s.source ? "patch" : "synthetic", s.patch.nx, s.patch.ny, s.patch.dx,
                    100 * e.surface, 100 * e.sia_surface, 100 * e.membrane_surface,
                    100 * e.glen_surface, glen_report.picard, glen_report.iterations,
                    100 * e.gauss_surface);
      errors.push_back(e);
      surface_pairs.push_back(torch::stack({u.select(2, nz - 1), star.select(2, nz - 1)}));
    }
    if (errors.empty())
      throw Error("emulator eval: no converged " +
                  (o->which == "all" ? std::string() : o->which + " ") + "sample with ice in '" +
                  o->dataset + "'");
    spdlog::info("{} ({}), {} on {} {} samples of {}", o->model, net.metadata().architecture,
                 o->precision, errors.size(), o->which, o->dataset);
    const auto summary = [&](const char* what, double SampleError::*member) {
      std::vector<double> v;
      for (const auto& e : errors) v.push_back(e.*member);
      const double mean = std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
      const auto share = [&](double limit) {
        return 100.0 *
               double(std::count_if(v.begin(), v.end(), [&](double x) { return x <= limit; })) /
               double(v.size());
      };
      spdlog::info("{:>22}: mean {:6.2f} %, median {:6.2f} %, p90 {:6.2f} %, max {:6.2f} %; "
                   "<= 3 %: {:.0f} % of samples, <= 5 %: {:.0f} %",
                   what, 100 * mean, 100 * percentile(v, 0.5), 100 * percentile(v, 0.9),
                   100 * *std::max_element(v.begin(), v.end()), share(0.03), share(0.05));
    };
    spdlog::info("relative L2 error over the ice:");
    summary("surface velocity", &SampleError::surface);
    summary("depth-averaged velocity", &SampleError::depth_average);
    spdlog::info("the shallow-ice velocity (local slopes, with sliding), for comparison:");
    summary("SIA surface velocity", &SampleError::sia_surface);
    summary("SIA depth-averaged", &SampleError::sia_depth_average);
    spdlog::info("the linear membrane reference (membrane_reference.hpp), for comparison:");
    summary("membrane surface", &SampleError::membrane_surface);
    summary("membrane depth-averaged", &SampleError::membrane_depth_average);
    spdlog::info("the glen membrane reference (DIVA, membrane_reference.hpp), for comparison:");
    summary("glen membrane surface", &SampleError::glen_surface);
    summary("glen membrane depth-averaged", &SampleError::glen_depth_average);
    spdlog::info("the glen_gauss membrane reference (no-slip shear at the Gauss points), for "
                 "comparison:");
    summary("glen_gauss surface", &SampleError::gauss_surface);
    summary("glen_gauss depth-averaged", &SampleError::gauss_depth_average);
    if (o->refine > 0) {
      spdlog::info("the glen_gauss reference refined {} steps ({}; emulator.refine_steps), for "
                   "comparison:",
                   o->refine, o->refine_method);
      summary("refined surface", &SampleError::refined_surface);
      summary("refined depth-averaged", &SampleError::refined_depth_average);
    }
    double emulator_time = 0, solver_time = 0;
    for (const auto& e : errors) {
      emulator_time += e.seconds;
      solver_time += e.solver_seconds;
    }
    if (std::isfinite(solver_time))
      spdlog::info("time: emulator {:.2f} ms per sample, solver {:.0f} ms per sample (from the "
                   "data set): {:.0f} times faster ({} threads, BLAS {})",
                   1e3 * emulator_time / double(errors.size()),
                   1e3 * solver_time / double(errors.size()), solver_time / emulator_time,
                   torch::get_num_threads(), core::blas_library());
    else
      spdlog::info("time: emulator {:.2f} ms per sample ({} threads, BLAS {})",
                   1e3 * emulator_time / double(errors.size()), torch::get_num_threads(),
                   core::blas_library());
    std::vector<size_t> order(errors.size());
    std::iota(order.begin(), order.end(), size_t(0));
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return errors[a].surface > errors[b].surface; });
    for (size_t w = 0; w < std::min(order.size(), size_t(o->maps)); ++w) {
      const SampleError& e = errors[order[w]];
      const io::EmulatorSample& s = dataset.samples[e.sample];
      const emulator::TorchBPPatch p64 = emulator::make_torch_bp_patch(s.patch);
      const std::string stem = prefix + "_sample" + std::to_string(s.index);
      write_error_maps(s, surface_pairs[order[w]][0], surface_pairs[order[w]][1],
                       p64.free_nodes.select(2, nz - 1) * owned_columns(s.patch), stem,
                       fmt::format("sample {}, dx {:.0f} m: surface error {:.1f} %", s.index,
                                   s.patch.dx, 100 * e.surface));
      spdlog::info("worst #{}: sample {} ({}, {}x{} at dx {:.0f} m): surface error {:.1f} %, "
                   "maps {}_*.png",
                   w + 1, s.index, s.source ? "patch" : "synthetic", s.patch.nx, s.patch.ny,
                   s.patch.dx, 100 * e.surface, stem);
    }
  });
}

} // namespace

void add_emulator_training_commands(CLI::App& emulator, Context& context) {
  add_train_command(emulator, context);
  add_eval_command(emulator, context);
  add_gradient_command(emulator, context);
}

} // namespace nunatak::app
