// `stress_balance.model: emulator` through the factory, end to end: a tiny
// network trained here on the shared energy of an ice cap drives `nunatak
// solve` (velocity downhill, exactly 0 off the ice, the time in ms) and a
// short `nunatak run` whose mass budget closes to round-off; 2 ranks give the
// same output as 1; a missing or mismatched model file is one error;
// emulator.output: reference gives the membrane reference alone; the program
// loads LibTorch only for the emulator.
// This program does not start MPI itself: it runs nunatak under mpiexec.
#include "cli_support.hpp"
#include "nunatak/emulator/membrane_reference.hpp"
#include "nunatak/emulator/network.hpp"
#include "nunatak/emulator/refinement.hpp"
#include "nunatak/io/netcdf_file.hpp"
#include "test_files.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

using namespace nunatak;
using namespace nunatak::test;

namespace {

constexpr int n = 15;
constexpr double dx = 20000.0;

double cap_thickness(int i, int j) {
  const double r = std::hypot(i - 7.0, j - 7.0) / 6.0;
  return r < 1.0 ? 2000.0 * std::sqrt(1.0 - r * r) : 0.0;
}
double cap_bed(int i, int) {
  return 200.0 + 5.0 * i;
}

void write_cap(const std::string& path) {
  TestFile f = grid_file(n, n, dx, dx);
  add_field(f, "thk", "m", cap_thickness);
  add_field(f, "topg", "m", cap_bed);
  add_field(f, "climatic_mass_balance", "kg m-2 year-1", [](int, int) { return 100.0; });
  write_test_file(path, f);
}

/// A CNN (width 8, depth 3, 5 levels; every input channel but the membrane
/// imbalance) trained for 80 steps on the energy of
/// the cap, with the run's default constants (n = 3, A = 1e-16 Pa^-3 a^-1, no
/// slip, H_min = 10 m); `glen_exponent` in the metadata for the mismatch case.
/// The cap as the run builds it (5 levels, the run's default constants).
emulator::TorchBPPatch cap_patch() {
  std::vector<double> H, b;
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < n; ++i) {
      H.push_back(cap_thickness(i, j));
      b.push_back(cap_bed(i, j));
    }
  const std::vector<double> sigma = {0.0, 0.25, 0.5, 0.75, 1.0};
  const std::vector<double> B(H.size() * sigma.size(), std::pow(1e-16, -1.0 / 3.0));
  const core::BPConstants constants;
  return emulator::make_torch_bp_patch(core::make_bp_patch(
      n, n, dx, dx, sigma, H, b, std::vector<double>(H.size(), 0.0), B, constants, true, true));
}

void write_model(const std::string& path, double glen_exponent = 3.0) {
  torch::set_num_threads(1);
  const emulator::TorchBPPatch p = cap_patch();
  emulator::EmulatorMetadata m = emulator::emulator_metadata_for(p, "cnn", 8, 3);
  // Without the membrane imbalance channels: their BP-energy gradient at
  // every call would be most of this small cap's cost, over thousands of
  // steps (the factory and the run's plumbing are what is tested here).
  m.inputs.erase(std::remove_if(m.inputs.begin(), m.inputs.end(),
                                [](const std::string& name) {
                                  return name.find("imbalance") != std::string::npos;
                                }),
                 m.inputs.end());
  m.input_mean.assign(m.inputs.size(), 0.0); // fit_normalisation sets them
  m.input_std.assign(m.inputs.size(), 1.0);
  m.output_scaling = "flow_aligned"; // in units of the local shallow-ice speed
  m.velocity_scale = 1.0;
  emulator::Emulator model(m, 4);
  emulator::fit_normalisation(model, {p});
  emulator::TrainingOptions options;
  options.loss = "physics";
  options.steps = 80;
  options.learning_rate = 3e-3;
  emulator::train(model, {{p, {}}}, options);
  model.metadata().glen_exponent = glen_exponent;
  model.save(path);
}

std::vector<double> read_variable(const std::string& path, const std::string& var) {
  io::NcFile f = io::NcFile::open(path);
  return f.read_all(f.variable(var));
}

const char* config = "input.geometry.file: input_cap.nc\n"
                     "stress_balance.model: emulator\n"
                     "emulator.model: model.pt\n"
                     "time: {start: 0, end: 300}\n"
                     "output: {file: out.nc, interval: 100, variables: [thk, velsurf_mag, "
                     "uvelsurf], quicklook: []}\n";

/// The cap, the model and the configuration in `dir`.
void write_cap_run(const TempDir& dir) {
  write_cap(dir.file("input_cap.nc"));
  write_model(dir.file("model.pt"));
  write_text(dir.file("input.yaml"), config);
}

} // namespace

