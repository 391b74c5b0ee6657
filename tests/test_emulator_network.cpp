// The emulator network (emulator/network.hpp): it runs on any grid size with
// exact zeros where the solver fixes the velocity; the model file round trip
// gives the same output bit for bit; a model that does not fit a run is an
// error naming each mismatch; training on the shared energy (physics loss)
// lowers the energy on a tiny ISMIP-HOM A patch below that of the zero and the
// shallow-ice velocities; training is bitwise reproducible with a seed.
#include "nunatak/core/error.hpp"
#include "nunatak/core/machine.hpp"
#include "nunatak/emulator/network.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

using namespace nunatak;
using namespace nunatak::emulator;
using nunatak::core::BPConstants;
using nunatak::core::BPPatch;

namespace {

constexpr double softness = 1e-16;                      // Pa^-3 a^-1
const double hardness = std::pow(softness, -1.0 / 3.0); // Pa a^(1/3)

/// ISMIP-HOM A's geometry on an nx x ny patch of side L (not periodic): surface
/// -x tan(0.5 deg), mean thickness 1000 m, bed bumps of 500 m; no slip.
/// `margin`: ice-free columns along the east edge (a land margin).
BPPatch ismip_a_patch(int nx, int ny, int nz, double L = 10000.0, bool margin = false) {
  const double dx = L / nx, omega = 2.0 * M_PI / L, slope = std::tan(0.5 * M_PI / 180.0);
  std::vector<double> H(size_t(nx * ny)), b(size_t(nx * ny)), beta2(size_t(nx * ny), 0.0);
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) {
      const double x = i * dx, y = j * dx;
      const double s = -x * slope;
      b[size_t(j * nx + i)] = s - 1000.0 + 500.0 * std::sin(omega * x) * std::sin(omega * y);
      H[size_t(j * nx + i)] = margin && i >= nx - 2 ? 0.0 : s - b[size_t(j * nx + i)];
    }
  std::vector<double> sigma(static_cast<size_t>(nz), 0.0);
  for (int k = 0; k < nz; ++k) sigma[size_t(k)] = double(k) / (nz - 1);
  std::vector<double> B(size_t(nx * ny * nz), hardness);
  BPConstants c;
  c.regularisation2 = 1e-10;
  return core::make_bp_patch(nx, ny, dx, dx, sigma, H, b, beta2, B, c, true, true);
}

/// The shallow-ice velocity on `p` (the local surface slope, centred differences).
torch::Tensor sia_velocity(const TorchBPPatch& p) {
  const auto s = (p.bed + p.thickness).contiguous();
  const auto sv = s.accessor<double, 2>();
  const auto Hv = p.thickness.accessor<double, 2>();
  const auto sig = p.sigma.accessor<double, 1>();
  torch::Tensor u = torch::zeros({p.ny, p.nx, p.nz, 2}, torch::kFloat64);
  auto uv = u.accessor<double, 4>();
  const double n = 3.0, rho_g = p.constants.rho_g;
  for (int j = 0; j < p.ny; ++j)
    for (int i = 0; i < p.nx; ++i) {
      const int ie = std::min(i + 1, p.nx - 1), iw = std::max(i - 1, 0);
      const int jn = std::min(j + 1, p.ny - 1), js = std::max(j - 1, 0);
      const double sx = (sv[j][ie] - sv[j][iw]) / (p.dx * (ie - iw));
      const double sy = (sv[jn][i] - sv[js][i]) / (p.dy * (jn - js));
      const double H = Hv[j][i], slope = std::hypot(sx, sy);
      const double f =
          -2.0 * softness * std::pow(rho_g * slope, n - 1.0) * rho_g * std::pow(H, n + 1) / (n + 1);
      for (int k = 0; k < p.nz; ++k) {
        const double shape = 1.0 - std::pow(1.0 - sig[k], n + 1);
        uv[j][i][k][0] = f * sx * shape;
        uv[j][i][k][1] = f * sy * shape;
      }
    }
  return u * p.free_nodes.unsqueeze(3);
}

