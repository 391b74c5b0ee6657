// The emulator as a stress balance (emulator_stress_balance.hpp): gather the
// inputs on rank 0, build the Blatter-Pattyn patch of the whole grid, run the
// network (or, with emulator.output: reference, the membrane reference it
// corrects, alone), broadcast the column velocities, and make fluxes and
// output fields from them as the solver does. Optionally (rank 0, every K or
// M updates):
// retrain the network on the current geometry, and check it against a
// Blatter-Pattyn solve started from its velocity.

#include "nunatak/model/emulator_stress_balance.hpp"

#include "nunatak/core/bp_patch.hpp"
#include "nunatak/core/collective.hpp"
#include "nunatak/core/constants.hpp"
#include "nunatak/core/error.hpp"
#include "nunatak/core/parallel_grid.hpp"
#include "nunatak/emulator/membrane_reference.hpp"
#include "nunatak/emulator/network.hpp"
#include "nunatak/emulator/refinement.hpp"
#include "nunatak/emulator/trainer.hpp"
#include "nunatak/model/inversion_forward.hpp"
#include "nunatak/model/sample_solver.hpp"
#include "nunatak/solver/column_velocity.hpp"

#include <mpi.h>
#include <spdlog/spdlog.h>
#include <torch/cuda.h>
#include <torch/optim/adam.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>

namespace nunatak::model {

namespace {

using solver::StressBalanceInputs;
using solver::StressBalanceParams;

class EmulatorStressBalance final : public solver::StressBalance {
public:
  EmulatorStressBalance(std::shared_ptr<const core::ParallelGrid> grid,
                        const StressBalanceParams& params)
      : m_grid(std::move(grid)), m_params(params) {
    if (params.emulator_model.empty())
      throw Error("stress_balance.model: emulator needs emulator.model, the path of a model "
                  "file (docs/emulator.md)");
    // Every rank reads (and checks) the file, so that a bad one fails everywhere.
    core::collective(m_grid->comm(), [&] {
      m_model.emplace(emulator::Emulator::load(params.emulator_model));
      emulator::EmulatorMetadata run = m_model->metadata();
      run.glen_exponent = params.flow.n;
      run.ice_density = params.flow.ice_density;
      run.gravity = params.flow.gravity;
      run.sea_water_density = params.sea_water_density;
      run.friction_exponent = 1.0 / params.sliding.exponent;
      run.minimum_thickness = params.bp_minimum_thickness;
      // Any channel the model lists is computed from the run's fields
      // (Emulator::load rejects names this code does not know).
      emulator::check_compatible(m_model->metadata(), run, params.emulator_model);
    });
    if (reference_only()) {
      emulator::check_has_membrane_reference(m_model->metadata(), params.emulator_model);
      if (params.emulator_retrain_every > 0)
        throw Error("emulator.retrain_every: retraining changes the network, which "
                    "emulator.output: reference does not use (set emulator.output: network)");
    }
    const std::string& device = params.emulator_device;
    const bool cuda = device == "cuda" || (device == "auto" && torch::cuda::is_available());
    if (cuda && !torch::cuda::is_available())
      throw Error("emulator.device: cuda, but LibTorch sees no CUDA device here");
    m_device = cuda ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
    m_fluxes.qx = core::View2D("emulator::qx", m_grid->box().gym, m_grid->box().gxm);
    m_fluxes.qy = core::View2D("emulator::qy", m_grid->box().gym, m_grid->box().gxm);
  }

  std::string name() const override { return "emulator"; }

  /// emulator.output: reference, the model's membrane reference without its network.
  bool reference_only() const { return m_params.emulator_output == "reference"; }

