// The discrete Blatter-Pattyn problem on a patch: element loops (labelled
// Kokkos kernels over the patch's elements) of the energy, its gradient and
// its Hessian. Equations and units: nunatak/solver/bp_problem.hpp.

#include "nunatak/solver/bp_problem.hpp"

#include "bp_kernels.hpp"
#include "nunatak/core/error.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace nunatak::solver {

using bp::KernelData;

struct BPProblem::Impl {
  core::BPPatch patch;
  KernelData kernel;
  BodyForce body_force;
  double body_force_x = 0, body_force_y = 0;
  std::vector<double> dirichlet_scale; // [y][x]
};

namespace {

/// Copies a [y][x] array of the patch into a 2-D View.
template <class View, class T>
void copy_columns(const core::BPPatch& p, const std::vector<T>& from, View& to) {
  auto host = Kokkos::create_mirror_view(to);
  for (int j = 0; j < p.ny; ++j)
    for (int i = 0; i < p.nx; ++i) host(j, i) = from[p.column(j, i)];
  Kokkos::deep_copy(to, host);
}

/// Fills the kernels' Views from the patch (allocated to its sizes).
void load_patch(const core::BPPatch& p, KernelData& m, std::vector<double>& dirichlet_scale) {
  const core::BPConstants& c = p.constants;
  m.nx = p.nx;
  m.ny = p.ny;
  m.nz = p.nz;
  m.xs = p.xs;
  m.ys = p.ys;
  m.xm = p.xm;
  m.ym = p.ym;
  m.ex0 = p.ex0;
  m.ex1 = p.ex1;
  m.ey0 = p.ey0;
  m.ey1 = p.ey1;
  m.dx = p.dx;
  m.dy = p.dy;
  m.rheology = bp::Rheology{c.glen_exponent, 0.0, c.regularisation2};
  m.friction = bp::Friction{c.friction_exponent, c.friction_regularisation2};
  m.sliding = std::find(p.bed_fixed.begin(), p.bed_fixed.end(), 0) != p.bed_fixed.end();
  m.rho_g = c.rho_g;
  m.inv_rho_g = 1.0 / c.rho_g;
  m.sea_level = c.sea_level;
  m.water_ratio = c.water_ratio;
  m.coo_ni = p.ex1 - p.ex0 + 1;
  if (int(m.hardness.extent(0)) != p.ny || int(m.hardness.extent(1)) != p.nx ||
      int(m.hardness.extent(2)) != p.nz) {
    m.hardness = bp::View3D("bp::hardness", p.ny, p.nx, p.nz);
    m.thickness_eff = bp::View2D("bp::thickness_eff", p.ny, p.nx);
    m.bed = bp::View2D("bp::bed", p.ny, p.nx);
    m.surface = bp::View2D("bp::surface", p.ny, p.nx);
    m.beta2 = bp::View2D("bp::beta2", p.ny, p.nx);
    m.filled = bp::Flags2D("bp::filled", p.ny, p.nx);
    m.node_free = bp::Flags2D("bp::node_free", p.ny, p.nx);
    m.bed_fixed = bp::Flags2D("bp::bed_fixed", p.ny, p.nx);
    m.front_faces = bp::Flags2D("bp::front_faces", p.ny, p.nx);
    m.sigma = bp::View1D("bp::sigma", p.nz);
    m.dirichlet = bp::View2D("bp::dirichlet", p.ny, p.nx);
  }
  std::vector<double> H_eff(p.thickness.size()), surface(p.thickness.size());
  for (std::size_t n = 0; n < p.thickness.size(); ++n) {
    H_eff[n] = std::max(p.thickness[n], c.minimum_thickness);
    surface[n] = p.bed[n] + p.thickness[n];
  }
  copy_columns(p, H_eff, m.thickness_eff);
  copy_columns(p, p.bed, m.bed);
  copy_columns(p, surface, m.surface);
  copy_columns(p, p.beta2, m.beta2);
  copy_columns(p, p.element_filled, m.filled);
  copy_columns(p, p.node_free, m.node_free);
  copy_columns(p, p.bed_fixed, m.bed_fixed);
  copy_columns(p, p.front_faces, m.front_faces);
  auto B = Kokkos::create_mirror_view(m.hardness);
  for (int j = 0; j < p.ny; ++j)
    for (int i = 0; i < p.nx; ++i)
      for (int k = 0; k < p.nz; ++k) B(j, i, k) = p.hardness[p.node(j, i, k)];
  Kokkos::deep_copy(m.hardness, B);
  auto sigma = Kokkos::create_mirror_view(m.sigma);
  for (int k = 0; k < p.nz; ++k) sigma(k) = p.sigma[std::size_t(k)];
  Kokkos::deep_copy(m.sigma, sigma);

  // Fixed rows: the viscous diagonal for a strain rate of 1e-3 per year with
  // the column's mean hardness.
  dirichlet_scale.assign(p.thickness.size(), 0.0);
  for (int j = 0; j < p.ny; ++j)
    for (int i = 0; i < p.nx; ++i) {
      double B_mean = 0.0;
      for (int k = 0; k < p.nz; ++k) B_mean += p.hardness[p.node(j, i, k)] / p.nz;
      const bp::Rheology r{c.glen_exponent, B_mean, c.regularisation2};
      const double hz = H_eff[p.column(j, i)] / (p.nz - 1);
      dirichlet_scale[p.column(j, i)] = 2.0 * bp::viscosity(r, 1e-6) / c.rho_g *
                                        (p.dx * p.dy / hz + p.dx * hz / p.dy + p.dy * hz / p.dx);
    }
  copy_columns(p, dirichlet_scale, m.dirichlet);
}

/// Tabulates the body force at the volume quadrature points of the patch's
/// elements (on the host, where the function lives).
void tabulate_body_force(const core::BPPatch& p, const BodyForce& force, double x_first,
                         double y_first, KernelData& m) {
  m.has_body_force = bool(force);
  const std::size_t n = m.has_body_force ? m.element_count() * 16 : 0;
  m.body_force_q = bp::View1D("bp::body_force_q", n);
  if (!m.has_body_force) return;
  auto F = Kokkos::create_mirror_view(m.body_force_q);
  for (int j = p.ey0; j < p.ey1; ++j)
    for (int i = p.ex0; i < p.ex1; ++i)
      for (int k = 0; k < p.nz - 1; ++k)
        for (int q = 0; q < 8; ++q) {
          double phi[8], dphi[8][3], x = 0, y = 0, z = 0;
          bp::shape(bp::gauss(q & 1), bp::gauss((q >> 1) & 1), bp::gauss(q >> 2), phi, dphi);
          for (int a = 0; a < 8; ++a) {
            const int ja = j + bp::node_dj(a), ia = i + bp::node_di(a), ka = k + bp::node_dk(a);
            const std::size_t col = p.column(ja, ia);
            x += phi[a] * (x_first + ia * p.dx);
            y += phi[a] * (y_first + ja * p.dy);
            z += phi[a] *
                 (p.bed[col] + p.sigma[std::size_t(ka)] *
                                   std::max(p.thickness[col], p.constants.minimum_thickness));
          }
          const std::array<double, 2> f = force(x, y, z);
          const std::size_t b = m.body_force_index(j, i, k, q);
          F(b) = f[0];
          F(b + 1) = f[1];
        }
  Kokkos::deep_copy(m.body_force_q, F);
}

/// The patch's elements (j, i, k), named by their lowest corner.
Kokkos::MDRangePolicy<Kokkos::Rank<3>> element_range(const KernelData& m) {
  return Kokkos::MDRangePolicy<Kokkos::Rank<3>>({m.ey0, m.ex0, 0}, {m.ey1, m.ex1, m.nz - 1});
}

} // namespace

