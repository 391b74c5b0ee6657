// Plastic (constant basal shear stress) thickness estimate: the formulas are
// in plastic_thickness.hpp; this file discretises them on the grid.

#include "nunatak/inversion/plastic_thickness.hpp"

#include "nunatak/core/constants.hpp"
#include "nunatak/core/error.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

namespace nunatak::inversion {

namespace {

using Mask = std::vector<std::uint8_t>;

/// One-dimensional normalised Gaussian smoothing along x (stride 1) or y
/// (stride nx): out = sum w v / 1 with weights exp(-r^2 / (2 sigma^2)), |r| <= 3 sigma.
void gaussian_pass(std::vector<double>& v, int nx, int ny, bool along_x, double h, double sigma) {
  const int reach = int(std::ceil(3.0 * sigma / h));
  std::vector<double> w(size_t(reach) + 1);
  for (int r = 0; r <= reach; ++r)
    w[size_t(r)] = std::exp(-0.5 * (r * h / sigma) * (r * h / sigma));
  const std::vector<double> in = v;
  const int n = along_x ? nx : ny, lines = along_x ? ny : nx;
  for (int line = 0; line < lines; ++line)
    for (int p = 0; p < n; ++p) {
      double sum = 0.0;
      for (int q = std::max(0, p - reach); q <= std::min(n - 1, p + reach); ++q) {
        const size_t k = along_x ? size_t(line) * nx + q : size_t(q) * nx + line;
        sum += w[size_t(std::abs(q - p))] * in[k];
      }
      const size_t k = along_x ? size_t(line) * nx + p : size_t(p) * nx + line;
      v[k] = sum;
    }
}

/// Squared Euclidean distance transform along one line (Felzenszwalb and
/// Huttenlocher 2012): d(p) = min_q (f(q) + ((p - q) h)^2).
void distance_pass(const std::vector<double>& f, std::vector<double>& d, double h) {
  const int n = int(f.size());
  std::vector<int> v(static_cast<size_t>(n));
  std::vector<double> z(static_cast<size_t>(n) + 1);
  int k = 0;
  v[0] = 0;
  z[0] = -std::numeric_limits<double>::infinity();
  z[1] = std::numeric_limits<double>::infinity();
  auto parabola = [&](int q) { return f[size_t(q)] + (q * h) * (q * h); };
  for (int q = 1; q < n; ++q) {
    double s = (parabola(q) - parabola(v[size_t(k)])) / (2.0 * h * h * (q - v[size_t(k)]));
    while (s <= z[size_t(k)]) {
      --k;
      s = (parabola(q) - parabola(v[size_t(k)])) / (2.0 * h * h * (q - v[size_t(k)]));
    }
    ++k;
    v[size_t(k)] = q;
    z[size_t(k)] = s;
    z[size_t(k) + 1] = std::numeric_limits<double>::infinity();
  }
  k = 0;
  for (int q = 0; q < n; ++q) {
    while (z[size_t(k) + 1] < q) ++k;
    const double r = (q - v[size_t(k)]) * h;
    d[size_t(q)] = r * r + f[size_t(v[size_t(k)])];
  }
}

/// Distance (m) from each ice cell centre to the nearest ice-free cell centre,
/// counting the cells just outside the domain as ice-free.
std::vector<double> distance_to_ice_free(const core::Grid& g, const Mask& ice) {
  const int nx = g.nx() + 2, ny = g.ny() + 2; // padded by one ice-free cell
  const double far = 1e30;                    // "infinite" squared distance, finite arithmetic
  std::vector<double> d2(size_t(nx) * ny, 0.0);
  for (int j = 0; j < g.ny(); ++j)
    for (int i = 0; i < g.nx(); ++i)
      if (ice[size_t(j) * g.nx() + i]) d2[size_t(j + 1) * nx + i + 1] = far;
  std::vector<double> f, out;
  f.resize(size_t(nx));
  out.resize(size_t(nx));
  for (int j = 0; j < ny; ++j) {
    std::copy_n(d2.begin() + std::ptrdiff_t(j) * nx, nx, f.begin());
    distance_pass(f, out, g.dx());
    std::copy_n(out.begin(), nx, d2.begin() + std::ptrdiff_t(j) * nx);
  }
  f.resize(size_t(ny));
  out.resize(size_t(ny));
  for (int i = 0; i < nx; ++i) {
    for (int j = 0; j < ny; ++j) f[size_t(j)] = d2[size_t(j) * nx + i];
    distance_pass(f, out, g.dy());
    for (int j = 0; j < ny; ++j) d2[size_t(j) * nx + i] = out[size_t(j)];
  }
  std::vector<double> d(size_t(g.size()), 0.0);
  for (int j = 0; j < g.ny(); ++j)
    for (int i = 0; i < g.nx(); ++i)
      d[size_t(j) * g.nx() + i] = std::sqrt(d2[size_t(j + 1) * nx + i + 1]);
  return d;
}

/// d/dx of s at (i, j) from ice neighbours only (centred if both are ice,
/// one-sided if one is, 0 if none). `stride` 1 for x, nx for y.
double ice_derivative(const std::vector<double>& s, const Mask& ice, size_t k, int pos, int n,
                      size_t stride, double h) {
  const bool lo = pos > 0 && ice[k - stride], hi = pos < n - 1 && ice[k + stride];
  if (lo && hi) return (s[k + stride] - s[k - stride]) / (2.0 * h);
  if (hi) return (s[k + stride] - s[k]) / h;
  if (lo) return (s[k] - s[k - stride]) / h;
  return 0.0;
}

/// The margin taper t(x) = x (2 - x) for x < 1, 1 beyond.
double taper(double x) {
  return x < 1.0 ? x * (2.0 - x) : 1.0;
}

} // namespace

PlasticThicknessShape plastic_thickness_shape(const core::Grid& g, const std::vector<double>& usurf,
                                              const Mask& ice,
                                              const PlasticThicknessParams& params) {
  const size_t n = size_t(g.size());
  if (usurf.size() != n || ice.size() != n)
    throw Error("plastic thickness estimate: surface and ice mask must have " + std::to_string(n) +
                " cells (the grid's)");
  if (std::count(ice.begin(), ice.end(), std::uint8_t(1)) == 0)
    throw Error("plastic thickness estimate: the ice mask has no ice cells");
  const int nx = g.nx(), ny = g.ny();

  // Gradient of the ice surface, then its normalised Gaussian average over ice.
  std::vector<double> gx(n, 0.0), gy(n, 0.0), weight(n, 0.0);
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) {
      const size_t k = size_t(j) * nx + i;
      if (!ice[k]) continue;
      gx[k] = ice_derivative(usurf, ice, k, i, nx, 1, g.dx());
      gy[k] = ice_derivative(usurf, ice, k, j, ny, size_t(nx), g.dy());
      weight[k] = 1.0;
    }
  if (params.smoothing_length > 0.0)
    for (auto* v : {&gx, &gy, &weight}) {
      gaussian_pass(*v, nx, ny, true, g.dx(), params.smoothing_length);
      gaussian_pass(*v, nx, ny, false, g.dy(), params.smoothing_length);
    }

