#pragma once
/// \file field3d.hpp
/// A 3-D field on terrain-following levels: the rank's ghosted map-plane box
/// times `levels` sigma levels, stored [y][x][z] with z fastest, so that a
/// column is contiguous (Fortran's a(nz, nx, ny)).

#include "nunatak/core/field.hpp"

#include <vector>

namespace nunatak::core {

/// Row-major [y][x][z] 3-D view.
using View3D = Kokkos::View<double***, Kokkos::LayoutRight>;

/// A field on sigma levels: sigma = (z - bed) / thickness in [0, 1].
class Field3D {
public:
  /// Allocates the ghosted box times `sigma.size()` levels (at least 2,
  /// increasing from 0 to 1), filled with `fill`.
  Field3D(std::shared_ptr<const ParallelGrid> grid, FieldInfo info, std::vector<double> sigma,
          double fill = 0.0);

  const FieldInfo& info() const { return m_info; }
  const ParallelGrid& grid() const { return *m_grid; }
  /// Sigma of each level, from 0 (base) to 1 (surface).
  const std::vector<double>& sigma() const { return m_sigma; }
  int levels() const { return int(m_sigma.size()); }
  /// The data, indexed view(j_local, i_local, k).
  View3D view() const { return m_view; }

  /// Level k as a new 2-D field (for gathering and writing).
  Field2D level(int k) const;

private:
  std::shared_ptr<const ParallelGrid> m_grid;
  FieldInfo m_info;
  std::vector<double> m_sigma;
  View3D m_view;
};

/// `n` equally spaced sigma levels from 0 to 1.
std::vector<double> uniform_sigma(int n);

} // namespace nunatak::core
