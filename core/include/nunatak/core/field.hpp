#pragma once
/// \file field.hpp
/// A named 2-D field on the local (ghosted) box of a ParallelGrid, stored in a
/// labelled Kokkos View. Values are SI (metadata says which units); NaN means
/// "no data" (masked) where a field allows it, e.g. observations.

#include "nunatak/core/parallel_grid.hpp"

#include <Kokkos_Core.hpp>

#include <memory>
#include <string>
#include <vector>

namespace nunatak::core {

/// Row-major [y][x] 2-D view in the default memory space.
using View2D = Kokkos::View<double**, Kokkos::LayoutRight>;

/// What a field is: its name in files (PISM conventions) and its units.
struct FieldInfo {
  std::string name;          ///< variable name, e.g. "thk"
  std::string long_name;     ///< e.g. "land ice thickness"
  std::string standard_name; ///< CF standard name, "" if CF has none
  std::string units;         ///< SI units of the stored values, e.g. "m s-1"
  std::string output_units;  ///< units in files and for users, e.g. "m year-1"
  /// For flag fields (masks): the CF flag_values / flag_meanings; empty otherwise.
  std::vector<int> flag_values;
  std::string flag_meanings;
};

/// A 2-D field: metadata plus a View over the rank's ghosted box.
class Field2D {
public:
  /// Allocates the local ghosted box of `grid`, filled with `fill`. The View's
  /// label is the field's name.
  Field2D(std::shared_ptr<const ParallelGrid> grid, FieldInfo info, double fill = 0.0);

  const FieldInfo& info() const { return m_info; }
  FieldInfo& info() { return m_info; }
  const ParallelGrid& grid() const { return *m_grid; }
  std::shared_ptr<const ParallelGrid> grid_ptr() const { return m_grid; }
  /// The data, indexed view(j_local, i_local) with LocalBox::lj / li.
  View2D view() const { return m_view; }

private:
  std::shared_ptr<const ParallelGrid> m_grid;
  FieldInfo m_info;
  View2D m_view;
};

} // namespace nunatak::core
