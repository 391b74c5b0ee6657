// Geometry and margins of the Blatter-Pattyn driver: the rank's patch
// (core::BPPatch) from the column fields, with the margin rule of
// core/bp_patch.hpp applied in parallel (element flags of owned cells, ghost
// updates, then column and face flags); softness to hardness; the typed
// stress-balance inputs (ice base and friction from the floatation rule);
// and the coarse geometry that the DMCoarsenHook attaches to coarser DMDAs.

#include "bp_driver.hpp"
#include "nunatak/core/collective.hpp"
#include "nunatak/core/constants.hpp"
#include "nunatak/core/error.hpp"
#include "nunatak/core/parallel_grid.hpp"

#include <petscdmda.h>

#include <algorithm>
#include <cmath>

namespace nunatak::solver {

namespace {

/// Host copy of a field's ghosted box.
std::vector<double> host_values(const core::Field2D& f) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), f.view());
  return std::vector<double>(h.data(), h.data() + h.size());
}

core::Field2D copy_field(const core::Field2D& f) {
  core::Field2D copy(f.grid_ptr(), f.info());
  Kokkos::deep_copy(copy.view(), f.view());
  return copy;
}

std::string cell(int i, int j) {
  return "cell (i = " + std::to_string(i) + ", j = " + std::to_string(j) + ")";
}

} // namespace

