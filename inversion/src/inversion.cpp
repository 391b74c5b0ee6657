// Gradient-based inversion (inversion.hpp): the controls, the cost terms and
// the optimiser loop, in LibTorch. Equations and units in the header.

#include "nunatak/inversion/inversion.hpp"

#include "nunatak/core/error.hpp"
#include "nunatak/emulator/membrane_reference.hpp"
#include "nunatak/emulator/network.hpp"
#include "nunatak/emulator/refinement.hpp"

#include <torch/autograd.h>
#include <torch/nn/functional/pooling.h>
#include <torch/optim/adam.h>
#include <torch/optim/lbfgs.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>

namespace nunatak::inversion {

namespace {

bool has(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

/// A [ny, nx] tensor of `values` (NaN kept), or zeros if `values` is empty.
torch::Tensor plane(const std::vector<double>& values, int ny, int nx,
                    const torch::TensorOptions& options) {
  if (values.empty()) return torch::zeros({ny, nx}, options);
  return torch::tensor(values, torch::kFloat64).view({ny, nx}).to(options);
}

/// Centred differences along `dim` of f ([ny, nx]) between cells where
/// `mask` is 1 only: the mean of the one-sided differences to the masked
/// neighbours on either side (0 where neither is masked), divided by h.
torch::Tensor masked_gradient(const torch::Tensor& f, const torch::Tensor& mask, int64_t dim,
                              double h) {
  const int64_t n = f.size(dim);
  torch::Tensor out = torch::zeros_like(f);
  if (n < 2) return out;
  const auto d = (f.narrow(dim, 1, n - 1) - f.narrow(dim, 0, n - 1)) / h;
  const auto m = mask.narrow(dim, 1, n - 1) * mask.narrow(dim, 0, n - 1);
  const auto dm = d * m;
  // Face k lies between cells k and k + 1: add it to both.
  const auto zeros = torch::zeros_like(f.narrow(dim, 0, 1));
  const auto sum = torch::cat({zeros, dm}, dim) + torch::cat({dm, zeros}, dim);
  const auto count = torch::cat({zeros, m}, dim) + torch::cat({m, zeros}, dim);
  return sum / torch::clamp_min(count, 1.0);
}

/// Centred differences along `dim` (one-sided at the ends), divided by h.
torch::Tensor centred(const torch::Tensor& f, int64_t dim, double h) {
  return masked_gradient(f, torch::ones_like(f), dim, h);
}

double item(const torch::Tensor& t) {
  return t.defined() ? t.item<double>() : 0.0;
}

} // namespace

void InversionOptions::check() const {
  const auto fail = [](const std::string& key, const std::string& why) {
    throw Error("inversion." + key + ": " + why);
  };
  if (!has(controls, "thickness"))
    fail("controls", "must include thickness (it is always a control)");
  for (const auto& c : controls)
    if (c != "thickness" && c != "friction" && c != "surface")
      fail("controls", "unknown control '" + c + "' (thickness, friction, surface)");
  if (optimizer != "adam" && optimizer != "lbfgs")
    fail("optimizer", "'" + optimizer + "' is not adam or lbfgs");
  if (precision != "single" && precision != "double")
    fail("precision", "'" + precision + "' is not single or double");
  if (iterations < 0) fail("iterations", "must be >= 0");
  const std::pair<const char*, double> positive[] = {
      {"learning_rate", learning_rate},
      {"thickness_scale", thickness_scale},
      {"velocity_sigma", velocity_sigma},
      {"radar_sigma", radar_sigma},
      {"surface_sigma", surface_sigma},
      {"mass_sigma", mass_sigma},
      {"thickness_prior_sigma", thickness_prior_sigma},
      {"friction_prior_sigma", friction_prior_sigma}};
  for (const auto& [key, value] : positive)
    if (!(value > 0) || !std::isfinite(value)) fail(key, "must be a positive number");
  const std::pair<const char*, double> non_negative[] = {
      {"tolerance", tolerance},
      {"velocity_huber", velocity_huber},
      {"velocity_relative_sigma", velocity_relative_sigma},
      {"velocity_margin_distance", velocity_margin_distance},
      {"radar_density_radius", radar_density_radius},
      {"mass_weight", mass_weight},
      {"thickness_smoothing", thickness_smoothing},
      {"thickness_length", thickness_length},
      {"across_flow_factor", across_flow_factor},
      {"thickness_prior", thickness_prior},
      {"friction_smoothing", friction_smoothing},
      {"friction_length", friction_length},
      {"friction_prior", friction_prior}};
  for (const auto& [key, value] : non_negative)
    if (!(value >= 0) || !std::isfinite(value)) fail(key, "must be a number >= 0");
  if (!(thickness_min > 0) || !(thickness_max > thickness_min))
    fail("thickness_min", "needs 0 < thickness_min < thickness_max");
  if (!(friction_max > friction_min)) fail("friction_min", "needs friction_min < friction_max");
}

std::vector<std::pair<std::string, double>> CostTerms::named() const {
  return {{"velocity", velocity},
          {"radar", radar},
          {"surface", surface},
          {"mass", mass},
          {"thickness_smoothness", thickness_smoothness},
          {"thickness_prior", thickness_prior},
          {"friction_smoothness", friction_smoothness},
          {"friction_prior", friction_prior},
          {"total", total}};
}

EmulatorForward::EmulatorForward(emulator::Emulator& model, bool reference_only, int refine_steps,
                                 const std::string& refine_method, double adjoint_tolerance)
    : m_model(model), m_reference_only(reference_only) {
  if (refine_steps > 0)
    m_refine = std::make_unique<emulator::DifferentiableRefinement>(
        emulator::membrane_options(model.metadata()), refine_steps,
        emulator::refine_method(refine_method), adjoint_tolerance);
}

EmulatorForward::~EmulatorForward() = default;

std::string EmulatorForward::name() const {
  const std::string base = m_reference_only ? "emulator's membrane reference" : "emulator";
  return m_refine ? base + ", refined" : base;
}

std::string EmulatorForward::refinement_summary() const {
  if (!m_refine || m_refine->last_adjoint().solves == 0) return "";
  const emulator::DifferentiableRefinement::AdjointReport& r = m_refine->last_adjoint();
  char line[200];
  std::snprintf(line, sizeof line,
                "refinement: %lld adjoints, %.1f Hessian products each (the last to %.1e); %lld "
                "of the refinements started from the last one's velocity",
                r.solves, double(r.total_iterations) / double(r.solves), r.reduction,
                m_refine->warm_starts());
  return line;
}

torch::Tensor EmulatorForward::velocity(const emulator::TorchBPPatch& patch) {
  emulator::TorchBPPatch p = patch;
  m_model.to(p.options());
  // Refined, the network's own derivatives do not enter: no graph for them.
  std::optional<torch::NoGradGuard> no_grad;
  if (m_refine) no_grad.emplace();
  if (emulator::uses_membrane(m_model.metadata())) {
    // Warm start from the last call: the geometry changes little between
    // evaluations, so the Picard iterations and conjugate gradients are few.
    emulator::MembraneOptions options = emulator::membrane_options(m_model.metadata());
    options.initial_guess = m_membrane;
    options.initial_viscosity = m_viscosity;
    emulator::cache_membrane(p, options);
    if (!torch::isfinite(p.membrane).all().item<bool>() && m_membrane.defined()) {
      options.initial_guess = options.initial_viscosity = torch::Tensor(); // a cold start
      emulator::cache_membrane(p, options);
    }
    // Only a finite solution starts the next call.
    if (torch::isfinite(p.membrane).all().item<bool>()) {
      m_membrane = p.membrane.detach();
      if (p.membrane_viscosity.defined()) m_viscosity = p.membrane_viscosity.detach();
    }
  }
  const torch::Tensor u =
      m_reference_only
          ? emulator::membrane_velocity_3d(p, emulator::membrane_options(m_model.metadata()))
          : m_model.velocity(p);
  if (!m_refine) return u;
  no_grad.reset();
  return (*m_refine)(p, u);
}

struct Inversion::State {
  core::BPPatch first;
  InversionObservations observations;
  emulator::TorchBPPatch base;
  torch::TensorOptions options;
  int nx = 0, ny = 0, nz = 0;
  bool friction = false, surface = false;

