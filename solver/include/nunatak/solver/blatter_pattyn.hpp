#pragma once
/// \file blatter_pattyn.hpp
/// The Blatter-Pattyn (first-order Stokes) stress balance on PETSc: a thin
/// driver of the discrete problem of bp_problem.hpp (energy, gradient,
/// Hessian on a rank's patch of nodes).
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
///           + int_bed beta^2/(q+1) (|u|^2 + ureg^2)^((q+1)/2) dA
///           - int_front [rho g (s - z) - rho_w g max(z_sl - z, 0)] n.(u, v) dA,
///
/// whose discrete form (divided by rho g) BPProblem computes; the residual is
/// its gradient and the Jacobian its Hessian.
///
/// Boundary conditions: stress-free surface (natural); at the bed, per
/// column, either no slip (u = v = 0) or the friction law
/// tau = beta^2 (|u|^2 + ureg^2)^((q-1)/2) u (q = 1: linear, q = 1/m:
/// Weertman), with beta^2 = 0 (no traction) under floating ice;
/// laterally periodic (ISMIP-HOM) or, at the edges of a non-periodic domain,
/// natural. Ice margins: an element is ice-filled when its four columns have
/// H >= H_min (bp.minimum_thickness) and only those are integrated (as in
/// PISM); nodes that touch none are fixed at u = v = 0. Land margins are
/// natural; marine fronts (the neighbouring element has an ice-free column
/// with its bed at or below sea level) carry the ocean-pressure
/// (calving-front) load, the last term of E. core/bp_patch.hpp states the rule.
///
/// Units and scaling: lengths in m, velocities in m/a, time in years, stresses
/// in Pa; the residual and energy are divided by rho g (as in PETSc's ex48).
///
/// Discretisation: Q1 hexahedra on uniform sigma levels, 2x2x2 Gauss points
/// (2x2 on the bed). A PETSc 3-D DMDA whose first (fastest) dimension is the
/// vertical, held by one rank, so that columns are never split and contiguous
/// in memory ([y][x][z][u,v]): its local arrays are exactly BPProblem's patch
/// arrays. Nodes sit at the 2-D grid's cell centres and the DMDA has the 2-D
/// grid's decomposition. Residual and Jacobian are DMDA local callbacks
/// (DMDASNESSetFunctionLocal with ADD_VALUES, DMDASNESSetJacobianLocal, as in
/// ex48); the Jacobian is assembled into a CSR pattern of nunatak's own on one
/// rank, with MatSetValuesCOO on several.
///
/// Solver (bp_solve.cpp): Newton (SNES, options prefix -bp_) with a line
/// search, Eisenstat-Walker and an absolute tolerance of 1e-8 of the
/// driving-stress residual; FGMRES + full geometric multigrid (Galerkin,
/// ICC(0) smoother) where the grid coarsens by 2 in every direction and ice
/// covers every column, with grid sequencing on cold starts (coarse geometry
/// made by a DMCoarsenHook),
/// GMRES + ICC(0) on the reverse Cuthill-McKee ordering elsewhere (block
/// Jacobi with such blocks on several ranks; the emulator's small samples:
/// ILU(0)); options override them. With GMRES/ICC, Newton's matrix is the
/// stress-velocity linearisation of Glen's law (BPProblem::update_dual_stress,
/// -bp_stress_velocity_newton) with the critical-point line search: same
/// residual and solution, fewer steps where margins hold Newton back. If
/// Newton fails, a robustness ladder
/// switches a stalled multigrid to GMRES/ICC(0), a stalled ICC(0) to ICC(1),
/// a stalled GMRES to FGMRES/GAMG (LU on small grids), then
/// restarts from the shallow-ice velocity and continues in the strain-rate
/// regularisation (x 1e6, 1e4, 1e2, 1 on its square).

#include "nunatak/core/field3d.hpp"
#include "nunatak/core/petsc_handle.hpp"
#include "nunatak/solver/bp_problem.hpp"
#include "nunatak/solver/column_velocity.hpp"
#include "nunatak/solver/stress_balance.hpp"

