// `nunatak invert CONFIG` end to end, as a user runs it: a twin experiment
// on a small glacier (observations made by `nunatak solve` with BP at the
// true thickness, radar along one line, the plastic first guess), through
// the solver's adjoint at 1 and 2 ranks (the same result: rank 0 does the
// work) and through the shipped emulator; the output's variables and cost
// history; and bad configurations, each one clear error with no output left.
#include "cli_support.hpp"
#include "nunatak/io/netcdf_file.hpp"
#include "test_files.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <regex>
#include <set>

using namespace nunatak;
using namespace nunatak::test;

namespace {

constexpr int nx = 16, ny = 12;
constexpr double dx = 1000.0;

/// The true glacier: an elliptic outline on a 3 % incline, up to ~450 m thick.
double true_thickness(int i, int j) {
  const double x = (i - 7.5) / 7.0, y = (j - 5.5) / 5.0, r2 = x * x + y * y;
  return r2 < 1.0 ? 60.0 + 380.0 * std::sqrt(1.0 - r2) : 0.0;
}
double surface(int i, int) {
  return 2000.0 - 0.03 * i * dx;
}

/// A value that is data (the files store "no data" as NetCDF's fill value).
bool present(double v) {
  return std::isfinite(v) && std::abs(v) < 1e30;
}

std::vector<double> read_variable(const std::string& path, const std::string& name) {
  const io::NcFile f = io::NcFile::open(path);
  return f.read_all(f.variable(name));
}

/// Writes geometry.nc (truth), solves BP on it, and writes observations.nc:
/// the solver's surface velocity and radar thickness along the row j = 5,
/// and, when `dhdt` (m/a) is a number, that dh/dt on the ice (NaN elsewhere).
void make_twin(const TempDir& dir, double dhdt = NAN) {
  TestFile g = grid_file(nx, ny, dx, dx);
  std::vector<double> thk, topg;
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) {
      thk.push_back(true_thickness(i, j));
      topg.push_back(surface(i, j) - thk.back());
    }
  add_field(g, "thk", "m", thk);
  add_field(g, "topg", "m", topg);
  write_test_file(dir.file("input_geometry.nc"), g);
  write_text(dir.file("input_truth.yaml"),
             "input.geometry.file: input_geometry.nc\nstress_balance.model: bp\nbp.levels: 5\n"
             "output:\n  file: truth.nc\n  variables: [thk, uvelsurf, vvelsurf]\n"
             "  quicklook: []\n");
  const Result r = run_nunatak(dir, "solve input_truth.yaml");
  ASSERT_EQ(r.status, 0) << r.err;
  const std::vector<double> u = read_variable(dir.file("truth.nc"), "uvelsurf");
  const std::vector<double> v = read_variable(dir.file("truth.nc"), "vvelsurf");
  TestFile o = grid_file(nx, ny, dx, dx);
  std::vector<double> uo(u.size(), NAN), vo(u.size(), NAN), radar(u.size(), NAN);
  for (size_t c = 0; c < u.size(); ++c)
    if (thk[c] > 0 && std::isfinite(u[c])) {
      uo[c] = u[c];
      vo[c] = v[c];
    }
  for (int i = 0; i < nx; ++i)
    if (thk[size_t(5 * nx + i)] > 0) radar[size_t(5 * nx + i)] = thk[size_t(5 * nx + i)];
  add_field(o, "uvelsurfobs", "m/a", uo);
  add_field(o, "vvelsurfobs", "m/a", vo);
  add_field(o, "thkobs", "m", radar);
  if (std::isfinite(dhdt)) {
    std::vector<double> rate(u.size(), NAN);
    for (size_t c = 0; c < u.size(); ++c)
      if (thk[c] > 0) rate[c] = dhdt;
    add_field(o, "dhdt", "m/a", rate);
  }
  write_test_file(dir.file("input_observations.nc"), o);
  std::filesystem::remove(dir.file("truth.nc"));
}

void write_config(const TempDir& dir, const std::string& extra) {
  write_text(dir.file("input_invert.yaml"),
             "input:\n  geometry.file: input_geometry.nc\n  observations.file: "
             "input_observations.nc\nbp.levels: 5\nthickness_estimate.holdout_block_size: 0\n"
             "inversion:\n  forward: solver\n  iterations: 60\n"
             "  regularisation.thickness.smoothing: 0.001\n"
             "output:\n  file: inverted.nc\n  quicklook: [thk, velsurf_misfit]\n" +
                 extra);
}

