#include "progress.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace nunatak::app {

ProgressBar::ProgressBar(std::string label, double total, bool enabled)
    : m_label(std::move(label)), m_total(total > 0 ? total : 1.0), m_enabled(enabled),
      m_tty(isatty(fileno(stderr)) != 0), m_start(std::chrono::steady_clock::now()) {}

ProgressBar::~ProgressBar() {
  finish();
}

void ProgressBar::update(double done, const std::string& status) {
  if (!m_enabled || m_finished) return;
  const double fraction = std::clamp(done / m_total, 0.0, 1.0);
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - m_start).count();
  if (m_tty) {
    const int width = 30, filled = int(fraction * width + 0.5);
    std::string bar(size_t(filled), '#');
    bar.resize(size_t(width), '.');
    fmt::print(stderr, "\r{} [{}] {:3.0f}% {:.1f}s {}\033[K", m_label, bar, 100 * fraction, elapsed,
               status);
    std::fflush(stderr);
  } else {
    // In logs: a line per 10 %, and only for work that takes a while.
    const int decile = int(fraction * 10);
    if (decile == m_last_decile || elapsed < 5.0) return;
    m_last_decile = decile;
    fmt::print(stderr, "{}: {:3.0f}% ({:.1f}s) {}\n", m_label, 100 * fraction, elapsed, status);
  }
}

void ProgressBar::finish() {
  if (!m_enabled || m_finished) return;
  update(m_total);
  m_finished = true;
  if (m_tty) fmt::print(stderr, "\n");
}

} // namespace nunatak::app
