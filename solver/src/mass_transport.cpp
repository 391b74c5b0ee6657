#include "nunatak/solver/mass_transport.hpp"

#include "nunatak/core/petsc_log.hpp"

#include <mpi.h>

namespace nunatak::solver {

MassBudget& MassBudget::operator+=(const MassBudget& o) {
  smb += o.smb;
  edge_outflow += o.edge_outflow;
  clipped += o.clipped;
  calved += o.calved;
  volume_change += o.volume_change;
  return *this;
}

namespace {
/// Five sums reduced together in one Kokkos reduction.
struct BudgetSums {
  double v[5];
  KOKKOS_INLINE_FUNCTION BudgetSums() : v{0, 0, 0, 0, 0} {}
  KOKKOS_INLINE_FUNCTION BudgetSums& operator+=(const BudgetSums& o) {
    for (int k = 0; k < 5; ++k) v[k] += o.v[k];
    return *this;
  }
};
} // namespace
} // namespace nunatak::solver

namespace Kokkos {
template <>
struct reduction_identity<nunatak::solver::BudgetSums> {
  KOKKOS_FORCEINLINE_FUNCTION static nunatak::solver::BudgetSums sum() { return {}; }
};
} // namespace Kokkos

namespace nunatak::solver {

MassBudget transport_step(const core::ParallelGrid& grid, const TransportParams& p, double dt,
                          const FaceFluxes& fluxes, const core::Field2D& smb,
                          const core::Field2D& topg, core::Field2D& thk) {
  const core::LogEventScope timer(core::log_event("MassTransport"));
  const core::LocalBox b = grid.box();
  const core::Grid& g = grid.grid();
  const double dx = g.dx(), dy = g.dy(), area = g.cell_area();
  const int nx = g.nx(), ny = g.ny();
  const bool px = grid.options().periodic_x, py = grid.options().periodic_y;
  const int i0 = b.xs - b.gxs, i1 = i0 + b.xm, j0 = b.ys - b.gys, j1 = j0 + b.ym;
  const int gxs = b.gxs, gys = b.gys;
  const core::View2D H = thk.view(), M = smb.view(), bed = topg.view();
  const core::View2D qx = fluxes.qx, qy = fluxes.qy;
  const core::Floatation floatation = p.floatation;
  const double rho_i = floatation.ice_density;
  const bool calve = p.calve_floating_ice;

  BudgetSums local;
  Kokkos::parallel_reduce(
      "transport::step", Kokkos::MDRangePolicy<Kokkos::Rank<2>>({j0, i0}, {j1, i1}),
      KOKKOS_LAMBDA(int j, int i, BudgetSums& sum) {
        const double divergence = (qx(j, i) - qx(j, i - 1)) / dx + (qy(j, i) - qy(j - 1, i)) / dy;
        const double accumulation = M(j, i) / rho_i;
        const double old = H(j, i);
        double h = old + dt * (accumulation - divergence);
        sum.v[0] += dt * accumulation * area;
        // Outer faces of the domain (global index at the edge, non-periodic).
        const int gi = i + gxs, gj = j + gys;
        double out = 0.0;
        if (!px && gi == 0) out -= qx(j, i - 1) * dy;
        if (!px && gi == nx - 1) out += qx(j, i) * dy;
        if (!py && gj == 0) out -= qy(j - 1, i) * dx;
        if (!py && gj == ny - 1) out += qy(j, i) * dx;
        sum.v[1] += dt * out;
        if (h < 0.0) {
          sum.v[2] += -h * area;
          h = 0.0;
        }
        if (calve && h > 0.0 && floatation.floats(h, bed(j, i))) {
          sum.v[3] += h * area;
          h = 0.0;
        }
        sum.v[4] += (h - old) * area;
        H(j, i) = h;
      },
      Kokkos::Sum<BudgetSums>(local));
  double global[5];
  MPI_Allreduce(local.v, global, 5, MPI_DOUBLE, MPI_SUM, grid.comm());
  MassBudget budget;
  budget.smb = global[0];
  budget.edge_outflow = global[1];
  budget.clipped = global[2];
  budget.calved = global[3];
  budget.volume_change = global[4];
  return budget;
}

} // namespace nunatak::solver