/// The "RMS X m (first guess Y m)" of the twin's truth line.
/// The final state's distance of the forward model's surface velocity from
/// BP's, in per cent, from invert's log (NaN if absent).
double forward_to_bp(const std::string& log) {
  const std::regex line("surface velocity is ([0-9.]+) % from it");
  std::smatch m;
  return std::regex_search(log, m, line) ? std::stod(m[1]) : NAN;
}

std::pair<double, double> truth_rms(const std::string& log) {
  const std::regex line(
      R"(a twin's truth, not used\): RMS ([0-9.]+) m \(first guess ([0-9.]+) m\))");
  std::smatch m;
  if (!std::regex_search(log, m, line)) return {NAN, NAN};
  return {std::stod(m[1]), std::stod(m[2])};
}

} // namespace

TEST(InvertCli, SolverTwinRecoversTheThicknessAtOneAndTwoRanks) {
  TempDir dir;
  make_twin(dir);
  write_config(dir, "");
  const Result one = run_nunatak(dir, "invert input_invert.yaml");
  ASSERT_EQ(one.status, 0) << one.err;
  const auto [rms, first] = truth_rms(one.err + one.out);
  std::printf("solver twin through the CLI: thickness RMS %.1f m (first guess %.1f m)\n", rms,
              first);
  // 66.5 -> 17.4 m: the slow, thin margins of a no-slip glacier hardly
  // constrain their thickness (0.24 m/a of velocity misfit left).
  EXPECT_GT(first, 30.0);
  EXPECT_LT(rms, 0.35 * first);
  EXPECT_CONTAINS(one.err + one.out, "with Blatter-Pattyn's velocity");
  // The output: maps on the input grid, the cost history, the pictures.
  const std::string out = dir.file("inverted.nc");
  for (const char* name :
       {"thk", "topg", "usurf", "thk_first_guess", "velsurf_mag", "velsurf_mag_bp",
        "velsurf_misfit", "thkobs", "thk_misfit", "radar_used", "uvelsurfobs", "cost_total",
        "cost_velocity", "cost_radar", "iteration", "radar_rms"})
    EXPECT_NO_THROW(read_variable(out, name)) << name;
  const std::vector<double> cost = read_variable(out, "cost_total");
  ASSERT_GE(cost.size(), 3u);
  EXPECT_LT(cost.back(), 0.05 * cost.front());
  EXPECT_EQ(read_variable(out, "thk").size(), size_t(nx * ny));
  EXPECT_TRUE(std::filesystem::exists(dir.file("inverted_cost.png")));
  EXPECT_TRUE(std::filesystem::exists(dir.file("inverted_thk.png")));

  // Two ranks: rank 0 inverts, the solves and adjoint solves run on both.
  // The decomposition changes the solver's round-off and its preconditioner
  // (block Jacobi), so the 60 steps end elsewhere by much less than the
  // inversion's own error (17 m).
  const std::vector<double> thk1 = read_variable(out, "thk");
  std::filesystem::remove(out);
  const Result two =
      run_shell(dir, std::string(NUNATAK_MPIEXEC) + " --allow-run-as-root --oversubscribe -n 2 " +
                         NUNATAK_BINARY + " invert input_invert.yaml");
  ASSERT_EQ(two.status, 0) << two.err;
  EXPECT_CONTAINS(two.err + two.out, "Blatter-Pattyn solves on 2 ranks");
  const std::vector<double> thk2 = read_variable(out, "thk");
  ASSERT_EQ(thk2.size(), thk1.size());
  double largest = 0;
  for (size_t c = 0; c < thk1.size(); ++c) largest = std::max(largest, std::abs(thk2[c] - thk1[c]));
  std::printf("2 ranks against 1: largest thickness difference %.3g m\n", largest);
  EXPECT_LT(largest, 1.0);
}