TEST(EmulatorStressBalance, SolveAndRunThroughTheFactory) {
  TempDir dir;
  write_cap_run(dir);

  Result r = run_nunatak(dir, "solve input.yaml");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE((r.out + r.err).find(" ms"), std::string::npos) << r.out << r.err;
  const auto speed = read_variable(dir.file("out.nc"), "velsurf_mag");
  const auto u = read_variable(dir.file("out.nc"), "uvelsurf");
  double fastest = 0;
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < n; ++i) {
      const size_t k = size_t(j * n + i);
      if (cap_thickness(i, j) < 10.0) {
        EXPECT_EQ(speed[k], 0.0) << i << " " << j;
        continue;
      }
      fastest = std::max(fastest, speed[k]);
    }
  EXPECT_GT(fastest, 1.0); // m/a (the output file's unit)
  // The cap spreads: westward flow on the west flank, eastward on the east.
  EXPECT_LT(u[size_t(7 * n + 3)], 0.0);
  EXPECT_GT(u[size_t(7 * n + 11)], 0.0);

  // The same solve at 2 ranks: the same output.
  const Result r2 =
      run_shell(dir, std::string("timeout 120 ") + NUNATAK_MPIEXEC +
                         " --allow-run-as-root --oversubscribe -n 2 " + NUNATAK_BINARY +
                         " solve input.yaml --set output.file=out2.nc");
  ASSERT_EQ(r2.status, 0) << r2.err;
  EXPECT_EQ(read_variable(dir.file("out2.nc"), "velsurf_mag"), speed);

  // A short transient: the mass budget closes to round-off at every step.
  r = run_nunatak(dir, "run input.yaml --set output.file=run.nc");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto residual = read_variable(dir.file("run_ts.nc"), "budget_residual");
  const auto volume = read_variable(dir.file("run_ts.nc"), "ice_volume");
  ASSERT_FALSE(residual.empty());
  for (size_t k = 0; k < residual.size(); ++k)
    EXPECT_LT(std::abs(residual[k]), 1e-9 * volume[0]) << k;
  EXPECT_NE(volume.back(), volume.front()); // the ice moved and gained mass
}

// Retraining during a run and the solver check: the check's difference to
// Blatter-Pattyn is in the time series at each checked step (the column is
// absent from a run without checks), and retraining on the current geometry
// (physics, plus the checks' solutions as data) brings it down.
TEST(EmulatorStressBalance, RetrainingDuringARunApproachesTheSolversVelocity) {
  TempDir dir;
  write_cap_run(dir);
  Result r = run_nunatak(dir, "run input.yaml --set output.file=plain.nc");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_FALSE(
      io::NcFile::open(dir.file("plain_ts.nc")).find_variable("emulator_solver_difference"))
      << "no check, no column";

  // Checks every other step, no retraining: the network is unchanged.
  r = run_nunatak(dir, "run input.yaml --set output.file=check.nc "
                       "--set emulator.solver_check_every=2");
  ASSERT_EQ(r.status, 0) << r.err;
  ASSERT_TRUE(io::NcFile::open(dir.file("check_ts.nc")).find_variable("emulator_solver_difference"))
      << r.err;
  const auto checked = read_variable(dir.file("check_ts.nc"), "emulator_solver_difference");
  ASSERT_GE(checked.size(), 3u);
  for (size_t k = 0; k < checked.size(); ++k) {
    if (k % 2) {
      EXPECT_TRUE(std::isnan(checked[k])) << k;
    } else {
      EXPECT_GT(checked[k], 0.0) << k;
      EXPECT_LT(checked[k], 1.0) << k;
    }
  }

  // Retraining at every step (100 Adam steps) with a check at every step.
  r = run_nunatak(dir,
                  "run input.yaml --set output.file=retrain.nc "
                  "--set emulator.solver_check_every=1 --set emulator.retrain_every=1 "
                  "--set emulator.retrain_steps=100 --set emulator.retrain_learning_rate=1e-3");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto retrained = read_variable(dir.file("retrain_ts.nc"), "emulator_solver_difference");
  ASSERT_GE(retrained.size(), 2u);
  for (double d : retrained) EXPECT_TRUE(std::isfinite(d));
  std::string values;
  for (double d : checked) values += std::to_string(d) + " ";
  values += "/ ";
  for (double d : retrained) values += std::to_string(d) + " ";
  // The first step's geometry is the same in both runs: retraining on it
  // (physics alone, before the first check) brings the network closer; and
  // all along, the retrained network stays closer to Blatter-Pattyn than
  // the fixed one ever is.
  EXPECT_LT(retrained[0], 0.5 * checked[0]) << values;
  EXPECT_LT(*std::max_element(retrained.begin(), retrained.end()), std::min(checked[0], checked[2]))
      << values;
}

