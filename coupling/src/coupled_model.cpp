// nunatak driven by a host program: the configured transient model stepped
// by the host, and its exchange items by CSDMS Standard Name
// (coupled_model.hpp).

#include "nunatak/coupling/coupled_model.hpp"

#include "nunatak/core/collective.hpp"
#include "nunatak/core/constants.hpp"
#include "nunatak/core/error.hpp"
#include "nunatak/io/config.hpp"
#include "nunatak/model/ml_components.hpp"

#include <Kokkos_Core.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <optional>
#include <set>

namespace nunatak::coupling {

namespace {

constexpr double year = core::seconds_per_year;

/// The surface mass balance a host set, or else the configured forcing.
class HostForcing final : public model::SurfaceForcing {
public:
  explicit HostForcing(std::unique_ptr<model::SurfaceForcing> configured)
      : m_configured(std::move(configured)) {}
  void update(double t, const model::ModelState& state, core::Field2D& smb) override {
    if (m_host)
      Kokkos::deep_copy(smb.view(), m_host->view());
    else
      m_configured->update(t, state, smb);
  }
  /// The forcing it falls back on.
  void set_configured(std::unique_ptr<model::SurfaceForcing> configured) {
    m_configured = std::move(configured);
  }
  /// The host's field (made from `current` on first use).
  core::Field2D& host_field(const core::Field2D& current) {
    if (!m_host) {
      m_host.emplace(current.grid_ptr(), current.info());
      Kokkos::deep_copy(m_host->view(), current.view());
    }
    return *m_host;
  }

private:
  std::unique_ptr<model::SurfaceForcing> m_configured;
  std::optional<core::Field2D> m_host;
};

/// The output files of the models that exist in this process.
std::set<std::string>& outputs_in_use() {
  static std::set<std::string> files;
  return files;
}

/// Each instance its own PETSc options prefix: nk1_, nk2_, ...
std::string next_prefix() {
  static std::atomic<int> count{0};
  return "nk" + std::to_string(++count) + "_";
}

} // namespace

const std::vector<ExchangeItem>& exchange_items() {
  static const std::vector<ExchangeItem> items = {
      {"land_ice__thickness", "m", true, true, "thk"},
      {"bedrock_surface__elevation", "m", true, true, "topg"},
      {"land_ice_surface__elevation", "m", false, true, "usurf"},
      {"land_ice_surface__mass_balance_rate", "kg m-2 year-1", true, true, "climatic_mass_balance"},
      {"land_ice_surface__x_component_of_velocity", "m year-1", false, true, "uvelsurf"},
      {"land_ice_surface__y_component_of_velocity", "m year-1", false, true, "vvelsurf"},
  };
  return items;
}

const ExchangeItem& CoupledModel::item(const std::string& name) {
  for (const auto& i : exchange_items())
    if (name == i.name) return i;
  std::string known;
  for (const auto& i : exchange_items()) known += (known.empty() ? "" : ", ") + std::string(i.name);
  throw Error("unknown variable '" + name + "' (nunatak exchanges: " + known + ")");
}

struct CoupledModel::Impl {
  io::Config config;
  MPI_Comm comm = MPI_COMM_NULL;
  std::unique_ptr<model::Simulation> simulation;
  HostForcing* forcing = nullptr; ///< owned by the model
  double last_dt = 0;             ///< s
  std::string output;             ///< output.file, absolute
  bool finished = false;
  long long version = 0; ///< of the state, for the velocity cache
  long long velocity_version = -1;
  std::optional<solver::Velocities> velocities;