#include <memory>
#include <string>
#include <vector>

namespace nunatak::solver {

namespace bp_csr {
struct Pattern;
}

/// SNES step tolerance of the solves inside a transient model's steps
/// (update() with inputs that are not a diagnosis): Newton also stops where
/// its step changes the velocity by less than this fraction of its norm.
/// Greenland at 16 km, 15 years: 4.7 Newton steps per solve instead of 6.1;
/// the thickness at the end differs by at most 5e-5 m, the surface speed by
/// 9e-8 (relative L2) from solves to the absolute tolerance alone
/// (docs/blatter_pattyn.md). Diagnoses (`nunatak solve`, a run's output
/// fields) and direct solve() calls keep the absolute tolerance alone.
constexpr double transient_step_tolerance = 1e-5;

/// A step tolerance (transient_step_tolerance, or -bp_snes_stol) ends a
/// solve only once its residual is below this times the absolute tolerance
/// (with the default relative tolerance 1e-8: 1e-3 of the residual at zero
/// velocity), so that a stalled Newton, whose steps shrink too, does not pass.
/// Greenland's 15-year run stops at 16-15,500 times the absolute tolerance;
/// the stalled shelf run of docs/blatter_pattyn.md at 5.9e5.
constexpr double step_tolerance_residual_factor = 1e5;

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
  /// For small grids (the emulator's data set: a few thousand columns):
  /// GMRES/ILU even where the grid coarsens by 2 (no multigrid), and sparse
  /// LU (nested-dissection ordering) in place of FGMRES/GAMG as the robustness
  /// ladder's first rung when it stalls. Faster and surer there, too costly in
  /// memory on large grids.
  bool direct_fallback = false;
  /// The ladder's first rung where GMRES/ILU stalls on a grid of at most this
  /// many unknowns (2 per node) is sparse LU too, even without
  /// direct_fallback (ISMIP-HOM D at L = 20 km, 128 x 4 x 17: 17,408
  /// unknowns, where GAMG does not converge in 10,000 iterations and LU
  /// solves in 9 Newton steps); on larger grids, and on several ranks
  /// without a parallel LU (MUMPS, SuperLU_dist), it is FGMRES/GAMG. 0: never.
  long long direct_solve_unknowns = 100000;
};

/// Outcome of one nonlinear solve.
struct BPSolveReport {
  bool converged = false;
  int newton_iterations = 0;
  int krylov_iterations = 0;
  double initial_residual = 0, final_residual = 0;
  std::string reason;            ///< SNES converged reason
  int continuation_stages = 0;   ///< robustness ladder stages used (0: plain Newton converged)
  bool switched_to_icc = false;  ///< the ladder replaced geometric multigrid by GMRES/ICC
  bool switched_to_fill = false; ///< the ladder gave a stalled ICC(0) a level of fill
  /// the ladder gave a stalled ICC(0) under floating ice the column multigrid
  bool switched_to_column_multigrid = false;
  bool switched_to_gamg = false; ///< the ladder replaced the default by FGMRES/GAMG
  bool switched_to_lu = false;   ///< the ladder replaced the default by LU (small grids)
  std::string stalled_solver;    ///< the default linear solver(s) the ladder replaced
  /// A transient step's full Newton steps failed; solved again from the same
  /// start with the critical-point line search.
  bool retried_with_line_search = false;
  /// Newton's matrix was the stress-velocity linearisation (BPProblem::update_dual_stress).
  bool stress_velocity = false;
  /// Grid sequencing (cold starts on grids that coarsen by 2): coarser grids
  /// solved first, and their Newton and Krylov iterations (all coarse grids
  /// together; the counts above are the finest grid's).
  int coarse_grids = 0;
  int coarse_newton_iterations = 0, coarse_krylov_iterations = 0;
};

