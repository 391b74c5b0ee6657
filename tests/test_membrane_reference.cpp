// The emulator's membrane reference (emulator/membrane_reference.hpp), linear
// and glen viscosity, against exact solutions: a uniform slab on an incline
// gives Glen's depth-averaged shallow-ice speed (plus tau/beta^2 where it
// slides) and, with its profile, the shallow-ice surface speed (linear), or
// the first-order slab's, whose deformation is S^2 times slower (glen); a floating
// slab spreads at the rate of the plane-stress balance of its front pressure
// (Newtonian, and Glen's law); the implicit (adjoint) gradient with respect to
// thickness equals central differences (linear; glen, which holds the
// viscosity fixed, points the same way); a `membrane` network with zero
// weights returns the reference; the shipped model loads and keeps a uniform
// slab near Glen's shallow-ice velocity; the conjugate gradients'
// preconditioners (Jacobi, multigrid) agree, and so do the Picard updates'
// CPU loops and LibTorch operations.
#include "bumpy_glacier.hpp"
#include "nunatak/core/error.hpp"
#include "nunatak/emulator/membrane_reference.hpp"
#include "nunatak/emulator/network.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

using namespace nunatak;
using namespace nunatak::emulator;
using nunatak::core::BPConstants;

namespace {

constexpr double softness = 1e-16; // Pa^-3 a^-1

std::vector<double> uniform_levels(int nz) {
  std::vector<double> sigma(static_cast<size_t>(nz));
  for (int k = 0; k < nz; ++k) sigma[size_t(k)] = double(k) / (nz - 1);
  return sigma;
}

std::vector<double> uniform_hardness(size_t columns, int nz) {
  return std::vector<double>(columns * size_t(nz), std::pow(softness, -1.0 / 3.0));
}

MembraneOptions tight(const std::string& viscosity = "linear") {
  MembraneOptions o;
  o.viscosity = viscosity;
  o.tolerance = 1e-12;
  o.picard_iterations = 500;
  o.picard_tolerance = 1e-10;
  return o;
}

// Uniform slab, H = 800 m, surface slope 0.01 along x. With no gradients
// the membrane term vanishes: ubar = tau / beta_e^2 exactly, with
// eta = 5 / (6 A tau^2), i.e. 2 A tau^3 H / 5 (+ tau / beta^2 when sliding).
// Glen's viscosity through the depth gives the solver's first-order
// (Blatter-Pattyn) slab instead: the deformation falls by S^-2, S = 1 + 4
// slope^2 (the shearing column also stretches along the slope;
// membrane_reference.cpp, slope_factor), and each layer shears at the
// stress of its midpoint, zeta_k (the solver's linear elements), so that
// level m moves 2 A tau^3 H / S^2 sum_{k < m} dsigma_k zeta_k^3 faster than
// the bed and ubar is 2 A tau^3 H / S^2 sum_k dsigma_k zeta_k^4 (the
// continuum's 1/5 for many layers) above sliding. At slopes of 0.01 and 0.2.
TEST(MembraneReference, UniformSlabGivesTheShallowIceAndBlatterPattynSpeeds) {
  const int nx = 10, ny = 7, nz = 5;
  const double dx = 1000.0, H0 = 800.0, beta2 = 1000.0;
  for (const double slope : {0.01, 0.2})
    for (const std::string viscosity : {"linear", "glen"})
      for (const bool no_slip : {true, false}) {
        SCOPED_TRACE(viscosity + (no_slip ? ", no slip" : ", sliding") + ", slope " +
                     std::to_string(slope));
        std::vector<double> H(size_t(nx * ny), H0), b(size_t(nx * ny)), friction(H.size(), beta2);
        for (int j = 0; j < ny; ++j)
          for (int i = 0; i < nx; ++i) b[size_t(j * nx + i)] = 2000.0 - slope * i * dx - H0;
        const BPConstants c;
        const double tau = c.rho_g * H0 * slope;
        const double S = viscosity == "glen" ? 1 + 4 * slope * slope : 1.0;
        const double rate = 2.0 * softness * std::pow(tau, 3.0) * H0 / (S * S);
        std::vector<double> level_deformation(nz, 0.0); // above the bed, at each level
        double mean_share = 0.2;                        // of rate in ubar (linear: 1/5)
        if (viscosity == "glen") {
          mean_share = 0;
          for (int k = 0; k + 1 < nz; ++k) {
            const double zeta = 1 - (k + 0.5) / (nz - 1), dsigma = 1.0 / (nz - 1);
            mean_share += dsigma * std::pow(zeta, 4);
            level_deformation[size_t(k + 1)] =
                level_deformation[size_t(k)] + rate * dsigma * std::pow(zeta, 3);
          }
        }
        const double deformation = rate * mean_share;
        const double sliding = no_slip ? 0.0 : tau / beta2;
        const double tolerance = 1e-5;
        const TorchBPPatch p = make_torch_bp_patch(
            core::make_bp_patch(nx, ny, dx, dx, uniform_levels(nz), H, b, friction,
                                uniform_hardness(H.size(), nz), c, true, no_slip));
        const MembraneOptions o = tight(viscosity);
        MembraneReport report;
        const torch::Tensor ubar = membrane_velocity(p, o, &report);
        EXPECT_TRUE(report.converged) << report.residual;
        const double expected = deformation + sliding;
        for (int j = 0; j < ny; ++j)
          for (int i = 0; i < nx; ++i) {
            EXPECT_NEAR(ubar[j][i][0].item<double>(), expected, tolerance * expected)
                << j << " " << i;
            EXPECT_NEAR(ubar[j][i][1].item<double>(), 0.0, 1e-5 * expected);
          }
        // With the deformation profile: the shallow-ice velocity at each level
        // (linear), the solver's slab (glen).
        const torch::Tensor u = membrane_velocity_3d(p, o);
        const torch::Tensor sia = shallow_ice_velocity(p);
        for (int k = 0; k < nz; ++k)
          EXPECT_NEAR(u[3][4][k][0].item<double>(),
                      viscosity == "glen" ? sliding + level_deformation[size_t(k)]
                                          : sia[3][4][k][0].item<double>(),
                      10 * tolerance * expected)
              << "level " << k;
        EXPECT_NEAR(membrane_deformation_share(p, o)[3][4].item<double>(),
                    no_slip ? 1.0 : deformation / expected, tolerance);
      }
}

// A floating slab, H = 400 m at flotation on 16 x 6 columns of 500 m, with
// ocean columns (sea floor at -1000 m) at both x ends and free edges along y.
constexpr int slab_nx = 16, slab_ny = 6, slab_nz = 3;
constexpr double slab_dx = 500.0, slab_H = 400.0;

TorchBPPatch floating_slab(const BPConstants& c) {
  const int nx = slab_nx, ny = slab_ny;
  std::vector<double> H(size_t(nx * ny), slab_H), b(H.size(), -slab_H / c.water_ratio),
      beta2(H.size(), 0.0);
  for (int j = 0; j < ny; ++j)
    for (int i : {0, nx - 1}) {
      H[size_t(j * nx + i)] = 0.0;
      b[size_t(j * nx + i)] = -1000.0; // the sea floor
    }
  return make_torch_bp_patch(core::make_bp_patch(nx, ny, slab_dx, slab_dx, uniform_levels(slab_nz),
                                                 H, b, beta2, uniform_hardness(H.size(), slab_nz),
                                                 c, true));
}

// A floating slab (H = 400 m at flotation, ocean columns at both x ends,
// free edges along y) spreads under its front pressure F = rho g H^2 (1 -
// rho_i/rho_w) / 2: plane stress, 2 eta H (2 u_x + v_y) = F and 2 v_y + u_x =
// 0, so u_x = F / (3 eta H), with the shelf viscosity eta = 5 / (6 A tau^2),
// tau = rho g H (1 - rho_i/rho_w) / 4, in the interior (away from the fronts,
// whose surface step raises tau).
TEST(MembraneReference, FloatingSlabSpreadsUnderItsFrontPressure) {
  const int nx = slab_nx, ny = slab_ny;
  const double dx = slab_dx, H0 = slab_H;
  const BPConstants c;
  const TorchBPPatch p = floating_slab(c);
  ASSERT_GT(p.front_columns.size(0), 0);
  MembraneReport report;
  const torch::Tensor ubar = membrane_velocity(p, tight(), &report);
  EXPECT_TRUE(report.converged) << report.residual;
  const double tau = 0.25 * c.rho_g * H0 * (1 - 1 / c.water_ratio);
  const double eta = 5.0 / (6.0 * softness * tau * tau);
  const double force = 0.5 * c.rho_g * H0 * H0 * (1 - 1 / c.water_ratio);
  const double expected = force / (3.0 * eta * H0); // a^-1
  for (int j = 1; j < ny - 1; ++j) {
    const double ux = (ubar[j][9][0].item<double>() - ubar[j][6][0].item<double>()) / (3 * dx);
    EXPECT_NEAR(ux, expected, 1e-3 * expected) << "row " << j;
  }
  // Symmetric spreading: the two halves move apart, the centre line stays.
  EXPECT_LT(ubar[2][3][0].item<double>(), 0.0);
  EXPECT_GT(ubar[2][nx - 4][0].item<double>(), 0.0);
  EXPECT_NEAR(ubar[2][3][0].item<double>(), -ubar[2][nx - 4][0].item<double>(),
              1e-6 * std::abs(ubar[2][3][0].item<double>()));
}

// The same floating slab with Glen's viscosity: uniform plane-stress
// spreading, 2 eta H (3/2) u_x = F with eta = B/2 (3 u_x^2/4)^((1-n)/(2n)),
// so u_x = (F / (3/2 B H))^n (3/4)^((n-1)/2), everywhere on the slab.
TEST(MembraneReference, GlenFloatingSlabSpreadsAtGlensRate) {
  const int nx = slab_nx, ny = slab_ny, nz = slab_nz;
  const double dx = slab_dx, H0 = slab_H;
  const BPConstants c;
  const TorchBPPatch p = floating_slab(c);
  MembraneReport report;
  const torch::Tensor ubar = membrane_velocity(p, tight("glen"), &report);
  EXPECT_TRUE(report.converged) << report.residual;
  EXPECT_LT(report.picard, 500);
  const double B = std::pow(softness, -1.0 / 3.0);
  const double force = 0.5 * c.rho_g * H0 * H0 * (1 - 1 / c.water_ratio);
  const double expected = std::pow(force / (1.5 * B * H0), 3.0) * 0.75; // a^-1
  for (int j = 0; j < ny; ++j)
    for (int i = 1; i < nx - 2; ++i) {
      const double ux = (ubar[j][i + 1][0].item<double>() - ubar[j][i][0].item<double>()) / dx;
      EXPECT_NEAR(ux, expected, 1e-3 * expected) << "row " << j << ", column " << i;
    }
  // No shear through the depth: the profile is uniform.
  const torch::Tensor profile = membrane_profile(p, tight("glen"));
  EXPECT_NEAR(profile[2][5][0].item<double>(), 1.0, 1e-5);
  EXPECT_NEAR(profile[2][5][nz - 1].item<double>(), 1.0, 1e-5);
}

// A bumpy glacier with a sliding patch: 12 x 9 columns of 400 m, 3 levels,
// ice-free edges.
constexpr int bumpy_nx = test::bumpy_nx, bumpy_ny = test::bumpy_ny, bumpy_nz = 3;
core::BPPatch bumpy_glacier(bool no_slip = false) {
  return test::bumpy_glacier(bumpy_nz, no_slip);
}

/// Central difference of `objective` along the thickness of column (j, i)
/// of `base`, step h (m).
template <class Objective>
double thickness_difference(const core::BPPatch& base, int j, int i, double h,
                            const Objective& objective) {
  double J[2];
  for (int side = 0; side < 2; ++side) {
    TorchBPPatch q = make_torch_bp_patch(base);
    q.thickness = q.thickness.clone();
    q.thickness[j][i] += side ? h : -h;
    J[side] = objective(q).template item<double>();
  }
  return (J[1] - J[0]) / (2 * h);
}

// A bumpy glacier with a sliding patch: the adjoint gradient of J = sum w .
// ubar with respect to the thickness equals central differences of solves
// (linear), or points their way (glen, glen_gauss: the adjoint holds the
// viscosity fixed). glen_gauss runs on the glacier frozen to its bed, where
// its no-slip elements take their shear at the Gauss points.
TEST(MembraneReference, ThicknessGradientMatchesFiniteDifferences) {
  const int nx = bumpy_nx, ny = bumpy_ny;
  const torch::Tensor weights =
      torch::sin(torch::arange(double(nx * ny * 2), torch::kFloat64)).view({ny, nx, 2});
  for (const std::string viscosity : {"linear", "glen", "glen_gauss"}) {
    SCOPED_TRACE(viscosity);
    const core::BPPatch base_patch = bumpy_glacier(viscosity == "glen_gauss");
    const auto objective = [&](const TorchBPPatch& p) {
      return (membrane_velocity(p, tight(viscosity)) * weights).sum();
    };
    TorchBPPatch p = make_torch_bp_patch(base_patch);
    p.thickness = p.thickness.clone().requires_grad_(true);
    const torch::Tensor gradient = torch::autograd::grad({objective(p)}, {p.thickness})[0];
    double dot = 0, ad2 = 0, fd2 = 0;
    for (const auto& [j, i] : std::vector<std::pair<int, int>>{
             {2, 3}, {4, 6}, {6, 8}, {7, 2}, {3, 9}, {5, 4}, {1, 5}, {6, 5}}) {
      const double fd = thickness_difference(
          base_patch, j, i, 1e-3 * base_patch.thickness[size_t(j * nx + i)], objective);
      const double ad = gradient[j][i].item<double>();
      if (viscosity == "linear") {
        EXPECT_NEAR(ad, fd, 1e-3 * std::abs(fd) + 1e-9) << "column " << j << ", " << i;
      }
      dot += ad * fd;
      ad2 += ad * ad;
      fd2 += fd * fd;
      std::printf("%s (%d, %d): adjoint %.4e, differences %.4e\n", viscosity.c_str(), j, i, ad, fd);
    }
    // Glen: the adjoint holds the viscosity fixed, so it is not exact.
    EXPECT_GT(dot / std::sqrt(ad2 * fd2), 0.9);
  }
}

// The membrane reference's force imbalance under the BP energy
// (membrane_imbalance), an input of the network: on the uniform slab of the
// first test, where the glen reference is the solver's discrete slab, the
// net force on every column is 0 (to the solves' tolerance); a reference
// twice too fast is held back (along < 0), one half as fast pushed on
// (along > 0), each by the force Glen's law gives, neither sideways; with the membrane reference's
// linear viscosity, its thickness gradient (double back-propagation through the energy and the
// reference's adjoint) matches finite differences.
TEST(MembraneReference, ImbalanceVanishesWhereTheReferenceBalancesBPAndSignsItsError) {
  {
    const int nx = 10, ny = 7, nz = 5;
    const double dx = 1000.0, H0 = 800.0, slope = 0.01;
    std::vector<double> H(size_t(nx * ny), H0), b(H.size()), friction(H.size(), 1000.0);
    for (int j = 0; j < ny; ++j)
      for (int i = 0; i < nx; ++i) b[size_t(j * nx + i)] = 2000.0 - slope * i * dx - H0;
    TorchBPPatch p = make_torch_bp_patch(
        core::make_bp_patch(nx, ny, dx, dx, uniform_levels(nz), H, b, friction,
                            uniform_hardness(H.size(), nz), BPConstants(), true, /*no_slip=*/true));
    const MembraneOptions o = tight("glen");
    cache_membrane(p, o);
    const torch::Tensor balanced = membrane_imbalance(p, o);
    ASSERT_EQ(balanced.sizes(), (std::vector<int64_t>{ny, nx, 2}));
    // The patch's edges are cut faces with no force on them: there the
    // slab is not balanced (by 1-3 % of the driving force); inside it is.
    const auto inside = [&](const torch::Tensor& t) {
      return t.narrow(0, 1, ny - 2).narrow(1, 1, nx - 2);
    };
    EXPECT_LT(inside(balanced).abs().max().item<double>(), 1e-6);
    EXPECT_LT(balanced.abs().max().item<double>(), 0.05);
    const torch::Tensor ubar = p.membrane.clone();
    for (const double factor : {2.0, 0.5}) {
      p.membrane = factor * ubar;
      const torch::Tensor off = membrane_imbalance(p, o);
      // The viscous energy is of degree (n + 1)/n in u: at f times the
      // balanced velocity the viscous force is f^(1/n) times the driving
      // force, so the net force is (1 - f^(1/3)) F (over F plus its floor,
      // 1 % of its mean).
      const double expected = std::asinh(1.0 - std::cbrt(factor));
      const torch::Tensor along = inside(off.select(2, 0));
      std::printf("reference x %.1f: along %.4f .. %.4f (expected %.4f), edges %.4f .. %.4f\n",
                  factor, along.min().item<double>(), along.max().item<double>(), expected,
                  off.select(2, 0).min().item<double>(), off.select(2, 0).max().item<double>());
      EXPECT_NEAR(along.max().item<double>(), expected, 0.015 * std::abs(expected));
      EXPECT_NEAR(along.min().item<double>(), expected, 0.015 * std::abs(expected));
      EXPECT_LT(inside(off.select(2, 1)).abs().max().item<double>(), 1e-6);
      // The edges: the same sign.
      EXPECT_GT((off.select(2, 0) * expected).min().item<double>(), 0.0);
    }
    // A cached imbalance is returned as it is.
    cache_membrane_imbalance(p, o);
    EXPECT_TRUE(torch::equal(membrane_imbalance(p, o), p.membrane_imbalance));
  }
  const int nx = bumpy_nx, ny = bumpy_ny;
  const core::BPPatch base = bumpy_glacier();
  const torch::Tensor weights =
      torch::cos(torch::arange(double(nx * ny * 2), torch::kFloat64)).view({ny, nx, 2});
  const auto objective = [&](const TorchBPPatch& p) {
    return (membrane_imbalance(p, tight()) * weights).sum();
  };
  TorchBPPatch p = make_torch_bp_patch(base);
  p.thickness = p.thickness.clone().requires_grad_(true);
  const torch::Tensor value = objective(p);
  ASSERT_TRUE(value.requires_grad());
  const torch::Tensor gradient = torch::autograd::grad({value}, {p.thickness})[0];
  for (const auto& [j, i] :
       std::vector<std::pair<int, int>>{{2, 3}, {4, 6}, {6, 8}, {7, 2}, {3, 9}, {5, 4}}) {
    const double fd =
        thickness_difference(base, j, i, 1e-4 * base.thickness[size_t(j * nx + i)], objective);
    const double ad = gradient[j][i].item<double>();
    EXPECT_NEAR(ad, fd, 1e-4 * std::abs(fd) + 1e-9) << "column " << j << ", " << i;
  }
}

// The preconditioners (Jacobi, multigrid, auto) give the same reference and
// the same thickness gradient to the tolerance, on narrow cells (100 m) under
// thick ice (up to 900 m) with a slippery patch, where the membrane stresses
// dominate: there the multigrid V-cycle needs several times fewer conjugate-
// gradient iterations than Jacobi (auto stays with Jacobi here: about 90 per
// solve). Icy columns that no integrated element reaches (the ghost columns
// of a periodic patch) stay at 0. An unknown name is an error naming it.
TEST(MembraneReference, ThePreconditionersGiveTheSameReferenceAndGradient) {
  const int nx = 40, ny = 33, nz = 5;
  std::vector<double> H(size_t(nx * ny)), b(H.size()), beta2(H.size());
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) {
      const size_t k = size_t(j * nx + i);
      const double x = (i + 0.5) / nx - 0.5, y = (j + 0.5) / ny - 0.5;
      H[k] = std::max(0.0, 900.0 * (1 - 4 * (x * x + y * y)) + 80.0 * std::sin(0.5 * i));
      b[k] = 1000.0 - 10.0 * i + 50.0 * std::cos(0.3 * j);
      beta2[k] = (std::abs(x - 0.1) < 0.1 && std::abs(y) < 0.15) ? 20.0 : 1e4;
    }
  const core::BPPatch base =
      core::make_bp_patch(nx, ny, 100.0, 100.0, uniform_levels(nz), H, b, beta2,
                          uniform_hardness(H.size(), nz), BPConstants(), true);
  const torch::Tensor weights =
      torch::cos(torch::arange(double(nx * ny * 2), torch::kFloat64)).view({ny, nx, 2});
  torch::Tensor reference_u, reference_gradient;
  int jacobi_iterations = 0;
  for (const std::string preconditioner : {"jacobi", "multigrid", "auto"}) {
    SCOPED_TRACE(preconditioner);
    MembraneOptions o = tight("glen");
    o.tolerance = 1e-10;
    o.picard_tolerance = 1e-6;
    o.picard_forcing = 0; // every solve to the tolerance: the preconditioners' own difference
    o.preconditioner = preconditioner;
    TorchBPPatch p = make_torch_bp_patch(base);
    p.thickness = p.thickness.clone().requires_grad_(true);
    MembraneReport report;
    const torch::Tensor u = membrane_velocity(p, o, &report);
    const torch::Tensor gradient = torch::autograd::grad({(u * weights).sum()}, {p.thickness})[0];
    std::printf("%s: %d Picard, %d CG iterations, %d V-cycle builds\n", preconditioner.c_str(),
                report.picard, report.iterations, report.multigrid_builds);
    ASSERT_TRUE(report.converged);
    if (preconditioner == "jacobi") {
      reference_u = u.detach();
      reference_gradient = gradient;
      jacobi_iterations = report.iterations;
      EXPECT_EQ(report.multigrid_builds, 0);
      continue;
    }
    if (preconditioner == "multigrid") {
      EXPECT_GE(report.multigrid_builds, 1);
      EXPECT_LT(5 * report.iterations, jacobi_iterations);
    } else if (report.multigrid_builds == 0) { // auto: Jacobi, as no solve took 200 iterations
      EXPECT_EQ(report.iterations, jacobi_iterations);
    }
    EXPECT_LT((u - reference_u).abs().max().item<double>(),
              1e-6 * reference_u.abs().max().item<double>());
    EXPECT_LT((gradient - reference_gradient).abs().max().item<double>(),
              1e-6 * reference_gradient.abs().max().item<double>());
  }
  // Columns of ice that no integrated element reaches, as the ghost columns
  // of a periodic patch: no equation, so they stay at 0.
  core::BPPatch ghosts = base;
  ghosts.ey0 = ny / 2;
  for (const std::string preconditioner : {"jacobi", "multigrid"}) {
    MembraneOptions o = tight("glen");
    o.preconditioner = preconditioner;
    MembraneReport report;
    const torch::Tensor u = membrane_velocity(make_torch_bp_patch(ghosts), o, &report);
    EXPECT_TRUE(report.converged) << preconditioner;
    EXPECT_TRUE(torch::isfinite(u).all().item<bool>()) << preconditioner;
    EXPECT_EQ(u.narrow(0, 0, ny / 2).abs().max().item<double>(), 0.0) << preconditioner;
    EXPECT_GT(u.narrow(0, ny / 2 + 1, 5).abs().max().item<double>(), 1.0) << preconditioner;
  }
  MembraneOptions unknown;
  unknown.preconditioner = "ilu";
  try {
    membrane_velocity(make_torch_bp_patch(base), unknown);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'ilu'"), std::string::npos) << e.what();
  }
}

