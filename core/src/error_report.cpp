#include "nunatak/core/error_report.hpp"

#include "nunatak/core/error.hpp"

#include <mpi.h>

#include <chrono>
#include <cstdlib>
#include <thread>
#include <vector>

namespace nunatak::core {

namespace {

// Reserved tags of the error agreement on MPI_COMM_WORLD.
constexpr int report_tag = 31411;  // failing rank -> rank 0: "I failed"
constexpr int verdict_tag = 31412; // rank 0 -> failing rank: shared (1) or rank-local (0)
constexpr int ack_tag = 31413;     // failing rank -> rank 0: "printed mine"

enum Verdict : int { local = 0, shared = 1 };

/// Polls `requests` until all complete or `seconds` pass; true if all completed.
bool wait_for(std::vector<MPI_Request>& requests, double seconds) {
  const double deadline = MPI_Wtime() + seconds;
  while (true) {
    int done = 0;
    MPI_Testall(int(requests.size()), requests.data(), &done, MPI_STATUSES_IGNORE);
    if (done) return true;
    if (MPI_Wtime() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

/// Writes `line` and a newline in one piece, then flushes: std::cerr writes
/// each `<<` on its own, and Open MPI's abort notice can land between them.
void print_line(std::ostream& out, const std::string& line) {
  out << (line + "\n") << std::flush;
}

/// "PROGRAM: error (rank R of N): MESSAGE".
std::string rank_line(const std::string& program, int rank, int size, const std::string& message) {
  return program + ": error (rank " + std::to_string(rank) + " of " + std::to_string(size) +
         "): " + message;
}

bool wait_for(MPI_Request& request, double seconds) {
  std::vector<MPI_Request> one{request};
  const bool done = wait_for(one, seconds);
  request = one[0];
  return done;
}

[[noreturn]] void abort_after(std::ostream& out, const std::string& program, int rank, int size,
                              const std::string& message) {
  print_line(out, rank_line(program, rank, size, message));
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::abort(); // MPI_Abort does not return
}

} // namespace

int report_error(const std::exception& error, const std::string& program, std::ostream& out,
                 double wait_seconds) {
  const std::string message = error.what();
  int initialised = 0, finalised = 0, rank = 0, size = 1;
  MPI_Initialized(&initialised);
  MPI_Finalized(&finalised);
  if (initialised && !finalised) {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
  }
  if (size == 1 || dynamic_cast<const CollectiveError*>(&error)) {
    if (rank == 0) print_line(out, program + ": error: " + message);
    return 1;
  }

  int report = 1;
  if (rank != 0) {
    MPI_Request sent = MPI_REQUEST_NULL, verdict_request = MPI_REQUEST_NULL;
    int verdict = local;
    MPI_Isend(&report, 1, MPI_INT, 0, report_tag, MPI_COMM_WORLD, &sent);
    MPI_Irecv(&verdict, 1, MPI_INT, 0, verdict_tag, MPI_COMM_WORLD, &verdict_request);
    // Rank 0 decides within wait_seconds if it failed too; else it never answers.
    if (!wait_for(verdict_request, 2.0 * wait_seconds + 5.0))
      abort_after(out, program, rank, size, message);
    MPI_Wait(&sent, MPI_STATUS_IGNORE);
    if (verdict == shared) return 1;
    print_line(out, rank_line(program, rank, size, message));
    MPI_Send(&report, 1, MPI_INT, 0, ack_tag, MPI_COMM_WORLD);
    MPI_Abort(MPI_COMM_WORLD, 1);
    std::abort();
  }

  // Rank 0: did every rank fail?
  std::vector<int> reports(size_t(size), 0);
  std::vector<MPI_Request> requests(size_t(size - 1), MPI_REQUEST_NULL);
  for (int r = 1; r < size; ++r)
    MPI_Irecv(&reports[size_t(r)], 1, MPI_INT, r, report_tag, MPI_COMM_WORLD,
              &requests[size_t(r - 1)]);
  const bool everyone = wait_for(requests, wait_seconds);
  if (everyone) {
    print_line(out, program + ": error: " + message);
    int verdict = shared;
    for (int r = 1; r < size; ++r) MPI_Send(&verdict, 1, MPI_INT, r, verdict_tag, MPI_COMM_WORLD);
    return 1;
  }
  // Rank-local: the ranks that did report print their own message; wait
  // (briefly) until they have, then end every rank.
  print_line(out, rank_line(program, 0, size, message));
  int verdict = local;
  std::vector<int> acks(size_t(size), 0);
  std::vector<MPI_Request> ack_requests;
  for (int r = 1; r < size; ++r) {
    int arrived = 0;
    MPI_Test(&requests[size_t(r - 1)], &arrived, MPI_STATUS_IGNORE);
    if (!arrived) continue;
    MPI_Send(&verdict, 1, MPI_INT, r, verdict_tag, MPI_COMM_WORLD);
    ack_requests.emplace_back();
    MPI_Irecv(&acks[size_t(r)], 1, MPI_INT, r, ack_tag, MPI_COMM_WORLD, &ack_requests.back());
  }
  if (!ack_requests.empty()) wait_for(ack_requests, 5.0);
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::abort();
}

} // namespace nunatak::core
