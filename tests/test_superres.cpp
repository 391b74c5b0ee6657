// Super-resolution (superres/): the mass-conserving block scaling is exact,
// its torch twin agrees, a tiny model trained on a synthetic pair beats
// bicubic interpolation on a snapshot it never saw, training is bitwise
// reproducible with a seed, the model file round-trips, and inputs on the
// wrong grid are one clear error.
#include "network.hpp"

#include "nunatak/core/error.hpp"
#include "nunatak/core/regrid.hpp"
#include "nunatak/superres/superres.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>

using namespace nunatak;
using namespace nunatak::superres;

namespace {

/// A synthetic "pair": an ice cap whose smooth surface S (a dome that grows
/// with t) lies on a bed with 2 km valleys; the fine thickness is S - bed,
/// the coarse run is the fine one coarsened (volume for H, mean for speed),
/// the speed grows as H^2 times the dome's slope.
Snapshot synthetic(const core::Grid& fine, int factor, double t) {
  Snapshot s;
  s.time = t;
  const double radius = 9000.0 + 200.0 * t, height = 900.0 + 50.0 * t;
  std::vector<double> H, speed;
  for (int j = 0; j < fine.ny(); ++j)
    for (int i = 0; i < fine.nx(); ++i) {
      const double x = fine.x(i) - 0.5 * (fine.x(0) + fine.x(fine.nx() - 1));
      const double y = fine.y(j) - 0.5 * (fine.y(0) + fine.y(fine.ny() - 1));
      const double r = std::hypot(x, y) / radius;
      const double bed = 200.0 + 120.0 * std::sin(x / 1300.0) * std::cos(y / 1700.0);
      const double surface = r < 1 ? 200.0 + height * std::sqrt(1 - r * r) : 0.0;
      const double h = std::max(0.0, surface - bed);
      s.bed.push_back(bed);
      s.smb.push_back(0.5 - r);
      H.push_back(h);
      speed.push_back(h > 0 ? 1e-4 * h * h * r : 0.0);
    }
  s.fine_thickness = H;
  s.fine_speed = speed;
  s.coarse_thickness = core::coarsen(fine, H, factor, core::Coarsening::volume);
  s.coarse_speed = core::coarsen(fine, speed, factor, core::Coarsening::mean);
  return s;
}

Metadata tiny_metadata(const core::Grid& fine, int factor, bool conserve) {
  Metadata m;
  m.factor = factor;
  m.fine = fine;
  m.width = 8;
  m.depth = 1;
  m.conserve_mass = conserve;
  m.use_time = false;
  return m;
}

double rms_difference(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t k = 0; k < a.size(); ++k) s += (a[k] - b[k]) * (a[k] - b[k]);
  return std::sqrt(s / double(a.size()));
}

} // namespace

TEST(SuperRes, BlockScalingConservesEveryCoarseCellExactly) {
  const core::Grid fine(11, 7, 500.0, 500.0, 0.0, 0.0); // partial blocks for 2 and 4
  std::mt19937_64 random(3);
  std::uniform_real_distribution<double> u(0.0, 800.0);
  for (int factor : {2, 4}) {
    const core::Grid coarse = core::coarsened_grid(fine, factor);
    std::vector<double> target(size_t(coarse.size())), h(size_t(fine.size()));
    for (double& x : target) x = u(random);
    for (double& x : h) x = u(random);
    // One block predicted ice-free: its volume is spread evenly.
    for (int j = 0; j < factor; ++j)
      for (int i = 0; i < factor; ++i) h[size_t(j) * 11 + size_t(i)] = 0.0;
    std::vector<double> scaled = h;
    conserve_block_volume(fine, factor, target, scaled);
    const std::vector<double> mean = core::coarsen(fine, scaled, factor, core::Coarsening::volume);
    for (size_t b = 0; b < mean.size(); ++b)
      EXPECT_NEAR(mean[b], target[b], 1e-12 * target[b]) << "factor " << factor << " block " << b;
    EXPECT_DOUBLE_EQ(scaled[0], target[0]);
    // The torch version used in training gives the same thickness.
    const auto tensor = [](const std::vector<double>& v, int ny, int nx) {
      return torch::tensor(v, torch::kFloat64).view({1, 1, ny, nx});
    };
    const torch::Tensor t =
        conserve_volume(tensor(h, 7, 11), tensor(target, coarse.ny(), coarse.nx()), factor);
    const std::vector<double> from_torch(t.data_ptr<double>(), t.data_ptr<double>() + h.size());
    EXPECT_LT(rms_difference(from_torch, scaled), 1e-9);
  }
  std::vector<double> wrong(5);
  EXPECT_THROW(conserve_block_volume(fine, 2, wrong, wrong), Error);
}