BPProblem::BPProblem(core::BPPatch patch) : m_impl(std::make_unique<Impl>()) {
  patch.check("bp problem");
  m_impl->patch = std::move(patch);
  load_patch(m_impl->patch, m_impl->kernel, m_impl->dirichlet_scale);
}

BPProblem::~BPProblem() = default;
BPProblem::BPProblem(BPProblem&&) noexcept = default;
BPProblem& BPProblem::operator=(BPProblem&&) noexcept = default;

void BPProblem::set_patch(core::BPPatch patch) {
  const core::BPPatch& old = m_impl->patch;
  if (patch.nx != old.nx || patch.ny != old.ny || patch.nz != old.nz || patch.xs != old.xs ||
      patch.ys != old.ys || patch.xm != old.xm || patch.ym != old.ym || patch.ex0 != old.ex0 ||
      patch.ex1 != old.ex1 || patch.ey0 != old.ey0 || patch.ey1 != old.ey1)
    throw Error("bp problem: a new patch must keep the box, owned columns and element range");
  patch.check("bp problem");
  m_impl->patch = std::move(patch);
  load_patch(m_impl->patch, m_impl->kernel, m_impl->dirichlet_scale);
  tabulate_body_force(m_impl->patch, m_impl->body_force, m_impl->body_force_x, m_impl->body_force_y,
                      m_impl->kernel);
}

