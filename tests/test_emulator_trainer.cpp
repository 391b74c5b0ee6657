// The epoch trainer (emulator/trainer.hpp) on tiny ISMIP-HOM A patches (8 x 8
// columns, 4 levels, three wavelengths, solutions by L-BFGS on the shared
// energy): data-loss training lowers the validation error; a run that is
// checkpointed and resumed (into a model drawn from another seed) equals the
// straight run bit for bit; the best model file is the best epoch's; bad
// options and checkpoints are errors naming the key or the file; the
// learning rate follows the cosine schedule.
#include "nunatak/core/error.hpp"
#include "nunatak/emulator/trainer.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <unistd.h>

using namespace nunatak;
using namespace nunatak::emulator;

namespace {

/// ISMIP-HOM A's geometry on an n x n patch of side L (not periodic): surface
/// -x tan(0.5 deg), mean thickness 1000 m, bed bumps of 500 m, no slip, A =
/// 1e-16 Pa^-3 a^-1. `margin`: two ice-free columns along the east edge.
TorchBPPatch ismip_a(int n, int nz, double L, bool margin = false) {
  const double dx = L / n, omega = 2.0 * M_PI / L, slope = std::tan(0.5 * M_PI / 180.0);
  std::vector<double> H(size_t(n * n)), b(size_t(n * n)), beta2(size_t(n * n), 0.0);
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < n; ++i) {
      const double s = -i * dx * slope;
      b[size_t(j * n + i)] =
          s - 1000.0 + 500.0 * std::sin(omega * i * dx) * std::sin(omega * j * dx);
      H[size_t(j * n + i)] = margin && i >= n - 2 ? 0.0 : s - b[size_t(j * n + i)];
    }
  std::vector<double> sigma(static_cast<size_t>(nz));
  for (int k = 0; k < nz; ++k) sigma[size_t(k)] = double(k) / (nz - 1);
  std::vector<double> B(size_t(n * n * nz), std::pow(1e-16, -1.0 / 3.0));
  core::BPConstants c;
  c.regularisation2 = 1e-10;
  return make_torch_bp_patch(
      core::make_bp_patch(n, n, dx, dx, sigma, H, b, beta2, B, c, true, true));
}