  PlasticThicknessShape shape;
  shape.ice = ice;
  shape.slope.assign(n, 0.0);
  shape.edge_distance.assign(n, 0.0);
  shape.c.assign(n, 0.0);
  const std::vector<double> centre_distance = distance_to_ice_free(g, ice);
  const double rho_g_f = params.ice_density * params.gravity * params.shape_factor;
  const double half_cell = 0.5 * std::min(g.dx(), g.dy());
  for (size_t k = 0; k < n; ++k) {
    if (!ice[k]) continue;
    shape.slope[k] = std::hypot(gx[k], gy[k]) / weight[k];
    shape.edge_distance[k] = std::max(centre_distance[k] - half_cell, 0.0);
    const double t =
        params.taper_length > 0.0 ? taper(shape.edge_distance[k] / params.taper_length) : 1.0;
    shape.c[k] = t / (rho_g_f * std::max(shape.slope[k], params.minimum_slope));
  }
  return shape;
}

PlasticThicknessShape velocity_thickness_shape(const core::Grid& g,
                                               const PlasticThicknessShape& plastic,
                                               const std::vector<double>& speed,
                                               const PlasticThicknessParams& params,
                                               const VelocityScaling& scaling) {
  const size_t n = size_t(g.size());
  if (speed.size() != n || plastic.c.size() != n)
    throw Error("velocity-scaled thickness estimate: the surface speed has " +
                std::to_string(speed.size()) + " cells, the grid " + std::to_string(n));
  // The observed speed averaged over ice cells with an observation
  // (normalised Gaussian, as the slope).
  std::vector<double> u(n, 0.0), weight(n, 0.0);
  for (size_t k = 0; k < n; ++k)
    if (plastic.ice[k] && std::isfinite(speed[k])) {
      u[k] = std::abs(speed[k]);
      weight[k] = 1.0;
    }
  if (params.smoothing_length > 0.0)
    for (auto* v : {&u, &weight}) {
      gaussian_pass(*v, g.nx(), g.ny(), true, g.dx(), params.smoothing_length);
      gaussian_pass(*v, g.nx(), g.ny(), false, g.dy(), params.smoothing_length);
    }
  double sum = 0.0;
  long long cells = 0;
  for (size_t k = 0; k < n; ++k)
    if (plastic.ice[k] && weight[k] > 1e-6) {
      u[k] /= weight[k];
      sum += u[k];
      ++cells;
    }
  if (cells == 0)
    throw Error("velocity-scaled thickness estimate: no ice cell has an observed surface speed "
                "(thickness_estimate.method = velocity needs uvelsurfobs and vvelsurfobs, or "
                "velsurfobs_mag)");
  const double mean = sum / double(cells);
  const double m = scaling.glen_exponent;
  PlasticThicknessShape shape = plastic;
  for (size_t k = 0; k < n; ++k) {
    if (!plastic.ice[k]) continue;
    const double uk = std::max(weight[k] > 1e-6 ? u[k] : mean, scaling.minimum_speed);
    shape.c[k] = std::pow((m + 1.0) * uk / (2.0 * scaling.softness), 1.0 / (m + 1.0)) *
                 std::pow(plastic.c[k], m / (m + 1.0));
  }
  return shape;
}

