// Method of manufactured solutions for the Blatter-Pattyn solver: a smooth
// exact velocity on a periodic slab, the body force that makes it a solution,
// and second-order convergence of the nodal velocities under grid refinement
// (horizontal and vertical together); 1 rank = 2 ranks.
#include "nunatak/core/constants.hpp"
#include "nunatak/core/field.hpp"
#include "nunatak/core/parallel_grid.hpp"
#include "nunatak/solver/blatter_pattyn.hpp"

#include <gtest/gtest.h>
#include <petscdmda.h>

#include <array>
#include <chrono>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <random>
#include <sstream>
#include <vector>

using namespace nunatak;

namespace {

/// Value, gradient and Hessian (x, y, z) of one velocity component, m/a.
struct Jet {
  double val = 0, d[3] = {0, 0, 0}, dd[3][3] = {{0, 0, 0}, {0, 0, 0}, {0, 0, 0}};
};

/// The manufactured solution on the periodic slab [0, L)^2 x [b, b + H]:
///   u = U sin(kx) cos(ky) zeta(sigma),  v = V cos(kx) sin(ky) zeta(sigma),
///   k = 2 pi / L, sigma = (z - b) / H, zeta = 1 - (1 - sigma)^2,
/// zero at the bed (no slip) and with zero vertical shear at the surface, so
/// the natural stress-free condition holds exactly on the flat surface; the
/// flat surface has no driving stress, and the body force f = -div(T), with
///   T_xx = 2 eta (2 u_x + v_y), T_xy = eta (u_y + v_x), T_xz = eta u_z,
///   T_yy = 2 eta (2 v_y + u_x), T_yz = eta v_z,
///   f_x = -(T_xx,x + T_xy,y + T_xz,z), f_y = -(T_xy,x + T_yy,y + T_yz,z)
/// (the solver's "-div(T) + rho g grad s = f", its residual being
/// int T : grad(phi) - f phi), makes (u, v) the exact solution.
/// Velocities in m/a, lengths in m, eta in Pa a, stresses in Pa, f in Pa/m.
struct Manufactured {
  double L = 10e3, H = 1000.0, bed = -1000.0;
  double U = 20.0, V = 12.0; // m/a
  double n = 3.0;            // Glen exponent
  double B = 0;              // hardness A^(-1/n), Pa a^(1/n)
  double reg2 = 0;           // strain-rate regularisation squared, a^-2

  Manufactured(const solver::BPParams& p) {
    // As the solver: A in Pa^-n a^-1 with the solver's year.
    B = std::pow(p.flow.enhancement * p.flow.softness * core::seconds_per_year, -1.0 / p.flow.n);
    n = p.flow.n;
    reg2 = p.strain_rate_regularisation * p.strain_rate_regularisation;
  }
  double k() const { return 2.0 * M_PI / L; }

  /// u and v with their first and second derivatives at (x, y, z).
  void jets(double x, double y, double z, Jet& u, Jet& v) const {
    const double kk = k(), sx = std::sin(kk * x), cx = std::cos(kk * x), sy = std::sin(kk * y),
                 cy = std::cos(kk * y);
    const double s = (z - bed) / H;
    const double Z = 1.0 - (1.0 - s) * (1.0 - s), Zz = 2.0 * (1.0 - s) / H, Zzz = -2.0 / (H * H);
    // F = A P(x, y) Z(z) with P and its derivatives given.
    auto fill = [&](Jet& F, double A, double P, double Px, double Py, double Pxx, double Pxy,
                    double Pyy) {
      F.val = A * P * Z;
      F.d[0] = A * Px * Z;
      F.d[1] = A * Py * Z;
      F.d[2] = A * P * Zz;
      F.dd[0][0] = A * Pxx * Z;
      F.dd[0][1] = F.dd[1][0] = A * Pxy * Z;
      F.dd[0][2] = F.dd[2][0] = A * Px * Zz;
      F.dd[1][1] = A * Pyy * Z;
      F.dd[1][2] = F.dd[2][1] = A * Py * Zz;
      F.dd[2][2] = A * P * Zzz;
    };
    const double k2 = kk * kk;
    fill(u, U, sx * cy, kk * cx * cy, -kk * sx * sy, -k2 * sx * cy, -k2 * cx * sy, -k2 * sx * cy);
    fill(v, V, cx * sy, -kk * sx * sy, kk * cx * cy, -k2 * cx * sy, -k2 * sx * cy, -k2 * cx * sy);
  }

