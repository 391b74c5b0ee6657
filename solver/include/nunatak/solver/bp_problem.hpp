#pragma once
/// \file bp_problem.hpp
/// The discrete Blatter-Pattyn problem on a patch of nodes, without PETSc: the
/// energy, its gradient and its Hessian (COO triplets), computed by Kokkos
/// element kernels from a core::BPPatch and plain arrays of velocities. The
/// PETSc solver (blatter_pattyn.hpp) drives it through DMDA local callbacks;
/// the LibTorch twin (emulator/bp_energy.hpp) is tied to it by a test
/// (tests/test_bp_energy_tie.cpp). docs/energy.md has the derivation.
///
/// Energy (velocities (u, v) in m/a, lengths in m, stresses in Pa; divided by rho g):
///
///   E(u, v) = sum over ice-filled elements of
///       int_element [ (2n/(n+1)) B (e2 + reg^2)^((n+1)/(2n)) / (rho g) + grad(s).(u, v) ] dV
///     + int_bed beta^2/(q+1) (|u|^2 + r^2)^((q+1)/2) / (rho g) dA          (when sliding)
///     - int_front [(s - z) - (rho_w/rho) max(z_sl - z, 0)] n.(u, v) dA      (marine fronts)
///     - int f.(u, v) / (rho g) dV                              (a body force, for tests)
///
/// with e2 = u_x^2 + v_y^2 + u_x v_y + (u_y + v_x)^2/4 + u_z^2/4 + v_z^2/4, the
/// hardness B interpolated trilinearly from the nodes, the surface s = b + H
/// bilinear on each element's four columns, beta^2 bilinear on its bed face.
/// Discretisation: Q1 hexahedra, z = b + sigma max(H, H_min), 2x2x2 Gauss
/// points (2x2 on the bed; 3 along a front face and 2 on each side of sea
/// level vertically). Fixed nodes (BPPatch::fixed) take the value 0 whatever
/// the input holds, so the gradient and Hessian rows and columns of fixed
/// nodes are 0.

#include "nunatak/core/bp_patch.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

namespace nunatak::solver {

/// A body force f(x, y, z) (Pa/m) added to the momentum balance (the energy
/// gains -int f.(u, v) dV); for manufactured-solution tests.
using BodyForce = std::function<std::array<double, 2>(double x, double y, double z)>;

/// Marks, in a compressed Hessian's per-slot offsets, a slot that names no entry.
inline constexpr std::uint8_t hessian_unused_slot = 255;

/// The discrete Blatter-Pattyn problem on one patch (see the file comment).
class BPProblem {
public:
  /// Checks `patch` (BPPatch::check) and copies it into the kernels' memory.
  explicit BPProblem(core::BPPatch patch);
  ~BPProblem();
  BPProblem(BPProblem&&) noexcept;
  BPProblem& operator=(BPProblem&&) noexcept;
  BPProblem(const BPProblem&) = delete;
  BPProblem& operator=(const BPProblem&) = delete;

  /// Replaces geometry, parameters and masks. The box, owned columns and
  /// element range must be those of the current patch (the Hessian's
  /// pattern stays); throws nunatak::Error otherwise.
  void set_patch(core::BPPatch patch);
  const core::BPPatch& patch() const;

  /// Tabulates a body force at the quadrature points; `x_first`, `y_first`
  /// are the coordinates (m) of the box's first column. An empty function removes it.
  void set_body_force(BodyForce force, double x_first, double y_first);
  const BodyForce& body_force() const;

  /// The arrays below (velocities, gradients, Hessian values) are in the
  /// memory of Kokkos' default execution space (bp::KernelMemory: the host
  /// in a Serial or OpenMP build), as VecGetArrayAndMemType hands out
  /// PETSc's; hessian_compressed's are on the host.
  ///
  /// This patch's energy (its elements only) at velocities `x` (patch.size()
  /// values, [y][x][z][c], m/a), divided by rho g (so in m^4 a^-1).
  double energy(const double* x) const;
  /// The gradient of energy() on the patch's nodes into `g` (patch.size()
  /// values, overwritten; 0 at fixed nodes). Adding the patches' gradients at
  /// shared nodes gives the global gradient.
  void gradient(const double* x, double* g) const;
  /// gradient() at x = 0 (the loads: driving stress, front pressure, body
  /// force), equal to it, without the viscous and friction terms that vanish
  /// there: a sixth of its cost.
  void gradient_at_rest(double* g) const;

