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
