// Timing of the Blatter-Pattyn solver's element loops (solver::BPProblem, the
// Kokkos kernels behind every residual and Jacobian of a Newton solve) on
// ISMIP-HOM A's geometry, no slip and with sliding (a benchmark, not a test):
//   bp_kernel_timing [nx ny nz [repetitions]]
// prints, per evaluation, the fastest wall time over the repetitions of: the
// Jacobian's CSR pattern (sorted from the Hessian's slots, and built in
// order: what a transient run redoes whenever the ice mask changes); the
// residual (energy gradient) and the residual at rest (its loads alone: the
// solver's absolute tolerance); the Jacobian summed into CSR storage (what
// every Newton step assembles); the stress-velocity Newton's dual update and
// its Jacobian. In ms and in ns per element, with the ratio Jacobian / residual.
#include "ismip_a_patch.hpp"

#include "bp_csr.hpp"
#include "nunatak/core/runtime.hpp"
#include "nunatak/solver/bp_problem.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

namespace {

using namespace nunatak;

/// Fastest wall time (s) of `work` over `repetitions` calls after one
/// warm-up call: the machine may be shared, and the fastest call is the one
/// least disturbed.
double seconds_per_call(int repetitions, const std::function<void()>& work) {
  work();
  double fastest = 1e300;
  for (int r = 0; r < repetitions; ++r) {
    const auto start = std::chrono::steady_clock::now();
    work();
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    fastest = std::min(fastest, elapsed.count());
  }
  return fastest;
}

/// A velocity field with shear in every direction (m/a), so that no strain
/// rate vanishes: u grows with height and varies along x and y, v is smaller.
std::vector<double> sheared_velocity(const core::BPPatch& p) {
  std::vector<double> x(p.size());
  for (int j = 0; j < p.ny; ++j)
    for (int i = 0; i < p.nx; ++i)
      for (int k = 0; k < p.nz; ++k) {
        const double z = double(k) / (p.nz - 1), s = std::sin(0.3 * i) * std::cos(0.2 * j);
        const std::size_t n = p.node(j, i, k) * 2;
        x[n] = 10.0 + 30.0 * z * z + 5.0 * s;
        x[n + 1] = 2.0 * s * (1.0 + z);
      }
  return x;
}

void time_case(const char* name, const core::BPPatch& patch, int repetitions) {
  solver::BPProblem problem(patch);
  const std::vector<double> x = sheared_velocity(patch), x_next(x.size(), 1.0);
  std::vector<double> g(x.size());
  std::vector<long> rows, columns;
  problem.hessian_pattern(rows, columns);
  const auto pattern = solver::bp_csr::make_pattern(
      PetscInt(patch.size()), {rows.begin(), rows.end()}, {columns.begin(), columns.end()});
  std::vector<double> values(pattern.entries);
  // One rank, not periodic: box dofs are matrix rows.
  const std::vector<std::int32_t> row_base(pattern.row_start.begin(), pattern.row_start.end() - 1);
  std::size_t elements = 0;
  for (int j = patch.ey0; j < patch.ey1; ++j)
    for (int i = patch.ex0; i < patch.ex1; ++i)
      if (patch.element_filled[patch.column(j, i)]) elements += std::size_t(patch.nz - 1);

  const double sorted_pattern = seconds_per_call(repetitions, [&] {
    std::vector<long> r, c;
    problem.hessian_pattern(r, c);
    solver::bp_csr::make_pattern(PetscInt(patch.size()), {r.begin(), r.end()},
                                 {c.begin(), c.end()});
  });
  const double in_order_pattern = seconds_per_call(repetitions, [&] {
    std::vector<PetscInt> row_start, cols;
    std::vector<std::uint8_t> offset;
    problem.hessian_csr_pattern(row_start, cols, offset);
  });
  const double residual =
      seconds_per_call(repetitions, [&] { problem.gradient(x.data(), g.data()); });
  const double at_rest = seconds_per_call(repetitions, [&] { problem.gradient_at_rest(g.data()); });
  const auto jacobian = [&] {
    problem.hessian_compressed(x.data(), row_base.data(), pattern.offset.data(), values.data(),
                               pattern.entries);
  };
  const double newton = seconds_per_call(repetitions, jacobian);
  problem.start_dual_stress();
  const double dual = seconds_per_call(
      repetitions, [&] { problem.update_dual_stress(x.data(), x_next.data(), 0.5); });
  const double dual_newton = seconds_per_call(repetitions, jacobian);
  problem.clear_dual_stress();

  const auto line = [&](const char* what, double seconds) {
    std::printf("  %-34s %8.2f ms  %6.0f ns/element\n", what, 1e3 * seconds,
                1e9 * seconds / double(elements));
  };
  std::printf("%s: %zu elements, %zu Jacobian entries\n", name, elements, pattern.entries);
  line("Jacobian pattern (slots, sorted)", sorted_pattern);
  line("Jacobian pattern (in order)", in_order_pattern);
  line("residual (energy gradient)", residual);
  line("residual at rest (the loads)", at_rest);
  line("Jacobian (Newton, CSR)", newton);
  line("dual-stress update", dual);
  line("Jacobian (stress-velocity Newton)", dual_newton);
  std::printf("  Jacobian / residual: %.2f (Newton), %.2f (stress-velocity)\n", newton / residual,
              dual_newton / residual);
}

} // namespace

int main(int argc, char** argv) {
  core::Runtime runtime;
  const int n = argc > 3 ? std::atoi(argv[1]) : 64, ny = argc > 3 ? std::atoi(argv[2]) : 64,
            nz = argc > 3 ? std::atoi(argv[3]) : 17,
            repetitions = argc > 4 ? std::atoi(argv[4]) : 10;
  std::printf("bp element loops, %d x %d x %d nodes, fastest of %d repetitions\n", n, ny, nz,
              repetitions);
  const core::BPPatch no_slip = bench::ismip_a_patch(n, ny, nz);
  time_case("ISMIP-HOM A geometry, no slip", no_slip, repetitions);
  // The same geometry sliding on a linear law (beta^2 = 1000 Pa a/m): the
  // bed integrals run too, as on Greenland.
  const std::vector<double> beta2(std::size_t(n) * ny, 1000.0);
  std::vector<double> hardness(no_slip.hardness.begin(), no_slip.hardness.end());
  const core::BPPatch sliding =
      core::make_bp_patch(n, ny, no_slip.dx, no_slip.dy, no_slip.sigma, no_slip.thickness,
                          no_slip.bed, beta2, hardness, core::BPConstants{}, true, false);
  time_case("ISMIP-HOM A geometry, sliding", sliding, repetitions);
  return 0;
}