/// This rank's share of the discrete problem at the current solution: its
/// patch, its velocities (ghosts included), its energy and its un-assembled
/// gradient (see BPProblem), for fixtures that tie other implementations of
/// the energy (the LibTorch one) to the solver's.
struct BPPatchState {
  core::BPPatch patch;
  std::vector<double> velocity; ///< [y][x][z][c], m/a
  double energy = 0;            ///< this patch's elements, divided by rho g
  std::vector<double> gradient; ///< [y][x][z][c]
};

/// Blatter-Pattyn solver on a 2-D ParallelGrid (map plane) times `levels`.
class BlatterPattyn final : public StressBalance {
public:
  BlatterPattyn(std::shared_ptr<const core::ParallelGrid> grid, const BPParams& params);
  ~BlatterPattyn() override;
  BlatterPattyn(const BlatterPattyn&) = delete;
  BlatterPattyn& operator=(const BlatterPattyn&) = delete;

  std::string name() const override { return "bp"; }
  /// Sets the geometry from the typed inputs and solves, starting from the
  /// previous solution: the ice base from the floatation rule; beta^2 from
  /// the friction field or the uniform value; no slip where grounded when the
  /// configuration has no sliding; floating ice slides freely (no basal
  /// traction) in every case; the softness field if given. Collective; throws
  /// nunatak::Error if Newton fails.
  void update(const StressBalanceInputs& inputs) override;
  const FaceFluxes& fluxes() const override { return m_fluxes; }
  double max_diffusivity() const override { return m_limits.diffusivity; }
  double max_advection_rate() const override { return m_limits.advection_rate; }
  std::string last_solve_summary() const override;
  Velocities velocities(const std::vector<double>& sigma) const override;

  /// Sets the thickness and the elevation of the ice base (m; ghosts up to
  /// date), the friction coefficient beta^2 (Pa (m/a)^-q) and where the bed
  /// is fixed (no slip): `bed_fixed` 1 where the column's bed node is fixed,
  /// 0 where the friction law holds (beta^2 = 0: free slip, as under floating
  /// ice). Null `bed_fixed`: fixed everywhere when `beta2` is null (no slip,
  /// the default), nowhere when it is given. Collective; an invalid value on
  /// any rank is an error on every rank.
  void set_geometry(const core::Field2D& thk, const core::Field2D& base,
                    const core::Field2D* beta2 = nullptr, const core::Field2D* bed_fixed = nullptr);
  /// Ice softness A (Pa^-n s^-1) per cell and level, replacing the uniform
  /// flow.softness: the field's sigma levels are interpolated linearly to the
  /// solver's (two levels with equal values: A per cell; equal columns: A per
  /// level). Ghosts must be up to date; the enhancement factor still applies.
  /// Collective; throws nunatak::Error where A is not a positive number.
  void set_softness(const core::Field3D& softness);
  /// A body force f(x, y, z) (Pa/m) added to the momentum balance, i.e. the
  /// energy gains -int f.(u, v) dV. For manufactured-solution tests; evaluated
  /// on the host at every quadrature point. An empty function removes it.
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

  /// The discrete energy at `x` (global vector of (u, v) in m/a), divided by rho g. Collective.
  double energy(Vec x) const;
  /// Gradient of the energy (and d (u - 0) rows at fixed nodes), into `f`. Collective.
  void residual(Vec x, Vec f) const;
  /// residual() at zero velocity (the loads), equal to it at a sixth of its
  /// cost. Collective.
  void residual_at_rest(Vec f) const;
  /// Hessian of the energy (d on the diagonal of fixed rows) into `J`. Collective.
  void jacobian(Vec x, Mat J) const;
  /// This rank's patch, velocities, energy and gradient at the current solution. Collective.
  BPPatchState patch_state() const;

  /// The discrete problem on this rank's patch.
  const BPProblem& problem() const { return *m_problem; }
  /// The solution vector (u, v in m/a), the 3-D DMDA, the Jacobian matrix
  /// (null until set_geometry or solve).
  Vec solution() const { return m_solution; }
  DM dm() const { return m_dm; }
  Mat matrix() const { return m_matrix; }
  SNES snes() const { return m_snes; }
  /// True where dof `index` (local, owned) is fixed by a Dirichlet condition.
  bool is_fixed(PetscInt owned_index) const;
  /// Number of nodes per column.
  int levels() const { return m_params.levels; }
  const BPSolveReport& last_report() const { return m_report; }