/// The discrete BP solution on `p`: the energy's minimiser, by L-BFGS on the
/// velocity from rest.
torch::Tensor solution(const TorchBPPatch& p) {
  const torch::Tensor mask = p.free_nodes.unsqueeze(3);
  torch::Tensor u = torch::zeros({p.ny, p.nx, p.nz, 2}, torch::kFloat64).requires_grad_(true);
  torch::optim::LBFGS lbfgs({u}, torch::optim::LBFGSOptions(1.0)
                                     .max_iter(1000)
                                     .history_size(30)
                                     .tolerance_grad(1e-10)
                                     .tolerance_change(1e-14)
                                     .line_search_fn("strong_wolfe"));
  lbfgs.step([&] {
    lbfgs.zero_grad();
    torch::Tensor e = bp_energy(p, u * mask) / 1e9;
    e.backward();
    return e;
  });
  return (u * mask).detach();
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("nunatak_test_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

/// The message of the nunatak::Error that `f` throws ("" and a failure if none).
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no nunatak::Error";
  return "";
}

/// Whether two doubles are the same bits (NaN equals NaN).
bool same(double a, double b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

void expect_same_history(const std::vector<EpochRecord>& a, const std::vector<EpochRecord>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t k = 0; k < a.size(); ++k) {
    EXPECT_EQ(a[k].epoch, b[k].epoch);
    EXPECT_EQ(a[k].samples, b[k].samples);
    const double x[] = {a[k].learning_rate,     a[k].weight,     a[k].train_loss,
                        a[k].train_physics,     a[k].train_data, a[k].validation_error,
                        a[k].validation_physics};
    const double y[] = {b[k].learning_rate,     b[k].weight,     b[k].train_loss,
                        b[k].train_physics,     b[k].train_data, b[k].validation_error,
                        b[k].validation_physics};
    for (size_t f = 0; f < std::size(x); ++f)
      EXPECT_TRUE(same(x[f], y[f]))
          << "epoch " << k + 1 << " field " << f << ": " << x[f] << " vs " << y[f];
  }
}

class EmulatorTrainer : public ::testing::Test {
protected:
  /// Training: three wavelengths with solutions and a land-margin patch
  /// without; validation: two other wavelengths with solutions.
  static void SetUpTestSuite() {
    torch::set_num_threads(1);
    for (double L : {8000.0, 10000.0, 14000.0}) {
      const TorchBPPatch p = ismip_a(8, 4, L);
      s_training.push_back({p, solution(p)});
    }
    s_training.push_back({ismip_a(8, 4, 12000.0, true), {}});
    for (double L : {9000.0, 12000.0}) {
      const TorchBPPatch p = ismip_a(8, 4, L);
      s_validation.push_back({p, solution(p)});
    }
  }
  static void TearDownTestSuite() {
    s_training.clear();
    s_validation.clear();
  }

  /// A CNN of width 8 and depth 2, normalised on all patches.
  static Emulator model(std::uint64_t seed) {
    EmulatorMetadata m = emulator_metadata_for(s_training.front().patch, "cnn", 8, 2);
    m.velocity_scale = 10.0;
    Emulator e(m, seed);
    std::vector<TorchBPPatch> patches;
    for (const auto& s : s_training) patches.push_back(s.patch);
    for (const auto& s : s_validation) patches.push_back(s.patch);
    fit_normalisation(e, patches);
    return e;
  }

  /// The training samples with solutions.
  static std::vector<TrainingSample> solved() {
    std::vector<TrainingSample> out;
    for (const auto& s : s_training)
      if (s.solution.defined()) out.push_back(s);
    return out;
  }

  static std::vector<TrainingSample> s_training, s_validation;
};

std::vector<TrainingSample> EmulatorTrainer::s_training, EmulatorTrainer::s_validation;

/// Options of `epochs` epochs of `loss`, batches of `batch_size`, the
/// learning rate decaying from `learning_rate` to `final_learning_rate`.
EpochOptions schedule(const std::string& loss, int epochs, int batch_size, double learning_rate,
                      double final_learning_rate) {
  EpochOptions o;
  o.loss = loss;
  o.epochs = epochs;
  o.batch_size = batch_size;
  o.learning_rate = learning_rate;
  o.final_learning_rate = final_learning_rate;
  return o;
}

} // namespace

// Data-loss training: the validation error of the last epoch is well below
// that of the first (a broken loss, gradient or optimiser step would leave it).
TEST_F(EmulatorTrainer, DataLossLowersTheValidationError) {
  Emulator m = model(3);
  EpochOptions o = schedule("data", 30, 2, 1e-2, 1e-3);
  Trainer trainer(m, solved(), s_validation, o);
  while (!trainer.finished()) trainer.run_epoch();
  const auto& h = trainer.history();
  ASSERT_EQ(h.size(), 30u);
  std::printf("validation error: epoch 1 %.4f, epoch %d %.4f, best %d; train data loss %.4g -> "
              "%.4g; %.3f s per epoch\n",
              h.front().validation_error, int(h.size()), h.back().validation_error,
              trainer.best_epoch(), h.front().train_data, h.back().train_data, h.back().seconds);
  EXPECT_EQ(h.back().samples, 3);
  EXPECT_EQ(h.back().weight, 1.0);
  EXPECT_TRUE(std::isfinite(h.back().train_physics));
  EXPECT_LT(h.back().validation_error, 0.5 * h.front().validation_error);
  EXPECT_LT(h.back().train_data, 0.25 * h.front().train_data);
}

