// `nunatak emulator dataset|train|eval` end to end (docs/emulator.md):
// - dataset: every sample's velocity is the minimiser of its stored problem
//   (the shared energy's gradient vanishes there); 2 ranks give bit for bit
//   the data set of 1 rank; a run killed half-way resumes to the same file;
//   patches of Aletsch come from the allowed x range; Greenland and bad keys
//   are one clear error.
// - train: the validation error falls; the same seed gives bitwise the same
//   model; --resume after an interrupted run gives the same model as a
//   straight run; loss curves as NetCDF and PNG.
// - eval: the trained model's errors are those printed, and lower than the
//   untrained model's.
// This program does not start MPI itself: it runs nunatak under mpiexec.
#include "cli_support.hpp"
#include "nunatak/emulator/bp_energy.hpp"
#include "nunatak/emulator/network.hpp"
#include "nunatak/io/emulator_dataset.hpp"
#include "nunatak/io/netcdf_file.hpp"
#include "test_files.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <functional>
#include <thread>

using namespace nunatak;
using namespace nunatak::test;
namespace fs = std::filesystem;

namespace {

/// A small data set: `synthetic` glaciers of 16-20 columns, `patches` Aletsch patches.
std::string dataset_config(const TempDir& dir, const std::string& file, int synthetic,
                           int patches) {
  write_text(dir.file("aletsch.yaml"),
             "input:\n  geometry.file: " + shared_data_dir() +
                 "/aletsch/aletsch_100m.nc\n  missing_thickness: plastic\n"
                 "thickness_estimate.calibration: radar\n");
  const std::string path = dir.file("dataset.yaml");
  write_text(path, "emulator.dataset:\n  file: " + file + "\n  samples: " +
                       std::to_string(synthetic) + "\n  patch_samples: " + std::to_string(patches) +
                       "\n  patch_config: aletsch.yaml\n  patch_x_max: 0.6\n"
                       "  cells_min: 16\n  cells_max: 20\n  validation_fraction: 0.25\n"
                       "bp.levels: 5\n");
  return path;
}

/// Runs the shell command `command` in `dir`, polls `ready` (every
/// millisecond, at most 30 s) and kills the run with SIGKILL when it holds;
/// true if the run was still going (killed), false if it had finished.
bool killed_when(const TempDir& dir, const std::string& command,
                 const std::function<bool()>& ready) {
  const pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    if (::chdir(dir.path().c_str()) != 0) _exit(126);
    execl("/bin/sh", "sh", "-c", ("exec " + command + " >/dev/null 2>&1").c_str(), nullptr);
    _exit(127);
  }
  for (int wait = 0; wait < 30000 && !ready(); ++wait)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ::kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFSIGNALED(status);
}

/// The two data sets hold the same samples bit for bit (solve times aside).
void expect_same_dataset(const io::EmulatorDataset& a, const io::EmulatorDataset& b) {
  ASSERT_EQ(a.samples.size(), b.samples.size());
  const auto same = [](const std::vector<double>& x, const std::vector<double>& y) {
    return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(double)) == 0;
  };
  for (size_t k = 0; k < a.samples.size(); ++k) {
    const auto &s = a.samples[k], &t = b.samples[k];
    EXPECT_EQ(s.index, t.index);
    EXPECT_EQ(s.converged, t.converged);
    EXPECT_EQ(s.newton_iterations, t.newton_iterations) << "sample " << k;
    EXPECT_TRUE(same(s.patch.thickness, t.patch.thickness)) << "sample " << k;
    EXPECT_TRUE(same(s.patch.beta2, t.patch.beta2)) << "sample " << k;
    EXPECT_TRUE(same(s.patch.hardness, t.patch.hardness)) << "sample " << k;
    EXPECT_TRUE(same(s.velocity, t.velocity)) << "sample " << k;
  }
}

