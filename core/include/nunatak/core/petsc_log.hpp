#pragma once
/// \file petsc_log.hpp
/// Named PETSc log events, so that `-log_view` shows each phase of nunatak's
/// solvers (residual, Jacobian, SIA fluxes, ...) beside PETSc's own.

#include <petsclog.h>

namespace nunatak::core {

/// The PETSc log event called `name` (class "nunatak"), registered on first
/// use. Call after PETSc is initialised.
PetscLogEvent log_event(const char* name);

/// Times `event` from construction to destruction (nothing when logging is off).
class LogEventScope {
public:
  explicit LogEventScope(PetscLogEvent event) : m_event(event) {
    (void)PetscLogEventBegin(m_event, 0, 0, 0, 0);
  }
  ~LogEventScope() { (void)PetscLogEventEnd(m_event, 0, 0, 0, 0); }
  LogEventScope(const LogEventScope&) = delete;
  LogEventScope& operator=(const LogEventScope&) = delete;

private:
  PetscLogEvent m_event;
};

} // namespace nunatak::core
