#pragma once
/// \file configured_patch.hpp
/// The Blatter-Pattyn problem of a whole grounded geometry as configured, as
/// a core::BPPatch (one rank): what the inversion and `nunatak observe` solve.
///
/// - Levels: bp.levels, uniform in sigma. Ice base = surface - thickness
///   (grounded ice; the surface is the observed one).
/// - Hardness B = (E A)^(-1/n) per column: A the column mean of the input's
///   softness field if given, else flow_law.softness / hardness; E =
///   flow_law.enhancement_factor.
/// - Friction: sliding.law = weertman gives the uniform beta^2 = C^(-1/m);
///   none gives no slip, or beta^2 = `beta2_without_law` everywhere when that
///   is positive (the inversion's friction control); pseudo_plastic is refused.
/// - Constants: n, q = 1/sliding.exponent, bp.regularisation,
///   bp.minimum_thickness, rho g, sea level and water density.

#include "nunatak/core/bp_patch.hpp"
#include "nunatak/core/grid.hpp"
#include "nunatak/io/config.hpp"
#include "nunatak/io/model_inputs.hpp"

#include <vector>

namespace nunatak::model {

/// The configured Glen softness A, Pa^-n a^-1: flow_law.softness, or
/// flow_law.hardness^-n when the hardness is positive (without the
/// enhancement factor).
double configured_softness(const io::Config& config);

/// The patch of `thickness` and `surface` ([y][x], m) on `grid` (see the file
/// comment); `softness`, if not null, is the input's softness field on the
/// same grid. Throws nunatak::Error naming the key on a configuration it
/// cannot use.
core::BPPatch configured_bp_patch(const io::Config& config, const core::Grid& grid,
                                  const std::vector<double>& thickness,
                                  const std::vector<double>& surface,
                                  const io::InputLevels* softness, double beta2_without_law);

} // namespace nunatak::model
