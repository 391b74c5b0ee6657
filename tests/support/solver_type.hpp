#pragma once
// Which linear solver a PETSc nonlinear solver ended up with, in tests.

#include <petscsnes.h>

#include <string>

/// The type of the preconditioner of `snes`'s Krylov solver ("" if unset).
inline std::string preconditioner_type(SNES snes) {
  KSP ksp = nullptr;
  PC pc = nullptr;
  SNESGetKSP(snes, &ksp);
  KSPGetPC(ksp, &pc);
  PCType type = nullptr;
  PCGetType(pc, &type);
  return type ? type : "";
}

/// Levels of fill of the incomplete factorisation preconditioning `snes`'s
/// Krylov solver: its own (ICC, ILU) or, with block Jacobi, that of the first
/// local block (after a solve has set the blocks up). -1 if neither.
inline int factorisation_fill_levels(SNES snes) {
  KSP ksp = nullptr;
  PC pc = nullptr;
  SNESGetKSP(snes, &ksp);
  KSPGetPC(ksp, &pc);
  PetscBool block_jacobi = PETSC_FALSE;
  PetscObjectTypeCompare(reinterpret_cast<PetscObject>(pc), PCBJACOBI, &block_jacobi);
  if (block_jacobi) {
    PetscInt blocks = 0;
    KSP* sub = nullptr;
    if (PCBJacobiGetSubKSP(pc, &blocks, nullptr, &sub) != 0 || blocks < 1) return -1;
    KSPGetPC(sub[0], &pc);
  }
  PetscBool factor = PETSC_FALSE;
  PetscObjectTypeCompareAny(reinterpret_cast<PetscObject>(pc), &factor, PCICC, PCILU, "");
  if (!factor) return -1;
  PetscInt levels = -1;
  PCFactorGetLevels(pc, &levels);
  return int(levels);
}
