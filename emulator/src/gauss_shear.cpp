/// \file gauss_shear.cpp
/// The glen_gauss reference's no-slip elements at their Gauss points
/// (gauss_shear.hpp, where the equations are): set-up, the Picard update in
/// plain CPU loops and in LibTorch operations, and the differentiable
/// coefficients.

#include "gauss_shear.hpp"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <cmath>
#include <vector>

namespace nunatak::emulator::detail {

namespace {

/// The points' velocity, membrane strain rate and slope factor for ubar.
struct PointState {
  torch::Tensor u, v;  ///< [M, 4] ubar at the points
  torch::Tensor em2;   ///< [M, 4] e_m^2
  torch::Tensor speed; ///< [M, 4] |ubar|
  torch::Tensor S;     ///< [M, 4, L]
};

PointState point_state(const GaussShear& gs, const torch::Tensor& ubar) {
  const int64_t M = gs.H.size(0);
  const torch::Tensor xe = ubar.index_select(0, gs.corners).view({M, 4, 2});
  const torch::Tensor u = xe.select(2, 0), v = xe.select(2, 1);
  PointState p;
  p.u = u.matmul(gs.phi);
  p.v = v.matmul(gs.phi);
  const torch::Tensor ux = u.matmul(gs.dphi_dx), uy = u.matmul(gs.dphi_dy);
  const torch::Tensor vx = v.matmul(gs.dphi_dx), vy = v.matmul(gs.dphi_dy);
  p.em2 = ux * ux + vy * vy + ux * vy + 0.25 * (uy + vx).pow(2);
  p.speed = torch::sqrt(p.u * p.u + p.v * p.v + 1e-30);
  const torch::Tensor zx = gs.sx.unsqueeze(2) - gs.zeta * gs.Hx.unsqueeze(2);
  const torch::Tensor zy = gs.sy.unsqueeze(2) - gs.zeta * gs.Hy.unsqueeze(2);
  const torch::Tensor along =
      (zx * p.u.unsqueeze(2) + zy * p.v.unsqueeze(2)) / p.speed.unsqueeze(2);
  p.S = 1 + zx * zx + zy * zy + 3 * along * along;
  return p;
}

/// u_l / ubar at the layer midpoints ([M, 4, L], mean 1) of the shear
/// zeta/(S eta) integrated from the bed.
torch::Tensor point_profile(const GaussShear& gs, const torch::Tensor& eta,
                            const torch::Tensor& S) {
  const int64_t L = gs.weight.size(0);
  const torch::Tensor rise = gs.weight * gs.zeta / (eta * S);
  const torch::Tensor nodes =
      torch::cat({torch::zeros_like(rise.narrow(2, 0, 1)), rise.cumsum(2)}, 2);
  const torch::Tensor mid = 0.5 * (nodes.narrow(2, 0, L) + nodes.narrow(2, 1, L));
  return mid / (gs.weight * mid).sum(2, true);
}

GaussShearCoefficients coefficients_of(const GaussShear& gs, const torch::Tensor& eta,
                                       const torch::Tensor& S) {
  const torch::Tensor F2 = gs.H * (gs.weight * gs.zeta * gs.zeta / (eta * S)).sum(2);
  const torch::Tensor p = point_profile(gs, eta, S);
  return {1 / F2, (2 * gs.H * (gs.weight * eta * p * p).sum(2)).mean(1)};
}

GaussShearCoefficients update_ops(GaussShear& gs, const torch::Tensor& ubar, double r) {
  const PointState p = point_state(gs, ubar);
  const double n = gs.glen_exponent;
  const torch::Tensor F2 = gs.H * (gs.weight * gs.zeta * gs.zeta / (gs.eta * p.S)).sum(2);
  const torch::Tensor tau_b = p.speed / F2;
  const torch::Tensor shear = tau_b.unsqueeze(2) * gs.zeta / (gs.eta * p.S);
  const torch::Tensor profile = point_profile(gs, gs.eta, p.S);
  const torch::Tensor e2 =
      profile * profile * p.em2.unsqueeze(2) + 0.25 * p.S * shear * shear + gs.regularisation2;
  const torch::Tensor updated =
      torch::exp(gs.log_half_hardness + (1 - n) / (2 * n) * torch::log(e2));
  gs.eta = gs.eta * torch::pow(updated / gs.eta, r);
  return coefficients_of(gs, gs.eta, p.S);
}

GaussShearCoefficients update_cpu(GaussShear& gs, const torch::Tensor& ubar, double r) {
  const int64_t M = gs.H.size(0), L = gs.weight.size(0);
  const auto f64 = [](const torch::Tensor& t) { return t.detach().contiguous(); };
  const torch::Tensor uc = f64(ubar), phi_t = f64(gs.phi), px_t = f64(gs.dphi_dx),
                      py_t = f64(gs.dphi_dy), H_t = f64(gs.H), sx_t = f64(gs.sx), sy_t = f64(gs.sy),
                      Hx_t = f64(gs.Hx), Hy_t = f64(gs.Hy), log_B_t = f64(gs.log_half_hardness),
                      corners_t = gs.corners.contiguous();
  gs.eta = gs.eta.contiguous();
  const std::vector<double> zeta(gs.zeta.data_ptr<double>(), gs.zeta.data_ptr<double>() + L);
  const std::vector<double> w(gs.weight.data_ptr<double>(), gs.weight.data_ptr<double>() + L);
  const auto o = torch::TensorOptions().dtype(torch::kFloat64);
  GaussShearCoefficients out{torch::empty({M, 4}, o), torch::empty({M}, o)};
  const double* u = uc.data_ptr<double>();
  const int64_t* corner = corners_t.data_ptr<int64_t>();
  const double *phi = phi_t.data_ptr<double>(), *px = px_t.data_ptr<double>(),
               *py = py_t.data_ptr<double>(), *H = H_t.data_ptr<double>(),
               *sx = sx_t.data_ptr<double>(), *sy = sy_t.data_ptr<double>(),
               *Hx = Hx_t.data_ptr<double>(), *Hy = Hy_t.data_ptr<double>(),
               *log_half_B = log_B_t.data_ptr<double>();
  double *eta = gs.eta.data_ptr<double>(), *stiffness = out.stiffness.data_ptr<double>(),
         *membrane = out.membrane.data_ptr<double>();
  const double power = (1 - gs.glen_exponent) / (2 * gs.glen_exponent), e0 = gs.regularisation2;
  // Elements in parallel on LibTorch's threads (each writes its own points).
  at::parallel_for(0, M, 512, [&](int64_t first, int64_t last) {
    std::vector<double> S(static_cast<size_t>(L)), p(static_cast<size_t>(L));
    // The profile p of eta at the midpoints, mean 1 (point_profile).
    const auto profile = [&](const double* eta_q) {
      double node = 0, mean = 0;
      for (int64_t l = 0; l < L; ++l) {
        const double rise = w[size_t(l)] * zeta[size_t(l)] / (eta_q[l] * S[size_t(l)]);
        p[size_t(l)] = node + 0.5 * rise;
        node += rise;
        mean += w[size_t(l)] * p[size_t(l)];
      }
      for (int64_t l = 0; l < L; ++l) p[size_t(l)] /= mean;
    };
    for (int64_t m = first; m < last; ++m) {
      const int64_t* c = corner + 4 * m;
      double element_membrane = 0;
      for (int q = 0; q < 4; ++q) {
        double uq = 0, vq = 0, ux = 0, uy = 0, vx = 0, vy = 0;
        for (int k = 0; k < 4; ++k) {
          const double uk = u[2 * c[k]], vk = u[2 * c[k] + 1];
          const double f = phi[4 * k + q], fx = px[4 * k + q], fy = py[4 * k + q];
          uq += uk * f;
          vq += vk * f;
          ux += uk * fx;
          uy += uk * fy;
          vx += vk * fx;
          vy += vk * fy;
        }
        const double em2 = ux * ux + vy * vy + ux * vy + 0.25 * (uy + vx) * (uy + vx);
        const double speed = std::sqrt(uq * uq + vq * vq + 1e-30);
        const int64_t point = 4 * m + q;
        double* eta_q = eta + point * L;
        double F2 = 0;
        for (int64_t l = 0; l < L; ++l) {
          const double z = zeta[size_t(l)];
          const double zx = sx[point] - z * Hx[point], zy = sy[point] - z * Hy[point];
          const double along = (zx * uq + zy * vq) / speed;
          S[size_t(l)] = 1 + zx * zx + zy * zy + 3 * along * along;
          F2 += w[size_t(l)] * z * z / (eta_q[l] * S[size_t(l)]);
        }
        const double tau_b = speed / (H[point] * F2);
        profile(eta_q);
        double F2_new = 0;
        for (int64_t l = 0; l < L; ++l) {
          const double z = zeta[size_t(l)], Sl = S[size_t(l)], pl = p[size_t(l)];
          const double shear = tau_b * z / (eta_q[l] * Sl);
          const double e2 = pl * pl * em2 + 0.25 * Sl * shear * shear + e0;
          // eta (B/2 e2^power / eta)^r, in logarithms.
          eta_q[l] = std::exp((1 - r) * std::log(eta_q[l]) +
                              r * (log_half_B[point * L + l] + power * std::log(e2)));
          F2_new += w[size_t(l)] * z * z / (eta_q[l] * Sl);
        }
        stiffness[point] = 1 / (H[point] * F2_new);
        profile(eta_q);
        double integral = 0;
        for (int64_t l = 0; l < L; ++l)
          integral += w[size_t(l)] * eta_q[l] * p[size_t(l)] * p[size_t(l)];
        element_membrane += 0.25 * 2 * H[point] * integral;
      }
      membrane[m] = element_membrane;
    }
  });
  return out;
}

} // namespace

GaussShear gauss_shear(const torch::Tensor& element_corners, const torch::Tensor& no_slip,
                       const torch::Tensor& H, const torch::Tensor& s, double minimum_thickness,
                       const torch::Tensor& half_hardness, const torch::Tensor& eta_columns,
                       const torch::Tensor& phi, const torch::Tensor& dphi_dx,
                       const torch::Tensor& dphi_dy, const torch::Tensor& zeta,
                       const torch::Tensor& weight, double glen_exponent, double regularisation2) {
  GaussShear gs;
  const int64_t E = element_corners.size(0), L = zeta.size(0);
  const torch::Tensor corner_no_slip = no_slip.index_select(0, element_corners.reshape({-1}));
  gs.elements = torch::nonzero(corner_no_slip.view({E, 4}).sum(1) > 3.5).reshape({-1});
  const int64_t M = gs.elements.size(0);
  gs.corners = element_corners.index_select(0, gs.elements).reshape({M * 4});
  gs.elements_around =
      torch::zeros_like(no_slip).index_add(0, gs.corners, torch::ones({M * 4}, no_slip.options()));
  gs.phi = phi;
  gs.dphi_dx = dphi_dx;
  gs.dphi_dy = dphi_dy;
  const auto at_corners = [&](const torch::Tensor& f) {
    return f.index_select(0, gs.corners).view({M, 4});
  };
  const torch::Tensor He = at_corners(H), se = at_corners(s);
  gs.H = torch::clamp_min(He.matmul(phi), minimum_thickness);
  gs.sx = se.matmul(dphi_dx);
  gs.sy = se.matmul(dphi_dy);
  gs.Hx = He.matmul(dphi_dx);
  gs.Hy = He.matmul(dphi_dy);
  const auto to_points = [&](const torch::Tensor& f) { // [N, L] -> [M, 4, L]
    return torch::einsum("mcl,cq->mql", {f.index_select(0, gs.corners).view({M, 4, L}), phi})
        .contiguous();
  };
  gs.log_half_hardness = torch::log(to_points(half_hardness.detach()));
  gs.eta = to_points(eta_columns.detach());
  gs.zeta = zeta;
  gs.weight = weight;
  gs.glen_exponent = glen_exponent;
  gs.regularisation2 = regularisation2;
  return gs;
}

GaussShearCoefficients gauss_shear_update(GaussShear& gs, const torch::Tensor& ubar,
                                          double relaxation, bool cpu_loops) {
  const torch::NoGradGuard no_grad;
  if (gs.elements.size(0) == 0)
    return {torch::zeros({0, 4}, ubar.options()), torch::zeros({0}, ubar.options())};
  return cpu_loops ? update_cpu(gs, ubar, relaxation) : update_ops(gs, ubar, relaxation);
}

GaussShearCoefficients gauss_shear_coefficients(const GaussShear& gs, const torch::Tensor& ubar) {
  // ubar (the flow direction in S) is held fixed, like the viscosity.
  return coefficients_of(gs, gs.eta, point_state(gs, ubar.detach()).S);
}

} // namespace nunatak::emulator::detail