// A glacier with every kind of column: a no-slip third, sliding with a
// frictionless spot, a floating tongue with a marine front, ice-free
// columns, and a hardness that varies with depth and from column to column
// (36 x 20 columns of 2 km, 6 levels).
core::BPPatch mixed_glacier() {
  const int nx = 36, ny = 20, nz = 6;
  const BPConstants c;
  std::vector<double> H(size_t(nx * ny)), b(H.size()), beta2(H.size()), B(H.size() * nz);
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) {
      const size_t k = size_t(j * nx + i);
      const double x = double(i) / (nx - 1), y = (j + 0.5) / ny - 0.5;
      const bool ice = i < nx - 3 && std::abs(y) < 0.42;
      b[k] = 400.0 - 1400.0 * x + 60.0 * std::cos(7.0 * y);
      H[k] = ice ? 200.0 + 700.0 * (1 - x) * (1 - 4 * y * y) : 0.0;
      beta2[k] =
          (std::abs(x - 0.45) < 0.08 && std::abs(y) < 0.15) ? 0.0 : 500.0 + 300.0 * std::sin(5 * x);
      for (int z = 0; z < nz; ++z)
        B[k * nz + size_t(z)] = std::pow(softness, -1.0 / 3.0) * (1.3 - 0.5 * z / (nz - 1.0)) *
                                (1 + 0.1 * std::sin(1.7 * i + j));
    }
  core::BPPatch base =
      core::make_bp_patch(nx, ny, 2000.0, 2000.0, uniform_levels(nz), H, b, beta2, B, c, true);
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx / 3; ++i) base.bed_fixed[size_t(j * nx + i)] = 1;
  return base;
}

