#include "nunatak/core/petsc_log.hpp"

#include "nunatak/core/petsc_check.hpp"

#include <map>
#include <string>

namespace nunatak::core {

PetscLogEvent log_event(const char* name) {
  static PetscClassId class_id = 0;
  static std::map<std::string, PetscLogEvent> events;
  if (class_id == 0) NUNATAK_PETSC(PetscClassIdRegister("nunatak", &class_id));
  auto found = events.find(name);
  if (found != events.end()) return found->second;
  PetscLogEvent event = 0;
  NUNATAK_PETSC(PetscLogEventRegister(name, class_id, &event));
  events.emplace(name, event);
  return event;
}

} // namespace nunatak::core
