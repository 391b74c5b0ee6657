// Random synthetic glaciers (see synthetic_glacier.hpp for what is drawn and
// from which distributions).
//
// Bitwise reproducibility across platforms rests on three rules kept in this
// file: (1) only IEEE-754 basic operations (+, -, *, /, sqrt) and exact ones
// (floor, frexp, ldexp, comparisons) on doubles: the elementary functions
// below (portable_exp, portable_log, sincos_turns) are polynomials, because
// the C library's exp/log/sin differ between platforms in the last bit;
// (2) a fixed order of every sum and of every random draw; (3) no
// floating-point contraction into fused multiply-adds (-ffp-contract=off on
// this file, core/CMakeLists.txt). Each part of a glacier draws from its own
// random stream, so that changing how one part is drawn leaves the others.

#include "nunatak/core/synthetic_glacier.hpp"

#include "nunatak/core/error.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace nunatak::core {

namespace {

constexpr double pi = 3.14159265358979323846;

// ---------------------------------------------------------------------------
// Portable elementary functions (to about 1 ulp; the same bits everywhere)

// ln 2 split so that k ln2_hi is exact for |k| < 2^20 (fdlibm's constants).
constexpr double ln2_hi = 6.93147180369123816490e-01;
constexpr double ln2_lo = 1.90821492927058770002e-10;
constexpr double inv_ln2 = 1.44269504088896338700e+00;

/// e^x: x = k ln 2 + r with |r| <= ln 2 / 2, e^r by its Taylor series to
/// r^13 / 13! (relative error below 1e-17), times 2^k exactly.
double portable_exp(double x) {
  if (x != x) return x;
  if (x < -745.0) return 0.0;
  if (x > 709.0) return std::numeric_limits<double>::infinity();
  const double k = std::floor(x * inv_ln2 + 0.5);
  const double r = (x - k * ln2_hi) - k * ln2_lo;
  double p = 1.0; // 1 + r (1 + r/2 (1 + r/3 (...)))
  for (int n = 13; n >= 1; --n) p = 1.0 + r * p / n;
  return std::ldexp(p, static_cast<int>(k));
}

/// ln x for x > 0: x = m 2^e with m in [sqrt(1/2), sqrt(2)), ln m = 2 atanh(s),
/// s = (m - 1) / (m + 1), |s| <= 0.172, by its series to s^23.
double portable_log(double x) {
  if (!(x > 0.0))
    return x == 0.0 ? -std::numeric_limits<double>::infinity()
                    : std::numeric_limits<double>::quiet_NaN();
  if (x == std::numeric_limits<double>::infinity()) return x;
  int e = 0;
  double m = std::frexp(x, &e);
  if (m < 0.70710678118654752440) {
    m *= 2.0;
    --e;
  }
  const double s = (m - 1.0) / (m + 1.0), s2 = s * s;
  double p = 1.0 / 23.0; // 1 + s2/3 + s2^2/5 + ...
  for (int n = 21; n >= 1; n -= 2) p = 1.0 / n + s2 * p;
  return (e * ln2_lo + 2.0 * s * p) + e * ln2_hi;
}

/// x^y for x >= 0 (0^y = 0 for y > 0).
double portable_pow(double x, double y) {
  if (x == 0.0) return 0.0;
  return portable_exp(y * portable_log(x));
}

/// sin(2 pi t) and cos(2 pi t): exact reduction of t (turns) to an octant,
/// Taylor series to theta^18 on [0, pi/4], then the octant's symmetry.
void sincos_turns(double t, double& sin_out, double& cos_out) {
  t -= std::floor(t);
  if (t >= 1.0) t = 0.0;
  const double q = std::floor(t * 4.0);
  double r = t - q * 0.25; // [0, 1/4), exact
  const bool swap = r > 0.125;
  if (swap) r = 0.25 - r; // exact
  const double theta = 2.0 * pi * r, theta2 = theta * theta;
  double ps = 1.0; // sin = theta (1 - theta^2/(2 3) (1 - theta^2/(4 5) (...)))
  for (int n = 16; n >= 2; n -= 2) ps = 1.0 - theta2 / (n * (n + 1)) * ps;
  double pc = 1.0; // cos = 1 - theta^2/(1 2) (1 - theta^2/(3 4) (...))
  for (int n = 17; n >= 1; n -= 2) pc = 1.0 - theta2 / (n * (n + 1)) * pc;
  double s = theta * ps, c = pc;
  if (swap) std::swap(s, c);
  switch (static_cast<int>(q)) {
  case 0:
    sin_out = s, cos_out = c;
    break;
  case 1:
    sin_out = c, cos_out = -s;
    break;
  case 2:
    sin_out = -s, cos_out = -c;
    break;
  default:
    sin_out = -c, cos_out = s;
    break;
  }
}

// ---------------------------------------------------------------------------
// Random numbers

std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::uint64_t rotl(std::uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

// ---------------------------------------------------------------------------
// FFT

int next_power_of_two(long long n) {
  int m = 1;
  while (m < n) m *= 2;
  return m;
}

/// Twiddle factors of length n: cos and sin of 2 pi k / n, k < n / 2.
struct Twiddles {
  std::vector<double> c, s;
  explicit Twiddles(int n) : c(std::size_t(n / 2 + 1)), s(std::size_t(n / 2 + 1)) {
    for (int k = 0; k <= n / 2; ++k)
      sincos_turns(double(k) / n, s[std::size_t(k)], c[std::size_t(k)]);
  }
};

/// In place, out[j] = sum_k in[k] exp(+2 pi i j k / n) (no 1/n): radix 2,
/// n a power of two.
void inverse_fft(double* re, double* im, int n, const Twiddles& w) {
  for (int i = 1, j = 0; i < n; ++i) { // bit-reversal permutation
    int bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      std::swap(re[i], re[j]);
      std::swap(im[i], im[j]);
    }
  }
  for (int len = 2; len <= n; len *= 2) {
    const int half = len / 2, step = n / len;
    for (int start = 0; start < n; start += len)
      for (int k = 0; k < half; ++k) {
        const double wr = w.c[std::size_t(k * step)], wi = w.s[std::size_t(k * step)];
        const int a = start + k, b = a + half;
        const double tr = re[b] * wr - im[b] * wi;
        const double ti = re[b] * wi + im[b] * wr;
        re[b] = re[a] - tr;
        im[b] = im[a] - ti;
        re[a] += tr;
        im[a] += ti;
      }
  }
}

// ---------------------------------------------------------------------------
// Glacier helpers

std::string format(const char* fmt, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, fmt, value);
  return buffer;
}