// The glen Picard updates in plain loops on the CPU (MembraneOptions::cpu_loops,
// the default) give the numbers of the LibTorch operations that other devices
// use: the same Picard iterations, and the velocity, the viscosity and the
// thickness gradient to rounding, on mixed_glacier; for glen and for
// glen_gauss, whose no-slip elements (the glacier's first third) take their
// shear at the Gauss points, in loops of their own (gauss_shear.hpp).
TEST(MembraneReference, TheCpuLoopsGiveTheLibTorchOperationsNumbers) {
  const core::BPPatch base = mixed_glacier();
  const int nx = base.nx, ny = base.ny;
  const BPConstants c;
  int floating = 0;
  for (size_t k = 0; k < base.thickness.size(); ++k)
    floating +=
        base.thickness[k] > 0 && base.thickness[k] < c.water_ratio * (c.sea_level - base.bed[k]);
  ASSERT_GT(floating, 20);
  // ... and marine fronts, whose push takes the columns' velocity profile
  // (computed in the loops too).
  int front_columns = 0;
  for (const auto f : base.front_faces) front_columns += f != 0;
  ASSERT_GT(front_columns, 5);
  const torch::Tensor weights =
      torch::sin(torch::arange(double(nx * ny * 2), torch::kFloat64)).view({ny, nx, 2});
  torch::Tensor glen_velocity;
  for (const std::string viscosity : {"glen", "glen_gauss"}) {
    SCOPED_TRACE(viscosity);
    torch::Tensor u[2], eta[2], gradient[2];
    MembraneReport report[2];
    for (int loops = 0; loops < 2; ++loops) {
      MembraneOptions o = tight(viscosity);
      o.tolerance = 1e-10;
      o.picard_tolerance = 1e-8;
      o.cpu_loops = loops == 1;
      TorchBPPatch p = make_torch_bp_patch(base);
      cache_membrane(p, o, &report[loops]);
      u[loops] = p.membrane.detach();
      eta[loops] = p.membrane_viscosity.detach();
      TorchBPPatch q = make_torch_bp_patch(base);
      q.thickness = q.thickness.clone().requires_grad_(true);
      gradient[loops] =
          torch::autograd::grad({(membrane_velocity(q, o) * weights).sum()}, {q.thickness})[0];
      ASSERT_TRUE(report[loops].converged) << loops;
    }
    std::printf("%s: %d Picard iterations, %d and %d CG iterations\n", viscosity.c_str(),
                report[1].picard, report[0].iterations, report[1].iterations);
    EXPECT_GT(report[1].picard, 5);
    EXPECT_EQ(report[1].picard, report[0].picard);
    EXPECT_NEAR(report[1].iterations, report[0].iterations, 2);
    const auto relative = [](const torch::Tensor& a, const torch::Tensor& ref) {
      return (a - ref).abs().max().item<double>() / ref.abs().max().item<double>();
    };
    EXPECT_GT(u[0].abs().max().item<double>(), 10.0);
    EXPECT_LT(relative(u[1], u[0]), 1e-9);
    EXPECT_LT(relative(eta[1], eta[0]), 1e-9);
    EXPECT_LT(relative(gradient[1], gradient[0]), 1e-8);
    if (viscosity == "glen")
      glen_velocity = u[1];
    else // the no-slip third moves otherwise: the test compares something
      EXPECT_GT(relative(u[1], glen_velocity), 1e-3);
  }
}

