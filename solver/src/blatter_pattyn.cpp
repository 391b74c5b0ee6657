#include "nunatak/solver/blatter_pattyn.hpp"

#include "bp_element.hpp"
#include "nunatak/core/error.hpp"
#include "nunatak/core/parallel_grid.hpp"
#include "nunatak/core/petsc_check.hpp"

#include <petscdmda.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <vector>

namespace nunatak::solver {

namespace {

const double seconds_per_year = 31556925.9747; // UDUNITS' year, as everywhere in nunatak

/// Unmanaged 4-D view of a DMDA local vector: [y][x][z][u,v].
using NodeView = Kokkos::View<double****, Kokkos::LayoutRight, Kokkos::HostSpace,
                              Kokkos::MemoryTraits<Kokkos::Unmanaged>>;
using ConstNodeView = Kokkos::View<const double****, Kokkos::LayoutRight, Kokkos::HostSpace,
                                   Kokkos::MemoryTraits<Kokkos::Unmanaged>>;

/// A DMDA local vector, borrowed for the lifetime of this object.
class LocalVec {
public:
  explicit LocalVec(DM dm) : m_dm(dm) { NUNATAK_PETSC(DMGetLocalVector(dm, &m_vec)); }
  ~LocalVec() { DMRestoreLocalVector(m_dm, &m_vec); }
  LocalVec(const LocalVec&) = delete;
  LocalVec& operator=(const LocalVec&) = delete;
  Vec get() const { return m_vec; }

private:
  DM m_dm;
  Vec m_vec = nullptr;
};

/// The rank's ghosted nodes of a global vector, read-only, as [y][x][z][u,v],
/// for the lifetime of this object.
class LocalNodes {
public:
  LocalNodes(DM dm, Vec global, int gym, int gxm, int mz) : m_local(dm) {
    NUNATAK_PETSC(DMGlobalToLocal(dm, global, INSERT_VALUES, m_local.get()));
    NUNATAK_PETSC(VecGetArrayRead(m_local.get(), &m_array));
    m_view = ConstNodeView(m_array, gym, gxm, mz, 2);
  }
  ~LocalNodes() { VecRestoreArrayRead(m_local.get(), &m_array); }
  LocalNodes(const LocalNodes&) = delete;
  LocalNodes& operator=(const LocalNodes&) = delete;
  const ConstNodeView& view() const { return m_view; }

private:
  LocalVec m_local;
  const PetscScalar* m_array = nullptr;
  ConstNodeView m_view;
};

} // namespace

namespace {

/// What the element kernels read: sizes, constants and Views, nothing else,
/// so that a kernel captures a copy by value (as a device kernel must).
struct ElementKernelData {
  // 3-D DMDA boxes in map-plane indices (PETSc's y = map x, z = map y).
  int mx = 0, my = 0, mz = 0;
  int xs = 0, ys = 0, xm = 0, ym = 0, gxs = 0, gys = 0, gxm = 0, gym = 0;
  bool periodic_x = false, periodic_y = false;
  double dx = 1, dy = 1, x0 = 0, y0 = 0;
  bp::Rheology rheology{3, 1, 0};                 // n, uniform hardness, reg^2
  core::View3D hardness{"bp::hardness", 0, 0, 0}; // B at the nodes [gy][gx][z], Pa a^(1/n)
  bp::Friction friction{1, 0};
  // Column data on the ghosted box [gy][gx]:
  core::View2D thickness_eff{"bp::thickness_eff", 0, 0}; // max(H, H_min)
  core::View2D bed{"bp::bed", 0, 0};                     // bed incl. trend
  core::View2D surface{"bp::surface", 0, 0};             // bed + H, for the driving stress
  core::View2D beta2{"bp::beta2", 0, 0};
  core::View2D dirichlet_scale{"bp::dirichlet_scale", 0, 0};
  Kokkos::View<int**, Kokkos::LayoutRight> active{"bp::active", 0, 0}; // H >= H_min
  // 1 where the column touches an ice-filled element (its nodes are unknowns).
  Kokkos::View<int**, Kokkos::LayoutRight> node_free{"bp::node_free", 0, 0};
  // Faces of the element with lowest corner (jl, il) under ocean pressure:
  // bit f set for face f (0: x-, 1: x+, 2: y-, 3: y+).
  Kokkos::View<int**, Kokkos::LayoutRight> front_faces{"bp::front_faces", 0, 0};
  double sea_level = 0.0, water_ratio = 1028.0 / 910.0; // z_sl (m), rho_w / rho_i
  Kokkos::View<double*> sigma_view{"bp::sigma", 0};
  // Elements of this rank: those whose lowest-index corner column is owned.
  int ex0 = 0, ex1 = 0, ey0 = 0, ey1 = 0; // local column ranges of element corners
  // Jacobian values in COO order: one entry per (node, component, neighbour
  // node of the 27-point stencil, component) for the nodes of this rank's
  // elements, the box [ey0, ey1] x [ex0, ex1] x [0, mz) ("coo nodes").
  int coo_ni = 0; // coo nodes along map x
  Kokkos::View<double*> coo_values{"bp::coo_values", 0};
  // A body force tabulated at the volume quadrature points (Pa/m; index of
  // body_force_index), for manufactured solutions.
  bool has_body_force = false;
  Kokkos::View<double*> body_force_q{"bp::body_force_q", 0};

