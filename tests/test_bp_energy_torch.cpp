// The LibTorch Blatter-Pattyn energy (nunatak::emulator): exact integrals on
// simple geometries, finite differences of its gradients with respect to the
// velocity and the geometry, a Hessian-vector product, the refinement's
// hand-written loops against autograd, single against double
// precision, and CUDA against the CPU. Network-free and quick (well under a
// second), so it runs in the LibTorch-only build too. The tie to the solver's
// discretisation is tests/test_bp_energy_tie.cpp (it needs the solver).
#include "bp_energy_cpu.hpp"
#include "nunatak/core/bp_patch.hpp"
#include "nunatak/core/error.hpp"
#include "nunatak/emulator/bp_energy.hpp"

#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/cuda.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

namespace {

using nunatak::core::BPConstants;
using nunatak::core::BPPatch;
namespace emu = nunatak::emulator;

std::vector<double> levels(std::initializer_list<double> s) {
  return std::vector<double>(s);
}

/// The test patch of the finite-difference checks: 6 x 5 columns of 4 nodes
/// (uneven levels), sliding with a nonlinear law (q = 1/3), a marine front on
/// the east side (ice-free columns with their bed below sea level, the face
/// cut by sea level), a land margin in two corners (ice-free, bed above sea
/// level), varying thickness, bed, beta2 and hardness.
BPPatch test_patch(bool no_slip = false) {
  const int nx = 6, ny = 5, nz = 4;
  std::vector<double> H(nx * ny), b(nx * ny), beta2(nx * ny), B(nx * ny * nz);
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) {
      const size_t c = size_t(j * nx + i);
      H[c] = 300.0 + 40.0 * i + 25.0 * j + 15.0 * std::sin(i + 2.0 * j);
      b[c] = 50.0 - 60.0 * i + 10.0 * j + 5.0 * std::cos(3.0 * i - j);
      beta2[c] = 2000.0 * (1.0 + 0.3 * std::sin(i + j));
      for (int k = 0; k < nz; ++k)
        B[c * nz + size_t(k)] = 2.0e5 * (1.0 + 0.1 * k + 0.05 * std::cos(i * j));
    }
  for (int j = 2; j < ny; ++j) H[size_t(j * nx + 5)] = 0.0; // open water: b ~ -250 m
  H[0] = 3.0;                                               // land margin: b ~ 55 m
  H[size_t(4 * nx + 0)] = 0.0;                              // b ~ 90 m
  BPConstants constants;
  constants.friction_exponent = 1.0 / 3.0;
  return nunatak::core::make_bp_patch(nx, ny, 1000.0, 800.0, levels({0.0, 0.2, 0.55, 1.0}), H, b,
                                      beta2, B, constants, true, no_slip);
}

/// A velocity field on `p` with garbage (1234 m/a) at fixed nodes, which the
/// energy must ignore.
std::vector<double> test_velocity(const BPPatch& p) {
  std::vector<double> u(p.size());
  for (int j = 0; j < p.ny; ++j)
    for (int i = 0; i < p.nx; ++i)
      for (int k = 0; k < p.nz; ++k) {
        const size_t n = p.node(j, i, k) * 2;
        const double s = p.sigma[size_t(k)];
        u[n] = 40.0 + 30.0 * s + 6.0 * i - 3.0 * j + 4.0 * std::sin(i * j + k);
        u[n + 1] = -12.0 + 10.0 * s * s + 2.5 * j + 3.0 * std::cos(i - 2.0 * k);
        if (p.fixed(j, i, k)) u[n] = u[n + 1] = 1234.0;
      }
  return u;
}

double value(const torch::Tensor& t) {
  return t.item<double>();
}

/// max |a - b| / max |b| over all entries.
double relative_difference(const torch::Tensor& a, const torch::Tensor& b) {
  const auto a64 = a.detach().to(torch::kCPU, torch::kFloat64);
  const auto b64 = b.detach().to(torch::kCPU, torch::kFloat64);
  return value((a64 - b64).abs().max()) / value(b64.abs().max());
}