// Inexact Picard iterations (MembraneOptions::picard_forcing, 0.1 by
// default: each solve reduces its residual tenfold, the last goes to the
// tolerance) take the Picard iterations of exact ones, a third of their
// conjugate-gradient iterations or fewer, and reach their answer and
// gradient within the Picard tolerance's reach, on mixed_glacier.
TEST(MembraneReference, InexactPicardSolvesReachTheExactAnswerInFewerIterations) {
  const core::BPPatch base = mixed_glacier();
  const torch::Tensor weights =
      torch::sin(torch::arange(double(base.nx * base.ny * 2), torch::kFloat64))
          .view({base.ny, base.nx, 2});
  torch::Tensor u[2], gradient[2];
  MembraneReport report[2];
  for (int inexact = 0; inexact < 2; ++inexact) {
    MembraneOptions o = tight("glen");
    o.tolerance = 1e-10;
    o.picard_tolerance = 1e-8;
    o.picard_forcing = inexact ? 0.1 : 0.0;
    TorchBPPatch p = make_torch_bp_patch(base);
    p.thickness = p.thickness.clone().requires_grad_(true);
    u[inexact] = membrane_velocity(p, o, &report[inexact]);
    gradient[inexact] = torch::autograd::grad({(u[inexact] * weights).sum()}, {p.thickness})[0];
    u[inexact] = u[inexact].detach();
    ASSERT_TRUE(report[inexact].converged) << inexact;
  }
  std::printf("exact: %d Picard, %d CG; inexact: %d Picard, %d CG\n", report[0].picard,
              report[0].iterations, report[1].picard, report[1].iterations);
  EXPECT_NEAR(report[1].picard, report[0].picard, 2);
  EXPECT_LT(3 * report[1].iterations, report[0].iterations);
  const auto relative = [](const torch::Tensor& a, const torch::Tensor& ref) {
    return (a - ref).abs().max().item<double>() / ref.abs().max().item<double>();
  };
  std::printf("velocity %.1e, gradient %.1e apart (relative to the largest)\n",
              relative(u[1], u[0]), relative(gradient[1], gradient[0]));
  EXPECT_LT(relative(u[1], u[0]), 1e-7);
  EXPECT_LT(relative(gradient[1], gradient[0]), 1e-6);
}