TEST(InvertCli, EmulatorModeRunsTheShippedModelAndChecksWithTheSolver) {
  TempDir dir;
  make_twin(dir);
  write_config(dir, "emulator.model: " + std::string(NUNATAK_SOURCE_DIR) +
                        "/experiments/emulator/cnn_glen_data.pt\n");
  // The shipped model has the solver's 9 levels.
  const Result r = run_nunatak(dir, "invert input_invert.yaml --set inversion.forward=emulator "
                                    "--set bp.levels=9 --set inversion.iterations=20");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_CONTAINS(r.err + r.out, "with the emulator forward model, adam");
  EXPECT_CONTAINS(r.err + r.out, "with the emulator's velocity");
  EXPECT_CONTAINS(r.err + r.out, "with Blatter-Pattyn's velocity");
  const std::vector<double> cost = read_variable(dir.file("inverted.nc"), "cost_total");
  EXPECT_LT(cost.back(), cost.front());
  // A model with other levels is refused, naming the mismatch.
  const Result wrong =
      run_nunatak(dir, "invert input_invert.yaml --set inversion.forward=emulator");
  EXPECT_NE(wrong.status, 0);
  EXPECT_CONTAINS(wrong.err, "cnn_glen_data.pt");
  // emulator.output: reference: the model's membrane reference alone, by its
  // adjoint; it lowers the cost too, and is for the emulator mode only.
  const Result reference = run_nunatak(
      dir, "invert input_invert.yaml --set inversion.forward=emulator --set bp.levels=9 "
           "--set inversion.iterations=20 --set emulator.output=reference "
           "--set output.file=reference.nc");
  ASSERT_EQ(reference.status, 0) << reference.err;
  EXPECT_CONTAINS(reference.err + reference.out,
                  "with the emulator's membrane reference forward model, adam");
  const std::vector<double> reference_cost = read_variable(dir.file("reference.nc"), "cost_total");
  EXPECT_LT(reference_cost.back(), 0.5 * reference_cost.front());
  EXPECT_NE(reference_cost.back(), cost.back()); // not the network's inversion
  const Result hybrid =
      run_nunatak(dir, "invert input_invert.yaml --set inversion.forward=hybrid --set bp.levels=9 "
                       "--set emulator.output=reference --set output.file=bad.nc");
  EXPECT_NE(hybrid.status, 0);
  EXPECT_CONTAINS(hybrid.err, "emulator.output: reference is for inversion.forward: emulator");
  EXPECT_FALSE(std::filesystem::exists(dir.file("bad.nc")));
  // emulator.refine_steps: the reference refined towards the BP balance and
  // differentiated as that balance's adjoint, with L-BFGS; the final state's
  // velocity is within a few per cent of BP's, nearer than the reference's.
  const Result refined = run_nunatak(
      dir, "invert input_invert.yaml --set inversion.forward=emulator --set bp.levels=9 "
           "--set inversion.iterations=20 --set emulator.output=reference "
           "--set emulator.refine_steps=2 --set emulator.refine_method=newton "
           "--set inversion.optimizer=lbfgs --set output.file=refined.nc");
  ASSERT_EQ(refined.status, 0) << refined.err;
  EXPECT_CONTAINS(refined.err + refined.out,
                  "with the emulator's membrane reference, refined forward model, lbfgs");
  const std::vector<double> refined_cost = read_variable(dir.file("refined.nc"), "cost_total");
  EXPECT_LT(refined_cost.back(), 0.5 * refined_cost.front());
  const double refined_gap = forward_to_bp(refined.err + refined.out),
               reference_gap = forward_to_bp(reference.err + reference.out);
  std::printf("final state, forward model to BP: reference %.2f %%, refined %.2f %%; thickness "
              "RMS to the truth: reference %.1f m, refined %.1f m\n",
              reference_gap, refined_gap, truth_rms(reference.err + reference.out).first,
              truth_rms(refined.err + refined.out).first);
  EXPECT_LT(refined_gap, 2.0);
  EXPECT_LT(refined_gap, 0.5 * reference_gap);
  // The solver and hybrid modes do not refine.
  const Result hybrid_refined =
      run_nunatak(dir, "invert input_invert.yaml --set inversion.forward=hybrid --set bp.levels=9 "
                       "--set emulator.refine_steps=2 --set output.file=bad.nc");
  EXPECT_NE(hybrid_refined.status, 0);
  EXPECT_CONTAINS(hybrid_refined.err, "emulator.refine_steps is for inversion.forward: emulator");
  EXPECT_FALSE(std::filesystem::exists(dir.file("bad.nc")));
}