// ---------------------------------------------------------------------------

TEST(TorchBPEnergy, PatchHasTheMarginsTheTestsNeed) {
  const BPPatch p = test_patch();
  int filled = 0, fronts = 0, fixed_columns = 0;
  for (size_t c = 0; c < p.element_filled.size(); ++c) {
    filled += p.element_filled[c];
    fronts += p.front_faces[c] != 0;
    fixed_columns += !p.node_free[c];
  }
  EXPECT_GT(filled, 10);
  EXPECT_LT(filled, (p.nx - 1) * (p.ny - 1));
  EXPECT_EQ(fronts, 4); // east faces of elements (j, 3), j = 1..3, north face of (0, 4)
  EXPECT_GT(fixed_columns, 0);
  // The front column's base lies below sea level and its surface above it.
  const size_t front = p.column(2, 4);
  EXPECT_LT(p.bed[front], 0.0);
  EXPECT_GT(p.bed[front] + p.thickness[front], 0.0);
}

// The discretisation itself is tied to the solver's (energy, gradient,
// Hessian products on ISMIP-HOM, Greenland and Aletsch patches) by
// tests/test_bp_energy_tie.cpp; here: the terms are consistent.
TEST(TorchBPEnergy, TermsAddUpToTheEnergy) {
  for (bool no_slip : {false, true}) {
    const BPPatch p = test_patch(no_slip);
    const auto t = emu::make_torch_bp_patch(p);
    const auto u = emu::velocity_tensor(t, test_velocity(p));
    const auto terms = emu::bp_energy_terms(t, u);
    EXPECT_GT(value(terms.viscous), 0.0);
    EXPECT_NE(value(terms.driving), 0.0);
    EXPECT_NE(value(terms.front), 0.0);
    if (no_slip) {
      EXPECT_EQ(value(terms.friction), 0.0);
    } else {
      EXPECT_GT(value(terms.friction), 0.0);
    }
    EXPECT_DOUBLE_EQ(value(emu::bp_viscous_energy(t, u)), value(terms.viscous));
    EXPECT_DOUBLE_EQ(value(emu::bp_driving_energy(t, u)), value(terms.driving));
    EXPECT_DOUBLE_EQ(value(emu::bp_friction_energy(t, u)), value(terms.friction));
    EXPECT_DOUBLE_EQ(value(emu::bp_front_energy(t, u)), value(terms.front));
    EXPECT_DOUBLE_EQ(value(emu::bp_energy(t, u)), value(terms.total()));
  }
}

TEST(TorchBPEnergy, FixedNodesAreIgnoredAndHaveZeroGradient) {
  const BPPatch p = test_patch();
  const auto t = emu::make_torch_bp_patch(p);
  std::vector<double> u = test_velocity(p), u0 = u;
  for (int j = 0; j < p.ny; ++j)
    for (int i = 0; i < p.nx; ++i)
      for (int k = 0; k < p.nz; ++k)
        if (p.fixed(j, i, k)) u0[p.node(j, i, k) * 2] = u0[p.node(j, i, k) * 2 + 1] = 0.0;
  EXPECT_EQ(value(emu::bp_energy(t, emu::velocity_tensor(t, u))),
            value(emu::bp_energy(t, emu::velocity_tensor(t, u0))));
  const auto g = emu::to_vector(emu::bp_energy_gradient(t, emu::velocity_tensor(t, u)));
  int fixed = 0;
  for (int j = 0; j < p.ny; ++j)
    for (int i = 0; i < p.nx; ++i)
      for (int k = 0; k < p.nz; ++k)
        if (p.fixed(j, i, k)) {
          ++fixed;
          EXPECT_EQ(g[p.node(j, i, k) * 2], 0.0);
          EXPECT_EQ(g[p.node(j, i, k) * 2 + 1], 0.0);
        }
  EXPECT_GT(fixed, 0);
}