  /// Column geometry as given to set_geometry (bed without the imposed
  /// trend), kept for the coarser grids of grid sequencing.
  struct Columns;

private:
  friend struct BPCallbacks;
  /// The residual on this rank's patch from local (ghosted) arrays in the
  /// kernels' memory (VecKernelReadArray, VecKernelWriteArray): the
  /// problem's gradient plus d u at owned fixed dofs (added to neighbours'
  /// rows by the caller's local-to-global ADD).
  void residual_local(const double* x, double* f) const;
  /// The Jacobian from a local (ghosted) array into `P` (MatSetValuesCOO).
  void jacobian_local(const double* x, Mat P) const;
  /// Stress-velocity Newton: at the start of Newton step `step` of `snes`,
  /// updates the problem's dual stress from the last step (BPProblem::update_dual_stress).
  void update_dual_stress(SNES snes, int step);
  /// A coarser level of grid sequencing: `dm` comes from DMCoarsen of a finer
  /// level's DMDA, which attached the coarse geometry (coarsen hook).
  BlatterPattyn(std::shared_ptr<const core::ParallelGrid> grid, const BPParams& params,
                core::DMHandle dm);
  void create_dm();
  void set_up();
  /// Reads (and registers, for -help) nunatak's own -bp_ options.
  void read_options();
  void configure_default_multigrid();
  /// GMRES + ICC(`fill`) (block Jacobi/ICC on several ranks), at most 150
  /// iterations per solve: the default (fill 0) where the grid does not
  /// coarsen by 2 or the ice has margins; fill 1 on the ladder.
  void use_incomplete_cholesky(int fill);
  /// GMRES + the two-level column multigrid (bp_column_multigrid.cpp): ICC(0)
  /// plus a coarse space of depth-constant columns solved by Cholesky.
  void use_column_multigrid();
  /// (Re)fills the column multigrid's prolongation for the current fixed dofs.
  void update_column_prolongation();
  /// -bp_column_multigrid: 1 (from the start), 0 (never) or -1 (not given:
  /// the ladder's rung where ICC(0) stalls under floating ice).
  int column_multigrid_option() const;
  /// Collective: true where some ice column and its four neighbours slide
  /// freely (floating ice).
  bool has_free_slip_ice() const;
  /// True if the user set the incomplete factorisation's levels of fill.
  bool user_gave_fill_levels() const;
  /// Collective: (re)creates the Jacobian matrix with the problem's sparsity
  /// pattern, if the ice mask that defines it changed on some rank
  /// (set_geometry); sets it on the SNES.
  void create_jacobian_matrix();
  /// Grid sequencing: solves on the grid coarsened by 2 and interpolates that
  /// solution into m_solution. False (m_solution untouched) where the grid does
  /// not coarsen or the coarse solve failed.
  bool start_from_coarser_grid(BPSolveReport& report);
  /// Collective: true if some column of the grid holds less than the minimum thickness.
  bool has_ice_free_columns() const;
  /// Replaces the default geometric multigrid by GMRES/ICC and its line
  /// search (a stalled multigrid, or a grid with ice margins).
  void switch_multigrid_to_incomplete_cholesky();
  /// Newton's matrix: the stress-velocity linearisation (`stress_velocity`,
  /// with the critical-point line search) or the exact Hessian (with the
  /// linear solver's line search: bt for multigrid, l2 otherwise). A line
  /// search the user chose is kept.
  void use_newton_linearisation(bool stress_velocity);
  /// Sets the SNES line search's type (SNESLINESEARCHCP, ...).
  void set_line_search(const char* type);
  /// True if PETSc's database holds `option` ("-snes_linesearch_type") under
  /// this solver's prefix: the user's choice, which the defaults keep.
  bool user_gave(const char* option) const;
  /// Depth-averaged velocity and upwind face fluxes of thickness `thk` (after a solve).
  void update_fluxes(const core::Field2D& thk, const core::Field2D& usurf);
  /// The rank's ghosted column velocities `x` ([y][x][z][c], m/a) as a box of the 2-D grid.
  ColumnVelocityBox column_box(const std::vector<double>& x) const;
  /// The patch of this rank for the given columns (collective: margins need ghost updates).
  core::BPPatch make_patch(const Columns& columns) const;

