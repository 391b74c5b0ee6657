/// \file membrane_reference.cpp
/// The emulator's non-local reference velocity (membrane_reference.hpp): a
/// "hybrid" shallow-shelf balance for the depth-averaged velocity
/// ubar = (u, v) on the patch's columns,
///
///   -div(2 eta_H D(ubar)) + beta_e^2 ubar = -rho g H grad s   on the ice,
///   D(ubar) = [[2 u_x + v_y, (u_y + v_x)/2], [(u_y + v_x)/2, 2 v_y + u_x]],
///
/// with eta_H the depth integral of the viscosity, ubar = 0 on ice-free
/// columns (as the solver fixes them), no force on the patch's edges and land
/// margins, and at marine fronts the push of the Blatter-Pattyn front
/// condition along the outward normal, the pressure difference
/// rho g [(s - z) - (rho_w/rho_i)(z_sl - z)_+] integrated over each face as
/// the solver integrates it and against each column's velocity profile
/// (set_front_push; on a face of one thickness and a uniform profile,
/// H^2/2 - (rho_w/rho_i) [(z_sl - b)_+^2 - (z_sl - s)_+^2]/2 times rho g
/// per unit length). Units: m, m/a, Pa, a. In both variants the basal friction
/// acts on ubar through the column's shear, in series:
///   beta_e^2 = beta^2 / (1 + beta^2 F2),  F2 = int_b^s (1/eta) ((s - z)/H)^2 dz,
/// 1/F2 under no slip, 0 under floating ice or a frictionless bed (plus 1e-6
/// of 1/F2, so that the system stays definite); the sliding speed is
/// ubar (1 - f), f = beta_e^2 F2 the deformation share, and u(z) adds the
/// integral of the shear strain rate tau_b ((s - z)/H) / eta, tau_b = beta_e^2 ubar.
///
/// Viscosity "linear": one eta per column, from the shallow-ice balance:
///   - tau = max(rho g H |grad s| (differences between icy columns only)
///     averaged over the icy columns of the 5 x 5 neighbourhood; where the
///     bed slides and the ice floats, rho g H (1 - rho_i/rho_w)/4, an ice
///     shelf's spreading stress; 10 kPa);
///   - eta = (n + 2) / (6 A tau^(n-1)), A = B^-n from the column-mean
///     hardness: the Newtonian viscosity whose slab deforms at Glen's
///     depth-averaged shallow-ice speed 2 A tau^n H/(n + 2) under tau; then
///     F2 = H/(3 eta), and u(z) has the shallow-ice profile.
/// One linear solve.
///
/// Viscosity "glen": Glen's law at every level, the depth-integrated
/// viscosity approximation (DIVA; Goldberg 2011, J. Glaciol. 57, as in CISM
/// and Yelmo):
///   eta(z) = B(z)/2 (e_m^2 + (du/dz)^2/4 + e_0^2)^((1-n)/(2n)),
///   e_m^2 = u_x^2 + v_y^2 + u_x v_y + (u_y + v_x)^2/4 (of ubar),
///   du/dz = tau_b ((s - z)/H) / eta(z),
/// at the midpoints of the patch's layers (the solver's vertical
/// discretisation: Levels), e_0^2 the solver's regularisation, and with the
/// slope factor S of slope_factor (du/dz = tau_b zeta / (S eta), e^2 with
/// S (du/dz)^2 / 4). Picard iterations from the linear solve: eta from the
/// last ubar (over-relaxed in log space, eta (eta_new/eta)^1.5, since the
/// map contracts by about (n-1)/n; less, down to 0.5, once the change
/// grows), then one solve, until ubar changes by less than
/// picard_tolerance. The solves are inexact (each cuts its residual by
/// MembraneOptions::picard_forcing) until then, and the last one goes to
/// the tolerance. On the CPU each update is one loop (glen_update_cpu.hpp),
/// elsewhere LibTorch operations. It drops from Blatter-Pattyn only the
/// vertical variation of the horizontal velocity inside the membrane
/// stresses and the vertical resistive stresses.
///
/// Viscosity "glen_gauss": glen, except on the elements whose four corner
/// columns are frozen to the bed, where the column shear (F2, the basal
/// stress, the viscosity's own Picard state) and the membrane coefficient
/// are taken at the element's 2 x 2 Gauss points, each with its own
/// bilinear velocity, thickness, slopes and hardness, as the solver
/// integrates them (gauss_shear.hpp): the no-slip friction becomes a
/// consistent matrix sum_q phi_c phi_d / F2_q, and the membrane coefficient
/// 2 H sum_l w_l eta_l p_l^2 of the point's profile p. Where the surface
/// slope changes from cell to cell under thick ice, the lumped column shear
/// smooths the solver's flow out (tests/test_membrane_vs_bp.cpp).
///
/// Discretisation: bilinear (Q1) elements on the solver's integrated
/// ice-filled elements (TorchBPPatch::element_columns), 2 x 2 Gauss points,
/// element coefficient the mean of its corners'. Two choices follow the
/// solver's own discretisation, and matter where the bed changes from one
/// column to the next (tests/test_membrane_vs_bp.cpp):
///   - friction: the sliding part of beta_e bilinear between the columns,
///     times ubar bilinear, at the Gauss points (a consistent friction
///     matrix, so that a slippery column is held by its neighbours'
///     friction); the no-slip part lumped on its columns; each column's own
///     beta_e (its shear profile and basal stress) unsmoothed;
///   - the membrane strain rate e_m^2 at the Gauss points of the elements,
///     averaged over each element and over the elements around a column
///     (central differences at the columns miss a one-column peak).
/// The symmetric positive definite system A ubar = b is assembled as a
/// 3 x 3 stencil per column (assemble_stencil) and solved by conjugate
/// gradients in double precision, preconditioned by the diagonal (Jacobi)
/// or a geometric multigrid V-cycle (stencil_multigrid.hpp), as
/// MembraneOptions::preconditioner says (Preconditioner). Derivatives with
/// respect to the geometry follow from the residual r(ubar, theta) =
/// A(theta) ubar - b(theta) = 0: d ubar/d theta =
/// -A^-1 dr/d theta, one more solve with A (symmetric) in the backward pass
/// (ImplicitSolve). For glen, A is the last Picard system with its
/// viscosity held fixed: the derivative omits the viscosity's own change,
/// so it is approximate (tests/test_membrane_reference.cpp).
///
/// The refinement of a velocity towards the Blatter-Pattyn balance
/// (refinement.cpp) takes this file's system as its coarse level:
/// RefinementLevels (refinement_levels.hpp) holds it with the column
/// smoother's tridiagonals.

#include "nunatak/emulator/membrane_reference.hpp"

#include "column_tie.hpp"
#include "front_pressure.hpp"
#include "gauss_shear.hpp"
#include "glen_update_cpu.hpp"
#include "grid_ops.hpp"
#include "nunatak/core/error.hpp"
#include "refinement_levels.hpp"
#include "stencil_multigrid.hpp"

#include <torch/autograd.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace nunatak::emulator {

namespace {

using detail::ColumnTie;

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
  torch::Tensor friction; ///< [N]: lumped no-slip friction area / (rho g) of each column
  torch::Tensor sliding;  ///< [E, 4 points]: sliding friction weight / (rho g) at each Gauss point
  torch::Tensor free;     ///< [N]: 1 on icy columns (unknowns), 0 where ubar = 0
  torch::Tensor area;     ///< [N]: lumped area of each column (its elements' dx dy / 4), m^2
  torch::Tensor rhs;      ///< [N, 2]: b, the driving plus the fronts' push
  torch::Tensor driving;  ///< [N, 2]: the driving part of b
  torch::Tensor front_columns; ///< [F * 2]: the columns of the marine-front faces
  torch::Tensor front_push;    ///< [F * 2, nz, 2]: their push per unit profile at each level
  ElementTables tables;
  int64_t ny = 0, nx = 0; ///< the grid of the N = ny nx columns
};

