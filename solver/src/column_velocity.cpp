// Column velocities to face fluxes and output fields (column_velocity.hpp).

#include "nunatak/solver/column_velocity.hpp"

#include "nunatak/core/constants.hpp"
#include "nunatak/core/parallel_grid.hpp"

#include <mpi.h>

#include <algorithm>
#include <cmath>

namespace nunatak::solver {

namespace {

/// Depth-averaged velocity component c of column (j, i), m/a (trapezoid rule).
double depth_average(const ColumnVelocityBox& b, int j, int i, int c) {
  double sum = 0;
  for (int k = 0; k < b.nz - 1; ++k) sum += 0.5 * (b.at(j, i, k, c) + b.at(j, i, k + 1, c));
  return sum / (b.nz - 1);
}

} // namespace

double slab_relaxation_factor(double x) {
  if (x < 1e-3) return 1.0 - 1.8 * x * x; // the series: round-off spoils the closed form
  if (x > 20.0) return 1.5 / (x * x * x);
  const double two_x = 2.0 * x;
  return 3.0 * (std::sinh(two_x) - two_x) /
         (2.0 * x * x * x * (std::cosh(two_x) + 2.0 * x * x + 1.0));
}

ColumnFluxLimits update_column_fluxes(const core::ParallelGrid& grid, const core::Field2D& thk,
                                      const core::Field2D& usurf, const ColumnVelocityBox& b,
                                      FaceFluxes& fluxes) {
  const core::Grid& g = grid.grid();
  std::vector<double> ubar(size_t(b.nx) * size_t(b.ny)), vbar(ubar.size());
  for (int j = 0; j < b.ny; ++j)
    for (int i = 0; i < b.nx; ++i) {
      ubar[size_t(j) * size_t(b.nx) + size_t(i)] = depth_average(b, j, i, 0);
      vbar[size_t(j) * size_t(b.nx) + size_t(i)] = depth_average(b, j, i, 1);
    }
  const auto column = [&](int j, int i) { return size_t(j) * size_t(b.nx) + size_t(i); };
  auto H = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), thk.view());
  auto s = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), usurf.view());
  const core::LocalBox& box = grid.box();
  const core::DecompositionOptions& decomposition = grid.options();
  // d s / d x at ghosted-box cell (J, I): centred, one-sided at a
  // non-periodic domain's edge (the ghost beyond it holds no surface).
  const auto slope = [&](int J, int I, int dj, int di, double spacing, int global, int size,
                         bool periodic) {
    const bool low = periodic || global > 0, high = periodic || global + 1 < size;
    const double up = high ? s(J + dj, I + di) : s(J, I);
    const double down = low ? s(J - dj, I - di) : s(J, I);
    const int span = int(low) + int(high);
    return span > 0 ? (up - down) / (span * spacing) : 0.0;
  };
  ColumnFluxLimits local;
  for (int j = b.ys; j < b.ys + b.ym; ++j)
    for (int i = b.xs; i < b.xs + b.xm; ++i) {
      if (b.moving && !b.moving[column(j, i)]) continue;
      const double u = ubar[column(j, i)], v = vbar[column(j, i)];
      local.advection_rate =
          std::max(local.advection_rate,
                   (std::abs(u) / g.dx() + std::abs(v) / g.dy()) / core::seconds_per_year);
      const int J = j + b.y0, I = i + b.x0;
      const double sx = slope(J, I, 0, 1, g.dx(), I + box.gxs, g.nx(), decomposition.periodic_x) +
                        b.surface_trend_x;
      const double sy = slope(J, I, 1, 0, g.dy(), J + box.gys, g.ny(), decomposition.periodic_y);
      const double deformation = std::hypot(u - b.at(j, i, 0, 0), v - b.at(j, i, 0, 1));
      const double shortest_wave = M_PI * H(J, I) / std::max(g.dx(), g.dy()); // k H
      local.diffusivity =
          std::max(local.diffusivity, H(J, I) * deformation / core::seconds_per_year /
                                          (std::hypot(sx, sy) + effective_diffusivity_slope_floor) *
                                          slab_relaxation_factor(shortest_wave));
    }
  ColumnFluxLimits global;
  MPI_Allreduce(&local.advection_rate, &global.advection_rate, 1, MPI_DOUBLE, MPI_MAX, grid.comm());
  MPI_Allreduce(&local.diffusivity, &global.diffusivity, 1, MPI_DOUBLE, MPI_MAX, grid.comm());
  auto qx = Kokkos::create_mirror_view(fluxes.qx), qy = Kokkos::create_mirror_view(fluxes.qy);
  Kokkos::deep_copy(qx, fluxes.qx);
  Kokkos::deep_copy(qy, fluxes.qy);
  for (int j = 0; j < b.ny; ++j)
    for (int i = 0; i < b.nx; ++i) {
      const int J = j + b.y0, I = i + b.x0;
      if (i + 1 < b.nx) {
        const double u =
            0.5 * (ubar[column(j, i)] + ubar[column(j, i + 1)]) / core::seconds_per_year;
        qx(J, I) = u * (u > 0 ? H(J, I) : H(J, I + 1));
      }
      if (j + 1 < b.ny) {
        const double v =
            0.5 * (vbar[column(j, i)] + vbar[column(j + 1, i)]) / core::seconds_per_year;
        qy(J, I) = v * (v > 0 ? H(J, I) : H(J + 1, I));
      }
    }
  Kokkos::deep_copy(fluxes.qx, qx);
  Kokkos::deep_copy(fluxes.qy, qy);
  return global;
}

