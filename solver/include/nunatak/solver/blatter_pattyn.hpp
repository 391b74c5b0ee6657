#pragma once
/// \file blatter_pattyn.hpp
/// The Blatter-Pattyn (first-order Stokes) stress balance on PETSc.
///
/// Equations for the horizontal velocity (u, v), with effective viscosity
/// eta = (B/2) (e2 + reg^2)^((1-n)/(2n)), B = (E A)^(-1/n), and
/// e2 = u_x^2 + v_y^2 + u_x v_y + (u_y + v_x)^2/4 + u_z^2/4 + v_z^2/4:
///
///   -(2 eta (2 u_x + v_y))_x - (eta (u_y + v_x))_y - (eta u_z)_z + rho g s_x = 0
///   -(2 eta (2 v_y + u_x))_y - (eta (u_y + v_x))_x - (eta v_z)_z + rho g s_y = 0
///
/// They are the Euler-Lagrange equations of the energy
///
///   E(u, v) = int_ice [ (2n/(n+1)) B (e2 + reg^2)^((n+1)/(2n)) + rho g grad(s).(u, v) ] dV
///           + int_bed beta^2/(q+1) (|u|^2 + ureg^2)^((q+1)/2) dA,
///
/// whose discrete form is computed by `energy`; `residual` is its gradient and
/// `jacobian` its Hessian (tested with finite differences).
///
/// Boundary conditions: stress-free surface (natural); at the bed either no
/// slip (u = v = 0) or the friction law above (q = 1: linear sliding with
/// beta^2, q = 1/m: Weertman); laterally periodic (ISMIP-HOM) or, at the edges
/// of a non-periodic domain, natural. Ice margins: a column is icy when
/// H >= H_min; an element is ice-filled when its four columns are icy, and only
/// ice-filled elements are integrated (as in PISM); nodes that touch no
/// ice-filled element are fixed at u = v = 0. On the lateral faces of the
/// ice-filled region the condition is natural (the reduced equations'
/// traction-free condition, i.e. the ice outside pushes back with its
/// cryostatic pressure) at land margins, and at marine fronts (the neighbouring
/// element holds an ice-free column whose bed is at or below sea level) the
/// ocean-pressure (calving-front) condition
///
///   2 eta (2 u_x + v_y, (u_y + v_x)/2) . n = [rho g (s - z) - rho_w g max(z_sl - z, 0)] n_x, ...
///
/// enters the energy as - int_front [(s - z) - (rho_w/rho) max(z_sl - z, 0)] n.(u, v) dA
/// (divided by rho g; linear in the velocity, so it adds to the residual only).
///
/// Units and scaling: lengths in m, velocities in m/a, time in years, stresses
/// in Pa; the residual and energy are divided by rho g so that they are O(1)
/// for O(1) velocity gradients (as in PETSc's ex48).
///
/// Discretisation: Q1 hexahedra on terrain-following levels (sigma uniform),
/// 2x2x2 Gauss points, 2x2 on the bed; a PETSc 3-D DMDA whose first (fastest)
/// dimension is the vertical, held by one rank, so that columns are never split
/// and contiguous in memory ([y][x][z][u,v]). Nodes sit at the 2-D grid's cell
/// centres and the DMDA has the 2-D grid's decomposition. Element kernels are
/// labelled Kokkos loops; the Jacobian is assembled with MatSetValuesCOO.
/// Newton (SNES, options prefix -bp_) with line search, Eisenstat-Walker and
/// an absolute tolerance of 1e-8 of the driving-stress residual; the linear
/// solver and preconditioner default to FGMRES + full geometric multigrid
/// (Galerkin, ICC(0) smoother, grid sequencing on cold starts) where the grid
/// coarsens by 2 in every direction, GMRES + block-Jacobi/ILU(0) elsewhere,
/// and options override them. If Newton fails, a robustness ladder switches a
/// stalled GMRES/ILU to FGMRES/GAMG, then restarts from the shallow-ice
/// velocity and continues in the strain-rate regularisation (x 1e6, 1e4,
/// 1e2, 1 on its square).

#include "nunatak/core/field3d.hpp"
#include "nunatak/solver/stress_balance.hpp"

#include <petscsnes.h>

#include <array>
#include <functional>
#include <memory>
#include <string>