  KOKKOS_INLINE_FUNCTION int local_index(int jl, int il, int k, int c) const {
    return ((jl * gxm + il) * mz + k) * 2 + c;
  }
  /// COO position of the Jacobian entry (row: node (jl, il, k), component c;
  /// column: the node offset by (dj, di, dk) in {-1, 0, 1}, component c2).
  KOKKOS_INLINE_FUNCTION size_t coo_index(int jl, int il, int k, int c, int dj, int di, int dk,
                                          int c2) const {
    const size_t node = (size_t(jl - ey0) * coo_ni + size_t(il - ex0)) * mz + size_t(k);
    return node * 108 + size_t((c * 27 + (dj + 1) * 9 + (di + 1) * 3 + (dk + 1)) * 2 + c2);
  }
  /// Position of component 0 of the body force at quadrature point q of element (jl, il, k).
  KOKKOS_INLINE_FUNCTION size_t body_force_index(int jl, int il, int k, int q) const {
    return ((size_t(jl - ey0) * size_t(ex1 - ex0) + size_t(il - ex0)) * size_t(mz - 1) +
            size_t(k)) *
               16 +
           size_t(q) * 2;
  }
  KOKKOS_INLINE_FUNCTION bool fixed(int jl, int il, int k, bool no_slip) const {
    return !node_free(jl, il) || (no_slip && k == 0);
  }
};

} // namespace

/// Geometry and bookkeeping on the rank's ghosted box: the kernels' data plus
/// what only the host uses.
struct BlatterPattyn::Impl : ElementKernelData {
  std::vector<double> sigma;
  PetscCount coo_count = 0;
  BlatterPattyn::BodyForce body_force;
  // Depth-averaged velocity (m/a) on the ghosted box, for fluxes.
  core::View2D ubar{"bp::ubar", 0, 0}, vbar{"bp::vbar", 0, 0};
};

namespace {

/// Element-local data gathered from the ghosted arrays.
struct ElementData {
  double z[8], u[8], v[8], s[4], beta2[4], hardness[8];
  bool fixed[8];
};

} // namespace

BlatterPattyn::BlatterPattyn(std::shared_ptr<const core::ParallelGrid> grid, const BPParams& p)
    : m_impl(std::make_unique<Impl>()), m_grid(std::move(grid)), m_params(p) {
  if (p.levels < 2) throw Error("bp: need at least 2 nodes per column");
  if (!(p.flow.softness > 0.0)) throw Error("bp: the ice softness must be positive");
  Impl& m = *m_impl;
  const core::Grid& g = m_grid->grid();
  m.mx = g.nx();
  m.my = g.ny();
  m.mz = p.levels;
  m.dx = g.dx();
  m.dy = g.dy();
  m.x0 = g.x0();
  m.y0 = g.y0();
  m.periodic_x = m_grid->options().periodic_x;
  m.periodic_y = m_grid->options().periodic_y;

  // The 3-D DMDA: PETSc x = vertical (one rank, no ghosts needed), PETSc y =
  // map x, PETSc z = map y, with the 2-D grid's ownership ranges.
  PetscInt m2 = 0, n2 = 0;
  NUNATAK_PETSC(DMDAGetInfo(m_grid->dm(), nullptr, nullptr, nullptr, nullptr, &m2, &n2, nullptr,
                            nullptr, nullptr, nullptr, nullptr, nullptr, nullptr));
  const PetscInt *lx2 = nullptr, *ly2 = nullptr;
  NUNATAK_PETSC(DMDAGetOwnershipRanges(m_grid->dm(), &lx2, &ly2, nullptr));
  const PetscInt lz[1] = {m.mz};
  NUNATAK_PETSC(DMDACreate3d(
      m_grid->comm(), DM_BOUNDARY_NONE, m.periodic_x ? DM_BOUNDARY_PERIODIC : DM_BOUNDARY_NONE,
      m.periodic_y ? DM_BOUNDARY_PERIODIC : DM_BOUNDARY_NONE, DMDA_STENCIL_BOX, m.mz, m.mx, m.my, 1,
      m2, n2, 2, 1, lz, lx2, ly2, &m_dm));
  NUNATAK_PETSC(DMSetOptionsPrefix(m_dm, p.options_prefix.c_str()));
  NUNATAK_PETSC(DMSetFromOptions(m_dm));
  NUNATAK_PETSC(DMSetUp(m_dm));
  NUNATAK_PETSC(DMDASetFieldName(m_dm, 0, "u"));
  NUNATAK_PETSC(DMDASetFieldName(m_dm, 1, "v"));
  PetscInt zs, ys, xs, zm, ym, xm, gzs, gys, gxs, gzm, gym, gxm;
  NUNATAK_PETSC(DMDAGetCorners(m_dm, &zs, &xs, &ys, &zm, &xm, &ym));
  NUNATAK_PETSC(DMDAGetGhostCorners(m_dm, &gzs, &gxs, &gys, &gzm, &gxm, &gym));
  if (zm != m.mz || gzm != m.mz) throw Error("bp: a column was split between ranks");
  m.xs = int(xs);
  m.ys = int(ys);
  m.xm = int(xm);
  m.ym = int(ym);
  m.gxs = int(gxs);
  m.gys = int(gys);
  m.gxm = int(gxm);
  m.gym = int(gym);

  const double A_per_year = p.flow.enhancement * p.flow.softness * seconds_per_year;
  m.rheology = bp::Rheology{p.flow.n, std::pow(A_per_year, -1.0 / p.flow.n),
                            p.strain_rate_regularisation * p.strain_rate_regularisation};
  m.friction =
      bp::Friction{p.friction_exponent, p.sliding_regularisation * p.sliding_regularisation};
  m.sigma = core::uniform_sigma(m.mz);
  m.sigma_view = Kokkos::View<double*>("bp::sigma", m.mz);
  auto sigma_host = Kokkos::create_mirror_view(m.sigma_view);
  for (int k = 0; k < m.mz; ++k) sigma_host(k) = m.sigma[size_t(k)];
  Kokkos::deep_copy(m.sigma_view, sigma_host);

  const std::string label = "bp::";
  m.thickness_eff = core::View2D(label + "thickness_eff", m.gym, m.gxm);
  m.bed = core::View2D(label + "bed", m.gym, m.gxm);
  m.surface = core::View2D(label + "surface", m.gym, m.gxm);
  m.beta2 = core::View2D(label + "beta2", m.gym, m.gxm);
  m.dirichlet_scale = core::View2D(label + "dirichlet_scale", m.gym, m.gxm);
  m.hardness = core::View3D(label + "hardness", m.gym, m.gxm, m.mz);
  Kokkos::deep_copy(m.hardness, m.rheology.hardness);
  m.active = Kokkos::View<int**, Kokkos::LayoutRight>(label + "active", m.gym, m.gxm);
  m.node_free = Kokkos::View<int**, Kokkos::LayoutRight>(label + "node_free", m.gym, m.gxm);
  m.front_faces = Kokkos::View<int**, Kokkos::LayoutRight>(label + "front_faces", m.gym, m.gxm);
  m.sea_level = p.sea_level;
  m.water_ratio = p.sea_water_density / p.flow.ice_density;
  m.ubar = core::View2D(label + "ubar", m.gym, m.gxm);
  m.vbar = core::View2D(label + "vbar", m.gym, m.gxm);
  // Face fluxes live on the 2-D grid's ghosted box, as the transport expects.
  m_fluxes.qx = core::View2D(label + "qx", m_grid->box().gym, m_grid->box().gxm);
  m_fluxes.qy = core::View2D(label + "qy", m_grid->box().gym, m_grid->box().gxm);

  // Elements: corner column (i, j) owned; non-periodic: i + 1 < mx.
  m.ex0 = m.xs - m.gxs;
  m.ex1 = m.ex0 + m.xm - ((!m.periodic_x && m.xs + m.xm == m.mx) ? 1 : 0);
  m.ey0 = m.ys - m.gys;
  m.ey1 = m.ey0 + m.ym - ((!m.periodic_y && m.ys + m.ym == m.my) ? 1 : 0);

  // Jacobian: DM-created matrix with the COO pattern of this rank's elements,
  // one entry per nonzero (not per element contribution): the element
  // matrices are summed into `coo_values` in jacobian(). A pair of nodes is an
  // entry when a local element holds both (else its column is -1, which PETSc
  // ignores); the diagonal of owned dofs (used by fixed dofs) always is.
  // (A bare AIJ matrix: DMCreateMatrix's box-stencil preallocation would be
  // replaced by the COO one anyway.)
  {
    Vec v = nullptr;
    ISLocalToGlobalMapping ltog = nullptr;
    PetscInt local = 0;
    NUNATAK_PETSC(DMGetGlobalVector(m_dm, &v));
    NUNATAK_PETSC(VecGetLocalSize(v, &local));
    NUNATAK_PETSC(DMRestoreGlobalVector(m_dm, &v));
    NUNATAK_PETSC(DMGetLocalToGlobalMapping(m_dm, &ltog));
    NUNATAK_PETSC(MatCreate(m_grid->comm(), &m_matrix));
    NUNATAK_PETSC(MatSetSizes(m_matrix, local, local, PETSC_DETERMINE, PETSC_DETERMINE));
    NUNATAK_PETSC(MatSetBlockSize(m_matrix, 2));
    NUNATAK_PETSC(MatSetType(m_matrix, MATAIJ));
    NUNATAK_PETSC(MatSetLocalToGlobalMapping(m_matrix, ltog, ltog));
    NUNATAK_PETSC(MatSetDM(m_matrix, m_dm));
  }
  const int coo_nj = m.ey1 - m.ey0 + 1;
  m.coo_ni = m.ex1 - m.ex0 + 1;
  m.coo_count = PetscCount(coo_nj) * m.coo_ni * m.mz * 108;
  std::vector<PetscInt> rows(size_t(m.coo_count)), cols(size_t(m.coo_count));
  // True if an element e in [lo, hi) holds nodes a and b (e and e + 1) along one direction.
  const auto share = [](int a, int b, int lo, int hi) {
    return std::max(std::max(a, b) - 1, lo) <= std::min(std::min(a, b), hi - 1);
  };
  for (int jl = m.ey0; jl <= m.ey1; ++jl)
    for (int il = m.ex0; il <= m.ex1; ++il)
      for (int k = 0; k < m.mz; ++k) {
        const bool owned = jl >= m.ys - m.gys && jl < m.ys - m.gys + m.ym && il >= m.xs - m.gxs &&
                           il < m.xs - m.gxs + m.xm;
        for (int c = 0; c < 2; ++c)
          for (int dj = -1; dj <= 1; ++dj)
            for (int di = -1; di <= 1; ++di)
              for (int dk = -1; dk <= 1; ++dk)
                for (int c2 = 0; c2 < 2; ++c2) {
                  const size_t e = m.coo_index(jl, il, k, c, dj, di, dk, c2);
                  const int j2 = jl + dj, i2 = il + di, k2 = k + dk;
                  const bool diagonal = dj == 0 && di == 0 && dk == 0 && c2 == c;
                  const bool entry = (diagonal && owned) ||
                                     (k2 >= 0 && k2 < m.mz && share(jl, j2, m.ey0, m.ey1) &&
                                      share(il, i2, m.ex0, m.ex1) && share(k, k2, 0, m.mz - 1));
                  rows[e] = m.local_index(jl, il, k, c);
                  cols[e] = entry ? m.local_index(j2, i2, k2, c2) : -1;
                }
      }
  NUNATAK_PETSC(MatSetPreallocationCOOLocal(m_matrix, m.coo_count, rows.data(), cols.data()));
  m.coo_values = Kokkos::View<double*>("bp::coo_values", size_t(m.coo_count));

  NUNATAK_PETSC(DMCreateGlobalVector(m_dm, &m_solution));
  NUNATAK_PETSC(VecSet(m_solution, 0.0));

  NUNATAK_PETSC(SNESCreate(m_grid->comm(), &m_snes));
  NUNATAK_PETSC(SNESSetOptionsPrefix(m_snes, p.options_prefix.c_str()));
  NUNATAK_PETSC(SNESSetDM(m_snes, m_dm));
  Vec r = nullptr;
  NUNATAK_PETSC(VecDuplicate(m_solution, &r));
  auto function = [](SNES, Vec x, Vec f, void* ctx) -> PetscErrorCode {
    try {
      static_cast<BlatterPattyn*>(ctx)->residual(x, f);
      return 0;
    } catch (...) {
      return PETSC_ERR_LIB;
    }
  };
  auto jacobian = [](SNES, Vec x, Mat J, Mat, void* ctx) -> PetscErrorCode {
    try {
      static_cast<BlatterPattyn*>(ctx)->jacobian(x, J);
      return 0;
    } catch (...) {
      return PETSC_ERR_LIB;
    }
  };
  NUNATAK_PETSC(SNESSetFunction(m_snes, r, function, this));
  NUNATAK_PETSC(VecDestroy(&r));
  NUNATAK_PETSC(SNESSetJacobian(m_snes, m_matrix, m_matrix, jacobian, this));
  // The line search works on the residual norm: near the solution, changes
  // of the energy (O(1e14) on an ice sheet) fall below double precision.
  NUNATAK_PETSC(SNESSetTolerances(m_snes, 0.0, 1e-8, 0.0, 50, 10000));
  // Eisenstat-Walker (version 3, linear tolerance at most 1e-2): inexact
  // Newton steps that are still good enough to keep the iteration count low.
  NUNATAK_PETSC(SNESKSPSetUseEW(m_snes, PETSC_TRUE));
  NUNATAK_PETSC(SNESKSPSetParametersEW(m_snes, 3, 1e-2, 1e-2, PETSC_DEFAULT, PETSC_DEFAULT,
                                       PETSC_DEFAULT, PETSC_DEFAULT));
  // Line search on ||F||^2 by secant steps (l2): on real geometries (Greenland
  // at 16 km, with calving fronts) the backtracking search stalls where l2
  // converges; with multigrid (below) the cheaper backtracking search.
  SNESLineSearch line_search = nullptr;
  NUNATAK_PETSC(SNESGetLineSearch(m_snes, &line_search));
  NUNATAK_PETSC(SNESLineSearchSetType(line_search, SNESLINESEARCHL2));
  configure_default_multigrid();
  NUNATAK_PETSC(SNESSetFromOptions(m_snes));
}

namespace {

/// Sets the Newton solver's Krylov method and preconditioner; returns the PC.
PC use_linear_solver(SNES snes, KSPType ksp_type, PCType pc_type) {
  KSP ksp = nullptr;
  PC pc = nullptr;
  NUNATAK_PETSC(SNESGetKSP(snes, &ksp));
  NUNATAK_PETSC(KSPSetType(ksp, ksp_type));
  NUNATAK_PETSC(KSPGetPC(ksp, &pc));
  NUNATAK_PETSC(PCSetType(pc, pc_type));
  return pc;
}

/// Levels of full (factor 2) coarsening the node counts allow, keeping the
/// coarsest grid at least 4 nodes across and 3 deep.
int coarsening_levels(int mx, int my, int mz, bool px, bool py) {
  auto coarsenable = [](int m, bool periodic, int factor) {
    const int intervals = periodic ? m : m - 1;
    return intervals % factor == 0 && intervals / factor >= (periodic ? 4 : 3);
  };
  int levels = 1;
  while (levels < 8) {
    const int f = 1 << levels;
    if (!coarsenable(mx, px, f) || !coarsenable(my, py, f) || (mz - 1) % f != 0 || (mz - 1) / f < 2)
      break;
    ++levels;
  }
  return levels;
}

} // namespace

void BlatterPattyn::configure_default_multigrid() {
  // Where the grid coarsens by 2 in all directions, the default linear solver
  // is FGMRES with full geometric multigrid on the DMDA (Galerkin coarse
  // operators; one GMRES iteration of block-Jacobi/ICC(0) as smoother), as in
  // PETSc's ex48, with the backtracking line search (after grid sequencing the
  // critical-point one saves no Newton steps, and it fails on Greenland).
  // Otherwise GMRES + block-Jacobi/ILU(0), capped, with the ladder's GAMG
  // fallback. Command-line options override both.
  const Impl& m = *m_impl;
  const int levels = coarsening_levels(m.mx, m.my, m.mz, m.periodic_x, m.periodic_y);
  if (levels < 2) {
    // GMRES + block-Jacobi/ILU(0), at most 150 iterations per linear solve:
    // on thin, steep geometry (Aletsch at 100 m with 10 m columns) ILU(0)
    // stalls, and the robustness ladder then switches to FGMRES + GAMG (slower
    // on Greenland: 80 against 17 Krylov iterations per Newton step).
    PetscBool user_ksp = PETSC_FALSE, user_pc = PETSC_FALSE;
    NUNATAK_PETSC(
        PetscOptionsHasName(nullptr, m_params.options_prefix.c_str(), "-ksp_type", &user_ksp));
    NUNATAK_PETSC(
        PetscOptionsHasName(nullptr, m_params.options_prefix.c_str(), "-pc_type", &user_pc));
    m_default_ilu = !user_ksp && !user_pc;
    KSP ksp = nullptr;
    NUNATAK_PETSC(SNESGetKSP(m_snes, &ksp));
    NUNATAK_PETSC(KSPSetTolerances(ksp, PETSC_DEFAULT, PETSC_DEFAULT, PETSC_DEFAULT, 150));
    return;
  }
  PC pc = use_linear_solver(m_snes, KSPFGMRES, PCMG);
  NUNATAK_PETSC(PCMGSetLevels(pc, levels, nullptr));
  NUNATAK_PETSC(PCMGSetGalerkin(pc, PC_MG_GALERKIN_BOTH));
  NUNATAK_PETSC(PCMGSetType(pc, PC_MG_FULL));
  for (int l = 1; l < levels; ++l) {
    KSP smoother = nullptr;
    PC smoother_pc = nullptr;
    NUNATAK_PETSC(PCMGGetSmoother(pc, l, &smoother));
    NUNATAK_PETSC(KSPSetType(smoother, KSPGMRES));
    NUNATAK_PETSC(KSPSetTolerances(smoother, PETSC_DEFAULT, PETSC_DEFAULT, PETSC_DEFAULT, 1));
    NUNATAK_PETSC(KSPGetPC(smoother, &smoother_pc));
    NUNATAK_PETSC(PCSetType(smoother_pc, PCBJACOBI));
  }
  SNESLineSearch line_search = nullptr;
  NUNATAK_PETSC(SNESGetLineSearch(m_snes, &line_search));
  NUNATAK_PETSC(SNESLineSearchSetType(line_search, SNESLINESEARCHBT));
  // Rebuild the multigrid (Galerkin products, ICC factors) every other Newton
  // step: Krylov counts stay flat and ISMIP-HOM A 64x64x17 / 128x128x33
  // solve 8 % / 6 % faster (-bp_snes_lag_preconditioner overrides).
  NUNATAK_PETSC(SNESSetLagPreconditioner(m_snes, 2));
  // The blocks: ICC(0) without PETSc's positive-definite shift (the Jacobian
  // is symmetric; ICC factors in about a fifth of ILU's time at 128x128x33,
  // and the shifted ICC stagnates on Greenland). The block solvers exist only
  // after set-up, so these defaults go into the options database, where
  // options given by the user win.
  const std::string sub = "-" + m_params.options_prefix + "mg_levels_sub_";
  for (auto [name, value] : {std::pair{"pc_type", "icc"}, {"pc_factor_shift_type", "none"}}) {
    PetscBool given = PETSC_FALSE;
    NUNATAK_PETSC(PetscOptionsHasName(nullptr, nullptr, (sub + name).c_str(), &given));
    if (!given) NUNATAK_PETSC(PetscOptionsSetValue(nullptr, (sub + name).c_str(), value));
  }
}

BlatterPattyn::~BlatterPattyn() {
  if (m_snes) SNESDestroy(&m_snes);
  if (m_solution) VecDestroy(&m_solution);
  if (m_matrix) MatDestroy(&m_matrix);
  if (m_dm) DMDestroy(&m_dm);
}

bool BlatterPattyn::is_fixed(PetscInt owned_index) const {
  const Impl& m = *m_impl;
  const int c = int(owned_index % 2), node = int(owned_index / 2);
  const int k = node % m.mz, column = node / m.mz;
  const int il = column % m.xm + (m.xs - m.gxs), jl = column / m.xm + (m.ys - m.gys);
  (void)c;
  return m.fixed(jl, il, k, m_params.no_slip);
}

void BlatterPattyn::set_softness(const core::Field3D& softness) {
  // B = (E A)^(-1/n) at every node of the rank's ghosted box, with A
  // interpolated linearly in sigma from the field's levels.
  Impl& m = *m_impl;
  const core::LocalBox b2 = m_grid->box();
  const int oi = m.gxs - b2.gxs, oj = m.gys - b2.gys;
  auto A = Kokkos::create_mirror_view(softness.view());
  Kokkos::deep_copy(A, softness.view());
  auto B = Kokkos::create_mirror_view(m.hardness);
  const std::vector<double>& levels = softness.sigma();
  const double n = m_params.flow.n, E = m_params.flow.enhancement;
  for (int jl = 0; jl < m.gym; ++jl)
    for (int il = 0; il < m.gxm; ++il)
      for (int k = 0; k < m.mz; ++k) {
        const double sigma = m.sigma[size_t(k)];
        size_t l = 0;
        while (l + 2 < levels.size() && levels[l + 1] < sigma) ++l;
        const double t = std::clamp((sigma - levels[l]) / (levels[l + 1] - levels[l]), 0.0, 1.0);
        const double a = (1 - t) * A(jl + oj, il + oi, l) + t * A(jl + oj, il + oi, l + 1);
        if (!(a > 0.0) || !std::isfinite(a))
          throw Error("bp: ice softness '" + softness.info().name +
                      "' is not a positive number at cell (i = " + std::to_string(m.gxs + il) +
                      ", j = " + std::to_string(m.gys + jl) + ")");
        B(jl, il, k) = std::pow(E * a * seconds_per_year, -1.0 / n);
      }
  Kokkos::deep_copy(m.hardness, B);
}

namespace {

/// Tabulates m.body_force at the volume quadrature points of the rank's
/// elements (on the host, where the function lives) for the kernels.
template <class ImplT>
void tabulate_body_force(ImplT& m) {
  m.has_body_force = bool(m.body_force);
  const size_t n =
      m.has_body_force ? size_t(m.ey1 - m.ey0) * size_t(m.ex1 - m.ex0) * size_t(m.mz - 1) * 16 : 0;
  m.body_force_q = Kokkos::View<double*>("bp::body_force_q", n);
  if (!m.has_body_force) return;
  auto F = Kokkos::create_mirror_view(m.body_force_q);
  auto bed = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m.bed);
  auto H = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m.thickness_eff);
  for (int jl = m.ey0; jl < m.ey1; ++jl)
    for (int il = m.ex0; il < m.ex1; ++il)
      for (int k = 0; k < m.mz - 1; ++k)
        for (int q = 0; q < 8; ++q) {
          double phi[8], dphi[8][3], x = 0, y = 0, z = 0;
          bp::shape(bp::gauss(q & 1), bp::gauss((q >> 1) & 1), bp::gauss(q >> 2), phi, dphi);
          for (int a = 0; a < 8; ++a) {
            const int j = jl + bp::node_dj(a), i = il + bp::node_di(a), kk = k + bp::node_dk(a);
            x += phi[a] * (m.x0 + (m.gxs + i) * m.dx);
            y += phi[a] * (m.y0 + (m.gys + j) * m.dy);
            z += phi[a] * (bed(j, i) + m.sigma[size_t(kk)] * H(j, i));
          }
          const std::array<double, 2> f = m.body_force(x, y, z);
          const size_t b = m.body_force_index(jl, il, k, q);
          F(b) = f[0];
          F(b + 1) = f[1];
        }
  Kokkos::deep_copy(m.body_force_q, F);
}

} // namespace