/// The minimiser of the energy on `p` (the discrete Blatter-Pattyn solution),
/// by L-BFGS on the velocity itself, from the shallow-ice velocity.
torch::Tensor energy_minimiser(const TorchBPPatch& p) {
  torch::Tensor u = sia_velocity(p).clone().requires_grad_(true);
  torch::optim::LBFGS lbfgs({u}, torch::optim::LBFGSOptions(1.0)
                                     .max_iter(2000)
                                     .history_size(50)
                                     .tolerance_grad(1e-12)
                                     .tolerance_change(1e-14)
                                     .line_search_fn("strong_wolfe"));
  lbfgs.step([&] {
    lbfgs.zero_grad();
    torch::Tensor e = bp_energy(p, u * p.free_nodes.unsqueeze(3)) / 1e9;
    e.backward();
    return e;
  });
  return (u * p.free_nodes.unsqueeze(3)).detach();
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("nunatak_test_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

} // namespace

TEST(EmulatorNetwork, RunsOnAnyGridWithExactZerosAtFixedNodes) {
  for (const std::string arch : {"cnn", "unet"})
    for (const auto& [nx, ny] : {std::pair{7, 5}, {13, 17}, {2, 9}}) {
      const TorchBPPatch p = make_torch_bp_patch(ismip_a_patch(nx, ny, 4, 8000.0, nx > 4));
      Emulator model(emulator_metadata_for(p, arch, 6, 3), 7);
      const torch::Tensor u = model.velocity(p);
      ASSERT_EQ(u.sizes(), (std::vector<int64_t>{ny, nx, 4, 2})) << arch;
      EXPECT_TRUE(torch::isfinite(u).all().item<bool>()) << arch;
      const torch::Tensor fixed = (p.free_nodes == 0).unsqueeze(3).expand_as(u);
      EXPECT_EQ(u.masked_select(fixed).abs().max().item<double>(), 0.0) << arch << " " << nx;
      EXPECT_GT(u.abs().max().item<double>(), 0.0) << arch;
    }
}

TEST(EmulatorNetwork, ModelFileRoundTripIsBitwise) {
  const TorchBPPatch p = make_torch_bp_patch(ismip_a_patch(11, 9, 5));
  for (const std::string arch : {"cnn", "unet"}) {
    EmulatorMetadata m = emulator_metadata_for(p, arch, 5, 2);
    m.training = "emulator:\n  loss: physics\n";
    m.dataset = "ISMIP-HOM A, 11 x 9 x 5";
    m.code_version = "test";
    Emulator model(m, 3);
    fit_normalisation(model, {p});
    const std::string path = temp_path(arch + ".pt");
    model.save(path);
    const Emulator loaded = Emulator::load(path);
    EXPECT_EQ(loaded.metadata().to_text(), model.metadata().to_text());
    Emulator copy = loaded;
    EXPECT_TRUE(torch::equal(copy.velocity(p), model.velocity(p))) << arch;
    EXPECT_EQ(copy.metadata().training, m.training);
    std::filesystem::remove(path);
  }
  // Files that are not models.
  const std::string text = temp_path("not_a_model.pt");
  std::ofstream(text) << "hello";
  EXPECT_THROW(
      {
        try {
          Emulator::load(text);
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
          throw;
        }
      },
      Error);
  std::filesystem::remove(text);
  EXPECT_THROW(Emulator::load(temp_path("missing.pt")), Error);
  torch::serialize::OutputArchive other; // a LibTorch archive without metadata
  other.write("w", torch::ones({2}));
  const std::string plain = temp_path("plain.pt");
  other.save_to(plain);
  try {
    Emulator::load(plain);
    ADD_FAILURE() << "a plain archive was loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a nunatak emulator"), std::string::npos) << e.what();
  }
  std::filesystem::remove(plain);
}

TEST(EmulatorNetwork, AModelThatDoesNotFitTheRunIsAnErrorNamingEachMismatch) {
  const TorchBPPatch p5 = make_torch_bp_patch(ismip_a_patch(6, 6, 5));
  const TorchBPPatch p4 = make_torch_bp_patch(ismip_a_patch(6, 6, 4));
  const EmulatorMetadata model = emulator_metadata_for(p5, "cnn", 4, 2);
  EXPECT_NO_THROW(check_compatible(model, emulator_metadata_for(p5, "unet", 8, 3), "m.pt"));
  EmulatorMetadata run = emulator_metadata_for(p4, "cnn", 4, 2);
  run.glen_exponent = 4.0;
  try {
    check_compatible(model, run, "m.pt");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("'m.pt'"), std::string::npos) << what;
    EXPECT_NE(what.find("levels 5 in the model, 4 in the run"), std::string::npos) << what;
    EXPECT_NE(what.find("glen_exponent 3 in the model, 4 in the run"), std::string::npos) << what;
  }
  Emulator five(model, 1);
  EXPECT_THROW(five.velocity(p4), Error);
}