/// "850 m" or "12.3 km".
std::string length_text(double metres) {
  return metres < 1000.0 ? format("%.3g m", metres) : format("%.3g km", metres / 1000.0);
}

/// Distance (m) from each cell centre inside `outline` to the outline: the
/// distance to the nearest centre outside it, less half a cell (so dx / 2 in
/// the cells along the edge); 0 outside. Exact Euclidean, by brute force
/// over the outside cells that touch the outline (the nearest outside cell
/// always does), in integer arithmetic up to the final square root.
std::vector<double> outline_distance(int nx, int ny, double dx,
                                     const std::vector<std::uint8_t>& outline) {
  const auto at = [nx](int j, int i) { return std::size_t(j) * std::size_t(nx) + std::size_t(i); };
  std::vector<std::pair<int, int>> edge; // outside cells with an inside neighbour
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) {
      if (outline[at(j, i)]) continue;
      const bool touches =
          (i > 0 && outline[at(j, i - 1)]) || (i + 1 < nx && outline[at(j, i + 1)]) ||
          (j > 0 && outline[at(j - 1, i)]) || (j + 1 < ny && outline[at(j + 1, i)]);
      if (touches) edge.emplace_back(j, i);
    }
  std::vector<double> d(outline.size(), 0.0);
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) {
      if (!outline[at(j, i)]) continue;
      long long best = std::numeric_limits<long long>::max();
      for (const auto& [je, ie] : edge) {
        const long long dj = je - j, di = ie - i;
        best = std::min(best, di * di + dj * dj);
      }
      // The outline never reaches the domain's edge, so an outside cell exists.
      d[at(j, i)] = dx * std::sqrt(double(best)) - 0.5 * dx;
    }
  return d;
}

/// The value that `fraction` of the glacier's cells of `field` reach or
/// exceed (at least one cell).
double top_fraction_threshold(const std::vector<double>& field,
                              const std::vector<std::uint8_t>& outline, double fraction) {
  std::vector<double> values;
  for (std::size_t c = 0; c < field.size(); ++c)
    if (outline[c]) values.push_back(field[c]);
  std::sort(values.begin(), values.end());
  const auto n = static_cast<long long>(values.size());
  const long long count =
      std::max(1LL, static_cast<long long>(std::floor(fraction * double(n) + 0.5)));
  return values[std::size_t(std::max(0LL, n - count))];
}

/// The ocean at coast level z (m, <= sea level): the cells reachable from the
/// domain's edge through 4-neighbour steps over cells whose bed lies below z
/// (1), else 0.
std::vector<std::uint8_t> ocean_below(int nx, int ny, const std::vector<double>& bed, double z) {
  const auto at = [nx](int j, int i) { return std::size_t(j) * std::size_t(nx) + std::size_t(i); };
  std::vector<std::uint8_t> ocean(bed.size(), 0);
  std::vector<std::pair<int, int>> stack;
  const auto visit = [&](int j, int i) {
    if (j < 0 || i < 0 || j >= ny || i >= nx) return;
    const std::size_t c = at(j, i);
    if (ocean[c] || !(bed[c] < z)) return;
    ocean[c] = 1;
    stack.emplace_back(j, i);
  };
  for (int i = 0; i < nx; ++i) visit(0, i), visit(ny - 1, i);
  for (int j = 0; j < ny; ++j) visit(j, 0), visit(j, nx - 1);
  while (!stack.empty()) {
    const auto [j, i] = stack.back();
    stack.pop_back();
    visit(j, i - 1), visit(j, i + 1), visit(j - 1, i), visit(j + 1, i);
  }
  return ocean;
}

