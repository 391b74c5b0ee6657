#!/usr/bin/env bash
# How the grid's split over MPI ranks (parallel.decomposition) changes the
# Blatter-Pattyn diagnostic solve on the real grids: Greenland at 16 km
# (106 x 181 columns, ice on 40 % of them) and Aletsch at 100 m (199 x 264,
# ice on 16 %), on 1 rank and on 2 ranks with PETSc's even split of the cells
# (`even`) and with boxes of about equal numbers of ice columns (`ice`, the
# default).
#
# Usage (from the repository root, after the build):
#   experiments/benchmarks/bp_decomposition.sh [--repeat N] [--no-aletsch]
# Prints one table: solve time (nunatak's own timer, "bp diagnostic solve in"),
# Newton steps, Krylov iterations, the speed-up over 1 rank, and the share of
# the ice columns each rank owns (from -log_view's flop counts: the ratio of
# the busiest rank's flops to the mean). Run it on a quiet machine: two ranks
# take both cores of this one.
set -euo pipefail
cd "$(dirname "$0")/../.."
repeat=1
aletsch=1
while [ $# -gt 0 ]; do
  case "$1" in
    --repeat) repeat="$2"; shift 2 ;;
    --no-aletsch) aletsch=0; shift ;;
    *) echo "bp_decomposition.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
nunatak=build/bin/nunatak
[ -x "$nunatak" ] || { echo "bp_decomposition.sh: build first ($nunatak is missing)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mpiexec=(mpirun --allow-run-as-root --oversubscribe)

# run NAME RANKS SPLIT CONFIG: prints "seconds newton krylov flop_imbalance" (the fastest of --repeat).
run() {
  local name=$1 ranks=$2 split=$3 config=$4
  local best="" line log="$work/$name.log" launcher=()
  [ "$ranks" -gt 1 ] && launcher=("${mpiexec[@]}" -n "$ranks")
  for _ in $(seq "$repeat"); do
    if ! "${launcher[@]}" "$nunatak" solve "$config" --set "output.file=$work/$name.nc" \
      --set "parallel.decomposition=$split" --set "output.quicklook=[]" -- -log_view \
      "ascii:$work/$name.petsc" > "$log" 2>&1; then
      echo "bp_decomposition.sh: $name failed:" >&2
      tail -3 "$log" >&2
      exit 1
    fi
    line=$(grep "bp diagnostic solve in" "$log" | head -1)
    local t newton krylov imbalance
    t=$(sed -E 's/.*solve in ([0-9.]+) s.*/\1/' <<< "$line")
    newton=$(sed -E 's/.*Newton ([0-9]+) iterations.*/\1/' <<< "$line")
    krylov=$(sed -E 's/.*, ([0-9]+) Krylov.*/\1/' <<< "$line")
    # -log_view's summary line "Flops: max ratio avg total": max / avg.
    imbalance=$(awk '/^Flops:/ { printf "%.2f", $2 / $4; exit }' "$work/$name.petsc")
    if [ -z "$best" ] || awk -v a="$t" -v b="${best%% *}" 'BEGIN { exit !(a < b) }'; then
      best="$t $newton $krylov ${imbalance:-1.00}"
    fi
  done
  echo "$best"
}

printf '%-38s %9s %6s %7s %9s %16s\n' case time newton krylov speed-up "flops max/mean"
row() { # row LABEL "t n k imbalance" ONE_RANK_T
  local label=$1 result=$2 reference=$3
  read -r t n k imbalance <<< "$result"
  awk -v l="$label" -v t="$t" -v n="$n" -v k="$k" -v r="$reference" -v f="$imbalance" \
    'BEGIN { printf "%-38s %8.1fs %6d %7d %9.2f %16s\n", l, t, n, k, r / t, f }'
}

cases=("greenland experiments/greenland/greenland_bp_diagnostic.yaml Greenland 106x181")
[ "$aletsch" = 1 ] && cases+=("aletsch experiments/aletsch/aletsch_bp_diagnostic.yaml Aletsch 199x264")
for c in "${cases[@]}"; do
  read -r name config label <<< "$c"
  one=$(run "${name}_1" 1 ice "$config")
  even=$(run "${name}_even" 2 even "$config")
  ice=$(run "${name}_ice" 2 ice "$config")
  row "$label, 1 rank" "$one" "${one%% *}"
  row "$label, 2 ranks, even split" "$even" "${one%% *}"
  row "$label, 2 ranks, ice split" "$ice" "${one%% *}"
done