TEST(TorchBPEnergy, RejectsAVelocityOfTheWrongShapeOrType) {
  const auto t = emu::make_torch_bp_patch(test_patch());
  EXPECT_THROW(emu::bp_energy(t, torch::zeros({t.ny, t.nx, t.nz}, t.options())), nunatak::Error);
  EXPECT_THROW(emu::bp_energy(t, torch::zeros({t.ny, t.nx, t.nz, 2}, torch::kFloat32)),
               nunatak::Error);
  EXPECT_THROW(emu::velocity_tensor(t, std::vector<double>(5)), nunatak::Error);
}

TEST(TorchBPEnergy, AnIceFreePatchHasNoEnergy) {
  // No ice-filled element: nothing is integrated, every node is fixed.
  const BPPatch p = nunatak::core::make_bp_patch(
      3, 3, 100.0, 100.0, levels({0.0, 1.0}), std::vector<double>(9, 5.0),
      std::vector<double>(9, -50.0), std::vector<double>(9, 1.0), std::vector<double>(18, 2e5),
      BPConstants());
  const auto t = emu::make_torch_bp_patch(p);
  EXPECT_EQ(t.element_columns.size(0), 0);
  const auto u = torch::ones({3, 3, 2, 2}, t.options());
  EXPECT_EQ(value(emu::bp_energy(t, u)), 0.0);
  EXPECT_EQ(value(emu::bp_energy_gradient(t, u).abs().max()), 0.0);
}

// --- Exact integrals ---------------------------------------------------------

/// A patch with a planar surface s = 1000 - a_x x - a_y y over a varying
/// thickness, an ice-free corner (land), free sliding and beta2 = 0 unless given.
BPPatch planar_patch(double a_x, double a_y, std::vector<double> beta2 = {}) {
  const int nx = 5, ny = 4;
  const double dx = 500.0, dy = 700.0;
  std::vector<double> H(nx * ny), b(nx * ny), B(nx * ny * 3, 2.0e5);
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) {
      const size_t c = size_t(j * nx + i);
      H[c] = 200.0 + 30.0 * std::sin(1.0 + i * j) + 10.0 * i;
      b[c] = 1000.0 - a_x * i * dx - a_y * j * dy - H[c];
    }
  H[size_t(3 * nx + 4)] = 0.0; // bed above sea level: a land margin, element (2, 3) empty
  if (beta2.empty()) beta2.assign(size_t(nx * ny), 0.0);
  BPConstants constants;
  return nunatak::core::make_bp_patch(nx, ny, dx, dy, levels({0.0, 0.3, 1.0}), H, b, beta2, B,
                                      constants);
}

/// sum over ice-filled elements of dx dy times the mean of `f` at the corners.
double filled_integral(const BPPatch& p, const std::vector<double>& f) {
  double sum = 0;
  for (int j = 0; j + 1 < p.ny; ++j)
    for (int i = 0; i + 1 < p.nx; ++i)
      if (p.element_filled[p.column(j, i)])
        sum += p.dx * p.dy * 0.25 *
               (f[p.column(j, i)] + f[p.column(j, i + 1)] + f[p.column(j + 1, i)] +
                f[p.column(j + 1, i + 1)]);
  return sum;
}

std::vector<double> uniform_velocity(const BPPatch& p, double u, double v) {
  std::vector<double> w(p.size());
  for (size_t n = 0; n < w.size(); n += 2) {
    w[n] = u;
    w[n + 1] = v;
  }
  return w;
}

TEST(TorchBPEnergy, DrivingEnergyOfAUniformFlowIsSlopeTimesVolume) {
  // grad s = (-a_x, -a_y) everywhere; the volume is the exact integral of the
  // bilinear thickness over the ice-filled elements.
  const double a_x = 0.012, a_y = -0.005, u = 35.0, v = -20.0;
  const BPPatch p = planar_patch(a_x, a_y);
  const auto t = emu::make_torch_bp_patch(p);
  const double volume = filled_integral(p, p.thickness);
  const double exact = (-a_x * u - a_y * v) * volume;
  const double E =
      value(emu::bp_driving_energy(t, emu::velocity_tensor(t, uniform_velocity(p, u, v))));
  EXPECT_NEAR(E, exact, 1e-12 * std::abs(exact));
  EXPECT_LT(volume, 4 * 500.0 * 3 * 700.0 * 250.0); // the empty element is left out
}

