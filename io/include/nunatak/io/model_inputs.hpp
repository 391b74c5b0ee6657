#pragma once
/// \file model_inputs.hpp
/// Reading a model's inputs (geometry, forcing, observations) as configured.
///
/// Geometry: two of thk, topg, usurf give the third (with floatation, see
/// docs/io.md); or usurf with an ice mask (e.g. a glacier outline), where the
/// thickness stays unknown or, with input.missing_thickness = plastic, is
/// estimated from the surface slope (plastic_thickness.hpp) and topg = usurf -
/// thk. Geometry fields must be complete (no missing cells) and thickness
/// non-negative.
/// Forcing and observations may come from other files on the same grid.
///
/// Every rank reads the (small) input arrays and keeps its own part.

#include "nunatak/core/geometry.hpp"
#include "nunatak/io/config.hpp"
#include "nunatak/io/plastic_thickness.hpp"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace nunatak::io {

/// How a missing thickness was estimated (input.missing_thickness = plastic).
struct ThicknessEstimate {
  PlasticThicknessParams params;
  PlasticThicknessShape shape;          ///< the estimate is plastic_thickness(shape, tau_b)
  double tau_b = 0;                     ///< Pa, basal shear stress used
  bool calibrated = false;              ///< tau_b fitted to radar thickness (else configured)
  std::optional<ThicknessMisfit> radar; ///< against all radar cells on ice, if any
  std::optional<HoldOutCheck> hold_out; ///< when calibrated and holdout_block_size > 0
};

/// Everything read for a model run.
struct ModelInputs {
  std::shared_ptr<const core::ParallelGrid> grid;
  core::Geometry geometry;
  core::Forcing forcing;
  core::Observations observations;
  std::vector<std::string> notes; ///< what was read from where, what was derived
  std::optional<ThicknessEstimate> thickness_estimate; ///< set if the thickness was estimated
};

/// Collective on `comm`: reads the files named by `config` (keys input.*).
/// Throws nunatak::Error naming the file, variable or key on bad input.
ModelInputs read_model_inputs(const Config& config, MPI_Comm comm);

/// Every field present in `inputs`, in a fixed order (geometry, forcing, observations).
std::vector<const core::Field2D*> all_fields(const ModelInputs& inputs);

} // namespace nunatak::io