namespace nunatak::solver {

/// Parameters of the Blatter-Pattyn solver.
struct BPParams {
  FlowLaw flow;                             ///< n, A (SI), E, rho, g
  int levels = 9;                           ///< nodes per column
  double minimum_thickness = 10.0;          ///< m
  double strain_rate_regularisation = 1e-5; ///< a^-1
  bool no_slip = true;                      ///< else friction with beta^2 and q
  double friction_exponent = 1.0;           ///< q (1: linear)
  double sliding_regularisation = 1e-3;     ///< m/a, in the friction law
  double surface_trend_x = 0.0;       ///< extra ds/dx added to the geometry (ISMIP-HOM slopes)
  double uniform_beta2 = 0.0;         ///< beta^2 used by update() when sliding (Pa (m/a)^-q)
  bool ocean_pressure = true;         ///< calving-front condition at marine fronts
  double sea_level = 0.0;             ///< m, for the ocean pressure and marine fronts
  double sea_water_density = 1028.0;  ///< kg m^-3
  std::string options_prefix = "bp_"; ///< PETSc options prefix
};

/// Outcome of one nonlinear solve.
struct BPSolveReport {
  bool converged = false;
  int newton_iterations = 0;
  int krylov_iterations = 0;
  double initial_residual = 0, final_residual = 0;
  std::string reason;            ///< SNES converged reason
  int continuation_stages = 0;   ///< robustness ladder stages used (0: plain Newton converged)
  bool switched_to_gamg = false; ///< the ladder replaced GMRES/ILU by FGMRES/GAMG
  /// Grid sequencing (cold starts on grids that coarsen by 2): coarser grids
  /// solved first, and their Newton and Krylov iterations (all coarse grids
  /// together; the counts above are the finest grid's).
  int coarse_grids = 0;
  int coarse_newton_iterations = 0, coarse_krylov_iterations = 0;
};

/// Blatter-Pattyn solver on a 2-D ParallelGrid (map plane) times `levels`.
class BlatterPattyn final : public StressBalance {
public:
  BlatterPattyn(std::shared_ptr<const core::ParallelGrid> grid, const BPParams& params);
  ~BlatterPattyn() override;
  BlatterPattyn(const BlatterPattyn&) = delete;
  BlatterPattyn& operator=(const BlatterPattyn&) = delete;

  std::string name() const override { return "bp"; }
  /// Sets the geometry from thk and usurf (bed = usurf - thk) and solves,
  /// starting from the previous solution.
  void update(const StressBalanceInputs& inputs) override;
  const FaceFluxes& fluxes() const override { return m_fluxes; }
  double max_diffusivity() const override { return 0.0; }
  double max_advection_rate() const override { return m_max_advection_rate; }
  std::string last_solve_summary() const override;
  Velocities velocities(const std::vector<double>& sigma) const override;

  /// Sets thickness and bed (m; ghosts up to date) and, for sliding, beta^2
  /// (Pa a m^-1; may be null for no-slip). Collective.
  void set_geometry(const core::Field2D& thk, const core::Field2D& bed,
                    const core::Field2D* beta2 = nullptr);
  /// Ice softness A (Pa^-n s^-1) per cell and level, replacing the uniform
  /// flow.softness: the field's sigma levels are interpolated linearly to the
  /// solver's (two levels with equal values: A per cell; equal columns: A per
  /// level). Ghosts must be up to date; the enhancement factor still applies.
  /// Throws nunatak::Error where A is not a positive number.
  void set_softness(const core::Field3D& softness);
  /// A body force f(x, y, z) (Pa/m) added to the momentum balance, i.e. the
  /// energy gains -int f.(u, v) dV. For manufactured-solution tests; evaluated
  /// on the host at every quadrature point. An empty function removes it.
  using BodyForce = std::function<std::array<double, 2>(double x, double y, double z)>;
  void set_body_force(BodyForce force);

  /// Collective: Newton solve from the current velocity. When the current one
  /// is zero (a cold start), Newton starts from the solution on the grid
  /// coarsened by 2, interpolated (grid sequencing, recursively, down to about
  /// 16 nodes across and 5 levels; `-bp_grid_sequence N` allows at most N
  /// coarser grids, 0 none), or from the shallow-ice velocity where the grid
  /// does not coarsen or has ice-free columns.
  BPSolveReport solve();
  /// Sets the solution to the local shallow-ice velocity of the geometry.
  void set_sia_initial_guess();

  /// The discrete energy at `x` (global vector of (u, v) in m/a), divided by rho g.
  double energy(Vec x) const;
  /// Gradient of the energy (and u - 0 rows at fixed nodes), into `f`.
  void residual(Vec x, Vec f) const;
  /// Hessian of the energy into `J` (assembled with MatSetValuesCOO).
  void jacobian(Vec x, Mat J) const;

  /// The solution vector (u, v in m/a), the 3-D DMDA, the Jacobian matrix.
  Vec solution() const { return m_solution; }
  DM dm() const { return m_dm; }
  Mat matrix() const { return m_matrix; }
  SNES snes() const { return m_snes; }
  /// True where dof `index` (local, owned) is fixed by a Dirichlet condition.
  bool is_fixed(PetscInt owned_index) const;
  /// Number of nodes per column.
  int levels() const { return m_params.levels; }
  const BPSolveReport& last_report() const { return m_report; }

private:
  void configure_default_multigrid();
  /// Grid sequencing: solves on the grid coarsened by 2 and interpolates that
  /// solution into m_solution. False (m_solution untouched) where the grid does
  /// not coarsen or the coarse solve failed.
  bool start_from_coarser_grid(BPSolveReport& report);
  int m_coarser_grids_allowed = -1; ///< grid sequencing depth left (-1: from options)
  bool m_coarse_stage = false;      ///< a grid-sequencing stage: no robustness ladder
  bool m_default_ilu = false;       ///< default GMRES/ILU in use (no multigrid, no user choice)
  struct Impl;
  std::unique_ptr<Impl> m_impl;
  std::shared_ptr<const core::ParallelGrid> m_grid;
  BPParams m_params;
  DM m_dm = nullptr;
  Mat m_matrix = nullptr;
  SNES m_snes = nullptr;
  Vec m_solution = nullptr;
  FaceFluxes m_fluxes;
  double m_max_advection_rate = 0.0;
  BPSolveReport m_report;
};

} // namespace nunatak::solver