TEST(TorchBPEnergy, ViscousEnergyOfAShearFlowIsExact) {
  // u = a z, v = c z (z the elevation, on a sloping bed): u_z = a, v_z = c and
  // no other derivative, e2 = (a^2 + c^2)/4, whatever the element shapes. With
  // B = B0 (1 + sigma/2) (linear in each layer) the integral of B dV is
  // (5/4) B0 times the volume.
  const double a = 0.08, c = -0.03, B0 = 1.5e5, n = 3.0;
  BPPatch p = planar_patch(0.01, 0.02);
  for (int j = 0; j < p.ny; ++j)
    for (int i = 0; i < p.nx; ++i)
      for (int k = 0; k < p.nz; ++k)
        p.hardness[p.node(j, i, k)] = B0 * (1.0 + 0.5 * p.sigma[size_t(k)]);
  std::vector<double> w(p.size());
  for (int j = 0; j < p.ny; ++j)
    for (int i = 0; i < p.nx; ++i)
      for (int k = 0; k < p.nz; ++k) {
        const size_t col = p.column(j, i);
        const double z = p.bed[col] + p.sigma[size_t(k)] * std::max(p.thickness[col], 10.0);
        w[p.node(j, i, k) * 2] = a * z;
        w[p.node(j, i, k) * 2 + 1] = c * z;
      }
  const auto t = emu::make_torch_bp_patch(p);
  const double e2 = 0.25 * (a * a + c * c);
  const double exact = 2.0 * n / (n + 1.0) * 1.25 * B0 *
                       std::pow(e2 + p.constants.regularisation2, (n + 1.0) / (2.0 * n)) *
                       filled_integral(p, p.thickness) / p.constants.rho_g;
  const double E = value(emu::bp_viscous_energy(t, emu::velocity_tensor(t, w)));
  EXPECT_NEAR(E, exact, 1e-12 * exact);
}

TEST(TorchBPEnergy, FrictionOfAUniformSlidingIsExact) {
  // beta2 bilinear in each element: 2x2 Gauss integrates it exactly.
  for (double q : {1.0, 1.0 / 3.0}) {
    std::vector<double> beta2(20);
    for (size_t c = 0; c < beta2.size(); ++c) beta2[c] = 1000.0 + 300.0 * std::sin(double(c));
    BPPatch p = planar_patch(0.0, 0.0, beta2);
    p.constants.friction_exponent = q;
    const double u = 60.0, v = 25.0;
    const auto t = emu::make_torch_bp_patch(p);
    const double exact =
        filled_integral(p, p.beta2) / (q + 1.0) *
        std::pow(u * u + v * v + p.constants.friction_regularisation2, 0.5 * (q + 1.0)) /
        p.constants.rho_g;
    const double E =
        value(emu::bp_friction_energy(t, emu::velocity_tensor(t, uniform_velocity(p, u, v))));
    EXPECT_NEAR(E, exact, 1e-12 * exact) << "q = " << q;
  }
}

/// An ice shelf or cliff: columns i <= 3 hold ice of thickness H(j) on base
/// `base(j)`; columns 4 and 5 are open water (bed -500 m). The front is the
/// east face of elements (j, 2), at column 3, over the whole patch height.
BPPatch front_patch(const std::vector<double>& H, const std::vector<double>& base) {
  const int nx = 6, ny = int(H.size());
  std::vector<double> thk(size_t(nx * ny)), b(size_t(nx * ny)), beta2(size_t(nx * ny), 0.0),
      B(size_t(nx * ny * 5), 2.0e5);
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) {
      thk[size_t(j * nx + i)] = i <= 3 ? H[size_t(j)] : 0.0;
      b[size_t(j * nx + i)] = i <= 3 ? base[size_t(j)] : -500.0;
    }
  BPConstants constants;
  return nunatak::core::make_bp_patch(nx, ny, 900.0, 600.0, levels({0.0, 0.1, 0.35, 0.7, 1.0}), thk,
                                      b, beta2, B, constants);
}

