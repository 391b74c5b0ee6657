#pragma once
/// \file model_inputs.hpp
/// A model's inputs as configured: what io reads (io::read_input_arrays),
/// completed by physics where the configuration asks for it, then
/// distributed (io::distribute_inputs).
///
/// Completion: a geometry given only by a surface and an ice mask (a glacier
/// outline) gets its thickness from the plastic estimate when
/// input.missing_thickness = plastic (inversion/plastic_thickness.hpp, keys
/// thickness_estimate.*; calibrated against the radar thickness thkobs by
/// default), and the bed topg = usurf - thk. See docs/aletsch.md.

#include "nunatak/inversion/plastic_thickness.hpp"
#include "nunatak/io/model_inputs.hpp"

#include <optional>
#include <vector>

namespace nunatak::model {

/// The inputs of a model run: io's fields and, if the thickness was
/// estimated, how.
struct ModelInputs : io::ModelInputs {
  std::optional<inversion::ThicknessEstimate> thickness_estimate;
};

/// Collective on `comm`: reads the inputs named by `config` (keys input.*),
/// completes them as configured and distributes them. Throws
/// nunatak::CollectiveError on every rank, naming the file, variable or key,
/// on bad input (also when reading failed on some ranks only).
ModelInputs read_model_inputs(const io::Config& config, MPI_Comm comm);

/// The plastic estimate's options from the keys thickness_estimate.*.
inversion::ThicknessEstimateOptions thickness_estimate_options(const io::Config& config);

/// The observed surface speed (m/s, NaN = none) of `arrays`: |(u, v)| where
/// both components are given, else velsurfobs_mag; nothing if it has neither.
std::optional<std::vector<double>> observed_surface_speed(const io::InputArrays& arrays);

/// The surface mass balance of `arrays` in m/a ice equivalent: its field
/// (through constants.ice.density), or else surface_mass_balance.constant
/// everywhere.
std::vector<double> ice_equivalent_smb(const io::InputArrays& arrays, const io::Config& config);

/// Not collective: estimates the thickness of `arrays` if it has a surface but
/// neither thickness nor bed and input.missing_thickness = plastic (then also
/// sets topg = usurf - thk); returns the estimate, or nothing if none was
/// asked for. Logs a summary when `log` is true.
std::optional<inversion::ThicknessEstimate> complete_thickness(io::InputArrays& arrays,
                                                               const io::Config& config, bool log);

} // namespace nunatak::model