// A first guess near the answer (the solution for a 2 % thinner glacier, as
// the previous time step's) converges to the cold solve's answer in fewer
// conjugate-gradient iterations (glen: over all Picard iterations, and,
// from that solution's viscosity, in fewer Picard iterations); a first
// guess of the wrong shape is an error.
TEST(MembraneReference, AWarmStartConvergesToTheSameAnswerInFewerIterations) {
  const int nx = 14, ny = 11, nz = 3;
  std::vector<double> H(size_t(nx * ny)), b(H.size()), beta2(H.size());
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) {
      const size_t k = size_t(j * nx + i);
      const bool edge = i == 0 || i == nx - 1 || j == 0 || j == ny - 1;
      H[k] = edge ? 0.0 : 250.0 + 50.0 * std::sin(0.6 * i) * std::cos(0.4 * j);
      b[k] = 2000.0 - 25.0 * i;
      beta2[k] = (i > 5 && j > 4) ? 30.0 : 3000.0;
    }
  for (const std::string viscosity_name : {"linear", "glen"}) {
    SCOPED_TRACE(viscosity_name);
    const auto patch = [&](double factor) {
      std::vector<double> h = H;
      for (double& x : h) x *= factor;
      return make_torch_bp_patch(core::make_bp_patch(nx, ny, 150.0, 150.0, uniform_levels(nz), h, b,
                                                     beta2, uniform_hardness(h.size(), nz),
                                                     BPConstants(), true));
    };
    const auto options = [&](const torch::Tensor& guess, const torch::Tensor& viscosity) {
      MembraneOptions o;
      o.viscosity = viscosity_name;
      o.tolerance = 1e-8;
      o.picard_tolerance = 1e-6;
      o.picard_iterations = 200;
      o.initial_guess = guess;
      o.initial_viscosity = viscosity;
      return o;
    };
    TorchBPPatch before = patch(0.98);
    cache_membrane(before, options({}, {}));
    MembraneReport cold, warm;
    const torch::Tensor u_cold = membrane_velocity(patch(1.0), options({}, {}), &cold);
    const torch::Tensor u_warm =
        membrane_velocity(patch(1.0), options(before.membrane, before.membrane_viscosity), &warm);
    ASSERT_TRUE(cold.converged && warm.converged);
    EXPECT_LT(warm.iterations, cold.iterations);
    if (viscosity_name == "glen") {
      EXPECT_LT(warm.picard, cold.picard);
    }
    const double scale = u_cold.abs().max().item<double>();
    // glen: both stop within the Picard tolerance, from different sides.
    EXPECT_LT((u_warm - u_cold).abs().max().item<double>(),
              (viscosity_name == "linear" ? 1e-5 : 1e-4) * scale);
    EXPECT_THROW(
        membrane_velocity(patch(1.0), options(torch::zeros({ny, nx + 1, 2}, torch::kFloat64), {})),
        Error);
    if (viscosity_name == "glen") {
      EXPECT_THROW(membrane_velocity(patch(1.0), options({}, torch::ones({ny, nx, 3}))), Error);
    }
  }
}