  model::TransientModel& model() { return simulation->model(); }
  /// The field behind an item, as stored (SI units), and its scale to the
  /// item's units.
  const core::Field2D& field(const std::string& name, double& scale) {
    scale = 1.0;
    model::ModelState& s = model().state();
    if (name == "land_ice__thickness") return s.thk;
    if (name == "bedrock_surface__elevation") return s.topg;
    if (name == "land_ice_surface__elevation") return s.usurf;
    if (name == "land_ice_surface__mass_balance_rate") {
      scale = year;
      return s.smb;
    }
    if (velocity_version != version) {
      velocities = model().velocities({});
      velocity_version = version;
    }
    scale = year;
    if (name == "land_ice_surface__x_component_of_velocity") return velocities->uvelsurf;
    return velocities->vvelsurf;
  }
};

CoupledModel::CoupledModel(const std::string& config_file, MPI_Comm comm)
    : m_impl(std::make_unique<Impl>()) {
  Impl& s = *m_impl;
  s.comm = comm;
  s.config = io::Config::from_file(config_file);
  s.output = std::filesystem::absolute(s.config.get_string("output.file")).lexically_normal();
  if (outputs_in_use().count(s.output))
    throw Error("output.file '" + s.config.get_string("output.file") + "' (" + config_file +
                ") is the output of another nunatak model in this process: give each its own");
  m_prefix = next_prefix();
#ifdef NUNATAK_HAVE_EMULATOR
  // The library links nunatak's LibTorch parts (stress_balance.model: emulator).
  model::link_ml_components();
#endif
  s.simulation = std::make_unique<model::Simulation>(
      s.config, comm, "nunatak coupled to a host program (" + config_file + ")", m_prefix);
  // What a command would log as warnings (inputs, floating ice), once.
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0) {
    for (const auto& w : s.simulation->warnings()) spdlog::warn("{}", w);
    for (const auto& w : s.simulation->state_warnings()) spdlog::warn("{}", w);
  }
  auto forcing = std::make_unique<HostForcing>(nullptr);
  s.forcing = forcing.get();
  // The configured forcing goes inside the host's, which uses it until set.
  auto configured = s.model().replace_forcing(std::move(forcing));
  s.forcing->set_configured(std::move(configured));

  s.simulation->begin_stepping();
  outputs_in_use().insert(s.output);

  const core::ParallelGrid& grid = s.model().state().thk.grid();
  const core::Grid& g = grid.grid();
  const core::LocalBox b = grid.box();
  m_grid.global_nx = g.nx();
  m_grid.global_ny = g.ny();
  m_grid.x_start = b.xs;
  m_grid.y_start = b.ys;
  m_grid.nx = b.xm;
  m_grid.ny = b.ym;
  m_grid.dx = g.dx();
  m_grid.dy = g.dy();
  m_grid.x0 = g.x(b.xs);
  m_grid.y0 = g.y(b.ys);
}

CoupledModel::~CoupledModel() {
  if (m_impl && !m_impl->output.empty()) outputs_in_use().erase(m_impl->output);
}

void CoupledModel::finish() {
  Impl& s = *m_impl;
  if (s.finished) return;
  s.finished = true;
  s.simulation->end_stepping();
}

double CoupledModel::current_time() const {
  return m_impl->model().state().time / year;
}
double CoupledModel::start_time() const {
  return m_impl->config.get_real("time.start");
}
double CoupledModel::end_time() const {
  return m_impl->simulation->end_time() / year;
}
double CoupledModel::time_step() const {
  return m_impl->last_dt > 0 ? m_impl->last_dt / year : m_impl->config.get_real("time.max_step");
}

void CoupledModel::update() {
  Impl& s = *m_impl;
  const double end = s.simulation->end_time();
  if (s.finished) throw Error("update: the model is finished");
  if (!(s.model().state().time < end))
    throw Error(fmt::format("update: the model is at time.end ({} years)", end_time()));
  s.last_dt = s.simulation->step_to(end).dt;
  ++s.version;
}

void CoupledModel::update_until(double time) {
  Impl& s = *m_impl;
  const double now = s.model().state().time;
  const double target = s.simulation->output_time_near(time * year);
  if (target > s.simulation->end_time() * (1 + 1e-12))
    throw Error(fmt::format("update_until({}): after time.end ({} years)", time, end_time()));
  if (target < now)
    throw Error(
        fmt::format("update_until({}): before the model time ({} years)", time, current_time()));
  if (s.finished) throw Error("update_until: the model is finished");
  while (s.model().state().time < target) {
    s.last_dt = s.simulation->step_to(target).dt;
    ++s.version;
  }
}