// 4 epochs straight, and 2 + checkpoint + resume into a model of another seed
// + 2: the same weights and history bit for bit (hybrid loss with a physics
// warm-up epoch, lambda balanced every 3 steps, batches of 3 over 4 samples
// of which one has no solution).
TEST_F(EmulatorTrainer, ResumedRunEqualsTheStraightRunBitwise) {
  EpochOptions o = schedule("hybrid", 4, 3, 5e-3, 1e-3);
  o.seed = 7;
  o.physics_warmup_epochs = 1;
  o.balance_every = 3;
  Emulator straight_model = model(5);
  Trainer straight(straight_model, s_training, s_validation, o);
  while (!straight.finished()) straight.run_epoch();

  const std::string checkpoint = temp_path("checkpoint.pt");
  {
    Emulator first_model = model(5);
    Trainer first(first_model, s_training, s_validation, o);
    first.run_epoch();
    first.run_epoch();
    first.save_checkpoint(checkpoint);
  }
  EXPECT_FALSE(std::filesystem::exists(checkpoint + ".tmp." + std::to_string(::getpid())));
  Emulator resumed_model = model(99);
  Trainer resumed(resumed_model, s_training, s_validation, o);
  resumed.resume(checkpoint);
  EXPECT_EQ(resumed.epochs_done(), 2);
  while (!resumed.finished()) resumed.run_epoch();

  const auto a = straight_model.net()->parameters(), b = resumed_model.net()->parameters();
  ASSERT_EQ(a.size(), b.size());
  for (size_t k = 0; k < a.size(); ++k) EXPECT_TRUE(torch::equal(a[k], b[k])) << "weight " << k;
  expect_same_history(straight.history(), resumed.history());
  EXPECT_EQ(straight.best_epoch(), resumed.best_epoch());
  const auto& h = straight.history();
  EXPECT_EQ(h[0].weight, 1.0); // the warm-up epoch leaves lambda alone
  EXPECT_NE(h[3].weight, 1.0);
  EXPECT_TRUE(std::isfinite(h[3].train_data));
  std::printf("hybrid: lambda %.4g, validation error %.4f -> %.4f\n", h[3].weight,
              h[0].validation_error, h[3].validation_error);

  // The best model files of both runs hold the same weights.
  const std::string best_a = temp_path("best_a.pt"), best_b = temp_path("best_b.pt");
  straight.save_best(best_a);
  resumed.save_best(best_b);
  Emulator la = Emulator::load(best_a), lb = Emulator::load(best_b);
  EXPECT_TRUE(torch::equal(la.velocity(s_validation[0].patch), lb.velocity(s_validation[0].patch)));
  for (const auto& p : {checkpoint, best_a, best_b}) std::filesystem::remove(p);
}

// The best model file holds the best epoch's weights: its validation error,
// recomputed, is that of the history's best epoch, the lowest of all; the
// trainer's model keeps the last epoch's weights.
TEST_F(EmulatorTrainer, BestModelFileIsTheBestEpochs) {
  Emulator m = model(4);
  // A large learning rate: the error does not fall every epoch.
  EpochOptions o = schedule("data", 8, 1, 0.05, 0.05);
  Trainer trainer(m, solved(), s_validation, o);
  EXPECT_THROW(trainer.save_best(temp_path("none.pt")), Error);
  while (!trainer.finished()) trainer.run_epoch();
  const auto& h = trainer.history();
  const int best = trainer.best_epoch();
  ASSERT_GE(best, 1);
  for (const auto& r : h) EXPECT_GE(r.validation_error, h[size_t(best - 1)].validation_error);
  const auto median_error = [&](Emulator& e) { // as the trainer takes it
    const torch::NoGradGuard no_grad;
    std::vector<double> v;
    for (const auto& s : s_validation)
      v.push_back(velocity_relative_error(s.patch, e.velocity(s.patch), s.solution));
    return median(v);
  };
  const std::string path = temp_path("best.pt");
  trainer.save_best(path);
  Emulator loaded = Emulator::load(path);
  std::printf("best epoch %d of %zu: validation error %.4f (last %.4f)\n", best, h.size(),
              h[size_t(best - 1)].validation_error, h.back().validation_error);
  EXPECT_EQ(median_error(loaded), h[size_t(best - 1)].validation_error);
  EXPECT_EQ(median_error(m), h.back().validation_error); // save_best left the model as it was
  EXPECT_EQ(loaded.metadata().to_text(), m.metadata().to_text());
  std::filesystem::remove(path);
}

