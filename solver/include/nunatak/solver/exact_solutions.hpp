#pragma once
/// \file exact_solutions.hpp
/// Exact solutions of the isothermal SIA on a flat bed (Bueler et al. 2005,
/// J. Glaciol. 51(173), 291-306), for verification.
///
/// Similarity family (tests B and C), Gamma = 2 A (rho g)^n / (n + 2):
///   H(t, r) = H0 (t/t0)^(-alpha) [1 - ((t/t0)^(-beta) r / R0)^((n+1)/n)]^(n/(2n+1))
///   alpha = (2 - (n+1) lambda) / (5n + 3),  beta = (1 + (2n+1) lambda) / (5n + 3)
///   t0 = (beta / Gamma) ((2n+1)/(n+1))^n R0^(n+1) / H0^(2n+1),  M = lambda H / t.
/// Test B (Halfar dome): lambda = 0, run from t0 (422.45 a) for 25 000 a.
/// Test C: lambda = 5, run from t = 0 (no ice) to t0 = 15 208 a, when the
/// sheet reaches H0 and R0 (as PISM runs it: `-test C -y 15208`).
/// Test A (steady, Vialov profile): H(r) = C (L^((n+1)/n) - r^((n+1)/n))^(n/(2n+2))
///   for r < L, C = (2^(n-1) M0 / Gamma)^(1/(2n+2)) (n = 3: exponents 4/3, 3/8, 1/8),
///   accumulation M0 inside r < L.
/// SI units: t in s, r and H in m, M in m s^-1 of ice, A in Pa^-3 s^-1.

#include "nunatak/core/constants.hpp"

namespace nunatak::solver {

/// Constants of Bueler's tests (defaults: n = 3, A = 1e-16 Pa^-3 a^-1).
struct ExactParams {
  double n = 3.0;
  double softness = 1e-16 / core::seconds_per_year; ///< A, Pa^-n s^-1
  double ice_density = 910.0;
  double gravity = 9.81;
  double H0 = 3600.0;                       ///< dome height at t0, m
  double R0 = 750.0e3;                      ///< margin radius at t0, m
  double lambda = 0.0;                      ///< 0: test B, 5: test C
  double M0 = 0.3 / core::seconds_per_year; ///< test A accumulation, m s^-1
  double L = 750.0e3;                       ///< test A margin radius, m
};

/// Gamma = 2 A (rho g)^n / (n + 2).
double exact_gamma(const ExactParams& p);
/// t0 of the similarity solution, s.
double similarity_t0(const ExactParams& p);
/// Thickness of the similarity solution at time t (s) and radius r (m).
double similarity_thickness(const ExactParams& p, double t, double r);
/// Accumulation of the similarity solution, lambda H / t, m s^-1 of ice (its
/// t -> 0 limit, lambda H0 / t0 in the initial disc, below t = 0.1 year).
double similarity_accumulation(const ExactParams& p, double t, double r);
/// Test A (steady) thickness at radius r.
double test_a_thickness(const ExactParams& p, double r);
/// Test A accumulation: M0 inside r < L, `ablation` (m s^-1, negative) outside.
double test_a_accumulation(const ExactParams& p, double r, double ablation);

} // namespace nunatak::solver