  std::shared_ptr<const core::ParallelGrid> m_grid;
  BPParams m_params;
  core::DMHandle m_dm;
  core::MatHandle m_matrix;
  core::SNESHandle m_snes;
  core::VecHandle m_solution;
  core::VecHandle m_previous_local; ///< stress-velocity Newton: the last iterate (ghosted)
  std::unique_ptr<BPProblem> m_problem;
  /// COO assembly: the Jacobian's 108 slots per node, in the kernels' memory
  /// (MatSetValuesCOO takes them from there: device memory for a device matrix).
  Kokkos::View<double*> m_hessian_values;
  /// COO assembly where the matrix was given only the nonzeros: their slots
  /// in m_hessian_values (empty where it was given every slot), and the
  /// gathered values.
  Kokkos::View<std::size_t*> m_coo_slots;
  Kokkos::View<double*> m_coo_values;
  /// One rank, AIJ: each slot's offset within its CSR row (bp_csr.hpp); null: COO assembly.
  std::unique_ptr<bp_csr::Pattern> m_csr;
  std::vector<std::int32_t> m_csr_row_base; ///< per box dof: where its matrix row starts
  /// element_filled, node_free and bed_fixed of the patch m_matrix's pattern was made for.
  std::vector<std::uint8_t> m_pattern_key;
  std::shared_ptr<const Columns> m_columns;
  std::vector<double> m_hardness; ///< B per node of the patch, Pa a^(1/n)
  bool m_softness_field = false;  ///< m_hardness comes from set_softness (else the flow law)
  BodyForce m_body_force;
  // The 3-D DMDA's boxes, in map-plane indices (PETSc's y = map x, z = map y).
  int m_mx = 0, m_my = 0, m_mz = 0;
  int m_xs = 0, m_ys = 0, m_xm = 0, m_ym = 0, m_gxs = 0, m_gys = 0, m_gxm = 0, m_gym = 0;
  bool m_periodic_x = false, m_periodic_y = false;
  int m_coarser_grids_allowed = 0;    ///< grid sequencing depth left (-bp_grid_sequence)
  double m_grid_sequence_rtol = 1e-4; ///< coarser grids' Newton tolerance (-bp_grid_sequence_rtol)
  bool m_coarse_stage = false;        ///< a grid-sequencing stage: no robustness ladder
  bool m_default_linear_solver = false;  ///< a default linear solver in use (no user choice)
  bool m_default_multigrid = false;      ///< the default geometric multigrid in use
  bool m_incomplete_cholesky = false;    ///< the default GMRES/ICC in use
  int m_incomplete_cholesky_fill = 0;    ///< its levels of fill
  bool m_column_multigrid = false;       ///< the column multigrid in use
  core::MatHandle m_column_prolongation; ///< its prolongation (columns -> nodes)
  int m_stress_velocity_option = -1;     ///< -bp_stress_velocity_newton: 0, 1 or -1 (not given)
  bool m_stress_velocity = false;        ///< Newton's matrix: stress-velocity linearisation
  std::string m_default_solver_name;     ///< its name, for the report
  double m_reg2 = 0;                     ///< requested strain-rate regularisation squared, a^-2
  FaceFluxes m_fluxes;
  ColumnFluxLimits m_limits; ///< of the last update's fluxes
  /// SNES step tolerance of the next solve: 0, or transient_step_tolerance
  /// for an update that advances a transient model.
  double m_step_tolerance = 0.0;
  BPSolveReport m_report;
};

} // namespace nunatak::solver