  std::array<double, 2> velocity(double x, double y, double z) const {
    Jet u, v;
    jets(x, y, z, u, v);
    return {u.val, v.val};
  }

  /// e2 = u_x^2 + v_y^2 + u_x v_y + (u_y + v_x)^2/4 + u_z^2/4 + v_z^2/4, a^-2.
  static double strain_rate2(const double du[3], const double dv[3]) {
    const double shear = du[1] + dv[0];
    return du[0] * du[0] + dv[1] * dv[1] + du[0] * dv[1] + 0.25 * shear * shear +
           0.25 * du[2] * du[2] + 0.25 * dv[2] * dv[2];
  }
  /// eta = (B/2) (e2 + reg^2)^((1-n)/(2n)), Pa a.
  double viscosity(double e2) const { return 0.5 * B * std::pow(e2 + reg2, (1.0 - n) / (2.0 * n)); }

  /// The stress components (T_xx, T_xy, T_xz, T_yy, T_yz), Pa, at (x, y, z).
  std::array<double, 5> stress(double x, double y, double z) const {
    Jet u, v;
    jets(x, y, z, u, v);
    const double eta = viscosity(strain_rate2(u.d, v.d));
    return {2 * eta * (2 * u.d[0] + v.d[1]), eta * (u.d[1] + v.d[0]), eta * u.d[2],
            2 * eta * (2 * v.d[1] + u.d[0]), eta * v.d[2]};
  }

  /// f = -div(T), Pa/m, with the outer derivatives by 4th-order central
  /// differences of the exact stress, steps 1e-3 of the length scales 1/k
  /// (horizontal) and H (vertical). A check on `force`.
  std::array<double, 2> force_fd(double x, double y, double z) const {
    const double hx = 1e-3 / k(), hz = 1e-3 * H;
    auto d4 = [&](double dx, double dy, double dz, double h, int c) {
      const double fp2 = stress(x + 2 * dx, y + 2 * dy, z + 2 * dz)[size_t(c)],
                   fp1 = stress(x + dx, y + dy, z + dz)[size_t(c)],
                   fm1 = stress(x - dx, y - dy, z - dz)[size_t(c)],
                   fm2 = stress(x - 2 * dx, y - 2 * dy, z - 2 * dz)[size_t(c)];
      return (-fp2 + 8 * fp1 - 8 * fm1 + fm2) / (12 * h);
    };
    const double Txx_x = d4(hx, 0, 0, hx, 0), Txy_x = d4(hx, 0, 0, hx, 1),
                 Txy_y = d4(0, hx, 0, hx, 1), Tyy_y = d4(0, hx, 0, hx, 3),
                 Txz_z = d4(0, 0, hz, hz, 2), Tyz_z = d4(0, 0, hz, hz, 4);
    return {-(Txx_x + Txy_y + Txz_z), -(Tyy_y + Txy_x + Tyz_z)};
  }

