// Errors raised on some ranks only become errors on every rank
// (core/collective.hpp), at 1 and 2 ranks: the message of the lowest failing
// rank, naming it, and no hang. Then where io and model use it: inputs that
// one rank cannot read, a checkpoint that one rank cannot read.
#include "nunatak/core/collective.hpp"
#include "nunatak/core/error.hpp"
#include "nunatak/io/checkpoint.hpp"
#include "nunatak/io/output_file.hpp"
#include "nunatak/model/model_inputs.hpp"
#include "nunatak/model/simulation.hpp"
#include "test_files.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

using namespace nunatak;
using test::TempDir;
using test::TestFile;

namespace {

int rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}
int size() {
  int s = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &s);
  return s;
}
bool last_rank() {
  return rank() == size() - 1;
}

/// " (on rank R of N)" when only rank R of several failed, "" at one rank.
std::string on_last_rank() {
  if (size() == 1) return "";
  return " (on rank " + std::to_string(size() - 1) + " of " + std::to_string(size()) + ")";
}

/// Runs `f`, expecting a CollectiveError; returns it.
template <class F>
CollectiveError expect_collective_error(F&& f) {
  try {
    f();
  } catch (const CollectiveError& e) {
    return e;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not a CollectiveError: " << e.what();
    return CollectiveError(e.what(), -1);
  }
  ADD_FAILURE() << "no error";
  return CollectiveError("", -1);
}

/// Evaluates `text` once (it may be a collective call) and checks that it contains `part`.
} // namespace

TEST(Collective, NoErrorNoThrow) {
  int calls = 0;
  EXPECT_NO_THROW(core::collective(MPI_COMM_WORLD, [&] { ++calls; }));
  EXPECT_EQ(calls, 1);
}

TEST(Collective, ErrorOnOneRankIsRaisedOnEveryRank) {
  const CollectiveError e = expect_collective_error([] {
    core::collective(MPI_COMM_WORLD, [] {
      if (last_rank()) throw Error("thk is negative at (i = 3, j = 4)");
    });
  });
  EXPECT_EQ(std::string(e.what()), "thk is negative at (i = 3, j = 4)" + on_last_rank());
  EXPECT_EQ(e.origin_rank(), size() - 1);
}

TEST(Collective, LowestFailingRankGivesTheMessage) {
  // Every rank fails with its own message: rank 0's is kept, unchanged.
  const CollectiveError e = expect_collective_error([] {
    core::collective(MPI_COMM_WORLD,
                     [] { throw Error("failure number " + std::to_string(rank() + 1)); });
  });
  EXPECT_EQ(std::string(e.what()), "failure number 1");
  EXPECT_EQ(e.origin_rank(), 0);
}

TEST(Collective, AnyExceptionCounts) {
  const CollectiveError e = expect_collective_error([] {
    core::collective(MPI_COMM_WORLD, [] {
      if (last_rank()) throw std::out_of_range("vector::at");
    });
  });
  EXPECT_EQ(std::string(e.what()), "vector::at" + on_last_rank());
  const CollectiveError other = expect_collective_error([] {
    core::collective(MPI_COMM_WORLD, [] {
      if (last_rank()) throw 42;
    });
  });
  EXPECT_CONTAINS(other.what(), "unknown error");
}

TEST(Collective, RankZeroWorkErrorsAreCollective) {
  const CollectiveError e = expect_collective_error(
      [] { io::on_rank_zero(MPI_COMM_WORLD, [] { throw Error("cannot write 'out.nc'"); }); });
  EXPECT_EQ(std::string(e.what()), "cannot write 'out.nc'");
  EXPECT_EQ(e.origin_rank(), 0);
}

namespace {

void write_geometry(const std::string& path) {
  TestFile f = test::grid_file(6, 5, 1000.0, 1000.0);
  test::add_field(f, "thk", "m", [](int i, int) { return i < 4 ? 100.0 : 0.0; });
  test::add_field(f, "topg", "m", [](int i, int j) { return 500.0 - 10.0 * i + j; });
  test::write_test_file(path, f);
}

io::Config run_config(const std::string& geometry, const std::string& output) {
  io::Config c;
  c.set("input.geometry.file", "'" + geometry + "'", "test");
  c.set("output.file", "'" + output + "'", "test");
  c.set_override("time.end=10");
  return c;
}

} // namespace

// A geometry file that the last rank cannot see (as on a node without the
// file system): every rank gets the same error and none waits for the others.
TEST(Collective, InputsUnreadableOnOneRank) {
  TempDir dir; // one per rank
  write_geometry(dir.file("g.nc"));
  const std::string path = last_rank() ? dir.file("not_here.nc") : dir.file("g.nc");
  const CollectiveError e = expect_collective_error(
      [&] { model::read_model_inputs(run_config(path, dir.file("o.nc")), MPI_COMM_WORLD); });
  EXPECT_CONTAINS(e.what(), "not_here.nc' does not exist");
  EXPECT_CONTAINS(e.what(), on_last_rank());
  EXPECT_EQ(e.origin_rank(), size() - 1);
  // And the ranks go on together.
  const model::ModelInputs in =
      model::read_model_inputs(run_config(dir.file("g.nc"), dir.file("o.nc")), MPI_COMM_WORLD);
  EXPECT_DOUBLE_EQ(in.grid->max(*in.geometry.thk), 100.0);
}

// A checkpoint that the last rank cannot read: restart_from fails on every
// rank before the ghost exchange of the restored thickness.
TEST(Collective, CheckpointUnreadableOnOneRank) {
  TempDir dir;
  write_geometry(dir.file("g.nc"));
  const io::Config config = run_config(dir.file("g.nc"), dir.file("o.nc"));
  model::Simulation simulation(config, MPI_COMM_WORLD, "test");
  io::Checkpoint c;
  c.time = 5.0 * core::seconds_per_year;
  c.steps = 3;
  c.thk.assign(30, 50.0);
  io::write_checkpoint(dir.file("ck.nc"), core::Grid(6, 5, 1000.0, 1000.0, 0.0, 0.0), c, {});
  const std::string path = last_rank() ? dir.file("missing_ck.nc") : dir.file("ck.nc");
  const CollectiveError e = expect_collective_error([&] { simulation.restart_from(path); });
  EXPECT_CONTAINS(e.what(), "missing_ck.nc");
  EXPECT_CONTAINS(e.what(), on_last_rank());
  // A checkpoint of another grid is refused, naming both sizes.
  io::Checkpoint wrong = c;
  wrong.thk.assign(12, 50.0);
  io::write_checkpoint(dir.file("wrong.nc"), core::Grid(4, 3, 1000.0, 1000.0, 0.0, 0.0), wrong, {});
  EXPECT_CONTAINS(
      expect_collective_error([&] { simulation.restart_from(dir.file("wrong.nc")); }).what(),
      "has 12 cells, the grid 30");
  // The readable checkpoint restores on every rank.
  simulation.restart_from(dir.file("ck.nc"));
  EXPECT_EQ(simulation.model().state().time, c.time);
  EXPECT_EQ(simulation.model().state().steps, 3);
  EXPECT_DOUBLE_EQ(simulation.model().volume(), 30.0 * 50.0 * 1e6); // 6 x 5 cells of 1 km2
}
