// Uses nunatak as an installed library: Bueler's test B with the SIA on a
// 31 x 31 grid, printing the error that `nunatak verify --test B --grid 31`
// reports. Exit code 0 only if the error is the expected one.
#include "nunatak/core/runtime.hpp"
#include "nunatak/model/verification.hpp"

#include <cmath>
#include <cstdio>

int main() {
  nunatak::core::Runtime runtime;
  nunatak::model::VerificationCase c;
  c.test = 'B';
  c.grid = 31;
  const nunatak::model::VerificationResult r = nunatak::model::run_verification(c, runtime.comm());
  std::printf("test B, 31 x 31: mean thickness error over the grid %.2f m\n", r.mean_error_grid);
  return std::abs(r.mean_error_grid - 9.47) < 0.05 ? 0 : 1;
}