TEST(TorchBPEnergy, OceanLoadOnAFloatingFrontIsExact) {
  // Floating slab (base -H rho_i/rho_w): the net load per metre of front is
  // int (s - z) dz - (rho_w/rho_i) int_{z < 0} (-z) dz = H^2/2 (1 - rho_i/rho_w),
  // and the energy of an outflow u is -u times the load times the front length.
  const double H = 300.0, r = BPConstants().water_ratio, u = 80.0;
  const BPPatch p = front_patch({H, H, H, H}, {-H / r, -H / r, -H / r, -H / r});
  ASSERT_EQ(p.front_faces[p.column(1, 2)], nunatak::core::face_east);
  const auto t = emu::make_torch_bp_patch(p);
  const double load = 0.5 * H * H * (1.0 - 1.0 / r);
  const double exact = -u * load * 3 * p.dy;
  const double E =
      value(emu::bp_front_energy(t, emu::velocity_tensor(t, uniform_velocity(p, u, 17.0))));
  EXPECT_NEAR(E, exact, 1e-12 * std::abs(exact));
}

TEST(TorchBPEnergy, OceanLoadOnAGroundedFrontIsExact) {
  // Grounded at depth d below sea level: load H^2/2 - (rho_w/rho_i) d^2/2.
  const double H = 400.0, d = 150.0, r = BPConstants().water_ratio, u = -25.0;
  const BPPatch p = front_patch({H, H, H}, {-d, -d, -d});
  const auto t = emu::make_torch_bp_patch(p);
  const double exact = -u * (0.5 * H * H - 0.5 * r * d * d) * 2 * p.dy;
  const double E =
      value(emu::bp_front_energy(t, emu::velocity_tensor(t, uniform_velocity(p, u, 0.0))));
  EXPECT_NEAR(E, exact, 1e-12 * std::abs(exact));
}

TEST(TorchBPEnergy, OceanLoadOnACliffAboveSeaLevelIsExact) {
  // Base above sea level, thickness linear along each face from H_A to H_B:
  // int_face H(t)^2/2 dt = dy (H_A^2 + H_A H_B + H_B^2) / 6 (3-point Gauss is exact).
  const std::vector<double> H = {250.0, 320.0, 180.0, 400.0};
  const BPPatch p = front_patch(H, {20.0, 35.0, 5.0, 60.0});
  const auto t = emu::make_torch_bp_patch(p);
  const double u = 12.0;
  double load = 0;
  for (size_t j = 0; j + 1 < H.size(); ++j)
    load += p.dy * (H[j] * H[j] + H[j] * H[j + 1] + H[j + 1] * H[j + 1]) / 6.0;
  const double E =
      value(emu::bp_front_energy(t, emu::velocity_tensor(t, uniform_velocity(p, u, 0.0))));
  EXPECT_NEAR(E, -u * load, 1e-12 * u * load);
}

// --- Derivatives ---------------------------------------------------------------

double energy_of(const emu::TorchBPPatch& t, const torch::Tensor& u) {
  torch::NoGradGuard no_grad;
  return value(emu::bp_energy(t, u));
}

/// Central differences of the energy along every entry of `x` (a tensor the
/// energy reads, modified in place), with step h (1 + |x_i|).
torch::Tensor finite_difference_gradient(const emu::TorchBPPatch& t, const torch::Tensor& u,
                                         torch::Tensor x, double h) {
  torch::NoGradGuard no_grad;
  auto flat = x.view({-1});
  auto g = torch::zeros_like(flat);
  for (int64_t n = 0; n < flat.numel(); ++n) {
    const double x0 = value(flat[n]), step = h * (1.0 + std::abs(x0));
    flat[n] = x0 + step;
    const double plus = energy_of(t, u);
    flat[n] = x0 - step;
    const double minus = energy_of(t, u);
    flat[n] = x0;
    g[n] = (plus - minus) / (2.0 * step);
  }
  return g.view(x.sizes());
}

