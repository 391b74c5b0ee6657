#!/usr/bin/env bash
# nunatak set-up: installs what is missing (Debian 12 packages), builds, and
# runs the main job or the tests. Safe to run again: set-up is a no-op when
# everything is installed and built.
#
#   ./setup.sh run     install, build, run the main job: Greenland 16 km, 5000 years of SIA
#   ./setup.sh test    install, build, run the whole test suite
#   ./setup.sh build   install and build only
set -euo pipefail
cd "$(dirname "$0")"

action="${1:-build}"
case "$action" in run|test|build) ;; *) echo "usage: $0 [run|test|build]" >&2; exit 2 ;; esac

packages=(
  build-essential cmake pkg-config git gfortran
  petsc-dev libopenmpi-dev openmpi-bin
  libtrilinos-kokkos-dev libtorch-dev
  libnetcdf-dev libhdf5-dev netcdf-bin libudunits2-dev
  libyaml-cpp-dev libcli11-dev libspdlog-dev libfmt-dev libcairo2-dev fonts-dejavu-core
  libgtest-dev libgmock-dev libbenchmark-dev
  libpetsc3.18-dev-examples time
  # OpenBLAS in place of the reference BLAS that Debian's LibTorch and PETSc
  # load otherwise (update-alternatives picks it): LibTorch's convolutions
  # are matrix products, 1.5-3 times faster with it (docs/emulator.md,
  # "BLAS"). The serial build: LibTorch threads itself, and one thread's
  # sums are reproducible.
  libopenblas0-serial
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# MPI runs as root here (containers, CI): Open MPI needs this consent.
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi

jobs="$(nproc 2>/dev/null || echo 2)"
[ -f build/CMakeCache.txt ] || cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$jobs"

case "$action" in
  run)
    build/bin/nunatak run experiments/greenland/greenland.yaml
    echo "setup: done. Inspect the output with: build/bin/nunatak info output/greenland/greenland_16km_sia.nc"
    ;;
  test)
    ctest --test-dir build --output-on-failure -j "$jobs"
    ;;
esac
