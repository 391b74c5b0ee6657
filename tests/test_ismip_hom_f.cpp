// ISMIP-HOM experiment F (Pattyn et al. 2008): the prognostic run with the
// Blatter-Pattyn stress balance reaches a steady surface over the bump,
// conserves the ice volume (SMB 0, periodic), and flows as the inclined slab
// does far from the bump (n = 1: surface speed A rho g sin(3 deg) H0^2 =
// 100 m/a without sliding, twice that with F2's beta^2 = 1/(A H0)). At 1 and
// 2 ranks, on a coarse 20 x 20 x 5 grid (dx = 5 km).
#include "nunatak/core/error.hpp"
#include "nunatak/model/ismip_hom.hpp"

#include <gtest/gtest.h>

#include <mpi.h>

#include <algorithm>
#include <cmath>

using namespace nunatak;

namespace {

model::IsmipHomFResult run_f(int variant) {
  model::IsmipHomFCase c;
  c.variant = variant;
  c.nx = c.ny = 20;
  c.nz = 5;
  c.max_years = 3000.0;
  c.max_dt_years = 5.0;
  return model::run_ismip_hom_f(c, MPI_COMM_WORLD);
}

bool on_rank_zero() {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank == 0;
}

} // namespace

TEST(IsmipHomF, ReachesASteadySurfaceOverTheBump) {
  const model::IsmipHomFResult f1 = run_f(1), f2 = run_f(2);
  for (const auto* r : {&f1, &f2}) {
    EXPECT_TRUE(r->steady) << "max |dH/dt| " << r->final_rate << " m/a";
    EXPECT_LT(r->final_rate, 1e-3);
    EXPECT_LT(std::abs(r->volume_drift), 1e-12);
  }
  // F1 settles in 865 years, F2 (faster ice) in 420.
  EXPECT_NEAR(f1.years, 865.0, 50.0);
  EXPECT_NEAR(f2.years, 420.0, 50.0);
  // The steady surface rises over the bump and dips behind it (F1: +40.5 and
  // -18.7 m here, +41.0 and -18.5 m on 40 x 40 x 9 nodes); sliding lowers
  // the rise (F2: +35.3 m).
  EXPECT_NEAR(f1.surface_max, 40.5, 1.5);
  EXPECT_NEAR(f1.surface_min, -18.7, 1.5);
  EXPECT_NEAR(f2.surface_max, 35.3, 1.5);
  EXPECT_LT(f2.surface_max, f1.surface_max - 3.0);
  // The slab's speed far from the bump: 100 m/a (F1), 200 m/a (F2), less the
  // thinner ice there (the surface sits 7-8 m below its start).
  EXPECT_GT(f1.vx_max, 95.0);
  EXPECT_LT(f1.vx_max, 100.0);
  EXPECT_GT(f2.vx_max, 190.0);
  EXPECT_LT(f2.vx_max, 200.0);
  if (!on_rank_zero()) return;
  ASSERT_EQ(f1.x.size(), 20u);
  // The rise sits just upstream of the bump's centre (x = -5 km), the dip downstream.
  const auto peak = std::max_element(f1.surface.begin(), f1.surface.end()) - f1.surface.begin();
  const auto dip = std::min_element(f1.surface.begin(), f1.surface.end()) - f1.surface.begin();
  EXPECT_NEAR(f1.x[size_t(peak)], -5000.0, 1.0);
  EXPECT_GT(f1.x[size_t(dip)], 5000.0);
}

TEST(IsmipHomF, BadSettingsAreErrors) {
  model::IsmipHomFCase c;
  c.variant = 3;
  EXPECT_THROW(model::run_ismip_hom_f(c, MPI_COMM_WORLD), Error);
  c.variant = 1;
  c.max_dt_years = 0.0;
  EXPECT_THROW(model::run_ismip_hom_f(c, MPI_COMM_WORLD), Error);
}
