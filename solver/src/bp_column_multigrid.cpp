// Column multigrid: a two-level preconditioner for the Blatter-Pattyn Newton
// systems on grids where geometric multigrid cannot coarsen (ice margins,
// sizes that do not halve) and incomplete Cholesky alone stalls (ice shelves).
//
// The fine level is the 3-D system K u = r (2 unknowns per node: u, v in m/a).
// The coarse level has 2 unknowns per column, (U, V): the prolongation P sets
// every free node of a column to the column's (U, V) (a depth-constant
// velocity) and every fixed node to 0 (a no-slip bed, or Dirichlet rows); in a
// column with no free node, P is 1 on all nodes so that its coarse unknowns
// keep a non-zero (and decoupled) diagonal. The coarse operator is Galerkin's,
// P^T K P: for floating or fast-sliding ice it is the shallow-shelf
// (membrane) operator of the depth-averaged velocity with the basal friction
// summed over the column. Incomplete Cholesky on the columns' ordering
// resolves the vertical shear, which the coarse space lacks; the coarse space
// carries the long horizontal modes of membrane stress, which incomplete
// factorisations damp by one cell per iteration. This is the semi-coarsening
// to one layer of Tuminaro, Perego, Tezaur, Salinger and Price (2016),
// "A matrix dependent/algebraic multigrid approach for extruded meshes with
// applications to ice sheet modeling" (MALI/Albany), with a direct coarse
// solve instead of their algebraic multigrid of the 2-D problem.
//
// The two corrections are added (PCMG additive): B = M_ICC^-1 + P (P^T K P)^-1
// P^T, with ICC(0) (block Jacobi/ICC(0) on several ranks) and a sparse
// Cholesky of the coarse operator on a nested-dissection ordering (redundant
// on several ranks). B is symmetric positive definite and fixed, so GMRES
// (not FGMRES) is the outer Krylov method. The multiplicative cycle (one
// Richardson step of ICC(0) before and after the coarse correction) stalled
// on Aletsch and on the marine ice sheet: ICC(0) need not be a convergent
// Richardson smoother (it is not where the spectrum of M^-1 K reaches past 2).
//
// Where it is used (bp_solve.cpp): the robustness ladder's rung after a
// stalled ICC(0) under floating ice, or from the start with
// -bp_column_multigrid 1.

#include "bp_driver.hpp"
#include "nunatak/core/error.hpp"
#include "nunatak/core/parallel_grid.hpp"

#include <petscdmda.h>

#include <utility>

