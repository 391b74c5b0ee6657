/// \file glen_update_cpu.cpp
/// One Picard update of the glen membrane reference in plain loops
/// (glen_update_cpu.hpp; the equations are in membrane_reference.cpp).

#include "glen_update_cpu.hpp"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>

namespace nunatak::emulator::detail {

namespace {

/// e_m^2 of ubar on each column: the element means of the Gauss points'
/// membrane strain rates, averaged over the elements around the column.
std::vector<double> membrane_strain_rate2(const GlenColumnData& d, const double* u, int64_t N) {
  const int64_t E = d.corners.size(0) / 4;
  const int64_t* corner = d.corners.data_ptr<int64_t>();
  const double* px = d.dphi_dx.data_ptr<double>(); // [4 c + q]
  const double* py = d.dphi_dy.data_ptr<double>();
  std::vector<double> sum(size_t(N), 0.0), count(size_t(N), 0.0);
  for (int64_t e = 0; e < E; ++e) {
    const int64_t* c = corner + 4 * e;
    double element = 0;
    for (int q = 0; q < 4; ++q) {
      double ux = 0, uy = 0, vx = 0, vy = 0;
      for (int k = 0; k < 4; ++k) {
        const double uk = u[2 * c[k]], vk = u[2 * c[k] + 1];
        ux += uk * px[4 * k + q];
        uy += uk * py[4 * k + q];
        vx += vk * px[4 * k + q];
        vy += vk * py[4 * k + q];
      }
      element += ux * ux + vy * vy + ux * vy + 0.25 * (uy + vx) * (uy + vx);
    }
    for (int k = 0; k < 4; ++k) {
      sum[size_t(c[k])] += 0.25 * element;
      count[size_t(c[k])] += 1;
    }
  }
  for (int64_t n = 0; n < N; ++n) sum[size_t(n)] /= std::max(count[size_t(n)], 1.0);
  return sum;
}

} // namespace

GlenCoefficients glen_update_cpu(const GlenColumnData& d, const torch::Tensor& ubar,
                                 const torch::Tensor& eta, double relaxation, bool with_profile) {
  const int64_t N = d.icy.size(0), L = int64_t(d.zeta.size());
  const torch::Tensor uc = ubar.contiguous(), ec = eta.contiguous();
  const double* u = uc.data_ptr<double>();
  const double* eta_old = ec.data_ptr<double>();
  const std::vector<double> em2 = membrane_strain_rate2(d, u, N);
  const auto o = torch::TensorOptions().dtype(torch::kFloat64);
  GlenCoefficients out{torch::empty({N, L}, o), torch::empty({N}, o), torch::empty({N}, o),
                       torch::empty({N}, o), torch::Tensor()};
  double* eta_new = out.eta.data_ptr<double>();
  double *eta_H = out.eta_H.data_ptr<double>(), *sliding = out.sliding.data_ptr<double>(),
         *lumped = out.lumped.data_ptr<double>();
  if (with_profile) out.profile = torch::empty({N, L + 1}, o);
  double* profile = with_profile ? out.profile.data_ptr<double>() : nullptr;
  const double *icy = d.icy.data_ptr<double>(), *bed_free = d.bed_free.data_ptr<double>();
  const double *H = d.H.data_ptr<double>(), *H_min = d.H_min.data_ptr<double>();
  const double* beta2 = d.beta2.data_ptr<double>();
  const double *sx = d.sx.data_ptr<double>(), *sy = d.sy.data_ptr<double>();
  const double *Hx = d.Hx.data_ptr<double>(), *Hy = d.Hy.data_ptr<double>();
  const double* log_half_B = d.log_half_hardness.data_ptr<double>();
  const double n_glen = d.glen_exponent, power = (1 - n_glen) / (2 * n_glen);
  const double r = relaxation;
  // The friction on ubar for F2 (effective_friction in membrane_reference.cpp).
  const auto friction = [&](int64_t n, double F2, double& slide, double& lump) {
    const double slides = 1 - icy[n] + bed_free[n];
    slide = slides * beta2[n] / (1 + beta2[n] * F2);
    lump = (1 - slides) / F2 + definite_share / F2;
  };
  // Columns in parallel on LibTorch's threads (each writes its own
  // outputs: the same numbers on any number of threads).
  at::parallel_for(0, N, 4096, [&](int64_t first, int64_t last) {
    std::vector<double> S(static_cast<size_t>(L));
    for (int64_t n = first; n < last; ++n) {
      const double un = u[2 * n], vn = u[2 * n + 1];
      const double speed = std::sqrt(un * un + vn * vn + 1e-30);
      const double* eta_n = eta_old + n * L;
      double F2 = 0;
      for (int64_t l = 0; l < L; ++l) {
        const double z = d.zeta[size_t(l)];
        const double zx = sx[n] - z * Hx[n], zy = sy[n] - z * Hy[n];
        const double along = (zx * un + zy * vn) / speed;
        S[size_t(l)] = 1 + zx * zx + zy * zy + 3 * along * along;
        F2 += d.weight[size_t(l)] * z * z / (eta_n[l] * S[size_t(l)]);
      }
      double slide = 0, lump = 0;
      friction(n, H_min[n] * F2, slide, lump);
      const double tau_b = (slide + lump) * speed;
      double F2_new = 0, integral = 0;
      for (int64_t l = 0; l < L; ++l) {
        const double z = d.zeta[size_t(l)], Sl = S[size_t(l)];
        const double shear = tau_b * z / (eta_n[l] * Sl);
        const double e2 = em2[size_t(n)] + 0.25 * Sl * shear * shear + d.regularisation2;
        // eta (B/2 e2^power / eta)^r, in logarithms: three functions, not four.
        const double e = std::exp((1 - r) * std::log(eta_n[l]) +
                                  r * (log_half_B[n * L + l] + power * std::log(e2)));
        eta_new[n * L + l] = e;
        F2_new += d.weight[size_t(l)] * z * z / (e * Sl);
        integral += d.weight[size_t(l)] * e;
      }
      eta_H[n] = H[n] * integral;
      friction(n, H_min[n] * F2_new, sliding[n], lumped[n]);
      if (profile) {
        const double beta_e = sliding[n] + lumped[n];
        double* p = profile + n * (L + 1);
        p[0] = 1 - std::min(beta_e * H_min[n] * F2_new, 1.0);
        for (int64_t l = 0; l < L; ++l)
          p[l + 1] = p[l] + beta_e * H_min[n] * d.weight[size_t(l)] * d.zeta[size_t(l)] /
                                (eta_new[n * L + l] * S[size_t(l)]);
      }
    }
  });
  return out;
}

} // namespace nunatak::emulator::detail