TEST(EmulatorStressBalance, MissingOrMismatchedModelIsOneError) {
  TempDir dir;
  write_cap(dir.file("input_cap.nc"));
  write_text(dir.file("input.yaml"), config);
  Result r = run_nunatak(dir, "solve input.yaml --set emulator.model=''");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("needs emulator.model"), std::string::npos) << r.err;
  r = run_nunatak(dir, "solve input.yaml");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("model.pt"), std::string::npos) << r.err;
  write_model(dir.file("model.pt"), 4.0);
  r = run_nunatak(dir, "solve input.yaml");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("glen_exponent 4 in the model, 3 in the run"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir.file("out.nc")));
}

// emulator.output: reference runs the membrane reference that the model's
// network corrects, alone: the surface speed of `nunatak solve` is the
// glen_gauss reference's of the cap to round-off, and differs from the
// network's. A model that uses no membrane reference, or retraining, is
// one error, with no output written.
/// An untrained CNN (width 8, depth 2) that corrects the cap's glen_gauss
/// membrane reference (its head's weights 0.1, so that it moves away from
/// the reference), saved to `path`; returns its metadata.
emulator::EmulatorMetadata write_membrane_model(const std::string& path) {
  const emulator::TorchBPPatch p = cap_patch();
  emulator::EmulatorMetadata m = emulator::emulator_metadata_for(p, "cnn", 8, 2);
  m.output_scaling = "membrane";
  m.membrane_viscosity = "glen_gauss";
  emulator::Emulator model(m, 4);
  emulator::fit_normalisation(model, {p});
  { // a network that corrects the reference (a new one returns it unchanged)
    const torch::NoGradGuard no_grad;
    for (auto& item : model.net()->named_parameters())
      if (item.key().rfind("head.", 0) == 0) item.value().fill_(0.1);
  }
  model.save(path);
  return m;
}

TEST(EmulatorStressBalance, TheMembraneReferenceAloneOnRequest) {
  TempDir dir;
  write_cap(dir.file("input_cap.nc"));
  write_text(dir.file("input.yaml"), config);
  const emulator::TorchBPPatch p = cap_patch();
  emulator::EmulatorMetadata m = write_membrane_model(dir.file("model.pt"));
  const std::string solve = "solve input.yaml --set emulator.precision=double ";
  Result r = run_nunatak(dir, solve + "--set emulator.output=reference");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE((r.out + r.err).find("glen_gauss membrane reference"), std::string::npos)
      << r.out << r.err;
  const auto speed = read_variable(dir.file("out.nc"), "velsurf_mag");
  emulator::MembraneOptions glen_gauss;
  glen_gauss.viscosity = "glen_gauss";
  const torch::Tensor u = emulator::membrane_velocity_3d(p, glen_gauss).select(2, 4);
  const torch::Tensor expected = u.pow(2).sum(-1).sqrt(); // m/a, as the output file
  const auto e = expected.accessor<double, 2>();
  double fastest = 0, worst = 0;
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < n; ++i) {
      fastest = std::max(fastest, e[j][i]);
      worst = std::max(worst, std::abs(speed[size_t(j * n + i)] - e[j][i]));
    }
  EXPECT_GT(fastest, 100.0); // m/a
  EXPECT_LT(worst, 1e-6 * fastest);
  r = run_nunatak(dir, solve + "--set output.file=network.nc");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto network = read_variable(dir.file("network.nc"), "velsurf_mag");
  double difference = 0;
  for (size_t k = 0; k < speed.size(); ++k)
    difference = std::max(difference, std::abs(network[k] - speed[k]));
  EXPECT_GT(difference, 0.01 * fastest);
  r = run_nunatak(dir, solve + "--set emulator.output=reference --set emulator.retrain_every=5 "
                               "--set output.file=bad.nc");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("emulator.retrain_every"), std::string::npos) << r.err;
  // A network that neither corrects nor reads the membrane reference.
  m.output_scaling = "constant";
  m.inputs.erase(std::remove_if(m.inputs.begin(), m.inputs.end(),
                                [](const std::string& name) {
                                  return name.find("membrane") != std::string::npos;
                                }),
                 m.inputs.end());
  m.input_mean.assign(m.inputs.size(), 0.0);
  m.input_std.assign(m.inputs.size(), 1.0);
  for (const auto& name : m.inputs) ASSERT_EQ(name.find("membrane"), std::string::npos) << name;
  emulator::Emulator plain(m, 4);
  emulator::fit_normalisation(plain, {p});
  plain.save(dir.file("model.pt"));
  r = run_nunatak(dir, solve + "--set emulator.output=reference --set output.file=bad.nc");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("uses no membrane reference"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir.file("bad.nc")));
}

