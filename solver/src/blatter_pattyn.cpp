// The Blatter-Pattyn PETSc driver: the 3-D DMDA, the Jacobian matrix and its
// COO pattern, the SNES with DMDA local callbacks that hand the DMDA's local
// arrays to BPProblem, and the global-vector entry points (energy, residual,
// Jacobian) that tests and fixtures use. Equations, boundary conditions and
// units: nunatak/solver/blatter_pattyn.hpp and bp_problem.hpp.

#include "nunatak/solver/blatter_pattyn.hpp"

#include "bp_csr.hpp"
#include "bp_driver.hpp"
#include "nunatak/core/constants.hpp"
#include "nunatak/core/error.hpp"
#include "nunatak/core/parallel_grid.hpp"
#include "nunatak/core/petsc_log.hpp"

#include <Kokkos_Core.hpp>
#include <petscdmda.h>

#include <cmath>
#include <limits>
#include <sstream>

namespace nunatak::solver {

namespace {

/// Puts a C++ exception into PETSc's error stack (its message reaches the
/// NUNATAK_PETSC that catches the failed PETSc call) and returns the code.
PetscErrorCode petsc_error(const std::exception& e) {
  return PetscError(PETSC_COMM_SELF, __LINE__, "nunatak::solver::BlatterPattyn", __FILE__,
                    PETSC_ERR_LIB, PETSC_ERROR_INITIAL, "%s", e.what());
}

/// The arrays of a one-rank AIJ matrix that uses them in place
/// (MatCreateSeqAIJWithArrays), freed with the matrix.
struct CsrArrays {
  std::vector<PetscInt> row_start, columns;
  std::vector<PetscScalar> values;
};

PetscErrorCode destroy_csr_arrays(void* arrays) {
  delete static_cast<CsrArrays*>(arrays);
  return 0;
}

/// PETSc's default convergence test, except that the step tolerance counts
/// only once the residual is below step_tolerance_residual_factor times the
/// absolute tolerance (with -bp_snes_atol 0: the default test).
PetscErrorCode converged_unless_stalled(SNES snes, PetscInt it, PetscReal xnorm, PetscReal snorm,
                                        PetscReal fnorm, SNESConvergedReason* reason, void* ctx) {
  PetscCall(SNESConvergedDefault(snes, it, xnorm, snorm, fnorm, reason, ctx));
  if (*reason == SNES_CONVERGED_SNORM_RELATIVE) {
    PetscReal atol, rtol, stol;
    PetscInt maxit, maxf;
    PetscCall(SNESGetTolerances(snes, &atol, &rtol, &stol, &maxit, &maxf));
    if (atol > 0 && fnorm > step_tolerance_residual_factor * atol)
      *reason = SNES_CONVERGED_ITERATING;
  }
  return 0;
}

} // namespace

/// The SNES callbacks: DM local functions (DMSNESSetFunctionLocal) that find
/// their solver on the DM. PETSc hands them ghosted local vectors, [y][x][z][c]
/// in nunatak's map-plane terms; their arrays are read where PETSc keeps them
/// (VecGetArrayAndMemType: device memory for a device vector type), so the
/// kernels never go through the host.
struct BPCallbacks {
  static PetscErrorCode residual(DM dm, Vec x, Vec f, void*) {
    try {
      static const PetscLogEvent event = core::log_event("BPResidual");
      const core::LogEventScope scope(event);
      const core::VecKernelReadArray xa(x, "the Blatter-Pattyn velocity");
      const core::VecKernelWriteArray fa(f, "the Blatter-Pattyn residual");
      bp_driver::solver_of(dm).residual_local(xa.data(), fa.data());
      return 0;
    } catch (const std::exception& e) {
      return petsc_error(e);
    }
  }
  static PetscErrorCode newton_update(SNES snes, PetscInt step) {
    try {
      DM dm = nullptr;
      PetscCall(SNESGetDM(snes, &dm));
      bp_driver::solver_of(dm).update_dual_stress(snes, int(step));
      return 0;
    } catch (const std::exception& e) {
      return petsc_error(e);
    }
  }
  static PetscErrorCode jacobian(DM dm, Vec x, Mat, Mat P, void*) {
    try {
      static const PetscLogEvent event = core::log_event("BPJacobian");
      const core::LogEventScope scope(event);
      const core::VecKernelReadArray xa(x, "the Blatter-Pattyn velocity");
      bp_driver::solver_of(dm).jacobian_local(xa.data(), P);
      return 0;
    } catch (const std::exception& e) {
      return petsc_error(e);
    }
  }
};

namespace {

void check_params(const BPParams& p) {
  if (p.levels < 2) throw Error("bp: need at least 2 nodes per column");
  if (!(p.flow.softness > 0.0)) throw Error("bp: the ice softness must be positive");
}

} // namespace

BlatterPattyn::BlatterPattyn(std::shared_ptr<const core::ParallelGrid> grid, const BPParams& p)
    : m_grid(std::move(grid)), m_params(p) {
  check_params(p);
  create_dm();
  set_up();
}

BlatterPattyn::BlatterPattyn(std::shared_ptr<const core::ParallelGrid> grid, const BPParams& p,
                             core::DMHandle dm)
    : m_grid(std::move(grid)), m_params(p), m_dm(std::move(dm)) {
  check_params(p);
  m_coarse_stage = true;
  set_up();
}

BlatterPattyn::~BlatterPattyn() {
  if (m_dm) {
    try {
      bp_driver::attach_solver(m_dm, nullptr);
    } catch (...) { // a destructor never throws
    }
  }
}

void BlatterPattyn::create_dm() {
  // The 3-D DMDA: PETSc x = vertical (one rank, no ghosts needed), PETSc y =
  // map x, PETSc z = map y, with the 2-D grid's ownership ranges.
  const core::Grid& g = m_grid->grid();
  const bool px = m_grid->options().periodic_x, py = m_grid->options().periodic_y;
  PetscInt m2 = 0, n2 = 0;
  NUNATAK_PETSC(DMDAGetInfo(m_grid->dm(), nullptr, nullptr, nullptr, nullptr, &m2, &n2, nullptr,
                            nullptr, nullptr, nullptr, nullptr, nullptr, nullptr));
  const PetscInt *lx2 = nullptr, *ly2 = nullptr;
  NUNATAK_PETSC(DMDAGetOwnershipRanges(m_grid->dm(), &lx2, &ly2, nullptr));
  const PetscInt lz[1] = {m_params.levels};
  NUNATAK_PETSC(
      DMDACreate3d(m_grid->comm(), DM_BOUNDARY_NONE, px ? DM_BOUNDARY_PERIODIC : DM_BOUNDARY_NONE,
                   py ? DM_BOUNDARY_PERIODIC : DM_BOUNDARY_NONE, DMDA_STENCIL_BOX, m_params.levels,
                   g.nx(), g.ny(), 1, m2, n2, 2, 1, lz, lx2, ly2, m_dm.out()));
  NUNATAK_PETSC(DMSetOptionsPrefix(m_dm, m_params.options_prefix.c_str()));
  bp_driver::read_solver_options(m_params.options_prefix,
                                 [&] { NUNATAK_PETSC(DMSetFromOptions(m_dm)); });
  NUNATAK_PETSC(DMSetUp(m_dm));
  NUNATAK_PETSC(DMDASetFieldName(m_dm, 0, "u"));
  NUNATAK_PETSC(DMDASetFieldName(m_dm, 1, "v"));
  // Coarser DMDAs (grid sequencing, multigrid levels) get the geometry too.
  NUNATAK_PETSC(DMCoarsenHookAdd(m_dm, bp_driver::coarsen_columns, nullptr, nullptr));
}

namespace {

/// Options of the -bp_ prefix that nunatak defines (PETSc's own -bp_snes_*,
/// -bp_ksp_*, -bp_pc_* are PETSc's), registered so that -help lists them.
struct DriverOptions {
  PetscInt grid_sequence = 1000;
  PetscBool grid_sequence_set = PETSC_FALSE;
  /// 1e-2: ISMIP-HOM's finest grids need as many Newton steps as after 1e-4
  /// or fewer, and the coarser ones fewer (docs/blatter_pattyn.md).
  PetscReal grid_sequence_rtol = 1e-2;
  PetscBool stress_velocity = PETSC_FALSE;
  PetscBool stress_velocity_set = PETSC_FALSE;
  PetscBool column_multigrid = PETSC_FALSE; ///< read where used (column_multigrid_option)
};

PetscErrorCode register_options(MPI_Comm comm, const char* prefix, DriverOptions* o) {
  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, prefix, "nunatak Blatter-Pattyn solver", "");
  PetscCall(PetscOptionsInt("-grid_sequence",
                            "most coarser grids solved first on a cold start (grid sequencing; "
                            "0: none)",
                            "", o->grid_sequence, &o->grid_sequence, &o->grid_sequence_set));
  PetscCall(PetscOptionsReal("-grid_sequence_rtol",
                             "relative tolerance of the Newton solves on the coarser grids", "",
                             o->grid_sequence_rtol, &o->grid_sequence_rtol, nullptr));
  PetscCall(PetscOptionsBool("-column_multigrid",
                             "where GMRES/ICC(0) is the default linear solver, add a coarse space "
                             "of depth-constant columns (for ice shelves; docs/blatter_pattyn.md)",
                             "", o->column_multigrid, &o->column_multigrid, nullptr));
  PetscCall(PetscOptionsBool("-stress_velocity_newton",
                             "Newton's matrix from the stress-velocity linearisation of Glen's law "
                             "(default: where GMRES/ICC is the linear solver)",
                             "", o->stress_velocity, &o->stress_velocity, &o->stress_velocity_set));
  PetscOptionsEnd();
  PetscFunctionReturn(0);
}

} // namespace

