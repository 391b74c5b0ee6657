#include "nunatak/core/grid.hpp"

#include "nunatak/core/error.hpp"

#include <cmath>
#include <sstream>

namespace nunatak::core {

std::string GridMapping::mapping_name() const {
  for (const auto& a : attributes)
    if (a.name == "grid_mapping_name")
      if (auto s = std::get_if<std::string>(&a.value)) return *s;
  return "";
}

std::string GridMapping::describe() const {
  std::ostringstream out;
  const std::string name = mapping_name();
  out << (name.empty() ? variable_name : name);
  bool first = true;
  for (const auto& a : attributes) {
    if (a.name == "grid_mapping_name") continue;
    const auto* numbers = std::get_if<std::vector<double>>(&a.value);
    if (!numbers || numbers->empty()) continue;
    out << (first ? " (" : ", ") << a.name << " = " << (*numbers)[0];
    first = false;
  }
  if (!first) out << ")";
  return out.str();
}

Grid::Grid(int nx, int ny, double dx, double dy, double x0, double y0)
    : m_nx(nx), m_ny(ny), m_dx(dx), m_dy(dy), m_x0(x0), m_y0(y0) {
  if (nx < 1 || ny < 1)
    throw Error("grid: nx and ny must be at least 1, got " + std::to_string(nx) + " x " +
                std::to_string(ny));
  if (!(dx > 0.0) || !(dy > 0.0) || !std::isfinite(dx) || !std::isfinite(dy))
    throw Error("grid: dx and dy must be positive and finite, got dx = " + std::to_string(dx) +
                " m, dy = " + std::to_string(dy) + " m");
  if (!std::isfinite(x0) || !std::isfinite(y0)) throw Error("grid: the origin must be finite");
}

std::vector<double> Grid::x_coords() const {
  std::vector<double> c(m_nx);
  for (int i = 0; i < m_nx; ++i) c[i] = x(i);
  return c;
}

std::vector<double> Grid::y_coords() const {
  std::vector<double> c(m_ny);
  for (int j = 0; j < m_ny; ++j) c[j] = y(j);
  return c;
}

bool Grid::matches(const Grid& o, double rel_tol) const {
  const double tol_x = rel_tol * m_dx, tol_y = rel_tol * m_dy;
  return m_nx == o.m_nx && m_ny == o.m_ny && std::abs(m_dx - o.m_dx) <= tol_x &&
         std::abs(m_dy - o.m_dy) <= tol_y && std::abs(m_x0 - o.m_x0) <= tol_x &&
         std::abs(m_y0 - o.m_y0) <= tol_y;
}

namespace {
/// A length in km when it is a whole number of km or large, else in m.
std::string length_text(double metres) {
  std::ostringstream out;
  if (std::abs(metres) >= 1000.0 && std::fmod(std::abs(metres), 1000.0) < 1e-6)
    out << metres / 1000.0 << " km";
  else
    out << metres << " m";
  return out.str();
}
} // namespace

std::string Grid::describe() const {
  std::ostringstream out;
  out << m_nx << " x " << m_ny << " cells, dx = " << length_text(m_dx)
      << ", dy = " << length_text(m_dy) << ", cell centres x in [" << length_text(x(0)) << ", "
      << length_text(x(m_nx - 1)) << "], y in [" << length_text(y(0)) << ", "
      << length_text(y(m_ny - 1)) << "]";
  return out.str();
}

} // namespace nunatak::core