void CoupledModel::get_value_at_indices(const std::string& name, double* dest, const int* indices,
                                        int count) {
  const ExchangeItem& it = item(name);
  if (!it.output) throw Error("get_value: '" + name + "' is not an output of nunatak");
  double scale = 1;
  const core::Field2D& f = m_impl->field(name, scale);
  const auto v = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), f.view());
  const core::LocalBox b = f.grid().box();
  const long long cells = (long long)b.xm * b.ym;
  for (int k = 0; k < count; ++k) {
    const int n = indices[k];
    if (n < 0 || n >= cells)
      throw Error(fmt::format("get_value_at_indices '{}': index {} is outside this rank's {} cells",
                              name, n, cells));
    const int i = b.xs + n % b.xm, j = b.ys + n / b.xm;
    dest[k] = v(b.lj(j), b.li(i)) * scale;
  }
}

void CoupledModel::get_value(const std::string& name, double* dest) {
  const int cells = m_grid.nx * m_grid.ny;
  std::vector<int> all(static_cast<size_t>(cells));
  for (int k = 0; k < cells; ++k) all[size_t(k)] = k;
  get_value_at_indices(name, dest, all.data(), cells);
}

void CoupledModel::set_value_at_indices(const std::string& name, const int* indices, int count,
                                        const double* src) {
  Impl& s = *m_impl;
  const ExchangeItem& it = item(name);
  if (!it.input) throw Error("set_value: '" + name + "' is not an input of nunatak");
  model::ModelState& state = s.model().state();
  const bool smb = name == "land_ice_surface__mass_balance_rate";
  core::Field2D& f = smb                             ? s.forcing->host_field(state.smb)
                     : name == "land_ice__thickness" ? state.thk
                                                     : state.topg;
  const double scale = smb ? 1.0 / year : 1.0;
  const core::LocalBox b = f.grid().box();
  const long long cells = (long long)b.xm * b.ym;
  // Checked on every rank first: a bad value anywhere changes nothing anywhere.
  core::collective(s.comm, [&] {
    for (int k = 0; k < count; ++k) {
      const int n = indices[k];
      if (n < 0 || n >= cells)
        throw Error(fmt::format("set_value '{}': index {} is outside this rank's {} cells", name, n,
                                cells));
      const int i = b.xs + n % b.xm, j = b.ys + n / b.xm;
      if (!std::isfinite(src[k]))
        throw Error(fmt::format("set_value '{}': the value at cell (i = {}, j = {}) is not finite",
                                name, i, j));
      if (name == "land_ice__thickness" && src[k] < 0)
        throw Error(fmt::format("set_value '{}': the thickness at cell (i = {}, j = {}) is "
                                "negative ({} m)",
                                name, i, j, src[k]));
    }
  });
  auto v = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), f.view());
  for (int k = 0; k < count; ++k) {
    const int n = indices[k];
    const int i = b.xs + n % b.xm, j = b.ys + n / b.xm;
    v(b.lj(j), b.li(i)) = src[k] * scale;
  }
  Kokkos::deep_copy(f.view(), v);
  if (!smb) s.model().refresh_geometry();
  // The next step applies a host SMB; the state shows it at once too.
  if (smb) Kokkos::deep_copy(state.smb.view(), f.view());
  ++s.version;
}

void CoupledModel::set_value(const std::string& name, const double* src) {
  const int cells = m_grid.nx * m_grid.ny;
  std::vector<int> all(static_cast<size_t>(cells));
  for (int k = 0; k < cells; ++k) all[size_t(k)] = k;
  set_value_at_indices(name, all.data(), cells, src);
}

} // namespace nunatak::coupling
