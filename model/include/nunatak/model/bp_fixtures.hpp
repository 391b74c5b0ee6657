#pragma once
/// \file bp_fixtures.hpp
/// Exporting the Blatter-Pattyn solver's discrete problem as NetCDF fixtures
/// (io/bp_fixture.hpp): each rank's patch with the current velocity, the
/// patch's energy and its patch-local gradient, so that another
/// implementation of the energy (the LibTorch one, a user's own) can be
/// checked against the solver without PETSc. `nunatak ismip-hom --bp-fixture`
/// and `nunatak solve --bp-fixture` use it.

#include "nunatak/solver/blatter_pattyn.hpp"

#include <string>

namespace nunatak::model {

/// The file of rank `rank` of `size`: `path` itself on one rank, else
/// `path` with ".rankR" before its extension (out.nc -> out.rank1.nc).
std::string bp_fixture_path(const std::string& path, int rank, int size);

/// Collective: every rank writes its patch at the solver's current solution
/// to bp_fixture_path(path, rank, size). Returns this rank's file.
std::string write_bp_fixtures(const solver::BlatterPattyn& bp, const std::string& path,
                              const std::string& description);

} // namespace nunatak::model