core::BPPatch BlatterPattyn::make_patch(const Columns& columns) const {
  const core::LocalBox b2 = m_grid->box();
  const int oi = m_gxs - b2.gxs, oj = m_gys - b2.gys; // 3-D ghost box inside the 2-D one
  if (oi < 0 || oj < 0 || m_gxm + oi > b2.gxm || m_gym + oj > b2.gym)
    throw Error("bp: the 2-D grid's ghost width is too small for the 3-D solver");
  const std::vector<double> H = host_values(columns.thk), base = host_values(columns.base);
  const std::vector<double> beta2 =
      columns.beta2 ? host_values(*columns.beta2) : std::vector<double>(H.size(), 0.0);
  // Fixed bed: as given, else everywhere without beta^2 (no slip) and nowhere with it.
  const std::vector<double> bed_fixed =
      columns.bed_fixed ? host_values(*columns.bed_fixed)
                        : std::vector<double>(H.size(), columns.beta2 ? 0.0 : 1.0);
  const BPParams& p = m_params;

  // Element flags on the 2-D grid's owned cells (the margin rule), zero on
  // elements that leave a non-periodic domain; ghost updates give every rank
  // its neighbours' flags.
  const auto n2 = size_t(b2.gxm) * size_t(b2.gym);
  std::vector<std::uint8_t> filled2(n2), wet2(n2);
  core::bp_element_flags(b2.gxm, b2.gym, H.data(), base.data(), p.minimum_thickness, p.sea_level,
                         filled2.data(), wet2.data());
  const core::FieldInfo info{"bp_element_flag", "", "", "1", "1", {}, ""};
  core::Field2D filled(m_grid, info, 0.0), wet(m_grid, info, 0.0);
  {
    auto F = Kokkos::create_mirror_view(filled.view()), W = Kokkos::create_mirror_view(wet.view());
    Kokkos::deep_copy(F, 0.0);
    Kokkos::deep_copy(W, 0.0);
    for (int j = b2.ys; j < b2.ys + b2.ym; ++j)
      for (int i = b2.xs; i < b2.xs + b2.xm; ++i) {
        if ((!m_periodic_x && i + 1 >= m_mx) || (!m_periodic_y && j + 1 >= m_my)) continue;
        const size_t e = size_t(b2.lj(j)) * size_t(b2.gxm) + size_t(b2.li(i));
        F(b2.lj(j), b2.li(i)) = filled2[e];
        W(b2.lj(j), b2.li(i)) = wet2[e];
      }
    Kokkos::deep_copy(filled.view(), F);
    Kokkos::deep_copy(wet.view(), W);
  }
  m_grid->update_ghosts(filled);
  m_grid->update_ghosts(wet);
  const std::vector<double> F = host_values(filled), W = host_values(wet);

  core::BPPatch patch;
  patch.nx = m_gxm;
  patch.ny = m_gym;
  patch.nz = m_mz;
  patch.i0 = m_gxs;
  patch.j0 = m_gys;
  const core::Grid& g = m_grid->grid();
  patch.dx = g.dx();
  patch.dy = g.dy();
  patch.sigma = core::uniform_sigma(m_mz);
  patch.xs = m_xs - m_gxs;
  patch.ys = m_ys - m_gys;
  patch.xm = m_xm;
  patch.ym = m_ym;
  // Elements of this rank: those whose lowest-index corner column it owns
  // (non-periodic: not the last column).
  patch.ex0 = patch.xs;
  patch.ex1 = patch.ex0 + m_xm - ((!m_periodic_x && m_xs + m_xm == m_mx) ? 1 : 0);
  patch.ey0 = patch.ys;
  patch.ey1 = patch.ey0 + m_ym - ((!m_periodic_y && m_ys + m_ym == m_my) ? 1 : 0);
  patch.period_x = m_periodic_x ? m_mx : 0;
  patch.period_y = m_periodic_y ? m_my : 0;
  const size_t columns_3d = size_t(m_gxm) * size_t(m_gym);
  patch.thickness.resize(columns_3d);
  patch.bed.resize(columns_3d);
  patch.beta2.resize(columns_3d);
  patch.bed_fixed.resize(columns_3d);
  patch.element_filled.resize(columns_3d);
  patch.node_free.resize(columns_3d);
  patch.front_faces.resize(columns_3d);
  std::vector<std::uint8_t> wet3(columns_3d);
  for (int j = 0; j < m_gym; ++j)
    for (int i = 0; i < m_gxm; ++i) {
      const size_t c2 = size_t(j + oj) * size_t(b2.gxm) + size_t(i + oi), c = patch.column(j, i);
      // Unwrapped x: periodic ghosts continue the trend.
      const double x = g.x(m_gxs + i);
      patch.thickness[c] = H[c2];
      patch.bed[c] = base[c2] + p.surface_trend_x * (x - g.x(0));
      patch.beta2[c] = beta2[c2];
      patch.bed_fixed[c] = bed_fixed[c2] > 0.5 ? 1 : 0;
      patch.element_filled[c] = F[c2] > 0.5 ? 1 : 0;
      wet3[c] = W[c2] > 0.5 ? 1 : 0;
    }
  core::bp_column_flags(m_gxm, m_gym, patch.element_filled.data(), wet3.data(), p.ocean_pressure,
                        patch.node_free.data(), patch.front_faces.data());
  patch.hardness = m_hardness;

  core::BPConstants& c = patch.constants;
  c.glen_exponent = p.flow.n;
  c.regularisation2 = m_reg2;
  c.friction_exponent = p.friction_exponent;
  c.friction_regularisation2 = p.sliding_regularisation * p.sliding_regularisation;
  c.rho_g = p.flow.ice_density * p.flow.gravity;
  c.minimum_thickness = p.minimum_thickness;
  c.sea_level = p.sea_level;
  c.water_ratio = p.sea_water_density / p.flow.ice_density;
  return patch;
}

