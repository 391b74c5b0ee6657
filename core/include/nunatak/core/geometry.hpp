#pragma once
/// \file geometry.hpp
/// The model's inputs as fields: ice geometry, climate forcing, observations.
/// A member is empty when the input did not provide it (and it could not be
/// derived); who produces each field is explicit in io::read_inputs.

#include "nunatak/core/field.hpp"

#include <optional>

namespace nunatak::core {

/// Ice geometry. Lengths in m; `mask` uses the PISM cell types
/// (0 ice-free bedrock, 2 grounded ice, 3 floating ice, 4 ice-free ocean).
struct Geometry {
  std::optional<Field2D> thk;   ///< ice thickness
  std::optional<Field2D> topg;  ///< bedrock elevation
  std::optional<Field2D> usurf; ///< ice (or bed, where ice-free) surface elevation
  std::optional<Field2D> mask;  ///< cell type
};

/// Surface forcing.
struct Forcing {
  std::optional<Field2D> climatic_mass_balance; ///< kg m-2 s-1
};

/// Observations for inversion and comparison; NaN where not observed.
struct Observations {
  std::optional<Field2D> uvelsurfobs;    ///< m s-1
  std::optional<Field2D> vvelsurfobs;    ///< m s-1
  std::optional<Field2D> velsurfobs_mag; ///< m s-1
  std::optional<Field2D> thkobs;         ///< m
};

} // namespace nunatak::core
