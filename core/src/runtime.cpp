#include "nunatak/core/runtime.hpp"

#include "nunatak/core/error.hpp"
#include "nunatak/core/petsc_check.hpp"

#include <Kokkos_Core.hpp>
#include <petscsys.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <iterator>
#include <sstream>
#include <string>

namespace nunatak::core {

namespace {

bool is_option_name(const std::string& t) {
  return t.size() > 1 && t[0] == '-' &&
         (std::isalpha(static_cast<unsigned char>(t[1])) || t[1] == '_');
}

} // namespace

PetscOptionList parse_petsc_options(const std::vector<std::string>& tokens,
                                    const std::string& source) {
  PetscOptionList options;
  for (size_t k = 0; k < tokens.size(); ++k) {
    const std::string& t = tokens[k];
    if (!is_option_name(t)) {
      // A value belongs to the name just before it, and a name has at most one.
      if (options.empty() || !options.back().second.empty())
        throw Error(source + ": '" + t + "' is not a PETSc option" +
                    (options.empty()
                         ? ""
                         : " (after " + options.back().first +
                               (options.back().second.empty() ? "" : " " + options.back().second) +
                               ", which takes at most one value)") +
                    "; options start with '-' and a letter, e.g. -bp_snes_monitor or "
                    "-bp_snes_max_it 20");
      options.back().second = t;
      continue;
    }
    options.push_back({t, ""});
  }
  return options;
}

PetscOptionList parse_petsc_options(const std::string& text, const std::string& source) {
  std::istringstream in(text);
  const std::vector<std::string> tokens{std::istream_iterator<std::string>(in),
                                        std::istream_iterator<std::string>()};
  return parse_petsc_options(tokens, source);
}

void check_petsc(PetscErrorCode code, const char* call) {
  if (code == 0) return;
  const char* text = nullptr;
  char* specific = nullptr; // the message of the error raised (SETERRQ, PetscError), if any
  PetscErrorMessage(code, &text, &specific);
  std::string message =
      std::string("PETSc error in ") + call + ": " + (text ? text : "unknown error");
  if (specific && *specific) message += ": " + std::string(specific);
  throw Error(message + " (code " + std::to_string(static_cast<int>(code)) + ")");
}

Runtime::Runtime(MPI_Comm comm, const std::vector<std::string>& petsc_options) : m_comm(comm) {
  int mpi_ready = 0;
  MPI_Initialized(&mpi_ready);
  if (!mpi_ready) {
    int provided = 0;
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
    m_owns_mpi = true;
  }
  MPI_Comm_rank(m_comm, &m_rank);
  MPI_Comm_size(m_comm, &m_size);

  std::vector<std::string> tokens;
  for (const auto& option : petsc_options) {
    std::istringstream in(option);
    tokens.insert(tokens.end(), std::istream_iterator<std::string>(in),
                  std::istream_iterator<std::string>());
  }
  const PetscOptionList options = parse_petsc_options(tokens, "PETSc options");
  auto set = [](const std::pair<std::string, std::string>& option) {
    NUNATAK_PETSC(PetscOptionsSetValue(nullptr, option.first.c_str(),
                                       option.second.empty() ? nullptr : option.second.c_str()));
  };

  PetscBool petsc_ready = PETSC_FALSE;
  PetscInitialized(&petsc_ready);
  std::vector<std::string> from_environment;
  if (!petsc_ready) {
    PETSC_COMM_WORLD = m_comm;
    // Options that act inside PetscInitialize (-log_view, -info,
    // -malloc_debug, -options_left) go into the database before it, else
    // they would do nothing (and be reported as never used).
    for (const auto& option : options) set(option);
    // No argv: nunatak's command line is parsed by nunatak; PETSc options come
    // through `petsc_options` (and the PETSC_OPTIONS environment variable).
    if (PetscInitializeNoArguments() != 0) throw Error("PETSc failed to initialise");
    m_owns_petsc = true;
    // Errors come back as codes that nunatak turns into exceptions with
    // PETSc's message, instead of PETSc printing a traceback.
    PetscPushErrorHandler(PetscReturnErrorHandler, nullptr);
    // PetscInitialize read PETSC_OPTIONS over them: its names are set again.
    if (const char* env = std::getenv("PETSC_OPTIONS")) {
      std::istringstream in(env);
      for (std::string t; in >> t;)
        if (t.size() > 1 && t[0] == '-') from_environment.push_back(t);
    }
  }
  // The command line's options override PETSC_OPTIONS.
  for (const auto& option : options)
    if (petsc_ready || std::find(from_environment.begin(), from_environment.end(), option.first) !=
                           from_environment.end())
      set(option);

  if (!Kokkos::is_initialized()) {
    Kokkos::initialize();
    m_owns_kokkos = true;
  }
}

PetscOptionList Runtime::unused_petsc_options() const {
  PetscOptionList unused;
  PetscBool ready = PETSC_FALSE;
  PetscInitialized(&ready);
  if (!ready) return unused;
  PetscInt n = 0;
  char** names = nullptr;
  char** values = nullptr;
  NUNATAK_PETSC(PetscOptionsLeftGet(nullptr, &n, &names, &values));
  for (PetscInt k = 0; k < n; ++k) {
    std::string name = names[k] ? names[k] : "";
    if (name.empty()) continue;
    if (name[0] != '-') name = "-" + name;
    unused.push_back({name, values[k] ? values[k] : ""});
  }
  NUNATAK_PETSC(PetscOptionsLeftRestore(nullptr, &n, &names, &values));
  return unused;
}

Runtime::~Runtime() {
  if (m_owns_kokkos) Kokkos::finalize();
  if (m_owns_petsc) PetscFinalize();
  if (m_owns_mpi) MPI_Finalize();
}

} // namespace nunatak::core