void BlatterPattyn::set_geometry(const core::Field2D& thk, const core::Field2D& base,
                                 const core::Field2D* beta2, const core::Field2D* bed_fixed) {
  if (!m_params.no_slip && !beta2 && !bed_fixed)
    throw Error("bp: sliding needs beta^2 (or set no-slip)");
  // Every column of the 3-D ghost box enters the patch: check them all, and
  // make a bad value an error on every rank (the margins need ghost updates).
  core::collective(m_grid->comm(), [&] {
    const core::LocalBox b2 = m_grid->box();
    const std::vector<double> H = host_values(thk), B = host_values(base);
    const std::vector<double> C = beta2 ? host_values(*beta2) : std::vector<double>();
    const int oi = m_gxs - b2.gxs, oj = m_gys - b2.gys;
    for (int j = 0; j < m_gym; ++j)
      for (int i = 0; i < m_gxm; ++i) {
        const size_t c = size_t(j + oj) * size_t(b2.gxm) + size_t(i + oi);
        if (!std::isfinite(H[c]) || !std::isfinite(B[c]) || H[c] < 0.0)
          throw Error("bp: thickness or ice base is not a finite, non-negative number at " +
                      cell(m_gxs + i, m_gys + j));
        if (beta2 && (!std::isfinite(C[c]) || C[c] < 0.0))
          throw Error("bp: beta^2 is not a finite, non-negative number at " +
                      cell(m_gxs + i, m_gys + j));
      }
  });
  const auto optional_copy = [](const core::Field2D* f) {
    return f ? std::optional<core::Field2D>(copy_field(*f)) : std::nullopt;
  };
  auto columns = std::make_shared<Columns>(Columns{m_grid, copy_field(thk), copy_field(base),
                                                   optional_copy(beta2), optional_copy(bed_fixed)});
  m_problem->set_patch(make_patch(*columns));
  create_jacobian_matrix(); // where the ice mask changed
  m_columns = columns;
  bp_driver::attach_columns(m_dm, columns);
}

void BlatterPattyn::set_softness(const core::Field3D& softness) {
  // B = (E A)^(-1/n) at every node of the rank's ghosted box, with A
  // interpolated linearly in sigma from the field's levels.
  const core::LocalBox b2 = m_grid->box();
  const int oi = m_gxs - b2.gxs, oj = m_gys - b2.gys;
  auto A = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), softness.view());
  const std::vector<double>& levels = softness.sigma();
  const std::vector<double> sigma = core::uniform_sigma(m_mz);
  const double n = m_params.flow.n, E = m_params.flow.enhancement;
  std::vector<double> hardness(m_hardness.size());
  core::collective(m_grid->comm(), [&] {
    for (int j = 0; j < m_gym; ++j)
      for (int i = 0; i < m_gxm; ++i)
        for (int k = 0; k < m_mz; ++k) {
          size_t l = 0;
          while (l + 2 < levels.size() && levels[l + 1] < sigma[size_t(k)]) ++l;
          const double t =
              std::clamp((sigma[size_t(k)] - levels[l]) / (levels[l + 1] - levels[l]), 0.0, 1.0);
          const double a = (1 - t) * A(j + oj, i + oi, l) + t * A(j + oj, i + oi, l + 1);
          if (!(a > 0.0) || !std::isfinite(a))
            throw Error("bp: ice softness '" + softness.info().name +
                        "' is not a positive number at " + cell(m_gxs + i, m_gys + j));
          hardness[(size_t(j) * size_t(m_gxm) + size_t(i)) * size_t(m_mz) + size_t(k)] =
              std::pow(E * a * core::seconds_per_year, -1.0 / n);
        }
  });
  m_hardness = std::move(hardness);
  m_softness_field = true;
  core::BPPatch patch = m_problem->patch();
  patch.hardness = m_hardness;
  m_problem->set_patch(std::move(patch));
}

