#pragma once
/// \file plastic_thickness.hpp
/// A first estimate of ice thickness from the surface alone: perfect
/// plasticity (a constant basal shear stress), for glaciers whose input has a
/// surface and an outline but no thickness (Aletsch). It uses no velocity, so
/// a comparison of modelled and observed speeds on it is not circular, and it
/// is the inversion's first guess. See docs/aletsch.md.
///
/// Away from the outline the basal shear stress tau_b balances the driving
/// stress of a valley glacier with shape factor f (Nye 1965; Paterson's
/// "perfect plasticity", as in Haeberli and Hoelzle 1995, Linsbauer et al. 2012):
///
///     tau_b = f rho g H |grad s|   =>   H_slope = tau_b / (rho g f max(|grad s|, slope_min))
///
/// with |grad s| the surface slope averaged over a few ice thicknesses: a
/// Gaussian of standard deviation `smoothing_length`, a normalised convolution
/// over ice cells only (so rock walls beside the glacier do not enter), of the
/// gradient vector from centred differences between ice cells.
///
/// Near the outline the thickness tapers to zero over `taper_length` L like
/// the side of a parabolic valley cross-section:
///
///     H = H_slope t(d / L),   t(x) = x (2 - x) for x < 1, 1 beyond,
///
/// where d is the distance from the cell centre to the outline (the Euclidean
/// distance to the nearest ice-free cell centre minus half a cell; outside
/// the domain counts as ice-free). H = 0 off the ice mask. (Nye's plastic
/// margin profile on a flat bed, H = sqrt(2 tau_b d / (rho g f)), was tried
/// first: it is far too thin near the steep sides of a valley glacier; on
/// Aletsch it limited 499 of the 544 radar cells and pushed the fitted tau_b
/// to 390 kPa; docs/aletsch.md.)
///
/// H is proportional to tau_b: H = tau_b c per cell, with c fixed by the
/// surface and the outline (`PlasticThicknessShape`), so the least-squares
/// tau_b against radar thickness has a closed form,
/// tau_b = sum c H_obs / sum c^2. Only tau_b / f is determined by the data:
/// f fixes how a fitted tau_b is to be read, not the estimate.
///
/// **Velocity-scaled variant** (`thickness_estimate.method: velocity`). Where
/// the surface speed u_s is observed, the shallow-ice relation of a column
/// that deforms (u_s = 2 A / (n+1) tau_d^n H with tau_d = rho g f H |grad s|)
/// gives
///
///     H = K ((n+1) u / (2 A))^(1/(n+1)) c_p^(n/(n+1)),
///     c_p = t(d/L) / (rho g f max(|grad s|, slope_min)),
///
/// with u the observed speed averaged by the same Gaussian as the slope (over
/// ice cells with an observation; at least `minimum_speed`), A the softness
/// and n Glen's exponent. K = 1 is that law with softness A and no sliding;
/// the least-squares K against radar (the same closed form as tau_b) absorbs
/// a uniform sliding fraction and the error of A: A_eff = A / K^(n+1). Ice
/// cells without an observed speed within the Gaussian's reach take the mean
/// averaged speed of the others. Like the plastic estimate this is a scale
/// times a fixed field, so one number is fitted; it puts the thickness where
/// the ice moves fast (trunks thicker, slow margins thinner), which the
/// slope alone cannot.
///
/// All arrays are whole grids, row-major [y][x], SI units; the functions are
/// pure (no I/O, no configuration). `model::read_model_inputs` calls
/// `estimate_thickness` as configured (input.missing_thickness = plastic, keys
/// thickness_estimate.*).

#include "nunatak/core/grid.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace nunatak::inversion {

/// Parameters of the plastic thickness estimate.
struct PlasticThicknessParams {
  double ice_density = 910.0;      ///< kg m-3
  double gravity = 9.81;           ///< m s-2
  double shape_factor = 0.8;       ///< f in tau_b = f rho g H |grad s| (1: ice sheet)
  double minimum_slope = 0.02;     ///< slope_min (dimensionless), caps H in flat parts
  double smoothing_length = 400.0; ///< m, Gaussian standard deviation; 0: no smoothing
  double taper_length = 1000.0;    ///< m, L of the margin taper; 0: no taper
};

/// What fixes the estimate besides tau_b: H = tau_b c on ice.
struct PlasticThicknessShape {
  std::vector<std::uint8_t> ice;     ///< 1 on ice cells
  std::vector<double> slope;         ///< smoothed surface slope |grad s| (ice; 0 elsewhere)
  std::vector<double> edge_distance; ///< m, distance d to the outline (ice; 0 elsewhere)
  std::vector<double> c; ///< m Pa-1: t(d / L) / (rho g f max(slope, slope_min)); 0 off ice
};

/// The surface-and-outline part of the estimate. `usurf` is the surface
/// elevation (m) everywhere, `ice` 1 on ice cells. Throws nunatak::Error if
/// the sizes do not match the grid or there is no ice.
PlasticThicknessShape plastic_thickness_shape(const core::Grid& grid,
                                              const std::vector<double>& usurf,
                                              const std::vector<std::uint8_t>& ice,
                                              const PlasticThicknessParams& params);

/// The thickness (m) for basal shear stress `tau_b` (Pa).
std::vector<double> plastic_thickness(const PlasticThicknessShape& shape, double tau_b);

/// Misfit of an estimate against observed thickness on the selected cells.
struct ThicknessMisfit {
  long long cells = 0;
  double rms = 0;           ///< m, sqrt(mean (H - H_obs)^2)
  double bias = 0;          ///< m, mean (H - H_obs)
  double mean_observed = 0; ///< m
};