double ThicknessEstimate::effective_softness() const {
  if (method != "velocity" || !(tau_b > 0)) return 0.0;
  return velocity.softness / std::pow(tau_b, velocity.glen_exponent + 1.0);
}

std::string ThicknessEstimate::describe_scale(double scale) const {
  char text[160];
  if (method == "velocity") {
    const double n = velocity.glen_exponent;
    const double A = velocity.softness / std::pow(scale, n + 1.0) * core::seconds_per_year;
    std::snprintf(text, sizeof text, "K = %.3f (effective softness %.3g Pa-%g a-1)", scale, A, n);
  } else {
    std::snprintf(text, sizeof text, "tau_b = %.1f kPa", scale / 1e3);
  }
  return text;
}

std::string ThicknessEstimate::describe_method() const {
  char text[240];
  std::snprintf(text, sizeof text,
                "%s, f = %g, slope_min = %g, slope%s smoothed over %g m, taper %g m",
                method == "velocity" ? "shallow-ice law scaled by the observed surface speed"
                                     : "perfect plasticity",
                params.shape_factor, params.minimum_slope, method == "velocity" ? " and speed" : "",
                params.smoothing_length, params.taper_length);
  return text;
}

std::vector<double> plastic_thickness(const PlasticThicknessShape& shape, double tau_b) {
  std::vector<double> H(shape.c.size(), 0.0);
  for (size_t k = 0; k < H.size(); ++k) H[k] = tau_b * shape.c[k];
  return H;
}

ThicknessMisfit thickness_misfit(const std::vector<double>& thk, const std::vector<double>& thkobs,
                                 const Mask& use) {
  ThicknessMisfit m;
  double sum2 = 0.0, sum = 0.0, sum_obs = 0.0;
  for (size_t k = 0; k < thk.size(); ++k) {
    if (!use[k] || std::isnan(thkobs[k])) continue;
    const double r = thk[k] - thkobs[k];
    ++m.cells;
    sum2 += r * r;
    sum += r;
    sum_obs += thkobs[k];
  }
  if (m.cells > 0) {
    m.rms = std::sqrt(sum2 / double(m.cells));
    m.bias = sum / double(m.cells);
    m.mean_observed = sum_obs / double(m.cells);
  }
  return m;
}

