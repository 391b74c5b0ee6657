// Shortcuts of the Blatter-Pattyn problem, each against the long way: the
// in-order builder of the Jacobian's compressed-row pattern
// (BPProblem::hessian_csr_pattern, what one rank uses when the grid is not
// periodic) gives the pattern that bp_csr::make_pattern sorts out of the
// Hessian's slots, on an ice cap with ice-free land, a floating margin and a
// bed that slides in part; make_pattern merges slots that name the same
// entry (periodic ghosts); and the gradient at rest (the loads, which set
// the solver's absolute tolerance) is the gradient at zero velocity.
#include "bp_csr.hpp"
#include "nunatak/core/bp_patch.hpp"
#include "nunatak/core/runtime.hpp"
#include "nunatak/solver/bp_problem.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

using namespace nunatak;

namespace {

/// An ice cap on 23 x 17 columns of 7 levels: a dome whose east side floats
/// (bed below sea level) and ends at a calving front, ice-free corners, the
/// bed frozen in the west half and sliding in the east.
core::BPPatch ice_cap_patch() {
  const int nx = 23, ny = 17, nz = 7;
  std::vector<double> sigma(nz), H(nx * ny), b(nx * ny), beta2(nx * ny, 1e3),
      B(std::size_t(nx * ny * nz), 2e5);
  for (int k = 0; k < nz; ++k) sigma[std::size_t(k)] = double(k) / (nz - 1);
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) {
      const double x = double(i) / (nx - 1), y = double(j) / (ny - 1);
      const double r2 = (x - 0.45) * (x - 0.45) + (y - 0.5) * (y - 0.5);
      H[std::size_t(j * nx + i)] = std::max(0.0, 900.0 * (1.0 - r2 / 0.2));
      b[std::size_t(j * nx + i)] = 200.0 - 1400.0 * x;
    }
  core::BPPatch p = core::make_bp_patch(nx, ny, 2000.0, 2000.0, sigma, H, b, beta2, B,
                                        core::BPConstants{}, true, false);
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx / 2; ++i) p.bed_fixed[p.column(j, i)] = 1;
  return p;
}

} // namespace

TEST(BPCsr, InOrderPatternIsTheSortedPatternOfTheSlots) {
  const core::Runtime runtime;
  const core::BPPatch patch = ice_cap_patch();
  // The case has every kind of node: free, fixed at the bed, ice-free.
  std::size_t free_nodes = 0, fixed_nodes = 0, filled = 0;
  for (int j = 0; j < patch.ny; ++j)
    for (int i = 0; i < patch.nx; ++i) {
      filled += patch.element_filled[patch.column(j, i)];
      for (int k = 0; k < patch.nz; ++k) (patch.fixed(j, i, k) ? fixed_nodes : free_nodes)++;
    }
  ASSERT_GT(free_nodes, 0u);
  ASSERT_GT(fixed_nodes, free_nodes / 10);
  ASSERT_LT(filled, std::size_t(patch.nx * patch.ny) * 3 / 4);

  const solver::BPProblem problem(patch);
  std::vector<PetscInt> rows, columns;
  problem.hessian_pattern(rows, columns);
  const solver::bp_csr::Pattern sorted =
      solver::bp_csr::make_pattern(PetscInt(patch.size()), rows, columns);

  std::vector<PetscInt> row_start, in_order;
  std::vector<std::uint8_t> offset;
  problem.hessian_csr_pattern(row_start, in_order, offset);
  EXPECT_EQ(row_start, sorted.row_start);
  EXPECT_EQ(in_order, sorted.columns);
  EXPECT_EQ(offset, sorted.offset);
  // Sorted and unique within each row, and every owned dof has its diagonal.
  for (std::size_t r = 0; r + 1 < row_start.size(); ++r) {
    const auto first = in_order.begin() + row_start[r], last = in_order.begin() + row_start[r + 1];
    EXPECT_TRUE(std::adjacent_find(first, last, [](PetscInt a, PetscInt b) { return a >= b; }) ==
                last)
        << "row " << r;
    EXPECT_TRUE(std::binary_search(first, last, PetscInt(r))) << "row " << r;
  }
  // A third or less of the 27-point stencil's entries: ice-free land holds only diagonals.
  EXPECT_LT(in_order.size(), patch.size() * 54 * 2 / 3);
}

TEST(BPCsr, SlotsNamingOneEntryShareItsPosition) {
  // Rows 0..2; slots 1 and 3 both name (1, 2) (a periodic ghost's slot and its
  // owner's), slot 4 is unused.
  const std::vector<PetscInt> rows = {0, 1, 2, 1, 2, 1}, columns = {0, 2, 2, 2, -1, 0};
  const solver::bp_csr::Pattern p = solver::bp_csr::make_pattern(3, rows, columns);
  EXPECT_EQ(p.row_start, (std::vector<PetscInt>{0, 1, 3, 4}));
  EXPECT_EQ(p.columns, (std::vector<PetscInt>{0, 0, 2, 2}));
  // Per slot, the entry's index within its row (entries 0, 2, 3, 2, -, 1).
  const std::uint8_t unused = solver::hessian_unused_slot;
  EXPECT_EQ(p.offset, (std::vector<std::uint8_t>{0, 1, 0, 1, unused, 0}));
  EXPECT_EQ(p.entries, 4u);
}

TEST(BPProblem, GradientAtRestIsTheGradientAtZeroVelocity) {
  const core::Runtime runtime;
  solver::BPProblem problem(ice_cap_patch());
  // A body force too, so that every load term is there (driving stress,
  // front pressure, body force).
  problem.set_body_force(
      [](double x, double y, double z) {
        return std::array<double, 2>{1e-3 * std::sin(1e-4 * x + 1e-3 * z),
                                     2e-3 * std::cos(1e-4 * y)};
      },
      0.0, 0.0);
  const std::size_t n = problem.patch().size();
  std::vector<double> at_zero(n), at_rest(n, 7.0);
  problem.gradient(std::vector<double>(n, 0.0).data(), at_zero.data());
  problem.gradient_at_rest(at_rest.data());
  EXPECT_EQ(at_rest, at_zero);
  // Not trivially: the loads are there, and the front pushes.
  EXPECT_GT(*std::max_element(at_zero.begin(), at_zero.end()), 0.0);
  EXPECT_LT(*std::min_element(at_zero.begin(), at_zero.end()), 0.0);
}