TEST(EmulatorDataset, SolutionsMinimiseTheirStoredProblems) {
  TempDir dir;
  const Result r = run_nunatak(dir, "emulator dataset " + dataset_config(dir, "d.nc", 3, 1));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_CONTAINS(r.err, "4 samples in");
  const io::EmulatorDataset d = io::read_emulator_dataset(dir.file("d.nc"));
  ASSERT_EQ(d.samples.size(), 4u);
  EXPECT_EQ(d.sigma.size(), 5u);
  EXPECT_FALSE(fs::exists(dir.file("d.nc.parts"))) << "the parts folder is removed when merged";
  int validation = 0, converged = 0;
  for (const auto& s : d.samples) {
    validation += s.validation;
    if (!s.converged) {
      EXPECT_TRUE(s.velocity.empty()) << "a sample that failed is flagged, without velocity";
      continue;
    }
    ++converged;
    EXPECT_EQ(s.source, s.index < 3 ? 0 : 1);
    EXPECT_GE(s.patch.nx, 16);
    EXPECT_LE(s.patch.nx, 20);
    // The stored velocity minimises the stored problem: the gradient of the
    // shared energy at it is round-off next to the gradient at rest (the
    // driving stress) on the free nodes.
    const auto p = emulator::make_torch_bp_patch(s.patch);
    const torch::Tensor u = emulator::velocity_tensor(p, s.velocity);
    const torch::Tensor mask = p.free_nodes.unsqueeze(3);
    const double g = (emulator::bp_energy_gradient(p, u) * mask).norm().item<double>();
    const double g0 =
        (emulator::bp_energy_gradient(p, torch::zeros_like(u)) * mask).norm().item<double>();
    EXPECT_LT(g, 1e-5 * g0) << "sample " << s.index;
    // Ice moves: the maximum speed is far from 0.
    EXPECT_GT(u.abs().max().item<double>(), 1e-3) << "sample " << s.index;
  }
  EXPECT_EQ(validation, 1) << "a quarter of 4 samples";
  EXPECT_GE(converged, 3);
  // The patch lies in the west 60 % of Aletsch: its thickness is Aletsch's
  // (perturbed), 100 or 200 m spacing.
  const auto& patch = d.samples[3].patch;
  EXPECT_TRUE(patch.dx == 100.0 || patch.dx == 200.0) << patch.dx;
}

TEST(EmulatorDataset, TwoRanksAndResumeGiveTheSameFile) {
  TempDir dir;
  const std::string config = dataset_config(dir, "one.nc", 30, 2);
  ASSERT_EQ(run_nunatak(dir, "emulator dataset " + config).status, 0);
  const Result two =
      run_shell(dir, std::string(NUNATAK_MPIEXEC) + " --allow-run-as-root --oversubscribe -n 2 " +
                         NUNATAK_BINARY + " emulator dataset " + config +
                         " --set emulator.dataset.file=two.nc");
  ASSERT_EQ(two.status, 0) << two.err;
  const io::EmulatorDataset one = io::read_emulator_dataset(dir.file("one.nc"));
  expect_same_dataset(one, io::read_emulator_dataset(dir.file("two.nc")));

  // Killed after two samples, then run again: the same data set.
  const std::string parts = dir.file("killed.nc.parts");
  const std::string command = std::string(NUNATAK_BINARY) + " emulator dataset " + config +
                              " --set emulator.dataset.file=killed.nc";
  const auto count_parts = [&] {
    int n = 0;
    if (fs::exists(parts))
      for (const auto& e : fs::directory_iterator(parts))
        n += e.path().extension() == ".nc" && e.path().string().find(".tmp.") == std::string::npos;
    return n;
  };
  ASSERT_TRUE(killed_when(dir, command, [&] { return count_parts() >= 2; }))
      << "the run finished before it was killed";
  ASSERT_FALSE(fs::exists(dir.file("killed.nc")));
  const int done = count_parts();
  const Result resumed = run_shell(dir, command);
  ASSERT_EQ(resumed.status, 0) << resumed.err;
  EXPECT_CONTAINS(resumed.err, "resumed: " + std::to_string(done) + " samples");
  expect_same_dataset(one, io::read_emulator_dataset(dir.file("killed.nc")));
}