void BlatterPattyn::set_body_force(BodyForce force) {
  m_impl->body_force = std::move(force);
  tabulate_body_force(*m_impl);
}

namespace {

/// Fills m.node_free and m.front_faces from the thickness H and bed on the
/// 2-D grid's ghosted box (host views). Collective (ghost updates).
template <class ImplT, class HostView>
void classify_margins(ImplT& m, const std::shared_ptr<const core::ParallelGrid>& grid,
                      const BPParams& p, const HostView& H, const HostView& bed) {
  // Elements are named by their lowest corner. On the 2-D grid's owned cells:
  // filled = the element's four columns are icy; wet = one of its columns is
  // ice-free with its bed at or below sea level (ocean). Ghost updates then
  // give every rank its neighbours' flags.
  const core::LocalBox b2 = grid->box();
  const int oi = m.gxs - b2.gxs, oj = m.gys - b2.gys;
  const double H_min = p.minimum_thickness;
  const core::FieldInfo info{"bp_element_flag", "", "", "1", "1", {}, ""};
  core::Field2D filled(grid, info, 0.0), wet(grid, info, 0.0);
  auto F = Kokkos::create_mirror_view(filled.view());
  auto W = Kokkos::create_mirror_view(wet.view());
  Kokkos::deep_copy(F, 0.0);
  Kokkos::deep_copy(W, 0.0);
  for (int j = b2.ys - b2.gys; j < b2.ys - b2.gys + b2.ym; ++j)
    for (int i = b2.xs - b2.gxs; i < b2.xs - b2.gxs + b2.xm; ++i) {
      const int I = b2.gxs + i, J = b2.gys + j; // global indices
      if ((!m.periodic_x && I + 1 >= m.mx) || (!m.periodic_y && J + 1 >= m.my)) continue;
      bool all_icy = true, ocean = false;
      for (int c = 0; c < 4; ++c) {
        const int jj = j + (c >> 1), ii = i + (c & 1);
        const bool icy = H(jj, ii) >= H_min;
        all_icy = all_icy && icy;
        ocean = ocean || (!icy && bed(jj, ii) <= m.sea_level);
      }
      F(j, i) = all_icy ? 1.0 : 0.0;
      W(j, i) = ocean ? 1.0 : 0.0;
    }
  Kokkos::deep_copy(filled.view(), F);
  Kokkos::deep_copy(wet.view(), W);
  grid->update_ghosts(filled);
  grid->update_ghosts(wet);
  Kokkos::deep_copy(F, filled.view());
  Kokkos::deep_copy(W, wet.view());
  auto flag = [&](const decltype(F)& view, int jl, int il) { // 3-D box -> 2-D box, 0 outside
    const int j = jl + oj, i = il + oi;
    return j >= 0 && i >= 0 && j < b2.gym && i < b2.gxm && view(j, i) > 0.5;
  };
  for (int jl = 0; jl < m.gym; ++jl)
    for (int il = 0; il < m.gxm; ++il) {
      m.node_free(jl, il) =
          (flag(F, jl, il) || flag(F, jl, il - 1) || flag(F, jl - 1, il) || flag(F, jl - 1, il - 1))
              ? 1
              : 0;
      int faces = 0;
      if (p.ocean_pressure && flag(F, jl, il)) {
        const int neighbour[4][2] = {{0, -1}, {0, 1}, {-1, 0}, {1, 0}}; // (dj, di) of faces 0-3
        for (int f = 0; f < 4; ++f) {
          const int nj = jl + neighbour[f][0], ni = il + neighbour[f][1];
          if (!flag(F, nj, ni) && flag(W, nj, ni)) faces |= 1 << f;
        }
      }
      m.front_faces(jl, il) = faces;
    }
}

} // namespace

