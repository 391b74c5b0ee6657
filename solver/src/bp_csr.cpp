// The Jacobian's CSR pattern from the Hessian's slots (see bp_csr.hpp): a
// counting sort of the used slots by row, then a sort of each row's entries
// by column with duplicates merged.

#include "bp_csr.hpp"

#include "nunatak/core/error.hpp"

#include <algorithm>
#include <limits>
#include <string>
#include <utility>

namespace nunatak::solver::bp_csr {

Pattern make_pattern(PetscInt rows, const std::vector<PetscInt>& slot_rows,
                     const std::vector<PetscInt>& slot_columns) {
  const std::size_t slots = slot_columns.size();
  if (slot_rows.size() != slots) throw Error("internal: bp_csr slot arrays differ in size");
  if (slots > std::size_t(std::numeric_limits<std::int32_t>::max()))
    throw Error("internal: the Jacobian has too many slots for 32-bit positions");
  // Used slots per row, then the used slots bucketed by row.
  std::vector<std::size_t> start(std::size_t(rows) + 1, 0);
  for (std::size_t s = 0; s < slots; ++s) {
    if (slot_columns[s] < 0) continue;
    if (slot_rows[s] < 0 || slot_rows[s] >= rows || slot_columns[s] >= rows)
      throw Error("internal: a Jacobian slot's index is out of range (" +
                  std::to_string(slot_rows[s]) + ", " + std::to_string(slot_columns[s]) + ")");
    ++start[std::size_t(slot_rows[s]) + 1];
  }
  for (std::size_t r = 0; r < std::size_t(rows); ++r) start[r + 1] += start[r];
  std::vector<std::pair<PetscInt, std::int32_t>> bucket(start.back()); // (column, slot)
  {
    std::vector<std::size_t> next(start.begin(), start.end() - 1);
    for (std::size_t s = 0; s < slots; ++s)
      if (slot_columns[s] >= 0)
        bucket[next[std::size_t(slot_rows[s])]++] = {slot_columns[s], std::int32_t(s)};
  }
  Pattern p;
  p.row_start.assign(std::size_t(rows) + 1, 0);
  p.columns.reserve(bucket.size());
  p.offset.assign(slots, hessian_unused_slot);
  for (std::size_t r = 0; r < std::size_t(rows); ++r) {
    const auto first = bucket.begin() + std::ptrdiff_t(start[r]);
    const auto last = bucket.begin() + std::ptrdiff_t(start[r + 1]);
    // Rows away from a periodic seam arrive sorted (BPProblem's slot order).
    if (!std::is_sorted(first, last)) std::sort(first, last);
    for (auto it = first; it != last; ++it) {
      if (it == first || it->first != (it - 1)->first) p.columns.push_back(it->first);
      p.offset[std::size_t(it->second)] =
          std::uint8_t(PetscInt(p.columns.size()) - 1 - p.row_start[r]);
    }
    p.row_start[r + 1] = PetscInt(p.columns.size());
    if (p.row_start[r + 1] - p.row_start[r] >= hessian_unused_slot)
      throw Error("internal: a Jacobian row has " +
                  std::to_string(p.row_start[r + 1] - p.row_start[r]) + " entries");
  }
  p.entries = p.columns.size();
  return p;
}

} // namespace nunatak::solver::bp_csr