TEST(EmulatorDataset, BadConfigurationsAreOneError) {
  TempDir dir;
  write_text(dir.file("input_greenland.yaml"), "input.geometry.file: " + shared_data_dir() +
                                                   "/greenland-16km/GRL-16KM_TOPO-M17.nc\n");
  write_text(dir.file("input_g.yaml"), "emulator.dataset:\n  patch_config: input_greenland.yaml\n"
                                       "  patch_samples: 2\n  file: out.nc\n");
  expect_clean_failure(dir, "emulator dataset input_g.yaml",
                       "Greenland is the real geometry the emulator is judged on");
  write_text(dir.file("input_c.yaml"), "emulator.dataset:\n  cells_min: 40\n  cells_max: 20\n"
                                       "  file: out.nc\n");
  expect_clean_failure(dir, "emulator dataset input_c.yaml",
                       "cells_min (40) is above cells_max (20)");
  write_text(dir.file("input_p.yaml"), "emulator.dataset:\n  patch_samples: 3\n  file: out.nc\n");
  expect_clean_failure(dir, "emulator dataset input_p.yaml", "no patch_config");
  write_text(dir.file("input_k.yaml"), "emulator.dataset:\n  sample: 3\n");
  expect_clean_failure(dir, "emulator dataset input_k.yaml", "emulator.dataset.sample");
}

/// A data set of 30 small synthetic glaciers (5 levels) made once for the
/// training tests, in its own folder.
class EmulatorTraining : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    data_dir = new TempDir;
    write_text(data_dir->file("dataset.yaml"),
               "emulator.dataset:\n  file: d.nc\n  samples: 40\n  cells_min: 16\n"
               "  cells_max: 20\n  dx_min: 1000\n  dx_max: 3000\n  validation_fraction: 0.2\n"
               "bp.levels: 5\n");
    const Result r = run_nunatak(*data_dir, "emulator dataset dataset.yaml");
    ASSERT_EQ(r.status, 0) << r.err;
  }
  static void TearDownTestSuite() {
    delete data_dir;
    data_dir = nullptr;
  }
  /// `nunatak emulator train` on the data set in `dir` with `extra` --set options.
  static std::string train_command(const std::string& model, const std::string& extra = "") {
    return std::string(NUNATAK_BINARY) + " emulator train " + data_dir->file("train.yaml") +
           " --set emulator.training.dataset=" + data_dir->file("d.nc") +
           " --set emulator.training.model=" + model + " " + extra;
  }
  static void SetUpTrainConfig() {
    write_text(data_dir->file("train.yaml"),
               "emulator.training:\n  loss: hybrid\n  width: 12\n  depth: 3\n  epochs: 10\n"
               "  batch_size: 2\n  learning_rate: 3e-3\n  final_learning_rate: 3e-4\n");
  }
  void SetUp() override { SetUpTrainConfig(); }
  /// A model (CNN 4x1) whose weights are all 0, for the training data set: it
  /// predicts u = 0, and its gradients with respect to the geometry are 0.
  static void write_zero_model(const std::string& path) {
    const io::EmulatorDataset d = io::read_emulator_dataset(data_dir->file("d.nc"));
    emulator::Emulator zero(emulator::emulator_metadata_for(
                                emulator::make_torch_bp_patch(d.samples[1].patch), "cnn", 4, 1),
                            1);
    {
      const torch::NoGradGuard no_grad;
      for (auto& w : zero.net()->parameters()) w.zero_();
    }
    zero.save(path);
  }
  static TempDir* data_dir;
};
TempDir* EmulatorTraining::data_dir = nullptr;

/// The weights of a model file, for bitwise comparisons.
std::vector<torch::Tensor> weights_of(const std::string& path) {
  emulator::Emulator model = emulator::Emulator::load(path);
  std::vector<torch::Tensor> w;
  for (const auto& p : model.net()->parameters()) w.push_back(p.detach().clone());
  return w;
}

bool same_weights(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (size_t k = 0; k < a.size(); ++k)
    if (!torch::equal(a[k], b[k])) return false;
  return true;
}

/// The mean surface error (%) that `nunatak emulator eval` prints.
double printed_surface_error(const std::string& err) {
  const std::string key = "surface velocity: mean";
  const size_t at = err.find(key);
  return at == std::string::npos ? std::nan("") : std::stod(err.substr(at + key.size()));
}

