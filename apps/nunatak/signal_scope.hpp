#pragma once
/// \file signal_scope.hpp
/// The signal handlers of a run (`run`, `ensemble`): SIGTERM and SIGINT ask
/// it to write a checkpoint and stop, SIGUSR1 to write a checkpoint and go on.

#include "nunatak/model/simulation.hpp"

namespace nunatak::app {

/// Installs the handlers that set `signals` for its lifetime, and restores
/// the earlier ones when it ends.
class SignalScope {
public:
  explicit SignalScope(model::RunSignals& signals);
  ~SignalScope();
  SignalScope(const SignalScope&) = delete;
  SignalScope& operator=(const SignalScope&) = delete;

private:
  void (*m_term)(int), (*m_int)(int), (*m_usr1)(int);
};

} // namespace nunatak::app
