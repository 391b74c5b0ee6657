/// \file membrane_reference.cpp
/// The emulator's non-local reference velocity (membrane_reference.hpp): a
/// linear, Newtonian "hybrid" shallow-shelf balance for the depth-averaged
/// velocity ubar = (u, v) on the patch's columns,
///
///   -div(2 eta H D(ubar)) + beta_e^2 ubar = -rho g H grad s   on the ice,
///   D(ubar) = [[2 u_x + v_y, (u_y + v_x)/2], [(u_y + v_x)/2, 2 v_y + u_x]],
///
/// with ubar = 0 on ice-free columns (as the solver fixes them), no force on
/// the patch's edges and land margins, and at marine fronts the depth-
/// integrated pressure difference of the Blatter-Pattyn front condition,
/// F = H^2/2 - (rho_w/rho_i) [(z_sl - b)_+^2 - (z_sl - s)_+^2]/2 (times rho g),
/// pushing along the outward normal. Units: m, m/a, Pa, a.
///
/// The coefficients come from the shallow-ice balance of each column:
///   - tau = max(rho g H |grad s| (differences between icy columns only)
///     averaged over the icy columns of the 5 x 5 neighbourhood; where the
///     bed slides and the ice floats, rho g H (1 - rho_i/rho_w)/4, an ice
///     shelf's spreading stress; 10 kPa), the stress that sets the viscosity;
///   - eta = (n + 2) / (6 A tau^(n-1)), A = B^-n from the column-mean
///     hardness: the Newtonian viscosity whose slab deforms at Glen's
///     depth-averaged shallow-ice speed 2 A tau^n H/(n + 2) under tau;
///   - beta_e^2 = 1 / (H/(3 eta) + 1/beta^2): internal shear (the slab's
///     resistance 3 eta / H) in series with basal friction; 3 eta / H under
///     no slip, 0 under floating ice or a frictionless bed (plus 1e-6 of
///     3 eta/H, so that the system stays definite).
/// The deformation share f = beta_e^2 H / (3 eta) (0 .. 1) splits ubar into
/// sliding, uniform in depth, and deformation with the shallow-ice profile.
///
/// Discretisation: bilinear (Q1) elements on the solver's integrated
/// ice-filled elements (TorchBPPatch::element_columns), 2 x 2 Gauss points,
/// element viscosity the mean of its corners', friction lumped on the
/// columns. The symmetric positive definite system A ubar = b is solved by
/// conjugate gradients with the exact diagonal (Jacobi) as preconditioner,
/// in double precision. Derivatives with respect to the geometry follow from
/// the residual r(ubar, theta) = A(theta) ubar - b(theta) = 0:
/// d ubar/d theta = -A^-1 dr/d theta, one more solve with A (symmetric) in
/// the backward pass (ImplicitSolve).

#include "nunatak/emulator/membrane_reference.hpp"

#include "grid_ops.hpp"
#include "nunatak/core/error.hpp"

#include <torch/autograd.h>

#include <cmath>

