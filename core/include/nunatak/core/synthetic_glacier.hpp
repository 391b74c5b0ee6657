#pragma once
/// \file synthetic_glacier.hpp
/// Random synthetic glaciers for the emulator's training set (`nunatak
/// emulator dataset`, issue 10): the inputs of a Blatter-Pattyn solve on a
/// small grid (at most about 128 x 128 cells), drawn from a seed. Standard
/// library only (part of nunatak::core_base), no PETSc, no LibTorch.
///
/// Units: m (lengths, elevations above sea level z_sl = 0), Pa, years:
/// beta^2 in Pa (m/a)^-1 (linear friction law tau_b = beta^2 u_b), softness A
/// in Pa^-3 a^-1. Fields are row-major [y][x]; cell (i, j) has its centre at
/// (i dx, j dy).
///
/// What is drawn (U: uniform, LU: log-uniform, p: probability; the numbers are
/// the defaults of SyntheticGlacierParams):
///
/// - Grid: nx ~ U{32..96}, ny ~ U{32..96}, dx ~ LU[50 m, 20 km], dy = dx.
///   L = max(nx, ny) dx is the domain size.
/// - Bed: a plane of regional slope |grad| ~ U[0, min(0.08, 1500 m / L)]
///   (random direction; down the valley for a valley glacier) plus a Gaussian
///   random field of covariance sigma^2 exp(-r^2 / l^2), l ~ LU[3 dx, L],
///   sigma = min(f L, 800 m, 0.07 l / 2) with f ~ LU[0.02, 0.1] (the last cap
///   keeps the field's rms slope 2 sigma / l below 0.07). Land (p = 0.75):
///   lowest bed ~ U[0, 2500 m]; marine (p = 0.25): shifted so that a fraction
///   ~ U[0.1, 0.5] of the domain lies below sea level.
/// - Outline, kept one cell inside the domain edge: an ellipse (p = 0.6;
///   random centre, orientation, aspect ~ U[1, 2.5]) or a valley (p = 0.4):
///   a glacier along x or y whose centre line follows the bed's low (the
///   least-elevation path, smoothed) down the regional slope, of half-width
///   w ~ U[0.08, 0.22] x the domain's width, ending in a rounded snout; the bed
///   is carved there by a parabolic trough.
/// - Thickness: yield stress tau ~ U[50, 150] kPa, k = 2 tau / (rho_i g), d
///   the distance from the cell centre to the outline (to the nearest centre
///   outside it, less dx / 2). Perfectly plastic (Nye; p = 0.75):
///   H^2 = k d. Vialov-like (the steady SMB profile of an n = 3 ice cap;
///   p = 0.25): H = sqrt(k R) (1 - (1 - d / R)^(4/3))^(3/8), R = max d.
///   The outline is sized so that H <= 3000 m; H >= H_min (10 m) on the
///   glacier, 0 outside. This gives about 50-500 m of ice at dx = 50-100 m
///   and up to 3000 m at ice-sheet scales; at dx <= 200 m, 95 % of the
///   glacier's surface slopes lie below about 0.3 (the plastic profile of
///   thin ice is steep: |grad H| = tau / (rho g H)).
/// - Calving fronts (marine glaciers, p = 0 by default): the ocean is the cells
///   connected to the domain's edge through cells whose bed lies below a
///   coast level z <= 0, z the highest level at which it takes at most a
///   share ~ U[0.05, 0.4] of the glacier's cells (bisection); the ice there
///   is removed and the glacier ends in cliffs of the thickness its profile
///   gave it, as tidewater glaciers and the fjord fronts of ice sheets do at
///   coarse spacing. Nothing is cut if the ocean cannot reach the glacier.
/// - Friction: beta^2 = beta0 exp(s G), beta0 ~ LU[1e2, 1e5] Pa (m/a)^-1,
///   s ~ U[0, 1], G a unit random field (clamped to [1e2, 1e5]); fast-sliding
///   patches (p = 0.5: the top fraction ~ U[0.05, 0.3] of the glacier's cells
///   of another field, beta^2 times LU[1e-3, 1e-1]); zero-friction patches
///   (p = 0.3: fraction ~ U[0.02, 0.1], beta^2 = 0). No-slip samples (p = 0.1)
///   have no patches; their beta^2 is the background (the solver ignores it).
/// - Softness: A(x, sigma) = softness(x) factor(sigma) within [1e-18, 1e-15]
///   Pa^-3 a^-1: the column value is LU over that range (shrunk by the
///   profile's span), with a spatial variation exp(s G), s ~ U[0, 0.5]
///   (p = 0.5); the vertical profile (p = 0.5; else factor = 1) is
///   factor = r^((1 - sigma)^p - 1 / (p + 1)), r ~ LU[1, 10], p ~ U[1, 4]:
///   softer near the bed, depth-mean of ln factor zero.
///
/// Reproducibility: the same seed gives bitwise the same glacier on every
/// platform with IEEE-754 doubles. The generator uses its own random numbers
/// (xoshiro256** seeded by splitmix64, Box-Muller for normals, no
/// std::*_distribution), its own exp, log and sin/cos (polynomials in +, -,
/// *, /; std::sqrt is correctly rounded), its own FFT, fixed summation order,
/// and its source is compiled without floating-point contraction
/// (-ffp-contract=off, core/CMakeLists.txt).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace nunatak::core {