/// A x for x [N, 2] (rows of fixed columns are 0), element by element: the
/// differentiable form that carries the derivatives (the solves apply the
/// same operator through assemble_stencil).
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
  // Consistent friction: the sliding coefficient times ubar at the points.
  const torch::Tensor bu = s.sliding * u.matmul(t.phi), bv = s.sliding * v.matmul(t.phi);
  const torch::Tensor fu = sxx.matmul(t.dphi_dx.t()) + sxy.matmul(t.dphi_dy.t()) +
                           bu.matmul(t.phi.t()); // [E, 4 corners]
  const torch::Tensor fv =
      syy.matmul(t.dphi_dy.t()) + sxy.matmul(t.dphi_dx.t()) + bv.matmul(t.phi.t());
  const torch::Tensor out =
      torch::zeros_like(x).index_add(0, s.columns, torch::stack({fu, fv}, 2).view({E * 4, 2}));
  return (out + s.friction.unsqueeze(1) * x) * s.free.unsqueeze(1);
}

/// The stencil of A, [N, 9, 2, 2] (row, 3 x 3 offset, component of the row,
/// of the column; stencil_multigrid.hpp): the element matrices (membrane
/// stresses and consistent sliding friction) gathered per row and 3 x 3
/// offset, plus the lumped friction; the rows and columns of fixed columns
/// the identity. The operator of apply(), in the form that the multigrid
/// coarsens and that costs a fraction of apply() to apply.
torch::Tensor assemble_stencil(const System& s) {
  const int64_t E = s.k.size(0);
  const ElementTables& t = s.tables;
  const torch::Tensor px = t.dphi_dx, py = t.dphi_dy; // [4 corners, 4 points]
  // The membrane coupling of corner c's force (a) with corner d's velocity (b), [c, d, a, b].
  const torch::Tensor uu = 2 * px.matmul(px.t()) + 0.5 * py.matmul(py.t());
  const torch::Tensor uv = px.matmul(py.t()) + 0.5 * py.matmul(px.t());
  const torch::Tensor vv = 2 * py.matmul(py.t()) + 0.5 * px.matmul(px.t());
  const torch::Tensor membrane =
      torch::stack({torch::stack({uu, uv}, 2), torch::stack({uv.t(), vv}, 2)}, 2);
  const torch::Tensor sliding = torch::einsum("eq,cq,dq->ecd", {s.sliding, t.phi, t.phi});
  return detail::assemble_q1_stencil(s.columns.view({E, 4}), s.k * t.weight, membrane, sliding,
                                     s.friction, s.free, s.nx);
}

/// The conjugate gradients' preconditioner over the solves of one membrane
/// solve (the linear solve and the Picard iterations) or of one adjoint
/// solve, as options.preconditioner says:
///   - jacobi: the diagonal of each system;
///   - multigrid: a V-cycle (stencil_multigrid.hpp) built for the first
///     system and kept for the next ones, which differ by their viscosity
///     only, until a solve takes more than stale_iterations (then it is
///     built again for the next);
///   - auto: Jacobi, and multigrid from the first solve that Jacobi has not
///     finished in switch_iterations. On this project's CPUs (one stencil
///     product: 0.3 ms on 128 x 128 nodes) a V-cycle costs about 10 stencil
///     products and building one about 150; the V-cycle needs 5-15
///     iterations per solve, Jacobi a few where the friction dominates the
///     membrane stresses (cells wider than the ice is thick: Greenland at
///     16 km) and a number that grows with the grid where they dominate
///     (narrow cells under thick ice: 80 per solve on ISMIP-HOM A at 32 x 32
///     columns, 330 at 128 x 128). The V-cycle pays from about 200
///     (membrane_reference_timing, docs/emulator.md). On a tie with a
///     torus (column_tie.hpp: the refinement's coarse solves on a periodic
///     patch) auto starts with the V-cycle, which then runs on the torus.
class Preconditioner {
public:
  static constexpr int switch_iterations = 200;
  static constexpr int stale_iterations = 12;

  explicit Preconditioner(const std::string& mode) : m_mode(mode) {
    if (mode != "auto" && mode != "jacobi" && mode != "multigrid")
      throw Error("membrane reference: unknown preconditioner '" + mode +
                  "' (auto, multigrid or jacobi)");
    m_multigrid = mode == "multigrid";
  }

  /// Prepares the solves with the system of `stencil` (assemble_stencil),
  /// whose columns are tied by `tie` (conjugate_gradients).
  void prepare(const System& s, const torch::Tensor& stencil, MembraneReport& report,
               const ColumnTie& tie) {
    const bool same_tie = tie.partner.defined() == m_tie.partner.defined() &&
                          (!tie.partner.defined() || tie.partner.is_same(m_tie.partner));
    m_tie = tie;
    if (!same_tie) m_tie_torus = detail::find_torus(tie, s.ny, s.nx);
    // auto on a torus: the V-cycle from the start (Jacobi took 50-150
    // iterations per solve of ISMIP-HOM's at L = 20 and 80 km, and the
    // V-cycle 2: 1.0-1.8 times faster in all but one of the eight).
    if (m_mode == "auto" && m_tie_torus) m_multigrid = true;
    if (!m_multigrid)
      m_inverse_diagonal = 1.0 / detail::stencil_diagonal(stencil);
    else if (!m_cycle || m_stale || !same_tie)
      build(s, stencil, report);
  }

  /// Whether operator() takes and returns folded fields (a V-cycle on the
  /// tie's torus) rather than fields on the whole patch.
  bool folded() const { return m_multigrid && m_cycle_on_torus; }

  /// z = M^-1 r for r [1, 2, N] (folded if folded(): 0 at the ghosts).
  torch::Tensor operator()(const torch::Tensor& r) const {
    if (!m_multigrid) return r * m_inverse_diagonal;
    if (!m_cycle_on_torus) return (*m_cycle)(r);
    const torch::Tensor z = (*m_cycle)(r.index_select(2, m_tie_torus->nodes));
    return torch::zeros_like(r).index_copy(2, m_tie_torus->nodes, z);
  }

  /// After `iterations` iterations of a solve: true if the preconditioner
  /// changed (auto, from Jacobi to multigrid), so that the conjugate
  /// gradients restart their search direction.
  bool escalate(const System& s, const torch::Tensor& stencil, int iterations,
                MembraneReport& report) {
    if (m_multigrid || m_mode != "auto" || iterations < switch_iterations) return false;
    m_multigrid = true;
    m_switched_at = iterations;
    build(s, stencil, report);
    return true;
  }

  /// At the end of a solve that took `iterations` (those with the V-cycle
  /// decide whether it is stale).
  void finished(int iterations) {
    m_stale = m_multigrid && iterations - m_switched_at > stale_iterations;
    m_switched_at = 0;
  }

private:
  /// The V-cycle for the system, on the tie's torus where it has one (its
  /// ghosts wrap around the owned box): the V-cycle of the whole patch
  /// would treat the box's periodic edges as margins, and folded it took
  /// about 120 conjugate-gradient iterations per solve on ISMIP-HOM's 32 x
  /// 32 columns.
  void build(const System& s, const torch::Tensor& stencil, MembraneReport& report) {
    m_cycle_on_torus = m_tie_torus.has_value();
    if (m_cycle_on_torus) {
      const detail::Torus& t = *m_tie_torus;
      const torch::Tensor box_free =
          m_tie.fold_mask(s.free, 0).index_select(0, t.nodes).gt(0).to(s.free.options());
      m_cycle = std::make_shared<detail::StencilMultigrid>(
          detail::torus_stencil(stencil, s.free, m_tie, s.ny, s.nx, t), box_free, t.ny, t.nx,
          detail::MultigridOptions{}, t.wrap);
    } else {
      m_cycle = std::make_shared<detail::StencilMultigrid>(stencil, s.free, s.ny, s.nx);
    }
    m_stale = false;
    ++report.multigrid_builds;
  }

  std::string m_mode;
  bool m_multigrid = false, m_stale = false;
  bool m_cycle_on_torus = false; ///< m_cycle was built on m_tie_torus
  int m_switched_at = 0;         ///< the iteration of this solve at which auto switched
  torch::Tensor m_inverse_diagonal;
  ColumnTie m_tie;                          ///< the tie of the solves being prepared
  std::optional<detail::Torus> m_tie_torus; ///< its torus (find_torus), if it has one
  std::shared_ptr<detail::StencilMultigrid> m_cycle;
};

