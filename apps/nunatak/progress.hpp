#pragma once
/// \file progress.hpp
/// A progress bar on stderr for long work: redrawn in place on a terminal,
/// a line every 10 % otherwise (log files), silent on ranks other than 0.

#include <chrono>
#include <string>

namespace nunatak::app {

/// Shows progress of `total` units of work labelled `label`.
class ProgressBar {
public:
  ProgressBar(std::string label, double total, bool enabled = true);
  ~ProgressBar();
  /// Reports that `done` units are complete; `status` is shown after the bar.
  void update(double done, const std::string& status = "");
  /// Completes the bar (also done by the destructor).
  void finish();

private:
  std::string m_label;
  double m_total;
  bool m_enabled, m_tty, m_finished = false;
  int m_last_decile = -1;
  std::chrono::steady_clock::time_point m_start;
};

} // namespace nunatak::app