void BlatterPattyn::set_geometry(const core::Field2D& thk, const core::Field2D& bed,
                                 const core::Field2D* beta2) {
  Impl& m = *m_impl;
  const core::LocalBox b2 = m_grid->box();
  const int oi = m.gxs - b2.gxs, oj = m.gys - b2.gys; // 3-D ghost box inside the 2-D one
  if (oi < 0 || oj < 0 || m.gxm + oi > b2.gxm || m.gym + oj > b2.gym)
    throw Error("bp: the 2-D grid's ghost width is too small for the 3-D solver");
  if (!m_params.no_slip && !beta2) throw Error("bp: sliding needs beta^2 (or set no-slip)");
  auto H = Kokkos::create_mirror_view(thk.view());
  auto B = Kokkos::create_mirror_view(bed.view());
  Kokkos::deep_copy(H, thk.view());
  Kokkos::deep_copy(B, bed.view());
  decltype(H) beta_host;
  if (beta2) {
    beta_host = Kokkos::create_mirror_view(beta2->view());
    Kokkos::deep_copy(beta_host, beta2->view());
  }
  const double H_min = m_params.minimum_thickness, trend = m_params.surface_trend_x;
  const core::Grid& g = m_grid->grid();
  const double rho_g = m_params.flow.ice_density * m_params.flow.gravity;
  // Reference viscosity for the Dirichlet rows: strain rate 1e-3 per year.
  const double eta_ref = bp::viscosity(m.rheology, 1e-6);
  for (int jl = 0; jl < m.gym; ++jl)
    for (int il = 0; il < m.gxm; ++il) {
      const double h = H(jl + oj, il + oi), z_b = B(jl + oj, il + oi);
      if (!std::isfinite(h) || !std::isfinite(z_b) || h < 0.0)
        throw Error("bp: thickness or bed is not a finite, non-negative number at cell (i = " +
                    std::to_string(m.gxs + il) + ", j = " + std::to_string(m.gys + jl) + ")");
      const double x = g.x(m.gxs + il); // unwrapped: periodic ghosts continue the trend
      const double bed_total = z_b + trend * (x - g.x(0));
      m.active(jl, il) = h >= H_min ? 1 : 0;
      m.thickness_eff(jl, il) = std::max(h, H_min);
      m.bed(jl, il) = bed_total;
      m.surface(jl, il) = bed_total + h;
      m.beta2(jl, il) = beta2 ? beta_host(jl + oj, il + oi) : 0.0;
      const double hz = m.thickness_eff(jl, il) / (m.mz - 1);
      m.dirichlet_scale(jl, il) =
          2.0 * eta_ref / rho_g * (m.dx * m.dy / hz + m.dx * hz / m.dy + m.dy * hz / m.dx);
    }
  classify_margins(m, m_grid, m_params, H, B);
  tabulate_body_force(m);
}

namespace {

/// Gathers element (jl, il, k) from the ghosted arrays.
template <class X>
KOKKOS_INLINE_FUNCTION void gather(const ElementKernelData& m, const X& x, int jl, int il, int k,
                                   bool no_slip, ElementData& e) {
  for (int a = 0; a < 8; ++a) {
    const int j = jl + bp::node_dj(a), i = il + bp::node_di(a), kk = k + bp::node_dk(a);
    e.z[a] = m.bed(j, i) + m.sigma_view(kk) * m.thickness_eff(j, i);
    e.hardness[a] = m.hardness(j, i, kk);
    // Fixed nodes take their prescribed value (0), whatever the iterate holds,
    // so free rows do not depend on them and the Jacobian's zeroed columns are exact.
    e.fixed[a] = m.fixed(j, i, kk, no_slip);
    e.u[a] = e.fixed[a] ? 0.0 : x(j, i, kk, 0);
    e.v[a] = e.fixed[a] ? 0.0 : x(j, i, kk, 1);
    if (a < 4) {
      e.s[a] = m.surface(j, i);
      e.beta2[a] = m.beta2(j, i);
    }
  }
}

/// Adds the element matrix K (16 x 16, dofs (node a, component c) = 2a + c)
/// of element (jl, il, k) to the COO values of the nonzeros it touches.
KOKKOS_INLINE_FUNCTION void add_element_matrix(const ElementKernelData& m, int jl, int il, int k,
                                               const double K[256],
                                               const Kokkos::View<double*>& values) {
  for (int a = 0; a < 8; ++a) {
    const int ja = jl + bp::node_dj(a), ia = il + bp::node_di(a), ka = k + bp::node_dk(a);
    for (int b = 0; b < 8; ++b) {
      const int dj = bp::node_dj(b) - bp::node_dj(a), di = bp::node_di(b) - bp::node_di(a),
                dk = bp::node_dk(b) - bp::node_dk(a);
      for (int c = 0; c < 2; ++c) {
        const size_t row = m.coo_index(ja, ia, ka, c, dj, di, dk, 0);
        Kokkos::atomic_add(&values(row), K[(a * 2 + c) * 16 + b * 2]);
        Kokkos::atomic_add(&values(row + 1), K[(a * 2 + c) * 16 + b * 2 + 1]);
      }
    }
  }
}

/// The rank's elements (jl, il, k), named by their lowest corner.
Kokkos::MDRangePolicy<Kokkos::Rank<3>> element_range(const ElementKernelData& m) {
  return Kokkos::MDRangePolicy<Kokkos::Rank<3>>({m.ey0, m.ex0, 0}, {m.ey1, m.ex1, m.mz - 1});
}

/// True if the element's four columns are icy (H >= H_min): only such
/// ice-filled elements are integrated.
KOKKOS_INLINE_FUNCTION bool element_is_filled(const ElementKernelData& m, int jl, int il) {
  return m.active(jl, il) && m.active(jl, il + 1) && m.active(jl + 1, il) &&
         m.active(jl + 1, il + 1);
}

/// Ocean-pressure loads of the element's calving-front faces (bits of
/// `faces`: 0 x-, 1 x+, 2 y-, 3 y+): load[a][c] = int_face g(z) n_c phi_a dA
/// with g = (s - z) - (rho_w/rho) max(z_sl - z, 0), in m^3 (divided by rho g).
/// The residual gains -load and the energy -load.(u, v). Along the face:
/// 3-point Gauss; in the vertical: 2-point Gauss on each side of sea level,
/// exact for the piecewise-linear pressure.
KOKKOS_INLINE_FUNCTION void front_loads(const ElementKernelData& m, const ElementData& e, int faces,
                                        double load[8][2]) {
  for (int a = 0; a < 8; ++a) load[a][0] = load[a][1] = 0.0;
  const double t[3] = {-0.7745966692414834, 0.0, 0.7745966692414834};
  const double w[3] = {5.0 / 9.0, 8.0 / 9.0, 5.0 / 9.0};
  for (int f = 0; f < 4; ++f) {
    if (!(faces & (1 << f))) continue;
    const bool x_face = f < 2;
    const double side = (f & 1) ? 1.0 : -1.0, length = x_face ? m.dy : m.dx;
    for (int q = 0; q < 3; ++q) {
      const double xi = x_face ? side : t[q], eta = x_face ? t[q] : side;
      double phi[8], dphi[8][3], z_lo = 0, z_hi = 0, s = 0;
      bp::shape(xi, eta, -1.0, phi, dphi);
      for (int a = 0; a < 8; ++a) z_lo += e.z[a] * phi[a];
      for (int a = 0; a < 4; ++a) s += e.s[a] * phi[a];
      bp::shape(xi, eta, 1.0, phi, dphi);
      for (int a = 0; a < 8; ++a) z_hi += e.z[a] * phi[a];
      const double z_zeta = 0.5 * (z_hi - z_lo);
      double cuts[3] = {-1.0, 1.0, 1.0};
      int pieces = 1;
      if (z_lo < m.sea_level && m.sea_level < z_hi) {
        cuts[1] = -1.0 + 2.0 * (m.sea_level - z_lo) / (z_hi - z_lo);
        pieces = 2;
      }
      for (int piece = 0; piece < pieces; ++piece) {
        const double mid = 0.5 * (cuts[piece] + cuts[piece + 1]);
        const double half = 0.5 * (cuts[piece + 1] - cuts[piece]);
        for (int g = 0; g < 2; ++g) {
          bp::shape(xi, eta, mid + half * bp::gauss(g), phi, dphi);
          double z = 0;
          for (int a = 0; a < 8; ++a) z += e.z[a] * phi[a];
          const double below = m.sea_level > z ? m.sea_level - z : 0.0;
          const double pressure = (s - z) - m.water_ratio * below;
          const double dA = 0.5 * length * z_zeta * w[q] * half;
          for (int a = 0; a < 8; ++a) load[a][x_face ? 0 : 1] += side * pressure * phi[a] * dA;
        }
      }
    }
  }
}

/// What the element integrals need at volume quadrature point q (2x2x2 Gauss).
struct QuadraturePoint {
  double xi, eta, w; ///< reference position (map plane) and weight det J
  double phi[8], grad[8][3];
  double du[3], dv[3], u, v; ///< velocity gradients (a^-1) and values (m/a)
  bp::Rheology rheology;     ///< with the hardness interpolated from the nodes
};

KOKKOS_INLINE_FUNCTION void evaluate_point(const ElementKernelData& m, const ElementData& e, int q,
                                           QuadraturePoint& p) {
  p.xi = bp::gauss(q & 1);
  p.eta = bp::gauss((q >> 1) & 1);
  double dphi[8][3];
  bp::shape(p.xi, p.eta, bp::gauss(q >> 2), p.phi, dphi);
  p.w = bp::physical_gradients(dphi, e.z, m.dx, m.dy, p.grad);
  p.u = p.v = 0.0;
  p.rheology = m.rheology;
  p.rheology.hardness = 0.0;
  for (int d = 0; d < 3; ++d) p.du[d] = p.dv[d] = 0.0;
  for (int a = 0; a < 8; ++a) {
    p.rheology.hardness += e.hardness[a] * p.phi[a];
    for (int d = 0; d < 3; ++d) {
      p.du[d] += e.u[a] * p.grad[a][d];
      p.dv[d] += e.v[a] * p.grad[a][d];
    }
    p.u += e.u[a] * p.phi[a];
    p.v += e.v[a] * p.phi[a];
  }
}

/// Values at bed quadrature point q (2x2 Gauss on the bottom face).
struct BasalPoint {
  double phi[8];
  double u, v, beta2;
};

KOKKOS_INLINE_FUNCTION void evaluate_basal_point(const ElementData& e, int q, BasalPoint& p) {
  double dphi[8][3];
  bp::shape(bp::gauss(q & 1), bp::gauss(q >> 1), -1.0, p.phi, dphi);
  p.u = p.v = p.beta2 = 0.0;
  for (int a = 0; a < 4; ++a) {
    p.u += e.u[a] * p.phi[a];
    p.v += e.v[a] * p.phi[a];
    p.beta2 += e.beta2[a] * p.phi[a];
  }
}

/// Surface gradient at (xi, eta) from the 4 corner surface values (bilinear).
KOKKOS_INLINE_FUNCTION void surface_gradient(const double s[4], double xi, double eta, double dx,
                                             double dy, double ds[2]) {
  ds[0] = ((s[1] - s[0]) * (1 - eta) + (s[3] - s[2]) * (1 + eta)) * 0.25 * 2.0 / dx;
  ds[1] = ((s[2] - s[0]) * (1 - xi) + (s[3] - s[1]) * (1 + xi)) * 0.25 * 2.0 / dy;
}

} // namespace

