#pragma once
/// \file collective.hpp
/// Errors raised on some ranks only, before a collective call, made errors on
/// every rank.
///
/// Each rank reading its inputs, validating its part of a field or checking a
/// restart file may fail where the others do not (a file that one node cannot
/// see, a bad value in one rank's cells). If that rank throws while the others
/// go on into a collective call (a ghost update, a reduction, a PETSc solve),
/// the others wait for it forever. `collective(comm, work)` runs `work` on
/// every rank and then agrees on the outcome: if `work` threw anywhere, every
/// rank throws the same CollectiveError, whose message is that of the lowest
/// failing rank (sent by broadcast), naming that rank when not every rank
/// failed ("... (on rank 1 of 4)").
///
/// `work` must be local: if it calls collectives itself, a rank that throws
/// before one of them leaves the others waiting inside `work`.

#include "nunatak/core/error.hpp"

#include <mpi.h>

#include <functional>

namespace nunatak::core {

/// Collective on `comm`: runs `work`; if it throws (a std::exception, or
/// anything else) on any rank, throws CollectiveError on every rank.
void collective(MPI_Comm comm, const std::function<void()>& work);

} // namespace nunatak::core