TEST_F(EmulatorTraining, ValidationErrorFallsAndTheSeedReproducesTheModel) {
  TempDir dir;
  const Result a = run_shell(dir, train_command("a/model.pt"));
  ASSERT_EQ(a.status, 0) << a.err;
  for (const char* f :
       {"a/model.pt", "a/model_history.nc", "a/model_history.png", "a/model_checkpoint.pt"})
    EXPECT_TRUE(fs::exists(dir.file(f))) << f;
  // The loss curves: 10 epochs; the training misfit falls by 10 % or more,
  // and the best validation error is below the first epoch's (a tiny
  // network, 160 steps: how far it gets depends on its draw; with every
  // channel, 16-40 % over seeds 1-3).
  const io::NcFile history = io::NcFile::open(dir.file("a/model_history.nc"));
  const std::vector<double> error = history.read_all(history.variable("validation_error"));
  const std::vector<double> data = history.read_all(history.variable("train_data"));
  ASSERT_EQ(error.size(), 10u);
  EXPECT_LT(data.back(), 0.9 * data.front());
  EXPECT_LT(*std::min_element(error.begin(), error.end()), 0.95 * error.front());
  const std::vector<double> lr = history.read_all(history.variable("learning_rate"));
  EXPECT_DOUBLE_EQ(lr.front(), 3e-3);
  EXPECT_DOUBLE_EQ(lr.back(), 3e-4);
  // Same seed: the same weights, bit for bit; another seed: others.
  ASSERT_EQ(run_shell(dir, train_command("b/model.pt")).status, 0);
  EXPECT_TRUE(same_weights(weights_of(dir.file("a/model.pt")), weights_of(dir.file("b/model.pt"))));
  ASSERT_EQ(run_shell(dir, train_command("c/model.pt", "--set emulator.training.seed=2")).status,
            0);
  EXPECT_FALSE(
      same_weights(weights_of(dir.file("a/model.pt")), weights_of(dir.file("c/model.pt"))));
  // The model file names where it came from.
  const emulator::Emulator m = emulator::Emulator::load(dir.file("a/model.pt"));
  EXPECT_CONTAINS(m.metadata().training, "emulator.training.loss: hybrid");
  EXPECT_CONTAINS(m.metadata().dataset, "emulator.dataset.samples: 40");
  EXPECT_EQ(m.metadata().output_scaling, "flow_aligned");

  // eval: the trained model's errors and the shallow-ice baseline beside them.
  const Result trained = run_nunatak(dir, "emulator eval a/model.pt " + data_dir->file("d.nc") +
                                              " --samples validation --maps 1");
  ASSERT_EQ(trained.status, 0) << trained.err;
  EXPECT_CONTAINS(trained.err, "depth-averaged velocity: mean");
  EXPECT_CONTAINS(trained.err, "SIA surface velocity: mean"); // the baselines beside it
  EXPECT_CONTAINS(trained.err, "membrane surface: mean");
  EXPECT_CONTAINS(trained.err, "times faster");
  const double printed = printed_surface_error(trained.err);
  EXPECT_TRUE(printed > 0 && printed < 1000) << trained.err;
  bool maps = false;
  for (const auto& e : fs::directory_iterator(dir.file("a")))
    maps = maps || e.path().string().find("model_eval_sample") != std::string::npos;
  EXPECT_TRUE(maps) << "eval draws the worst sample's error map";

  // The membrane output scaling, with the glen reference, trains (each
  // sample's reference solved once) and evaluates beside both references.
  const Result membrane =
      run_shell(dir, train_command("m/model.pt", "--set emulator.training.output_scaling=membrane "
                                                 "--set emulator.training.membrane_viscosity=glen "
                                                 "--set emulator.training.epochs=3"));
  ASSERT_EQ(membrane.status, 0) << membrane.err;
  const emulator::EmulatorMetadata trained_meta =
      emulator::Emulator::load(dir.file("m/model.pt")).metadata();
  EXPECT_EQ(trained_meta.output_scaling, "membrane");
  EXPECT_EQ(trained_meta.membrane_viscosity, "glen");
  EXPECT_EQ(trained_meta.inputs, emulator::emulator_input_names()); // every channel by default
  const Result evaluated = run_nunatak(dir, "emulator eval m/model.pt " + data_dir->file("d.nc") +
                                                " --samples validation --maps 0");
  ASSERT_EQ(evaluated.status, 0) << evaluated.err;
  EXPECT_CONTAINS(evaluated.err, "glen membrane surface: mean");
  const double membrane_error = printed_surface_error(evaluated.err);
  EXPECT_TRUE(membrane_error > 0 && membrane_error < 1000) << evaluated.err;
}