void BlatterPattyn::set_up() {
  const BPParams& p = m_params;
  PetscInt mz = 0, mx = 0, my = 0;
  NUNATAK_PETSC(DMDAGetInfo(m_dm, nullptr, &mz, &mx, &my, nullptr, nullptr, nullptr, nullptr,
                            nullptr, nullptr, nullptr, nullptr, nullptr));
  PetscInt zs, ys, xs, zm, ym, xm, gzs, gys, gxs, gzm, gym, gxm;
  NUNATAK_PETSC(DMDAGetCorners(m_dm, &zs, &xs, &ys, &zm, &xm, &ym));
  NUNATAK_PETSC(DMDAGetGhostCorners(m_dm, &gzs, &gxs, &gys, &gzm, &gxm, &gym));
  if (zm != mz || gzm != mz) throw Error("bp: a column was split between ranks");
  if (int(mz) != p.levels) throw Error("internal: bp DMDA levels differ from the parameters");
  m_mx = int(mx);
  m_my = int(my);
  m_mz = int(mz);
  m_xs = int(xs);
  m_ys = int(ys);
  m_xm = int(xm);
  m_ym = int(ym);
  m_gxs = int(gxs);
  m_gys = int(gys);
  m_gxm = int(gxm);
  m_gym = int(gym);
  m_periodic_x = m_grid->options().periodic_x;
  m_periodic_y = m_grid->options().periodic_y;
  m_reg2 = p.strain_rate_regularisation * p.strain_rate_regularisation;
  const double A_per_year = p.flow.enhancement * p.flow.softness * core::seconds_per_year;
  m_hardness.assign(size_t(m_gxm) * size_t(m_gym) * size_t(m_mz),
                    std::pow(A_per_year, -1.0 / p.flow.n));

  // The problem without ice (no element filled) until set_geometry.
  {
    const core::BPPatch patch =
        make_patch(Columns{m_grid, core::Field2D(m_grid, core::FieldInfo{}),
                           core::Field2D(m_grid, core::FieldInfo{}), std::nullopt, std::nullopt});
    m_problem = std::make_unique<BPProblem>(patch);
  }
  const std::string label = "bp::";
  m_fluxes.qx = core::View2D(label + "qx", m_grid->box().gym, m_grid->box().gxm);
  m_fluxes.qy = core::View2D(label + "qy", m_grid->box().gym, m_grid->box().gxm);

  // The Jacobian matrix is made by set_geometry (or solve), for the ice mask:
  // making one here for the empty problem cost a pass over every slot (1.7 s
  // at 128 x 128 x 33).
  NUNATAK_PETSC(DMCreateGlobalVector(m_dm, m_solution.out()));
  NUNATAK_PETSC(VecSet(m_solution, 0.0));

  bp_driver::attach_solver(m_dm, this);
  // Local callbacks: PETSc zeroes the local residual, and adds it up over
  // the ranks (ADD_VALUES) after the callback.
  NUNATAK_PETSC(DMSNESSetFunctionLocal(m_dm, BPCallbacks::residual, nullptr));
  NUNATAK_PETSC(DMSNESSetJacobianLocal(m_dm, BPCallbacks::jacobian, nullptr));

  NUNATAK_PETSC(SNESCreate(m_grid->comm(), m_snes.out()));
  NUNATAK_PETSC(SNESSetOptionsPrefix(m_snes, p.options_prefix.c_str()));
  NUNATAK_PETSC(SNESSetDM(m_snes, m_dm));
  // The line search works on the residual norm: near the solution, changes
  // of the energy (O(1e14) on an ice sheet) fall below double precision.
  NUNATAK_PETSC(SNESSetTolerances(m_snes, 0.0, 1e-8, 0.0, 50, 10000));
  NUNATAK_PETSC(SNESSetConvergenceTest(m_snes, converged_unless_stalled, nullptr, nullptr));
  // Eisenstat-Walker (version 3, linear tolerance at most 1e-2): inexact
  // Newton steps that are still good enough to keep the iteration count low.
  NUNATAK_PETSC(SNESKSPSetUseEW(m_snes, PETSC_TRUE));
  NUNATAK_PETSC(SNESKSPSetParametersEW(m_snes, 3, 1e-2, 1e-2, PETSC_DEFAULT, PETSC_DEFAULT,
                                       PETSC_DEFAULT, PETSC_DEFAULT));
  // Line search on ||F||^2 by secant steps (l2): on real geometries (Greenland
  // at 16 km, with calving fronts) the backtracking search stalls where l2
  // converges; with multigrid (configure_default_multigrid) the cheaper
  // backtracking search.
  SNESLineSearch line_search = nullptr;
  NUNATAK_PETSC(SNESGetLineSearch(m_snes, &line_search));
  NUNATAK_PETSC(SNESLineSearchSetType(line_search, SNESLINESEARCHL2));
  NUNATAK_PETSC(SNESSetUpdate(m_snes, BPCallbacks::newton_update));
  configure_default_multigrid();
  bp_driver::read_solver_options(p.options_prefix,
                                 [&] { NUNATAK_PETSC(SNESSetFromOptions(m_snes)); });
  bp_driver::check_tolerances(m_snes, p.options_prefix);

  read_options();
}