  /// The Hessian's COO pattern in local dof numbering (dof = 2 node + c):
  /// 108 entries per node of the box [ey0, ey1] x [ex0, ex1] x levels (the 27
  /// neighbours of the stencil times 2 x 2 components); the column is -1 where
  /// no filled element of the patch holds both nodes or either node is fixed
  /// (those entries are 0), except on the diagonal of owned dofs, which is
  /// always an entry (the solver's fixed rows use it). The pattern follows the
  /// patch's element_filled, node_free and bed_fixed.
  /// `Int` is int, long or long long (PETSc's PetscInt is one of them).
  std::size_t hessian_size() const;
  template <class Int>
  void hessian_pattern(std::vector<Int>& rows, std::vector<Int>& cols) const;
  /// The same pattern in compressed rows over the box's dofs ([y][x][z][c]),
  /// for a patch whose elements span its box (one rank, not periodic):
  /// row_start (size() + 1 offsets), each row's columns in increasing order,
  /// and per slot its entry's index within its row (hessian_unused_slot where
  /// unused). What bp_csr::make_pattern makes of hessian_pattern there,
  /// without its sort. Throws nunatak::Error on another patch.
  template <class Int>
  void hessian_csr_pattern(std::vector<Int>& row_start, std::vector<Int>& columns,
                           std::vector<std::uint8_t>& offset) const;
  /// Position in the COO arrays of the entry (row: node (j, i, k) component
  /// c; column: the node offset by (dj, di, dk) in {-1, 0, 1}, component c2).
  std::size_t hessian_index(int j, int i, int k, int c, int dj, int di, int dk, int c2) const;
  /// The Hessian of energy() at `x` into `values` (hessian_size() values,
  /// overwritten; rows and columns of fixed nodes are 0).
  void hessian(const double* x, double* values) const;
  /// Adds the fixed rows d (u - 0) of the owned columns (d: dirichlet_scale)
  /// to a gradient `f` at `x`: the solver's residual there.
  void add_fixed_rows(const double* x, double* f) const;
  /// Adds their diagonal d to hessian() `values`: the solver's Jacobian.
  void add_fixed_diagonal(double* values) const;
  /// The same Hessian summed straight into compressed-row storage: slot s
  /// (hessian_index), whose row is the box dof r (node(j, i, k) * 2 + c),
  /// adds to values[row_base[r] + offset[s]], skipped where offset[s] is
  /// hessian_unused_slot; `values` (`entries` long) is zeroed first. For a
  /// CSR matrix whose pattern comes from hessian_pattern (bp_csr.hpp) or
  /// hessian_csr_pattern, row_base[r] being the start of r's matrix row.
  void hessian_compressed(const double* x, const std::int32_t* row_base, const std::uint8_t* offset,
                          double* values, std::size_t entries) const;

  /// Stress-velocity Newton (Isaac, Stadler and Ghattas 2015; Rudi, Shih and
  /// Stadler 2020): a dual stress kept at every quadrature point, in whose
  /// direction hessian() and hessian_compressed() take one side of Glen's
  /// rank-one term (symmetrised; still positive definite) instead of the
  /// strain rate's, from start_dual_stress() until clear_dual_stress().
  /// Starts the dual stress at 0: the matrix is then Picard's (the viscous
  /// operator at the current viscosity, no rank-one term).
  void start_dual_stress();
  /// After a Newton step from `x_old` to `x_new` (ghosted patch arrays) of
  /// length `step`, updates the dual stress by the linearised flow law
  /// (bp_kernels.hpp, update_element_dual); starts it first if needed.
  void update_dual_stress(const double* x_old, const double* x_new, double step);
  /// Back to the exact Hessian (frees the dual stress).
  void clear_dual_stress();

  /// Scale of the fixed rows d (u - 0) = 0 that the solver adds for column
  /// (j, i): 2 eta_ref / (rho g) (dx dy/hz + dx hz/dy + dy hz/dx), the
  /// viscous diagonal for a strain rate of 1e-3 a^-1, so that fixed rows do
  /// not spoil the conditioning (as in ex48).
  double dirichlet_scale(int j, int i) const;

private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

} // namespace nunatak::solver