// The velocity-scaled first guess, and the validation split: the test
// cells (radar row 5, columns of the 4 km blocks of parity 1) leave, and
// the rest is split again in 2 km blocks.
TEST(InvertCli, VelocityFirstGuessAndValidationSplit) {
  TempDir dir;
  make_twin(dir);
  write_config(dir, "");
  const Result r =
      run_nunatak(dir, "invert input_invert.yaml --set inversion.first_guess=velocity "
                       "--set inversion.iterations=0 --set inversion.radar.holdout_block_size=4000 "
                       "--set inversion.radar.validation_block_size=2000");
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string log = r.err + r.out;
  EXPECT_CONTAINS(log, "first guess: shallow-ice law scaled by the observed surface speed");
  EXPECT_CONTAINS(log, "(fitted to the radar cells used)");
  const auto [rms, first] = truth_rms(log);
  EXPECT_EQ(rms, first); // no step taken
  EXPECT_GT(first, 0.0);
  EXPECT_LT(first, 150.0);
  // radar_used: 1 used, 0 validation, NaN for the test cells (and off the radar).
  const std::vector<double> used = read_variable(dir.file("inverted.nc"), "radar_used");
  const std::vector<double> obs = read_variable(dir.file("inverted.nc"), "thkobs");
  const auto value = [](double x) { return std::isfinite(x) && std::abs(x) < 1e30; }; // not fill
  int used_cells = 0, validation_cells = 0, radar_cells = 0;
  for (size_t c = 0; c < used.size(); ++c) {
    radar_cells += value(obs[c]);
    used_cells += used[c] == 1.0 && value(obs[c]);
    validation_cells += used[c] == 0.0 && value(obs[c]);
  }
  EXPECT_LT(radar_cells, 16); // row 5's ice cells, less the test cells
  EXPECT_GT(used_cells, 0);
  EXPECT_GT(validation_cells, 0);
  EXPECT_EQ(used_cells + validation_cells, radar_cells);
}

// The mass-conservation term's source smb - dh/dt: dh/dt read from the
// observations (m/a, NaN off the ice), the SMB from
// surface_mass_balance.constant. A thinning of 2 m/a with an SMB of 2 m/a
// is the same source as neither (the same cost to round-off); the thinning
// alone is not.
TEST(InvertCli, MassConservationTakesDhdtFromTheObservations) {
  TempDir with_dhdt, without;
  make_twin(with_dhdt, 2.0);
  make_twin(without);
  const auto mass_cost = [&](const TempDir& dir, const std::string& args) {
    write_config(dir, "");
    const Result r = run_nunatak(dir, "invert input_invert.yaml --set inversion.iterations=0 "
                                      "--set inversion.mass.weight=1 " +
                                          args);
    EXPECT_EQ(r.status, 0) << r.err;
    const std::vector<double> cost = read_variable(dir.file("inverted.nc"), "cost_mass");
    std::filesystem::remove(dir.file("inverted.nc"));
    return std::make_pair(cost.empty() ? NAN : cost.front(), r.err + r.out);
  };
  const auto [balanced, log] =
      mass_cost(with_dhdt, "--set surface_mass_balance.constant=2 --log-level debug");
  EXPECT_CONTAINS(log, "read dhdt from");
  const double thinning = mass_cost(with_dhdt, "").first;
  const double none = mass_cost(without, "").first;
  std::printf("mass cost: smb 2, dh/dt 2: %.9g; neither: %.9g; dh/dt 2 alone: %.9g\n", balanced,
              none, thinning);
  EXPECT_GT(none, 0.0);
  EXPECT_NEAR(balanced, none, 1e-9 * none);
  EXPECT_GT(std::abs(thinning - none), 1e-3 * none);
}

TEST(InvertCli, BadConfigurationsAreOneClearErrorAndLeaveNoOutput) {
  TempDir dir;
  make_twin(dir);
  write_config(dir, "");
  const auto fails_with = [&](const std::string& args, const std::string& message) {
    const Result r = run_nunatak(dir, "invert input_invert.yaml " + args);
    EXPECT_NE(r.status, 0) << args;
    EXPECT_CONTAINS(r.err, message);
    EXPECT_FALSE(std::filesystem::exists(dir.file("inverted.nc"))) << args;
  };
  fails_with("--set inversion.controls=[thickness,softness]",
             "inversion.controls: unknown control 'softness'");
  fails_with("--set inversion.radar.sigma=-5", "inversion.radar.sigma");
  fails_with("--set inversion.forward=emulator", "needs emulator.model");
  fails_with("--set inversion.thickness.min=2", "inversion.thickness_min");
  fails_with("--set sliding.law=pseudo_plastic", "pseudo_plastic is not supported here");
  fails_with("--set inversion.radar.validation_block_size=2000",
             "inversion.radar.validation_block_size needs inversion.radar.holdout_block_size");
  fails_with("--set inversion.first_guess=speed", "inversion.first_guess");
  // Observations on another grid.
  TestFile o = grid_file(nx + 1, ny, dx, dx);
  add_field(o, "uvelsurfobs", "m/a", std::vector<double>(size_t((nx + 1) * ny), 1.0));
  add_field(o, "vvelsurfobs", "m/a", std::vector<double>(size_t((nx + 1) * ny), 1.0));
  write_test_file(dir.file("input_other_grid.nc"), o);
  fails_with("--set input.observations.file=input_other_grid.nc", "input_other_grid.nc");
  // No observation at all.
  write_test_file(dir.file("input_empty.nc"), grid_file(nx, ny, dx, dx));
  fails_with("--set input.observations.file=input_empty.nc", "no observations found");
}