  void update(const StressBalanceInputs& in) override {
    const auto start = std::chrono::steady_clock::now();
    const core::Grid& g = m_grid->grid();
    const int nx = g.nx(), ny = g.ny(), nz = int(m_model->metadata().sigma.size());
    const std::vector<double> H = m_grid->gather_to_zero(in.thk);
    const std::vector<double> b = m_grid->gather_to_zero(in.topg);
    std::vector<double> beta2_field, softness;
    if (in.basal_friction) beta2_field = m_grid->gather_to_zero(*in.basal_friction);
    if (in.softness) softness = column_mean_softness(*in.softness);
    m_velocity.assign(size_t(nx) * size_t(ny) * size_t(nz) * 2, 0.0);
    m_check = std::nan("");
    core::collective(m_grid->comm(), [&] {
      if (m_grid->rank() == 0) run_network(in, H, b, beta2_field, softness);
    });
    if (!in.diagnostic) ++m_updates;
    MPI_Bcast(m_velocity.data(), int(m_velocity.size()), MPI_DOUBLE, 0, m_grid->comm());
    MPI_Bcast(&m_check, 1, MPI_DOUBLE, 0, m_grid->comm());
    m_box_values = box_values();
    {
      // Icy columns of the box (ghosts outside the domain hold no ice).
      const core::LocalBox& box = m_grid->box();
      auto Hl = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), in.thk.view());
      m_box_icy.assign(size_t(box.gxm) * size_t(box.gym), 0);
      for (int j = 0; j < box.gym; ++j)
        for (int i = 0; i < box.gxm; ++i)
          m_box_icy[size_t(j) * size_t(box.gxm) + size_t(i)] =
              inside(i + box.gxs, j + box.gys) && Hl(j, i) >= m_params.bp_minimum_thickness;
    }
    m_limits = solver::update_column_fluxes(*m_grid, in.thk, in.usurf, column_box(), m_fluxes);
    m_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }

  const solver::FaceFluxes& fluxes() const override { return m_fluxes; }
  double max_diffusivity() const override { return m_limits.diffusivity; }
  double max_advection_rate() const override { return m_limits.advection_rate; }

  std::string last_solve_summary() const override {
    char text[192];
    const std::string what = reference_only()
                                 ? m_model->metadata().membrane_viscosity + " membrane reference"
                                 : "network " + m_model->metadata().architecture;
    std::snprintf(text, sizeof text, "%s, %d levels, %.1f ms (%s, %s precision)", what.c_str(),
                  int(m_model->metadata().sigma.size()), m_seconds * 1e3,
                  m_device.is_cuda() ? "cuda" : "cpu", m_params.emulator_precision.c_str());
    std::string summary = text;
    if (std::isfinite(m_check)) {
      std::snprintf(text, sizeof text, ", solver check: %.2f %% from Blatter-Pattyn",
                    100 * m_check);
      summary += text;
    }
    return summary;
  }

  double last_solver_check() const override { return m_check; }

