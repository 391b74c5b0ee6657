#pragma once
/// \file model_inputs.hpp
/// Reading a model's inputs (geometry, forcing, observations) as configured.
///
/// Geometry: two of thk, topg, usurf give the third (with floatation, see
/// docs/io.md); or usurf with an ice mask (e.g. a glacier outline). Geometry
/// fields must be complete (no missing cells) and thickness non-negative.
/// Forcing and observations may come from other files on the same grid.
///
/// Every rank reads the (small) input arrays and keeps its own part.

#include "nunatak/core/geometry.hpp"
#include "nunatak/io/config.hpp"

#include <memory>
#include <string>
#include <vector>

namespace nunatak::io {

/// Everything read for a model run.
struct ModelInputs {
  std::shared_ptr<const core::ParallelGrid> grid;
  core::Geometry geometry;
  core::Forcing forcing;
  core::Observations observations;
  std::vector<std::string> notes; ///< what was read from where, what was derived
};

/// Collective on `comm`: reads the files named by `config` (keys input.*).
/// Throws nunatak::Error naming the file, variable or key on bad input.
ModelInputs read_model_inputs(const Config& config, MPI_Comm comm);

/// Every field present in `inputs`, in a fixed order (geometry, forcing, observations).
std::vector<const core::Field2D*> all_fields(const ModelInputs& inputs);

} // namespace nunatak::io
