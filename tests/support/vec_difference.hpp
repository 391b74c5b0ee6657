#pragma once
// Comparing PETSc vectors in tests.

#include <petscvec.h>

/// max |a - b| / max |b| over all ranks (collective).
inline double relative_difference(Vec a, Vec b) {
  Vec diff = nullptr;
  VecDuplicate(a, &diff);
  VecWAXPY(diff, -1.0, b, a);
  PetscReal err = 0, ref = 0;
  VecNorm(diff, NORM_INFINITY, &err);
  VecNorm(b, NORM_INFINITY, &ref);
  VecDestroy(&diff);
  return err / ref;
}
