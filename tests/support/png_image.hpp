#pragma once
/// \file png_image.hpp
/// A PNG read back with cairo, for tests that check drawn pixels.

#include <cairo.h>
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace nunatak::test {

/// A PNG read back into memory, with pixel access as 0..255 RGB.
struct Image {
  int width = 0, height = 0;
  std::vector<std::array<int, 3>> rgb;
  explicit Image(const std::string& file) {
    cairo_surface_t* s = cairo_image_surface_create_from_png(file.c_str());
    EXPECT_EQ(cairo_surface_status(s), CAIRO_STATUS_SUCCESS) << file;
    if (cairo_surface_status(s) == CAIRO_STATUS_SUCCESS) {
      cairo_surface_flush(s);
      width = cairo_image_surface_get_width(s);
      height = cairo_image_surface_get_height(s);
      const int stride = cairo_image_surface_get_stride(s);
      const unsigned char* data = cairo_image_surface_get_data(s);
      for (int y = 0; y < height; ++y)
        for (int x = 0; x < width; ++x) {
          std::uint32_t p;
          std::memcpy(
              &p, data + static_cast<std::size_t>(y) * stride + 4 * static_cast<std::size_t>(x), 4);
          rgb.push_back({int(p >> 16 & 0xff), int(p >> 8 & 0xff), int(p & 0xff)});
        }
    }
    cairo_surface_destroy(s);
  }
  const std::array<int, 3>& at(int x, int y) const {
    return rgb.at(static_cast<std::size_t>(y) * width + x);
  }
};

inline bool near(const std::array<int, 3>& p, const std::array<double, 3>& c, int tol = 3) {
  for (int k = 0; k < 3; ++k)
    if (std::abs(p[k] - static_cast<int>(std::lround(c[k] * 255))) > tol) return false;
  return true;
}

} // namespace nunatak::test
