#!/usr/bin/env bash
# SIA + transport benchmark at 1 and 2 MPI ranks, and Bueler test B against PISM.
# Usage (from the repository root, after ./setup.sh build):
#   experiments/benchmarks/run_sia_benchmark.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/../.."
bench=build/bin/nunatak_bench_sia
[ -x "$bench" ] || { echo "build first: ./setup.sh build" >&2; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpirun="mpirun --allow-run-as-root --oversubscribe"
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
$mpirun -n 1 "$bench" "$@" | tee /tmp/nunatak_bench_np1.txt
echo
$mpirun -n 2 "$bench" "$@" | tee /tmp/nunatak_bench_np2.txt
echo
echo "parallel efficiency (throughput at 2 ranks / (2 x throughput at 1 rank)):"
awk 'FNR==NR && $1 ~ /^[0-9]+$/ && NF==5 {t1[$1]=$5; next}
     $1 ~ /^[0-9]+$/ && NF==5 && ($1 in t1) {printf "  %5d x %-5d  %5.0f%%\n", $1, $1, 100*$5/(2*t1[$1])}' \
  /tmp/nunatak_bench_np1.txt /tmp/nunatak_bench_np2.txt
