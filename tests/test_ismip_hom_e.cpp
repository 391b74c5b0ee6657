// ISMIP-HOM experiment E (Haut Glacier d'Arolla flowline, Pattyn et al.
// 2008) with the Blatter-Pattyn solver, at 1 and 2 ranks: E1 (no slip)
// converges under refinement to a surface speed of 63.9 m/a at x = 2900 m
// (401 x 4 x 65 nodes: 63.93 m/a; docs/blatter_pattyn.md), E2 slides only on
// its zero-traction zone and is faster there, and a bad profile file is one
// clear error naming the file and line.
#include "nunatak/core/error.hpp"
#include "nunatak/model/ismip_hom.hpp"

#include "test_files.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

using namespace nunatak;

namespace {

std::string arolla_file() {
  return test::shared_data_dir() + "/../reference/arolla100.dat";
}

model::IsmipHomResult run_e(int variant, int nx, int nz) {
  model::IsmipHomCase c;
  c.experiment = 'E';
  c.variant = variant;
  c.nx = nx;
  c.ny = 4;
  c.nz = nz;
  c.profile_file = arolla_file();
  return model::run_ismip_hom(c, MPI_COMM_WORLD);
}

bool on_rank_zero() {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank == 0;
}

double x_of_max(const model::IsmipHomResult& r) {
  size_t k = 0;
  for (size_t i = 0; i < r.vx_surface.size(); ++i)
    if (r.vx_surface[i] > r.vx_surface[k]) k = i;
  return r.x_over_L[k] * r.length;
}

} // namespace

TEST(IsmipHomE, NoSlipConvergesUnderRefinement) {
  const model::IsmipHomResult coarse = run_e(1, 51, 9), fine = run_e(1, 101, 17);
  ASSERT_TRUE(coarse.report.converged);
  EXPECT_DOUBLE_EQ(coarse.length, 5000.0);
  // The converged maximum (401 x 4 x 65 nodes) is 63.93 m/a at x = 2900 m;
  // the differences between grids fall by 4 per refinement (0.40, 0.10, 0.03).
  // max and mean reach every rank, the profile rank 0.
  EXPECT_NEAR(coarse.max, 63.93, 0.8);
  EXPECT_NEAR(fine.max, 63.93, 0.25);
  EXPECT_LT(std::abs(fine.max - 63.93), std::abs(coarse.max - 63.93));
  // The mean over the nodes with ice (31.2 and 31.1 m/a).
  EXPECT_NEAR(coarse.mean, 31.1, 0.5);
  if (!on_rank_zero()) return;
  ASSERT_EQ(coarse.vx_surface.size(), 51u);
  EXPECT_NEAR(x_of_max(coarse), 2900.0, 1.0);
  EXPECT_NEAR(x_of_max(fine), 2900.0, 1.0);
  // Both ends still, and no slip.
  EXPECT_EQ(coarse.vx_surface.front(), 0.0);
  EXPECT_EQ(coarse.vx_surface.back(), 0.0);
  for (double u : coarse.vx_base) EXPECT_EQ(u, 0.0);
}

TEST(IsmipHomE, ZeroTractionZoneSlidesOnlyThere) {
  const model::IsmipHomResult e1 = run_e(1, 51, 9), e2 = run_e(2, 51, 9);
  ASSERT_TRUE(e2.report.converged);
  // On 51 nodes (the profile's own points) the zone's ice moves at 137.9 m/a,
  // more than twice E1's fastest; finer grids narrow the slipping elements
  // around the zone (112.7, 102.4, 97.7 m/a on 101, 201, 401 nodes).
  EXPECT_NEAR(e2.max, 137.9, 3.0);
  EXPECT_GT(e2.max, 2.0 * e1.max);
  if (!on_rank_zero()) return;
  ASSERT_EQ(e2.vx_base.size(), 51u);
  for (size_t i = 0; i < e2.vx_base.size(); ++i) {
    const double x = e2.x_over_L[i] * e2.length;
    if (x >= 2200.0 && x <= 2500.0)
      EXPECT_GT(e2.vx_base[i], 100.0) << "x = " << x;
    else
      EXPECT_EQ(e2.vx_base[i], 0.0) << "x = " << x;
    // Slip speeds up the whole flowline (to 0.01 m/a at the thin head).
    EXPECT_GE(e2.vx_surface[i], e1.vx_surface[i] - 0.01) << "x = " << x;
  }
  EXPECT_NEAR(x_of_max(e2), 2500.0, 1.0);
}

TEST(IsmipHomE, BadProfileIsOneClearError) {
  const test::TempDir dir;
  const auto expect_error = [&](const std::string& text, const std::string& message) {
    const std::string path = dir.file("profile.dat");
    test::write_text(path, text);
    try {
      model::read_arolla_profile(path);
      ADD_FAILURE() << "no error for " << text;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
  };
  expect_error("0 3200 3200 0\n100 3163 nan 0\n", "line 2: expected four numbers");
  expect_error("0 3200 3200 0\n100 3163 3166 0 7\n", "line 2: expected four numbers");
  expect_error("0 3200 3200 0\n100 3163 3166 2\n", "line 2: expected four numbers");
  expect_error("0 3200 3200 0\n\n0 3163 3166 0\n", "line 3: x does not increase");
  expect_error("0 3200 3200 0\n100 3163 3100 0\n", "line 2: the surface lies below the bed");
  expect_error("0 3200 3200 0\n", "fewer than two points");
  try {
    model::read_arolla_profile(dir.file("missing.dat"));
    ADD_FAILURE() << "no error for a missing file";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.dat"), std::string::npos) << e.what();
  }
  // E2 needs a flagged zone.
  const std::string unflagged = dir.file("unflagged.dat");
  test::write_text(unflagged, "0 3200 3200 0\n100 3100 3180 0\n200 3000 3000 0\n");
  model::IsmipHomCase c;
  c.experiment = 'E';
  c.variant = 2;
  c.profile_file = unflagged;
  EXPECT_THROW(model::make_ismip_hom(c, MPI_COMM_WORLD), Error);
}
