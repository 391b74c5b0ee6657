// Signal handlers of a run (signal_scope.hpp).

#include "signal_scope.hpp"

#include <csignal>

namespace nunatak::app {

namespace {

model::RunSignals* active_signals = nullptr;

extern "C" void on_stop_signal(int) {
  if (active_signals) active_signals->stop = 1;
}
extern "C" void on_checkpoint_signal(int) {
  if (active_signals) active_signals->checkpoint = 1;
}

} // namespace

SignalScope::SignalScope(model::RunSignals& signals) {
  active_signals = &signals;
  m_term = std::signal(SIGTERM, on_stop_signal);
  m_int = std::signal(SIGINT, on_stop_signal);
  m_usr1 = std::signal(SIGUSR1, on_checkpoint_signal);
}

SignalScope::~SignalScope() {
  std::signal(SIGTERM, m_term);
  std::signal(SIGINT, m_int);
  std::signal(SIGUSR1, m_usr1);
  active_signals = nullptr;
}

} // namespace nunatak::app