TEST_F(EmulatorTrainer, BadOptionsAndCheckpointsAreErrorsNamingTheKeyOrFile) {
  const auto expect_error = [&](EpochOptions o, const std::vector<TrainingSample>& training,
                                const std::string& needle) {
    Emulator m = model(1);
    const std::string what = error_of([&] { Trainer t(m, training, s_validation, o); });
    EXPECT_NE(what.find(needle), std::string::npos) << what;
  };
  EpochOptions o;
  o.loss = "foo";
  expect_error(o, s_training, "emulator.training.loss 'foo'");
  o = EpochOptions();
  o.batch_size = 0;
  expect_error(o, s_training, "emulator.training.batch_size");
  o = EpochOptions();
  o.final_learning_rate = -1;
  expect_error(o, s_training, "emulator.training.final_learning_rate");
  o = EpochOptions();
  o.loss = "data"; // the margin patch has no solution
  expect_error(o, s_training, "emulator.training.loss data: training sample 3");
  expect_error(EpochOptions(), {}, "no training samples");

  // Checkpoints: missing, not one, or written for other options or another model.
  Emulator m = model(1);
  o = EpochOptions();
  o.epochs = 2;
  Trainer trainer(m, s_training, s_validation, o);
  trainer.run_epoch();
  const std::string checkpoint = temp_path("bad_checkpoint.pt"), model_file = temp_path("m.pt");
  trainer.save_checkpoint(checkpoint);
  m.save(model_file);
  std::string what = error_of([&] { trainer.resume(temp_path("missing.pt")); });
  EXPECT_NE(what.find(temp_path("missing.pt")), std::string::npos) << what;
  what = error_of([&] { trainer.resume(model_file); });
  EXPECT_NE(what.find("'" + model_file + "' is not a nunatak emulator checkpoint"),
            std::string::npos)
      << what;
  o.batch_size = 2;
  Trainer other_options(m, s_training, s_validation, o);
  what = error_of([&] { other_options.resume(checkpoint); });
  EXPECT_NE(what.find(checkpoint), std::string::npos) << what;
  EXPECT_NE(what.find("emulator.training.batch_size 4 in the checkpoint, 2 here"),
            std::string::npos)
      << what;
  o.batch_size = 4;
  EmulatorMetadata wider = m.metadata();
  wider.width = 6;
  Emulator w(wider, 1);
  Trainer other_model(w, s_training, s_validation, o);
  what = error_of([&] { other_model.resume(checkpoint); });
  EXPECT_NE(what.find("width 8 in the checkpoint, 6 here"), std::string::npos) << what;
  Trainer other_data(m, solved(), s_validation, o);
  what = error_of([&] { other_data.resume(checkpoint); });
  EXPECT_NE(what.find("training samples 4 in the checkpoint, 3 here"), std::string::npos) << what;
  // The checkpoint itself resumes; a finished trainer runs no more epochs.
  Trainer same(m, s_training, s_validation, o);
  same.resume(checkpoint);
  same.run_epoch();
  EXPECT_TRUE(same.finished());
  what = error_of([&] { same.run_epoch(); });
  EXPECT_NE(what.find("emulator.training.epochs"), std::string::npos) << what;
  std::filesystem::remove(checkpoint);
  std::filesystem::remove(model_file);
}

// Cosine decay per epoch from learning_rate to final_learning_rate (physics
// loss, no validation samples: the best epoch is the lowest training loss).
TEST_F(EmulatorTrainer, LearningRateFollowsTheCosineSchedule) {
  Emulator m = model(2);
  EpochOptions o = schedule("physics", 5, 4, 4e-3, 1e-3);
  Trainer trainer(m, s_training, {}, o);
  while (!trainer.finished()) trainer.run_epoch();
  const auto& h = trainer.history();
  ASSERT_EQ(h.size(), 5u);
  EXPECT_EQ(h.front().learning_rate, 4e-3);
  EXPECT_EQ(h.back().learning_rate, 1e-3);
  for (size_t k = 0; k < h.size(); ++k) {
    EXPECT_NEAR(h[k].learning_rate, 1e-3 + 1.5e-3 * (1 + std::cos(M_PI * double(k) / 4.0)), 1e-15);
    EXPECT_TRUE(std::isnan(h[k].validation_error));
    EXPECT_TRUE(std::isnan(h[k].validation_physics));
    EXPECT_EQ(h[k].train_loss, h[k].train_physics);
    if (k > 0) {
      EXPECT_LT(h[k].learning_rate, h[k - 1].learning_rate);
    }
  }
  EXPECT_DOUBLE_EQ(h[2].learning_rate, 2.5e-3);
  int lowest = 1;
  for (const auto& r : h)
    if (r.train_loss < h[size_t(lowest - 1)].train_loss) lowest = r.epoch;
  EXPECT_EQ(trainer.best_epoch(), lowest);
  EXPECT_LT(h.back().train_physics, h.front().train_physics);
}