double BlatterPattyn::energy(Vec x_global) const {
  const ElementKernelData m = *m_impl; // the kernels capture this copy
  const LocalNodes nodes(m_dm, x_global, m.gym, m.gxm, m.mz);
  const ConstNodeView x = nodes.view();
  const double rho_g = m_params.flow.ice_density * m_params.flow.gravity;
  const bool no_slip = m_params.no_slip;
  double local = 0.0;
  Kokkos::parallel_reduce(
      "bp::energy", element_range(m),
      KOKKOS_LAMBDA(int jl, int il, int k, double& sum) {
        if (!element_is_filled(m, jl, il)) return;
        ElementData e;
        gather(m, x, jl, il, k, no_slip, e);
        for (int q = 0; q < 8; ++q) {
          QuadraturePoint p;
          evaluate_point(m, e, q, p);
          double ds[2];
          surface_gradient(e.s, p.xi, p.eta, m.dx, m.dy, ds);
          sum += p.w * (bp::viscous_density(p.rheology, bp::strain_rate2(p.du, p.dv)) / rho_g +
                        ds[0] * p.u + ds[1] * p.v);
          if (m.has_body_force) {
            const size_t b = m.body_force_index(jl, il, k, q);
            sum -= p.w * (m.body_force_q(b) * p.u + m.body_force_q(b + 1) * p.v) / rho_g;
          }
        }
        if (m.front_faces(jl, il)) {
          double load[8][2];
          front_loads(m, e, m.front_faces(jl, il), load);
          for (int a = 0; a < 8; ++a) sum -= load[a][0] * e.u[a] + load[a][1] * e.v[a];
        }
        if (k == 0 && !no_slip) {
          for (int q = 0; q < 4; ++q) {
            BasalPoint b;
            evaluate_basal_point(e, q, b);
            sum += 0.25 * m.dx * m.dy * bp::friction_density(m.friction, b.beta2, b.u, b.v) / rho_g;
          }
        }
      },
      local);
  double total = 0.0;
  MPI_Allreduce(&local, &total, 1, MPI_DOUBLE, MPI_SUM, m_grid->comm());
  return total;
}

void BlatterPattyn::residual(Vec x_global, Vec f_global) const {
  const ElementKernelData m = *m_impl; // the kernels capture this copy
  const LocalNodes nodes(m_dm, x_global, m.gym, m.gxm, m.mz);
  const ConstNodeView x = nodes.view();
  LocalVec fl(m_dm);
  NUNATAK_PETSC(VecSet(fl.get(), 0.0));
  PetscScalar* fa = nullptr;
  NUNATAK_PETSC(VecGetArray(fl.get(), &fa));
  const NodeView f(fa, m.gym, m.gxm, m.mz, 2);
  const double rho_g = m_params.flow.ice_density * m_params.flow.gravity;
  const bool no_slip = m_params.no_slip;
  Kokkos::parallel_for(
      "bp::residual", element_range(m), KOKKOS_LAMBDA(int jl, int il, int k) {
        if (!element_is_filled(m, jl, il)) return;
        ElementData e;
        gather(m, x, jl, il, k, no_slip, e);
        double ru[8] = {0}, rv[8] = {0};
        for (int q = 0; q < 8; ++q) {
          QuadraturePoint p;
          evaluate_point(m, e, q, p);
          const double xi = p.xi, eta = p.eta, w = p.w;
          const double* phi = p.phi;
          const double(&grad)[8][3] = p.grad;
          const double *du = p.du, *dv = p.dv;
          const double eta2 = 2.0 * bp::viscosity(p.rheology, bp::strain_rate2(du, dv)) / rho_g;
          double ds[2];
          surface_gradient(e.s, xi, eta, m.dx, m.dy, ds);
          const double shear = 0.5 * (du[1] + dv[0]);
          double force[2] = {0.0, 0.0};
          if (m.has_body_force) {
            const size_t b = m.body_force_index(jl, il, k, q);
            force[0] = m.body_force_q(b);
            force[1] = m.body_force_q(b + 1);
          }
          for (int a = 0; a < 8; ++a) {
            ru[a] -= w * force[0] * phi[a] / rho_g;
            rv[a] -= w * force[1] * phi[a] / rho_g;
            const double* g = grad[a];
            ru[a] += w * (eta2 * ((2 * du[0] + dv[1]) * g[0] + shear * g[1] + 0.5 * du[2] * g[2]) +
                          ds[0] * phi[a]);
            rv[a] += w * (eta2 * ((2 * dv[1] + du[0]) * g[1] + shear * g[0] + 0.5 * dv[2] * g[2]) +
                          ds[1] * phi[a]);
          }
        }
        if (k == 0 && !no_slip) {
          for (int q = 0; q < 4; ++q) {
            BasalPoint bq;
            evaluate_basal_point(e, q, bq);
            const double u = bq.u, v = bq.v, beta2 = bq.beta2;
            const double* phi = bq.phi;
            const double c =
                0.25 * m.dx * m.dy * bp::friction_coefficient(m.friction, beta2, u, v) / rho_g;
            for (int a = 0; a < 4; ++a) {
              ru[a] += c * u * phi[a];
              rv[a] += c * v * phi[a];
            }
          }
        }
        if (m.front_faces(jl, il)) {
          double load[8][2];
          front_loads(m, e, m.front_faces(jl, il), load);
          for (int a = 0; a < 8; ++a) {
            ru[a] -= load[a][0];
            rv[a] -= load[a][1];
          }
        }
        for (int a = 0; a < 8; ++a) {
          if (e.fixed[a]) continue;
          const int j = jl + bp::node_dj(a), i = il + bp::node_di(a), kk = k + bp::node_dk(a);
          Kokkos::atomic_add(&f(j, i, kk, 0), ru[a]);
          Kokkos::atomic_add(&f(j, i, kk, 1), rv[a]);
        }
      });
  NUNATAK_PETSC(VecRestoreArray(fl.get(), &fa));
  NUNATAK_PETSC(VecSet(f_global, 0.0));
  NUNATAK_PETSC(DMLocalToGlobal(m_dm, fl.get(), ADD_VALUES, f_global));

  // Fixed dofs: d (u - 0).
  const PetscScalar* xg = nullptr;
  PetscScalar* fg = nullptr;
  NUNATAK_PETSC(VecGetArrayRead(x_global, &xg));
  NUNATAK_PETSC(VecGetArray(f_global, &fg));
  size_t n = 0;
  for (int jl = m.ys - m.gys; jl < m.ys - m.gys + m.ym; ++jl)
    for (int il = m.xs - m.gxs; il < m.xs - m.gxs + m.xm; ++il)
      for (int k = 0; k < m.mz; ++k)
        for (int c = 0; c < 2; ++c, ++n)
          if (m.fixed(jl, il, k, no_slip)) fg[n] = m.dirichlet_scale(jl, il) * xg[n];
  NUNATAK_PETSC(VecRestoreArray(f_global, &fg));
  NUNATAK_PETSC(VecRestoreArrayRead(x_global, &xg));
}

