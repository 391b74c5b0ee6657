#pragma once
/// \file model_state.hpp
/// A transient model's state at time 0 with every field zero, for tests
/// that fill in the geometry they need.

#include "nunatak/core/field.hpp"
#include "nunatak/model/transient_model.hpp"

#include <memory>

namespace nunatak::test {

/// thk, topg, usurf, mask and smb zero (metres, no name), time 0, no steps.
inline model::ModelState zero_model_state(std::shared_ptr<const core::ParallelGrid> grid) {
  const core::FieldInfo info{"f", "", "", "m", "m", {}, ""};
  return model::ModelState{core::Field2D(grid, info),
                           core::Field2D(grid, info),
                           core::Field2D(grid, info),
                           core::Field2D(grid, info),
                           core::Field2D(grid, info),
                           0.0,
                           0};
}

} // namespace nunatak::test
