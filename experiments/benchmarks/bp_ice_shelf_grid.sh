#!/usr/bin/env bash
# Blatter-Pattyn diagnostic solve on a large grid with ice shelves: the
# synthetic marine ice sheet of marine_ice_sheet.cpp (200 x 200 x 9 nodes,
# 16 km, 14,859 grounded and 11,025 floating columns), written to
# output/benchmarks/marine_ice_sheet_200.nc, solved with
# experiments/benchmarks/marine_ice_sheet.yaml:
#   - the defaults (GMRES/ICC(0), which stalls under the shelves; the
#     robustness ladder then tries ICC(1), GAMG and regularisation
#     continuation), stopped after --defaults-limit seconds (default 300; it
#     had no solution after 900 s on 2026-11-30);
#   - the opt-in column multigrid (-bp_column_multigrid 1), on 1 and on 2
#     ranks.
#
# Usage (from the repository root, after the build):
#   experiments/benchmarks/bp_ice_shelf_grid.sh [--defaults-limit SECONDS] [--no-parallel]
# Prints one line per case: nunatak's own "bp diagnostic solve in" time,
# Newton steps and Krylov iterations, and which linear solver finished.
set -euo pipefail
cd "$(dirname "$0")/../.."
defaults_limit=300
parallel=1
while [ $# -gt 0 ]; do
  case "$1" in
    --defaults-limit) defaults_limit="$2"; shift 2 ;;
    --no-parallel) parallel=0; shift ;;
    *) echo "bp_ice_shelf_grid.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
nunatak=build/bin/nunatak
mkdir -p output/benchmarks
build/bin/marine_ice_sheet output/benchmarks/marine_ice_sheet_200.nc 200 16000
config=experiments/benchmarks/marine_ice_sheet.yaml
mpirun_cmd=(mpirun --allow-run-as-root --oversubscribe -n 2)

# case NAME RANKS LIMIT_S [PETSc options...]
run_case() {
  local name="$1" ranks="$2" limit="$3"
  shift 3
  local prefix=()
  [ "$ranks" -gt 1 ] && prefix=("${mpirun_cmd[@]}")
  local log
  log=$(mktemp)
  local start end rc=0
  start=$(date +%s)
  timeout "$limit" "${prefix[@]}" "$nunatak" solve "$config" \
    --set output.file=output/benchmarks/marine_ice_sheet_bp_$name.nc -- "$@" > "$log" 2>&1 || rc=$?
  end=$(date +%s)
  local line
  line=$(grep "bp diagnostic solve in" "$log" | head -1 | sed 's/^info: //' || true)
  if [ -z "$line" ]; then
    line="no solution after $((end - start)) s (exit $rc)"
  fi
  printf '%-28s %d rank(s): %s\n' "$name" "$ranks" "$line"
  rm -f "$log"
}

echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(git rev-parse --short HEAD) $(nproc) cores"
run_case defaults 1 "$defaults_limit"
run_case column_multigrid 1 1800 -bp_column_multigrid 1
if [ "$parallel" = 1 ]; then
  run_case column_multigrid 2 1800 -bp_column_multigrid 1
fi