TEST(TorchBPEnergy, VelocityGradientMatchesFiniteDifferences) {
  const BPPatch p = test_patch();
  const auto t = emu::make_torch_bp_patch(p);
  auto u = emu::velocity_tensor(t, test_velocity(p));
  const auto g = emu::bp_energy_gradient(t, u);
  const auto fd = finite_difference_gradient(t, u, u, 1e-5);
  const double error = relative_difference(g, fd);
  std::printf("velocity gradient vs finite differences: %.2e\n", error);
  EXPECT_LT(error, 1e-6);
  EXPECT_GT(value(g.abs().max()), 0.0);
}

TEST(TorchBPEnergy, GeometryGradientsMatchFiniteDifferences) {
  const BPPatch p = test_patch();
  emu::TorchBPPatch t = emu::make_torch_bp_patch(p);
  const auto u = emu::velocity_tensor(t, test_velocity(p));
  for (auto [name, field] : {std::pair{"thickness", &emu::TorchBPPatch::thickness},
                             {"bed", &emu::TorchBPPatch::bed},
                             {"beta2", &emu::TorchBPPatch::beta2},
                             {"hardness", &emu::TorchBPPatch::hardness}}) {
    torch::Tensor& x = t.*field;
    x.requires_grad_(true);
    const auto g = torch::autograd::grad({emu::bp_energy(t, u)}, {x})[0];
    x.requires_grad_(false);
    const auto fd = finite_difference_gradient(t, u, x, 1e-6);
    const double error = relative_difference(g, fd);
    std::printf("%s gradient vs finite differences: %.2e\n", name, error);
    EXPECT_LT(error, 1e-6) << name;
    EXPECT_GT(value(g.abs().max()), 0.0) << name;
  }
}

TEST(TorchBPEnergy, HessianVectorProductMatchesFiniteDifferencesOfTheGradient) {
  const BPPatch p = test_patch();
  const auto t = emu::make_torch_bp_patch(p);
  const auto u = emu::velocity_tensor(t, test_velocity(p));
  const auto d = torch::sin(torch::arange(double(p.size()), t.options()) * 0.7).view(u.sizes());
  const auto Hd = emu::bp_hessian_vector_product(t, u, d);
  const double h = 1e-4;
  const auto fd =
      (emu::bp_energy_gradient(t, u + h * d) - emu::bp_energy_gradient(t, u - h * d)) / (2.0 * h);
  const double error = relative_difference(Hd, fd);
  std::printf("Hessian-vector product vs finite differences: %.2e\n", error);
  EXPECT_LT(error, 1e-6);
  // Symmetry: d2 . H d1 = d1 . H d2.
  const auto d2 = torch::cos(torch::arange(double(p.size()), t.options()) * 1.3).view(u.sizes());
  const double a = value((d2 * Hd).sum()),
               b = value((d * emu::bp_hessian_vector_product(t, u, d2)).sum());
  EXPECT_NEAR(a, b, 1e-10 * std::abs(a));
}

/// A 24 x 20 x 9 ice cap with a marine front (defined below).
BPPatch ice_cap();
std::vector<double> ice_cap_velocity(const BPPatch& p);

