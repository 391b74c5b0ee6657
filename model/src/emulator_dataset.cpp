// `nunatak emulator dataset` (emulator_dataset.hpp): draw synthetic glaciers
// and patches of a real geometry, solve each with the Blatter-Pattyn solver on
// one rank, keep each solved sample in its own file until all are done, then
// merge them into one NetCDF file.

#include "nunatak/model/emulator_dataset.hpp"

#include "nunatak/core/collective.hpp"
#include "nunatak/core/constants.hpp"
#include "nunatak/core/error.hpp"
#include "nunatak/core/field3d.hpp"
#include "nunatak/core/floatation.hpp"
#include "nunatak/core/parallel_grid.hpp"
#include "nunatak/core/synthetic_glacier.hpp"
#include "nunatak/model/model_inputs.hpp"
#include "nunatak/solver/blatter_pattyn.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

namespace nunatak::model {

namespace fs = std::filesystem;

namespace {

/// The inputs of one Blatter-Pattyn problem, before it is solved.
struct SampleInputs {
  int source = 0; ///< 0 synthetic, 1 patch
  int nx = 0, ny = 0;
  double dx = 0;
  std::vector<double> thk, topg, beta2; ///< m, m, Pa (m/a)^-1
  /// Column softness A (Pa^-n a^-1) times factor(sigma) on softness_sigma.
  std::vector<double> softness, softness_sigma, softness_factor;
  bool no_slip = false;
};

/// A smooth random field of unit variance on the patch (correlation 3-10 cells).
std::vector<double> unit_field(int nx, int ny, double dx, core::Random& random) {
  const double length = random.log_uniform(3.0, 10.0) * dx;
  return core::gaussian_random_field(nx, ny, dx, dx, 1.0, length, random);
}

SampleInputs synthetic_inputs(const EmulatorDatasetSpec& spec, int k) {
  core::SyntheticGlacierParams params;
  params.nx_min = params.ny_min = spec.cells_min;
  params.nx_max = params.ny_max = spec.cells_max;
  params.dx_min = spec.dx_min;
  params.dx_max = spec.dx_max;
  params.softness_profile_probability = spec.softness_profile_probability;
  params.calving_probability = spec.calving_probability;
  params.minimum_thickness = spec.minimum_thickness;
  core::Random seeds(std::uint64_t(spec.seed), std::uint64_t(k));
  const core::SyntheticGlacier g = core::make_synthetic_glacier(params, seeds.next());
  SampleInputs s;
  s.nx = g.nx;
  s.ny = g.ny;
  s.dx = g.dx;
  s.thk = g.thk;
  s.topg = g.topg;
  s.beta2 = g.beta2;
  s.softness = g.softness;
  s.softness_sigma = g.softness_sigma;
  s.softness_factor = g.softness_factor;
  s.no_slip = g.no_slip;
  return s;
}

SampleInputs patch_inputs(const EmulatorDatasetSpec& spec, int k, const PatchSource& src) {
  core::Random random(std::uint64_t(spec.seed), (std::uint64_t(1) << 32) + std::uint64_t(k));
  const int stride = random.integer(1, spec.patch_stride_max);
  const int x_lo = int(std::floor(spec.patch_x_min * src.nx));
  const int x_hi = int(std::ceil(spec.patch_x_max * src.nx)); // exclusive
  const int avail_x = (x_hi - x_lo + stride - 1) / stride, avail_y = (src.ny + stride - 1) / stride;
  const int nx = std::min(random.integer(spec.cells_min, spec.cells_max), avail_x);
  const int ny = std::min(random.integer(spec.cells_min, spec.cells_max), avail_y);
  if (nx < 8 || ny < 8)
    throw Error("emulator.dataset.patch_x_min/patch_x_max: the x range of '" + src.description +
                "' holds fewer than 8 columns at stride " + std::to_string(stride));
  SampleInputs s;
  s.source = 1;
  s.nx = nx;
  s.ny = ny;
  s.dx = src.dx * stride;
  // The first window (of at most 200 tries) with ice in 30 % of its columns.
  double best = -1;
  int bi = x_lo, bj = 0;
  for (int attempt = 0; attempt < 200 && best < 0.3; ++attempt) {
    const int i0 = x_lo + random.integer(0, (x_hi - x_lo) - (nx - 1) * stride - 1);
    const int j0 = random.integer(0, src.ny - (ny - 1) * stride - 1);
    int icy = 0;
    for (int j = 0; j < ny; ++j)
      for (int i = 0; i < nx; ++i)
        icy += src.thk[size_t(j0 + j * stride) * size_t(src.nx) + size_t(i0 + i * stride)] >=
               spec.minimum_thickness;
    const double fraction = double(icy) / (nx * ny);
    if (fraction > best) {
      best = fraction;
      bi = i0;
      bj = j0;
    }
  }
  const size_t n = size_t(nx) * size_t(ny);
  s.thk.resize(n);
  s.topg.resize(n);
  const std::vector<double> perturbation = unit_field(nx, ny, s.dx, random);
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) {
      const size_t c = size_t(j) * size_t(nx) + size_t(i);
      const size_t f = size_t(bj + j * stride) * size_t(src.nx) + size_t(bi + i * stride);
      const double H = src.thk[f];
      // Perturbed where there is ice; the outline (H >= H_min) is kept.
      s.thk[c] = H >= spec.minimum_thickness
                     ? std::max(spec.minimum_thickness, H * std::exp(0.1 * perturbation[c]))
                     : 0.0;
      s.topg[c] = src.topg[f];
    }
  // Friction and softness drawn as for synthetic glaciers (without patches).
  const core::SyntheticGlacierParams ranges;
  s.no_slip = random.bernoulli(ranges.no_slip_probability);
  const double beta0 = random.log_uniform(ranges.beta2_min, ranges.beta2_max);
  const double beta_std = random.uniform(0.0, ranges.beta2_log_std_max);
  const std::vector<double> friction = unit_field(nx, ny, s.dx, random);
  const double A0 = random.log_uniform(ranges.softness_min, ranges.softness_max);
  s.beta2.resize(n);
  s.softness.assign(n, A0);
  for (size_t c = 0; c < n; ++c)
    s.beta2[c] =
        std::clamp(beta0 * std::exp(beta_std * friction[c]), ranges.beta2_min, ranges.beta2_max);
  s.softness_sigma = {0.0, 1.0};
  s.softness_factor = {1.0, 1.0};
  return s;
}

/// Solves `in` with the Blatter-Pattyn solver on PETSC_COMM_SELF.
io::EmulatorSample solve_inputs(const EmulatorDatasetSpec& spec, const SampleInputs& in, int k) {
  const double year = core::seconds_per_year;
  auto grid =
      core::ParallelGrid::create(PETSC_COMM_SELF, core::Grid(in.nx, in.ny, in.dx, in.dx, 0.0, 0.0));
  core::Floatation floatation;
  floatation.minimum_thickness = spec.minimum_thickness;
  const size_t n = size_t(in.nx) * size_t(in.ny);
  std::vector<double> base(n), beta2(n), fixed(n);
  for (size_t c = 0; c < n; ++c) {
    const core::BPBasalColumn basal =
        core::bp_basal_column(floatation, in.thk[c], in.topg[c], !in.no_slip, in.beta2[c]);
    base[c] = basal.base;
    beta2[c] = basal.beta2;
    fixed[c] = basal.bed_fixed ? 1.0 : 0.0;
  }
  const auto field = [&](const char* name, const std::vector<double>& values) {
    core::Field2D f(grid, core::FieldInfo{name, name, "", "", "", {}, ""});
    grid->scatter_from_zero(values, f);
    return f;
  };
  const core::Field2D thk = field("thk", in.thk), zb = field("base", base);
  const core::Field2D b2 = field("beta2", beta2), bf = field("bed_fixed", fixed);
  core::Field3D softness(grid, core::FieldInfo{"softness", "softness", "", "Pa-n s-1", "", {}, ""},
                         in.softness_sigma);
  {
    auto A = Kokkos::create_mirror_view(softness.view());
    const core::LocalBox& box = grid->box();
    const size_t levels = in.softness_sigma.size();
    for (int j = 0; j < box.gym; ++j)
      for (int i = 0; i < box.gxm; ++i) {
        const size_t c = size_t(j + box.gys) * size_t(in.nx) + size_t(i + box.gxs);
        for (size_t l = 0; l < levels; ++l)
          A(j, i, l) = in.softness[c] * in.softness_factor[l] / year;
      }
    Kokkos::deep_copy(softness.view(), A);
  }
  solver::BPParams p;
  p.flow.n = spec.glen_exponent;
  p.levels = spec.levels;
  p.minimum_thickness = spec.minimum_thickness;
  p.strain_rate_regularisation = spec.regularisation;
  p.no_slip = false;
  p.friction_exponent = 1.0;
  p.ocean_pressure = spec.ocean_pressure;
  p.direct_fallback = true; // small grids: LU where GMRES/ILU stalls
  solver::BlatterPattyn bp(grid, p);
  bp.set_geometry(thk, zb, &b2, &bf);
  bp.set_softness(softness);
  io::EmulatorSample s;
  s.index = k;
  s.source = in.source;
  s.validation = spec.validation(k);
  const auto start = std::chrono::steady_clock::now();
  try {
    const solver::BPSolveReport report = bp.solve();
    s.converged = report.converged;
    s.newton_iterations = report.newton_iterations;
    s.krylov_iterations = report.krylov_iterations;
  } catch (const Error&) {
    s.converged = false; // kept, flagged: training skips it
  }
  s.solve_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  solver::BPPatchState state = bp.patch_state();
  s.patch = std::move(state.patch);
  if (s.converged) s.velocity = std::move(state.velocity);
  return s;
}

std::string part_path(const std::string& folder, int k) {
  char name[32];
  std::snprintf(name, sizeof name, "sample_%07d.nc", k);
  return (fs::path(folder) / name).string();
}

io::EmulatorDataset empty_dataset(const EmulatorDatasetSpec& spec, const core::BPConstants& c,
                                  const std::string& history) {
  io::EmulatorDataset d;
  d.sigma = core::uniform_sigma(spec.levels);
  d.constants = c;
  d.ocean_pressure = spec.ocean_pressure;
  d.configuration = spec.configuration;
  d.history = history;
  return d;
}

std::string lower(std::string s) {
  for (char& ch : s) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

} // namespace

bool EmulatorDatasetSpec::validation(int k) const {
  return std::floor((k + 1) * validation_fraction) > std::floor(k * validation_fraction);
}

EmulatorDatasetSpec emulator_dataset_spec(const io::Config& config) {
  EmulatorDatasetSpec s;
  const std::string d = "emulator.dataset.";
  s.file = config.get_string(d + "file");
  s.samples = int(config.get_int(d + "samples"));
  s.seed = config.get_int(d + "seed");
  s.validation_fraction = config.get_real(d + "validation_fraction");
  s.cells_min = int(config.get_int(d + "cells_min"));
  s.cells_max = int(config.get_int(d + "cells_max"));
  s.dx_min = config.get_real(d + "dx_min");
  s.dx_max = config.get_real(d + "dx_max");
  s.softness_profile_probability = config.get_real(d + "softness_profile_probability");
  s.calving_probability = config.get_real(d + "calving_probability");
  s.patch_config = config.get_string(d + "patch_config");
  s.patch_samples = int(config.get_int(d + "patch_samples"));
  s.patch_x_min = config.get_real(d + "patch_x_min");
  s.patch_x_max = config.get_real(d + "patch_x_max");
  s.patch_stride_max = int(config.get_int(d + "patch_stride_max"));
  s.levels = int(config.get_int("bp.levels"));
  s.glen_exponent = config.get_real("flow_law.glen_exponent");
  s.minimum_thickness = config.get_real("bp.minimum_thickness");
  s.regularisation = config.get_real("bp.regularisation");
  s.ocean_pressure = config.get_bool("bp.ocean_pressure");
  if (s.file.empty()) throw Error(d + "file: give the path of the data set");
  if (s.cells_min > s.cells_max)
    throw Error(d + "cells_min (" + std::to_string(s.cells_min) + ") is above cells_max (" +
                std::to_string(s.cells_max) + ")");
  if (s.dx_min > s.dx_max) throw Error(d + "dx_min is above dx_max");
  if (s.patch_x_min >= s.patch_x_max) throw Error(d + "patch_x_min must be below patch_x_max");
  if (s.patch_samples > 0 && s.patch_config.empty())
    throw Error(d + "patch_samples is " + std::to_string(s.patch_samples) +
                ", but no patch_config names the geometry to cut them from");
  if (s.total() == 0) throw Error(d + "samples and patch_samples are both 0: nothing to make");
  if (s.patch_samples > 0) {
    const io::Config patch = io::Config::from_file(s.patch_config);
    const std::string geometry = lower(patch.get_string("input.geometry.file"));
    if (geometry.find("greenland") != std::string::npos ||
        geometry.find("grl") != std::string::npos)
      throw Error(d + "patch_config '" + s.patch_config + "' reads Greenland ('" +
                  patch.get_string("input.geometry.file") +
                  "'): Greenland is the real geometry the emulator is judged on, so it is kept "
                  "out of every training set");
  }
  std::ostringstream text;
  for (const auto& key : io::config_schema())
    if (key.name.rfind(d, 0) == 0) text << key.name << ": " << config.text(key.name) << "\n";
  for (const char* key : {"bp.levels", "bp.minimum_thickness", "bp.regularisation",
                          "bp.ocean_pressure", "flow_law.glen_exponent"})
    text << key << ": " << config.text(key) << "\n";
  s.configuration = text.str();
  return s;
}

PatchSource read_patch_source(const EmulatorDatasetSpec& spec) {
  const io::Config config = io::Config::from_file(spec.patch_config);
  io::InputArrays arrays = io::read_input_arrays(config);
  complete_thickness(arrays, config, false);
  if (!arrays.thk || !arrays.topg)
    throw Error("emulator.dataset.patch_config '" + spec.patch_config +
                "': its inputs give no thickness and bed");
  PatchSource p;
  p.nx = arrays.grid.nx();
  p.ny = arrays.grid.ny();
  p.dx = arrays.grid.dx();
  p.dy = arrays.grid.dy();
  if (std::abs(p.dx - p.dy) > 1e-6 * p.dx)
    throw Error("emulator.dataset.patch_config '" + spec.patch_config +
                "': the grid's cells are not square (dx != dy)");
  p.thk = arrays.thk->values;
  p.topg = arrays.topg->values;
  for (double& H : p.thk) H = std::isfinite(H) ? std::max(H, 0.0) : 0.0;
  p.description = arrays.geometry_file;
  return p;
}

io::EmulatorSample make_emulator_sample(const EmulatorDatasetSpec& spec, int k,
                                        const PatchSource* patches) {
  if (k < 0 || k >= spec.total())
    throw Error("emulator dataset: sample " + std::to_string(k) + " is outside 0.." +
                std::to_string(spec.total() - 1));
  if (k < spec.samples) return solve_inputs(spec, synthetic_inputs(spec, k), k);
  if (!patches) throw Error("emulator dataset: patch samples need the patch geometry");
  return solve_inputs(spec, patch_inputs(spec, k - spec.samples, *patches), k);
}

EmulatorDatasetReport make_emulator_dataset(const EmulatorDatasetSpec& spec, MPI_Comm comm,
                                            const std::string& history,
                                            const std::function<void(int, int)>& progress) {
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  const std::string folder = spec.file + ".parts";
  const std::string stamp = (fs::path(folder) / "configuration.yaml").string();
  // The folder belongs to this configuration (a resumed run must not mix samples).
  core::collective(comm, [&] {
    if (rank != 0) return;
    fs::create_directories(folder);
    if (fs::exists(stamp)) {
      std::ifstream in(stamp);
      const std::string old((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (old != spec.configuration)
        throw Error("'" + folder + "' holds samples of another emulator.dataset configuration (" +
                    stamp +
                    "); remove the folder to start again, or restore that configuration "
                    "to resume");
    } else {
      const std::string tmp = stamp + ".tmp";
      std::ofstream(tmp) << spec.configuration;
      fs::rename(tmp, stamp);
    }
  });
  MPI_Barrier(comm);
  std::optional<PatchSource> patches;
  EmulatorDatasetReport report;
  report.total = spec.total();
  int resumed = 0, solved = 0;
  core::collective(comm, [&] {
    for (int k = rank; k < spec.total(); k += size) {
      const std::string part = part_path(folder, k);
      if (fs::exists(part)) {
        ++resumed;
        continue;
      }
      if (k >= spec.samples && !patches) patches = read_patch_source(spec);
      io::EmulatorSample s = make_emulator_sample(spec, k, patches ? &*patches : nullptr);
      io::EmulatorDataset one = empty_dataset(spec, s.patch.constants, history);
      one.samples.push_back(std::move(s));
      io::write_emulator_dataset(part, one);
      ++solved;
      if (rank == 0 && progress) {
        int done = 0;
        for (int j = 0; j < spec.total(); ++j) done += fs::exists(part_path(folder, j));
        progress(done, spec.total());
      }
    }
  });
  int counts[2] = {resumed, solved}, totals[2] = {0, 0};
  MPI_Allreduce(counts, totals, 2, MPI_INT, MPI_SUM, comm);
  report.resumed = totals[0];
  report.solved = totals[1];
  double seconds = 0;
  int failed = 0;
  core::collective(comm, [&] {
    if (rank != 0) return;
    io::EmulatorDataset all;
    for (int k = 0; k < spec.total(); ++k) {
      io::EmulatorDataset one = io::read_emulator_dataset(part_path(folder, k));
      if (one.samples.size() != 1)
        throw Error("'" + part_path(folder, k) + "' does not hold exactly one sample");
      if (k == 0) all = empty_dataset(spec, one.constants, history);
      seconds += one.samples[0].solve_seconds;
      failed += !one.samples[0].converged;
      all.samples.push_back(std::move(one.samples[0]));
    }
    io::write_emulator_dataset(spec.file, all);
    fs::remove_all(folder);
  });
  MPI_Bcast(&seconds, 1, MPI_DOUBLE, 0, comm);
  MPI_Bcast(&failed, 1, MPI_INT, 0, comm);
  report.solve_seconds = seconds;
  report.failed = failed;
  return report;
}

} // namespace nunatak::model