TEST(InvertCli, ObserveMakesSeededSyntheticObservations) {
  TempDir dir;
  make_twin(dir);
  write_text(dir.file("input_observe.yaml"),
             "input.geometry.file: input_geometry.nc\nbp.levels: 5\n"
             "observe: {velocity_noise: 3, radar_lines: 2, radar_noise: 5, seed: 7}\n");
  ASSERT_EQ(run_nunatak(dir, "observe input_observe.yaml -o a.nc").status, 0);
  ASSERT_EQ(run_nunatak(dir, "observe input_observe.yaml -o b.nc").status, 0);
  ASSERT_EQ(run_nunatak(dir, "observe input_observe.yaml -o c.nc --set observe.seed=8").status, 0);
  const auto u = [&](const char* file) { return read_variable(dir.file(file), "uvelsurfobs"); };
  const auto radar = [&](const char* file) { return read_variable(dir.file(file), "thkobs"); };
  EXPECT_EQ(u("a.nc"), u("b.nc")); // the same seed: the same file
  EXPECT_NE(u("a.nc"), u("c.nc"));
  // At 2 ranks the solve runs on both: the same noise on a velocity equal to
  // round-off and the solver's tolerance.
  ASSERT_EQ(run_shell(dir, std::string(NUNATAK_MPIEXEC) +
                               " --allow-run-as-root --oversubscribe -n 2 " + NUNATAK_BINARY +
                               " observe input_observe.yaml -o two.nc")
                .status,
            0);
  {
    const std::vector<double> one = u("a.nc"), two = u("two.nc");
    ASSERT_EQ(two.size(), one.size());
    double largest = 0;
    for (size_t c = 0; c < one.size(); ++c) {
      EXPECT_EQ(present(one[c]), present(two[c])) << c;
      if (present(one[c]) && present(two[c]))
        largest = std::max(largest, std::abs(two[c] - one[c]));
    }
    EXPECT_LT(largest, 1e-3);
  }
  // Radar on two rows of ice cells, within a few sigma of the truth.
  const std::vector<double> r = radar("a.nc");
  std::set<int> rows;
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i)
      if (present(r[size_t(j * nx + i)])) {
        rows.insert(j);
        EXPECT_NEAR(r[size_t(j * nx + i)], true_thickness(i, j), 25.0);
      }
  EXPECT_EQ(rows.size(), 2u);
  // The noise's spread: u - the noise-free solution has a standard deviation near 3 m/a.
  const std::vector<double> speed = read_variable(dir.file("a.nc"), "velsurf_mag_true");
  const std::vector<double> ua = u("a.nc"), uc = u("c.nc");
  double sum2 = 0;
  int n = 0;
  for (size_t c = 0; c < ua.size(); ++c)
    if (present(ua[c]) && present(speed[c])) {
      sum2 += (ua[c] - uc[c]) * (ua[c] - uc[c]) / 2; // two independent draws
      ++n;
    }
  EXPECT_GT(n, 50);
  EXPECT_NEAR(std::sqrt(sum2 / n), 3.0, 0.6);

  // input.region: a sub-domain is solved, the file is on the whole grid.
  ASSERT_EQ(run_nunatak(dir, "observe input_observe.yaml -o d.nc --set "
                             "'input.region=[3000, 11000, 0, 20000]'")
                .status,
            0);
  const std::vector<double> part = read_variable(dir.file("d.nc"), "velsurf_mag_true");
  ASSERT_EQ(part.size(), size_t(nx * ny));
  int inside = 0;
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) {
      const bool in_box = i * dx >= 3000 && i * dx <= 11000;
      if (present(part[size_t(j * nx + i)])) {
        EXPECT_TRUE(in_box) << i << ", " << j;
        ++inside;
      }
    }
  EXPECT_GT(inside, 30);
  for (const auto& [region, message] :
       {std::pair{"[1, 2, 3]", "input.region: give four numbers"},
        std::pair{"[0, 1e3, a, 5]", "input.region: 'a' is not a number"},
        std::pair{"[5e5, 6e5, 0, 1e4]", "holds no cell of the grid"}}) {
    const Result refused = run_nunatak(dir, std::string("observe input_observe.yaml -o e.nc "
                                                        "--set 'input.region=") +
                                                region + "'");
    EXPECT_NE(refused.status, 0) << region;
    EXPECT_CONTAINS(refused.err, message);
  }
}