// A `membrane` network whose weights are all zero returns the reference:
// exp(0) times the membrane speed, in its direction, with its profile.
TEST(MembraneReference, AZeroMembraneNetworkReturnsTheReference) {
  const int nx = 9, ny = 8, nz = 4;
  std::vector<double> H(size_t(nx * ny)), b(H.size()), beta2(H.size(), 300.0);
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) {
      const size_t k = size_t(j * nx + i);
      H[k] = i == nx - 1 ? 0.0 : 200.0 + 20.0 * j - 10.0 * i;
      b[k] = 1000.0 - 40.0 * i - 5.0 * j * j;
    }
  const TorchBPPatch p =
      make_torch_bp_patch(core::make_bp_patch(nx, ny, 300.0, 300.0, uniform_levels(nz), H, b, beta2,
                                              uniform_hardness(H.size(), nz), BPConstants(), true));
  for (const std::string viscosity : {"linear", "glen", "glen_gauss"}) {
    SCOPED_TRACE(viscosity);
    EmulatorMetadata meta = emulator_metadata_for(p, "cnn", 4, 2);
    meta.output_scaling = "membrane";
    meta.membrane_viscosity = viscosity;
    meta.velocity_scale = 1.0;
    ASSERT_TRUE(uses_membrane(meta));
    // The viscosity is part of the model file.
    EXPECT_EQ(EmulatorMetadata::from_text(meta.to_text(), "m.pt").membrane_viscosity, viscosity);
    Emulator model(meta, 1);
    {
      const torch::NoGradGuard no_grad;
      for (auto& w : model.net()->parameters()) w.zero_();
    }
    const torch::Tensor u = model.velocity(p),
                        reference = membrane_velocity_3d(p, membrane_options(meta));
    const double scale = reference.abs().max().item<double>();
    ASSERT_GT(scale, 0.0);
    EXPECT_LT((u - reference).abs().max().item<double>(), 1e-9 * scale);
  }
  EXPECT_NE((membrane_velocity(p, tight("glen")) - membrane_velocity(p, tight()))
                .abs()
                .max()
                .item<double>(),
            0.0);
  MembraneOptions unknown;
  unknown.viscosity = "cubic";
  EXPECT_THROW(membrane_velocity(p, unknown), Error);
  EmulatorMetadata meta = emulator_metadata_for(p, "cnn", 4, 2);
  meta.membrane_viscosity = "cubic";
  EXPECT_THROW(EmulatorMetadata::from_text(meta.to_text(), "m.pt"), Error);
}