TEST(TorchBPEnergy, HandWrittenLoopsEqualAutograd) {
  // The refinement's CPU loops (bp_energy_cpu.hpp) against LibTorch: the
  // energy, its gradient and Hessian-vector products, on the sliding patch
  // with a nonlinear law and a front, the same patch with no slip, and the
  // ice cap (linear sliding, more elements than one chunk), with garbage at
  // fixed nodes. Measured: 1e-16 to 4e-15.
  for (const BPPatch& p : {test_patch(), test_patch(true), ice_cap()}) {
    const auto t = emu::make_torch_bp_patch(p);
    const auto u = emu::velocity_tensor(t, p.nx == 24 ? ice_cap_velocity(p) : test_velocity(p));
    auto d = torch::sin(torch::arange(double(p.size()), t.options()) * 0.7).view(u.sizes());
    d = d + 99.0 * (1.0 - t.free_nodes).unsqueeze(-1);
    const emu::detail::BPEnergyCpu energy(t);
    torch::Tensor gradient;
    const double E = energy(u, &gradient), expected_E = value(emu::bp_energy(t, u));
    const auto expected_g = emu::bp_energy_gradient(t, u);
    const auto expected_Hd = emu::bp_hessian_vector_product(t, u, d);
    const double errors[3] = {std::abs(E - expected_E) / std::abs(expected_E),
                              relative_difference(gradient, expected_g),
                              relative_difference(energy.hessian(u)(d), expected_Hd)};
    std::printf("hand-written loops vs autograd on %d x %d x %d: energy %.1e, gradient %.1e, "
                "Hessian product %.1e\n",
                p.nx, p.ny, p.nz, errors[0], errors[1], errors[2]);
    for (const double error : errors) EXPECT_LT(error, 1e-12);
    EXPECT_EQ(energy(u), E); // without the gradient, the same sum
    EXPECT_GT(value(expected_Hd.abs().max()), 0.0);
    // A single-precision direction gives the same product to its rounding.
    EXPECT_LT(relative_difference(energy.hessian(u)(d.to(torch::kFloat32)), expected_Hd), 1e-6);
  }
  // One thread and two: the same sums to round-off (chunks follow the thread count).
  const BPPatch p = ice_cap();
  const auto t = emu::make_torch_bp_patch(p);
  const auto u = emu::velocity_tensor(t, ice_cap_velocity(p));
  const auto d = torch::cos(torch::arange(double(p.size()), t.options()) * 1.3).view(u.sizes());
  const int threads = at::get_num_threads();
  torch::Tensor products[2], gradients[2];
  for (int n = 1; n <= 2; ++n) {
    at::set_num_threads(n);
    const emu::detail::BPEnergyCpu energy(t);
    energy(u, &gradients[n - 1]);
    products[n - 1] = energy.hessian(u)(d);
  }
  at::set_num_threads(threads);
  EXPECT_LT(relative_difference(products[0], products[1]), 1e-14);
  EXPECT_LT(relative_difference(gradients[0], gradients[1]), 1e-14);
}

TEST(TorchBPEnergy, HardnessFromSoftness) {
  // A = 1e-16 Pa^-3 a^-1, E = 3: B = (3e-16)^(-1/3); dB/dA = -B / (n A).
  const auto A = torch::full({2}, 1e-16, torch::kFloat64).requires_grad_(true);
  const auto E = torch::full({2}, 3.0, torch::kFloat64);
  const auto B = emu::hardness_from_softness(A, E, 3.0);
  const double expected = std::pow(3e-16, -1.0 / 3.0);
  EXPECT_NEAR(value(B[0]), expected, 1e-12 * expected);
  const auto dB = torch::autograd::grad({B.sum()}, {A})[0];
  EXPECT_NEAR(value(dB[1]), -expected / (3.0 * 1e-16), 1e-10 * expected / 1e-16);
  EXPECT_NEAR(value(emu::hardness_from_softness(A, 3.0, 3.0)[1]), expected, 1e-12 * expected);
}

// --- Precision and devices -----------------------------------------------------

/// A 24 x 20 x 9 ice cap with a marine front, larger than the test patch.
BPPatch ice_cap() {
  const int nx = 24, ny = 20, nz = 9;
  std::vector<double> sigma(nz), H(nx * ny), b(nx * ny), beta2(nx * ny), B(nx * ny * nz, 2.0e5);
  for (int k = 0; k < nz; ++k) sigma[size_t(k)] = double(k) / (nz - 1);
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) {
      const double x = double(i) / (nx - 1), y = double(j) / (ny - 1);
      const double r2 = (x - 0.45) * (x - 0.45) + (y - 0.5) * (y - 0.5);
      const size_t c = size_t(j * nx + i);
      H[c] = std::max(0.0, 1500.0 * (1.0 - r2 / 0.2));
      b[c] = 300.0 - 900.0 * x;
      beta2[c] = 1.0e3 * (1.0 + 0.5 * std::sin(6.0 * x) * std::cos(5.0 * y));
    }
  BPConstants constants;
  return nunatak::core::make_bp_patch(nx, ny, 2000.0, 2000.0, sigma, H, b, beta2, B, constants);
}