void BlatterPattyn::jacobian(Vec x_global, Mat J) const {
  const ElementKernelData m = *m_impl; // the kernels capture this copy
  const LocalNodes nodes(m_dm, x_global, m.gym, m.gxm, m.mz);
  const ConstNodeView x = nodes.view();
  const double rho_g = m_params.flow.ice_density * m_params.flow.gravity;
  const bool no_slip = m_params.no_slip;
  const double n_glen = m.rheology.n;
  const auto values = m.coo_values;
  Kokkos::deep_copy(values, 0.0);
  Kokkos::parallel_for(
      "bp::jacobian", element_range(m), KOKKOS_LAMBDA(int jl, int il, int k) {
        double K[256];
        for (int r = 0; r < 256; ++r) K[r] = 0.0;
        if (!element_is_filled(m, jl, il)) return;
        ElementData e;
        gather(m, x, jl, il, k, no_slip, e);
        for (int q = 0; q < 8; ++q) {
          QuadraturePoint p;
          evaluate_point(m, e, q, p);
          const double w = p.w;
          const double(&grad)[8][3] = p.grad;
          const double *du = p.du, *dv = p.dv;
          const double e2 = bp::strain_rate2(du, dv);
          const double eta_v = bp::viscosity(p.rheology, e2);
          const double c1 = w * 2.0 * eta_v / rho_g; // 2 eta
          // 2 d(eta)/d(e2) = 2 eta (1-n)/(2n (e2 + reg2))
          const double c2 =
              w * 2.0 * eta_v * (1.0 - n_glen) / (2.0 * n_glen * (e2 + m.rheology.reg2)) / rho_g;
          const double shear = 0.5 * (du[1] + dv[0]);
          double gu[8], gv[8];
          for (int a = 0; a < 8; ++a) {
            const double* g = grad[a];
            gu[a] = (2 * du[0] + dv[1]) * g[0] + shear * g[1] + 0.5 * du[2] * g[2];
            gv[a] = (2 * dv[1] + du[0]) * g[1] + shear * g[0] + 0.5 * dv[2] * g[2];
          }
          // The element Hessian is symmetric: node pairs b >= a here, the
          // lower triangle is mirrored below.
          for (int a = 0; a < 8; ++a) {
            const double* ga = grad[a];
            for (int b = a; b < 8; ++b) {
              const double* gb = grad[b];
              const double uu = 2 * ga[0] * gb[0] + 0.5 * ga[1] * gb[1] + 0.5 * ga[2] * gb[2];
              const double vv = 2 * ga[1] * gb[1] + 0.5 * ga[0] * gb[0] + 0.5 * ga[2] * gb[2];
              const double uv = ga[0] * gb[1] + 0.5 * ga[1] * gb[0];
              const double vu = ga[1] * gb[0] + 0.5 * ga[0] * gb[1];
              K[(a * 2 + 0) * 16 + b * 2 + 0] += c1 * uu + c2 * gu[a] * gu[b];
              K[(a * 2 + 0) * 16 + b * 2 + 1] += c1 * uv + c2 * gu[a] * gv[b];
              K[(a * 2 + 1) * 16 + b * 2 + 0] += c1 * vu + c2 * gv[a] * gu[b];
              K[(a * 2 + 1) * 16 + b * 2 + 1] += c1 * vv + c2 * gv[a] * gv[b];
            }
          }
        }
        if (k == 0 && !no_slip) {
          const double q_exp = m.friction.q;
          for (int q = 0; q < 4; ++q) {
            BasalPoint bq;
            evaluate_basal_point(e, q, bq);
            const double u = bq.u, v = bq.v, beta2 = bq.beta2;
            const double* phi = bq.phi;
            const double area = 0.25 * m.dx * m.dy / rho_g;
            const double c = bp::friction_coefficient(m.friction, beta2, u, v);
            const double s2 = u * u + v * v + m.friction.reg2;
            const double d = (q_exp - 1.0) * c / s2; // derivative of the coefficient part
            const double H[2][2] = {{c + d * u * u, d * u * v}, {d * v * u, c + d * v * v}};
            for (int a = 0; a < 4; ++a)
              for (int b = a; b < 4; ++b)
                for (int r = 0; r < 2; ++r)
                  for (int s = 0; s < 2; ++s)
                    K[(a * 2 + r) * 16 + b * 2 + s] += area * H[r][s] * phi[a] * phi[b];
          }
        }
        for (int a = 0; a < 8; ++a)
          for (int b = a + 1; b < 8; ++b)
            for (int r = 0; r < 2; ++r)
              for (int s = 0; s < 2; ++s)
                K[(b * 2 + s) * 16 + a * 2 + r] = K[(a * 2 + r) * 16 + b * 2 + s];
        for (int a = 0; a < 8; ++a)
          if (e.fixed[a])
            for (int r = 0; r < 16; ++r) {
              K[(a * 2 + 0) * 16 + r] = K[(a * 2 + 1) * 16 + r] = 0.0;
              K[r * 16 + a * 2 + 0] = K[r * 16 + a * 2 + 1] = 0.0;
            }
        add_element_matrix(m, jl, il, k, K, values);
      });
  // Fixed dofs: d on the diagonal.
  for (int jl = m.ys - m.gys; jl < m.ys - m.gys + m.ym; ++jl)
    for (int il = m.xs - m.gxs; il < m.xs - m.gxs + m.xm; ++il)
      for (int k = 0; k < m.mz; ++k)
        for (int c = 0; c < 2; ++c)
          if (m.fixed(jl, il, k, no_slip))
            values(m.coo_index(jl, il, k, c, 0, 0, 0, c)) += m.dirichlet_scale(jl, il);
  NUNATAK_PETSC(MatSetValuesCOO(J, values.data(), INSERT_VALUES));
}

void BlatterPattyn::set_sia_initial_guess() {
  // u(sigma) = u_s (1 - (1 - sigma)^(n+1)), u_s = 2 A (rho g)^n |grad s|^(n-1) grad s H^(n+1) /
  // (n+1), with centred surface slopes: the shallow-ice velocity, a good first Newton iterate.
  Impl& m = *m_impl;
  const double n = m.rheology.n, rho_g = m_params.flow.ice_density * m_params.flow.gravity;
  PetscScalar* xa = nullptr;
  NUNATAK_PETSC(VecGetArray(m_solution, &xa));
  size_t k0 = 0;
  for (int jl = m.ys - m.gys; jl < m.ys - m.gys + m.ym; ++jl)
    for (int il = m.xs - m.gxs; il < m.xs - m.gxs + m.xm; ++il, k0 += size_t(m.mz) * 2) {
      const double sx =
          (m.surface(jl, std::min(il + 1, m.gxm - 1)) - m.surface(jl, std::max(il - 1, 0))) /
          (m.dx * (std::min(il + 1, m.gxm - 1) - std::max(il - 1, 0)));
      const double sy =
          (m.surface(std::min(jl + 1, m.gym - 1), il) - m.surface(std::max(jl - 1, 0), il)) /
          (m.dy * (std::min(jl + 1, m.gym - 1) - std::max(jl - 1, 0)));
      const double slope = std::hypot(sx, sy), H = m.thickness_eff(jl, il);
      double B = 0.0; // column-mean hardness
      for (int k = 0; k < m.mz; ++k) B += m.hardness(jl, il, k) / m.mz;
      const double A = std::pow(B, -n); // Pa^-n a^-1
      const double factor =
          -2.0 * A * std::pow(rho_g * slope, n - 1.0) * rho_g * std::pow(H, n + 1.0) / (n + 1.0);
      for (int k = 0; k < m.mz; ++k) {
        const double p =
            m.node_free(jl, il) ? 1.0 - std::pow(1.0 - m.sigma[size_t(k)], n + 1.0) : 0.0;
        xa[k0 + size_t(k) * 2 + 0] = factor * sx * p;
        xa[k0 + size_t(k) * 2 + 1] = factor * sy * p;
      }
    }
  NUNATAK_PETSC(VecRestoreArray(m_solution, &xa));
}

namespace {

/// True where grid sequencing may solve on the grid coarsened by 2 first: the
/// grid coarsens as for multigrid (coarsening_levels) and the coarser grid
/// keeps at least 16 node intervals across and 4 vertically (ex48's coarsest
/// grid for ISMIP-HOM); every rank owns at least 4 columns each way.
bool sequence_coarsens(DM dm, int mx, int my, int mz, bool px, bool py) {
  if (coarsening_levels(mx, my, mz, px, py) < 2) return false;
  const auto coarse_intervals = [](int m, bool periodic) { return (periodic ? m : m - 1) / 2; };
  if (coarse_intervals(mx, px) < 16 || coarse_intervals(my, py) < 16 || (mz - 1) / 2 < 4)
    return false;
  PetscInt nx = 0, ny = 0;
  const PetscInt *lx = nullptr, *ly = nullptr;
  NUNATAK_PETSC(DMDAGetInfo(dm, nullptr, nullptr, nullptr, nullptr, nullptr, &nx, &ny, nullptr,
                            nullptr, nullptr, nullptr, nullptr, nullptr));
  NUNATAK_PETSC(DMDAGetOwnershipRanges(dm, nullptr, &lx, &ly));
  for (PetscInt r = 0; r < nx; ++r)
    if (lx[r] < 4) return false;
  for (PetscInt r = 0; r < ny; ++r)
    if (ly[r] < 4) return false;
  return true;
}

/// A PETSc object released at the end of the scope.
template <class T, PetscErrorCode (*Destroy)(T*)>
class Owned {
public:
  Owned() = default;
  ~Owned() {
    if (m_handle) Destroy(&m_handle);
  }
  Owned(const Owned&) = delete;
  Owned& operator=(const Owned&) = delete;
  T* out() { return &m_handle; }
  T get() const { return m_handle; }

private:
  T m_handle = nullptr;
};

} // namespace