  torch::Tensor ice;     ///< [ny, nx] 1 on the outline (thickness >= H_min)
  torch::Tensor slides;  ///< [ny, nx] 1 where the bed obeys the friction law
  torch::Tensor theta_h; ///< H / h_scale, leaf
  torch::Tensor theta_b; ///< log10 beta^2, leaf (friction)
  torch::Tensor theta_s; ///< (s - s_obs) / sigma_s, leaf (surface)
  torch::Tensor h_first, b_first, beta2_fixed, s_obs;

  torch::Tensor u_obs, v_obs, velocity_mask; ///< both components observed (ice, free)
  torch::Tensor velocity_sigma2;             ///< sigma_i^2, (m/a)^2
  torch::Tensor speed_obs, speed_mask;       ///< only the speed observed
  torch::Tensor radar, radar_w, radar_holdout;
  torch::Tensor direction;     ///< [2, ny, nx] unit flow direction
  torch::Tensor mass_source;   ///< smb - dh/dt, m/a
  torch::Tensor level_weights; ///< [nz] trapezoid weights of the depth average
};

Inversion::Inversion(const core::BPPatch& first_guess, InversionObservations observations,
                     InversionOptions options)
    : m_state(std::make_unique<State>()), m_options(std::move(options)) {
  m_options.check();
  State& s = *m_state;
  s.first = first_guess;
  s.first.check("inversion first guess");
  const int nx = s.first.nx, ny = s.first.ny, nz = s.first.nz;
  s.nx = nx;
  s.ny = ny;
  s.nz = nz;
  const size_t columns = size_t(nx) * size_t(ny);
  const double H_min = s.first.constants.minimum_thickness;
  if (m_options.thickness_min < H_min)
    throw Error("inversion.thickness_min (" + std::to_string(m_options.thickness_min) +
                " m) is below bp.minimum_thickness (" + std::to_string(H_min) +
                " m): the ice masks would move");
  const auto check_size = [&](const std::vector<double>& v, const char* name, bool required) {
    if ((required || !v.empty()) && v.size() != columns)
      throw Error(std::string("inversion: the observations' ") + name + " has " +
                  std::to_string(v.size()) + " values, the grid " + std::to_string(columns));
  };
  check_size(observations.surface, "surface", true);
  check_size(observations.u, "u", false);
  check_size(observations.v, "v", false);
  check_size(observations.speed, "speed", false);
  check_size(observations.radar, "radar thickness", false);
  check_size(observations.smb, "surface mass balance", false);
  check_size(observations.dhdt, "dh/dt", false);
  if (observations.u.empty() != observations.v.empty())
    throw Error("inversion: the observed velocity needs both components");
  if (!observations.radar_used.empty() && observations.radar_used.size() != columns)
    throw Error("inversion: radar_used does not match the grid");
  for (size_t c = 0; c < columns; ++c)
    if (!std::isfinite(observations.surface[c]))
      throw Error("inversion: the surface is not a number at column " + std::to_string(c));
  s.friction = has(m_options.controls, "friction");
  s.surface = has(m_options.controls, "surface");

  // The first guess on the outline, clamped into the bounds; bed = s - H.
  for (size_t c = 0; c < columns; ++c) {
    double& H = s.first.thickness[c];
    if (H >= H_min) H = std::clamp(H, m_options.thickness_min, m_options.thickness_max);
    s.first.bed[c] = observations.surface[c] - H;
  }
  s.observations = std::move(observations);
  const InversionObservations& o = s.observations;
  const torch::Dtype dtype = m_options.precision == "single" ? torch::kFloat32 : torch::kFloat64;
  s.base = emulator::make_torch_bp_patch(s.first, dtype);
  s.options = s.base.options();
  const auto opt = s.options;
  std::vector<double> ice(columns), slides(columns);
  for (size_t c = 0; c < columns; ++c) {
    ice[c] = s.first.thickness[c] >= H_min ? 1.0 : 0.0;
    slides[c] = ice[c] > 0 && !s.first.bed_fixed[c] ? 1.0 : 0.0;
  }
  s.ice = plane(ice, ny, nx, opt);
  s.slides = plane(slides, ny, nx, opt);
  s.h_first = s.base.thickness.clone();
  s.s_obs = plane(o.surface, ny, nx, opt);
  s.theta_h = (s.h_first / m_options.thickness_scale).detach().clone().requires_grad_(true);
  s.beta2_fixed = s.base.beta2.clone();
  if (s.friction) {
    const torch::Tensor b = torch::log10(torch::clamp_min(s.base.beta2, 1e-30));
    s.b_first = torch::clamp(b, m_options.friction_min, m_options.friction_max) * s.slides +
                (1 - s.slides) * m_options.friction_min;
    s.theta_b = s.b_first.detach().clone().requires_grad_(true);
  }
  if (s.surface) s.theta_s = torch::zeros({ny, nx}, opt).requires_grad_(true);

  // Observations: masks of the usable cells, values 0 elsewhere (no NaN enters a sum).
  const torch::Tensor free = s.base.free_nodes.select(2, nz - 1) * s.ice;
  const auto valid = [&](const std::vector<double>& v) {
    std::vector<double> m(columns, 0.0);
    for (size_t c = 0; c < columns && !v.empty(); ++c) m[c] = std::isfinite(v[c]) ? 1.0 : 0.0;
    return plane(m, ny, nx, opt);
  };
  const auto zeroed = [&](const std::vector<double>& v) {
    std::vector<double> z(columns, 0.0);
    for (size_t c = 0; c < columns && !v.empty(); ++c) z[c] = std::isfinite(v[c]) ? v[c] : 0.0;
    return plane(z, ny, nx, opt);
  };
  s.u_obs = zeroed(o.u);
  s.v_obs = zeroed(o.v);
  s.velocity_mask = valid(o.u) * valid(o.v) * free;
  s.speed_obs = zeroed(o.speed);
  s.speed_mask = valid(o.speed) * free * (1 - s.velocity_mask);
  if (const double d = m_options.velocity_margin_distance; d > 0) {
    // Leave out the cells within d of an ice-free cell centre (outside the
    // patch counts as ice-free).
    std::vector<double> far(columns, 0.0);
    const int ri = int(std::floor(d / s.first.dx)), rj = int(std::floor(d / s.first.dy));
    for (int j = 0; j < ny; ++j)
      for (int i = 0; i < nx; ++i) {
        bool near = false;
        for (int jj = j - rj; jj <= j + rj && !near; ++jj)
          for (int ii = i - ri; ii <= i + ri && !near; ++ii) {
            const double ex = (ii - i) * s.first.dx, ey = (jj - j) * s.first.dy;
            if (ex * ex + ey * ey > d * d) continue;
            near = jj < 0 || jj >= ny || ii < 0 || ii >= nx || ice[s.first.column(jj, ii)] == 0;
          }
        far[s.first.column(j, i)] = near ? 0.0 : 1.0;
      }
    const torch::Tensor keep = plane(far, ny, nx, opt);
    s.velocity_mask = s.velocity_mask * keep;
    s.speed_mask = s.speed_mask * keep;
  }
  {
    const torch::Tensor speed = torch::where(
        s.velocity_mask > 0, torch::sqrt(s.u_obs.pow(2) + s.v_obs.pow(2)), s.speed_obs.abs());
    s.velocity_sigma2 = m_options.velocity_sigma * m_options.velocity_sigma +
                        (m_options.velocity_relative_sigma * speed).pow(2);
  }
  s.radar = zeroed(o.radar);
  {
    std::vector<double> used(columns, 0.0), held(columns, 0.0);
    for (size_t c = 0; c < columns; ++c) {
      const bool radar = !o.radar.empty() && std::isfinite(o.radar[c]) && ice[c] > 0;
      const bool use = o.radar_used.empty() || o.radar_used[c];
      used[c] = radar && use ? 1.0 : 0.0;
      held[c] = radar && !use ? 1.0 : 0.0;
    }
    // Density weights: 1 / (used radar cells within the radius).
    std::vector<double> w(columns, 0.0);
    const double R = m_options.radar_density_radius;
    const int ri = int(std::floor(R / s.first.dx)), rj = int(std::floor(R / s.first.dy));
    for (int j = 0; j < ny; ++j)
      for (int i = 0; i < nx; ++i) {
        const size_t c = s.first.column(j, i);
        if (used[c] == 0) continue;
        int count = 0;
        for (int jj = std::max(0, j - rj); jj <= std::min(ny - 1, j + rj); ++jj)
          for (int ii = std::max(0, i - ri); ii <= std::min(nx - 1, i + ri); ++ii) {
            const double dx = (ii - i) * s.first.dx, dy = (jj - j) * s.first.dy;
            count += used[s.first.column(jj, ii)] > 0 && dx * dx + dy * dy <= R * R;
          }
        w[c] = 1.0 / std::max(count, 1);
      }
    s.radar_w = plane(w, ny, nx, opt);
    s.radar_holdout = plane(held, ny, nx, opt);
  }
  // Flow direction: the observed velocity averaged over 5 x 5 cells, else downhill.
  {
    namespace F = torch::nn::functional;
    const auto pool = F::AvgPool2dFuncOptions(5).stride(1).padding(2).count_include_pad(false);
    const auto smooth = [&](const torch::Tensor& f) {
      return F::avg_pool2d(f.unsqueeze(0).unsqueeze(0), pool).squeeze(0).squeeze(0);
    };
    torch::Tensor dx = smooth(s.u_obs * s.velocity_mask), dy = smooth(s.v_obs * s.velocity_mask);
    const torch::Tensor observed = smooth(s.velocity_mask) > 0;
    const torch::Tensor sx = -centred(s.s_obs, 1, s.first.dx),
                        sy = -centred(s.s_obs, 0, s.first.dy);
    dx = torch::where(observed, dx, sx);
    dy = torch::where(observed, dy, sy);
    const torch::Tensor norm = torch::sqrt(dx * dx + dy * dy);
    const torch::Tensor has_direction = norm > 0;
    s.direction = torch::stack(
        {torch::where(has_direction, dx / torch::clamp_min(norm, 1e-30), torch::ones_like(dx)),
         torch::where(has_direction, dy / torch::clamp_min(norm, 1e-30), torch::zeros_like(dy))});
  }
  s.mass_source = zeroed(o.smb) - zeroed(o.dhdt);
  {
    std::vector<double> w(size_t(nz), 0.0);
    for (int k = 0; k + 1 < nz; ++k) {
      const double h = s.first.sigma[size_t(k) + 1] - s.first.sigma[size_t(k)];
      w[size_t(k)] += h / 2;
      w[size_t(k) + 1] += h / 2;
    }
    s.level_weights = torch::tensor(w, torch::kFloat64).to(opt);
  }
}

Inversion::~Inversion() = default;

std::vector<torch::Tensor> Inversion::controls() const {
  std::vector<torch::Tensor> c = {m_state->theta_h};
  if (m_state->friction) c.push_back(m_state->theta_b);
  if (m_state->surface) c.push_back(m_state->theta_s);
  return c;
}

emulator::TorchBPPatch Inversion::patch() const {
  const State& s = *m_state;
  emulator::TorchBPPatch p = s.base;
  // The bounds also inside the map, so that a line search's trial points
  // (before the projection) are valid geometries.
  const double scale = m_options.thickness_scale;
  const torch::Tensor H =
      s.ice *
      torch::clamp(s.theta_h, m_options.thickness_min / scale, m_options.thickness_max / scale) *
      scale;
  const torch::Tensor surface =
      s.surface ? s.s_obs + s.ice * s.theta_s * m_options.surface_sigma : s.s_obs;
  p.thickness = H;
  p.bed = surface - H;
  p.beta2 = s.friction ? s.slides * torch::pow(10.0, torch::clamp(s.theta_b, m_options.friction_min,
                                                                  m_options.friction_max))
                       : s.beta2_fixed;
  p.membrane = torch::Tensor();
  p.membrane_viscosity = torch::Tensor();
  return p;
}

torch::Tensor Inversion::cost(const torch::Tensor& velocity, CostTerms* terms) const {
  const State& s = *m_state;
  const InversionOptions& o = m_options;
  const emulator::TorchBPPatch p = patch();
  const torch::Tensor H = p.thickness;
  const double dx = s.first.dx, dy = s.first.dy;
  const auto mean_over = [](const torch::Tensor& f, const torch::Tensor& mask) {
    return (f * mask).sum() / torch::clamp_min(mask.sum(), 1.0);
  };
  const torch::Tensor zero = torch::zeros({}, s.options);

  // Velocity misfit, quadratic or Huber in r = |u_s - u_obs| / sigma.
  const torch::Tensor us = velocity.select(2, s.nz - 1); // [ny, nx, 2]
  const torch::Tensor du = us.select(2, 0) - s.u_obs, dv = us.select(2, 1) - s.v_obs;
  const torch::Tensor model_speed =
      torch::sqrt(us.select(2, 0).pow(2) + us.select(2, 1).pow(2) + 1e-12);
  const torch::Tensor r2 =
      torch::where(s.velocity_mask > 0, du * du + dv * dv, (model_speed - s.speed_obs).pow(2)) /
      s.velocity_sigma2;
  const torch::Tensor observed = s.velocity_mask + s.speed_mask;
  torch::Tensor rho = r2;
  if (o.velocity_huber > 0) {
    const double delta = o.velocity_huber;
    const torch::Tensor r = torch::sqrt(r2 + 1e-12);
    rho = torch::where(r <= delta, r2, 2 * delta * r - delta * delta);
  }
  const torch::Tensor J_velocity = 0.5 * mean_over(rho, observed);

  // Radar thickness, density-weighted.
  const torch::Tensor radar_r2 = ((H - s.radar) / o.radar_sigma).pow(2);
  const torch::Tensor J_radar =
      0.5 * (s.radar_w * radar_r2).sum() / torch::clamp_min(s.radar_w.sum(), 1e-30);

  const torch::Tensor J_surface = s.surface ? 0.5 * mean_over(s.theta_s.pow(2), s.ice) : zero;

  // Mass conservation: div(H ubar) against smb - dh/dt.
  torch::Tensor J_mass = zero;
  if (o.mass_weight > 0) {
    const torch::Tensor ubar = (velocity * s.level_weights.view({1, 1, -1, 1})).sum(2);
    const torch::Tensor qx = H * ubar.select(2, 0), qy = H * ubar.select(2, 1);
    const torch::Tensor divergence = centred(qx, 1, dx) + centred(qy, 0, dy);
    J_mass = 0.5 * o.mass_weight *
             mean_over(((divergence - s.mass_source) / o.mass_sigma).pow(2), s.ice);
  }

  // Thickness smoothness, along and across the flow; prior.
  const torch::Tensor D = o.smooth_correction ? H - s.h_first : H;
  const torch::Tensor gx = masked_gradient(D, s.ice, 1, dx), gy = masked_gradient(D, s.ice, 0, dy);
  const torch::Tensor along = s.direction[0] * gx + s.direction[1] * gy;
  const torch::Tensor across = -s.direction[1] * gx + s.direction[0] * gy;
  const double scale_h = o.thickness_length / o.radar_sigma;
  const torch::Tensor J_smooth =
      0.5 * o.thickness_smoothing * scale_h * scale_h *
      mean_over(along.pow(2) + o.across_flow_factor * across.pow(2), s.ice);
  const torch::Tensor J_prior =
      o.thickness_prior > 0
          ? 0.5 * o.thickness_prior *
                mean_over(((H - s.h_first) / o.thickness_prior_sigma).pow(2), s.ice)
          : zero;

  torch::Tensor J_friction_smooth = zero, J_friction_prior = zero;
  if (s.friction) {
    const torch::Tensor bx = masked_gradient(s.theta_b, s.slides, 1, dx);
    const torch::Tensor by = masked_gradient(s.theta_b, s.slides, 0, dy);
    const double l = o.friction_length;
    J_friction_smooth = 0.5 * o.friction_smoothing * l * l * mean_over(bx * bx + by * by, s.slides);
    J_friction_prior =
        0.5 * o.friction_prior *
        mean_over(((s.theta_b - s.b_first) / o.friction_prior_sigma).pow(2), s.slides);
  }
  const torch::Tensor total = J_velocity + J_radar + J_surface + J_mass + J_smooth + J_prior +
                              J_friction_smooth + J_friction_prior;
  if (terms) {
    const torch::NoGradGuard no_grad;
    terms->velocity = item(J_velocity);
    terms->radar = item(J_radar);
    terms->surface = item(J_surface);
    terms->mass = item(J_mass);
    terms->thickness_smoothness = item(J_smooth);
    terms->thickness_prior = item(J_prior);
    terms->friction_smoothness = item(J_friction_smooth);
    terms->friction_prior = item(J_friction_prior);
    terms->total = item(total);
    const auto rms = [&](const torch::Tensor& e2, const torch::Tensor& mask) {
      const double n = item(mask.sum());
      return n > 0 ? std::sqrt(item((e2 * mask).sum()) / n) : std::nan("");
    };
    terms->velocity_rms = rms(
        torch::where(s.velocity_mask > 0, du * du + dv * dv, (model_speed - s.speed_obs).pow(2)),
        observed);
    const torch::Tensor e2 = (H - s.radar).pow(2);
    terms->radar_rms = rms(e2, (s.radar_w > 0).to(e2.dtype()));
    terms->radar_holdout_rms = rms(e2, s.radar_holdout);
  }
  return total;
}

CostTerms Inversion::evaluate(ForwardModel& forward, bool gradient) {
  CostTerms terms;
  for (auto& c : controls())
    if (c.grad().defined()) c.grad().zero_();
  if (!gradient) {
    const torch::NoGradGuard no_grad;
    cost(forward.velocity(patch()), &terms);
    return terms;
  }
  const torch::Tensor J = cost(forward.velocity(patch()), &terms);
  J.backward();
  return terms;
}

std::vector<Inversion::Step> Inversion::run(ForwardModel& forward,
                                            const std::function<void(const Step&)>& progress) {
  State& s = *m_state;
  const InversionOptions& o = m_options;
  const auto start = std::chrono::steady_clock::now();
  const auto seconds = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  const auto project = [&] {
    const torch::NoGradGuard no_grad;
    const double scale = o.thickness_scale;
    s.theta_h.clamp_(o.thickness_min / scale, o.thickness_max / scale);
    if (s.friction) s.theta_b.clamp_(o.friction_min, o.friction_max);
  };
  const auto detached_patch = [&] {
    const torch::NoGradGuard no_grad;
    emulator::TorchBPPatch p = patch();
    p.thickness = p.thickness.detach();
    p.bed = p.bed.detach();
    p.beta2 = p.beta2.detach();
    return p;
  };
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  const auto make_optimizer = [&] {
    if (o.optimizer == "adam")
      optimizer = std::make_unique<torch::optim::Adam>(controls(),
                                                       torch::optim::AdamOptions(o.learning_rate));
    else
      optimizer = std::make_unique<torch::optim::LBFGS>(controls(),
                                                        torch::optim::LBFGSOptions(o.learning_rate)
                                                            .max_iter(1)
                                                            .history_size(20)
                                                            .tolerance_grad(1e-12)
                                                            .tolerance_change(1e-9)
                                                            .line_search_fn("strong_wolfe"));
  };
  project();
  make_optimizer();
  std::vector<Step> history;
  int evaluations = 0;
  CostTerms first_terms; // the first evaluation of a step is at the current state
  bool first_seen = false;
  std::string note;
  int failures = 0; // forward failures in a row
  for (int it = 0; it <= o.iterations; ++it) {
    const std::string said = forward.before_iteration(it, detached_patch());
    if (!said.empty()) {
      note = said;
      make_optimizer(); // the forward model changed: old curvature pairs are stale
    }
    if (it == o.iterations) break;
    first_seen = false;
    int unsolved = 0; // L-BFGS trial states of this step the forward model could not solve
    std::string unsolved_why;
    auto closure = [&]() -> torch::Tensor {
      optimizer->zero_grad();
      CostTerms terms;
      torch::Tensor J;
      try {
        J = cost(forward.velocity(patch()), &terms);
      } catch (const Error& e) {
        if (!first_seen || o.optimizer != "lbfgs") throw;
        // A trial state of L-BFGS's line search that the forward model
        // cannot solve (a Blatter-Pattyn solve after a long step): a cost
        // above the step's start and no gradient, so that the strong-Wolfe
        // search steps back towards the start instead of ending the step
        // (and a fresh L-BFGS trying the same step again).
        ++evaluations;
        ++unsolved;
        unsolved_why = e.what();
        return torch::tensor(10.0 * std::abs(first_terms.total) + 1.0, torch::kFloat64);
      }
      J.backward();
      ++evaluations;
      if (!first_seen) {
        first_terms = terms;
        first_seen = true;
      }
      return J;
    };
    std::vector<torch::Tensor> saved;
    for (const auto& c : controls()) saved.push_back(c.detach().clone());
    bool failed = false;
    std::string failure;
    try {
      if (o.optimizer == "adam") {
        closure();
        optimizer->step();
      } else {
        optimizer->step(closure);
      }
    } catch (const Error& e) {
      // The forward model failed where no line search can step back (at
      // the state a step starts from, or any of Adam's; trial states of
      // L-BFGS's line search are the closure's, above): back to the last
      // state; the first time, with a fresh optimiser (its curvature pairs
      // led there), the second in a row, stop.
      failed = true;
      failure = e.what();
    }
    if (failed) {
      const torch::NoGradGuard no_grad;
      const std::vector<torch::Tensor> c = controls();
      for (size_t k = 0; k < c.size(); ++k) c[k].copy_(saved[k]);
      const bool stop = ++failures >= 2;
      history.push_back({it, evaluations, seconds(), first_terms,
                         "the forward model failed (" + failure + "): " +
                             (stop ? "again, stopped at the last state"
                                   : "back to the last state, the optimiser restarted")});
      if (progress) progress(history.back());
      if (stop) break;
      make_optimizer();
      continue;
    }
    failures = 0;
    bool finite = true;
    for (const auto& c : controls()) finite = finite && torch::isfinite(c).all().item<bool>();
    if (!finite) {
      // A failed line search (an inexact gradient): back to the last state, and stop.
      const torch::NoGradGuard no_grad;
      const std::vector<torch::Tensor> c = controls();
      for (size_t k = 0; k < c.size(); ++k) c[k].copy_(saved[k]);
      history.push_back({it, evaluations, seconds(), first_terms,
                         "the step failed (not a number): stopped at the last state"});
      if (progress) progress(history.back());
      break;
    }
    project();
    if (unsolved > 0) {
      if (!note.empty()) note += "; ";
      note += std::to_string(unsolved) + " trial state(s) not solved (" + unsolved_why +
              "): the line search stepped back";
    }
    history.push_back({it, evaluations, seconds(), first_terms, note});
    note.clear();
    if (progress) progress(history.back());
    // Stop when the cost has settled.
    const size_t n = history.size();
    if (n > 5) {
      const double now = history[n - 1].terms.total, before = history[n - 6].terms.total;
      if (std::abs(before - now) <= o.tolerance * std::abs(before)) break;
    }
    if (!std::isfinite(first_terms.total))
      throw Error("inversion: the cost is not finite at iteration " + std::to_string(it));
  }
  // The final state.
  Step last;
  last.iteration = history.empty() ? 0 : history.back().iteration + 1;
  last.terms = evaluate(forward, false);
  last.evaluations = ++evaluations;
  last.seconds = seconds();
  history.push_back(last);
  if (progress) progress(history.back());
  return history;
}

namespace {
std::vector<double> values(const torch::Tensor& t) {
  return emulator::to_vector(t.detach().to(torch::kFloat64));
}
} // namespace

std::vector<double> Inversion::thickness() const {
  return values(patch().thickness);
}
std::vector<double> Inversion::bed() const {
  return values(patch().bed);
}
std::vector<double> Inversion::surface() const {
  const emulator::TorchBPPatch p = patch();
  return values(p.bed + p.thickness);
}
std::vector<double> Inversion::beta2() const {
  return values(patch().beta2);
}
std::vector<double> Inversion::radar_weights() const {
  return values(m_state->radar_w);
}

core::BPPatch Inversion::current_patch() const {
  core::BPPatch p = m_state->first;
  p.thickness = thickness();
  p.bed = bed();
  p.beta2 = beta2();
  return p;
}

std::vector<double> surface_velocity(const core::BPPatch& patch,
                                     const std::vector<double>& velocity) {
  if (velocity.size() != patch.size())
    throw Error("inversion: a velocity of " + std::to_string(velocity.size()) +
                " values on a patch of " + std::to_string(patch.size()));
  std::vector<double> out(size_t(patch.nx) * size_t(patch.ny) * 2);
  for (int j = 0; j < patch.ny; ++j)
    for (int i = 0; i < patch.nx; ++i)
      for (int c = 0; c < 2; ++c)
        out[2 * patch.column(j, i) + size_t(c)] =
            velocity[2 * patch.node(j, i, patch.nz - 1) + size_t(c)];
  return out;
}

MisfitSummary misfit_summary(const core::BPPatch& patch, const InversionObservations& o,
                             const std::vector<double>& thk,
                             const std::vector<double>& surface_velocity) {
  MisfitSummary m;
  double v2 = 0, r2 = 0, rb = 0, h2 = 0, hb = 0;
  for (int j = 0; j < patch.ny; ++j)
    for (int i = 0; i < patch.nx; ++i) {
      const size_t c = patch.column(j, i);
      const bool ice = patch.thickness[c] >= patch.constants.minimum_thickness;
      if (!ice) continue;
      const double u = surface_velocity[2 * c], v = surface_velocity[2 * c + 1];
      if (!o.u.empty() && std::isfinite(o.u[c]) && std::isfinite(o.v[c])) {
        v2 += (u - o.u[c]) * (u - o.u[c]) + (v - o.v[c]) * (v - o.v[c]);
        ++m.velocity_cells;
      } else if (!o.speed.empty() && std::isfinite(o.speed[c])) {
        const double e = std::hypot(u, v) - o.speed[c];
        v2 += e * e;
        ++m.velocity_cells;
      }
      if (!o.radar.empty() && std::isfinite(o.radar[c])) {
        const double e = thk[c] - o.radar[c];
        if (o.radar_used.empty() || o.radar_used[c]) {
          r2 += e * e;
          rb += e;
          ++m.radar_cells;
        } else {
          h2 += e * e;
          hb += e;
          ++m.holdout_cells;
        }
      }
    }
  const auto finish = [](double sum2, double sum, long long n, double& rms, double& bias) {
    rms = n > 0 ? std::sqrt(sum2 / double(n)) : std::nan("");
    bias = n > 0 ? sum / double(n) : std::nan("");
  };
  double unused = 0;
  finish(v2, 0, m.velocity_cells, m.velocity_rms, unused);
  finish(r2, rb, m.radar_cells, m.radar_rms, m.radar_bias);
  finish(h2, hb, m.holdout_cells, m.holdout_rms, m.holdout_bias);
  return m;
}

} // namespace nunatak::inversion