const core::BPPatch& BPProblem::patch() const {
  return m_impl->patch;
}

void BPProblem::set_body_force(BodyForce force, double x_first, double y_first) {
  m_impl->body_force = std::move(force);
  m_impl->body_force_x = x_first;
  m_impl->body_force_y = y_first;
  tabulate_body_force(m_impl->patch, m_impl->body_force, x_first, y_first, m_impl->kernel);
}

const BodyForce& BPProblem::body_force() const {
  return m_impl->body_force;
}

double BPProblem::dirichlet_scale(int j, int i) const {
  return m_impl->dirichlet_scale[m_impl->patch.column(j, i)];
}

double BPProblem::energy(const double* x_data) const {
  const KernelData m = m_impl->kernel; // the kernels capture this copy
  const bp::ConstNodeView x(x_data, m.ny, m.nx, m.nz, 2);
  double sum = 0.0;
  Kokkos::parallel_reduce(
      "bp::energy", element_range(m),
      KOKKOS_LAMBDA(int j, int i, int k, double& local) {
        if (bp::element_is_filled(m, j, i)) local += bp::element_energy(m, x, j, i, k);
      },
      sum);
  return sum;
}

namespace {

/// Sums the element gradients of the filled elements at `x` (node values, or
/// bp::ZeroVelocity) into `g_data` (the patch's nodes, overwritten).
template <class X>
void sum_element_gradients(const KernelData& m, const X& x, double* g_data, const char* label) {
  const bp::NodeView g(g_data, m.ny, m.nx, m.nz, 2);
  Kokkos::deep_copy(g, 0.0);
  Kokkos::parallel_for(
      label, element_range(m), KOKKOS_LAMBDA(int j, int i, int k) {
        if (!bp::element_is_filled(m, j, i)) return;
        bp::ElementData e;
        double ru[8], rv[8];
        bp::element_gradient(m, x, j, i, k, e, ru, rv);
        for (int a = 0; a < 8; ++a) {
          if (e.fixed[a]) continue;
          const int ja = j + bp::node_dj(a), ia = i + bp::node_di(a), ka = k + bp::node_dk(a);
          Kokkos::atomic_add(&g(ja, ia, ka, 0), ru[a]);
          Kokkos::atomic_add(&g(ja, ia, ka, 1), rv[a]);
        }
      });
}

} // namespace

void BPProblem::gradient(const double* x_data, double* g_data) const {
  const KernelData m = m_impl->kernel;
  sum_element_gradients(m, bp::ConstNodeView(x_data, m.ny, m.nx, m.nz, 2), g_data, "bp::gradient");
}

void BPProblem::gradient_at_rest(double* g_data) const {
  sum_element_gradients(m_impl->kernel, bp::ZeroVelocity{}, g_data, "bp::gradient_at_rest");
}

std::size_t BPProblem::hessian_size() const {
  const core::BPPatch& p = m_impl->patch;
  return std::size_t(p.ey1 - p.ey0 + 1) * std::size_t(p.ex1 - p.ex0 + 1) * std::size_t(p.nz) * 108;
}

std::size_t BPProblem::hessian_index(int j, int i, int k, int c, int dj, int di, int dk,
                                     int c2) const {
  return m_impl->kernel.coo_index(j, i, k, c, dj, di, dk, c2);
}