Velocities column_velocity_fields(std::shared_ptr<const core::ParallelGrid> grid,
                                  const ColumnVelocityBox& b, const std::vector<double>& sigma) {
  Velocities out = make_velocities(grid);
  auto host = [](const core::Field2D& f) { return Kokkos::create_mirror_view(f.view()); };
  auto us = host(out.uvelsurf), vs = host(out.vvelsurf), ub = host(out.uvelbase),
       vb = host(out.vvelbase), ua = host(out.ubar), va = host(out.vbar),
       sp = host(out.velsurf_mag);
  if (!sigma.empty()) {
    out.uvel.emplace(grid, velocity_info("uvel"), sigma);
    out.vvel.emplace(grid, velocity_info("vvel"), sigma);
  }
  const int top = b.nz - 1;
  const double to_si = 1.0 / core::seconds_per_year;
  for (int j = b.ys; j < b.ys + b.ym; ++j)
    for (int i = b.xs; i < b.xs + b.xm; ++i) {
      const int J = j + b.y0, I = i + b.x0;
      us(J, I) = b.at(j, i, top, 0) * to_si;
      vs(J, I) = b.at(j, i, top, 1) * to_si;
      ub(J, I) = b.at(j, i, 0, 0) * to_si;
      vb(J, I) = b.at(j, i, 0, 1) * to_si;
      ua(J, I) = depth_average(b, j, i, 0) * to_si;
      va(J, I) = depth_average(b, j, i, 1) * to_si;
      sp(J, I) = std::hypot(us(J, I), vs(J, I));
      if (!sigma.empty()) {
        auto U = out.uvel->view(), V = out.vvel->view();
        for (size_t l = 0; l < sigma.size(); ++l) {
          const double pos = sigma[l] * top;
          const int k = std::min(int(pos), top - 1);
          const double t = pos - k;
          U(J, I, l) = ((1 - t) * b.at(j, i, k, 0) + t * b.at(j, i, k + 1, 0)) * to_si;
          V(J, I, l) = ((1 - t) * b.at(j, i, k, 1) + t * b.at(j, i, k + 1, 1)) * to_si;
        }
      }
    }
  Kokkos::deep_copy(out.uvelsurf.view(), us);
  Kokkos::deep_copy(out.vvelsurf.view(), vs);
  Kokkos::deep_copy(out.uvelbase.view(), ub);
  Kokkos::deep_copy(out.vvelbase.view(), vb);
  Kokkos::deep_copy(out.ubar.view(), ua);
  Kokkos::deep_copy(out.vbar.view(), va);
  Kokkos::deep_copy(out.velsurf_mag.view(), sp);
  return out;
}

} // namespace nunatak::solver