// Physics-only training on the energy (tiny network, 120 Adam steps) gives a
// velocity whose energy is below that of rest (0) and of the shallow-ice
// velocity, and close to the minimum: the discrete BP solution, found here by
// L-BFGS on the velocity itself.
TEST(EmulatorNetwork, PhysicsTrainingBeatsZeroAndShallowIceInEnergy) {
  torch::set_num_threads(1);
  const TorchBPPatch p = make_torch_bp_patch(ismip_a_patch(12, 12, 5));
  EmulatorMetadata m = emulator_metadata_for(p, "cnn", 12, 3);
  m.velocity_scale = 10.0;
  Emulator model(m, 11);
  fit_normalisation(model, {p});
  const double e_sia = bp_energy(p, sia_velocity(p)).item<double>();
  const double e_start = bp_energy(p, model.velocity(p)).item<double>();
  TrainingOptions options;
  options.loss = "physics";
  options.steps = 120;
  options.learning_rate = 3e-3;
  const std::vector<TrainingStep> history = train(model, {{p, {}}}, options);
  const torch::Tensor u = model.velocity(p).detach();
  const double e_trained = bp_energy(p, u).item<double>();
  const torch::Tensor u_min = energy_minimiser(p);
  const double e_min = bp_energy(p, u_min).item<double>();
  const double error = ((u - u_min).norm() / u_min.norm()).item<double>();
  const double error_sia = ((sia_velocity(p) - u_min).norm() / u_min.norm()).item<double>();
  std::printf("energy (m^4/a): rest 0, untrained %.6g, shallow ice %.6g, trained %.6g, "
              "minimum %.6g; relative L2 error to the minimiser: trained %.3f, shallow ice %.3f\n",
              e_start, e_sia, e_trained, e_min, error, error_sia);
  EXPECT_LT(history.back().physics, history.front().physics);
  EXPECT_LT(e_trained, 0.0);
  EXPECT_LT(e_trained, e_sia);
  // Measured: 95 % of the minimum energy, 12 % from the minimiser (the
  // shallow-ice velocity: 116 %).
  EXPECT_GT(e_trained / e_min, 0.9);
  EXPECT_LT(error, 0.2);
  EXPECT_LT(error, 0.25 * error_sia);
}

// Hybrid training (data + lambda physics) on the same patch and steps: the
// data term pulls the velocity onto the solver's, so it ends closer to it
// than physics-only training; lambda stays in its bounds and moves by at most
// x1.2 per update.
TEST(EmulatorNetwork, HybridTrainingFitsTheSolutionBetterThanPhysicsAlone) {
  torch::set_num_threads(1);
  const TorchBPPatch p = make_torch_bp_patch(ismip_a_patch(12, 12, 5));
  const torch::Tensor solution = energy_minimiser(p);
  double errors[3] = {0, 0, 0};
  const char* modes[3] = {"physics", "data", "hybrid"};
  for (int m = 0; m < 3; ++m) {
    EmulatorMetadata meta = emulator_metadata_for(p, "cnn", 12, 3);
    meta.velocity_scale = 10.0;
    Emulator model(meta, 11);
    fit_normalisation(model, {p});
    TrainingOptions options;
    options.loss = modes[m];
    options.steps = 120;
    options.learning_rate = 3e-3;
    const auto history = train(model, {{p, solution}}, options);
    for (size_t k = 1; k < history.size(); ++k) {
      EXPECT_GE(history[k].weight, 1e-3);
      EXPECT_LE(history[k].weight, 100.0);
      EXPECT_LE(history[k].weight, 1.2 * history[k - 1].weight * (1 + 1e-12));
      EXPECT_GE(history[k].weight, history[k - 1].weight / 1.2 * (1 - 1e-12));
    }
    const torch::Tensor u = model.velocity(p).detach();
    errors[m] = ((u - solution).norm() / solution.norm()).item<double>();
  }
  std::printf("relative L2 error to the solution after 120 steps: physics %.4f, data %.4f, "
              "hybrid %.4f\n",
              errors[0], errors[1], errors[2]);
  EXPECT_LT(errors[2], errors[0]);
  EXPECT_LT(errors[1], errors[0]);
}