  /// f = -div(T), Pa/m, fully analytic: eta_a = p eta (e2)_a / (e2 + reg^2),
  /// p = (1-n)/(2n), with (e2)_a from the exact second derivatives.
  std::array<double, 2> force(double x, double y, double z) const {
    Jet u, v;
    jets(x, y, z, u, v);
    const double e2 = strain_rate2(u.d, v.d), eta = viscosity(e2);
    const double p = (1.0 - n) / (2.0 * n);
    const double shear = u.d[1] + v.d[0];
    double eta_d[3];
    for (int a = 0; a < 3; ++a) {
      const double e2_a = 2 * u.d[0] * u.dd[0][a] + 2 * v.d[1] * v.dd[1][a] + u.dd[0][a] * v.d[1] +
                          u.d[0] * v.dd[1][a] + 0.5 * shear * (u.dd[1][a] + v.dd[0][a]) +
                          0.5 * u.d[2] * u.dd[2][a] + 0.5 * v.d[2] * v.dd[2][a];
      eta_d[a] = p * eta * e2_a / (e2 + reg2);
    }
    const double Txx_x =
        2 * eta_d[0] * (2 * u.d[0] + v.d[1]) + 2 * eta * (2 * u.dd[0][0] + v.dd[1][0]);
    const double Txy_y = eta_d[1] * shear + eta * (u.dd[1][1] + v.dd[0][1]);
    const double Txz_z = eta_d[2] * u.d[2] + eta * u.dd[2][2];
    const double Tyy_y =
        2 * eta_d[1] * (2 * v.d[1] + u.d[0]) + 2 * eta * (2 * v.dd[1][1] + u.dd[0][1]);
    const double Txy_x = eta_d[0] * shear + eta * (u.dd[1][0] + v.dd[0][0]);
    const double Tyz_z = eta_d[2] * v.d[2] + eta * v.dd[2][2];
    return {-(Txx_x + Txy_y + Txz_z), -(Tyy_y + Txy_x + Tyz_z)};
  }
};

solver::BPParams mms_params(int nz) {
  solver::BPParams p;
  p.flow.n = 3.0;
  p.flow.softness = 1e-16 / core::seconds_per_year; // 1e-16 Pa^-3 a^-1
  p.levels = nz;
  p.no_slip = true;
  p.surface_trend_x = 0.0;
  return p;
}

/// Relative nodal errors of one solve, per component (u, v).
struct Errors {
  int nx = 0, nz = 0;
  double max[2] = {0, 0}, rms[2] = {0, 0};
  bool converged = false;
  int newton = 0, krylov = 0;
  double seconds = 0;
  std::string reason;
};

Errors solve_manufactured(MPI_Comm comm, int nx, int nz) {
  const solver::BPParams p = mms_params(nz);
  const Manufactured ms(p);
  core::DecompositionOptions options;
  options.periodic_x = options.periodic_y = true;
  const double dx = ms.L / nx;
  auto grid = core::ParallelGrid::create(comm, core::Grid(nx, nx, dx, dx, 0.0, 0.0), options);
  // Constant thickness and bed on the whole ghosted box: a flat slab.
  core::Field2D thk(grid, core::FieldInfo{"thk", "land ice thickness", "", "m", "m", {}, ""}, ms.H);
  core::Field2D bed(grid, core::FieldInfo{"topg", "bed elevation", "", "m", "m", {}, ""}, ms.bed);

  solver::BlatterPattyn bp(grid, p);
  bp.set_geometry(thk, bed);
  bp.set_body_force([ms](double x, double y, double z) { return ms.force(x, y, z); });

  // Owned nodes: PETSc's x is the column, y the map x, z the map y.
  PetscInt zs = 0, xs = 0, ys = 0, zm = 0, xm = 0, ym = 0;
  PetscCallAbort(comm, DMDAGetCorners(bp.dm(), &zs, &xs, &ys, &zm, &xm, &ym));
  const std::vector<double> sigma = core::uniform_sigma(nz);
  auto for_each_node = [&](auto&& body) {
    size_t n = 0;
    for (PetscInt j = ys; j < ys + ym; ++j)
      for (PetscInt i = xs; i < xs + xm; ++i)
        for (PetscInt k = 0; k < zm; ++k, n += 2)
          body(n, ms.velocity(i * dx, j * dx, ms.bed + sigma[size_t(k)] * ms.H));
  };

  // Newton's start: half the exact field (the shallow-ice guess of a flat
  // slab is zero, from which Newton has no strain rate to work with).
  PetscScalar* xa = nullptr;
  PetscCallAbort(comm, VecGetArray(bp.solution(), &xa));
  for_each_node([&](size_t n, std::array<double, 2> uv) {
    xa[n] = 0.5 * uv[0];
    xa[n + 1] = 0.5 * uv[1];
  });
  PetscCallAbort(comm, VecRestoreArray(bp.solution(), &xa));

  // A tighter relative Newton tolerance than the solver's 1e-8, so that the
  // algebraic error (different on 1 and 2 ranks: ILU vs block Jacobi) is far
  // below 1e-6 of the discretisation error: with 1e-8 the 1- and 2-rank errors
  // differ by up to 4e-7 relative, with 1e-10 by 5e-9, for the same number of
  // Newton iterations.
  PetscReal atol = 0, rtol = 0, stol = 0;
  PetscInt max_it = 0, max_f = 0;
  PetscCallAbort(comm, SNESGetTolerances(bp.snes(), &atol, &rtol, &stol, &max_it, &max_f));
  PetscCallAbort(comm, SNESSetTolerances(bp.snes(), atol, 1e-10, stol, max_it, max_f));

  Errors e;
  e.nx = nx;
  e.nz = nz;
  const auto start = std::chrono::steady_clock::now();
  const solver::BPSolveReport r = bp.solve();
  e.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  e.converged = r.converged;
  e.newton = r.newton_iterations;
  e.krylov = r.krylov_iterations;
  e.reason = r.reason;

  // max |u_h - u| / max |u| and sqrt(sum (u_h - u)^2 / sum u^2) over all nodes.
  double err_max[2] = {0, 0}, ref_max[2] = {0, 0}, err_sq[2] = {0, 0}, ref_sq[2] = {0, 0};
  const PetscScalar* sol = nullptr;
  PetscCallAbort(comm, VecGetArrayRead(bp.solution(), &sol));
  for_each_node([&](size_t n, std::array<double, 2> uv) {
    for (size_t c = 0; c < 2; ++c) {
      const double d = sol[n + c] - uv[c];
      err_max[c] = std::max(err_max[c], std::abs(d));
      ref_max[c] = std::max(ref_max[c], std::abs(uv[c]));
      err_sq[c] += d * d;
      ref_sq[c] += uv[c] * uv[c];
    }
  });
  PetscCallAbort(comm, VecRestoreArrayRead(bp.solution(), &sol));
  double maxima[4] = {err_max[0], err_max[1], ref_max[0], ref_max[1]},
         sums[4] = {err_sq[0], err_sq[1], ref_sq[0], ref_sq[1]};
  MPI_Allreduce(MPI_IN_PLACE, maxima, 4, MPI_DOUBLE, MPI_MAX, comm);
  MPI_Allreduce(MPI_IN_PLACE, sums, 4, MPI_DOUBLE, MPI_SUM, comm);
  for (int c = 0; c < 2; ++c) {
    e.max[c] = maxima[c] / maxima[c + 2];
    e.rms[c] = std::sqrt(sums[c] / sums[c + 2]);
  }
  return e;
}

double order(double coarse, double fine) {
  return std::log2(coarse / fine);
}

} // namespace