void BlatterPattyn::create_jacobian_matrix() {
  // A bare matrix (AIJ by default) with the problem's pattern, one entry per
  // nonzero (element matrices are summed straight into the CSR values on one
  // rank; on several, or with another matrix type such as a GPU one, into
  // m_hessian_values' 108 slots per node, then PETSc's COO assembly). Only
  // entries between free nodes of filled elements are stored: on Greenland at
  // 16 km (40 % of the columns hold ice) a third of the full 27-point
  // stencil's.
  const core::BPPatch& p = m_problem->patch();
  std::vector<std::uint8_t> key = p.element_filled;
  key.insert(key.end(), p.node_free.begin(), p.node_free.end());
  key.insert(key.end(), p.bed_fixed.begin(), p.bed_fixed.end());
  // Collective: every rank rebuilds if the mask changed on any (a transient
  // step that changes one rank's margin only; deciding locally left the
  // ranks in different collectives, a hang on 2 ranks in the Greenland run).
  int unchanged = m_matrix && key == m_pattern_key ? 1 : 0;
  MPI_Allreduce(MPI_IN_PLACE, &unchanged, 1, MPI_INT, MPI_MIN, m_grid->comm());
  if (unchanged) return;
  const core::LogEventScope timer(core::log_event("BPMatrixPattern"));
  core::BorrowedVec v(m_dm, core::BorrowedVec::global);
  PetscInt local = 0;
  NUNATAK_PETSC(VecGetLocalSize(v, &local));
  ISLocalToGlobalMapping ltog = nullptr;
  NUNATAK_PETSC(DMGetLocalToGlobalMapping(m_dm, &ltog));
  core::MatHandle matrix;
  NUNATAK_PETSC(MatCreate(m_grid->comm(), matrix.out()));
  NUNATAK_PETSC(MatSetSizes(matrix, local, local, PETSC_DETERMINE, PETSC_DETERMINE));
  NUNATAK_PETSC(MatSetBlockSize(matrix, 2));
  // The DMDA's matrix type: AIJ unless -bp_dm_mat_type names another (e.g.
  // aijkokkos or aijcusparse with a PETSc built for a GPU: the COO assembly
  // below is PETSc's device assembly path).
  MatType type = nullptr;
  NUNATAK_PETSC(DMGetMatType(m_dm, &type));
  NUNATAK_PETSC(MatSetType(matrix, type ? type : MATAIJ));
  NUNATAK_PETSC(MatSetLocalToGlobalMapping(matrix, ltog, ltog));
  NUNATAK_PETSC(MatSetDM(matrix, m_dm));
  std::vector<PetscInt> rows, cols;
  m_hessian_values = {};
  m_coo_slots = {};
  m_coo_values = {};
  m_csr.reset();
  PetscBool seqaij = PETSC_FALSE;
  NUNATAK_PETSC(PetscObjectTypeCompare(reinterpret_cast<PetscObject>(static_cast<Mat>(matrix)),
                                       MATSEQAIJ, &seqaij));
  // The CSR path writes the host matrix's values from the kernels: only
  // where they run on the host.
  constexpr bool host_kernels =
      Kokkos::SpaceAccessibility<Kokkos::DefaultExecutionSpace, Kokkos::HostSpace>::accessible;
  if (seqaij && host_kernels) {
    // One rank, AIJ: the CSR pattern made here, and jacobian_local writes
    // the values into the matrix's array. Where the box's dofs are their own
    // global indices (not periodic), the pattern comes in order
    // (hessian_csr_pattern: on Greenland at 16 km, whose margin moves at
    // every step of a transient run, a third of bp_csr's time); else the
    // slots are mapped and sorted (bp_csr.hpp).
    auto pattern = std::make_unique<bp_csr::Pattern>();
    const PetscInt* global = nullptr;
    NUNATAK_PETSC(ISLocalToGlobalMappingGetIndices(ltog, &global));
    bool identity = PetscInt(p.size()) == local && p.ex0 == 0 && p.ey0 == 0 && p.ex1 == p.nx - 1 &&
                    p.ey1 == p.ny - 1;
    for (PetscInt l = 0; identity && l < local; ++l) identity = global[l] == l;
    if (identity) {
      m_problem->hessian_csr_pattern(pattern->row_start, pattern->columns, pattern->offset);
      pattern->entries = pattern->columns.size();
    } else {
      m_problem->hessian_pattern(rows, cols);
      for (std::size_t e = 0; e < cols.size(); ++e)
        if (cols[e] >= 0) {
          rows[e] = global[rows[e]];
          cols[e] = global[cols[e]];
        }
      *pattern = bp_csr::make_pattern(local, rows, cols);
    }
    if (pattern->entries > std::size_t(std::numeric_limits<std::int32_t>::max()))
      throw Error("internal: the Jacobian has too many entries for 32-bit positions");
    // Where each box dof's matrix row starts (hessian_compressed).
    m_csr_row_base.resize(p.size());
    for (std::size_t l = 0; l < p.size(); ++l)
      m_csr_row_base[l] = std::int32_t(pattern->row_start[std::size_t(global[l])]);
    NUNATAK_PETSC(ISLocalToGlobalMappingRestoreIndices(ltog, &global));
    // The matrix uses the pattern's arrays in place: no copy, and no
    // insertion row by row (MatSeqAIJSetPreallocationCSR took 1.9 s of
    // ISMIP-HOM A at 128 x 128 x 33). They live in a container composed
    // with the matrix, freed with it.
    auto arrays = std::make_unique<CsrArrays>();
    arrays->row_start = std::move(pattern->row_start);
    arrays->columns = std::move(pattern->columns);
    arrays->values.assign(pattern->entries, 0.0);
    NUNATAK_PETSC(MatCreateSeqAIJWithArrays(m_grid->comm(), local, local, arrays->row_start.data(),
                                            arrays->columns.data(), arrays->values.data(),
                                            matrix.out()));
    NUNATAK_PETSC(MatSetBlockSize(matrix, 2));
    NUNATAK_PETSC(MatSetLocalToGlobalMapping(matrix, ltog, ltog));
    NUNATAK_PETSC(MatSetDM(matrix, m_dm));
    {
      PetscContainer container = nullptr;
      NUNATAK_PETSC(PetscContainerCreate(m_grid->comm(), &container));
      NUNATAK_PETSC(PetscContainerSetPointer(container, arrays.release()));
      NUNATAK_PETSC(PetscContainerSetUserDestroy(container, destroy_csr_arrays));
      NUNATAK_PETSC(PetscObjectCompose(reinterpret_cast<PetscObject>(static_cast<Mat>(matrix)),
                                       "nunatak_csr_arrays",
                                       reinterpret_cast<PetscObject>(container)));
      NUNATAK_PETSC(PetscContainerDestroy(&container));
    }
    m_csr = std::move(pattern);
  } else {
    m_problem->hessian_pattern(rows, cols);
    m_hessian_values = Kokkos::View<double*>("bp::hessian_values", rows.size());
    // Several ranks (or another matrix type): PETSc's COO assembly. Where
    // fewer than half of the 108 slots per node are nonzeros (an ice sheet's
    // margins and ice-free land, a DMDA before set_geometry), PETSc is given
    // only the nonzeros and jacobian_local gathers their values: on
    // Greenland at 16 km the preallocation sorts a third of the entries.
    // Elsewhere (ISMIP-HOM) the slots go as they are, -1 for the unused.
    std::size_t nonzeros = 0;
    for (const PetscInt c : cols) nonzeros += c >= 0 ? 1 : 0;
    if (2 * nonzeros < cols.size()) {
      m_coo_slots = Kokkos::View<std::size_t*>("bp::coo_slots", nonzeros);
      const auto slots = Kokkos::create_mirror_view(m_coo_slots);
      std::size_t n = 0;
      for (std::size_t e = 0; e < cols.size(); ++e)
        if (cols[e] >= 0) {
          rows[n] = rows[e];
          cols[n] = cols[e];
          slots(n++) = e;
        }
      Kokkos::deep_copy(m_coo_slots, slots);
      rows.resize(nonzeros);
      cols.resize(nonzeros);
      m_coo_values = Kokkos::View<double*>("bp::coo_values", nonzeros);
    }
    NUNATAK_PETSC(
        MatSetPreallocationCOOLocal(matrix, PetscCount(rows.size()), rows.data(), cols.data()));
  }
  m_matrix = std::move(matrix);
  m_pattern_key = std::move(key);
  if (m_column_multigrid) update_column_prolongation(); // the fixed dofs changed
  // A new matrix object: the preconditioner is rebuilt from scratch.
  if (m_snes) NUNATAK_PETSC(SNESSetJacobian(m_snes, m_matrix, m_matrix, nullptr, nullptr));
}

