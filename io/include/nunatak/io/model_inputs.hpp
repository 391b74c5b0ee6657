#pragma once
/// \file model_inputs.hpp
/// Reading a model's inputs (geometry, forcing, observations) as configured,
/// in two steps: `read_input_arrays` reads whole-grid host arrays and derives
/// what the floatation rule gives; `distribute_inputs` makes the fields of
/// the rank's part. Between the two, the model layer may complete the arrays
/// (model::read_model_inputs estimates a missing thickness, keys
/// input.missing_thickness and thickness_estimate.*): that is physics, not I/O.
///
/// Geometry: two of thk, topg, usurf give the third (with floatation, see
/// docs/io.md); or usurf with an ice mask (e.g. a glacier outline), where the
/// thickness stays unknown unless the model layer estimates it. Geometry
/// fields must be complete (no missing cells) and thickness non-negative
/// (round-off negatives, down to -max(1e-6 m, 1e-6 x the largest thickness),
/// become 0). All three given are checked against the floatation rule: where
/// it calls the ice grounded but the surface is not bed + thickness (a
/// subglacial lake), the bed becomes usurf - thk so that the model keeps the
/// given surface; every disagreement beyond 1 m is reported (InputArrays::log).
/// Forcing and observations may come from other files on the same grid.
/// Basal and flow-law fields come from the geometry file: the till yield
/// stress `tauc` (Pa, complete, >= 0) when sliding.law = pseudo_plastic, and
/// the ice softness `softness` (or Yelmo's `ATT`), 2-D or on sigma levels,
/// positive and finite in every cell, when present.
///
/// Every rank reads the (small) input arrays and keeps its own part.

#include "nunatak/core/field3d.hpp"
#include "nunatak/core/floatation.hpp"
#include "nunatak/core/geometry.hpp"
#include "nunatak/io/config.hpp"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace nunatak::io {

/// One quantity as read: the whole grid, row-major [y][x], SI units, NaN where
/// there are no data.
struct InputArray {
  std::string variable; ///< variable name in `file` (the quantity's name if derived)
  std::string file;     ///< where it was read, or "derived"
  std::vector<double> values;
  /// "'variable' in 'file'", for messages.
  std::string describe() const { return "'" + variable + "' in '" + file + "'"; }
};

/// One quantity on sigma levels as read: the whole grid, [y][x][z] (z
/// fastest), SI units.
struct InputLevels {
  std::string variable, file;
  std::vector<double> sigma; ///< levels from 0 (base) to 1 (surface), at least 2
  std::vector<double> values;
  std::string level_dimension; ///< the file's level dimension; "" for a 2-D field
  std::string describe() const { return "'" + variable + "' in '" + file + "'"; }
};

/// A line for the log about the inputs: a warning, or information (e.g. how
/// many round-off negatives were set to 0). Returned rather than logged so
/// that one rank logs it (model::read_model_inputs).
struct InputMessage {
  bool warning = false;
  std::string text;
};

/// Every input as whole-grid arrays, before distribution.
struct InputArrays {
  core::Grid grid{1, 1, 1.0, 1.0, 0.0, 0.0};
  std::string geometry_file;
  std::string observations_file; ///< where observations were looked for (may be geometry_file)
  std::optional<InputArray> thk, topg, usurf;
  /// The input's ice mask as PISM cell types (IGM 0/1, BedMachine/Yelmo and
  /// PISM conventions are converted); read only when thk and topg are not both
  /// known, and used as the mask only then.
  std::optional<InputArray> ice_mask;
  std::optional<InputArray> climatic_mass_balance;
  std::optional<InputArray> uvelsurfobs, vvelsurfobs, velsurfobs_mag, thkobs;
  /// Observed rate of thickness change dh/dt (m s-1; NaN where unknown).
  std::optional<InputArray> dhdt;
  /// Till yield stress (Pa, PISM's tauc), from the geometry file, read only
  /// with sliding.law = pseudo_plastic.
  std::optional<InputArray> tauc;
  /// Ice softness A (Pa-n s-1) from the geometry file, when it has one: a 2-D
  /// field becomes two equal levels, sigma = 0 and 1.
  std::optional<InputLevels> softness;
  std::vector<std::string> notes; ///< what was read from where, what was derived
  std::vector<InputMessage> log;  ///< what the log should say about the inputs
};

/// Everything read for a model run: the rank's part of each field.
struct ModelInputs {
  std::shared_ptr<const core::ParallelGrid> grid;
  core::Geometry geometry;
  core::Forcing forcing;
  core::Observations observations;
  std::optional<core::Field2D> tauc;     ///< till yield stress, Pa (sliding.law = pseudo_plastic)
  std::optional<core::Field3D> softness; ///< ice softness A, Pa-n s-1, on its sigma levels
  std::vector<std::string> notes;        ///< what was read from where, what was derived
};

/// Not collective: reads the files named by `config` (keys input.*) into
/// whole-grid arrays and derives the geometry that two of thk, topg, usurf
/// give. Throws nunatak::Error naming the file, variable or key on bad input.
InputArrays read_input_arrays(const Config& config);

/// Not collective: keeps the box of nx x ny cells from cell (i0, j0) of
/// every array of `in` and of its grid (with the grid mapping). Throws
/// nunatak::Error if the box leaves the grid. input.region uses it; so does
/// the inversion, on the outline's bounding box.
void crop_input_arrays(InputArrays& in, int i0, int j0, int nx, int ny);

/// Collective on `comm`: the grid and the rank's part of every array, and the
/// mask (derived from thk and topg with the floatation rule when both are
/// known, else the input's ice mask, if any).
ModelInputs distribute_inputs(const InputArrays& arrays, const Config& config, MPI_Comm comm);

/// The floatation rule as configured (constants.ice.density,
/// constants.sea_water.density, geometry.sea_level, geometry.minimum_thickness).
core::Floatation configured_floatation(const Config& config);

/// Every 2-D field present in `inputs`, in a fixed order (geometry, forcing,
/// observations, tauc).
std::vector<const core::Field2D*> all_fields(const ModelInputs& inputs);

} // namespace nunatak::io