// The analytic body force (the one the solver gets) against 4th-order central
// differences of the exact stress (steps 1e-3 / k = 1.6 m horizontally, 1e-3 H
// = 1 m vertically): two independent derivations of -div(T). The FD error is
// truncation, ~ (h / r)^4 relative, r being the distance to the isolated
// points where the strain rate vanishes (bed: (0, 0), (L/4, L/4), (0, L/2)...;
// surface: (L/4, 0), (0, L/4)...), near which eta ~ e2^(-1/3) varies fast and
// |f| grows like r^(-2/3) (max |f| ~ 470 Pa/m against ~50 typically). On these
// 500 points the pointwise relative difference has median 2e-12 and maximum
// 4e-8, and the worst difference is 8e-9 of max |f| (26 m above the bed point
// (0, L/2)); there it falls by 16 per halving of the steps, so the analytic
// force is exact to round-off. Either force is far more accurate than the
// discretisation (relative errors >= 2e-3 on the grids below; solving with the
// FD force instead gives the same errors to 4 digits, 3 times slower).
TEST(BlatterPattynManufactured, BodyForceMatchesFiniteDifferencesOfTheStress) {
  const Manufactured ms(mms_params(5));
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  double worst = 0, scale = 0;
  for (int t = 0; t < 500; ++t) {
    const double x = ms.L * unit(rng), y = ms.L * unit(rng), z = ms.bed + ms.H * unit(rng);
    const auto a = ms.force(x, y, z), f = ms.force_fd(x, y, z);
    for (size_t c = 0; c < 2; ++c) {
      scale = std::max(scale, std::abs(a[c]));
      worst = std::max(worst, std::abs(a[c] - f[c]));
    }
  }
  EXPECT_GT(scale, 10.0); // Pa/m: a substantial force (max ~ 470 Pa/m)
  EXPECT_LT(worst / scale, 1e-7) << "max |f_analytic - f_fd| = " << worst
                                 << " Pa/m, max |f| = " << scale << " Pa/m";
}