void BlatterPattyn::read_options() {
  // The finest grid reads the options at every solve (so that options set
  // after construction act, as for PETSc's own); a coarser grid of grid
  // sequencing gets its depth and tolerance from the finer one.
  if (m_coarse_stage) return;
  DriverOptions options;
  const char* prefix = m_params.options_prefix.c_str();
  bp_driver::read_solver_options(m_params.options_prefix, [&] {
    NUNATAK_PETSC(register_options(m_grid->comm(), prefix, &options));
  });
  if (options.grid_sequence < 0)
    throw Error("the solver option -" + m_params.options_prefix + "grid_sequence " +
                std::to_string(options.grid_sequence) + " is wrong: it must be an integer >= 0");
  if (!(options.grid_sequence_rtol > 0 && options.grid_sequence_rtol < 1)) {
    std::ostringstream value;
    value << options.grid_sequence_rtol;
    throw Error("the solver option -" + m_params.options_prefix + "grid_sequence_rtol " +
                value.str() + " is wrong: it must be in (0, 1)");
  }
  m_grid_sequence_rtol = options.grid_sequence_rtol;
  m_coarser_grids_allowed = int(options.grid_sequence);
  m_stress_velocity_option = options.stress_velocity_set ? int(options.stress_velocity) : -1;
  // A level count given for the finest grid's multigrid does not fit the coarser ones.
  PetscBool levels_given = PETSC_FALSE;
  NUNATAK_PETSC(PetscOptionsHasName(nullptr, prefix, "-pc_mg_levels", &levels_given));
  if (levels_given && !options.grid_sequence_set) m_coarser_grids_allowed = 0;
}