namespace {

/// Visits every Hessian slot in index order, visit(slot, row, column):
/// nodes of the box [ey0, ey1] x [ex0, ex1] in [y][x][z] order, then the
/// component c, the neighbour offset (dj, di, dk) and its component c2, so
/// that rows (box dofs, [y][x][z][c]) never decrease and, within a row,
/// columns increase. column is -1 where the slot is unused (see
/// BPProblem::hessian_pattern for which entries are used).
template <class Visit>
void visit_hessian_slots(const core::BPPatch& p, const KernelData& m, const Visit& visit) {
  // True if an element e in [lo, hi) holds nodes a and b (e and e + 1) along one direction.
  const auto share = [](int a, int b, int lo, int hi) {
    return std::max(std::max(a, b) - 1, lo) <= std::min(std::min(a, b), hi - 1);
  };
  const auto dof = [&](int j, int i, int k, int c) {
    return std::int64_t(p.node(j, i, k) * 2 + size_t(c));
  };
  // True if a filled element (lowest corner in [ey0, ey1) x [ex0, ex1)) holds
  // columns (j, i) and (j2, i2): only filled elements are integrated.
  const auto filled_element_holds = [&](int j, int i, int j2, int i2) {
    for (int ej = std::max(std::max(j, j2) - 1, p.ey0); ej <= std::min(std::min(j, j2), p.ey1 - 1);
         ++ej)
      for (int ei = std::max(std::max(i, i2) - 1, p.ex0);
           ei <= std::min(std::min(i, i2), p.ex1 - 1); ++ei)
        if (p.element_filled[p.column(ej, ei)]) return true;
    return false;
  };
  for (int j = p.ey0; j <= p.ey1; ++j)
    for (int i = p.ex0; i <= p.ex1; ++i) {
      const bool owned = j >= p.ys && j < p.ys + p.ym && i >= p.xs && i < p.xs + p.xm;
      // Whether columns (j, i) and (j + dj, i + di) share a filled element:
      // once per column pair, not per slot.
      bool coupled[3][3];
      for (int dj = -1; dj <= 1; ++dj)
        for (int di = -1; di <= 1; ++di)
          coupled[dj + 1][di + 1] = share(j, j + dj, p.ey0, p.ey1) &&
                                    share(i, i + di, p.ex0, p.ex1) &&
                                    filled_element_holds(j, i, j + dj, i + di);
      for (int k = 0; k < p.nz; ++k) {
        // Whether node (j, i, k) couples with its neighbour n = 9 (dj + 1) +
        // 3 (di + 1) + dk + 1: rows and columns of fixed nodes are 0 (off
        // the diagonal).
        bool couples[27];
        const bool free_row = !p.fixed(j, i, k);
        for (int n = 0; n < 27; ++n) {
          const int dj = n / 9 - 1, di = (n / 3) % 3 - 1, k2 = k + n % 3 - 1;
          couples[n] = free_row && k2 >= 0 && k2 < p.nz && coupled[dj + 1][di + 1] &&
                       !p.fixed(j + dj, i + di, k2);
        }
        for (int c = 0; c < 2; ++c) {
          const std::int64_t row = dof(j, i, k, c);
          for (int n = 0; n < 27; ++n) {
            const int dj = n / 9 - 1, di = (n / 3) % 3 - 1, dk = n % 3 - 1;
            const std::size_t e = m.coo_index(j, i, k, c, dj, di, dk, 0);
            for (int c2 = 0; c2 < 2; ++c2) {
              const bool diagonal = n == 13 && c2 == c;
              visit(e + std::size_t(c2), row,
                    (diagonal && owned) || couples[n] ? dof(j + dj, i + di, k + dk, c2)
                                                      : std::int64_t(-1));
            }
          }
        }
      }
    }
}

} // namespace

template <class Int>
void BPProblem::hessian_pattern(std::vector<Int>& rows, std::vector<Int>& cols) const {
  rows.assign(hessian_size(), -1);
  cols.assign(hessian_size(), -1);
  visit_hessian_slots(m_impl->patch, m_impl->kernel,
                      [&](std::size_t slot, std::int64_t row, std::int64_t column) {
                        rows[slot] = Int(row);
                        cols[slot] = Int(column);
                      });
}

