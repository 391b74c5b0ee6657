#pragma once
/// \file inversion_setup.hpp
/// The inversion's problem as configured (keys inversion.* and the physics
/// keys flow_law.*, sliding.*, bp.*; docs/inversion.md): the inputs read by
/// io (surface, outline, observed velocity and radar thickness), the first
/// guess, the Blatter-Pattyn patch of the whole grid and the options.
///
/// - The outline: cells with a thickness of at least bp.minimum_thickness in
///   the geometry (or, without one, the input's ice mask). It is fixed: the
///   thickness stays within [inversion.thickness.min, .max] on it and 0 off it.
/// - The ice is grounded and the surface observed: bed = surface - thickness.
/// - The first guess: the plastic or velocity-scaled estimate
///   (thickness_estimate.*, calibrated on the radar cells the cost uses,
///   never on held-out ones) or the input's thickness
///   (inversion.first_guess_file if given).
/// - Friction: none (no slip) unless sliding.law = weertman (uniform beta^2)
///   or friction is a control (beta^2 = inversion.friction.initial where
///   sliding.law is none).
/// - Softness: the input's softness field's column mean, else flow_law.*.
/// - Radar cells held out (inversion.radar.holdout_block_size > 0): those
///   in the checkerboard's blocks of colour inversion.radar.holdout_parity.
/// - The grid is cropped to the outline's bounding box plus
///   inversion.crop_margin cells (the work scales with the columns).

#include "nunatak/core/bp_patch.hpp"
#include "nunatak/core/grid.hpp"
#include "nunatak/inversion/inversion.hpp"
#include "nunatak/inversion/plastic_thickness.hpp"
#include "nunatak/io/config.hpp"
#include "nunatak/model/inversion_forward.hpp"

#include <optional>
#include <string>
#include <vector>

namespace nunatak::model {

/// An inversion as configured.
struct InversionSetup {
  core::Grid input_grid{1, 1, 1.0, 1.0, 0.0, 0.0}; ///< the geometry's grid
  /// The inversion's grid: the outline's bounding box with inversion.crop_margin
  /// cells around it (the input grid if negative), with the input's grid mapping.
  core::Grid grid{1, 1, 1.0, 1.0, 0.0, 0.0};
  int crop_i0 = 0, crop_j0 = 0;      ///< grid's first cell on the input grid
  std::vector<double> input_surface; ///< the observed surface on the input grid, m
  core::BPPatch first_guess;         ///< whole grid, the first guess's geometry
  inversion::InversionObservations observations;
  inversion::InversionOptions options;
  std::string forward;  ///< inversion.forward
  HybridOptions hybrid; ///< inversion.hybrid.*
  bool ocean_pressure = true;
  /// The estimate, when the first guess is plastic or velocity.
  std::optional<inversion::ThicknessEstimate> plastic;
  std::vector<double> input_thickness; ///< the geometry's thk (a twin's truth), if it has one
  std::vector<std::string> notes;      ///< what was read and derived, for the log

  /// [y][x] values on `grid` pasted into the input grid, `fill` elsewhere.
  std::vector<double> to_input_grid(const std::vector<double>& values, double fill) const;
};

/// Not collective: reads the inputs named by `config` and builds the
/// problem. Throws nunatak::Error naming the file, variable or key on bad
/// input (no surface, no outline, no observation at all, an unknown
/// control, sliding.law = pseudo_plastic, ...).
InversionSetup configure_inversion(const io::Config& config);

} // namespace nunatak::model