// A network whose weights are all 0 predicts u = 0: every sample's relative
// error is exactly 100 %, the known answer of the metric.
TEST_F(EmulatorTraining, EvalOfTheZeroVelocityIsExactlyOneHundredPercent) {
  TempDir dir;
  write_zero_model(dir.file("zero.pt"));
  const Result r =
      run_nunatak(dir, "emulator eval zero.pt " + data_dir->file("d.nc") + " --maps 0");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_CONTAINS(r.err, "surface velocity: mean 100.00 %, median 100.00 %, p90 100.00 %, "
                         "max 100.00 %");
  EXPECT_CONTAINS(r.err, "depth-averaged velocity: mean 100.00 %");
}

/// The text of the first per-sample line of `nunatak emulator gradient` from `key` on.
std::string gradient_line_from(const std::string& err, const std::string& key) {
  const size_t line = err.find("info: sample ");
  const size_t at = err.find(key, line);
  if (line == std::string::npos || at == std::string::npos) return "";
  return err.substr(at, err.find('\n', at) - at);
}

// Gradient fidelity: the solver's finite differences rebuild the stored
// problem (a cold re-solve gives the stored solution back), do not depend on
// the step, and a network whose weights are all 0 (zero gradient) scores
// exactly cosine 0 and 100 % error; refined towards the balance, it
// points as the solver's gradient does.
TEST_F(EmulatorTraining, GradientFidelityAgainstTheSolversFiniteDifferences) {
  TempDir dir;
  write_zero_model(dir.file("zero.pt"));
  const std::string command =
      "emulator gradient " + data_dir->file("d.nc") + " zero.pt --max-samples 2 --cells 8";
  const Result a = run_nunatak(dir, command);
  ASSERT_EQ(a.status, 0) << a.err;
  EXPECT_CONTAINS(a.err, "gradient fidelity on 2 validation samples");
  EXPECT_CONTAINS(a.err, "| zero.pt | 0.000 | 100 % |");
  EXPECT_CONTAINS(a.err, "| membrane baseline |");
  EXPECT_CONTAINS(a.err, "| glen membrane baseline |");
  EXPECT_CONTAINS(a.err, "| glen_gauss membrane baseline |");
  const std::string resolve = gradient_line_from(a.err, "re-solve ");
  ASSERT_FALSE(resolve.empty()) << a.err;
  EXPECT_LT(std::stod(resolve.substr(9)), 1e-5) << resolve;
  // The solver's adjoint is its differences' gradient (to their O(step^2)
  // truncation), and the zero network scores 0 and 100 % against it too.
  const std::string key = "against the differences cos ";
  const std::string adjoint = gradient_line_from(a.err, key);
  ASSERT_FALSE(adjoint.empty()) << a.err;
  EXPECT_GT(std::stod(adjoint.substr(key.size())), 0.9999) << adjoint;
  const std::string adjoint_error = gradient_line_from(a.err, "err ");
  EXPECT_LT(std::stod(adjoint_error.substr(4)), 1.0) << adjoint_error;
  EXPECT_CONTAINS(a.err, "| zero.pt | 0.000 | 100 % | 0.000 | 100 % |");
  // Another step: the same finite-difference gradient (the baseline's scores agree).
  const Result b = run_nunatak(dir, command + " --step 0.01");
  ASSERT_EQ(b.status, 0) << b.err;
  const std::string sia = gradient_line_from(a.err, "SIA cos");
  EXPECT_FALSE(sia.empty());
  EXPECT_EQ(sia, gradient_line_from(b.err, "SIA cos"));
  // Refined (--refine), a model's gradient is the BP balance's adjoint
  // whatever its network says: the zero network, refined by four Newton
  // steps from u = 0, scores as the solver's gradient.
  const Result refined = run_nunatak(dir, command + " --refine 4 --refine-method newton");
  ASSERT_EQ(refined.status, 0) << refined.err;
  const std::string refined_key = "refined model cos ";
  const std::string refined_line = gradient_line_from(refined.err, refined_key);
  ASSERT_FALSE(refined_line.empty()) << refined.err;
  std::printf("%s\n", refined_line.c_str());
  EXPECT_GT(std::stod(refined_line.substr(refined_key.size())), 0.999) << refined_line;
  // (16 % in magnitude: four steps from rest do not reach the balance.)
  EXPECT_LT(std::stod(refined_line.substr(refined_line.find(" err ") + 5)), 25) << refined_line;
  EXPECT_CONTAINS(refined.err, "| zero.pt, refined (4 newton steps) |");
  TempDir empty;
  expect_clean_failure(empty, "emulator gradient " + data_dir->file("d.nc") + " missing.pt",
                       "missing.pt");
}