bool BlatterPattyn::start_from_coarser_grid(BPSolveReport& report) {
  const Impl& m = *m_impl;
  const char* prefix = m_params.options_prefix.c_str();
  int allowed = m_coarser_grids_allowed;
  if (allowed < 0) { // the finest grid: read the options
    PetscInt n = -1;
    PetscBool set = PETSC_FALSE;
    NUNATAK_PETSC(PetscOptionsGetInt(nullptr, prefix, "-grid_sequence", &n, &set));
    allowed = set ? int(n) : 1000;
    // A level count given for the finest grid's multigrid does not fit the coarser ones.
    PetscBool levels_given = PETSC_FALSE;
    NUNATAK_PETSC(PetscOptionsHasName(nullptr, prefix, "-pc_mg_levels", &levels_given));
    if (levels_given && !set) allowed = 0;
  }
  if (allowed <= 0 || !sequence_coarsens(m_dm, m.mx, m.my, m.mz, m.periodic_x, m.periodic_y))
    return false;
  const MPI_Comm comm = m_grid->comm();
  // Only where every column holds ice: at margins the injected coarse mask
  // differs from the fine one, and the interpolated start cost Newton steps
  // (an ice cap on 33 x 33 x 9 nodes: 16-17 instead of 13 on the finest grid).
  int ice_free = 0;
  for (int jl = m.ys - m.gys; jl < m.ys - m.gys + m.ym && !ice_free; ++jl)
    for (int il = m.xs - m.gxs; il < m.xs - m.gxs + m.xm; ++il)
      if (!m.active(jl, il)) ice_free = 1;
  MPI_Allreduce(MPI_IN_PLACE, &ice_free, 1, MPI_INT, MPI_MAX, comm);
  if (ice_free) return false;

  // The coarse decomposition is PETSc's coarsening of this one, so that the
  // interpolation between the two DMDAs is local up to the ghosts.
  Owned<DM, DMDestroy> coarse_dm;
  NUNATAK_PETSC(DMCoarsen(m_dm, comm, coarse_dm.out()));
  PetscInt cmz = 0, cmx = 0, cmy = 0, px = 0, py = 0;
  NUNATAK_PETSC(DMDAGetInfo(coarse_dm.get(), nullptr, &cmz, &cmx, &cmy, nullptr, &px, &py, nullptr,
                            nullptr, nullptr, nullptr, nullptr, nullptr));
  const PetscInt *lx = nullptr, *ly = nullptr;
  NUNATAK_PETSC(DMDAGetOwnershipRanges(coarse_dm.get(), nullptr, &lx, &ly));
  core::DecompositionOptions options = m_grid->options();
  options.ownership_x.assign(lx, lx + px);
  options.ownership_y.assign(ly, ly + py);
  const core::Grid& g = m_grid->grid();
  auto coarse_grid = core::ParallelGrid::create(
      comm, core::Grid(int(cmx), int(cmy), 2.0 * g.dx(), 2.0 * g.dy(), g.x0(), g.y0()), options);
  BPParams params = m_params;
  params.levels = int(cmz);
  BlatterPattyn coarse(coarse_grid, params);
  coarse.m_coarse_stage = true;
  coarse.m_coarser_grids_allowed = allowed - 1;
  coarse.set_body_force(m.body_force);
  // (A softness field from set_softness is not passed down: the coarse grid
  // only provides the starting guess, with the uniform flow law.)

  // Geometry by injection (coarse node i = fine node 2i): thickness, bed
  // (without the trend, which set_geometry adds on the coarse grid) and beta^2
  // of the owned columns, packed into a solution-shaped vector (vertical
  // nodes 0 and 2 of the fine column = 0 and 1 of the coarse one).
  Owned<Vec, VecDestroy> packed_fine, packed_coarse;
  NUNATAK_PETSC(DMCreateGlobalVector(m_dm, packed_fine.out()));
  NUNATAK_PETSC(DMCreateGlobalVector(coarse.m_dm, packed_coarse.out()));
  {
    PetscScalar* a = nullptr;
    NUNATAK_PETSC(VecGetArray(packed_fine.get(), &a));
    const double trend = m_params.surface_trend_x;
    size_t n = 0;
    for (int jl = m.ys - m.gys; jl < m.ys - m.gys + m.ym; ++jl)
      for (int il = m.xs - m.gxs; il < m.xs - m.gxs + m.xm; ++il, n += size_t(m.mz) * 2) {
        a[n + 0] = m.surface(jl, il) - m.bed(jl, il);
        a[n + 1] = m.bed(jl, il) - trend * (g.x(m.gxs + il) - g.x(0));
        a[n + 4] = m.beta2(jl, il);
      }
    NUNATAK_PETSC(VecRestoreArray(packed_fine.get(), &a));
  }
  Owned<Mat, MatDestroy> injection;
  NUNATAK_PETSC(DMCreateInjection(coarse.m_dm, m_dm, injection.out()));
  NUNATAK_PETSC(MatMult(injection.get(), packed_fine.get(), packed_coarse.get()));
  core::FieldInfo info{"bp_coarse_geometry", "", "", "", "", {}, ""};
  core::Field2D thk(coarse_grid, info), bed(coarse_grid, info), beta2(coarse_grid, info);
  {
    const core::LocalBox b = coarse_grid->box();
    auto H = Kokkos::create_mirror_view(thk.view()), B = Kokkos::create_mirror_view(bed.view()),
         C = Kokkos::create_mirror_view(beta2.view());
    const PetscScalar* a = nullptr;
    NUNATAK_PETSC(VecGetArrayRead(packed_coarse.get(), &a));
    size_t n = 0;
    for (int j = b.ys; j < b.ys + b.ym; ++j)
      for (int i = b.xs; i < b.xs + b.xm; ++i, n += size_t(cmz) * 2) {
        H(b.lj(j), b.li(i)) = a[n + 0];
        B(b.lj(j), b.li(i)) = a[n + 1];
        C(b.lj(j), b.li(i)) = a[n + 2];
      }
    NUNATAK_PETSC(VecRestoreArrayRead(packed_coarse.get(), &a));
    Kokkos::deep_copy(thk.view(), H);
    Kokkos::deep_copy(bed.view(), B);
    Kokkos::deep_copy(beta2.view(), C);
  }
  for (core::Field2D* f : {&thk, &bed, &beta2}) coarse_grid->update_ghosts(*f);
  coarse.set_geometry(thk, bed, m_params.no_slip ? nullptr : &beta2);

  // The coarse solution only has to be good to the coarse grid's
  // discretisation error: a looser tolerance (-bp_grid_sequence_rtol).
  PetscReal rtol = 1e-4;
  NUNATAK_PETSC(PetscOptionsGetReal(nullptr, prefix, "-grid_sequence_rtol", &rtol, nullptr));
  PetscReal atol, rtol0, stol;
  PetscInt maxit, maxf;
  NUNATAK_PETSC(SNESGetTolerances(coarse.m_snes, &atol, &rtol0, &stol, &maxit, &maxf));
  NUNATAK_PETSC(SNESSetTolerances(coarse.m_snes, atol, rtol, stol, maxit, maxf));
  const BPSolveReport c = coarse.solve();
  if (!c.converged) return false;
  report.coarse_grids = 1 + c.coarse_grids;
  report.coarse_newton_iterations = c.newton_iterations + c.coarse_newton_iterations;
  report.coarse_krylov_iterations = c.krylov_iterations + c.coarse_krylov_iterations;
  Owned<Mat, MatDestroy> interpolation;
  NUNATAK_PETSC(DMCreateInterpolation(coarse.m_dm, m_dm, interpolation.out(), nullptr));
  NUNATAK_PETSC(MatInterpolate(interpolation.get(), coarse.m_solution, m_solution));
  return true;
}