void BlatterPattyn::update(const StressBalanceInputs& in) {
  // The ice base from the floatation rule. Floating ice slides freely (beta^2
  // = 0, no fixed bed); grounded ice follows the configuration: beta^2 from
  // the friction field or the uniform value, or no slip.
  const core::Floatation fl = in.floatation;
  m_params.sea_level = fl.sea_level;
  m_params.sea_water_density = fl.sea_water_density;
  const auto& grid = in.thk.grid_ptr();
  core::Field2D base(grid, in.topg.info());
  const bool sliding = in.basal_friction || !m_params.no_slip;
  const core::FieldInfo info{"bp_basal", "", "", "", "", {}, ""};
  core::Field2D beta2(grid, info, 0.0), bed_fixed(grid, info, 0.0);
  {
    auto H = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), in.thk.view());
    auto b = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), in.topg.view());
    auto z = Kokkos::create_mirror_view(base.view());
    auto C = Kokkos::create_mirror_view(beta2.view()),
         F = Kokkos::create_mirror_view(bed_fixed.view());
    if (in.basal_friction)
      Kokkos::deep_copy(C, in.basal_friction->view());
    else
      Kokkos::deep_copy(C, sliding ? m_params.uniform_beta2 : 0.0);
    for (size_t j = 0; j < z.extent(0); ++j)
      for (size_t i = 0; i < z.extent(1); ++i) {
        const core::BPBasalColumn c = core::bp_basal_column(fl, H(j, i), b(j, i), sliding, C(j, i));
        z(j, i) = c.base;
        C(j, i) = c.beta2;
        F(j, i) = c.bed_fixed ? 1.0 : 0.0;
      }
    Kokkos::deep_copy(base.view(), z);
    Kokkos::deep_copy(beta2.view(), C);
    Kokkos::deep_copy(bed_fixed.view(), F);
  }
  if (in.softness) {
    set_softness(*in.softness);
  } else if (m_softness_field) {
    // The inputs no longer carry a softness field: back to the flow law's A.
    const double A = m_params.flow.enhancement * m_params.flow.softness * core::seconds_per_year;
    m_hardness.assign(m_hardness.size(), std::pow(A, -1.0 / m_params.flow.n));
    m_softness_field = false;
  }
  set_geometry(in.thk, base, &beta2, &bed_fixed);
  m_step_tolerance = in.diagnostic ? 0.0 : transient_step_tolerance;
  const BPSolveReport r = solve();
  m_step_tolerance = 0.0;
  if (!r.converged)
    throw Error("bp: Newton did not converge (" + r.reason + ", residual " +
                std::to_string(r.initial_residual) + " -> " + std::to_string(r.final_residual) +
                ")");
  update_fluxes(in.thk, in.usurf);
}

