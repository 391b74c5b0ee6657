#pragma once
/// \file grid.hpp
/// The map-plane grid: a regular (x, y) lattice of cell centres, in metres, with
/// the coordinate reference system of the data it came from.
///
/// Arrays on this grid are row-major `[y][x]` (x fastest), which is Fortran's
/// `a(nx, ny)` and NetCDF's `(y, x)`.

#include <string>
#include <variant>
#include <vector>

namespace nunatak::core {

/// One metadata attribute: text or numbers, as NetCDF stores them.
struct Attribute {
  std::string name;
  std::variant<std::string, std::vector<double>> value;
};

/// The CF `grid_mapping` of a data set: the variable's name and attributes,
/// copied verbatim from the input so that outputs keep the projection.
struct GridMapping {
  std::string variable_name;         ///< e.g. "polar_stereographic" or "crs"
  std::vector<Attribute> attributes; ///< e.g. grid_mapping_name, standard_parallel, ...

  /// The value of `grid_mapping_name`, or "" when absent.
  std::string mapping_name() const;
  /// One line: the mapping name and its numeric parameters.
  std::string describe() const;
};

/// A regular grid of nx × ny cells of size dx × dy (metres). Cell (i, j) has
/// its centre at (x0 + i dx, y0 + j dy).
class Grid {
public:
  /// Checks nx, ny >= 1 and dx, dy > 0 (finite); throws nunatak::Error otherwise.
  Grid(int nx, int ny, double dx, double dy, double x0, double y0);

  int nx() const { return m_nx; }
  int ny() const { return m_ny; }
  double dx() const { return m_dx; }
  double dy() const { return m_dy; }
  /// Centre of the first cell (i = 0, j = 0).
  double x0() const { return m_x0; }
  double y0() const { return m_y0; }
  /// Cell-centre coordinates, metres.
  double x(int i) const { return m_x0 + i * m_dx; }
  double y(int j) const { return m_y0 + j * m_dy; }
  /// Total number of cells.
  long long size() const { return static_cast<long long>(m_nx) * m_ny; }
  /// Map-plane area of one cell, m^2.
  double cell_area() const { return m_dx * m_dy; }
  /// All cell-centre x (y) coordinates, metres.
  std::vector<double> x_coords() const;
  std::vector<double> y_coords() const;

  /// True if both grids have the same size and, to `rel_tol` of the spacing,
  /// the same spacing and origin.
  bool matches(const Grid& other, double rel_tol = 1e-6) const;
  /// "106 x 181 cells, dx = 16 km, dy = 16 km, x in [-720, 960] km, ..."
  std::string describe() const;

  /// The source's CRS, when it stated one.
  const GridMapping* mapping() const {
    return m_mapping.variable_name.empty() ? nullptr : &m_mapping;
  }
  void set_mapping(GridMapping mapping) { m_mapping = std::move(mapping); }

private:
  int m_nx, m_ny;
  double m_dx, m_dy, m_x0, m_y0;
  GridMapping m_mapping;
};

} // namespace nunatak::core