/// The dot product of two fields of the same shape, without a temporary.
double field_dot(const torch::Tensor& a, const torch::Tensor& b) {
  return torch::dot(a.reshape({-1}), b.reshape({-1})).item<double>();
}

/// Solves A x = b (b [N, 2]) by conjugate gradients preconditioned by
/// `precondition`, from `initial` ([N, 2]; undefined: 0), to
/// options.tolerance relative to the preconditioned norm of b, or, if
/// `reduction` > 0 and that is looser, to `reduction` times the starting
/// residual (an inexact solve). A is applied through its stencil
/// (assemble_stencil). With `tie` (periodic ghosts), the unknowns are the
/// partner columns': A becomes fold A spread and the preconditioner M fold M
/// spread (both symmetric positive definite), or the V-cycle of fold A spread
/// on the tie's torus where it has one (Preconditioner), and rhs must be
/// folded; x is returned on the partners (0 at the ghosts: spread it).
torch::Tensor conjugate_gradients(const System& s, const torch::Tensor& rhs,
                                  const MembraneOptions& options, Preconditioner& precondition,
                                  MembraneReport* report, const torch::Tensor& initial = {},
                                  double reduction = 0, const ColumnTie& tie = {}) {
  const torch::NoGradGuard no_grad;
  MembraneReport out;
  const torch::Tensor stencil = assemble_stencil(s);
  // Fields [1, 2, N] (the stencil's layout). The stencil's rows of fixed
  // columns are the identity: masked before they are folded.
  const torch::Tensor free = tie.fold_mask(s.free, 0);
  const auto A = [&](const torch::Tensor& x) {
    if (!tie.partner.defined()) return detail::apply_stencil(stencil, x, s.ny, s.nx);
    return tie.fold(detail::apply_stencil(stencil, tie.spread(x, 2), s.ny, s.nx) * s.free, 2) *
           free;
  };
  precondition.prepare(s, stencil, out, tie);
  const auto M = [&](const torch::Tensor& r) {
    if (!tie.partner.defined()) return precondition(r);
    if (precondition.folded()) return precondition(r) * free;
    return tie.fold(precondition(tie.spread(r, 2)) * s.free, 2) * free;
  };
  const auto field = [](const torch::Tensor& x) { return x.t().unsqueeze(0).contiguous(); };
  const torch::Tensor b = field(rhs) * free;
  const auto norm_of_b = [&] { return std::sqrt(std::max(field_dot(b, M(b)), 0.0)); };
  double start = norm_of_b();
  torch::Tensor x = initial.defined() ? field(initial) * free : torch::zeros_like(b);
  torch::Tensor r = initial.defined() ? (b - A(x)) * free : b.clone();
  torch::Tensor z = M(r), p = z.clone();
  double rz = field_dot(r, z);
  out.residual = start > 0 ? std::sqrt(std::max(rz, 0.0)) / start : 0.0;
  const double target = std::max(options.tolerance, reduction * out.residual);
  out.converged = start == 0 || out.residual <= target;
  if (start == 0) x = torch::zeros_like(b);
  for (int it = 0; it < options.max_iterations && !out.converged; ++it) {
    const torch::Tensor Ap = A(p);
    const double pAp = field_dot(p, Ap);
    if (!(pAp > 0)) break; // breakdown: keep the last iterate
    const double alpha = rz / pAp;
    x.add_(p, alpha);
    r.sub_(Ap, alpha);
    out.iterations = it + 1;
    if (precondition.escalate(s, stencil, out.iterations, out)) { // restart
      start = norm_of_b();
      z = M(r);
      rz = field_dot(r, z);
      p = z.clone();
      out.residual = std::sqrt(std::max(rz, 0.0)) / start;
      out.converged = out.residual <= target;
      continue;
    }
    z = M(r);
    const double rz_new = field_dot(r, z);
    out.residual = std::sqrt(std::max(rz_new, 0.0)) / start;
    out.converged = out.residual <= target;
    p.mul_(rz_new / rz).add_(z); // in place: no temporaries on the larger grids
    rz = rz_new;
  }
  precondition.finished(out.iterations);
  if (report) *report = out;
  return x[0].t().contiguous();
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

/// The patch's columns in double precision.
struct Geometry {
  torch::Tensor icy;      ///< [ny, nx] 1 on icy columns
  torch::Tensor bed_free; ///< [ny, nx] 1 where the icy column's bed slides
  torch::Tensor H;        ///< [ny, nx] thickness on the ice, 0 elsewhere, m
  torch::Tensor H_min;    ///< [ny, nx] thickness floored at minimum_thickness, m
  torch::Tensor b, s;     ///< [ny, nx] ice base and surface, m
  torch::Tensor beta2;    ///< [ny, nx] >= 0, Pa a/m
  torch::Tensor corners;  ///< [E * 4] flat column indices of the ice-filled elements' corners
};

Geometry geometry(const TorchBPPatch& p) {
  const auto f64 = [](const torch::Tensor& t) { return t.to(torch::kFloat64); };
  Geometry g;
  g.icy = f64(p.free_nodes.select(2, p.nz - 1));
  g.bed_free = f64(p.free_nodes.select(2, 0)) * g.icy;
  g.H = f64(p.thickness) * g.icy;
  g.H_min = torch::clamp_min(g.H, p.constants.minimum_thickness);
  g.b = f64(p.bed);
  g.s = g.b + f64(p.thickness);
  g.beta2 = torch::clamp_min(f64(p.beta2), 0.0);
  g.corners = p.element_columns.reshape({-1});
  return g;
}

/// What the membrane system needs from each column, and how the velocity
/// varies through it.
struct Columns {
  torch::Tensor eta_H;   ///< [ny, nx]: the depth integral of the viscosity, Pa a m
  torch::Tensor sliding; ///< [ny, nx]: the sliding part of beta_e, interpolated between columns
  torch::Tensor lumped;  ///< [ny, nx]: the no-slip part of beta_e, lumped on its column
  torch::Tensor beta_e;  ///< [ny, nx]: each column's effective friction on ubar, Pa a/m
  torch::Tensor share;   ///< [ny, nx]: the deformation share f, 0 .. 1
  torch::Tensor profile; ///< [ny, nx, nz]: u(sigma) / ubar, of mean 1
};

/// Sets the friction on ubar of `out` given F2 = int (1/eta) ((s - z)/H)^2 dz
/// (m/(Pa a)): where the bed slides (and on ice-free columns, whose beta^2
/// the solver interpolates too), sliding = beta^2 / (1 + beta^2 F2)
/// (internal shear in series with friction); under no slip, lumped = 1 / F2;
/// plus 1e-6 / F2 lumped, so that the system stays definite under floating
/// ice and frictionless beds. Each column's own beta_e is their sum.
void effective_friction(const Geometry& g, const torch::Tensor& F2, Columns& out) {
  const torch::Tensor slides = 1 - g.icy + g.bed_free; // 0 on icy no-slip columns only
  out.sliding = slides * g.beta2 / (1 + g.beta2 * F2);
  out.lumped = (1 - slides) / F2 + detail::definite_share / F2;
  out.beta_e = out.sliding + out.lumped;
}

/// The linear columns: one viscosity through the depth, from the smoothed
/// driving stress. Differentiable.
Columns linear_columns(const TorchBPPatch& p, const Geometry& g, torch::Tensor* viscosity) {
  const core::BPConstants& c = p.constants;
  const double n = c.glen_exponent, rho_g = c.rho_g;
  const torch::Tensor sx = icy_difference(g.s, g.icy, 1, p.dx);
  const torch::Tensor sy = icy_difference(g.s, g.icy, 0, p.dy);
  const torch::Tensor driving =
      detail::icy_mean_5x5(rho_g * g.H * torch::sqrt(sx * sx + sy * sy + 1e-30), g.icy);
  // The ice base z_b of floating ice sits at flotation, H = (rho_w/rho_i)(z_sl - z_b): within 1 m.
  const torch::Tensor floating =
      g.bed_free * (g.H <= c.water_ratio * (c.sea_level - g.b) + 1.0).to(torch::kFloat64);
  const torch::Tensor tau = torch::clamp_min(
      torch::maximum(driving, floating * 0.25 * rho_g * (1 - 1 / c.water_ratio) * g.H), 1e4);
  const torch::Tensor A = torch::pow(p.hardness.to(torch::kFloat64).mean(2), -n); // Pa^-n a^-1
  const torch::Tensor eta = (n + 2) / (6 * A * torch::pow(tau, n - 1));           // Pa a
  const torch::Tensor F2 = g.H_min / (3 * eta);
  Columns out;
  out.eta_H = eta * g.H;
  effective_friction(g, F2, out);
  out.share = out.beta_e * F2;
  const torch::Tensor shape =
      (n + 2) / (n + 1) *
      (1.0 - torch::pow(1.0 - p.sigma.to(torch::kFloat64).view({1, 1, p.nz}), n + 1.0));
  out.profile = (1 - out.share).unsqueeze(2) + out.share.unsqueeze(2) * shape;
  if (viscosity) *viscosity = eta;
  return out;
}

/// The levels of the glen columns: the midpoints of the patch's layers, with
/// the hardness there (the mean of the layer's two levels); integrals over
/// sigma by the midpoint rule. This is the solver's own vertical
/// discretisation: its velocity is linear in each layer, so the shear
/// strain rate is one per layer, and its two Gauss points average a
/// linearly interpolated B to B at the midpoint; the shear stress of a
/// layer, from the load above it, is that at its midpoint. Finer
/// quadrature (Simpson's rule on sublayers) follows the continuum instead,
/// and differs from the solver where B varies fast near the bed: mean(B)^-n
/// against mean(B^-n).
struct Levels {
  torch::Tensor zeta;       ///< [L]: depth below the surface over H, 1 (bed) .. 0 (surface)
  torch::Tensor weight;     ///< [L]: weights of integrals over sigma, 0 .. 1
  torch::Tensor cumulative; ///< [L, nz]: weights of the integrals from 0 to each patch level
  torch::Tensor hardness;   ///< [ny, nx, L]: B, Pa a^(1/n)
};

Levels levels(const TorchBPPatch& p) {
  Levels lv;
  const torch::Tensor sigma = p.sigma.to(torch::kFloat64).cpu().contiguous();
  const double* sig = sigma.data_ptr<double>();
  const int64_t L = p.nz - 1;
  std::vector<double> zeta(static_cast<size_t>(L)), weight(static_cast<size_t>(L)),
      cumulative(static_cast<size_t>(L * p.nz), 0.0);
  for (int64_t k = 0; k < L; ++k) {
    zeta[size_t(k)] = 1 - 0.5 * (sig[k] + sig[k + 1]);
    weight[size_t(k)] = sig[k + 1] - sig[k];
    for (int64_t m = k + 1; m < p.nz; ++m) cumulative[size_t(k * p.nz + m)] = weight[size_t(k)];
  }
  const auto o = torch::TensorOptions().dtype(torch::kFloat64).device(p.thickness.device());
  lv.zeta = torch::tensor(zeta, torch::kFloat64).to(o);
  lv.weight = torch::tensor(weight, torch::kFloat64).to(o);
  lv.cumulative = torch::tensor(cumulative, torch::kFloat64).view({L, p.nz}).to(o);
  const torch::Tensor B = p.hardness.to(torch::kFloat64);
  lv.hardness = 0.5 * (B.narrow(2, 0, L) + B.narrow(2, 1, L));
  return lv;
}

/// The slope factor S = 1 + |grad z|^2 + 3 (grad z . t)^2 ([ny, nx, L]) of
/// the levels z = s - zeta H, t the direction of ubar ([ny, nx, 2]). In
/// Blatter-Pattyn a column sheared on a slope also stretches along it: in a
/// uniform slab (u a function of the depth d = s - z, surface slope grad s)
/// u_x = s_x u_d, so that the strain rate is e^2 = S u_d^2 / 4 and the
/// stress balance (S eta u_d)_d = -rho g |grad s| gives the shear stress
/// eta u_d = tau_b zeta / S (with S of the surface slope along and across
/// the flow, 1 + 4 s_par^2 + s_perp^2). Sliding keeps tau_b = beta^2 u_b.
/// The deformation speed of a slab falls by S^(-(n+1)/2): 26 % at a slope of
/// 0.2 (tests/test_membrane_vs_bp.cpp).
torch::Tensor slope_factor(const TorchBPPatch& p, const Geometry& g, const Levels& lv,
                           const torch::Tensor& ubar) {
  const auto level_slope = [&](int64_t dim, double h) {
    return icy_difference(g.s, g.icy, dim, h).unsqueeze(2) -
           lv.zeta * icy_difference(g.H, g.icy, dim, h).unsqueeze(2);
  };
  const torch::Tensor zx = level_slope(1, p.dx), zy = level_slope(0, p.dy); // [ny, nx, L]
  const torch::Tensor u = ubar.select(2, 0), v = ubar.select(2, 1);
  const torch::Tensor speed = torch::sqrt(u * u + v * v + 1e-30);
  const torch::Tensor along = (zx * u.unsqueeze(2) + zy * v.unsqueeze(2)) / speed.unsqueeze(2);
  return 1 + zx * zx + zy * zy + 3 * along * along;
}

/// The glen columns of the viscosity eta at the refined levels ([ny, nx, L],
/// Pa a) and the slope factor S (slope_factor): F2 = H int zeta^2/(S eta)
/// dsigma, beta_e = effective_friction, the share f = beta_e F2 and the
/// profile (1 - f) + beta_e H int_0^sigma zeta/(S eta), the sliding plus the
/// integral of the shear strain rate tau_b zeta / (S eta).
Columns glen_columns(const Geometry& g, const Levels& lv, const torch::Tensor& eta,
                     const torch::Tensor& S) {
  const torch::Tensor inverse = lv.zeta / (eta * S); // [ny, nx, L]
  const torch::Tensor F2 = g.H_min * (inverse * lv.zeta * lv.weight).sum(2);
  Columns out;
  out.eta_H = g.H * (eta * lv.weight).sum(2);
  effective_friction(g, F2, out);
  out.share = torch::clamp_max(out.beta_e * F2, 1.0);
  out.profile = (1 - out.share).unsqueeze(2) +
                (out.beta_e * g.H_min).unsqueeze(2) * inverse.matmul(lv.cumulative);
  return out;
}

/// The membrane strain rate e_m^2 = u_x^2 + v_y^2 + u_x v_y + (u_y + v_x)^2/4
/// of ubar ([ny, nx, 2], m/a) on each column (a^-2): at the Gauss points of
/// the ice-filled elements, as the solver evaluates it, then the mean over
/// each element's points and over the elements around the column (0 on
/// columns of no element). Central differences at the columns would miss
/// the strain of a one-column peak (a slippery spot) altogether.
torch::Tensor membrane_strain_rate2(const TorchBPPatch& p, const Geometry& g,
                                    const torch::Tensor& ubar) {
  const int64_t N = int64_t(p.nx) * p.ny, E = g.corners.size(0) / 4;
  const ElementTables t = element_tables(p.dx, p.dy, ubar.device());
  const torch::Tensor xe = ubar.reshape({N, 2}).index_select(0, g.corners).view({E, 4, 2});
  const torch::Tensor u = xe.select(2, 0), v = xe.select(2, 1);
  const torch::Tensor ux = u.matmul(t.dphi_dx), uy = u.matmul(t.dphi_dy); // [E, 4 points]
  const torch::Tensor vx = v.matmul(t.dphi_dx), vy = v.matmul(t.dphi_dy);
  const torch::Tensor element =
      (ux * ux + vy * vy + ux * vy + 0.25 * (uy + vx).pow(2)).mean(1); // [E]
  const torch::Tensor o = torch::zeros({N}, ubar.options());
  const torch::Tensor sum = o.index_add(0, g.corners, element.repeat_interleave(4));
  const torch::Tensor count = o.index_add(0, g.corners, torch::ones({E * 4}, ubar.options()));
  return (sum / torch::clamp_min(count, 1.0)).view({p.ny, p.nx});
}

/// One relaxed Picard update of the glen viscosity for the velocity ubar
/// ([ny, nx, 2], m/a): at each level, eta = B/2 (e_m^2 + (du/dz)^2/4 +
/// e_0^2)^((1-n)/(2n)), with the membrane strain rate e_m^2 of ubar
/// (membrane_strain_rate2) and the shear du/dz = tau_b zeta/(S eta),
/// tau_b = beta_e |ubar|, which strains the ice S times its square / 4
/// (slope_factor); then eta <- eta (eta_new/eta)^1.5 (in log space,
/// over-relaxed: the map contracts by about (n-1)/n there).
torch::Tensor glen_update(const TorchBPPatch& p, const Geometry& g, const Levels& lv,
                          const torch::Tensor& ubar, const torch::Tensor& eta,
                          const torch::Tensor& S, double relaxation) {
  const double n = p.constants.glen_exponent;
  const torch::Tensor u = ubar.select(2, 0), v = ubar.select(2, 1);
  const torch::Tensor membrane = membrane_strain_rate2(p, g, ubar);
  const Columns c = glen_columns(g, lv, eta, S);
  const torch::Tensor tau_b = c.beta_e * torch::sqrt(u * u + v * v + 1e-30);
  const torch::Tensor shear = tau_b.unsqueeze(2) * lv.zeta / (eta * S);
  const torch::Tensor e2 =
      membrane.unsqueeze(2) + 0.25 * S * shear * shear + p.constants.regularisation2;
  const torch::Tensor updated = 0.5 * lv.hardness * torch::pow(e2, (1 - n) / (2 * n));
  return eta * torch::pow(updated / eta, relaxation);
}

/// The marine fronts' push on ubar, per unit of the columns' velocity
/// profile (sys.front_columns, sys.front_push; empty without fronts): the
/// solver's front condition integrated with the shared energy's quadrature
/// (front_pressure.hpp: 3 Gauss points along each face, the thickness and
/// surface linear between its two columns, 2 points in each layer's pieces
/// above and below sea level), against the velocity u = profile(sigma) ubar
/// of each column (linear between the levels). With a uniform profile on a
/// face of one thickness, each column gets half the face's length times the
/// depth-integrated pressure difference H^2/2 - (rho_w/rho_i)
/// [(z_sl - b)_+^2 - (z_sl - s)_+^2]/2; on a cliff whose thickness halves
/// along the face, the thick column gets 30 % less than that, and a column
/// frozen to its bed, whose velocity is near 0 where the pressure is
/// largest, about 17 % less again.
void set_front_push(System& sys, const TorchBPPatch& p, const Geometry& g) {
  const int64_t F = p.front_columns.size(0), N = int64_t(p.nx) * p.ny, nz = p.nz;
  const auto o = g.H.options();
  sys.front_columns = p.front_columns.reshape({F * 2});
  if (F == 0) {
    sys.front_push = torch::zeros({0, nz, 2}, o);
    return;
  }
  const torch::Tensor phi = p.front_phi.to(o);         // [2 columns, 3 points]
  const auto at_points = [&](const torch::Tensor& f) { // [F, 3, 1]
    return f.reshape({N}).index_select(0, sys.front_columns).view({F, 2}).matmul(phi).unsqueeze(2);
  };
  // The levels z_b + sigma max(H, H_min), as the solver's nodes.
  const torch::Tensor z = at_points(g.b) + p.sigma.to(o).view({1, 1, nz}) * at_points(g.H_min);
  const torch::Tensor level = detail::front_level_weights(
      z, at_points(g.s), p.front_length.to(o), p.front_weights.to(o), p.vertical_points.to(o),
      p.constants.sea_level, p.constants.water_ratio); // [F, 3, nz]
  // Onto each of the face's two columns j: phi_j at the points.
  const torch::Tensor per_column = (phi.view({1, 2, 3, 1}) * level.unsqueeze(1)).sum(2);
  sys.front_push =
      (per_column.unsqueeze(3) * p.front_normal.to(o).view({F, 1, 1, 2})).reshape({F * 2, nz, 2});
}

/// The parts of the system of `p` that the viscosity does not change (all
/// but k, friction, sliding and the fronts' share of the right-hand side:
/// set_coefficients), differentiable with respect to the geometry that `g`
/// carries.
System system_geometry(const TorchBPPatch& p, const Geometry& g) {
  const torch::Tensor &H = g.H, &s = g.s;
  System sys;
  sys.tables = element_tables(p.dx, p.dy, p.thickness.device());
  sys.ny = p.ny;
  sys.nx = p.nx;
  const ElementTables& t = sys.tables;
  const int64_t E = p.element_columns.size(0), N = int64_t(p.nx) * p.ny;
  sys.columns = p.element_columns.reshape({E * 4});
  const auto o = g.H.options();
  sys.area = torch::zeros({N}, o).index_add(0, sys.columns, torch::full({E * 4}, t.weight, o));
  // Unknowns: the icy columns of some element (not, e.g., the ghost columns
  // of a periodic patch, which no element reaches: they stay at 0).
  sys.free = g.icy.reshape({N}) * sys.area.gt(0).to(o.dtype());
  // Driving: -sum over points of phi_c H grad s, H and s bilinear in each element.
  const torch::Tensor He = H.reshape({N}).index_select(0, sys.columns).view({E, 4});
  const torch::Tensor se = s.reshape({N}).index_select(0, sys.columns).view({E, 4});
  const torch::Tensor Hq = He.matmul(t.phi); // [E, 4 points]
  const torch::Tensor gx = Hq * se.matmul(t.dphi_dx) * t.weight;
  const torch::Tensor gy = Hq * se.matmul(t.dphi_dy) * t.weight;
  torch::Tensor rhs = torch::zeros({N, 2}, o).index_add(
      0, sys.columns,
      -torch::stack({gx.matmul(t.phi.t()), gy.matmul(t.phi.t())}, 2).view({E * 4, 2}));
  sys.driving = rhs;
  set_front_push(sys, p, g);
  sys.rhs = rhs * sys.free.unsqueeze(1); // until set_coefficients adds the fronts
  return sys;
}

/// Sets the coefficients of `sys` (system_geometry) that the columns' eta_H,
/// lumped and sliding friction make (k, friction and sliding), and the
/// right-hand side, whose fronts push against the columns' profile (a
/// uniform one where `columns` has none).
void set_coefficients(System& sys, const TorchBPPatch& p, const Columns& columns) {
  const double rho_g = p.constants.rho_g;
  const int64_t E = sys.columns.size(0) / 4, N = int64_t(p.nx) * p.ny;
  const ElementTables& t = sys.tables;
  sys.k =
      (2 * columns.eta_H / rho_g).reshape({N}).index_select(0, sys.columns).view({E, 4}).mean(1);
  sys.friction = (columns.lumped / rho_g).reshape({N}) * sys.area;
  sys.sliding = (columns.sliding / rho_g)
                    .reshape({N})
                    .index_select(0, sys.columns)
                    .view({E, 4})
                    .matmul(t.phi) *
                t.weight;
  sys.rhs = sys.driving;
  if (sys.front_columns.size(0) > 0) {
    const torch::Tensor profile =
        columns.profile.defined()
            ? columns.profile.reshape({N, p.nz}).index_select(0, sys.front_columns)
            : torch::ones({sys.front_columns.size(0), p.nz}, sys.driving.options());
    sys.rhs =
        sys.rhs.index_add(0, sys.front_columns, (sys.front_push * profile.unsqueeze(2)).sum(1));
  }
  sys.rhs = sys.rhs * sys.free.unsqueeze(1);
}

/// glen_gauss: the no-slip elements' coefficients at their Gauss points
/// (gauss_shear.hpp) in place of their corners': the element's membrane
/// coefficient, its shear as a consistent friction matrix, and each
/// corner's lumped no-slip friction on the rest of its area only (its
/// definite_share/F2, on all of it).
void apply_gauss_shear(System& sys, const detail::GaussShear& gs,
                       const detail::GaussShearCoefficients& c, const Columns& columns,
                       const torch::Tensor& no_slip, double rho_g) {
  const int64_t N = sys.free.size(0);
  if (gs.elements.size(0) == 0) return;
  const double area = sys.tables.weight;
  sys.k = sys.k.index_copy(0, gs.elements, c.membrane / rho_g);
  sys.sliding = sys.sliding.index_copy(0, gs.elements, c.stiffness * (area / rho_g));
  // 1/F2 of the no-slip columns (their lumped is (1 + definite_share)/F2).
  const torch::Tensor shear = columns.lumped.reshape({N}) / (1 + detail::definite_share) * no_slip;
  sys.friction = sys.friction - shear * gs.elements_around * (area / rho_g);
}

/// The system of `p` with the coefficients `columns`, differentiable with
/// respect to the geometry and parameters that they and `g` carry.
System build_system(const TorchBPPatch& p, const Geometry& g, const Columns& columns) {
  System sys = system_geometry(p, g);
  set_coefficients(sys, p, columns);
  return sys;
}

/// The data of the CPU loops' Picard updates (glen_update_cpu.hpp) of `p`.
detail::GlenColumnData glen_column_data(const TorchBPPatch& p, const Geometry& g,
                                        const Levels& lv) {
  const int64_t N = int64_t(p.nx) * p.ny;
  const auto column = [&](const torch::Tensor& t) {
    return t.detach().to(torch::kCPU, torch::kFloat64).reshape({N}).contiguous();
  };
  const ElementTables t = element_tables(p.dx, p.dy, torch::kCPU);
  detail::GlenColumnData d;
  d.corners = g.corners.detach().to(torch::kCPU).contiguous();
  d.dphi_dx = t.dphi_dx.contiguous();
  d.dphi_dy = t.dphi_dy.contiguous();
  d.icy = column(g.icy);
  d.bed_free = column(g.bed_free);
  d.H = column(g.H);
  d.H_min = column(g.H_min);
  d.beta2 = column(g.beta2);
  d.sx = column(icy_difference(g.s, g.icy, 1, p.dx));
  d.sy = column(icy_difference(g.s, g.icy, 0, p.dy));
  d.Hx = column(icy_difference(g.H, g.icy, 1, p.dx));
  d.Hy = column(icy_difference(g.H, g.icy, 0, p.dy));
  d.log_half_hardness = torch::log(0.5 * lv.hardness.detach().to(torch::kCPU, torch::kFloat64))
                            .reshape({N, -1})
                            .contiguous();
  d.zeta = to_vector(lv.zeta);
  d.weight = to_vector(lv.weight);
  d.glen_exponent = p.constants.glen_exponent;
  d.regularisation2 = p.constants.regularisation2;
  return d;
}

/// The implicit-differentiation step: forward, a zero of the residual's
/// shape (the residual is already below the tolerance); backward, A^-1 times
/// the incoming gradient, so that ubar* - ImplicitSolve(r(ubar*, theta)) has
/// the derivative -A^-1 dr/dtheta of the exact solution.
struct ImplicitSolve : public torch::autograd::Function<ImplicitSolve> {
  /// `numbers`: dx, dy, ny, nx, options.max_iterations, options.tolerance.
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& residual,
                               const torch::Tensor& columns, const torch::Tensor& k,
                               const torch::Tensor& friction, const torch::Tensor& sliding,
                               const torch::Tensor& free, const std::vector<double>& numbers,
                               const std::string& preconditioner) {
    ctx->save_for_backward({columns, k, friction, sliding, free});
    ctx->saved_data["numbers"] = numbers;
    ctx->saved_data["preconditioner"] = preconditioner;
    return torch::zeros_like(residual);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    const auto saved = ctx->get_saved_variables();
    const std::vector<double> numbers = ctx->saved_data["numbers"].toDoubleVector();
    System s;
    s.columns = saved[0];
    s.k = saved[1];
    s.friction = saved[2];
    s.sliding = saved[3];
    s.free = saved[4];
    s.tables = element_tables(numbers[0], numbers[1], s.k.device());
    s.ny = int64_t(numbers[2]);
    s.nx = int64_t(numbers[3]);
    MembraneOptions o;
    o.max_iterations = int(numbers[4]);
    o.tolerance = numbers[5];
    o.preconditioner = ctx->saved_data["preconditioner"].toStringRef();
    Preconditioner preconditioner(o.preconditioner);
    const torch::Tensor lambda = conjugate_gradients(s, grad[0], o, preconditioner, nullptr);
    return {lambda,          torch::Tensor(), torch::Tensor(), torch::Tensor(),
            torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

bool geometry_requires_grad(const TorchBPPatch& p) {
  return torch::GradMode::is_enabled() && (p.thickness.requires_grad() || p.bed.requires_grad() ||
                                           p.beta2.requires_grad() || p.hardness.requires_grad());
}

} // namespace

const std::vector<std::string>& membrane_viscosities() {
  static const std::vector<std::string> names{"linear", "glen", "glen_gauss"};
  return names;
}

namespace {

bool is_glen(const MembraneOptions& options) {
  if (options.viscosity == "glen" || options.viscosity == "glen_gauss") return true;
  if (options.viscosity == "linear") return false;
  throw Error("membrane reference: unknown viscosity '" + options.viscosity +
              "' (linear, glen or glen_gauss)");
}

/// membrane_velocity, with the glen viscosity of its last system in
/// `viscosity` (if given; undefined for linear).
torch::Tensor solve_membrane(const TorchBPPatch& patch, const MembraneOptions& options,
                             MembraneReport* report, torch::Tensor* viscosity) {
  const bool glen = is_glen(options);
  const Geometry g = geometry(patch);
  torch::Tensor eta;
  const Columns linear = linear_columns(patch, g, &eta);
  const auto detached = [](System s) {
    for (torch::Tensor* t : {&s.k, &s.friction, &s.sliding, &s.rhs}) *t = t->detach();
    return s;
  };
  torch::Tensor x;
  if (options.initial_guess.defined()) {
    if (options.initial_guess.sizes() != torch::IntArrayRef({patch.ny, patch.nx, 2}))
      throw Error("membrane reference: the first guess is not [ny, nx, 2] = [" +
                  std::to_string(patch.ny) + ", " + std::to_string(patch.nx) + ", 2]");
    x = options.initial_guess.detach()
            .to(g.H.device(), torch::kFloat64)
            .reshape({int64_t(patch.ny) * patch.nx, 2});
  }
  MembraneReport total;
  Preconditioner preconditioner(options.preconditioner);
  const auto solve = [&](const System& sys, double reduction) {
    MembraneReport one;
    x = conjugate_gradients(sys, sys.rhs, options, preconditioner, &one, x, reduction);
    total.iterations += one.iterations;
    total.multigrid_builds += one.multigrid_builds;
    total.residual = one.residual;
    total.converged = one.converged;
  };
  // Linear: one solve. Glen: the linear solve (unless given a first guess),
  // then Picard iterations with the viscosity of the last velocity.
  System live;
  if (!glen) {
    live = build_system(patch, g, linear);
    solve(detached(live), 0);
  } else {
    const torch::NoGradGuard no_grad;
    if (!x.defined()) solve(build_system(patch, g, linear), 0);
    const Levels lv = levels(patch);
    const int64_t L = lv.weight.size(0);
    if (options.initial_viscosity.defined()) {
      if (options.initial_viscosity.sizes() != torch::IntArrayRef({patch.ny, patch.nx, L}))
        throw Error("membrane reference: the first viscosity is not [ny, nx, L] = [" +
                    std::to_string(patch.ny) + ", " + std::to_string(patch.nx) + ", " +
                    std::to_string(L) + "]");
      eta = options.initial_viscosity.detach().to(g.H.device(), torch::kFloat64);
    } else {
      eta = eta.detach().unsqueeze(2).expand({patch.ny, patch.nx, L}).contiguous();
    }
    // The Picard updates: plain loops on the CPU, LibTorch operations elsewhere.
    const bool loops = options.cpu_loops && g.H.device().is_cpu();
    const detail::GlenColumnData data =
        loops ? glen_column_data(patch, g, lv) : detail::GlenColumnData{};
    System sys = system_geometry(patch, g); // the coefficients: each iteration's
    // glen_gauss: the no-slip elements at their Gauss points.
    const bool gauss = options.viscosity == "glen_gauss";
    torch::Tensor no_slip; // [N] 1 on icy columns frozen to the bed
    detail::GaussShear gs;
    if (gauss) {
      no_slip = (g.icy * (1 - g.bed_free)).reshape({-1});
      const int64_t N = int64_t(patch.nx) * patch.ny;
      const ElementTables& t = sys.tables;
      gs = detail::gauss_shear(patch.element_columns, no_slip, g.H.reshape({N}), g.s.reshape({N}),
                               patch.constants.minimum_thickness, 0.5 * lv.hardness.reshape({N, L}),
                               eta.reshape({N, L}), t.phi, t.dphi_dx, t.dphi_dy, lv.zeta, lv.weight,
                               patch.constants.glen_exponent, patch.constants.regularisation2);
    }
    double relaxation = 1.5, last_change = HUGE_VAL;
    bool exact = true; // the last solve went to the tolerance
    for (int k = 0; k < options.picard_iterations; ++k) {
      const torch::Tensor before = x, ubar = x.view({patch.ny, patch.nx, 2});
      Columns columns;
      if (loops) {
        // The fronts push against the profile.
        const bool fronts = patch.front_columns.size(0) > 0;
        const detail::GlenCoefficients c =
            detail::glen_update_cpu(data, x, eta, relaxation, fronts);
        eta = c.eta.view({patch.ny, patch.nx, L});
        columns.eta_H = c.eta_H;
        columns.lumped = c.lumped;
        columns.sliding = c.sliding;
        if (fronts) columns.profile = c.profile.view({patch.ny, patch.nx, L + 1});
      } else {
        const torch::Tensor S = slope_factor(patch, g, lv, ubar);
        eta = glen_update(patch, g, lv, ubar, eta, S, relaxation);
        columns = glen_columns(g, lv, eta, S);
      }
      set_coefficients(sys, patch, columns);
      if (gauss)
        apply_gauss_shear(sys, gs, detail::gauss_shear_update(gs, x, relaxation, loops), columns,
                          no_slip, patch.constants.rho_g);
      // Inexact Picard: the solve reduces its residual by picard_forcing only.
      solve(sys, options.picard_forcing);
      exact = total.residual <= options.tolerance;
      total.picard = k + 1;
      double change = (x - before).abs().max().item<double>();
      if (change <= options.picard_tolerance * x.abs().max().item<double>() && !exact) {
        solve(sys, 0); // converged only on a solve to the tolerance
        exact = true;
        change = (x - before).abs().max().item<double>();
      }
      if (change <= options.picard_tolerance * x.abs().max().item<double>()) break;
      // Oscillating: relax less (down to half a step).
      if (change > last_change) relaxation = std::max(0.5, 0.75 * relaxation);
      last_change = change;
    }
    if (!exact) solve(sys, 0); // the answer solves its system (the derivatives assume it)
    // The last system, its viscosity held fixed, carries the derivatives.
    const torch::AutoGradMode grad(true);
    const torch::Tensor S = slope_factor(patch, g, lv, x.view({patch.ny, patch.nx, 2}));
    const Columns columns = glen_columns(g, lv, eta, S);
    live = build_system(patch, g, columns);
    if (gauss)
      apply_gauss_shear(live, gs, detail::gauss_shear_coefficients(gs, x), columns, no_slip,
                        patch.constants.rho_g);
    if (viscosity) *viscosity = eta;
  }
  if (report) *report = total;
  torch::Tensor ubar = x;
  if (geometry_requires_grad(patch)) {
    const System sys = detached(live);
    const torch::Tensor residual = apply(live, x) - live.rhs;
    const std::vector<double> numbers{patch.dx,
                                      patch.dy,
                                      double(patch.ny),
                                      double(patch.nx),
                                      double(options.max_iterations),
                                      options.tolerance};
    ubar = x - ImplicitSolve::apply(residual, sys.columns, sys.k, sys.friction, sys.sliding,
                                    sys.free, numbers, options.preconditioner);
  }
  return ubar.view({patch.ny, patch.nx, 2}).to(patch.options());
}

} // namespace

torch::Tensor membrane_velocity(const TorchBPPatch& patch, const MembraneOptions& options,
                                MembraneReport* report) {
  is_glen(options); // checks the name
  if (patch.membrane.defined()) {
    if (report) *report = MembraneReport{0, 0, 0, true};
    return patch.membrane;
  }
  return solve_membrane(patch, options, report, nullptr);
}

namespace {

/// The columns for `options`: linear, or glen with the velocity and
/// viscosity of the membrane solve (the patch's cache, or a solve).
Columns columns_for(const TorchBPPatch& p, const MembraneOptions& options) {
  const Geometry g = geometry(p);
  if (!is_glen(options)) return linear_columns(p, g, nullptr);
  torch::Tensor viscosity = p.membrane_viscosity, ubar = p.membrane;
  if (!viscosity.defined() || !ubar.defined())
    ubar = solve_membrane(p, options, nullptr, &viscosity);
  const Levels lv = levels(p);
  return glen_columns(g, lv, viscosity, slope_factor(p, g, lv, ubar.to(torch::kFloat64)));
}

} // namespace

void cache_membrane(TorchBPPatch& patch, const MembraneOptions& options, MembraneReport* report) {
  torch::Tensor viscosity;
  patch.membrane = torch::Tensor();
  patch.membrane_viscosity = torch::Tensor();
  const torch::Tensor ubar = solve_membrane(patch, options, report, &viscosity);
  patch.membrane = ubar;
  patch.membrane_viscosity = viscosity;
}

torch::Tensor membrane_deformation_share(const TorchBPPatch& patch,
                                         const MembraneOptions& options) {
  return columns_for(patch, options).share.to(patch.options());
}

torch::Tensor membrane_profile(const TorchBPPatch& patch, const MembraneOptions& options) {
  return columns_for(patch, options).profile.to(patch.options());
}

torch::Tensor membrane_velocity_3d(const TorchBPPatch& patch, const MembraneOptions& options) {
  TorchBPPatch solved; // one solve for the velocity and the profile
  const bool solve = !patch.membrane.defined();
  if (solve) {
    solved = patch;
    cache_membrane(solved, options);
  }
  const TorchBPPatch& p = solve ? solved : patch;
  return membrane_velocity(p, options).unsqueeze(2) * membrane_profile(p, options).unsqueeze(3) *
         p.free_nodes.unsqueeze(3);
}

} // namespace nunatak::emulator

namespace nunatak::emulator {

namespace {
/// The system of the cached membrane reference of `p` at its cached column
/// viscosity, and its columns, without derivatives. For glen_gauss the
/// no-slip elements' Gauss-point viscosity starts again from the columns'
/// (the Picard iterations' own is not cached), so the system is close to
/// the last Picard system, not equal to it: a preconditioner, which the
/// line search makes safe.
System reference_system(const TorchBPPatch& p, const MembraneOptions& options, Columns* out,
                        torch::Tensor* viscosity) {
  const torch::NoGradGuard no_grad;
  const Geometry g = geometry(p);
  const Levels lv = levels(p);
  const int64_t L = lv.weight.size(0), N = int64_t(p.nx) * p.ny;
  if (!is_glen(options)) {
    torch::Tensor eta;
    *out = linear_columns(p, g, &eta);
    *viscosity = eta.unsqueeze(2).expand({p.ny, p.nx, L});
    return build_system(p, g, *out);
  }
  const torch::Tensor eta = p.membrane_viscosity.detach().to(torch::kFloat64);
  *viscosity = eta;
  const torch::Tensor x = p.membrane.detach().to(torch::kFloat64).reshape({N, 2});
  *out = glen_columns(g, lv, eta, slope_factor(p, g, lv, x.view({p.ny, p.nx, 2})));
  System sys = build_system(p, g, *out);
  if (options.viscosity == "glen_gauss") {
    const torch::Tensor no_slip = (g.icy * (1 - g.bed_free)).reshape({-1});
    const detail::GaussShear gs = detail::gauss_shear(
        p.element_columns, no_slip, g.H.reshape({N}), g.s.reshape({N}),
        p.constants.minimum_thickness, 0.5 * lv.hardness.reshape({N, L}), eta.reshape({N, L}),
        sys.tables.phi, sys.tables.dphi_dx, sys.tables.dphi_dy, lv.zeta, lv.weight,
        p.constants.glen_exponent, p.constants.regularisation2);
    apply_gauss_shear(sys, gs, detail::gauss_shear_coefficients(gs, x), *out, no_slip,
                      p.constants.rho_g);
  }
  return sys;
}

/// The column smoother's matrices: per column and velocity component, the
/// tridiagonal [N, nz, 2] (sub, diagonal, super; rows of fixed nodes the
/// identity) of the Picard form of the BP energy's vertical shear,
/// sum over layers of eta_l area (du)(dv) / (dz_l rho g), plus the basal
/// friction beta^2 area / (rho g) where the bed slides, plus each node's
/// share (its vertical quadrature weight) of the membrane reference's
/// diagonal A_ii, which stands for the coupling to the neighbours and makes
/// a floating column's matrix definite.
struct ColumnMatrices {
  torch::Tensor lower, diagonal, upper;
};

ColumnMatrices column_matrices(const TorchBPPatch& p, const System& sys,
                               const torch::Tensor& viscosity, const ColumnTie& tie) {
  const Geometry g = geometry(p);
  const int64_t N = int64_t(p.nx) * p.ny, nz = p.nz, L = nz - 1;
  const torch::Tensor sigma = p.sigma.to(torch::kFloat64);
  const torch::Tensor dsigma = sigma.narrow(0, 1, L) - sigma.narrow(0, 0, L); // [L]
  const double rho_g = p.constants.rho_g;
  const torch::Tensor area = sys.area.view({N, 1});
  const torch::Tensor c = viscosity.reshape({N, L}) * area /
                          (g.H_min.reshape({N, 1}) * dsigma.view({1, L}) * rho_g); // [N, L]
  const torch::Tensor zero = torch::zeros({N, 1}, c.options());
  torch::Tensor diagonal = torch::cat({c, zero}, 1) + torch::cat({zero, c}, 1); // [N, nz]
  // Free nodes: those of some element (a periodic patch's unreached ghost
  // columns are not), folded onto the partners.
  const torch::Tensor free = tie.fold_mask(p.free_nodes.to(torch::kFloat64).reshape({N, nz}) *
                                               sys.area.gt(0).to(torch::kFloat64).view({N, 1}),
                                           0);
  // Friction on a sliding base (the patch's fixed bed nodes are identity rows below).
  diagonal.select(1, 0).add_(g.beta2.reshape({N}) * sys.area / rho_g);
  // The membrane diagonal shared over the nodes by their quadrature weights.
  const torch::Tensor w = 0.5 * (torch::cat({dsigma, torch::zeros({1}, dsigma.options())}) +
                                 torch::cat({torch::zeros({1}, dsigma.options()), dsigma}));
  const torch::Tensor a = detail::stencil_diagonal(assemble_stencil(sys)).t(); // [N, 2]
  // A ghost column's rows are added into its partner's.
  torch::Tensor d = tie.fold(diagonal.unsqueeze(2) + w.view({1, nz, 1}) * a.view({N, 1, 2}), 0);
  d = d * free.unsqueeze(2) + (1 - free.unsqueeze(2));
  const torch::Tensor off =
      tie.fold(-torch::cat({c, zero}, 1).unsqueeze(2).expand({N, nz, 2}), 0); // (k, k+1)
  ColumnMatrices m;
  m.upper = off * free.unsqueeze(2);
  m.lower = torch::cat({torch::zeros({N, 1, 2}, c.options()), off.narrow(1, 0, L)}, 1) *
            free.unsqueeze(2);
  m.diagonal = d;
  return m;
}

/// Solves the column systems of `m` for `rhs` [N, nz, 2] (Thomas' algorithm,
/// all columns at once).
torch::Tensor solve_columns(const ColumnMatrices& m, const torch::Tensor& rhs) {
  const int64_t nz = rhs.size(1);
  std::vector<torch::Tensor> cp(static_cast<size_t>(nz)), dp(static_cast<size_t>(nz));
  cp[0] = m.upper.select(1, 0) / m.diagonal.select(1, 0);
  dp[0] = rhs.select(1, 0) / m.diagonal.select(1, 0);
  for (int64_t k = 1; k < nz; ++k) {
    const torch::Tensor a = m.lower.select(1, k);
    const torch::Tensor denominator = m.diagonal.select(1, k) - a * cp[size_t(k - 1)];
    cp[size_t(k)] = m.upper.select(1, k) / denominator;
    dp[size_t(k)] = (rhs.select(1, k) - a * dp[size_t(k - 1)]) / denominator;
  }
  std::vector<torch::Tensor> x(static_cast<size_t>(nz));
  x[size_t(nz - 1)] = dp[size_t(nz - 1)];
  for (int64_t k = nz - 2; k >= 0; --k)
    x[size_t(k)] = dp[size_t(k)] - cp[size_t(k)] * x[size_t(k + 1)];
  return torch::stack(x, 1);
}
} // namespace

namespace detail {

struct RefinementLevels::Impl {
  System sys;
  ColumnTie tie;
  ColumnMatrices columns;
  Preconditioner preconditioner;
  MembraneOptions options;
  torch::Tensor q;            ///< [ny, nx, nz] each column's profile at free nodes (spread)
  torch::Tensor free_nodes;   ///< [ny, nx, nz, 1]
  torch::Tensor free_columns; ///< [N, 1] the coarse unknowns (folded)
  int64_t ny = 0, nx = 0, nz = 0;

  Impl(TorchBPPatch& p, const MembraneOptions& o) : preconditioner(o.preconditioner), options(o) {
    const torch::NoGradGuard no_grad;
    if (!p.membrane.defined() || (is_glen(o) && !p.membrane_viscosity.defined()))
      cache_membrane(p, o);
    Columns c;
    torch::Tensor viscosity;
    sys = reference_system(p, o, &c, &viscosity);
    tie = ColumnTie{p.column_partner};
    columns = column_matrices(p, sys, viscosity, tie);
    ny = p.ny;
    nx = p.nx;
    nz = p.nz;
    free_nodes = p.free_nodes.to(torch::kFloat64).unsqueeze(3);
    q = spread(c.profile.to(torch::kFloat64) * p.free_nodes.to(torch::kFloat64));
    free_columns = tie.fold_mask(sys.free, 0).unsqueeze(1);
  }

  torch::Tensor spread(const torch::Tensor& x) const {
    return tie.spread(x.reshape({ny * nx, nz, -1}), 0).view(x.sizes());
  }
  /// A force's sum along each column's profile, [N, 2].
  torch::Tensor column_force(const torch::Tensor& g) const {
    return (g * q.unsqueeze(3)).sum(2).reshape({ny * nx, 2});
  }
};

RefinementLevels::RefinementLevels(TorchBPPatch& patch, const MembraneOptions& options)
    : m(std::make_unique<Impl>(patch, options)) {}

RefinementLevels::~RefinementLevels() = default;

torch::Tensor RefinementLevels::fold(const torch::Tensor& x) const {
  return m->tie.fold(x.reshape({m->ny * m->nx, m->nz, -1}), 0).view(x.sizes());
}

torch::Tensor RefinementLevels::spread(const torch::Tensor& x) const {
  return m->spread(x);
}

torch::Tensor RefinementLevels::coarse(const torch::Tensor& g, double reduction) {
  const torch::NoGradGuard no_grad;
  return m->spread(conjugate_gradients(m->sys, m->column_force(g), m->options, m->preconditioner,
                                       nullptr, {}, reduction, m->tie)
                       .view({m->ny, m->nx, 1, 2}) *
                   m->q.unsqueeze(3));
}

torch::Tensor RefinementLevels::smoother(const torch::Tensor& g) const {
  const torch::NoGradGuard no_grad;
  return m->spread(solve_columns(m->columns, g.reshape({m->ny * m->nx, m->nz, 2}))
                       .view({m->ny, m->nx, m->nz, 2}) *
                   m->free_nodes);
}

double RefinementLevels::column_residual(const torch::Tensor& g) const {
  return torch::sqrt((m->column_force(g) * m->free_columns).pow(2).sum()).item<double>();
}

} // namespace detail

} // namespace nunatak::emulator
