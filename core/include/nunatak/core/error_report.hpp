#pragma once
/// \file error_report.hpp
/// How a program reports the error that ended it, whichever rank raised it
/// (used by `main` of the `nunatak` program).
///
///  - One process (or MPI not running): print "PROGRAM: error: MESSAGE", status 1.
///  - A CollectiveError: every rank has it; rank 0 prints it, every rank
///    returns 1.
///  - Any other error may have been raised on some ranks only. The failing
///    ranks report to rank 0 with point-to-point messages on MPI_COMM_WORLD
///    (a reserved tag: they cannot match a collective call that other ranks
///    are blocked in). If every rank reports within `wait_seconds`, the error
///    is shared: rank 0 prints it once, tells the others, and every rank
///    returns 1. Otherwise the error is rank-local: each failing rank prints
///    "PROGRAM: error (rank R of N): MESSAGE" and the program ends with
///    MPI_Abort(MPI_COMM_WORLD, 1), because the other ranks would wait for the
///    failed one forever (in a collective call) or have finished without it.

#include <exception>
#include <ostream>
#include <string>

namespace nunatak::core {

/// Reports `error` on `out` as above and returns the exit status (1), or
/// does not return (MPI_Abort) for a rank-local error.
int report_error(const std::exception& error, const std::string& program, std::ostream& out,
                 double wait_seconds = 10.0);

} // namespace nunatak::core