namespace bp_driver {

namespace {

const char* const solver_key = "nunatak_bp_solver";
const char* const columns_key = "nunatak_bp_columns";

PetscErrorCode delete_columns(void* p) {
  delete static_cast<std::shared_ptr<const BlatterPattyn::Columns>*>(p);
  return 0;
}

/// Composes `pointer` on `dm` under `key` in a PetscContainer (destroyed with `destroy`).
void compose(DM dm, const char* key, void* pointer, PetscErrorCode (*destroy)(void*)) {
  PetscContainer container = nullptr;
  NUNATAK_PETSC(
      PetscContainerCreate(PetscObjectComm(reinterpret_cast<PetscObject>(dm)), &container));
  NUNATAK_PETSC(PetscContainerSetPointer(container, pointer));
  if (destroy) NUNATAK_PETSC(PetscContainerSetUserDestroy(container, destroy));
  const PetscErrorCode code = PetscObjectCompose(reinterpret_cast<PetscObject>(dm), key,
                                                 reinterpret_cast<PetscObject>(container));
  PetscContainerDestroy(&container); // the DM holds the reference now
  NUNATAK_PETSC(code);
}

void* composed(DM dm, const char* key) {
  PetscObject object = nullptr;
  NUNATAK_PETSC(PetscObjectQuery(reinterpret_cast<PetscObject>(dm), key, &object));
  if (!object) return nullptr;
  void* pointer = nullptr;
  NUNATAK_PETSC(PetscContainerGetPointer(reinterpret_cast<PetscContainer>(object), &pointer));
  return pointer;
}

} // namespace

BlatterPattyn& solver_of(DM dm) {
  void* p = composed(dm, solver_key);
  if (!p)
    throw Error("bp: this DMDA has no Blatter-Pattyn problem (a coarse multigrid level: "
                "nunatak's multigrid needs Galerkin coarse operators, -bp_pc_mg_galerkin both)");
  return *static_cast<BlatterPattyn*>(p);
}

void attach_solver(DM dm, BlatterPattyn* solver) {
  if (!solver) {
    NUNATAK_PETSC(PetscObjectCompose(reinterpret_cast<PetscObject>(dm), solver_key, nullptr));
    return;
  }
  compose(dm, solver_key, solver, nullptr);
}

std::shared_ptr<const BlatterPattyn::Columns> columns_of(DM dm) {
  void* p = composed(dm, columns_key);
  return p ? *static_cast<std::shared_ptr<const BlatterPattyn::Columns>*>(p) : nullptr;
}

void attach_columns(DM dm, std::shared_ptr<const BlatterPattyn::Columns> columns) {
  compose(dm, columns_key, new std::shared_ptr<const BlatterPattyn::Columns>(std::move(columns)),
          delete_columns);
}

PetscErrorCode coarsen_columns(DM fine, DM coarse, void*) {
  try {
    NUNATAK_PETSC(DMCoarsenHookAdd(coarse, coarsen_columns, nullptr, nullptr));
    const auto columns = columns_of(fine);
    if (!columns) return 0;
    // The coarse map-plane grid, with the coarse DMDA's decomposition (PETSc's
    // coarsening of the fine one, so that injection is local up to ghosts).
    PetscInt cmx = 0, cmy = 0, px = 0, py = 0;
    NUNATAK_PETSC(DMDAGetInfo(coarse, nullptr, nullptr, &cmx, &cmy, nullptr, &px, &py, nullptr,
                              nullptr, nullptr, nullptr, nullptr, nullptr));
    const PetscInt *lx = nullptr, *ly = nullptr;
    NUNATAK_PETSC(DMDAGetOwnershipRanges(coarse, nullptr, &lx, &ly));
    const core::ParallelGrid& fine_grid = *columns->grid;
    core::DecompositionOptions options = fine_grid.options();
    options.ownership_x.assign(lx, lx + px);
    options.ownership_y.assign(ly, ly + py);
    const core::Grid& g = fine_grid.grid();
    const auto spacing = [](double d, int m, int mc, bool periodic) {
      return periodic ? d * m / mc : d * (m - 1) / (mc - 1);
    };
    auto grid = core::ParallelGrid::create(
        fine_grid.comm(),
        core::Grid(int(cmx), int(cmy), spacing(g.dx(), g.nx(), int(cmx), options.periodic_x),
                   spacing(g.dy(), g.ny(), int(cmy), options.periodic_y), g.x0(), g.y0()),
        options);
    core::MatHandle injection;
    NUNATAK_PETSC(DMCreateInjection(grid->dm(), fine_grid.dm(), injection.out()));
    core::BorrowedVec fine_v(fine_grid.dm(), core::BorrowedVec::global),
        coarse_v(grid->dm(), core::BorrowedVec::global);
    const auto inject = [&](const core::Field2D& f) {
      core::Field2D out(grid, f.info());
      fine_grid.copy_to_global(f, fine_v);
      NUNATAK_PETSC(MatMult(injection, fine_v, coarse_v));
      grid->copy_from_global(coarse_v, out);
      return out;
    };
    const auto inject_optional = [&](const std::optional<core::Field2D>& f) {
      return f ? std::optional<core::Field2D>(inject(*f)) : std::nullopt;
    };
    auto coarse_columns = std::make_shared<BlatterPattyn::Columns>(BlatterPattyn::Columns{
        grid, inject(columns->thk), inject(columns->base), inject_optional(columns->beta2),
        inject_optional(columns->bed_fixed)});
    attach_columns(coarse, std::move(coarse_columns));
    return 0;
  } catch (const std::exception& e) {
    return PetscError(PETSC_COMM_SELF, __LINE__, "nunatak::solver::bp_driver::coarsen_columns",
                      __FILE__, PETSC_ERR_LIB, PETSC_ERROR_INITIAL, "%s", e.what());
  }
}

} // namespace bp_driver
} // namespace nunatak::solver
