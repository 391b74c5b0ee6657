// `nunatak observe CONFIG -o OBS.nc`: synthetic observations of a geometry
// whose thickness is known, for twin experiments of the inversion
// (docs/inversion.md): the Blatter-Pattyn surface velocity at that
// thickness plus Gaussian noise, and the thickness along radar lines plus
// noise, written as uvelsurfobs, vvelsurfobs and thkobs on the input grid.
// Radar lines run along x, at rows evenly spaced in y over the outline's
// extent. Keys observe.* (seeded: the same file from the same config).
// Rank 0 makes them; under mpirun the solve runs on every rank.

#include "commands.hpp"

#include "nunatak/core/error.hpp"
#include "nunatak/io/input_file.hpp"
#include "nunatak/io/model_inputs.hpp"
#include "nunatak/io/output_file.hpp"
#include "nunatak/model/configured_patch.hpp"
#include "nunatak/model/simulation.hpp"
#include "nunatak/model/solver_team.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <random>

namespace nunatak::app {

namespace {

/// The observations, on rank 0; `team`: the ranks the solve runs on.
void make_observations(const io::Config& config, const std::string& output,
                       const std::string& command_line, model::SolverTeam& team) {
  const io::InputArrays in = io::read_input_arrays(config);
  if (!in.thk || !in.usurf)
    throw Error("observe: the geometry '" + in.geometry_file +
                "' needs a thickness and a surface (thk with topg or usurf): they are the truth "
                "the observations are made of");
  const core::Grid& grid = in.grid;
  const int nx = grid.nx(), ny = grid.ny();
  const size_t columns = size_t(grid.size());
  const double H_min = config.get_real("bp.minimum_thickness");
  std::vector<double> H = in.thk->values;
  for (double& h : H) h = h >= H_min ? h : 0.0;
  const core::BPPatch patch = model::configured_bp_patch(
      config, grid, H, in.usurf->values, in.softness ? &*in.softness : nullptr, 0.0);
  const auto start = std::chrono::steady_clock::now();
  model::TeamSampleSolver solver(&team, patch, config.get_bool("bp.ocean_pressure"), "observe_",
                                 columns <= 10000);
  const std::vector<double> u = solver.solve(H);
  spdlog::info("Blatter-Pattyn solve at the true thickness: {} Newton iterations, {:.1f} s",
               solver.newton_iterations(),
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());

  std::mt19937_64 random(std::uint64_t(config.get_int("observe.seed")));
  std::normal_distribution<double> normal(0.0, 1.0);
  const double velocity_noise = config.get_real("observe.velocity_noise");
  const double radar_noise = config.get_real("observe.radar_noise");
  std::vector<double> uo(columns, NAN), vo(columns, NAN), speed(columns, NAN), radar(columns, NAN);
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) {
      const size_t c = patch.column(j, i);
      if (!patch.node_free[c] || H[c] <= 0) continue;
      const size_t n = 2 * patch.node(j, i, patch.nz - 1);
      speed[c] = std::hypot(u[n], u[n + 1]);
      uo[c] = u[n] + velocity_noise * normal(random);
      vo[c] = u[n + 1] + velocity_noise * normal(random);
    }
  // Radar lines: rows evenly spaced over the outline's extent in y.
  int j0 = ny, j1 = -1;
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i)
      if (H[patch.column(j, i)] > 0) {
        j0 = std::min(j0, j);
        j1 = std::max(j1, j);
      }
  const int lines = int(config.get_int("observe.radar_lines"));
  long long radar_cells = 0;
  for (int l = 0; l < lines && j1 >= j0; ++l) {
    const int j = j0 + int((l + 0.5) * (j1 - j0 + 1) / lines);
    for (int i = 0; i < nx; ++i) {
      const size_t c = patch.column(j, i);
      if (H[c] <= 0) continue;
      radar[c] = std::max(0.0, H[c] + radar_noise * normal(random));
      ++radar_cells;
    }
  }
  const std::string a = "m year-1";
  const auto info = [](const std::string& name, const std::string& long_name,
                       const std::string& units) {
    return core::FieldInfo{name, long_name, "", units, units, {}, ""};
  };
  std::vector<io::MapField> fields = {
      {info("uvelsurfobs", "x-component of the surface velocity (synthetic: BP plus noise)", a),
       uo},
      {info("vvelsurfobs", "y-component of the surface velocity (synthetic: BP plus noise)", a),
       vo},
      {info("thkobs", "ice thickness along radar lines (synthetic: the truth plus noise)", "m"),
       radar},
      {info("velsurf_mag_true", "surface speed of the Blatter-Pattyn solve, without noise", a),
       speed},
  };
  // On the geometry file's whole grid, also when input.region read a part of
  // it, so that the inversion reads the file beside the geometry.
  const core::Grid whole = io::InputFile(config.get_string("input.geometry.file")).grid();
  const long di = std::lround((grid.x(0) - whole.x(0)) / grid.dx());
  const long dj = std::lround((grid.y(0) - whole.y(0)) / grid.dy());
  for (io::MapField& f : fields) {
    std::vector<double> full(size_t(whole.size()), NAN);
    for (int j = 0; j < ny; ++j)
      for (int i = 0; i < nx; ++i)
        full[size_t(j + dj) * size_t(whole.nx()) + size_t(i + di)] =
            f.values[size_t(j) * size_t(nx) + size_t(i)];
    f.values = std::move(full);
  }
  io::Provenance provenance;
  provenance.command_line = command_line;
  provenance.config = &config;
  provenance.title = "nunatak synthetic observations (twin experiment)";
  io::write_map_file(output, whole, fields, "", {}, provenance,
                     int(config.get_int("output.compression_level")));
  spdlog::info("wrote {}: surface velocity on the outline (noise {} m/a), {} radar cells on {} "
               "lines (noise {} m)",
               output, velocity_noise, radar_cells, lines, radar_noise);
}

} // namespace

void add_observe_command(CLI::App& app, Context& context) {
  auto* cmd = app.add_subcommand(
      "observe", "Synthetic observations for twin experiments: the Blatter-Pattyn surface "
                 "velocity of the input geometry plus noise, and radar thickness along lines "
                 "(keys observe.*)");
  struct Options {
    std::string config_file, output;
    std::vector<std::string> overrides;
  };
  auto o = std::make_shared<Options>();
  cmd->add_option("CONFIG", o->config_file, "YAML configuration (the geometry is the truth)")
      ->required();
  cmd->add_option("-o,--output", o->output, "the observation file to write")->required();
  cmd->add_option("--set", o->overrides, "override a key: --set key=value")
      ->allow_extra_args(false);
  cmd->callback([o, &context] {
    io::Config config = io::Config::from_file(o->config_file);
    for (const auto& s : o->overrides) config.set_override(s);
    core::Runtime& runtime = context.runtime();
    io::FilePlan files;
    files.read(config.source_file(), "the configuration file");
    for (const char* key : {"input.geometry.file", "input.forcing.file", "input.observations.file"})
      files.read(config.get_string(key), key);
    files.write(o->output, "--output");
    model::prepare_files(files, runtime.comm());
    model::insert_petsc_options(config.get_string("petsc.options"));
    // Rank 0 makes the observations; the solve runs on every rank.
    model::lead_on_rank_zero(runtime.comm(), [&](model::SolverTeam& team) {
      make_observations(config, o->output, context.command_line(), team);
    });
  });
}

} // namespace nunatak::app