BPSolveReport BlatterPattyn::solve() {
  // Absolute tolerance: 1e-8 of the residual at zero velocity (the driving
  // stress), so that a warm-started solve stops where a cold one would,
  // above the round-off floor of a large ice sheet; -bp_snes_atol wins.
  PetscBool user_atol = PETSC_FALSE;
  NUNATAK_PETSC(
      PetscOptionsHasName(nullptr, m_params.options_prefix.c_str(), "-snes_atol", &user_atol));
  if (!user_atol) {
    Vec zero = nullptr, f0 = nullptr;
    NUNATAK_PETSC(VecDuplicate(m_solution, &zero));
    NUNATAK_PETSC(VecDuplicate(m_solution, &f0));
    NUNATAK_PETSC(VecSet(zero, 0.0));
    residual(zero, f0);
    PetscReal forcing = 0;
    NUNATAK_PETSC(VecNorm(f0, NORM_2, &forcing));
    NUNATAK_PETSC(VecDestroy(&zero));
    NUNATAK_PETSC(VecDestroy(&f0));
    PetscReal atol, rtol, stol;
    PetscInt maxit, maxf;
    NUNATAK_PETSC(SNESGetTolerances(m_snes, &atol, &rtol, &stol, &maxit, &maxf));
    NUNATAK_PETSC(SNESSetTolerances(m_snes, rtol * forcing, rtol, stol, maxit, maxf));
  }
  // Fixed dofs hold their prescribed value (columns that just became ice-free
  // would otherwise start with a large, artificial residual).
  auto zero_fixed_dofs = [this] {
    const Impl& m = *m_impl;
    PetscScalar* xa = nullptr;
    NUNATAK_PETSC(VecGetArray(m_solution, &xa));
    size_t n = 0;
    for (int jl = m.ys - m.gys; jl < m.ys - m.gys + m.ym; ++jl)
      for (int il = m.xs - m.gxs; il < m.xs - m.gxs + m.xm; ++il)
        for (int k = 0; k < m.mz; ++k)
          for (int c = 0; c < 2; ++c, ++n)
            if (m.fixed(jl, il, k, m_params.no_slip)) xa[n] = 0.0;
    NUNATAK_PETSC(VecRestoreArray(m_solution, &xa));
  };
  zero_fixed_dofs();
  PetscReal current = 0;
  NUNATAK_PETSC(VecNorm(m_solution, NORM_INFINITY, &current));
  BPSolveReport r;
  if (current == 0.0) {
    // Cold start: from the coarser grid's solution where the grid coarsens,
    // else from the shallow-ice velocity.
    if (start_from_coarser_grid(r))
      zero_fixed_dofs();
    else
      set_sia_initial_guess();
  }
  Vec f = nullptr;
  NUNATAK_PETSC(VecDuplicate(m_solution, &f));
  residual(m_solution, f);
  PetscReal norm0 = 0;
  NUNATAK_PETSC(VecNorm(f, NORM_2, &norm0));
  NUNATAK_PETSC(VecDestroy(&f));
  r.initial_residual = norm0;
  auto attempt = [&] {
    NUNATAK_PETSC(SNESSolve(m_snes, nullptr, m_solution));
    SNESConvergedReason reason;
    NUNATAK_PETSC(SNESGetConvergedReason(m_snes, &reason));
    PetscInt its = 0, lits = 0;
    NUNATAK_PETSC(SNESGetIterationNumber(m_snes, &its));
    NUNATAK_PETSC(SNESGetLinearSolveIterations(m_snes, &lits));
    PetscReal fnorm = 0;
    NUNATAK_PETSC(SNESGetFunctionNorm(m_snes, &fnorm));
    r.converged = reason > 0;
    r.newton_iterations += int(its);
    r.krylov_iterations += int(lits);
    r.final_residual = fnorm;
    r.reason = SNESConvergedReasons[reason];
  };
  attempt();
  if (!r.converged && !m_coarse_stage) {
    // Robustness ladder: (1) a stalled default GMRES/ILU gives way to
    // FGMRES/GAMG; (2) restart from the shallow-ice velocity and follow a
    // continuation in the strain-rate regularisation, from a viscosity that is
    // nearly linear (reg^2 x 1e6) down to the requested one. Each stage is a
    // bounded Newton solve, so a hopeless problem fails, not hangs.
    Impl& m = *m_impl;
    if (m_default_ilu) {
      // First rung: a stronger linear solver (algebraic multigrid, true
      // residual norm) from the shallow-ice velocity.
      use_linear_solver(m_snes, KSPFGMRES, PCGAMG);
      KSP ksp = nullptr;
      NUNATAK_PETSC(SNESGetKSP(m_snes, &ksp));
      NUNATAK_PETSC(KSPSetFromOptions(ksp)); // e.g. -bp_pc_gamg_threshold
      // The iteration cap (150, or -bp_ksp_max_it) was for GMRES/ILU.
      NUNATAK_PETSC(KSPSetTolerances(ksp, PETSC_DEFAULT, PETSC_DEFAULT, PETSC_DEFAULT, 10000));
      m_default_ilu = false;
      r.switched_to_gamg = true;
      set_sia_initial_guess();
      attempt();
    }
    if (!r.converged) {
      const double target = m.rheology.reg2;
      set_sia_initial_guess();
      for (double factor : {1e6, 1e4, 1e2, 1.0}) {
        m.rheology.reg2 = target * factor;
        ++r.continuation_stages;
        attempt();
        if (!r.converged) break;
      }
      m.rheology.reg2 = target;
    }
  }
  m_report = r;
  return r;
}

std::string BlatterPattyn::last_solve_summary() const {
  const BPSolveReport& r = m_report;
  char text[256];
  std::snprintf(
      text, sizeof text, "Newton %d iterations, %d Krylov iterations, residual %.3e -> %.3e (%s)%s",
      r.newton_iterations, r.krylov_iterations, r.initial_residual, r.final_residual,
      r.reason.c_str(), r.continuation_stages > 0 ? ", after regularisation continuation" : "");
  std::string summary = text;
  if (r.switched_to_gamg) summary += "; GMRES/ILU stalled, solved with FGMRES/GAMG";
  if (r.coarse_grids > 0) {
    std::snprintf(text, sizeof text,
                  "; started from %d coarser grid(s): %d Newton, %d Krylov iterations there",
                  r.coarse_grids, r.coarse_newton_iterations, r.coarse_krylov_iterations);
    summary += text;
  }
  return summary;
}

void BlatterPattyn::update(const StressBalanceInputs& in) {
  // bed = usurf - thk (grounded ice); floating ice is removed by mass transport.
  core::Field2D bed(in.thk.grid_ptr(), in.usurf.info());
  const core::View2D s = in.usurf.view(), H = in.thk.view(), b = bed.view();
  Kokkos::parallel_for(
      "bp::bed_from_surface",
      Kokkos::MDRangePolicy<Kokkos::Rank<2>>({0, 0}, {int(b.extent(0)), int(b.extent(1))}),
      KOKKOS_LAMBDA(int j, int i) { b(j, i) = s(j, i) - H(j, i); });
  std::optional<core::Field2D> beta2;
  if (!m_params.no_slip) beta2.emplace(in.thk.grid_ptr(), in.thk.info(), m_params.uniform_beta2);
  set_geometry(in.thk, bed, beta2 ? &*beta2 : nullptr);
  const BPSolveReport r = solve();
  if (!r.converged)
    throw Error("bp: Newton did not converge (" + r.reason + ", residual " +
                std::to_string(r.initial_residual) + " -> " + std::to_string(r.final_residual) +
                ")");
  // Depth-averaged velocity on the ghosted box and upwind face fluxes.
  Impl& m = *m_impl;
  const LocalNodes nodes(m_dm, m_solution, m.gym, m.gxm, m.mz);
  const ConstNodeView x = nodes.view();
  for (int j = 0; j < m.gym; ++j)
    for (int i = 0; i < m.gxm; ++i) {
      double u = 0, v = 0;
      for (int k = 0; k < m.mz - 1; ++k) { // trapezoid rule on uniform sigma
        u += 0.5 * (x(j, i, k, 0) + x(j, i, k + 1, 0));
        v += 0.5 * (x(j, i, k, 1) + x(j, i, k + 1, 1));
      }
      m.ubar(j, i) = u / (m.mz - 1);
      m.vbar(j, i) = v / (m.mz - 1);
    }
  double rate = 0.0;
  for (int j = m.ys - m.gys; j < m.ys - m.gys + m.ym; ++j)
    for (int i = m.xs - m.gxs; i < m.xs - m.gxs + m.xm; ++i)
      if (m.node_free(j, i))
        rate = std::max(rate, (std::abs(m.ubar(j, i)) / m.dx + std::abs(m.vbar(j, i)) / m.dy) /
                                  seconds_per_year);
  MPI_Allreduce(&rate, &m_max_advection_rate, 1, MPI_DOUBLE, MPI_MAX, m_grid->comm());
  const core::LocalBox b2 = m_grid->box();
  const int oi = m.gxs - b2.gxs, oj = m.gys - b2.gys;
  auto Hh = Kokkos::create_mirror_view(in.thk.view());
  Kokkos::deep_copy(Hh, in.thk.view());
  for (int j = 0; j < m.gym; ++j)
    for (int i = 0; i < m.gxm; ++i) {
      const bool has_east = i + 1 < m.gxm, has_north = j + 1 < m.gym;
      if (has_east) {
        const double u = 0.5 * (m.ubar(j, i) + m.ubar(j, i + 1)) / seconds_per_year;
        m_fluxes.qx(j + oj, i + oi) = u * (u > 0 ? Hh(j + oj, i + oi) : Hh(j + oj, i + oi + 1));
      }
      if (has_north) {
        const double v = 0.5 * (m.vbar(j, i) + m.vbar(j + 1, i)) / seconds_per_year;
        m_fluxes.qy(j + oj, i + oi) = v * (v > 0 ? Hh(j + oj, i + oi) : Hh(j + oj + 1, i + oi));
      }
    }
}

Velocities BlatterPattyn::velocities(const std::vector<double>& sigma) const {
  Velocities out = make_velocities(m_grid);
  const Impl& m = *m_impl;
  const LocalNodes nodes(m_dm, m_solution, m.gym, m.gxm, m.mz);
  const ConstNodeView x = nodes.view();
  const core::LocalBox b2 = m_grid->box();
  const int oi = m.gxs - b2.gxs, oj = m.gys - b2.gys;
  auto host = [](const core::Field2D& f) { return Kokkos::create_mirror_view(f.view()); };
  auto us = host(out.uvelsurf), vs = host(out.vvelsurf), ub = host(out.uvelbase),
       vb = host(out.vvelbase), ua = host(out.ubar), va = host(out.vbar),
       sp = host(out.velsurf_mag);
  if (!sigma.empty()) {
    out.uvel.emplace(m_grid, velocity_info("uvel"), sigma);
    out.vvel.emplace(m_grid, velocity_info("vvel"), sigma);
  }
  const int top = m.mz - 1;
  for (int j = m.ys - m.gys; j < m.ys - m.gys + m.ym; ++j)
    for (int i = m.xs - m.gxs; i < m.xs - m.gxs + m.xm; ++i) {
      const int J = j + oj, I = i + oi;
      const double to_si = 1.0 / seconds_per_year;
      us(J, I) = x(j, i, top, 0) * to_si;
      vs(J, I) = x(j, i, top, 1) * to_si;
      ub(J, I) = x(j, i, 0, 0) * to_si;
      vb(J, I) = x(j, i, 0, 1) * to_si;
      double u = 0, v = 0;
      for (int k = 0; k < top; ++k) {
        u += 0.5 * (x(j, i, k, 0) + x(j, i, k + 1, 0));
        v += 0.5 * (x(j, i, k, 1) + x(j, i, k + 1, 1));
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
          U(J, I, l) = ((1 - t) * x(j, i, k, 0) + t * x(j, i, k + 1, 0)) * to_si;
          V(J, I, l) = ((1 - t) * x(j, i, k, 1) + t * x(j, i, k + 1, 1)) * to_si;
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
