#!/usr/bin/env bash
# Installs nunatak from the build folder $1 into a temporary prefix, builds the
# consumer project against it, and runs it. Usage: run_consumer_test.sh BUILD_DIR
set -euo pipefail
build="$1"
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" > /dev/null
cmake -S "$here" -B "$work/build" -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$work/build" > /dev/null
"$work/build/consumer"

# Host programs that do not use CMake find the C API and the Fortran module
# with pkg-config, and build with the MPI compiler wrappers.
export PKG_CONFIG_PATH="$(dirname "$(find "$work/prefix" -name nunatak.pc | head -1)")"
export LD_LIBRARY_PATH="$(dirname "$(find "$work/prefix" -name 'libnunatak.so' | head -1)")"
source="$here/../../coupling/examples"
mpicc -std=c11 "$source/host.c" $(pkg-config --cflags --libs nunatak) -lm -o "$work/c_host"
# Without arguments the host prints its usage and exits with status 2.
status=0
"$work/c_host" 2> "$work/usage.txt" || status=$?
[ "$status" -eq 2 ] && grep -q "usage: nunatak_c_host" "$work/usage.txt"
if pkg-config --exists nunatak-fortran; then
  mpif90 "$source/host_driver.f90" $(pkg-config --cflags --libs nunatak-fortran) \
    -o "$work/fortran_host"
  echo "pkg-config: built the C and the Fortran host against the installation"
else
  echo "pkg-config: built the C host against the installation (no Fortran module installed)"
fi
