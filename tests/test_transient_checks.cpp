// The transient model checks what it computes (model/transient_model.hpp):
// a thickness that becomes NaN or infinite stops the run with one error on
// every rank naming the step, the time and the first bad cell, whichever rank
// owns it; a state to restore must be finite and non-negative. At 1 and 2
// ranks.
#include "nunatak/core/constants.hpp"
#include "nunatak/core/error.hpp"
#include "nunatak/model/transient_model.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

using namespace nunatak;
using core::Field2D;

namespace {

const double year = core::seconds_per_year;

core::FieldInfo info(const std::string& name, const std::string& units = "m") {
  return core::FieldInfo{name, name, "", units, units, {}, ""};
}

/// A flat slab of 100 m of ice on 8 x 6 cells, with a surface mass balance
/// `smb(t, x, y)` (kg m-2 s-1).
std::unique_ptr<model::TransientModel> slab(model::FormulaForcing::Formula smb) {
  auto grid = core::ParallelGrid::create(MPI_COMM_WORLD, core::Grid(8, 6, 1e3, 1e3, 0.0, 0.0));
  model::ModelState state{Field2D(grid, info("thk"), 100.0),
                          Field2D(grid, info("topg"), 500.0),
                          Field2D(grid, info("usurf")),
                          Field2D(grid, info("mask", "1")),
                          Field2D(grid, info("smb", "kg m-2 s-1")),
                          0.0,
                          0};
  model::ModelParams p;
  p.max_dt = year;
  return std::make_unique<model::TransientModel>(
      solver::make_stress_balance("sia", grid, p.stress),
      std::make_unique<model::FormulaForcing>(std::move(smb)), std::move(state), p);
}

} // namespace

TEST(TransientChecks, NonFiniteThicknessStopsWithTheCell) {
  // NaN from the second step on, in the cell at x = 6 km, y = 4 km: on the
  // last rank at 2 ranks.
  auto model = slab([](double t, double x, double y) {
    return t > 0.5 * year && x == 6000.0 && y == 4000.0 ? std::numeric_limits<double>::quiet_NaN()
                                                        : 0.0;
  });
  model->step(year);
  try {
    model->step(2.0 * year);
    FAIL() << "a NaN thickness went on";
  } catch (const CollectiveError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("the ice thickness became non-finite (NaN or infinite) in 1 cell(s) at step "
                     "2, from year 1 to 2"),
              std::string::npos)
        << m;
    EXPECT_NE(m.find("the first at (i = 6, j = 4; x = 6000 m, y = 4000 m)"), std::string::npos)
        << m;
  }
  EXPECT_EQ(model->state().steps, 1) << "the failed step is not counted";
  EXPECT_EQ(model->state().time, year);
}

TEST(TransientChecks, InfiniteMassBalanceIsCaughtAtTheFirstStep) {
  auto model = slab([](double, double, double) { return std::numeric_limits<double>::infinity(); });
  EXPECT_THROW(model->step(year), CollectiveError);
}

TEST(TransientChecks, RestoredStateMustBeValid) {
  auto model = slab([](double, double, double) { return 0.0; });
  std::vector<double> thk(48, 10.0);
  thk[13] = std::numeric_limits<double>::quiet_NaN();
  try {
    model->restore(thk, year, 3);
    FAIL() << "a NaN state was restored";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nan m at (i = 5, j = 1)"), std::string::npos) << e.what();
  }
  thk[13] = -1.0;
  EXPECT_THROW(model->restore(thk, year, 3), Error);
  thk[13] = 1.0;
  EXPECT_THROW(model->restore(thk, std::numeric_limits<double>::infinity(), 3), Error);
  model->restore(thk, year, 3);
  EXPECT_EQ(model->state().steps, 3);
}