BasalStressCalibration calibrate_basal_shear_stress(const PlasticThicknessShape& shape,
                                                    const std::vector<double>& thkobs,
                                                    const Mask& use) {
  if (thkobs.size() != shape.c.size() || use.size() != shape.c.size())
    throw Error("basal shear stress calibration: observed thickness has " +
                std::to_string(thkobs.size()) + " cells, the grid " +
                std::to_string(shape.c.size()));
  std::vector<size_t> cells;
  for (size_t k = 0; k < thkobs.size(); ++k)
    if (use[k] && shape.ice[k] && !std::isnan(thkobs[k])) cells.push_back(k);
  if (cells.empty())
    throw Error("basal shear stress calibration: no observed thickness (thkobs) on an ice cell "
                "to calibrate against");

  double sum_ch = 0.0, sum_cc = 0.0;
  for (size_t k : cells) {
    sum_ch += shape.c[k] * thkobs[k];
    sum_cc += shape.c[k] * shape.c[k];
  }
  if (!(sum_cc > 0.0))
    throw Error("basal shear stress calibration: the estimate is zero on every radar cell");
  BasalStressCalibration result;
  result.tau_b = sum_ch / sum_cc;
  Mask selected(use.size(), 0);
  for (size_t k : cells) selected[k] = 1;
  result.misfit = thickness_misfit(plastic_thickness(shape, result.tau_b), thkobs, selected);
  return result;
}

HoldOutCheck hold_out_check(const core::Grid& g, const PlasticThicknessShape& shape,
                            const std::vector<double>& thkobs, double block_size) {
  if (!(block_size > 0.0))
    throw Error("hold-out check: the block size must be positive (got " +
                std::to_string(block_size) + " m)");
  const size_t n = size_t(g.size());
  Mask half[2] = {Mask(n, 0), Mask(n, 0)};
  for (int j = 0; j < g.ny(); ++j)
    for (int i = 0; i < g.nx(); ++i) {
      const long bx = long(std::floor((g.x(i) - g.x0()) / block_size));
      const long by = long(std::floor((g.y(j) - g.y0()) / block_size));
      half[(bx + by) % 2][size_t(j) * g.nx() + i] = 1;
    }
  HoldOutCheck check;
  for (int h = 0; h < 2; ++h) {
    check.fit[h] = calibrate_basal_shear_stress(shape, thkobs, half[h]);
    Mask other(n, 0);
    for (size_t k = 0; k < n; ++k) other[k] = half[1 - h][k] && shape.ice[k];
    check.test[h] = thickness_misfit(plastic_thickness(shape, check.fit[h].tau_b), thkobs, other);
    if (check.test[h].cells == 0)
      throw Error("hold-out check: no radar cell on ice in one half of the " +
                  std::to_string(block_size) + " m checkerboard");
  }
  return check;
}

long long observed_cells_on_ice(const Mask& ice, const std::vector<double>* thkobs) {
  long long cells = 0;
  if (thkobs)
    for (size_t k = 0; k < ice.size() && k < thkobs->size(); ++k)
      cells += ice[k] && !std::isnan((*thkobs)[k]);
  return cells;
}

ThicknessEstimate estimate_thickness(const core::Grid& g, const std::vector<double>& usurf,
                                     const Mask& ice, const std::vector<double>* thkobs,
                                     const ThicknessEstimateOptions& options,
                                     const std::vector<double>* speed) {
  ThicknessEstimate e;
  e.params = options.params;
  e.method = options.method;
  e.velocity = options.velocity;
  e.shape = plastic_thickness_shape(g, usurf, ice, e.params);
  if (options.method == "velocity") {
    if (!speed)
      throw Error("thickness_estimate.method = velocity needs the observed surface speed "
                  "(uvelsurfobs and vvelsurfobs, or velsurfobs_mag)");
    e.shape = velocity_thickness_shape(g, e.shape, *speed, e.params, e.velocity);
  } else if (options.method != "plastic") {
    throw Error("thickness_estimate.method: '" + options.method + "' is not plastic or velocity");
  }
  const long long observed = observed_cells_on_ice(ice, thkobs);
  if (options.calibrate) {
    if (observed == 0)
      throw Error("plastic thickness estimate: calibration needs observed thickness on ice cells");
    const Mask all(ice.size(), 1);
    e.tau_b = calibrate_basal_shear_stress(e.shape, *thkobs, all).tau_b;
    e.calibrated = true;
    if (options.holdout_block_size > 0.0)
      e.hold_out = hold_out_check(g, e.shape, *thkobs, options.holdout_block_size);
  } else {
    // Uncalibrated: the configured tau_b, or the velocity law as it stands (K = 1).
    e.tau_b = options.method == "velocity" ? 1.0 : options.basal_shear_stress;
  }
  if (observed > 0) e.radar = thickness_misfit(e.thickness(), *thkobs, ice);
  return e;
}

} // namespace nunatak::inversion
