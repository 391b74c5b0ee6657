#include "nunatak/core/field.hpp"

namespace nunatak::core {

Field2D::Field2D(std::shared_ptr<const ParallelGrid> grid, FieldInfo info, double fill)
    : m_grid(std::move(grid)), m_info(std::move(info)),
      m_view(m_info.name, m_grid->box().gym, m_grid->box().gxm) {
  Kokkos::deep_copy(m_view, fill);
}

} // namespace nunatak::core