void BlatterPattyn::residual_local(const double* x, double* f) const {
  m_problem->gradient(x, f);
  // Fixed dofs of owned columns: d (u - 0), d scaled like the viscous diagonal.
  m_problem->add_fixed_rows(x, f);
}

void BlatterPattyn::jacobian_local(const double* x, Mat P) const {
  const core::BPPatch& p = m_problem->patch();
  // The host CSR path: d on the diagonal of the fixed dofs of owned columns,
  // through `add(row, slot, d)` (row: the box dof).
  const auto add_fixed_diagonal = [&](const auto& add) {
    for (int j = p.ys; j < p.ys + p.ym; ++j)
      for (int i = p.xs; i < p.xs + p.xm; ++i)
        for (int k = 0; k < p.nz; ++k)
          if (p.fixed(j, i, k))
            for (int c = 0; c < 2; ++c)
              add(p.node(j, i, k) * 2 + std::size_t(c),
                  m_problem->hessian_index(j, i, k, c, 0, 0, 0, c),
                  m_problem->dirichlet_scale(j, i));
  };
  if (m_csr) {
    // One rank: straight into the matrix's CSR values.
    if (P != m_matrix) throw Error("internal: bp Jacobian into a matrix of another pattern");
    PetscScalar* csr = nullptr;
    NUNATAK_PETSC(MatSeqAIJGetArrayWrite(P, &csr));
    m_problem->hessian_compressed(x, m_csr_row_base.data(), m_csr->offset.data(), csr,
                                  m_csr->entries);
    add_fixed_diagonal([&](std::size_t row, std::size_t slot, double d) {
      csr[m_csr_row_base[row] + m_csr->offset[slot]] += d;
    });
    NUNATAK_PETSC(MatSeqAIJRestoreArrayWrite(P, &csr));
    NUNATAK_PETSC(MatAssemblyBegin(P, MAT_FINAL_ASSEMBLY));
    NUNATAK_PETSC(MatAssemblyEnd(P, MAT_FINAL_ASSEMBLY));
    return;
  }
  // COO: the slots (scratch space of a const operation) and, where the
  // matrix holds only the nonzeros, their values gathered, all in the
  // kernels' memory.
  const Kokkos::View<double*> values = m_hessian_values;
  m_problem->hessian(x, values.data());
  m_problem->add_fixed_diagonal(values.data());
  if (m_coo_slots.extent(0) == 0) {
    NUNATAK_PETSC(MatSetValuesCOO(P, values.data(), INSERT_VALUES));
    return;
  }
  const Kokkos::View<const std::size_t*> slots = m_coo_slots;
  const Kokkos::View<double*> nonzeros = m_coo_values;
  Kokkos::parallel_for(
      "bp::coo_gather", Kokkos::RangePolicy<>(0, nonzeros.extent(0)),
      KOKKOS_LAMBDA(std::size_t n) { nonzeros(n) = values(slots(n)); });
  NUNATAK_PETSC(MatSetValuesCOO(P, nonzeros.data(), INSERT_VALUES));
}