// The models shipped under experiments/emulator/ (docs/emulator.md, "A
// trained model") load, correct the glen_gauss reference, and on a uniform slab
// on an incline (where the reference is the solver's slab, within 1 % of
// Glen's shallow-ice velocity at this slope on 8 layers) stay within 10 %
// of that surface speed at every level of an interior column.
class ShippedModel : public ::testing::TestWithParam<const char*> {};
INSTANTIATE_TEST_SUITE_P(MembraneReference, ShippedModel,
                         ::testing::Values("cnn_gauss_imbalance.pt", "cnn_gauss_data.pt"));
TEST_P(ShippedModel, KeepsAUniformSlabNearGlensVelocity) {
  const Emulator model =
      Emulator::load(std::string(NUNATAK_SOURCE_DIR) + "/experiments/emulator/" + GetParam());
  const EmulatorMetadata& meta = model.metadata();
  EXPECT_EQ(meta.output_scaling, "membrane");
  EXPECT_EQ(meta.membrane_viscosity, "glen_gauss");
  const int nx = 20, ny = 14, nz = int(meta.sigma.size());
  const double dx = 1000.0, H0 = 800.0, slope = 0.01;
  std::vector<double> H(size_t(nx * ny), H0), b(H.size()), friction(H.size(), 1000.0);
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) b[size_t(j * nx + i)] = 2000.0 - slope * i * dx - H0;
  const TorchBPPatch p = make_torch_bp_patch(
      core::make_bp_patch(nx, ny, dx, dx, meta.sigma, H, b, friction,
                          uniform_hardness(H.size(), nz), BPConstants(), true, true),
      torch::kFloat32);
  Emulator net = model;
  net.to(p.options());
  const torch::NoGradGuard no_grad;
  const torch::Tensor u = net.velocity(p).to(torch::kFloat64);
  const torch::Tensor sia = shallow_ice_velocity(make_torch_bp_patch(
      core::make_bp_patch(nx, ny, dx, dx, meta.sigma, H, b, friction,
                          uniform_hardness(H.size(), nz), BPConstants(), true, true)));
  const double surface = sia[7][10][nz - 1][0].item<double>();
  ASSERT_GT(surface, 0.0);
  for (int k = 1; k < nz; ++k) {
    const double expected = sia[7][10][k][0].item<double>();
    EXPECT_NEAR(u[7][10][k][0].item<double>(), expected, 0.1 * surface) << "level " << k;
    EXPECT_NEAR(u[7][10][k][1].item<double>(), 0.0, 0.02 * surface) << "level " << k;
  }
}

} // namespace