namespace nunatak::solver {

void BlatterPattyn::update_column_prolongation() {
  const core::BPPatch& p = m_problem->patch();
  const MPI_Comm comm = m_grid->comm();
  PetscInt row = 0, row_end = 0;
  NUNATAK_PETSC(VecGetOwnershipRange(m_solution, &row, &row_end));
  const PetscInt coarse_local = 2 * PetscInt(m_xm) * PetscInt(m_ym);
  PetscInt coarse_end = 0;
  MPI_Scan(&coarse_local, &coarse_end, 1, MPIU_INT, MPI_SUM, comm);
  PetscInt column = coarse_end - coarse_local; // global index of (U, V) of the first column
  if (!m_column_prolongation) {
    // One entry per row, all in the rank's own diagonal block: columns are
    // never split between ranks.
    NUNATAK_PETSC(MatCreateAIJ(comm, row_end - row, coarse_local, PETSC_DETERMINE, PETSC_DETERMINE,
                               1, nullptr, 0, nullptr, m_column_prolongation.out()));
  }
  // Values only: the pattern (one entry per row) never changes, so the
  // multigrid's Galerkin product keeps its symbolic part.
  for (int j = p.ys; j < p.ys + p.ym; ++j)
    for (int i = p.xs; i < p.xs + p.xm; ++i, column += 2) {
      bool any_free = false;
      for (int k = 0; k < p.nz && !any_free; ++k) any_free = !p.fixed(j, i, k);
      for (int k = 0; k < p.nz; ++k) {
        const PetscScalar value = !any_free || !p.fixed(j, i, k) ? 1.0 : 0.0;
        for (PetscInt c = 0; c < 2; ++c, ++row)
          NUNATAK_PETSC(MatSetValue(m_column_prolongation, row, column + c, value, INSERT_VALUES));
      }
    }
  NUNATAK_PETSC(MatAssemblyBegin(m_column_prolongation, MAT_FINAL_ASSEMBLY));
  NUNATAK_PETSC(MatAssemblyEnd(m_column_prolongation, MAT_FINAL_ASSEMBLY));
}

int BlatterPattyn::column_multigrid_option() const {
  PetscBool value = PETSC_FALSE, given = PETSC_FALSE;
  NUNATAK_PETSC(PetscOptionsGetBool(nullptr, m_params.options_prefix.c_str(), "-column_multigrid",
                                    &value, &given));
  return given ? int(value) : -1;
}

bool BlatterPattyn::has_free_slip_ice() const {
  // A column of ice that slides freely (beta^2 = 0, bed free) whose four
  // neighbours (within the grid) do too: floating ice, not an isolated zero
  // of a friction field (ISMIP-HOM D's beta^2 = 1000 (1 + sin) Pa a/m).
  const core::BPPatch& p = m_problem->patch();
  const auto slides_freely = [&p](int j, int i) {
    const size_t c = p.column(j, i);
    return p.thickness[c] >= p.constants.minimum_thickness && !p.bed_fixed[c] && p.beta2[c] == 0.0;
  };
  int free_slip = 0;
  for (int j = p.ys; j < p.ys + p.ym && !free_slip; ++j)
    for (int i = p.xs; i < p.xs + p.xm && !free_slip; ++i) {
      if (!slides_freely(j, i)) continue;
      bool neighbours = true;
      for (const auto& [dj, di] : {std::pair{0, 1}, {0, -1}, {1, 0}, {-1, 0}}) {
        const int jn = j + dj, in = i + di;
        // The patch's ghost columns hold the neighbours on other ranks (and
        // across periodic edges); outside its box, past the grid's edge, there is none.
        if (jn < 0 || in < 0 || jn >= p.ny || in >= p.nx) continue;
        neighbours = neighbours && slides_freely(jn, in);
      }
      free_slip = neighbours ? 1 : 0;
    }
  MPI_Allreduce(MPI_IN_PLACE, &free_slip, 1, MPI_INT, MPI_MAX, m_grid->comm());
  return free_slip != 0;
}

void BlatterPattyn::use_column_multigrid() {
  int ranks = 1;
  MPI_Comm_size(m_grid->comm(), &ranks);
  update_column_prolongation();
  m_column_multigrid = true;
  m_incomplete_cholesky = true; // the smoother; the ladder's next rung is ICC(1)
  m_incomplete_cholesky_fill = 0;
  m_default_solver_name = "GMRES/column multigrid";
  KSP ksp = nullptr;
  NUNATAK_PETSC(SNESGetKSP(m_snes, &ksp));
  // At most 150 Krylov iterations per solve, as for ICC alone, or -bp_ksp_max_it.
  if (!user_gave("-ksp_max_it"))
    NUNATAK_PETSC(KSPSetTolerances(ksp, PETSC_DEFAULT, PETSC_DEFAULT, PETSC_DEFAULT, 150));
  bp_driver::use_linear_solver(m_snes, KSPGMRES, PCNONE); // set afresh: no old levels
  PC pc = bp_driver::use_linear_solver(m_snes, KSPGMRES, PCMG);
  NUNATAK_PETSC(PCMGSetLevels(pc, 2, nullptr));
  NUNATAK_PETSC(PCMGSetType(pc, PC_MG_ADDITIVE));
  NUNATAK_PETSC(PCMGSetGalerkin(pc, PC_MG_GALERKIN_BOTH));
  // Given, so PCMG never coarsens the DMDA (which need not halve).
  NUNATAK_PETSC(PCMGSetInterpolation(pc, 1, m_column_prolongation));
  KSP smoother = nullptr;
  PC smoother_pc = nullptr;
  NUNATAK_PETSC(PCMGGetSmoother(pc, 1, &smoother));
  NUNATAK_PETSC(KSPSetType(smoother, KSPRICHARDSON));
  NUNATAK_PETSC(KSPSetTolerances(smoother, PETSC_DEFAULT, PETSC_DEFAULT, PETSC_DEFAULT, 1));
  NUNATAK_PETSC(KSPGetPC(smoother, &smoother_pc));
  const std::string prefix = m_params.options_prefix;
  if (ranks == 1) {
    NUNATAK_PETSC(PCSetType(smoother_pc, PCICC));
    NUNATAK_PETSC(PCFactorSetLevels(smoother_pc, 0));
    NUNATAK_PETSC(PCFactorSetShiftType(smoother_pc, MAT_SHIFT_NONE));
    NUNATAK_PETSC(PCFactorSetMatOrderingType(smoother_pc, MATORDERINGRCM));
  } else {
    NUNATAK_PETSC(PCSetType(smoother_pc, PCBJACOBI));
    // The same block defaults as the geometric multigrid's smoother (the
    // options database is shared by solvers of one prefix).
    bp_driver::set_default_options(prefix + "mg_levels_sub_",
                                   {{"pc_type", "icc"}, {"pc_factor_shift_type", "none"}});
  }
  KSP coarse = nullptr;
  PC coarse_pc = nullptr;
  NUNATAK_PETSC(PCMGGetCoarseSolve(pc, &coarse));
  NUNATAK_PETSC(KSPSetType(coarse, KSPPREONLY));
  NUNATAK_PETSC(KSPGetPC(coarse, &coarse_pc));
  if (ranks == 1) {
    NUNATAK_PETSC(PCSetType(coarse_pc, PCCHOLESKY));
    NUNATAK_PETSC(PCFactorSetMatOrderingType(coarse_pc, MATORDERINGND));
  } else {
    NUNATAK_PETSC(PCSetType(coarse_pc, PCREDUNDANT));
    bp_driver::set_default_options(prefix + "mg_coarse_redundant_",
                                   {{"pc_type", "cholesky"}, {"pc_factor_mat_ordering_type", "nd"}},
                                   true);
  }
  bp_driver::read_solver_options(prefix, [&] { NUNATAK_PETSC(PCSetFromOptions(pc)); });
}

} // namespace nunatak::solver