void BlatterPattyn::update_dual_stress(SNES snes, int step) {
  if (!m_stress_velocity) return;
  Vec x = nullptr;
  NUNATAK_PETSC(SNESGetSolution(snes, &x));
  if (!m_previous_local) NUNATAK_PETSC(DMCreateLocalVector(m_dm, m_previous_local.out()));
  if (step == 0) {
    // The first matrix is Picard's (dual stress 0): on Aletsch 8 Newton
    // steps and 104 Krylov iterations instead of 9 and 133 from the
    // strain rate's own direction (Newton's first matrix).
    m_problem->start_dual_stress();
    NUNATAK_PETSC(DMGlobalToLocal(m_dm, x, INSERT_VALUES, m_previous_local));
    return;
  }
  core::BorrowedVec current(m_dm, core::BorrowedVec::local);
  NUNATAK_PETSC(DMGlobalToLocal(m_dm, x, INSERT_VALUES, current));
  SNESLineSearch line_search = nullptr;
  NUNATAK_PETSC(SNESGetLineSearch(snes, &line_search));
  PetscReal step_length = 1.0;
  NUNATAK_PETSC(SNESLineSearchGetLambda(line_search, &step_length));
  {
    const core::VecKernelReadArray previous(m_previous_local, "the last Newton iterate"),
        now(current, "the Newton iterate");
    m_problem->update_dual_stress(previous.data(), now.data(), step_length);
  }
  NUNATAK_PETSC(VecCopy(current, m_previous_local));
}