/// The number of the glacier's cells in `ocean`.
long long glacier_cells_in(const std::vector<std::uint8_t>& outline,
                           const std::vector<std::uint8_t>& ocean) {
  long long count = 0;
  for (std::size_t c = 0; c < outline.size(); ++c) count += outline[c] && ocean[c];
  return count;
}

} // namespace

// ---------------------------------------------------------------------------
// Random

Random::Random(std::uint64_t seed, std::uint64_t stream) {
  std::uint64_t x = seed;
  x = splitmix64(x) ^ (stream * 0xD1B54A32D192ED03ull + 0x632BE59BD9B4E019ull);
  for (auto& s : m_state) s = splitmix64(x);
  if ((m_state[0] | m_state[1] | m_state[2] | m_state[3]) == 0) m_state[0] = 1;
}

std::uint64_t Random::next() {
  auto& s = m_state;
  const std::uint64_t result = rotl(s[1] * 5, 7) * 9;
  const std::uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double Random::uniform() {
  return double(next() >> 11) * 0x1.0p-53;
}

double Random::uniform(double a, double b) {
  return a + (b - a) * uniform();
}

double Random::log_uniform(double a, double b) {
  const double la = portable_log(a), lb = portable_log(b);
  return std::clamp(portable_exp(la + (lb - la) * uniform()), a, b);
}

int Random::integer(int lo, int hi) {
  const std::uint64_t range = std::uint64_t(std::int64_t(hi) - std::int64_t(lo)) + 1;
  const std::uint64_t threshold = (0 - range) % range; // 2^64 mod range
  for (;;) {
    const std::uint64_t r = next();
    if (r >= threshold) return static_cast<int>(std::int64_t(lo) + std::int64_t(r % range));
  }
}

bool Random::bernoulli(double p) {
  return uniform() < p;
}

double Random::normal() {
  if (m_has_spare) {
    m_has_spare = false;
    return m_spare;
  }
  const double u1 = uniform(), u2 = uniform();
  const double r = std::sqrt(-2.0 * portable_log(1.0 - u1));
  double s = 0.0, c = 0.0;
  sincos_turns(u2, s, c);
  m_spare = r * s;
  m_has_spare = true;
  return r * c;
}

// ---------------------------------------------------------------------------
// Gaussian random field
//
// On a periodic grid of mx x my cells, f(x) = Re sum_k a_k xi_k exp(i k.x)
// with xi_k complex standard normal (real and imaginary parts N(0, 1)) has
// covariance sum_k a_k^2 cos(k.r). With a_k^2 = sigma^2 w_k / sum w and
// w_k = exp(-|k|^2 l^2 / 4), the Fourier transform of exp(-r^2 / l^2), that is
// the periodised Gaussian covariance, of variance sigma^2 exactly. Spectral
// weights below e^-69 are dropped (no draw, and rows of zeros skip the FFT).

std::vector<double> gaussian_random_field(int nx, int ny, double dx, double dy, double sigma,
                                          double correlation_length, Random& random) {
  if (nx < 1 || ny < 1)
    throw Error("gaussian_random_field: the grid must have at least one cell, got " +
                std::to_string(nx) + " x " + std::to_string(ny));
  if (!(dx > 0.0) || !(dy > 0.0) || !std::isfinite(dx) || !std::isfinite(dy))
    throw Error("gaussian_random_field: dx and dy must be positive and finite");
  if (!(correlation_length > 0.0) || !std::isfinite(correlation_length))
    throw Error("gaussian_random_field: the correlation length must be positive and finite, got " +
                std::to_string(correlation_length) + " m");
  if (!(sigma >= 0.0) || !std::isfinite(sigma))
    throw Error("gaussian_random_field: sigma must be finite and non-negative, got " +
                std::to_string(sigma));
  const double l = correlation_length;
  const auto padded = [l](int n, double h) {
    const double pad = std::min(std::ceil(3.0 * l / h), 4.0 * n);
    return next_power_of_two(static_cast<long long>(n) + static_cast<long long>(pad));
  };
  const int mx = padded(nx, dx), my = padded(ny, dy);
  const std::size_t mxs = std::size_t(mx);

  // Spectral weights w_k = exp(-(cx mx_k^2 + cy my_k^2)), k = 2 pi m / (M h).
  const double bx = pi * l / (dx * mx), by = pi * l / (dy * my);
  const double cx = bx * bx, cy = by * by;
  std::vector<double> weight(mxs * std::size_t(my), 0.0);
  double total = 0.0;
  for (int j = 0; j < my; ++j) {
    const double mj = j < my / 2 ? j : j - my;
    for (int i = 0; i < mx; ++i) {
      const double mi = i < mx / 2 ? i : i - mx;
      const double exponent = cx * mi * mi + cy * mj * mj;
      if (exponent > 69.0) continue;
      const double w = portable_exp(-exponent);
      weight[std::size_t(j) * mxs + std::size_t(i)] = w;
      total += w;
    }
  }

  // Coefficients a_k xi_k, drawn row by row; the inverse FFT along x of the
  // rows that hold any, then along y of the columns that are kept.
  std::vector<double> re(weight.size(), 0.0), im(weight.size(), 0.0);
  std::vector<std::uint8_t> row_used(std::size_t(my), 0);
  for (int j = 0; j < my; ++j)
    for (int i = 0; i < mx; ++i) {
      const std::size_t k = std::size_t(j) * mxs + std::size_t(i);
      if (weight[k] == 0.0) continue;
      const double a = sigma * std::sqrt(weight[k] / total);
      re[k] = a * random.normal();
      im[k] = a * random.normal();
      row_used[std::size_t(j)] = 1;
    }
  const Twiddles twiddle_x(mx), twiddle_y(my);
  for (int j = 0; j < my; ++j)
    if (row_used[std::size_t(j)])
      inverse_fft(re.data() + std::size_t(j) * mxs, im.data() + std::size_t(j) * mxs, mx,
                  twiddle_x);
  std::vector<double> column_re(static_cast<std::size_t>(my)), column_im(column_re.size());
  std::vector<double> field(std::size_t(nx) * std::size_t(ny));
  for (int i = 0; i < nx; ++i) {
    for (int j = 0; j < my; ++j) {
      column_re[std::size_t(j)] = re[std::size_t(j) * mxs + std::size_t(i)];
      column_im[std::size_t(j)] = im[std::size_t(j) * mxs + std::size_t(i)];
    }
    inverse_fft(column_re.data(), column_im.data(), my, twiddle_y);
    for (int j = 0; j < ny; ++j)
      field[std::size_t(j) * std::size_t(nx) + std::size_t(i)] = column_re[std::size_t(j)];
  }
  return field;
}

// ---------------------------------------------------------------------------
// Parameters

void SyntheticGlacierParams::check() const {
  const auto fail = [](const std::string& what) {
    throw Error("synthetic glacier parameters: " + what);
  };
  const auto range = [&](const char* name, double lo, double hi, bool positive) {
    if (!std::isfinite(lo) || !std::isfinite(hi) || lo > hi || (positive && !(lo > 0.0)) ||
        lo < 0.0)
      fail(std::string(name) + "_min/_max = " + format("%g", lo) + " / " + format("%g", hi) +
           (positive ? " must be positive" : " must be non-negative") + ", with min <= max");
  };
  const auto probability = [&](const char* name, double p) {
    if (!(p >= 0.0 && p <= 1.0))
      fail(std::string(name) + " = " + format("%g", p) + " is not in [0, 1]");
  };
  const auto positive = [&](const char* name, double v) {
    if (!(v > 0.0) || !std::isfinite(v))
      fail(std::string(name) + " = " + format("%g", v) + " must be positive");
  };
  if (nx_min < 8 || nx_max > 512 || nx_min > nx_max)
    fail("nx_min/nx_max = " + std::to_string(nx_min) + " / " + std::to_string(nx_max) +
         " must satisfy 8 <= min <= max <= 512");
  if (ny_min < 8 || ny_max > 512 || ny_min > ny_max)
    fail("ny_min/ny_max = " + std::to_string(ny_min) + " / " + std::to_string(ny_max) +
         " must satisfy 8 <= min <= max <= 512");
  range("dx", dx_min, dx_max, true);
  positive("bed_correlation_min_cells", bed_correlation_min_cells);
  positive("bed_correlation_max_fraction", bed_correlation_max_fraction);
  range("bed_relief_fraction", bed_relief_fraction_min, bed_relief_fraction_max, true);
  positive("bed_relief_max", bed_relief_max);
  positive("bed_rms_slope_max", bed_rms_slope_max);
  range("regional_slope", 0.0, regional_slope_max, false);
  range("regional_drop", 0.0, regional_drop_max, false);
  range("base_elevation", 0.0, base_elevation_max, false);
  probability("marine_probability", marine_probability);
  range("marine_fraction", marine_fraction_min, marine_fraction_max, false);
  if (marine_fraction_max >= 1.0) fail("marine_fraction_max must be below 1");
  probability("calving_probability", calving_probability);
  range("calving_fraction", calving_fraction_min, calving_fraction_max, false);
  if (calving_fraction_max >= 1.0) fail("calving_fraction_max must be below 1");
  probability("valley_probability", valley_probability);
  probability("vialov_probability", vialov_probability);
  range("yield_stress", yield_stress_min, yield_stress_max, true);
  positive("ice_density", ice_density);
  positive("gravity", gravity);
  positive("minimum_thickness", minimum_thickness);
  if (!(max_thickness > minimum_thickness) || !std::isfinite(max_thickness))
    fail("max_thickness = " + format("%g", max_thickness) + " must exceed minimum_thickness");
  range("beta2", beta2_min, beta2_max, true);
  range("beta2_log_std", 0.0, beta2_log_std_max, false);
  probability("fast_patch_probability", fast_patch_probability);
  range("fast_fraction", fast_fraction_min, fast_fraction_max, false);
  if (fast_fraction_max > 1.0) fail("fast_fraction_max must be at most 1");
  range("fast_factor", fast_factor_min, fast_factor_max, true);
  probability("zero_patch_probability", zero_patch_probability);
  range("zero_fraction", zero_fraction_min, zero_fraction_max, false);
  if (zero_fraction_max > 1.0) fail("zero_fraction_max must be at most 1");
  probability("no_slip_probability", no_slip_probability);
  range("softness", softness_min, softness_max, true);
  range("softness_log_std", 0.0, softness_log_std_max, false);
  probability("softness_variation_probability", softness_variation_probability);
  probability("softness_profile_probability", softness_profile_probability);
  if (!(softness_profile_ratio_max >= 1.0) ||
      !(softness_profile_ratio_max <= softness_max / softness_min))
    fail("softness_profile_ratio_max = " + format("%g", softness_profile_ratio_max) +
         " must be in [1, softness_max / softness_min]");
  if (softness_levels < 2 || softness_levels > 1000)
    fail("softness_levels = " + std::to_string(softness_levels) + " must be in [2, 1000]");
}

// ---------------------------------------------------------------------------
// The glacier

SyntheticGlacier make_synthetic_glacier(const SyntheticGlacierParams& p, std::uint64_t seed) {
  p.check();
  // One stream per part of the glacier.
  Random grid_random(seed, 1), shape_random(seed, 2), bed_random(seed, 3), friction_random(seed, 4),
      softness_random(seed, 5), calving_random(seed, 6);
  SyntheticGlacier g;
  std::string text;

  // Grid.
  g.nx = grid_random.integer(p.nx_min, p.nx_max);
  g.ny = grid_random.integer(p.ny_min, p.ny_max);
  g.dx = grid_random.log_uniform(p.dx_min, p.dx_max);
  g.dy = g.dx;
  const int nx = g.nx, ny = g.ny;
  const double dx = g.dx, dy = g.dy;
  const std::size_t n = std::size_t(nx) * std::size_t(ny);
  const auto at = [nx](int j, int i) { return std::size_t(j) * std::size_t(nx) + std::size_t(i); };
  const double L = std::max(nx, ny) * dx;

  // The shape: outline, profile and yield stress (k = 2 tau / (rho g), m).
  const bool valley = shape_random.bernoulli(p.valley_probability);
  g.outline_kind = valley ? OutlineKind::valley : OutlineKind::ellipse;
  g.profile_kind =
      shape_random.bernoulli(p.vialov_probability) ? ProfileKind::vialov : ProfileKind::plastic;
  g.yield_stress = shape_random.uniform(p.yield_stress_min, p.yield_stress_max);
  const double k = 2.0 * g.yield_stress / (p.ice_density * p.gravity);
  const double largest_distance = p.max_thickness * p.max_thickness / k; // H = sqrt(k d) <= H_max
  // A valley runs along x or y, in the + or - direction: along-valley index
  // t, cross index c.
  const bool along_x = shape_random.bernoulli(0.5), reverse = shape_random.bernoulli(0.5);
  const int nt = along_x ? nx : ny, nc = along_x ? ny : nx;
  const auto cell_of = [&](int t, int c) {
    const int tt = reverse ? nt - 1 - t : t;
    return along_x ? at(c, tt) : at(tt, c);
  };

  // Bed: regional plane (down the valley, or in a random direction) plus a
  // Gaussian random field.
  const double slope_cap = std::min(p.regional_slope_max, p.regional_drop_max / L);
  const double slope = bed_random.uniform(0.0, slope_cap);
  double ex = 0.0, ey = 0.0; // downhill direction
  if (valley) {
    (along_x ? ex : ey) = reverse ? -1.0 : 1.0;
  } else {
    sincos_turns(bed_random.uniform(), ey, ex);
  }
  const double l_min = p.bed_correlation_min_cells * dx;
  const double l_bed =
      bed_random.log_uniform(l_min, std::max(l_min, p.bed_correlation_max_fraction * L));
  const double relief =
      bed_random.log_uniform(p.bed_relief_fraction_min, p.bed_relief_fraction_max);
  const double sigma_bed =
      std::min({relief * L, p.bed_relief_max, 0.5 * p.bed_rms_slope_max * l_bed});
  std::vector<double> bed = gaussian_random_field(nx, ny, dx, dy, sigma_bed, l_bed, bed_random);
  const double xc = 0.5 * (nx - 1) * dx, yc = 0.5 * (ny - 1) * dy;
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) bed[at(j, i)] -= slope * (ex * (i * dx - xc) + ey * (j * dy - yc));

  // Outline.
  g.outline.assign(n, 0);
  if (valley) {
    // Half-width w0, within the domain and so that sqrt(k w0) <= H_max.
    const double w0 =
        std::clamp(shape_random.uniform(0.08, 0.22) * nc * dx, 1.5 * dx,
                   std::max(1.5 * dx, std::min(largest_distance, (0.5 * nc - 2.0) * dx)));
    const int c_lo0 = static_cast<int>(std::ceil(w0 / dx)) + 1;
    const int c_lo = std::min(c_lo0, nc / 2), c_hi = std::max(nc - 1 - c_lo0, nc / 2);
    // The bed's low: the path of least summed elevation down the valley,
    // moving at most one cell sideways per step.
    const int width = c_hi - c_lo + 1;
    std::vector<double> cost(std::size_t(nt) * std::size_t(width));
    std::vector<int> from(cost.size(), 0);
    for (int t = 0; t < nt; ++t)
      for (int c = 0; c < width; ++c) {
        double best = 0.0;
        int arg = c;
        if (t > 0) {
          best = cost[std::size_t(t - 1) * std::size_t(width) + std::size_t(c)];
          for (int dc : {-1, 1}) {
            const int cc = c + dc;
            if (cc < 0 || cc >= width) continue;
            const double v = cost[std::size_t(t - 1) * std::size_t(width) + std::size_t(cc)];
            if (v < best) best = v, arg = cc;
          }
        }
        cost[std::size_t(t) * std::size_t(width) + std::size_t(c)] =
            best + bed[cell_of(t, c + c_lo)];
        from[std::size_t(t) * std::size_t(width) + std::size_t(c)] = arg;
      }
    std::vector<int> path(static_cast<std::size_t>(nt));
    int last = 0;
    for (int c = 1; c < width; ++c)
      if (cost[std::size_t(nt - 1) * std::size_t(width) + std::size_t(c)] <
          cost[std::size_t(nt - 1) * std::size_t(width) + std::size_t(last)])
        last = c;
    for (int t = nt - 1; t >= 0; --t) {
      path[std::size_t(t)] = last + c_lo;
      last = from[std::size_t(t) * std::size_t(width) + std::size_t(last)];
    }
    // Centre line: the path's moving average over +-w0.
    const int h = std::max(1, static_cast<int>(std::floor(w0 / dx + 0.5)));
    std::vector<double> centre(static_cast<std::size_t>(nt));
    for (int t = 0; t < nt; ++t) {
      double sum = 0.0;
      for (int s = t - h; s <= t + h; ++s) sum += path[std::size_t(std::clamp(s, 0, nt - 1))];
      centre[std::size_t(t)] = sum / (2 * h + 1);
    }
    // Head at t = 1, terminus (a rounded snout) at t_end; narrowing by up to 30 %.
    const int t_end =
        1 + static_cast<int>(std::floor(shape_random.uniform(0.5, 0.9) * (nt - 3) + 0.5));
    const double taper = shape_random.uniform(0.0, 0.3);
    const auto half_width = [&](int t) {
      return w0 * (1.0 - taper * double(std::min(t, t_end) - 1) / double(std::max(1, t_end - 1)));
    };
    for (int t = 1; t <= nt - 2; ++t)
      for (int c = 1; c <= nc - 2; ++c) {
        bool inside;
        if (t <= t_end) {
          inside = std::abs(c - centre[std::size_t(t)]) * dx < half_width(t);
        } else {
          const double dt = t - t_end, dc = c - centre[std::size_t(t_end)];
          inside = std::sqrt(dt * dt + dc * dc) * dx < half_width(t_end);
        }
        if (inside) g.outline[cell_of(t, c)] = 1;
      }
    // The valley: a parabolic trough along the centre line, wider than the
    // glacier, its side slope at most 0.3.
    const double trough_width = w0 * shape_random.uniform(1.5, 3.0);
    const double depth =
        std::min(shape_random.uniform(0.2, 1.0) * std::sqrt(k * w0), 0.15 * trough_width);
    for (int t = 0; t < nt; ++t)
      for (int c = 0; c < nc; ++c) {
        const double q = (c - centre[std::size_t(t)]) * dx / trough_width;
        if (q * q < 1.0) bed[cell_of(t, c)] -= depth * (1.0 - q * q);
      }
    text = std::string("valley glacier along ") + (reverse ? "-" : "+") + (along_x ? "x" : "y") +
           " (half-width " + length_text(w0) + ", trough " + length_text(depth) + " deep)";
  } else {
    // An ellipse inside cells 1 .. n-2, semi-minor axis b <= H_max^2 / k.
    const double ax = 0.5 * (nx - 3) * dx, ay = 0.5 * (ny - 3) * dy; // room around the centre
    const double aspect = shape_random.uniform(1.0, 2.5);
    const double angle_turns = 0.5 * shape_random.uniform(); // [0, pi)
    double sa = 0.0, ca = 0.0;
    sincos_turns(angle_turns, sa, ca);
    double b = shape_random.uniform(0.5, 0.9) * std::min(ax, ay), a = aspect * b;
    const auto extent_x = [&] { return std::sqrt(a * a * ca * ca + b * b * sa * sa); };
    const auto extent_y = [&] { return std::sqrt(a * a * sa * sa + b * b * ca * ca); };
    const double fit = std::min({1.0, ax / extent_x(), ay / extent_y(), largest_distance / b});
    a *= fit, b *= fit;
    if (b < 1.5 * dx) a = b = std::min({1.5 * dx, ax, ay});
    const double wx = extent_x(), wy = extent_y();
    EllipseOutline e;
    e.x_centre = shape_random.uniform(dx + wx, std::max(dx + wx, (nx - 2) * dx - wx));
    e.y_centre = shape_random.uniform(dy + wy, std::max(dy + wy, (ny - 2) * dy - wy));
    e.semi_major = a;
    e.semi_minor = b;
    e.angle = 2.0 * pi * angle_turns;
    for (int j = 1; j <= ny - 2; ++j)
      for (int i = 1; i <= nx - 2; ++i) {
        const double x = i * dx - e.x_centre, y = j * dy - e.y_centre;
        const double u = (x * ca + y * sa) / a, v = (-x * sa + y * ca) / b;
        if (u * u + v * v < 1.0) g.outline[at(j, i)] = 1;
      }
    g.ellipse = e;
    text = "ice cap (ellipse " + length_text(a) + " x " + length_text(b) + ")";
  }
  if (std::find(g.outline.begin(), g.outline.end(), std::uint8_t(1)) == g.outline.end())
    throw Error("synthetic glacier " + std::to_string(seed) + ": empty outline (" + text + ")");

  // Land or marine: shift the bed.
  g.marine = bed_random.bernoulli(p.marine_probability);
  if (g.marine) {
    const double fraction = bed_random.uniform(p.marine_fraction_min, p.marine_fraction_max);
    std::vector<double> sorted = bed;
    std::sort(sorted.begin(), sorted.end());
    const double level = sorted[std::size_t(std::floor(fraction * double(n)))];
    for (auto& b : bed) b -= level;
    text += format(", marine (%.0f %% below sea level)", 100.0 * fraction);
  } else {
    const double base = bed_random.uniform(0.0, p.base_elevation_max);
    const double lowest = *std::min_element(bed.begin(), bed.end());
    for (auto& b : bed) b += base - lowest;
  }
  g.topg = std::move(bed);
  text += ", bed slope " + format("%.3g", slope) + " + GRF sigma " + length_text(sigma_bed) +
          " l " + length_text(l_bed);

  // Thickness from the distance d to the outline.
  const std::vector<double> d = outline_distance(nx, ny, dx, g.outline);
  const double d_max = *std::max_element(d.begin(), d.end());
  g.thk.assign(n, 0.0);
  for (std::size_t c = 0; c < n; ++c) {
    if (!g.outline[c]) continue;
    double H;
    if (g.profile_kind == ProfileKind::plastic) {
      H = std::sqrt(k * d[c]); // Nye: H^2 = 2 tau d / (rho g)
    } else {                   // Vialov: H = sqrt(k R) (1 - (1 - d/R)^(4/3))^(3/8)
      const double x = std::max(0.0, 1.0 - d[c] / d_max);
      H = std::sqrt(k * d_max) * portable_pow(1.0 - portable_pow(x, 4.0 / 3.0), 3.0 / 8.0);
    }
    g.thk[c] = std::clamp(H, p.minimum_thickness, p.max_thickness);
  }
  text += std::string(g.profile_kind == ProfileKind::plastic ? ", plastic" : ", Vialov") +
          format(" tau %.0f kPa", g.yield_stress / 1000.0) + ", H max " +
          length_text(*std::max_element(g.thk.begin(), g.thk.end()));

  // Calving fronts: the ocean (connected to the domain's edge below a coast
  // level z <= 0) takes a share of the glacier, which ends there in a cliff
  // of the thickness the profile gave it.
  if (g.marine && calving_random.bernoulli(p.calving_probability)) {
    const long long cells = std::count(g.outline.begin(), g.outline.end(), std::uint8_t(1));
    const double share = calving_random.uniform(p.calving_fraction_min, p.calving_fraction_max);
    const long long target = std::max(1LL, static_cast<long long>(std::floor(share * cells + 0.5)));
    // The coast: sea level, or, where the ocean would take more than `target`
    // cells there, the highest level at which it takes at most that many
    // (the cut grows with the level): bisection.
    double coast = g.sea_level;
    if (glacier_cells_in(g.outline, ocean_below(nx, ny, g.topg, coast)) > target) {
      double lo = *std::min_element(g.topg.begin(), g.topg.end()), hi = coast;
      for (int it = 0; it < 60; ++it) {
        const double mid = 0.5 * (lo + hi);
        (glacier_cells_in(g.outline, ocean_below(nx, ny, g.topg, mid)) > target ? hi : lo) = mid;
      }
      coast = lo;
    }
    const std::vector<std::uint8_t> ocean = ocean_below(nx, ny, g.topg, coast);
    const long long cut = glacier_cells_in(g.outline, ocean);
    if (cut > 0 && cut < cells) {
      for (std::size_t c = 0; c < n; ++c)
        if (ocean[c]) g.outline[c] = 0, g.thk[c] = 0.0;
      g.calving_front = true;
      text += format(", calving front (ocean below %.0f m", coast) +
              format(" takes %.0f %% of the ice)", 100.0 * double(cut) / double(cells));
    }
  }

  // Basal friction.
  const double L_half = std::max(2.0 * dx, 0.5 * L);
  const double beta0 = friction_random.log_uniform(p.beta2_min, p.beta2_max);
  const double beta_std = friction_random.uniform(0.0, p.beta2_log_std_max);
  const double l_beta = friction_random.log_uniform(2.0 * dx, L_half);
  const std::vector<double> gb =
      gaussian_random_field(nx, ny, dx, dy, 1.0, l_beta, friction_random);
  const double lb0 = portable_log(beta0);
  g.beta2.resize(n);
  for (std::size_t c = 0; c < n; ++c)
    g.beta2[c] = std::clamp(portable_exp(lb0 + beta_std * gb[c]), p.beta2_min, p.beta2_max);
  text += format("; beta2 %.2g", beta0) + format(" Pa a/m (ln std %.2f)", beta_std);
  g.no_slip = friction_random.bernoulli(p.no_slip_probability);
  if (g.no_slip) {
    text += ", no slip";
  } else {
    if (friction_random.bernoulli(p.fast_patch_probability)) {
      const double fraction = friction_random.uniform(p.fast_fraction_min, p.fast_fraction_max);
      const double factor = friction_random.log_uniform(p.fast_factor_min, p.fast_factor_max);
      const double l = friction_random.log_uniform(2.0 * dx, std::max(2.0 * dx, 0.25 * L));
      const auto field = gaussian_random_field(nx, ny, dx, dy, 1.0, l, friction_random);
      const double threshold = top_fraction_threshold(field, g.outline, fraction);
      for (std::size_t c = 0; c < n; ++c)
        if (field[c] >= threshold) g.beta2[c] *= factor;
      text += format(", fast patches %.0f %%", 100.0 * fraction) + format(" x %.2g", factor);
    }
    if (friction_random.bernoulli(p.zero_patch_probability)) {
      const double fraction = friction_random.uniform(p.zero_fraction_min, p.zero_fraction_max);
      const double l = friction_random.log_uniform(1.5 * dx, std::max(1.5 * dx, L / 6.0));
      const auto field = gaussian_random_field(nx, ny, dx, dy, 1.0, l, friction_random);
      const double threshold = top_fraction_threshold(field, g.outline, fraction);
      for (std::size_t c = 0; c < n; ++c)
        if (field[c] >= threshold) g.beta2[c] = 0.0;
      text += format(", zero-friction patches %.0f %%", 100.0 * fraction);
    }
  }

  // Softness: the vertical profile first (its span narrows the column range).
  const int levels = p.softness_levels;
  g.softness_sigma.resize(std::size_t(levels));
  g.softness_factor.assign(std::size_t(levels), 1.0);
  for (int kk = 0; kk < levels; ++kk) g.softness_sigma[std::size_t(kk)] = double(kk) / (levels - 1);
  std::string profile_text;
  if (softness_random.bernoulli(p.softness_profile_probability)) {
    const double ratio = softness_random.log_uniform(1.0, p.softness_profile_ratio_max);
    const double power = softness_random.uniform(1.0, 4.0);
    const double ln_ratio = portable_log(ratio);
    for (int kk = 0; kk < levels; ++kk) {
      const double depth = 1.0 - g.softness_sigma[std::size_t(kk)];
      g.softness_factor[std::size_t(kk)] =
          portable_exp(ln_ratio * (portable_pow(depth, power) - 1.0 / (power + 1.0)));
    }
    profile_text = format(", profile ratio %.2g", ratio) + format(" power %.2g", power);
  }
  const double f_max = *std::max_element(g.softness_factor.begin(), g.softness_factor.end());
  const double f_min = *std::min_element(g.softness_factor.begin(), g.softness_factor.end());
  const double a_lo = std::min(p.softness_min / f_min, p.softness_max / f_max);
  const double a_hi = p.softness_max / f_max;
  const double a0 = softness_random.log_uniform(a_lo, a_hi);
  g.softness.assign(n, a0);
  text += format("; A %.2g Pa-3 a-1", a0);
  if (softness_random.bernoulli(p.softness_variation_probability)) {
    const double s = softness_random.uniform(0.0, p.softness_log_std_max);
    const double l = softness_random.log_uniform(2.0 * dx, L_half);
    const auto field = gaussian_random_field(nx, ny, dx, dy, 1.0, l, softness_random);
    const double la0 = portable_log(a0);
    for (std::size_t c = 0; c < n; ++c)
      g.softness[c] = std::clamp(portable_exp(la0 + s * field[c]), a_lo, a_hi);
    text += format(" (ln std %.2f)", s);
  }
  text += profile_text;

  g.description = std::to_string(nx) + " x " + std::to_string(ny) + " cells, dx " +
                  length_text(dx) + ": " + text;
  return g;
}

} // namespace nunatak::core
