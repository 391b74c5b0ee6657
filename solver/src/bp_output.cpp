// Output of the Blatter-Pattyn driver: velocities at the surface, the base
// and on sigma levels (m/a inside, m/s out), the depth-averaged velocity
// (trapezoid rule on the solver's uniform levels) and the upwind face fluxes
// that mass transport advects, with the CFL rate.

#include "bp_driver.hpp"
#include "nunatak/core/constants.hpp"
#include "nunatak/core/parallel_grid.hpp"

#include <algorithm>
#include <cmath>

namespace nunatak::solver {

namespace {

/// The rank's ghosted velocities [y][x][z][c] (m/a) of a global solution vector.
std::vector<double> local_velocities(DM dm, Vec solution) {
  core::BorrowedVec local(dm, core::BorrowedVec::local);
  NUNATAK_PETSC(DMGlobalToLocal(dm, solution, INSERT_VALUES, local));
  PetscInt n = 0;
  NUNATAK_PETSC(VecGetLocalSize(local, &n));
  const core::VecReadArray a(local);
  return std::vector<double>(a.data(), a.data() + n);
}

} // namespace

void BlatterPattyn::update_fluxes(const core::Field2D& thk) {
  const std::vector<double> x = local_velocities(m_dm, m_solution);
  const core::BPPatch& p = m_problem->patch();
  const auto at = [&](int j, int i, int k, int c) { return x[p.node(j, i, k) * 2 + size_t(c)]; };
  // Depth-averaged velocity (m/a) on the ghosted box: trapezoid rule on uniform sigma.
  std::vector<double> ubar(size_t(p.nx) * size_t(p.ny)), vbar(ubar.size());
  for (int j = 0; j < p.ny; ++j)
    for (int i = 0; i < p.nx; ++i) {
      double u = 0, v = 0;
      for (int k = 0; k < p.nz - 1; ++k) {
        u += 0.5 * (at(j, i, k, 0) + at(j, i, k + 1, 0));
        v += 0.5 * (at(j, i, k, 1) + at(j, i, k + 1, 1));
      }
      ubar[p.column(j, i)] = u / (p.nz - 1);
      vbar[p.column(j, i)] = v / (p.nz - 1);
    }
  double rate = 0.0;
  for (int j = p.ys; j < p.ys + p.ym; ++j)
    for (int i = p.xs; i < p.xs + p.xm; ++i)
      if (p.node_free[p.column(j, i)])
        rate = std::max(
            rate, (std::abs(ubar[p.column(j, i)]) / p.dx + std::abs(vbar[p.column(j, i)]) / p.dy) /
                      core::seconds_per_year);
  MPI_Allreduce(&rate, &m_max_advection_rate, 1, MPI_DOUBLE, MPI_MAX, m_grid->comm());
  // Upwind fluxes on the faces between neighbouring columns of the box, m^2/s.
  const core::LocalBox b2 = m_grid->box();
  const int oi = m_gxs - b2.gxs, oj = m_gys - b2.gys;
  auto H = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), thk.view());
  auto qx = Kokkos::create_mirror_view(m_fluxes.qx), qy = Kokkos::create_mirror_view(m_fluxes.qy);
  Kokkos::deep_copy(qx, m_fluxes.qx);
  Kokkos::deep_copy(qy, m_fluxes.qy);
  for (int j = 0; j < p.ny; ++j)
    for (int i = 0; i < p.nx; ++i) {
      const int J = j + oj, I = i + oi;
      if (i + 1 < p.nx) {
        const double u =
            0.5 * (ubar[p.column(j, i)] + ubar[p.column(j, i + 1)]) / core::seconds_per_year;
        qx(J, I) = u * (u > 0 ? H(J, I) : H(J, I + 1));
      }
      if (j + 1 < p.ny) {
        const double v =
            0.5 * (vbar[p.column(j, i)] + vbar[p.column(j + 1, i)]) / core::seconds_per_year;
        qy(J, I) = v * (v > 0 ? H(J, I) : H(J + 1, I));
      }
    }
  Kokkos::deep_copy(m_fluxes.qx, qx);
  Kokkos::deep_copy(m_fluxes.qy, qy);
}

Velocities BlatterPattyn::velocities(const std::vector<double>& sigma) const {
  Velocities out = make_velocities(m_grid);
  const std::vector<double> x = local_velocities(m_dm, m_solution);
  const core::BPPatch& p = m_problem->patch();
  const auto at = [&](int j, int i, int k, int c) { return x[p.node(j, i, k) * 2 + size_t(c)]; };
  const core::LocalBox b2 = m_grid->box();
  const int oi = m_gxs - b2.gxs, oj = m_gys - b2.gys;
  auto host = [](const core::Field2D& f) { return Kokkos::create_mirror_view(f.view()); };
  auto us = host(out.uvelsurf), vs = host(out.vvelsurf), ub = host(out.uvelbase),
       vb = host(out.vvelbase), ua = host(out.ubar), va = host(out.vbar),
       sp = host(out.velsurf_mag);
  if (!sigma.empty()) {
    out.uvel.emplace(m_grid, velocity_info("uvel"), sigma);
    out.vvel.emplace(m_grid, velocity_info("vvel"), sigma);
  }
  const int top = p.nz - 1;
  const double to_si = 1.0 / core::seconds_per_year;
  for (int j = p.ys; j < p.ys + p.ym; ++j)
    for (int i = p.xs; i < p.xs + p.xm; ++i) {
      const int J = j + oj, I = i + oi;
      us(J, I) = at(j, i, top, 0) * to_si;
      vs(J, I) = at(j, i, top, 1) * to_si;
      ub(J, I) = at(j, i, 0, 0) * to_si;
      vb(J, I) = at(j, i, 0, 1) * to_si;
      double u = 0, v = 0;
      for (int k = 0; k < top; ++k) {
        u += 0.5 * (at(j, i, k, 0) + at(j, i, k + 1, 0));
        v += 0.5 * (at(j, i, k, 1) + at(j, i, k + 1, 1));
      }
      ua(J, I) = u / top * to_si;
      va(J, I) = v / top * to_si;
      sp(J, I) = std::hypot(us(J, I), vs(J, I));
      if (!sigma.empty()) {
        auto U = out.uvel->view(), V = out.vvel->view();
        for (size_t l = 0; l < sigma.size(); ++l) {
          const double pos = sigma[l] * top;
          const int k = std::min(int(pos), top - 1);
          const double t = pos - k;
          U(J, I, l) = ((1 - t) * at(j, i, k, 0) + t * at(j, i, k + 1, 0)) * to_si;
          V(J, I, l) = ((1 - t) * at(j, i, k, 1) + t * at(j, i, k + 1, 1)) * to_si;
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