double BlatterPattyn::energy(Vec x) const {
  core::BorrowedVec local(m_dm, core::BorrowedVec::local);
  NUNATAK_PETSC(DMGlobalToLocal(m_dm, x, INSERT_VALUES, local));
  double mine = 0.0;
  {
    const core::VecKernelReadArray a(local, "the Blatter-Pattyn velocity");
    mine = m_problem->energy(a.data());
  }
  double total = 0.0;
  MPI_Allreduce(&mine, &total, 1, MPI_DOUBLE, MPI_SUM, m_grid->comm());
  return total;
}

void BlatterPattyn::residual(Vec x, Vec f) const {
  core::BorrowedVec xl(m_dm, core::BorrowedVec::local), fl(m_dm, core::BorrowedVec::local);
  NUNATAK_PETSC(DMGlobalToLocal(m_dm, x, INSERT_VALUES, xl));
  {
    const core::VecKernelReadArray xa(xl, "the Blatter-Pattyn velocity");
    const core::VecKernelWriteArray fa(fl, "the Blatter-Pattyn residual");
    residual_local(xa.data(), fa.data());
  }
  NUNATAK_PETSC(VecSet(f, 0.0));
  NUNATAK_PETSC(DMLocalToGlobal(m_dm, fl, ADD_VALUES, f));
}

