#pragma once
/// \file front_pressure.hpp
/// The marine-front quadrature that the shared energy (bp_energy.cpp) and
/// the membrane reference's front push (membrane_reference.cpp) both use,
/// so that the two integrate the front exactly as the solver does (internal
/// header).

#include <torch/types.h>

namespace nunatak::emulator::detail {

/// The front pressure p(z) = (s - z) - (rho_w/rho_i) max(z_sl - z, 0)
/// (divided by rho g) integrated over each face against the hat function of
/// each level, [F, 3, nz]: W such that the front term of the energy is
/// -sum W (u, v) . n, with (u, v) . n at the face's 3 points and the levels.
/// `z` [F, 3, nz] the levels' elevations at the points, `s` [F, 3, 1] the
/// surface there, `length` [F] the faces' lengths, `weights` [3] the 3-point
/// Gauss weights along the face, `points` [2] the 2-point Gauss abscissae
/// used on each side of sea level in each layer (the pressure is linear on
/// each side). Differentiable in z and s.
torch::Tensor front_level_weights(const torch::Tensor& z, const torch::Tensor& s,
                                  const torch::Tensor& length, const torch::Tensor& weights,
                                  const torch::Tensor& points, double sea_level,
                                  double water_ratio);

} // namespace nunatak::emulator::detail