/// A portable pseudo-random stream: xoshiro256** (Blackman and Vigna 2018),
/// its state seeded by splitmix64 from (seed, stream). Same numbers on every
/// platform; independent streams for different `stream` values.
class Random {
public:
  /// The stream `stream` of seed `seed`.
  explicit Random(std::uint64_t seed, std::uint64_t stream = 0);
  /// The next 64 random bits.
  std::uint64_t next();
  /// Uniform on [0, 1), 53 random bits.
  double uniform();
  /// Uniform on [a, b).
  double uniform(double a, double b);
  /// Log-uniform on [a, b) (0 < a <= b).
  double log_uniform(double a, double b);
  /// Uniform integer in [lo, hi] (lo <= hi), unbiased.
  int integer(int lo, int hi);
  /// True with probability p.
  bool bernoulli(double p);
  /// Standard normal (Box-Muller with nunatak's portable log and sin/cos).
  double normal();

private:
  std::uint64_t m_state[4];
  double m_spare = 0.0;
  bool m_has_spare = false;
};

/// A stationary Gaussian random field on nx x ny cells of dx x dy metres,
/// mean 0, covariance sigma^2 exp(-r^2 / l^2) with l = `correlation_length`
/// (the correlation is 1/e at distance l). Spectral synthesis: complex white
/// noise times the square root of the Gaussian spectrum, inverse FFT on a
/// periodic grid padded by 3 l (so that the periodic images do not correlate
/// the cells; the padding is at most 4 nx, 4 ny), cropped. The variance is
/// sigma^2 exactly (the spectrum is normalised on the padded grid). Row-major
/// [y][x]. Throws nunatak::Error on non-positive sizes, spacing or length, or
/// negative sigma.
std::vector<double> gaussian_random_field(int nx, int ny, double dx, double dy, double sigma,
                                          double correlation_length, Random& random);

/// The ranges that synthetic glaciers are drawn from (see the file comment for
/// the distributions). Units: m, Pa, years.
struct SyntheticGlacierParams {
  // Grid
  int nx_min = 32, nx_max = 96; ///< cells along x, uniform integer (at most 512)
  int ny_min = 32, ny_max = 96; ///< cells along y, uniform integer (at most 512)
  double dx_min = 50.0;         ///< m, grid spacing, log-uniform (dy = dx)
  double dx_max = 20000.0;      ///< m

  // Bed
  double bed_correlation_min_cells = 3.0;  ///< shortest correlation length, in cells
  double bed_correlation_max_fraction = 1; ///< longest, as a fraction of L
  double bed_relief_fraction_min = 0.02;   ///< sigma = f L, f log-uniform in [min, max]
  double bed_relief_fraction_max = 0.1;    ///< (before the caps below)
  double bed_relief_max = 800.0;           ///< m, cap on sigma
  double bed_rms_slope_max = 0.07;         ///< cap on the field's rms slope 2 sigma / l
  double regional_slope_max = 0.08;        ///< regional slope ~ U[0, min(this, drop / L)]
  double regional_drop_max = 1500.0;       ///< m, regional slope times L at most this
  double base_elevation_max = 2500.0;      ///< m, lowest bed of a land sample ~ U[0, this]
  double marine_probability = 0.25;        ///< part of the domain below sea level
  double marine_fraction_min = 0.1;        ///< fraction of the domain below sea level,
  double marine_fraction_max = 0.5;        ///< uniform in [min, max]
  double calving_probability = 0.0;        ///< a marine glacier ends in calving cliffs
  double calving_fraction_min = 0.05;      ///< share of the glacier's cells the ocean takes,
  double calving_fraction_max = 0.4;       ///< uniform in [min, max] (a target)

  // Outline and thickness
  double valley_probability = 0.4;  ///< valley glacier, else an elliptic ice cap
  double vialov_probability = 0.25; ///< Vialov-like profile, else perfectly plastic
  double yield_stress_min = 50e3;   ///< Pa, tau ~ U[min, max]
  double yield_stress_max = 150e3;  ///< Pa
  double ice_density = 910.0;       ///< rho_i, kg m^-3
  double gravity = 9.81;            ///< g, m s^-2
  double max_thickness = 3000.0;    ///< m, the outline is sized so that H stays below
  double minimum_thickness = 10.0;  ///< H_min, m: least thickness on the glacier

