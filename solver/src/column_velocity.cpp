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

double update_column_fluxes(const core::ParallelGrid& grid, const core::Field2D& thk,
                            const ColumnVelocityBox& b, FaceFluxes& fluxes) {
  const core::Grid& g = grid.grid();
  std::vector<double> ubar(size_t(b.nx) * size_t(b.ny)), vbar(ubar.size());
  for (int j = 0; j < b.ny; ++j)
    for (int i = 0; i < b.nx; ++i) {
      ubar[size_t(j) * size_t(b.nx) + size_t(i)] = depth_average(b, j, i, 0);
      vbar[size_t(j) * size_t(b.nx) + size_t(i)] = depth_average(b, j, i, 1);
    }
  const auto column = [&](int j, int i) { return size_t(j) * size_t(b.nx) + size_t(i); };
  double rate = 0.0;
  for (int j = b.ys; j < b.ys + b.ym; ++j)
    for (int i = b.xs; i < b.xs + b.xm; ++i)
      if (!b.moving || b.moving[column(j, i)])
        rate = std::max(
            rate, (std::abs(ubar[column(j, i)]) / g.dx() + std::abs(vbar[column(j, i)]) / g.dy()) /
                      core::seconds_per_year);
  double global = 0.0;
  MPI_Allreduce(&rate, &global, 1, MPI_DOUBLE, MPI_MAX, grid.comm());
  auto H = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), thk.view());
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