TEST_F(EmulatorTraining, ResumeAfterAKillGivesTheStraightRunsModel) {
  TempDir dir;
  ASSERT_EQ(run_shell(dir, train_command("straight/model.pt")).status, 0);
  const std::string command = train_command("killed/model.pt");
  const std::string checkpoint = dir.file("killed/model_checkpoint.pt");
  ASSERT_TRUE(killed_when(dir, command, [&] { return fs::exists(checkpoint); }))
      << "training finished before it was killed";
  const Result resumed = run_shell(dir, command + " --resume");
  ASSERT_EQ(resumed.status, 0) << resumed.err;
  EXPECT_CONTAINS(resumed.err, "resumed from");
  EXPECT_TRUE(same_weights(weights_of(dir.file("straight/model.pt")),
                           weights_of(dir.file("killed/model.pt"))));
  // A resume with other options is one error naming the key.
  const Result other = run_shell(dir, command + " --resume --set emulator.training.batch_size=3");
  EXPECT_NE(other.status, 0);
  EXPECT_CONTAINS(other.err, "batch_size");
}

TEST_F(EmulatorTraining, MismatchesAreOneError) {
  TempDir dir;
  // emulator.training.inputs picks the channels (the model records them).
  ASSERT_EQ(run_shell(dir, train_command("m/model.pt",
                                         "--set emulator.training.epochs=1 --set "
                                         "'emulator.training.inputs=[thickness, surface_slope_x, "
                                         "surface_slope_y, icy]'"))
                .status,
            0);
  EXPECT_EQ(emulator::Emulator::load(dir.file("m/model.pt")).metadata().inputs,
            (std::vector<std::string>{"thickness", "surface_slope_x", "surface_slope_y", "icy"}));
  for (const char* inputs : {"[thickness, speed]", "[icy, icy]"}) {
    const Result bad = run_shell(
        dir, train_command("u/model.pt",
                           "--set 'emulator.training.inputs=" + std::string(inputs) + "'"));
    EXPECT_NE(bad.status, 0);
    EXPECT_CONTAINS(bad.err, "emulator.training.inputs: ");
    EXPECT_CONTAINS(bad.err, std::string(inputs)[1] == 't' ? "unknown channel 'speed'"
                                                           : "channel 'icy' listed twice");
    EXPECT_FALSE(fs::exists(dir.file("u/model.pt")));
  }
  // A data set with other levels than the model's.
  write_text(dir.file("input_d9.yaml"), "emulator.dataset:\n  file: d9.nc\n  samples: 1\n"
                                        "  cells_min: 16\n  cells_max: 16\nbp.levels: 9\n");
  ASSERT_EQ(run_nunatak(dir, "emulator dataset input_d9.yaml").status, 0);
  const Result r = run_nunatak(dir, "emulator eval m/model.pt d9.nc");
  EXPECT_NE(r.status, 0);
  EXPECT_CONTAINS(r.err, "levels 5 in the model, 9 in the run");
  const Result missing =
      run_shell(dir, train_command("n/model.pt", "--set "
                                                 "emulator.training.dataset=no.nc"));
  EXPECT_NE(missing.status, 0);
  EXPECT_CONTAINS(missing.err, "no.nc");
}

} // namespace