  solver::Velocities velocities(const std::vector<double>& sigma) const override {
    return solver::column_velocity_fields(m_grid, column_box(), sigma);
  }

private:
  /// Column-mean softness (Pa^-n s^-1) of a 3-D field, gathered on rank 0.
  std::vector<double> column_mean_softness(const core::Field3D& A) const {
    const core::LocalBox& box = m_grid->box();
    core::Field2D mean(m_grid, core::FieldInfo{"softness_mean", "", "", "", "", {}, ""}, 0.0);
    auto src = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), A.view());
    auto dst = Kokkos::create_mirror_view(mean.view());
    const int levels = int(src.extent(2));
    for (int j = 0; j < box.gym; ++j)
      for (int i = 0; i < box.gxm; ++i) {
        double sum = 0;
        for (int k = 0; k < levels; ++k) sum += src(j, i, k);
        dst(j, i) = sum / levels;
      }
    Kokkos::deep_copy(mean.view(), dst);
    return m_grid->gather_to_zero(mean);
  }

  /// Rank 0: the whole grid's patch, the network, m_velocity ([y][x][z][c], m/a).
  void run_network(const StressBalanceInputs& in, const std::vector<double>& H,
                   const std::vector<double>& bed, const std::vector<double>& beta2_field,
                   const std::vector<double>& softness) {
    const core::Grid& g = m_grid->grid();
    const int nx = g.nx(), ny = g.ny();
    const emulator::EmulatorMetadata& meta = m_model->metadata();
    const int nz = int(meta.sigma.size());
    const core::Floatation& fl = in.floatation;
    const double n = m_params.flow.n, year = core::seconds_per_year;
    const bool sliding = in.basal_friction || m_params.sliding.coefficient > 0.0;
    const double uniform_beta2 =
        m_params.sliding.coefficient > 0.0
            ? std::pow(m_params.sliding.coefficient * year, -1.0 / m_params.sliding.exponent)
            : 0.0;
    const size_t columns = size_t(nx) * size_t(ny);
    std::vector<double> base(columns), beta2(columns), hardness(columns * size_t(nz));
    std::vector<std::uint8_t> bed_fixed(columns);
    for (size_t c = 0; c < columns; ++c) {
      const core::BPBasalColumn basal = core::bp_basal_column(
          fl, H[c], bed[c], sliding, beta2_field.empty() ? uniform_beta2 : beta2_field[c]);
      base[c] = basal.base;
      beta2[c] = basal.beta2;
      bed_fixed[c] = basal.bed_fixed ? 1 : 0;
      const double A = (softness.empty() ? m_params.flow.softness : softness[c]) *
                       m_params.flow.enhancement * year; // Pa^-n a^-1
      const double B = std::pow(A, -1.0 / n);
      for (int k = 0; k < nz; ++k) hardness[c * size_t(nz) + size_t(k)] = B;
    }
    core::BPConstants constants;
    constants.glen_exponent = n;
    constants.friction_exponent = 1.0 / m_params.sliding.exponent;
    constants.rho_g = m_params.flow.ice_density * m_params.flow.gravity;
    constants.minimum_thickness = m_params.bp_minimum_thickness;
    constants.sea_level = fl.sea_level;
    constants.water_ratio = fl.sea_water_density / fl.ice_density;
    core::BPPatch patch = core::make_bp_patch(nx, ny, g.dx(), g.dy(), meta.sigma, H, base, beta2,
                                              hardness, constants, m_params.bp_ocean_pressure);
    patch.bed_fixed = bed_fixed;
    patch.check("emulator patch");
    emulator::TorchBPPatch tp = emulator::make_torch_bp_patch(
        patch, m_params.emulator_precision == "double" ? torch::kFloat64 : torch::kFloat32,
        m_device);
    m_model->to(tp.options());
    if (emulator::uses_membrane(m_model->metadata())) {
      // One membrane solve per update, shared by retraining and inference,
      // started from the previous update's.
      const torch::NoGradGuard no_grad;
      emulator::MembraneOptions options = emulator::membrane_options(m_model->metadata());
      options.initial_guess = m_membrane;
      options.initial_viscosity = m_membrane_viscosity;
      emulator::MembraneReport report;
      emulator::cache_membrane(tp, options, &report);
      m_membrane = tp.membrane;
      m_membrane_viscosity = tp.membrane_viscosity;
      spdlog::debug("emulator: membrane reference in {} conjugate-gradient iterations ({} Picard)",
                    report.iterations, report.picard);
    }
    // Every K (M) steps, counted from the first; not in diagnostic updates.
    const auto due = [&](int every) {
      return !in.diagnostic && every > 0 && m_updates % every == 0;
    };
    if (due(m_params.emulator_retrain_every)) retrain(tp);
    {
      const torch::NoGradGuard no_grad;
      torch::Tensor u =
          reference_only()
              ? emulator::membrane_velocity_3d(tp, emulator::membrane_options(m_model->metadata()))
              : m_model->velocity(tp);
      if (m_params.emulator_refine_steps > 0)
        u = emulator::refine_velocity(tp, u, emulator::membrane_options(m_model->metadata()),
                                      m_params.emulator_refine_steps, 1.0, nullptr,
                                      emulator::refine_method(m_params.emulator_refine_method));
      m_velocity = emulator::to_vector(u);
    }
    if (due(m_params.emulator_solver_check_every)) solver_check(patch, tp);
  }

  /// Rank 0: emulator.retrain_steps Adam steps on the current geometry
  /// (physics loss) and on the last solver check's problem and solution
  /// (hybrid: data plus the balanced physics term), as one batch.
  void retrain(const emulator::TorchBPPatch& tp) {
    if (!m_adam)
      m_adam = std::make_unique<torch::optim::Adam>(
          m_model->net()->parameters(),
          torch::optim::AdamOptions(m_params.emulator_retrain_learning_rate));
    emulator::TrainingSample current;
    current.patch = tp;
    std::vector<const emulator::TrainingSample*> batch = {&current};
    if (m_checked) batch.push_back(&*m_checked);
    emulator::StepMode mode;
    mode.loss = "hybrid";
    for (int step = 0; step < m_params.emulator_retrain_steps; ++step) {
      mode.balance = step == 0;
      m_adam->zero_grad();
      emulator::accumulate_gradients(*m_model, batch, mode, m_balance);
      m_adam->step();
    }
  }

  /// Rank 0: a Blatter-Pattyn solve of the whole grid on this rank, started
  /// from the emulator's velocity; m_check is the relative L2 difference of
  /// the surface velocity over the ice (NaN, with a warning, if the solve
  /// fails: a check never stops a run). With retraining, the solution is
  /// kept as the data term's sample.
  void solver_check(const core::BPPatch& patch, const emulator::TorchBPPatch& tp) {
    std::vector<double> u;
    try {
      SampleSolver solver(patch, m_params.bp_ocean_pressure, "emulator_check_",
                          /*small_grid=*/false);
      solver.set_velocity(m_velocity);
      u = solver.solve(patch.thickness);
    } catch (const Error& e) {
      spdlog::warn("emulator solver check at update {}: {}", m_updates + 1, e.what());
      return;
    }
    m_check = surface_difference(patch, m_velocity, u);
    if (m_params.emulator_retrain_every > 0) {
      emulator::TrainingSample sample;
      sample.patch = tp;
      sample.solution = emulator::velocity_tensor(tp, u);
      m_checked = std::move(sample);
    }
  }

  /// True for a cell of the grid (ghost cells may lie outside it).
  bool inside(int i, int j) const {
    return i >= 0 && j >= 0 && i < m_grid->grid().nx() && j < m_grid->grid().ny();
  }

  /// The rank's ghosted box of the global velocity (0 outside the grid).
  std::vector<double> box_values() const {
    const core::LocalBox& box = m_grid->box();
    const int nx = m_grid->grid().nx(), nz = int(m_model->metadata().sigma.size());
    std::vector<double> out(size_t(box.gxm) * size_t(box.gym) * size_t(nz) * 2);
    for (int j = 0; j < box.gym; ++j)
      for (int i = 0; i < box.gxm; ++i)
        for (int k = 0; k < nz * 2 && inside(i + box.gxs, j + box.gys); ++k)
          out[(size_t(j) * size_t(box.gxm) + size_t(i)) * size_t(nz) * 2 + size_t(k)] =
              m_velocity[(size_t(j + box.gys) * size_t(nx) + size_t(i + box.gxs)) * size_t(nz) * 2 +
                         size_t(k)];
    return out;
  }

  solver::ColumnVelocityBox column_box() const {
    const core::LocalBox& box = m_grid->box();
    solver::ColumnVelocityBox b;
    b.nx = box.gxm;
    b.ny = box.gym;
    b.nz = int(m_model->metadata().sigma.size());
    b.xs = box.xs - box.gxs;
    b.ys = box.ys - box.gys;
    b.xm = box.xm;
    b.ym = box.ym;
    b.values = m_box_values.data();
    b.moving = m_box_icy.data();
    return b;
  }

  std::shared_ptr<const core::ParallelGrid> m_grid;
  StressBalanceParams m_params;
  std::optional<emulator::Emulator> m_model;
  torch::Device m_device{torch::kCPU};
  solver::FaceFluxes m_fluxes;
  std::vector<double> m_velocity, m_box_values; ///< global / the rank's box, [y][x][z][c] m/a
  std::vector<std::uint8_t> m_box_icy;          ///< the rank's box, [y][x]: icy columns
  solver::ColumnFluxLimits m_limits;            ///< of the last update's fluxes
  double m_seconds = 0.0;
  long long m_updates = 0;                           ///< updates done (diagnostic ones not counted)
  double m_check = std::nan("");                     ///< the last update's solver check (NaN: none)
  std::unique_ptr<torch::optim::Adam> m_adam;        ///< retraining's, kept across retrainings
  emulator::LossBalance m_balance;                   ///< retraining's hybrid weight
  std::optional<emulator::TrainingSample> m_checked; ///< the last check's problem and solution
  torch::Tensor m_membrane; ///< the last update's membrane reference (the next one's first guess)
  torch::Tensor m_membrane_viscosity; ///< and its glen viscosity (the next one's first)
};

} // namespace

solver::StressBalanceFactory emulator_stress_balance_factory() {
  return [](std::shared_ptr<const core::ParallelGrid> grid,
            const StressBalanceParams& params) -> std::unique_ptr<solver::StressBalance> {
    return std::make_unique<EmulatorStressBalance>(std::move(grid), params);
  };
}

} // namespace nunatak::model
