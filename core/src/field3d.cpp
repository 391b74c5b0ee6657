#include "nunatak/core/field3d.hpp"

#include "nunatak/core/error.hpp"

namespace nunatak::core {

Field3D::Field3D(std::shared_ptr<const ParallelGrid> grid, FieldInfo info,
                 std::vector<double> sigma, double fill)
    : m_grid(std::move(grid)), m_info(std::move(info)), m_sigma(std::move(sigma)) {
  if (m_sigma.size() < 2 || m_sigma.front() != 0.0 || m_sigma.back() != 1.0)
    throw Error("field '" + m_info.name + "': sigma levels must run from 0 to 1 (at least 2)");
  for (size_t k = 1; k < m_sigma.size(); ++k)
    if (!(m_sigma[k] > m_sigma[k - 1]))
      throw Error("field '" + m_info.name + "': sigma levels must increase");
  m_view = View3D(m_info.name, m_grid->box().gym, m_grid->box().gxm, m_sigma.size());
  Kokkos::deep_copy(m_view, fill);
}

Field2D Field3D::level(int k) const {
  Field2D out(m_grid, m_info);
  const View3D v = m_view;
  const View2D o = out.view();
  Kokkos::parallel_for(
      "core::field3d_level",
      Kokkos::MDRangePolicy<Kokkos::Rank<2>>({0, 0}, {int(v.extent(0)), int(v.extent(1))}),
      KOKKOS_LAMBDA(int j, int i) { o(j, i) = v(j, i, k); });
  return out;
}

std::vector<double> uniform_sigma(int n) {
  if (n < 2) throw Error("need at least 2 sigma levels, got " + std::to_string(n));
  std::vector<double> s(static_cast<size_t>(n));
  for (int k = 0; k < n; ++k) s[size_t(k)] = double(k) / double(n - 1);
  s.back() = 1.0;
  return s;
}

} // namespace nunatak::core
