// PETSc options of the Blatter-Pattyn solver (prefix -bp_): errors that
// PETSc raises while reading them name the option and value that caused them,
// and tolerances that PETSc stores without checking are checked here.

#include "bp_driver.hpp"
#include "nunatak/core/error.hpp"

#include <cmath>
#include <sstream>

namespace nunatak::solver::bp_driver {

namespace {

/// True for a token that names an option: '-' then a letter ("-1" is a value).
bool is_option_name(const std::string& token) {
  return token.size() > 1 && token[0] == '-' && std::isalpha(static_cast<unsigned char>(token[1]));
}

/// True if `word` occurs in `text` on its own (not inside a longer word).
bool contains_word(const std::string& text, const std::string& word) {
  const auto is_word_char = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  };
  for (size_t at = text.find(word); at != std::string::npos; at = text.find(word, at + 1)) {
    const size_t end = at + word.size();
    if ((at == 0 || !is_word_char(text[at - 1])) &&
        (end >= text.size() || !is_word_char(text[end])))
      return true;
  }
  return false;
}

std::string joined(const std::vector<SolverOption>& options) {
  std::string out;
  for (const auto& o : options) out += (out.empty() ? "" : ", ") + o.text();
  return out;
}

} // namespace

std::string SolverOption::text() const {
  return value.empty() ? name : name + " " + value;
}

std::vector<SolverOption> solver_options(const std::string& prefix) {
  char* all = nullptr;
  NUNATAK_PETSC(PetscOptionsGetAll(nullptr, &all));
  std::istringstream tokens(all ? all : "");
  NUNATAK_PETSC(PetscFree(all));
  std::vector<SolverOption> options;
  const std::string start = "-" + prefix;
  for (std::string token; tokens >> token;) {
    if (is_option_name(token)) {
      options.push_back({token, ""});
    } else if (!options.empty() && options.back().value.empty()) {
      options.back().value = token;
    }
  }
  std::vector<SolverOption> mine;
  for (auto& o : options)
    if (o.name.compare(0, start.size(), start) == 0) mine.push_back(std::move(o));
  return mine;
}

void read_solver_options(const std::string& prefix, const std::function<void()>& read) {
  try {
    read();
  } catch (const Error& e) {
    const std::vector<SolverOption> given = solver_options(prefix);
    if (given.empty()) throw;
    const std::string message = e.what();
    std::vector<SolverOption> culprits;
    for (const auto& o : given)
      if (!o.value.empty() && contains_word(message, o.value)) culprits.push_back(o);
    if (culprits.empty())
      throw Error("the solver options (" + joined(given) + ") were refused: " + message);
    throw Error("the solver option " + joined(culprits) + " is wrong: " + message);
  }
}

void check_tolerances(SNES snes, const std::string& prefix) {
  const auto fail = [&](const std::string& option, double value, const std::string& rule) {
    std::ostringstream v;
    v << value;
    throw Error("the solver option -" + prefix + option + " " + v.str() + " is wrong: " + rule);
  };
  PetscReal atol = 0, rtol = 0, stol = 0;
  PetscInt maxit = 0, maxf = 0;
  NUNATAK_PETSC(SNESGetTolerances(snes, &atol, &rtol, &stol, &maxit, &maxf));
  const auto real_at_least_0 = [&](const char* option, PetscReal value) {
    if (!(std::isfinite(value) && value >= 0)) fail(option, value, "it must be a number >= 0");
  };
  real_at_least_0("snes_atol", atol);
  real_at_least_0("snes_stol", stol);
  if (!(std::isfinite(rtol) && rtol >= 0 && rtol < 1))
    fail("snes_rtol", rtol, "it must be a number in [0, 1)");
  if (maxit < 0) fail("snes_max_it", double(maxit), "it must be an integer >= 0");
  if (maxf < -1) fail("snes_max_funcs", double(maxf), "it must be an integer >= -1 (-1: no limit)");
  KSP ksp = nullptr;
  NUNATAK_PETSC(SNESGetKSP(snes, &ksp));
  PetscReal krtol = 0, katol = 0, kdtol = 0;
  PetscInt kmaxit = 0;
  NUNATAK_PETSC(KSPGetTolerances(ksp, &krtol, &katol, &kdtol, &kmaxit));
  if (!(std::isfinite(krtol) && krtol >= 0 && krtol < 1))
    fail("ksp_rtol", krtol, "it must be a number in [0, 1)");
  real_at_least_0("ksp_atol", katol);
  if (!(kdtol > 0)) fail("ksp_divtol", kdtol, "it must be a number > 0");
  if (kmaxit < 0) fail("ksp_max_it", double(kmaxit), "it must be an integer >= 0");
}

} // namespace nunatak::solver::bp_driver