namespace nunatak::emulator {

namespace {

/// The tabulated bilinear functions of an element at its 2 x 2 Gauss points:
/// phi[c][q], d/dx and d/dy (1/m); corner c = 2 dj + di, point q = 2 b + a.
struct ElementTables {
  torch::Tensor phi, dphi_dx, dphi_dy; // [4, 4], double
  double weight = 0;                   // dx dy / 4, m^2
};

ElementTables element_tables(double dx, double dy, const torch::Device& device) {
  const double g[2] = {0.5 * (1 - 1 / std::sqrt(3.0)), 0.5 * (1 + 1 / std::sqrt(3.0))};
  const auto shape = [](int d, double t) { return d ? t : 1 - t; };
  std::vector<double> phi(16), px(16), py(16);
  for (int c = 0; c < 4; ++c)
    for (int q = 0; q < 4; ++q) {
      const int di = c % 2, dj = c / 2;
      const double xi = g[q % 2], eta = g[q / 2];
      phi[size_t(4 * c + q)] = shape(di, xi) * shape(dj, eta);
      px[size_t(4 * c + q)] = (di ? 1.0 : -1.0) * shape(dj, eta) / dx;
      py[size_t(4 * c + q)] = shape(di, xi) * (dj ? 1.0 : -1.0) / dy;
    }
  const auto o = torch::TensorOptions().dtype(torch::kFloat64).device(device);
  const auto table = [&](const std::vector<double>& v) {
    return torch::tensor(v, torch::kFloat64).view({4, 4}).to(o);
  };
  return {table(phi), table(px), table(py), dx * dy / 4};
}

/// The linear system's data: A x = gather-stress-scatter plus lumped friction.
struct System {
  torch::Tensor columns;  ///< [E * 4] flat column indices of the element corners
  torch::Tensor k;        ///< [E]: 2 eta H / (rho g) of each element, a m^2
  torch::Tensor friction; ///< [N]: lumped beta_e^2 area / (rho g) of each column
  torch::Tensor free;     ///< [N]: 1 on icy columns (unknowns), 0 where ubar = 0
  torch::Tensor rhs;      ///< [N, 2]: b
  torch::Tensor share;    ///< [ny, nx]: the deformation share f
  ElementTables tables;
};

/// A x for x [N, 2] (rows of fixed columns are 0).
torch::Tensor apply(const System& s, const torch::Tensor& x) {
  const int64_t E = s.k.size(0);
  const torch::Tensor xe = x.index_select(0, s.columns).view({E, 4, 2});
  const torch::Tensor u = xe.select(2, 0), v = xe.select(2, 1);
  const ElementTables& t = s.tables;
  const torch::Tensor ux = u.matmul(t.dphi_dx), uy = u.matmul(t.dphi_dy); // [E, 4 points]
  const torch::Tensor vx = v.matmul(t.dphi_dx), vy = v.matmul(t.dphi_dy);
  const torch::Tensor kw = (s.k * t.weight).unsqueeze(1);
  const torch::Tensor sxx = kw * (2 * ux + vy), syy = kw * (2 * vy + ux);
  const torch::Tensor sxy = kw * 0.5 * (uy + vx);
  // Force on corner c: sum over points of the stress times d phi_c.
  const torch::Tensor fu = sxx.matmul(t.dphi_dx.t()) + sxy.matmul(t.dphi_dy.t()); // [E, 4 corners]
  const torch::Tensor fv = syy.matmul(t.dphi_dy.t()) + sxy.matmul(t.dphi_dx.t());
  const torch::Tensor out =
      torch::zeros_like(x).index_add(0, s.columns, torch::stack({fu, fv}, 2).view({E * 4, 2}));
  return (out + s.friction.unsqueeze(1) * x) * s.free.unsqueeze(1);
}

/// The diagonal of A, [N, 2] (1 on fixed columns).
torch::Tensor diagonal(const System& s) {
  const int64_t E = s.k.size(0);
  const ElementTables& t = s.tables;
  const torch::Tensor px2 = t.dphi_dx.pow(2), py2 = t.dphi_dy.pow(2);      // [4, 4]
  const torch::Tensor kw = (s.k * t.weight).unsqueeze(1);                  // [E, 1]
  const torch::Tensor du = kw * (2 * px2 + 0.5 * py2).sum(1).unsqueeze(0); // [E, 4]
  const torch::Tensor dv = kw * (2 * py2 + 0.5 * px2).sum(1).unsqueeze(0); // [E, 4]
  const torch::Tensor d = torch::zeros({s.free.size(0), 2}, s.free.options())
                              .index_add(0, s.columns, torch::stack({du, dv}, 2).view({E * 4, 2}));
  const torch::Tensor full = d + s.friction.unsqueeze(1);
  const torch::Tensor free = s.free.unsqueeze(1);
  return free * torch::clamp_min(full, 1e-300) + (1 - free);
}

/// Solves A x = b by Jacobi-preconditioned conjugate gradients, from
/// `initial` ([N, 2]; undefined: 0), to options.tolerance relative to the
/// preconditioned norm of b.
torch::Tensor conjugate_gradients(const System& s, const torch::Tensor& b,
                                  const MembraneOptions& options, MembraneReport* report,
                                  const torch::Tensor& initial = {}) {
  const torch::NoGradGuard no_grad;
  const torch::Tensor inverse_diagonal = 1.0 / diagonal(s);
  const torch::Tensor free = s.free.unsqueeze(1);
  const double start =
      std::sqrt(std::max((b * free * b * inverse_diagonal).sum().item<double>(), 0.0));
  torch::Tensor x = initial.defined() ? initial * free : torch::zeros_like(b);
  torch::Tensor r = initial.defined() ? (b - apply(s, x)) * free : b * free;
  torch::Tensor z = r * inverse_diagonal, p = z.clone();
  double rz = (r * z).sum().item<double>();
  MembraneReport out;
  out.residual = start > 0 ? std::sqrt(std::max(rz, 0.0)) / start : 0.0;
  out.converged = start == 0 || out.residual <= options.tolerance;
  if (start == 0) x = torch::zeros_like(b);
  for (int it = 0; it < options.max_iterations && !out.converged; ++it) {
    const torch::Tensor Ap = apply(s, p);
    const double pAp = (p * Ap).sum().item<double>();
    if (!(pAp > 0)) break; // breakdown: keep the last iterate
    const double alpha = rz / pAp;
    x.add_(p, alpha);
    r.sub_(Ap, alpha);
    z = r * inverse_diagonal;
    const double rz_new = (r * z).sum().item<double>();
    out.iterations = it + 1;
    out.residual = std::sqrt(std::max(rz_new, 0.0)) / start;
    out.converged = out.residual <= options.tolerance;
    p = z + (rz_new / rz) * p;
    rz = rz_new;
  }
  if (report) *report = out;
  return x;
}

/// The derivative of f along `dim` from icy neighbours only ([ny, nx]): the
/// mean of the one-sided differences towards each icy neighbour, 0 without
/// one, so that a front's drop to the sea floor is no surface slope.
torch::Tensor icy_difference(const torch::Tensor& f, const torch::Tensor& icy, int64_t dim,
                             double h) {
  const int64_t n = f.size(dim);
  if (n < 2) return torch::zeros_like(f);
  const auto shift = [&](const torch::Tensor& t, bool forward) { // t at the neighbour, 0 beyond
    const torch::Tensor pad = torch::zeros_like(t.narrow(dim, 0, 1));
    return forward ? torch::cat({t.narrow(dim, 1, n - 1), pad}, dim)
                   : torch::cat({pad, t.narrow(dim, 0, n - 1)}, dim);
  };
  const torch::Tensor m_next = shift(icy, true), m_prev = shift(icy, false);
  const torch::Tensor d_next = (shift(f, true) - f) * m_next;
  const torch::Tensor d_prev = (f - shift(f, false)) * m_prev;
  return (d_next + d_prev) / (h * torch::clamp_min(m_next + m_prev, 1.0));
}

/// The system of `p`, differentiable with respect to its geometry and parameters.
System build_system(const TorchBPPatch& p) {
  const auto f64 = [](const torch::Tensor& t) { return t.to(torch::kFloat64); };
  const core::BPConstants& c = p.constants;
  const double n = c.glen_exponent, rho_g = c.rho_g;
  const torch::Tensor icy = f64(p.free_nodes.select(2, p.nz - 1));
  const torch::Tensor bed_free = f64(p.free_nodes.select(2, 0)) * icy;
  const torch::Tensor H = f64(p.thickness) * icy, b = f64(p.bed), s = b + f64(p.thickness);
  const torch::Tensor sx = icy_difference(s, icy, 1, p.dx);
  const torch::Tensor sy = icy_difference(s, icy, 0, p.dy);
  const torch::Tensor driving =
      detail::icy_mean_5x5(rho_g * H * torch::sqrt(sx * sx + sy * sy + 1e-30), icy);
  // The ice base z_b of floating ice sits at flotation, H = (rho_w/rho_i)(z_sl - z_b): within 1 m.
  const torch::Tensor floating =
      bed_free * (H <= c.water_ratio * (c.sea_level - b) + 1.0).to(torch::kFloat64);
  const torch::Tensor tau = torch::clamp_min(
      torch::maximum(driving, floating * 0.25 * rho_g * (1 - 1 / c.water_ratio) * H), 1e4);
  const torch::Tensor A = torch::pow(f64(p.hardness).mean(2), -n);                // Pa^-n a^-1
  const torch::Tensor eta = (n + 2) / (6 * A * torch::pow(tau, n - 1));           // Pa a
  const torch::Tensor shear = 3 * eta / torch::clamp_min(H, c.minimum_thickness); // Pa a/m
  const torch::Tensor beta2 = torch::clamp_min(f64(p.beta2), 0.0);
  // Series resistance where the bed slides; the slab's alone under no slip.
  const torch::Tensor sliding = shear * beta2 / (shear + beta2 + 1e-300);
  const torch::Tensor beta_e = bed_free * sliding + (1 - bed_free) * shear + 1e-6 * shear;

  System sys;
  sys.tables = element_tables(p.dx, p.dy, p.thickness.device());
  const ElementTables& t = sys.tables;
  const int64_t E = p.element_columns.size(0), N = int64_t(p.nx) * p.ny;
  sys.columns = p.element_columns.reshape({E * 4});
  sys.free = icy.reshape({N});
  sys.share = beta_e / shear;
  const torch::Tensor k_col = (2 * eta * H / rho_g).reshape({N});
  sys.k = k_col.index_select(0, sys.columns).view({E, 4}).mean(1);
  // Lumped area of each column: sum over its elements of dx dy / 4.
  const torch::Tensor area =
      torch::zeros({N}, k_col.options())
          .index_add(0, sys.columns, torch::full({E * 4}, t.weight, k_col.options()));
  sys.friction = (beta_e / rho_g).reshape({N}) * area;
  // Driving: -sum over points of phi_c H grad s, H and s bilinear in each element.
  const torch::Tensor He = H.reshape({N}).index_select(0, sys.columns).view({E, 4});
  const torch::Tensor se = s.reshape({N}).index_select(0, sys.columns).view({E, 4});
  const torch::Tensor Hq = He.matmul(t.phi); // [E, 4 points]
  const torch::Tensor gx = Hq * se.matmul(t.dphi_dx) * t.weight;
  const torch::Tensor gy = Hq * se.matmul(t.dphi_dy) * t.weight;
  torch::Tensor rhs =
      torch::zeros({N, 2}, k_col.options())
          .index_add(
              0, sys.columns,
              -torch::stack({gx.matmul(t.phi.t()), gy.matmul(t.phi.t())}, 2).view({E * 4, 2}));
  // Marine fronts: the depth-integrated pressure difference on each face's columns.
  const int64_t faces = p.front_columns.size(0);
  if (faces > 0) {
    const double z_sl = c.sea_level;
    const torch::Tensor force =
        0.5 * H * H -
        0.5 * c.water_ratio * (torch::relu(z_sl - b).pow(2) - torch::relu(z_sl - s).pow(2));
    const torch::Tensor cols = p.front_columns.reshape({faces * 2});
    const torch::Tensor fc = force.reshape({N}).index_select(0, cols).view({faces, 2});
    const torch::Tensor half_length = 0.5 * f64(p.front_length).unsqueeze(1); // [F, 1]
    const torch::Tensor push =
        (fc * half_length).unsqueeze(2) * f64(p.front_normal).unsqueeze(1); // [F, 2 columns, 2]
    rhs = rhs.index_add(0, cols, push.view({faces * 2, 2}));
  }
  sys.rhs = rhs * sys.free.unsqueeze(1);
  return sys;
}

/// The implicit-differentiation step: forward, a zero of the residual's
/// shape (the residual is already below the tolerance); backward, A^-1 times
/// the incoming gradient, so that ubar* - ImplicitSolve(r(ubar*, theta)) has
/// the derivative -A^-1 dr/dtheta of the exact solution.
struct ImplicitSolve : public torch::autograd::Function<ImplicitSolve> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& residual,
                               const torch::Tensor& columns, const torch::Tensor& k,
                               const torch::Tensor& friction, const torch::Tensor& free, double dx,
                               double dy, int64_t max_iterations, double tolerance) {
    ctx->save_for_backward({columns, k, friction, free});
    ctx->saved_data["dx"] = dx;
    ctx->saved_data["dy"] = dy;
    ctx->saved_data["max_iterations"] = max_iterations;
    ctx->saved_data["tolerance"] = tolerance;
    return torch::zeros_like(residual);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    const auto saved = ctx->get_saved_variables();
    System s;
    s.columns = saved[0];
    s.k = saved[1];
    s.friction = saved[2];
    s.free = saved[3];
    s.tables = element_tables(ctx->saved_data["dx"].toDouble(), ctx->saved_data["dy"].toDouble(),
                              s.k.device());
    MembraneOptions o;
    o.max_iterations = int(ctx->saved_data["max_iterations"].toInt());
    o.tolerance = ctx->saved_data["tolerance"].toDouble();
    const torch::Tensor lambda = conjugate_gradients(s, grad[0], o, nullptr);
    return {lambda,          torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor(),
            torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

bool geometry_requires_grad(const TorchBPPatch& p) {
  return torch::GradMode::is_enabled() && (p.thickness.requires_grad() || p.bed.requires_grad() ||
                                           p.beta2.requires_grad() || p.hardness.requires_grad());
}

} // namespace

torch::Tensor membrane_velocity(const TorchBPPatch& patch, const MembraneOptions& options,
                                MembraneReport* report) {
  if (patch.membrane.defined()) {
    if (report) *report = MembraneReport{0, 0, true};
    return patch.membrane;
  }
  // One system: the solves use its values, the adjoint step its graph.
  const System live = build_system(patch);
  System sys = live;
  for (torch::Tensor* t : {&sys.k, &sys.friction, &sys.rhs}) *t = t->detach();
  torch::Tensor initial;
  if (options.initial_guess.defined()) {
    if (options.initial_guess.sizes() != torch::IntArrayRef({patch.ny, patch.nx, 2}))
      throw Error("membrane reference: the first guess is not [ny, nx, 2] = [" +
                  std::to_string(patch.ny) + ", " + std::to_string(patch.nx) + ", 2]");
    initial = options.initial_guess.detach()
                  .to(sys.rhs.device(), torch::kFloat64)
                  .reshape({int64_t(patch.ny) * patch.nx, 2});
  }
  const torch::Tensor x = conjugate_gradients(sys, sys.rhs, options, report, initial);
  torch::Tensor ubar = x;
  if (geometry_requires_grad(patch)) {
    const torch::Tensor residual = apply(live, x) - live.rhs;
    ubar = x - ImplicitSolve::apply(residual, sys.columns, sys.k, sys.friction, sys.free, patch.dx,
                                    patch.dy, int64_t(options.max_iterations), options.tolerance);
  }
  return ubar.view({patch.ny, patch.nx, 2}).to(patch.options());
}

torch::Tensor membrane_deformation_share(const TorchBPPatch& patch) {
  return build_system(patch).share.to(patch.options());
}

torch::Tensor membrane_profile(const TorchBPPatch& patch) {
  const double n = patch.constants.glen_exponent;
  const torch::Tensor f = membrane_deformation_share(patch).unsqueeze(2);
  const torch::Tensor shape =
      (n + 2) / (n + 1) * (1.0 - torch::pow(1.0 - patch.sigma.view({1, 1, patch.nz}), n + 1.0));
  return (1 - f) + f * shape;
}

torch::Tensor membrane_velocity_3d(const TorchBPPatch& patch) {
  return membrane_velocity(patch).unsqueeze(2) * membrane_profile(patch).unsqueeze(3) *
         patch.free_nodes.unsqueeze(3);
}

} // namespace nunatak::emulator