std::vector<double> ice_cap_velocity(const BPPatch& p) {
  std::vector<double> u(p.size());
  for (int j = 0; j < p.ny; ++j)
    for (int i = 0; i < p.nx; ++i)
      for (int k = 0; k < p.nz; ++k) {
        const double s = p.sigma[size_t(k)], x = double(i) / p.nx - 0.45,
                     y = double(j) / p.ny - 0.5;
        u[p.node(j, i, k) * 2] = 200.0 * x * (1.0 + s * s);
        u[p.node(j, i, k) * 2 + 1] = 200.0 * y * (1.0 + s * s);
      }
  return u;
}

TEST(TorchBPEnergy, SinglePrecisionAgreesWithDouble) {
  // Measured (Debian LibTorch 1.13, CPU): relative energy difference 7e-8 and
  // 1.1e-7, gradient difference (max-norm relative) 1.8e-7 and 1.0e-6 on the
  // 6 x 5 x 4 and 24 x 20 x 9 patches.
  for (const BPPatch& p : {test_patch(), ice_cap()}) {
    const std::vector<double> u = p.nx == 24 ? ice_cap_velocity(p) : test_velocity(p);
    const auto t64 = emu::make_torch_bp_patch(p, torch::kFloat64);
    const auto t32 = emu::make_torch_bp_patch(p, torch::kFloat32);
    const auto u64 = emu::velocity_tensor(t64, u), u32 = emu::velocity_tensor(t32, u);
    ASSERT_EQ(u32.scalar_type(), torch::kFloat32);
    const double E64 = value(emu::bp_energy(t64, u64)), E32 = value(emu::bp_energy(t32, u32));
    const double energy_error = std::abs(E32 - E64) / std::abs(E64);
    const double gradient_error =
        relative_difference(emu::bp_energy_gradient(t32, u32), emu::bp_energy_gradient(t64, u64));
    std::printf("float vs double on %d x %d x %d: energy %.1e, gradient %.1e\n", p.nx, p.ny, p.nz,
                energy_error, gradient_error);
    EXPECT_LT(energy_error, 1e-6);
    EXPECT_LT(gradient_error, 1e-5);
  }
}

TEST(TorchBPEnergy, CudaAgreesWithTheCpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "LibTorch has no CUDA device here";
  const BPPatch p = ice_cap();
  const std::vector<double> u = ice_cap_velocity(p);
  for (auto dtype : {torch::kFloat64, torch::kFloat32}) {
    const auto cpu = emu::make_torch_bp_patch(p, dtype, torch::kCPU);
    const auto gpu = emu::make_torch_bp_patch(p, dtype, torch::kCUDA);
    const auto u_cpu = emu::velocity_tensor(cpu, u), u_gpu = emu::velocity_tensor(gpu, u);
    ASSERT_TRUE(u_gpu.is_cuda());
    const double tolerance = dtype == torch::kFloat64 ? 1e-12 : 1e-5;
    const double E_cpu = value(emu::bp_energy(cpu, u_cpu)),
                 E_gpu = value(emu::bp_energy(gpu, u_gpu));
    EXPECT_NEAR(E_gpu, E_cpu, tolerance * std::abs(E_cpu));
    EXPECT_LT(relative_difference(emu::bp_energy_gradient(gpu, u_gpu),
                                  emu::bp_energy_gradient(cpu, u_cpu)),
              dtype == torch::kFloat64 ? 1e-12 : 1e-4);
    const auto d = torch::ones_like(u_cpu);
    EXPECT_LT(relative_difference(emu::bp_hessian_vector_product(gpu, u_gpu, d.to(torch::kCUDA)),
                                  emu::bp_hessian_vector_product(cpu, u_cpu, d)),
              dtype == torch::kFloat64 ? 1e-12 : 1e-4);
  }
}

} // namespace