/// Misfit of `thk` against `thkobs` on cells where `use` is 1 (and thkobs is not NaN).
ThicknessMisfit thickness_misfit(const std::vector<double>& thk, const std::vector<double>& thkobs,
                                 const std::vector<std::uint8_t>& use);

/// Result of calibrating tau_b against radar thickness.
struct BasalStressCalibration {
  double tau_b = 0; ///< Pa, the least-squares value
  ThicknessMisfit misfit;
};

/// Least-squares tau_b: minimises sum (tau_b c - H_obs)^2 over ice cells with
/// `use` = 1 and an observation (NaN = none). Throws nunatak::Error if no such
/// cell exists.
BasalStressCalibration calibrate_basal_shear_stress(const PlasticThicknessShape& shape,
                                                    const std::vector<double>& thkobs,
                                                    const std::vector<std::uint8_t>& use);

/// A hold-out check: radar cells split into a checkerboard of square blocks
/// of side `block_size` (m) (nearby cells of one profile are correlated, so a
/// cell-by-cell split would flatter the estimate). tau_b is calibrated on the
/// "black" blocks and tested on the "white" ones, and the other way round.
struct HoldOutCheck {
  BasalStressCalibration fit[2]; ///< calibration on each half (misfit: on that half)
  ThicknessMisfit test[2];       ///< the other half, with that tau_b
};

/// Throws nunatak::Error if one half has no radar cell on ice.
HoldOutCheck hold_out_check(const core::Grid& grid, const PlasticThicknessShape& shape,
                            const std::vector<double>& thkobs, double block_size);

/// The velocity-scaled variant of an estimate (see the file comment).
struct VelocityScaling {
  double glen_exponent = 3.0;  ///< n
  double softness = 2.4e-24;   ///< A, Pa^-n s^-1
  double minimum_speed = 1e-9; ///< m s-1 (about 3 cm/a): the smallest averaged speed used
};

/// The shape `plastic` rescaled by the surface speed `speed` (m/s, NaN =
/// none): c becomes the thickness (m) at K = 1, ((n+1) u / (2 A))^(1/(n+1))
/// c_p^(n/(n+1)) with u the averaged speed. Throws nunatak::Error if the
/// sizes do not match or no ice cell has a speed.
PlasticThicknessShape velocity_thickness_shape(const core::Grid& grid,
                                               const PlasticThicknessShape& plastic,
                                               const std::vector<double>& speed,
                                               const PlasticThicknessParams& params,
                                               const VelocityScaling& scaling);

/// How to make a complete estimate.
struct ThicknessEstimateOptions {
  PlasticThicknessParams params;
  /// "plastic", or "velocity" (scaled by the observed surface speed; needs it).
  std::string method = "plastic";
  VelocityScaling velocity;
  bool calibrate = true;              ///< tau_b by least squares against radar (else the next)
  double basal_shear_stress = 1e5;    ///< Pa, tau_b when not calibrated
  double holdout_block_size = 2000.0; ///< m, hold-out check of a calibration; 0: none
};

/// A complete estimate: the thickness is plastic_thickness(shape, tau_b).
struct ThicknessEstimate {
  PlasticThicknessParams params;
  std::string method = "plastic"; ///< plastic | velocity
  VelocityScaling velocity;       ///< the velocity method's constants
  PlasticThicknessShape shape;
  /// The fitted (or configured) scale: the basal shear stress in Pa for the
  /// plastic method, the dimensionless K for the velocity method.
  double tau_b = 0;
  bool calibrated = false;              ///< tau_b fitted to radar thickness (else configured)
  std::optional<ThicknessMisfit> radar; ///< against all radar cells on ice, if any
  std::optional<HoldOutCheck> hold_out; ///< when calibrated and holdout_block_size > 0
  /// The estimated thickness, m.
  std::vector<double> thickness() const { return plastic_thickness(shape, tau_b); }
  /// Velocity method: the effective softness A / K^(n+1), Pa^-n s^-1 (0 for plastic).
  double effective_softness() const;
  /// A scale of this estimate's method in words: "tau_b = 228.0 kPa", or
  /// "K = 1.46 (effective softness 1.7e-17 Pa-3 a-1)".
  std::string describe_scale(double scale) const;
  /// The method in words, with its parameters.
  std::string describe_method() const;
};

/// Cells of `ice` with an observation in `thkobs` (not NaN); 0 if `thkobs` is null.
long long observed_cells_on_ice(const std::vector<std::uint8_t>& ice,
                                const std::vector<double>* thkobs);

/// The estimate from the surface `usurf` and the outline `ice`; with
/// options.calibrate, the scale (tau_b or K) is the least-squares fit to
/// `thkobs` over all ice cells (then checked on a hold-out checkerboard if
/// holdout_block_size > 0); the misfit to `thkobs` is reported whenever it
/// has cells on ice. `thkobs` may be null; `speed` (m/s, NaN = none) is
/// needed by the velocity method only. Throws nunatak::Error if there is no
/// ice, if calibrating without an observation on ice, or if the velocity
/// method has no speed.
ThicknessEstimate estimate_thickness(const core::Grid& grid, const std::vector<double>& usurf,
                                     const std::vector<std::uint8_t>& ice,
                                     const std::vector<double>* thkobs,
                                     const ThicknessEstimateOptions& options,
                                     const std::vector<double>* speed = nullptr);

} // namespace nunatak::inversion
