#pragma once
/// \file bp_csr.hpp
/// The Jacobian's compressed-row (CSR) pattern built from the Hessian's slots
/// (BPProblem::hessian_pattern: 108 per node, each a (row, column) pair or
/// unused), for a matrix on one rank: PETSc's COO preallocation sorts every
/// slot (a third of the set-up time of ISMIP-HOM A at 64 x 64 x 17); here
/// the slots are bucketed by row, and only each row's few dozen entries are
/// sorted (where they are not already). Slots that name the same entry
/// (periodic ghosts) get the same offset in the same row and are summed
/// (BPProblem::hessian_compressed). Non-periodic grids skip all this:
/// BPProblem::hessian_csr_pattern builds the same pattern in order.

#include "nunatak/solver/bp_problem.hpp"

#include <petscsys.h>

#include <cstdint>
#include <vector>

namespace nunatak::solver::bp_csr {

/// A CSR pattern and where each slot's value goes.
struct Pattern {
  std::vector<PetscInt> row_start; ///< rows + 1 offsets into `columns`
  std::vector<PetscInt> columns;   ///< sorted and unique within each row
  /// Per slot, its entry's index within its row (the entry is row_start[row]
  /// + offset: one byte per slot, a row has at most 54 entries), or
  /// hessian_unused_slot (bp_problem.hpp).
  std::vector<std::uint8_t> offset;
  std::size_t entries = 0; ///< nonzeros (columns.size(), kept when `columns` is released)
};

/// The pattern of a `rows` x `rows` matrix from each slot's global row and
/// column (`columns[s] < 0`: slot s is unused). Throws nunatak::Error if an
/// index is out of range, the entries overflow 32-bit positions or a row
/// has more entries than a byte can count.
Pattern make_pattern(PetscInt rows, const std::vector<PetscInt>& slot_rows,
                     const std::vector<PetscInt>& slot_columns);

} // namespace nunatak::solver::bp_csr