  // Basal friction (linear law), Pa (m/a)^-1
  double beta2_min = 1e2;              ///< background beta^2 ~ LU[min, max]
  double beta2_max = 1e5;              ///< and its spatial variation is clamped to these
  double beta2_log_std_max = 1.0;      ///< std of ln beta^2 ~ U[0, this]
  double fast_patch_probability = 0.5; ///< patches of fast sliding
  double fast_fraction_min = 0.05;     ///< their share of the glacier's cells ~ U[min, max]
  double fast_fraction_max = 0.3;      ///<
  double fast_factor_min = 1e-3;       ///< beta^2 multiplied there by LU[min, max]
  double fast_factor_max = 1e-1;       ///<
  double zero_patch_probability = 0.3; ///< patches of zero friction (beta^2 = 0)
  double zero_fraction_min = 0.02;     ///< their share of the glacier's cells ~ U[min, max]
  double zero_fraction_max = 0.1;      ///<
  double no_slip_probability = 0.1;    ///< no-slip bed (no patches)

  // Softness, Pa^-3 a^-1
  double softness_min = 1e-18;                 ///< A in [min, max], log-uniform column value
  double softness_max = 1e-15;                 ///<
  double softness_log_std_max = 0.5;           ///< std of ln A across the map ~ U[0, this]
  double softness_variation_probability = 0.5; ///< a spatially varying A
  double softness_profile_probability = 0.5;   ///< a vertical profile (softer near the bed)
  double softness_profile_ratio_max = 10.0;    ///< ratio r of the profile ~ LU[1, this]
  int softness_levels = 11;                    ///< sigma levels of the profile, 0..1

  /// Throws nunatak::Error naming the first parameter out of range (a min
  /// above its max, a probability outside [0, 1], a non-positive length or
  /// density, grids smaller than 8 or larger than 512 cells, ...).
  void check() const;
};

/// The outline of an elliptic ice cap: the cells whose centre lies inside.
struct EllipseOutline {
  double x_centre = 0.0,
         y_centre = 0.0;   ///< m, in the grid's coordinates (cell (i, j) at (i dx, j dy))
  double semi_major = 0.0; ///< a, m
  double semi_minor = 0.0; ///< b, m (<= a)
  double angle = 0.0;      ///< radians, from the x axis to the major axis
};

/// The outline's shape.
enum class OutlineKind { ellipse, valley };
/// The thickness profile across the outline.
enum class ProfileKind { plastic, vialov };

/// One synthetic glacier: the inputs of a Blatter-Pattyn solve (see the file
/// comment). Arrays are row-major [y][x], nx * ny values.
struct SyntheticGlacier {
  int nx = 0, ny = 0;
  double dx = 0.0, dy = 0.0;          ///< m
  std::vector<double> thk;            ///< ice thickness H, m (0 outside the outline)
  std::vector<double> topg;           ///< bed elevation, m above sea level
  std::vector<double> beta2;          ///< basal friction beta^2, Pa (m/a)^-1 (>= 0)
  std::vector<double> softness;       ///< column softness A, Pa^-3 a^-1
  std::vector<double> softness_sigma; ///< levels of the profile, 0 (bed) .. 1 (surface)
  std::vector<double>
      softness_factor; ///< A(x, sigma) = softness(x) factor(sigma); all 1 without profile
  std::vector<std::uint8_t> outline; ///< 1 on the glacier (H >= H_min), 0 elsewhere
  bool no_slip = false;              ///< the bed is fixed (no sliding) in every column
  bool marine = false;               ///< part of the domain has its bed below sea level
  bool calving_front = false;        ///< the ocean cut the glacier: cliffs at marine fronts
  double sea_level = 0.0;            ///< m
  double yield_stress = 0.0;         ///< tau of the thickness profile, Pa
  OutlineKind outline_kind = OutlineKind::ellipse;
  ProfileKind profile_kind = ProfileKind::plastic;
  std::optional<EllipseOutline> ellipse; ///< the ellipse, for an elliptic outline
  std::string description;               ///< one line: what was drawn
};

/// Draws the synthetic glacier number `seed` from `params` (which it checks
/// first: nunatak::Error if out of range). Same seed and params: bitwise the
/// same glacier on every platform.
SyntheticGlacier make_synthetic_glacier(const SyntheticGlacierParams& params, std::uint64_t seed);

} // namespace nunatak::core