void BlatterPattyn::residual_at_rest(Vec f) const {
  // At x = 0 the fixed dofs' rows d (u - 0) are 0 too.
  core::BorrowedVec fl(m_dm, core::BorrowedVec::local);
  {
    const core::VecKernelWriteArray fa(fl, "the Blatter-Pattyn residual");
    m_problem->gradient_at_rest(fa.data());
  }
  NUNATAK_PETSC(VecSet(f, 0.0));
  NUNATAK_PETSC(DMLocalToGlobal(m_dm, fl, ADD_VALUES, f));
}

void BlatterPattyn::jacobian(Vec x, Mat J) const {
  core::BorrowedVec xl(m_dm, core::BorrowedVec::local);
  NUNATAK_PETSC(DMGlobalToLocal(m_dm, x, INSERT_VALUES, xl));
  const core::VecKernelReadArray xa(xl, "the Blatter-Pattyn velocity");
  jacobian_local(xa.data(), J);
}

BPPatchState BlatterPattyn::patch_state() const {
  BPPatchState s;
  s.patch = m_problem->patch();
  core::BorrowedVec local(m_dm, core::BorrowedVec::local), gradient(m_dm, core::BorrowedVec::local);
  NUNATAK_PETSC(DMGlobalToLocal(m_dm, m_solution, INSERT_VALUES, local));
  {
    const core::VecKernelReadArray x(local, "the Blatter-Pattyn velocity");
    const core::VecKernelWriteArray g(gradient, "the Blatter-Pattyn gradient");
    s.energy = m_problem->energy(x.data());
    m_problem->gradient(x.data(), g.data());
  }
  const core::VecReadArray x(local), g(gradient);
  s.velocity.assign(x.data(), x.data() + s.patch.size());
  s.gradient.assign(g.data(), g.data() + s.patch.size());
  return s;
}

bool BlatterPattyn::is_fixed(PetscInt owned_index) const {
  const int node = int(owned_index / 2);
  const int k = node % m_mz, column = node / m_mz;
  const int i = column % m_xm + (m_xs - m_gxs), j = column / m_xm + (m_ys - m_gys);
  return m_problem->patch().fixed(j, i, k);
}

void BlatterPattyn::set_body_force(BodyForce force) {
  m_body_force = std::move(force);
  const core::Grid& g = m_grid->grid();
  m_problem->set_body_force(m_body_force, g.x0() + m_gxs * g.dx(), g.y0() + m_gys * g.dy());
}

} // namespace nunatak::solver