TEST(EmulatorNetwork, TrainingIsBitwiseReproducible) {
  torch::set_num_threads(1);
  const TorchBPPatch a = make_torch_bp_patch(ismip_a_patch(8, 8, 4));
  const TorchBPPatch b = make_torch_bp_patch(ismip_a_patch(9, 7, 4, 7000.0, true));
  std::vector<std::vector<double>> runs;
  const torch::Tensor solution = energy_minimiser(a);
  std::vector<torch::Tensor> velocities;
  for (int run = 0; run < 2; ++run) {
    Emulator model(emulator_metadata_for(a, "unet", 4, 2), 5);
    fit_normalisation(model, {a, b});
    TrainingOptions options;
    options.loss = "hybrid";
    options.steps = 12;
    options.balance_every = 3;
    options.seed = 9;
    std::vector<double> losses;
    for (const auto& step : train(model, {{a, solution}, {b, {}}}, options))
      losses.insert(losses.end(), {step.total, step.physics, step.weight});
    runs.push_back(losses);
    velocities.push_back(model.velocity(b));
  }
  EXPECT_EQ(runs[0], runs[1]);
  EXPECT_TRUE(torch::equal(velocities[0], velocities[1]));
}

namespace {

// The shallow-ice baseline on a uniform slab (H = 800 m, surface slope 0.01
// along x, no slip) is the textbook profile u(z) = 2 A (rho g |s_x|)^n
// (H^(n+1) - (H - z)^(n+1)) / (n + 1) down the slope, and with free sliding
// beta^2 = 1000 Pa a/m it adds rho g H |s_x| / beta^2 at every level.
TEST(ShallowIceBaseline, MatchesTheSlabProfile) {
  const int nx = 8, ny = 6, nz = 5;
  const double dx = 1000.0, H0 = 800.0, slope = 0.01, A = 1e-16;
  std::vector<double> H(size_t(nx * ny), H0), b(size_t(nx * ny)), beta2(size_t(nx * ny), 1000.0);
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) b[size_t(j * nx + i)] = 2000.0 - slope * i * dx - H0;
  std::vector<double> levels(static_cast<size_t>(nz));
  for (int k = 0; k < nz; ++k) levels[size_t(k)] = double(k) / (nz - 1);
  const std::vector<double> B(H.size() * size_t(nz), std::pow(A, -1.0 / 3.0));
  const BPConstants c;
  for (const bool no_slip : {true, false}) {
    const TorchBPPatch p = make_torch_bp_patch(
        core::make_bp_patch(nx, ny, dx, dx, levels, H, b, beta2, B, c, true, no_slip));
    const torch::Tensor u = shallow_ice_velocity(p);
    const double tau = c.rho_g * H0 * slope;
    const double sliding = no_slip ? 0.0 : tau / 1000.0;
    for (int k = 1; k < nz; ++k) {
      const double z = levels[size_t(k)] * H0;
      const double expected =
          2.0 * A * std::pow(tau / H0, 3.0) * (std::pow(H0, 4) - std::pow(H0 - z, 4)) / 4.0 +
          sliding;
      EXPECT_NEAR(u[3][4][k][0].item<double>(), expected, 1e-9 * expected) << "level " << k;
      EXPECT_NEAR(u[3][4][k][1].item<double>(), 0.0, 1e-9 * expected);
    }
    EXPECT_EQ(u[3][4][0][0].item<double>(), no_slip ? 0.0 : sliding); // the bed node
  }
}

} // namespace

// The timings' BLAS (core/machine.hpp): LibTorch links one, so a torch
// program has one loaded, named by its folder and file (the implementation
// Debian's alternatives chose), not "none loaded" and not a full path.
TEST(Machine, NamesTheBlasThatLibTorchLoaded) {
  (void)torch::mm(torch::ones({4, 4}), torch::ones({4, 4})); // BLAS in use
  const std::string blas = nunatak::core::blas_library();
  EXPECT_NE(blas.find("blas"), std::string::npos) << blas;
  EXPECT_EQ(std::count(blas.begin(), blas.end(), '/'), 1) << blas;
}