template <class Int>
void BPProblem::hessian_csr_pattern(std::vector<Int>& row_start, std::vector<Int>& columns,
                                    std::vector<std::uint8_t>& offset) const {
  const core::BPPatch& p = m_impl->patch;
  if (p.ey0 != 0 || p.ex0 != 0 || p.ey1 != p.ny - 1 || p.ex1 != p.nx - 1)
    throw Error("internal: hessian_csr_pattern needs a patch whose elements span its box");
  row_start.assign(p.size() + 1, 0);
  columns.clear();
  columns.reserve(hessian_size()); // untouched pages cost no memory
  offset.resize(hessian_size());
  // Slots come row by row with increasing columns (visit_hessian_slots), and
  // on such a patch no two slots name the same entry: append, no sort.
  // row_start[row + 1] follows the row's end; row_start[row] is final.
  visit_hessian_slots(
      m_impl->patch, m_impl->kernel, [&](std::size_t slot, std::int64_t row, std::int64_t column) {
        if (column < 0) {
          offset[slot] = hessian_unused_slot;
        } else {
          offset[slot] = std::uint8_t(Int(columns.size()) - row_start[std::size_t(row)]);
          columns.push_back(Int(column));
        }
        row_start[std::size_t(row) + 1] = Int(columns.size());
      });
}

template void BPProblem::hessian_pattern(std::vector<int>&, std::vector<int>&) const;
template void BPProblem::hessian_pattern(std::vector<long>&, std::vector<long>&) const;
template void BPProblem::hessian_pattern(std::vector<long long>&, std::vector<long long>&) const;
template void BPProblem::hessian_csr_pattern(std::vector<int>&, std::vector<int>&,
                                             std::vector<std::uint8_t>&) const;
template void BPProblem::hessian_csr_pattern(std::vector<long>&, std::vector<long>&,
                                             std::vector<std::uint8_t>&) const;
template void BPProblem::hessian_csr_pattern(std::vector<long long>&, std::vector<long long>&,
                                             std::vector<std::uint8_t>&) const;

namespace {

/// Adds the element Hessians of the filled elements to the slots they touch:
/// add(row, slot, value) with slot = coo_index(node a, component c, offset to
/// node b, component c2) and row = node a's box dof (node index * 2 + c).
template <class Add>
void add_element_hessians(const KernelData& m, const double* x_data, const Add& add) {
  const bp::ConstNodeView x(x_data, m.ny, m.nx, m.nz, 2);
  Kokkos::parallel_for(
      "bp::hessian", element_range(m), KOKKOS_LAMBDA(int j, int i, int k) {
        if (!bp::element_is_filled(m, j, i)) return;
        double K[256];
        bp::element_hessian(m, x, j, i, k, K);
        for (int a = 0; a < 8; ++a) {
          const int ja = j + bp::node_dj(a), ia = i + bp::node_di(a), ka = k + bp::node_dk(a);
          const std::size_t node =
              (std::size_t(ja) * std::size_t(m.nx) + std::size_t(ia)) * std::size_t(m.nz) +
              std::size_t(ka);
          for (int b = 0; b < 8; ++b) {
            const int dj = bp::node_dj(b) - bp::node_dj(a), di = bp::node_di(b) - bp::node_di(a),
                      dk = bp::node_dk(b) - bp::node_dk(a);
            for (int c = 0; c < 2; ++c) {
              const std::size_t slot = m.coo_index(ja, ia, ka, c, dj, di, dk, 0);
              const std::size_t row = node * 2 + std::size_t(c);
              add(row, slot, K[(a * 2 + c) * 16 + b * 2]);
              add(row, slot + 1, K[(a * 2 + c) * 16 + b * 2 + 1]);
            }
          }
        }
      });
}

} // namespace

void BPProblem::start_dual_stress() {
  KernelData& k = m_impl->kernel;
  const std::size_t size = k.element_count() * 40; // 8 Gauss points x 5 components
  if (k.dual.extent(0) != size)
    k.dual = bp::FloatView1D("bp::dual", size);
  else
    Kokkos::deep_copy(k.dual, 0.0f);
  k.dual_stress = true;
}