// Grids (nx = ny, nz): horizontal and vertical spacing halved together, with
// the vertical spacing chosen so that both directions contribute about equally.
// Measured separately (max u): the horizontal error alone (nz = 33) is 1.6e-2,
// 4.0e-3, 1.0e-3 at nx = 16, 32, 64 (orders 2.01, 2.00); the vertical error
// alone (nx = 128, less its horizontal part) about 5e-3 at nz = 5 and a quarter
// of it at nz = 9. With nz = nx/2 + 1 instead (dz / dx = 0.2), the horizontal
// error dominates: 32 x 32 x 17 differs from 32 x 32 x 33 by 2 %, and the test
// would hardly see the vertical discretisation.
// Second order at the nodes is expected for Q1 with 2x2x2 Gauss quadrature.
TEST(BlatterPattynManufactured, SecondOrderConvergence) {
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const std::vector<std::array<int, 2>> grids{{16, 3}, {32, 5}, {64, 9}};
  std::vector<Errors> all;
  for (auto [nx, nz] : grids) {
    all.push_back(solve_manufactured(MPI_COMM_WORLD, nx, nz));
    const Errors& e = all.back();
    EXPECT_TRUE(e.converged) << nx << " x " << nx << " x " << nz << ": " << e.reason;
  }
  auto orders = [&](size_t g) {
    const Errors &c = all[g - 1], &f = all[g];
    return std::array<double, 4>{order(c.max[0], f.max[0]), order(c.max[1], f.max[1]),
                                 order(c.rms[0], f.rms[0]), order(c.rms[1], f.rms[1])};
  };
  if (rank == 0) {
    std::ostringstream out;
    out << "BP manufactured solution on " << size
        << " rank(s): relative nodal errors (max, RMS) and observed orders\n"
        << "  nx  nz     max u     max v     rms u     rms v   o(mu)  o(mv)  o(ru)  o(rv) "
           " Newton  Krylov  time/s\n";
    for (size_t g = 0; g < all.size(); ++g) {
      const Errors& e = all[g];
      out << std::setw(4) << e.nx << std::setw(4) << e.nz << std::scientific
          << std::setprecision(3);
      for (double v : {e.max[0], e.max[1], e.rms[0], e.rms[1]}) out << std::setw(10) << v;
      out << std::fixed << std::setprecision(2);
      if (g == 0)
        out << "      -      -      -      -";
      else
        for (double o : orders(g)) out << std::setw(7) << o;
      out << std::setw(8) << e.newton << std::setw(8) << e.krylov << std::setw(8) << e.seconds
          << '\n';
    }
    std::cout << out.str() << std::flush;
  }
  for (size_t k = 0; k < 4; ++k)
    EXPECT_GE(orders(all.size() - 1)[k], 1.8)
        << "order (max u, max v, rms u, rms v)[" << k << "] between the two finest grids";

  // The same errors on rank 0 alone.
  if (size == 1 || rank != 0) return;
  for (const Errors& e : all) {
    const Errors one = solve_manufactured(MPI_COMM_SELF, e.nx, e.nz);
    EXPECT_TRUE(one.converged);
    for (int k = 0; k < 2; ++k) {
      EXPECT_NEAR(e.max[k], one.max[k], 1e-6 * one.max[k]) << e.nx << ", component " << k;
      EXPECT_NEAR(e.rms[k], one.rms[k], 1e-6 * one.rms[k]) << e.nx << ", component " << k;
    }
  }
}