// emulator.refine_steps: the network's velocity refined towards the
// Blatter-Pattyn balance (refine_velocity) in `nunatak solve` comes closer
// to the solver's own solve of the cap (bp.levels 5, as the model's).
TEST(EmulatorStressBalance, RefinementBringsTheNetworkToTheSolver) {
  TempDir dir;
  write_cap(dir.file("input_cap.nc"));
  write_text(dir.file("input.yaml"), config);
  write_membrane_model(dir.file("model.pt"));
  const std::string solve = "solve input.yaml --set emulator.precision=double ";
  Result r = run_nunatak(dir, solve + "--set output.file=network.nc");
  ASSERT_EQ(r.status, 0) << r.err;
  r = run_nunatak(dir, solve + "--set emulator.refine_steps=3 --set output.file=refined.nc");
  ASSERT_EQ(r.status, 0) << r.err;
  r = run_nunatak(dir, solve + "--set emulator.refine_steps=3 --set emulator.refine_method=newton "
                               "--set output.file=newton.nc");
  ASSERT_EQ(r.status, 0) << r.err;
  r = run_nunatak(dir, "solve input.yaml --set stress_balance.model=bp --set bp.levels=5 "
                       "--set output.file=bp.nc");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto bp = read_variable(dir.file("bp.nc"), "velsurf_mag");
  const auto error = [&](const std::string& file) {
    const auto v = read_variable(dir.file(file), "velsurf_mag");
    double squared = 0, norm = 0;
    for (size_t k = 0; k < bp.size(); ++k) {
      squared += (v[k] - bp[k]) * (v[k] - bp[k]);
      norm += bp[k] * bp[k];
    }
    return std::sqrt(squared / norm);
  };
  const double network = error("network.nc"), refined = error("refined.nc"),
               newton = error("newton.nc");
  std::printf("surface speed against the solver's: network %.2f %%, refined %.2f %%, "
              "newton %.2f %%\n",
              100 * network, 100 * refined, 100 * newton);
  // This untrained network is 140 times too fast (its head's weights):
  // three steps bring it to about twice the solver's speed (14395 % ->
  // 118 %), secant steps along each direction doing most of it.
  EXPECT_GT(network, 10.0);
  EXPECT_LT(refined, 0.02 * network);
  EXPECT_LT(newton, 0.02 * network);
}

// The nunatak program loads LibTorch (its plugin, libnunatak_ml.so) only for
// a command that needs it (model/ml_components.hpp): the dynamic loader's
// own log (LD_DEBUG=files) lists LibTorch for an emulator solve and not for
// a shallow-ice one. Without the plugin, the shallow-ice solve still runs,
// and the emulator solve and `invert` are one error naming the plugin, with
// no output written.
TEST(EmulatorStressBalance, LibTorchIsLoadedOnlyWhenACommandNeedsIt) {
  TempDir dir;
  write_cap_run(dir);
  const std::string sia = "solve input.yaml --set stress_balance.model=sia";
  Result r = run_shell(dir, "LD_DEBUG=files " + std::string(NUNATAK_BINARY) + " " + sia);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err.find("libtorch"), std::string::npos);
  EXPECT_EQ(r.err.find("libnunatak_ml"), std::string::npos);
  std::filesystem::remove(dir.file("out.nc"));
  r = run_shell(dir, "LD_DEBUG=files " + std::string(NUNATAK_BINARY) + " solve input.yaml");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("libnunatak_ml"), std::string::npos);
  EXPECT_NE(r.err.find("libtorch"), std::string::npos);
  std::filesystem::remove(dir.file("out.nc"));
  std::filesystem::remove(dir.file("out_velsurf_mag.png"));

  TempDir bare;
  write_cap(bare.file("input_cap.nc"));
  write_text(bare.file("input.yaml"), config);
  const std::string without = "NUNATAK_ML_PLUGIN=/nonexistent/libnunatak_ml.so ";
  r = run_shell(bare, without + NUNATAK_BINARY + " solve input.yaml");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("/nonexistent/libnunatak_ml.so"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(bare.file("out.nc")));
  r = run_shell(bare, without + NUNATAK_BINARY + " invert input.yaml");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("cannot load nunatak's LibTorch plugin '/nonexistent/libnunatak_ml.so'"),
            std::string::npos)
      << r.err;
  r = run_shell(bare, without + NUNATAK_BINARY + " " + sia);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(std::filesystem::exists(bare.file("out.nc")));
}
