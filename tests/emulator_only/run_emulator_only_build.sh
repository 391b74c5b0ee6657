#!/usr/bin/env bash
# Configures, builds and tests the source tree $1 as on a GPU machine that has
# LibTorch and nothing else: -DNUNATAK_ENABLE_SOLVERS=OFF (no MPI, PETSc,
# Kokkos or NetCDF), in a fresh temporary build folder, then checks that none
# of the solvers' dependencies was looked for, that every target builds, and
# runs the energy's tests.
# Usage: run_emulator_only_build.sh SOURCE_DIR [more cmake arguments, e.g. -DTorch_DIR=...]
set -euo pipefail
source_dir="$1"
shift
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
build="$work/build"
if ! cmake -S "$source_dir" -B "$build" -DCMAKE_BUILD_TYPE=Release \
  -DNUNATAK_ENABLE_SOLVERS=OFF -DNUNATAK_ENABLE_BENCHMARKS=OFF "$@" > "$work/configure.log" 2>&1; then
  cat "$work/configure.log"
  echo "emulator_only_build: configuring with NUNATAK_ENABLE_SOLVERS=OFF failed" >&2
  exit 1
fi
for dependency in PETSC KokkosCore NETCDF UDUNITS MPI_CXX yaml-cpp; do
  if grep -q "^${dependency}[_A-Za-z]*:" "$build/CMakeCache.txt"; then
    echo "emulator_only_build: the LibTorch-only configuration looked for $dependency" >&2
    exit 1
  fi
done
if ! cmake --build "$build" -j 2 > "$work/build.log" 2>&1; then
  tail -n 60 "$work/build.log"
  echo "emulator_only_build: building with NUNATAK_ENABLE_SOLVERS=OFF failed" >&2
  exit 1
fi
for library in nunatak_core_base nunatak_emulator nunatak_superres; do
  if ! compgen -G "$build/lib/lib$library.*" > /dev/null; then
    echo "emulator_only_build: $library was not built" >&2
    exit 1
  fi
done
if compgen -G "$build/lib/libnunatak_core.*" > /dev/null || [ -e "$build/bin/nunatak" ]; then
  echo "emulator_only_build: the LibTorch-only build built the PETSc libraries" >&2
  exit 1
fi
cd "$build"
# Every test built here also runs in the main build; one of them runs here
# to show that the LibTorch-only libraries link and work (the others would
# add about a minute to the suite for nothing new).
ctest --output-on-failure -R "^test_bp_energy_torch$"
# The emulator's tests must have run (GoogleTest is present where this test runs).
tests="$(ctest -N)"
if ! grep -q "test_bp_energy_torch" <<< "$tests"; then
  echo "emulator_only_build: the emulator's tests were not registered" >&2
  exit 1
fi
