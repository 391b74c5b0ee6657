#include "nunatak/solver/shallow_ice.hpp"

#include "nunatak/core/collective.hpp"
#include "nunatak/core/constants.hpp"
#include "nunatak/core/error.hpp"
#include "nunatak/core/petsc_log.hpp"

#include <mpi.h>

#include <limits>
#include <sstream>

namespace nunatak::solver {

namespace {

core::View2D face_view(const char* label, const core::LocalBox& b) {
  return core::View2D(std::string(label), b.gym, b.gxm);
}

/// The sliding coefficient of a face from its two cells' (negative: the cell
/// has none): their mean, or the one there is, or no sliding.
KOKKOS_INLINE_FUNCTION double face_coefficient(double a, double b) {
  if (a >= 0.0 && b >= 0.0) return 0.5 * (a + b);
  if (a >= 0.0) return a;
  return b >= 0.0 ? b : 0.0;
}

/// int_a^b A(s) (1 - s)^k ds for A linear from (s0, A0) to (s1, A1), with
/// [a, b] inside [s0, s1]: with t = 1 - s and A = alpha + beta s,
/// (alpha + beta) [t^(k+1) / (k+1)] - beta [t^(k+2) / (k+2)] from t = 1 - b to 1 - a.
KOKKOS_INLINE_FUNCTION double weighted_segment(double s0, double A0, double s1, double A1, double a,
                                               double b, double k) {
  const double beta = (A1 - A0) / (s1 - s0), alpha = A0 - beta * s0;
  const double ta = 1.0 - a, tb = 1.0 - b;
  const double P = (pow(ta, k + 1.0) - pow(tb, k + 1.0)) / (k + 1.0);
  const double Q = (pow(ta, k + 2.0) - pow(tb, k + 2.0)) / (k + 2.0);
  return (alpha + beta) * P - beta * Q;
}

/// int_0^sigma A(s) (1 - s)^k ds over the column (j, i) of A, linear between
/// its levels.
KOKKOS_INLINE_FUNCTION double column_integral(const core::View3D& A,
                                              const Kokkos::View<double*>& levels, int j, int i,
                                              double sigma, double k) {
  double sum = 0.0;
  for (int l = 0; l + 1 < int(levels.extent(0)) && levels(l) < sigma; ++l) {
    const double top = levels(l + 1) < sigma ? levels(l + 1) : sigma;
    sum +=
        weighted_segment(levels(l), A(j, i, l), levels(l + 1), A(j, i, l + 1), levels(l), top, k);
  }
  return sum;
}

} // namespace

void ShallowIce::set_softness(const core::Field3D& softness) {
  const core::LocalBox b = m_grid->box();
  const core::Grid& g = m_grid->grid();
  const std::vector<double>& sigma = softness.sigma();
  Kokkos::View<double*> levels("sia::softness_levels", sigma.size());
  auto host_levels = Kokkos::create_mirror_view(levels);
  for (size_t k = 0; k < sigma.size(); ++k) host_levels(k) = sigma[k];
  Kokkos::deep_copy(levels, host_levels);
  const core::View3D A = softness.view();
  const int nl = softness.levels();

  // A must be a positive number in the rank's cells (checked on every rank together).
  const int gxs = b.gxs, gys = b.gys, nx = g.nx();
  const int i0 = b.xs - b.gxs, j0 = b.ys - b.gys;
  long long first = std::numeric_limits<long long>::max();
  Kokkos::parallel_reduce(
      "sia::check_softness",
      Kokkos::MDRangePolicy<Kokkos::Rank<2>>({j0, i0}, {j0 + b.ym, i0 + b.xm}),
      KOKKOS_LAMBDA(int j, int i, long long& bad) {
        for (int l = 0; l < nl; ++l)
          if (!(A(j, i, l) > 0.0 && A(j, i, l) < 1e300)) {
            const long long k = ((long long)(j + gys) * nx + (i + gxs)) * nl + l;
            if (k < bad) bad = k;
          }
      },
      Kokkos::Min<long long>(first));
  core::collective(m_grid->comm(), [&] {
    if (first == std::numeric_limits<long long>::max()) return;
    const int l = int(first % nl), gi = int(first / nl % nx), gj = int(first / nl / nx);
    Kokkos::View<double, Kokkos::HostSpace> value("sia::bad_softness");
    Kokkos::deep_copy(value, Kokkos::subview(A, gj - gys, gi - gxs, l));
    std::ostringstream m;
    m << "sia: the ice softness '" << softness.info().name << "' must be positive, but it is "
      << value() << " Pa^-n s^-1 in cell (i = " << gi << ", j = " << gj << "; x = " << g.x(gi)
      << " m, y = " << g.y(gj) << " m) at sigma = " << sigma[size_t(l)];
    throw Error(m.str());
  });

  // Per cell: the weighted means of A that the exact SIA column integrals give,
  //   flux:            A_q = (n + 2) int_0^1 A(s) (1 - s)^(n+1) ds,
  //   surface speed:   A_s = (n + 1) int_0^1 A(s) (1 - s)^n ds
  // (both equal A for a uniform A).
  const double n = m_params.flow.n;
  const core::View2D Aq = m_softness_flux, As = m_softness_surface;
  Kokkos::parallel_for(
      "sia::softness_means", Kokkos::MDRangePolicy<Kokkos::Rank<2>>({0, 0}, {b.gym, b.gxm}),
      KOKKOS_LAMBDA(int j, int i) {
        Aq(j, i) = (n + 2.0) * column_integral(A, levels, j, i, 1.0, n + 1.0);
        As(j, i) = (n + 1.0) * column_integral(A, levels, j, i, 1.0, n);
      });
  m_softness = A;
  m_softness_levels = levels;
}

void ShallowIce::set_basal_friction(const StressBalanceInputs& in) {
  const core::LocalBox b = m_grid->box();
  const core::Grid& g = m_grid->grid();
  const core::Floatation floatation = in.floatation;
  const core::View2D beta2 = in.basal_friction->view(), H = in.thk.view(), bed = in.topg.view();

  // beta^2 must be a positive number under grounded ice: the rank's cells
  // are checked here, so the error is raised on every rank together.
  const int gxs = b.gxs, gys = b.gys, nx = g.nx();
  const int i0 = b.xs - b.gxs, j0 = b.ys - b.gys;
  long long first = std::numeric_limits<long long>::max();
  Kokkos::parallel_reduce(
      "sia::check_basal_friction",
      Kokkos::MDRangePolicy<Kokkos::Rank<2>>({j0, i0}, {j0 + b.ym, i0 + b.xm}),
      KOKKOS_LAMBDA(int j, int i, long long& bad) {
        const double c = beta2(j, i);
        const bool positive = c > 0.0 && c < 1e300; // false for NaN and inf
        if (!positive && floatation.cell_type(H(j, i), bed(j, i)) == core::grounded_ice) {
          const long long k = (long long)(j + gys) * nx + (i + gxs);
          if (k < bad) bad = k;
        }
      },
      Kokkos::Min<long long>(first));
  core::collective(m_grid->comm(), [&] {
    if (first == std::numeric_limits<long long>::max()) return;
    const int gi = int(first % nx), gj = int(first / nx);
    Kokkos::View<double, Kokkos::HostSpace> value("sia::bad_beta2");
    Kokkos::deep_copy(value, Kokkos::subview(beta2, gj - gys, gi - gxs));
    std::ostringstream m;
    m << "sia: the basal friction coefficient '" << in.basal_friction->info().name
      << "' must be positive under grounded ice, but it is " << value() << " Pa (m/a)^-q in cell"
      << " (i = " << gi << ", j = " << gj << "; x = " << g.x(gi) << " m, y = " << g.y(gj) << " m)";
    throw Error(m.str());
  });

  // Per cell: C = (beta^2)^(-m) in (m/a) Pa^-m, to SI; -1 where it does not
  // apply (beta^2 not positive, or floating ice: no friction there).
  const double m = m_params.sliding.exponent, per_year = 1.0 / core::seconds_per_year;
  const core::View2D C = m_sliding_c;
  Kokkos::parallel_for(
      "sia::sliding_coefficient", Kokkos::MDRangePolicy<Kokkos::Rank<2>>({0, 0}, {b.gym, b.gxm}),
      KOKKOS_LAMBDA(int j, int i) {
        const double c = beta2(j, i);
        const bool positive = c > 0.0 && c < 1e300;
        const bool floating = floatation.cell_type(H(j, i), bed(j, i)) == core::floating_ice;
        C(j, i) = positive && !floating ? pow(c, -m) * per_year : -1.0;
      });
}

ShallowIce::ShallowIce(std::shared_ptr<const core::ParallelGrid> grid,
                       const StressBalanceParams& params)
    : m_grid(std::move(grid)), m_params(params) {
  const core::LocalBox& b = m_grid->box();
  m_thk_x = face_view("sia::thk_x", b);
  m_thk_y = face_view("sia::thk_y", b);
  m_slope_x = face_view("sia::slope_x", b);
  m_slope_y = face_view("sia::slope_y", b);
  m_ddef_x = face_view("sia::ddef_x", b);
  m_ddef_y = face_view("sia::ddef_y", b);
  m_dslide_x = face_view("sia::dslide_x", b);
  m_dslide_y = face_view("sia::dslide_y", b);
  m_fluxes.qx = face_view("sia::qx", b);
  m_fluxes.qy = face_view("sia::qy", b);
  m_sliding_c = face_view("sia::sliding_c", b); // per cell, on the ghosted box
  m_softness_flux = face_view("sia::softness_flux", b);
  m_softness_surface = face_view("sia::softness_surface", b);
  m_surface_factor_x = face_view("sia::surface_factor_x", b);
  m_surface_factor_y = face_view("sia::surface_factor_y", b);
}

void ShallowIce::update(const StressBalanceInputs& in) {
  const core::LogEventScope timer(core::log_event("SIAUpdate"));
  const core::LocalBox b = m_grid->box();
  const double dx = m_grid->grid().dx(), dy = m_grid->grid().dy();
  const double n = m_params.flow.n, gamma = sia_gamma(m_params.flow);
  const double rho_g = m_params.flow.ice_density * m_params.flow.gravity;
  const SlidingLaw sliding = m_params.sliding;
  const core::Floatation floatation = in.floatation; // faces with H <= H_min do not flow
  const core::View2D H = in.thk.view(), s = in.usurf.view();
  const core::View2D Hx = m_thk_x, Hy = m_thk_y, Sx = m_slope_x, Sy = m_slope_y;
  const core::View2D Dx = m_ddef_x, Dy = m_ddef_y, Bx = m_dslide_x, By = m_dslide_y;
  const core::View2D qx = m_fluxes.qx, qy = m_fluxes.qy;
  // A basal friction field replaces the uniform sliding coefficient by one per face.
  const bool friction_field = in.basal_friction != nullptr;
  if (friction_field) set_basal_friction(in);
  const core::View2D C = m_sliding_c;
  // A softness field: Gamma per face from the face mean of the cells' A_q,
  // and u_s - u_b = (n+2)/(n+1) (A_s / A_q) (ubar - u_b).
  const bool softness_field = in.softness != nullptr;
  if (softness_field) set_softness(*in.softness);
  m_has_softness = softness_field;
  FlowLaw unit_softness = m_params.flow;
  unit_softness.softness = 1.0;
  const double gamma_per_A = sia_gamma(unit_softness);
  const double uniform_factor = (n + 2.0) / (n + 1.0);
  const core::View2D Aq = m_softness_flux, As = m_softness_surface;
  const core::View2D Fx = m_surface_factor_x, Fy = m_surface_factor_y;
  // Owned cells in local indices, and the faces around them.
  const int i0 = b.xs - b.gxs, i1 = i0 + b.xm, j0 = b.ys - b.gys, j1 = j0 + b.ym;

  double dmax_x = 0.0, dmax_y = 0.0;
  // x faces between (i, j) and (i+1, j), for i = i0-1 .. i1-1.
  Kokkos::parallel_reduce(
      "sia::flux_x", Kokkos::MDRangePolicy<Kokkos::Rank<2>>({j0, i0 - 1}, {j1, i1}),
      KOKKOS_LAMBDA(int j, int i, double& dmax) {
        const double h = 0.5 * (H(j, i) + H(j, i + 1));
        const double sx = (s(j, i + 1) - s(j, i)) / dx;
        const double sy =
            (s(j + 1, i) + s(j + 1, i + 1) - s(j - 1, i) - s(j - 1, i + 1)) / (4.0 * dy);
        const double slope2 = sx * sx + sy * sy;
        const bool ice = floatation.has_ice(h) && h > 0.0;
        SlidingLaw law = sliding;
        if (friction_field) law.coefficient = face_coefficient(C(j, i), C(j, i + 1));
        double g = gamma;
        Fx(j, i) = uniform_factor;
        if (softness_field) {
          const double aq = 0.5 * (Aq(j, i) + Aq(j, i + 1));
          g = gamma_per_A * aq;
          Fx(j, i) = uniform_factor * 0.5 * (As(j, i) + As(j, i + 1)) / aq;
        }
        const double ddef = ice ? sia_diffusivity(g, n, h, slope2) : 0.0;
        const double dsl = ice ? sliding_diffusivity(law, rho_g, h, slope2) : 0.0;
        Hx(j, i) = h;
        Sx(j, i) = sx;
        Dx(j, i) = ddef;
        Bx(j, i) = dsl;
        qx(j, i) = -(ddef + dsl) * sx;
        dmax = ddef + dsl > dmax ? ddef + dsl : dmax;
      },
      Kokkos::Max<double>(dmax_x));
  // y faces between (i, j) and (i, j+1), for j = j0-1 .. j1-1.
  Kokkos::parallel_reduce(
      "sia::flux_y", Kokkos::MDRangePolicy<Kokkos::Rank<2>>({j0 - 1, i0}, {j1, i1}),
      KOKKOS_LAMBDA(int j, int i, double& dmax) {
        const double h = 0.5 * (H(j, i) + H(j + 1, i));
        const double sy = (s(j + 1, i) - s(j, i)) / dy;
        const double sx =
            (s(j, i + 1) + s(j + 1, i + 1) - s(j, i - 1) - s(j + 1, i - 1)) / (4.0 * dx);
        const double slope2 = sx * sx + sy * sy;
        const bool ice = floatation.has_ice(h) && h > 0.0;
        SlidingLaw law = sliding;
        if (friction_field) law.coefficient = face_coefficient(C(j, i), C(j + 1, i));
        double g = gamma;
        Fy(j, i) = uniform_factor;
        if (softness_field) {
          const double aq = 0.5 * (Aq(j, i) + Aq(j + 1, i));
          g = gamma_per_A * aq;
          Fy(j, i) = uniform_factor * 0.5 * (As(j, i) + As(j + 1, i)) / aq;
        }
        const double ddef = ice ? sia_diffusivity(g, n, h, slope2) : 0.0;
        const double dsl = ice ? sliding_diffusivity(law, rho_g, h, slope2) : 0.0;
        Hy(j, i) = h;
        Sy(j, i) = sy;
        Dy(j, i) = ddef;
        By(j, i) = dsl;
        qy(j, i) = -(ddef + dsl) * sy;
        dmax = ddef + dsl > dmax ? ddef + dsl : dmax;
      },
      Kokkos::Max<double>(dmax_y));
  double local = dmax_x > dmax_y ? dmax_x : dmax_y;
  MPI_Allreduce(&local, &m_max_diffusivity, 1, MPI_DOUBLE, MPI_MAX, m_grid->comm());
}

Velocities ShallowIce::velocities(const std::vector<double>& sigma) const {
  Velocities out = make_velocities(m_grid);
  const core::LocalBox b = m_grid->box();
  const int i0 = b.xs - b.gxs, i1 = i0 + b.xm, j0 = b.ys - b.gys, j1 = j0 + b.ym;
  const double n = m_params.flow.n;
  const core::View2D Hx = m_thk_x, Hy = m_thk_y, Sx = m_slope_x, Sy = m_slope_y;
  const core::View2D Dx = m_ddef_x, Dy = m_ddef_y, Bx = m_dslide_x, By = m_dslide_y;
  const core::View2D us = out.uvelsurf.view(), vs = out.vvelsurf.view();
  const core::View2D ub = out.uvelbase.view(), vb = out.vvelbase.view();
  const core::View2D ua = out.ubar.view(), va = out.vbar.view(), speed = out.velsurf_mag.view();
  // u_s - u_b = F (ubar - u_b) per face, F = (n+2)/(n+1) for a uniform softness.
  const core::View2D Fx = m_surface_factor_x, Fy = m_surface_factor_y;

  // Face velocities: ubar = -(D_def + D_b) ds / H, u_b = -D_b ds / H.
  Kokkos::parallel_for(
      "sia::velocities", Kokkos::MDRangePolicy<Kokkos::Rank<2>>({j0, i0}, {j1, i1}),
      KOKKOS_LAMBDA(int j, int i) {
        auto face = [](double h, double slope, double ddef, double dsl, double& bar, double& base,
                       double& surf, double factor) {
          if (h <= 0.0) {
            bar = base = surf = 0.0;
            return;
          }
          base = -dsl * slope / h;
          const double deformation = -ddef * slope / h;
          bar = base + deformation;
          surf = base + factor * deformation;
        };
        double bw, bbw, sw, be, bbe, se, bs, bbs, ss, bn, bbn, sn;
        face(Hx(j, i - 1), Sx(j, i - 1), Dx(j, i - 1), Bx(j, i - 1), bw, bbw, sw, Fx(j, i - 1));
        face(Hx(j, i), Sx(j, i), Dx(j, i), Bx(j, i), be, bbe, se, Fx(j, i));
        face(Hy(j - 1, i), Sy(j - 1, i), Dy(j - 1, i), By(j - 1, i), bs, bbs, ss, Fy(j - 1, i));
        face(Hy(j, i), Sy(j, i), Dy(j, i), By(j, i), bn, bbn, sn, Fy(j, i));
        ua(j, i) = 0.5 * (bw + be);
        ub(j, i) = 0.5 * (bbw + bbe);
        us(j, i) = 0.5 * (sw + se);
        va(j, i) = 0.5 * (bs + bn);
        vb(j, i) = 0.5 * (bbs + bbn);
        vs(j, i) = 0.5 * (ss + sn);
        speed(j, i) = sqrt(us(j, i) * us(j, i) + vs(j, i) * vs(j, i));
      });

  if (!sigma.empty()) {
    out.uvel.emplace(m_grid, velocity_info("uvel"), sigma);
    out.vvel.emplace(m_grid, velocity_info("vvel"), sigma);
    const core::View3D u = out.uvel->view(), v = out.vvel->view();
    Kokkos::View<double*> levels("sia::sigma", sigma.size());
    auto host_levels = Kokkos::create_mirror_view(levels);
    for (size_t k = 0; k < sigma.size(); ++k) host_levels(k) = sigma[k];
    Kokkos::deep_copy(levels, host_levels);
    const int nz = int(sigma.size());
    // Profile p(sigma) = I(sigma) / I(1), I(sigma) = int_0^sigma A(s) (1 - s)^n ds
    // (1 - (1 - sigma)^(n+1) for a uniform A), from the cell's softness column.
    const bool softness_field = m_has_softness;
    const core::View3D A = m_softness;
    const Kokkos::View<double*> A_levels = m_softness_levels;
    Kokkos::parallel_for(
        "sia::velocities_3d", Kokkos::MDRangePolicy<Kokkos::Rank<2>>({j0, i0}, {j1, i1}),
        KOKKOS_LAMBDA(int j, int i) {
          const double whole = softness_field ? column_integral(A, A_levels, j, i, 1.0, n) : 1.0;
          for (int k = 0; k < nz; ++k) {
            const double p = softness_field
                                 ? column_integral(A, A_levels, j, i, levels(k), n) / whole
                                 : sia_profile(n, levels(k));
            u(j, i, k) = ub(j, i) + (us(j, i) - ub(j, i)) * p;
            v(j, i, k) = vb(j, i) + (vs(j, i) - vb(j, i)) * p;
          }
        });
  }
  return out;
}

} // namespace nunatak::solver