void BPProblem::update_dual_stress(const double* x_old, const double* x_new, double step) {
  if (!m_impl->kernel.dual_stress) start_dual_stress();
  const KernelData m = m_impl->kernel;
  const bp::ConstNodeView x0(x_old, m.ny, m.nx, m.nz, 2), x1(x_new, m.ny, m.nx, m.nz, 2);
  Kokkos::parallel_for(
      "bp::dual_stress", element_range(m), KOKKOS_LAMBDA(int j, int i, int k) {
        if (bp::element_is_filled(m, j, i)) bp::update_element_dual(m, x0, x1, step, j, i, k);
      });
}

void BPProblem::clear_dual_stress() {
  m_impl->kernel.dual_stress = false;
  m_impl->kernel.dual = bp::FloatView1D("bp::dual", 0);
}

namespace {

/// The nodes of the owned columns, (j, i, k).
Kokkos::MDRangePolicy<Kokkos::Rank<3>> owned_node_range(const KernelData& m) {
  return Kokkos::MDRangePolicy<Kokkos::Rank<3>>({m.ys, m.xs, 0}, {m.ys + m.ym, m.xs + m.xm, m.nz});
}

} // namespace

void BPProblem::add_fixed_rows(const double* x_data, double* f_data) const {
  const KernelData m = m_impl->kernel;
  const bp::ConstNodeView x(x_data, m.ny, m.nx, m.nz, 2);
  const bp::NodeView f(f_data, m.ny, m.nx, m.nz, 2);
  Kokkos::parallel_for(
      "bp::fixed_rows", owned_node_range(m), KOKKOS_LAMBDA(int j, int i, int k) {
        if (!m.fixed(j, i, k)) return;
        f(j, i, k, 0) += m.dirichlet(j, i) * x(j, i, k, 0);
        f(j, i, k, 1) += m.dirichlet(j, i) * x(j, i, k, 1);
      });
}

void BPProblem::add_fixed_diagonal(double* values_data) const {
  const KernelData m = m_impl->kernel;
  const Kokkos::View<double*, bp::KernelMemory, Kokkos::MemoryTraits<Kokkos::Unmanaged>> values(
      values_data, hessian_size());
  Kokkos::parallel_for(
      "bp::fixed_diagonal", owned_node_range(m), KOKKOS_LAMBDA(int j, int i, int k) {
        if (!m.fixed(j, i, k)) return;
        for (int c = 0; c < 2; ++c)
          values(m.coo_index(j, i, k, c, 0, 0, 0, c)) += m.dirichlet(j, i);
      });
}

void BPProblem::hessian(const double* x_data, double* values_data) const {
  const KernelData m = m_impl->kernel;
  const Kokkos::View<double*, bp::KernelMemory, Kokkos::MemoryTraits<Kokkos::Unmanaged>> values(
      values_data, hessian_size());
  Kokkos::deep_copy(values, 0.0);
  add_element_hessians(
      m, x_data, KOKKOS_LAMBDA(std::size_t, std::size_t slot, double v) {
        Kokkos::atomic_add(&values(slot), v);
      });
}

void BPProblem::hessian_compressed(const double* x_data, const std::int32_t* row_base,
                                   const std::uint8_t* offset, double* values_data,
                                   std::size_t entries) const {
  const KernelData m = m_impl->kernel;
  using Unmanaged = Kokkos::MemoryTraits<Kokkos::Unmanaged>;
  const Kokkos::View<double*, Kokkos::HostSpace, Unmanaged> values(values_data, entries);
  const Kokkos::View<const std::int32_t*, Kokkos::HostSpace, Unmanaged> base(
      row_base, std::size_t(m.nx) * std::size_t(m.ny) * std::size_t(m.nz) * 2);
  const Kokkos::View<const std::uint8_t*, Kokkos::HostSpace, Unmanaged> within(offset,
                                                                               hessian_size());
  Kokkos::deep_copy(values, 0.0);
  // Unused slots receive only zeros: rows and columns of fixed nodes, which
  // element_hessian zeroes.
  add_element_hessians(
      m, x_data, KOKKOS_LAMBDA(std::size_t row, std::size_t slot, double v) {
        if (within(slot) != hessian_unused_slot)
          Kokkos::atomic_add(&values(std::size_t(base(row)) + within(slot)), v);
      });
}

} // namespace nunatak::solver