TEST(SuperRes, TinyModelBeatsBicubicOnAHeldOutSnapshotAndIsReproducible) {
  const core::Grid fine(48, 40, 250.0, 250.0, 0.0, 0.0);
  const int factor = 4;
  std::vector<Snapshot> training, validation;
  for (double t : {0.0, 2.0, 4.0, 6.0, 8.0, 10.0}) training.push_back(synthetic(fine, factor, t));
  validation.push_back(synthetic(fine, factor, 5.0));
  const Snapshot held_out = synthetic(fine, factor, 13.0); // beyond the training times
  TrainingOptions options;
  options.epochs = 60;
  options.batch_size = 2;
  options.learning_rate = 5e-3;
  options.final_learning_rate = 5e-4;
  options.seed = 11;
  const auto trained = [&](bool conserve) {
    Model model(tiny_metadata(fine, factor, conserve), options.seed);
    model.fit_normalisation(training);
    model.train(training, validation, options);
    return model;
  };
  const Model model = trained(true);
  const Prediction p = model.predict(held_out);
  const double sr = rms_difference(p.thickness, held_out.fine_thickness);
  const double bicubic = rms_difference(p.bicubic_thickness, held_out.fine_thickness);
  const double sr_speed = rms_difference(p.speed, held_out.fine_speed);
  const double bicubic_speed = rms_difference(p.bicubic_speed, held_out.fine_speed);
  std::printf("held-out snapshot: thickness RMSE %.1f m (bicubic %.1f m), speed %.2f m/a "
              "(bicubic %.2f m/a)\n",
              sr, bicubic, sr_speed, bicubic_speed);
  EXPECT_LT(sr, 0.7 * bicubic);
  EXPECT_LT(sr_speed, bicubic_speed);
  // conserve_mass: every coarse cell's volume is the coarse run's.
  const std::vector<double> mean =
      core::coarsen(fine, p.thickness, factor, core::Coarsening::volume);
  for (size_t b = 0; b < mean.size(); ++b)
    EXPECT_NEAR(mean[b], held_out.coarse_thickness[b], 1e-9 * (1 + held_out.coarse_thickness[b]));
  // The same seed, the same model, bit for bit.
  const Prediction again = trained(true).predict(held_out);
  EXPECT_EQ(again.thickness, p.thickness);
  EXPECT_EQ(again.speed, p.speed);

  // The model file: the same predictions from the loaded model.
  const std::string path =
      (std::filesystem::temp_directory_path() / "nunatak_test_superres.pt").string();
  model.save(path);
  const Model loaded = Model::load(path);
  EXPECT_EQ(loaded.predict(held_out).thickness, p.thickness);
  EXPECT_EQ(loaded.metadata().factor, factor);
  std::filesystem::remove(path);
}

TEST(SuperRes, WrongGridAndBadFilesAreClearErrors) {
  const core::Grid fine(16, 12, 100.0, 100.0, 0.0, 0.0);
  const Model model(tiny_metadata(fine, 2, false), 1);
  Snapshot s = synthetic(fine, 2, 0.0);
  // A coarse run at factor 4 given to a factor-2 model.
  s.coarse_thickness = core::coarsen(fine, s.fine_thickness, 4, core::Coarsening::volume);
  try {
    model.predict(s);
    ADD_FAILURE() << "a coarse field on the wrong grid was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("the coarse thickness has 12 values"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(Model::load("/nonexistent/model.pt"), Error);
  EXPECT_THROW(Metadata::from_text("factor: 2\n", "x"), Error); // no version
  // The metadata round trip, with the trend, scenario and initial-state
  // inputs; a model file without use_change (older) reads as without it.
  Metadata m = tiny_metadata(fine, 2, true);
  m.use_time = m.use_change = m.use_smb = m.use_initial = true;
  m.input_mean.assign(m.input_names().size(), 0.5);
  m.input_std.assign(m.input_names().size(), 2.0);
  const Metadata back = Metadata::from_text(m.to_text(), "round trip");
  EXPECT_EQ(back.input_names(), m.input_names());
  EXPECT_EQ(back.input_names().size(), 11u);
  EXPECT_EQ(back.input_names()[7], "coarse_change");
  EXPECT_EQ(back.input_names()[9], "smb_cumulative");
  EXPECT_EQ(back.input_names().back(), "initial_detail");
  // A model that takes the integrated balance or the initial state, given a
  // snapshot without it.
  Snapshot plain = synthetic(fine, 2, 0.0);
  plain.coarse_initial_thickness = plain.coarse_thickness;
  plain.fine_initial_thickness = plain.fine_thickness;
  try {
    Model(m, 1).predict(plain);
    ADD_FAILURE() << "a snapshot without the integrated balance was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("use_smb"), std::string::npos) << e.what();
  }
  plain.smb_cumulative.assign(plain.smb.size(), 0.0);
  EXPECT_NO_THROW(Model(m, 1).predict(plain));
  plain.fine_initial_thickness.clear();
  try {
    Model(m, 1).predict(plain);
    ADD_FAILURE() << "a snapshot without the initial thickness was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("use_initial"), std::string::npos) << e.what();
  }
  EXPECT_EQ(back.fine.nx(), 16);
  EXPECT_TRUE(back.conserve_mass);
  std::string old_text = m.to_text();
  old_text.erase(old_text.find("use_change: 1\n"), 14);
  EXPECT_THROW(Metadata::from_text(old_text, "old"), Error); // 11 statistics for 10 inputs
}

TEST(SuperRes, MetricsOfKnownFields) {
  const core::Grid g(20, 20, 1.0, 1.0, 0.0, 0.0);
  std::vector<double> truth(400), shifted(400);
  for (size_t k = 0; k < 400; ++k) {
    truth[k] = double(k % 20) * 5.0; // 0 .. 95
    shifted[k] = truth[k] + 2.0;
  }
  const FieldMetrics same = compare_fields(g, truth, truth);
  EXPECT_EQ(same.rmse, 0.0);
  EXPECT_NEAR(same.ssim, 1.0, 1e-12);
  const FieldMetrics m = compare_fields(g, shifted, truth);
  EXPECT_NEAR(m.rmse, 2.0, 1e-12);
  EXPECT_NEAR(m.bias, 2.0, 1e-12);
  EXPECT_NEAR(m.psnr, 20 * std::log10(95.0 / 2.0), 1e-9);
  EXPECT_LT(m.ssim, 1.0);
  EXPECT_GT(m.ssim, 0.9);
}
