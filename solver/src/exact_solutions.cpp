#include "nunatak/solver/exact_solutions.hpp"

#include "nunatak/core/constants.hpp"

#include <cmath>

namespace nunatak::solver {

namespace {
double alpha(const ExactParams& p) {
  return (2.0 - (p.n + 1.0) * p.lambda) / (5.0 * p.n + 3.0);
}
double beta(const ExactParams& p) {
  return (1.0 + (2.0 * p.n + 1.0) * p.lambda) / (5.0 * p.n + 3.0);
}
} // namespace

double exact_gamma(const ExactParams& p) {
  return 2.0 * p.softness * std::pow(p.ice_density * p.gravity, p.n) / (p.n + 2.0);
}

double similarity_t0(const ExactParams& p) {
  const double n = p.n;
  return (beta(p) / exact_gamma(p)) * std::pow((2.0 * n + 1.0) / (n + 1.0), n) *
         std::pow(p.R0, n + 1.0) / std::pow(p.H0, 2.0 * n + 1.0);
}

double similarity_thickness(const ExactParams& p, double t, double r) {
  if (t <= 0.0) return 0.0; // the similarity solution starts from no ice
  const double n = p.n, tau = t / similarity_t0(p);
  const double x = std::pow(tau, -beta(p)) * r / p.R0;
  if (x >= 1.0) return 0.0;
  return p.H0 * std::pow(tau, -alpha(p)) *
         std::pow(1.0 - std::pow(x, (n + 1.0) / n), n / (2.0 * n + 1.0));
}

double similarity_accumulation(const ExactParams& p, double t, double r) {
  // lambda H / t -> lambda H0 / t0 inside a tiny disc as t -> 0 (test C starts
  // from no ice at t = 0); below 0.1 year use that limit, as PISM does.
  const double tiny = 0.1 * core::seconds_per_year;
  if (t > tiny) return p.lambda * similarity_thickness(p, t, r) / t;
  const double margin = p.R0 * std::pow(tiny / similarity_t0(p), beta(p));
  return r < margin ? p.lambda * p.H0 / similarity_t0(p) : 0.0;
}

double test_a_thickness(const ExactParams& p, double r) {
  if (r >= p.L) return 0.0;
  const double n = p.n, e = (n + 1.0) / n;
  const double C = std::pow(std::pow(2.0, n - 1.0) * p.M0 / exact_gamma(p), 1.0 / (2.0 * n + 2.0));
  return C * std::pow(std::pow(p.L, e) - std::pow(r, e), n / (2.0 * n + 2.0));
}

double test_a_accumulation(const ExactParams& p, double r, double ablation) {
  return r < p.L ? p.M0 : ablation;
}

} // namespace nunatak::solver
