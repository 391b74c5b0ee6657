// SIA + mass transport benchmark.
//
//  1. Throughput: the Halfar dome (Bueler test B) on N x N grids for a fixed
//     model time, in cells x steps per second, at whatever MPI size this runs.
//  2. Test B on 61 x 61 and 121 x 121 over 25 000 years (PISM's verification
//     set-up): wall time, steps and thickness errors beside PISM's figures,
//     measured on this kind of machine with one core:
//       pism -test B -Mx 121 -My 121 -Mz 11 -ys 422.45 -y 25000
//
// Usage: nunatak_bench_sia [--quick]    (run by run_sia_benchmark.sh at 1 and 2 ranks)

#include "nunatak/core/runtime.hpp"
#include "nunatak/model/verification.hpp"

#include <fmt/format.h>

#include <cstring>
#include <vector>

int main(int argc, char** argv) {
  nunatak::core::Runtime runtime;
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const bool root = runtime.rank() == 0;
  using nunatak::model::run_verification;
  using nunatak::model::VerificationCase;

  // --- throughput ---
  const std::vector<int> grids =
      quick ? std::vector<int>{61, 121} : std::vector<int>{61, 121, 241, 481};
  if (root)
    fmt::print("SIA + transport throughput, {} MPI rank(s)\n{:>6} {:>10} {:>8} {:>10} {:>18}\n",
               runtime.size(), "grid", "cells", "steps", "wall (s)", "cells*steps/s");
  for (int n : grids) {
    VerificationCase c;
    c.test = 'B';
    c.grid = n;
    // Fixed work per grid: the steps shrink as dx^2, so shorten the run to keep
    // each measurement at a few seconds.
    c.years = 2000.0 * (61.0 / n) * (61.0 / n);
    const auto r = run_verification(c, runtime.comm());
    if (root)
      fmt::print("{:>6} {:>10} {:>8} {:>10.3f} {:>18.4g}\n", n, n * n, r.steps, r.wall_seconds,
                 double(n) * n * r.steps / r.wall_seconds);
  }
  if (quick || runtime.size() > 1) return 0;

  // --- test B against PISM ---
  struct Pism {
    int grid;
    double wall, mean_grid, mean_ice, max;
  };
  const Pism pism[] = {{61, 3.7, 5.37, 9.91, -1.0}, {121, 40.9, 4.25, 8.23, 120.0}};
  fmt::print("\nBueler test B (Halfar dome), 25 000 years, 2400 km domain, 1 rank\n");
  fmt::print("{:>5} {:>9} {:>7} {:>11} {:>11} {:>9} | {:>9} {:>11} {:>11} {:>8} | {:>9}\n", "grid",
             "wall (s)", "steps", "mean grid", "mean ice", "max (m)", "PISM (s)", "PISM grid",
             "PISM ice", "PISM max", "speed-up");
  for (const auto& p : pism) {
    VerificationCase c;
    c.test = 'B';
    c.grid = p.grid;
    const auto r = run_verification(c, runtime.comm());
    fmt::print("{:>5} {:>9.2f} {:>7} {:>11.2f} {:>11.2f} {:>9.1f} | {:>9.1f} {:>11.2f} {:>11.2f} "
               "{:>8} | {:>8.1f}x\n",
               p.grid, r.wall_seconds, r.steps, r.mean_error_grid, r.mean_error_ice, r.max_error,
               p.wall, p.mean_grid, p.mean_ice, p.max > 0 ? fmt::format("{:.0f}", p.max) : "-",
               p.wall / r.wall_seconds);
  }
  fmt::print("(mean errors in m: over the whole grid, PISM's definition, and over cells where "
             "either thickness is positive)\n");
  return 0;
}
