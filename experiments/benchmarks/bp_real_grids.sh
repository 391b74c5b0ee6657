#!/usr/bin/env bash
# Blatter-Pattyn diagnostic solves on real grids: Greenland at 16 km (106 x 181
# x 9 nodes), the same cropped to 98 x 174 (97 and 173 node intervals, both
# prime) and to 97 x 173 (96 and 172 intervals: it coarsens by 2, but the ice
# has margins, so the default is GMRES/ICC(1) from the start; until 2026-11-30
# geometric multigrid, which the margin stalled, and then the ladder's first
# rung), and Aletsch at 100 m (199 x 264 x 9), each with the
# default linear solver (GMRES/ICC(1) on the reverse Cuthill-McKee ordering
# where the grid does not coarsen by 2) and, in the same run, ICC(1) on the
# natural ordering (the default until 2026-11-29) for Greenland and Aletsch,
# GMRES/ILU(0) (-bp_pc_type ilu, the default before that) for the Greenland
# grids, and Greenland on 2 ranks.
#
# Usage (from the repository root, after the build): experiments/benchmarks/bp_real_grids.sh
#   [--repeat N]  run every case N times and keep the fastest (default 1)
#   [--no-aletsch]
# Prints one table: solve time (nunatak's own timer, "bp diagnostic solve in"),
# Newton steps, Krylov iterations, Krylov per Newton, time per 100,000 unknowns,
# and the ratio of the default's time to ILU(0)'s.
set -euo pipefail
cd "$(dirname "$0")/../.."
repeat=1
aletsch=1
while [ $# -gt 0 ]; do
  case "$1" in
    --repeat) repeat="$2"; shift 2 ;;
    --no-aletsch) aletsch=0; shift ;;
    *) echo "bp_real_grids.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
nunatak=build/bin/nunatak
[ -x "$nunatak" ] || { echo "bp_real_grids.sh: build first ($nunatak is missing)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mpiexec=(mpirun --allow-run-as-root --oversubscribe)

greenland=experiments/greenland/greenland_bp_diagnostic.yaml
aletsch_config=experiments/aletsch/aletsch_bp_diagnostic.yaml
# Cell centres of the 16 km grid lie at x = -720 .. 960 km, y = -3450 .. -570 km:
# dropping 4 columns at the west and 4 at the east, 4 rows at the south and 3
# at the north leaves 98 x 174; one more column and row, 97 x 173.
crop='input.region=[-660000,900000,-3390000,-610000]'
crop_mg='input.region=[-660000,884000,-3390000,-626000]'

# run NAME RANKS UNKNOWNS CONFIG [--set ...] [-- PETSc options]: prints "seconds newton krylov".
run() {
  local name=$1 ranks=$2 config=$3
  shift 3
  local best="" line
  for _ in $(seq "$repeat"); do
    local log="$work/$name.log" launcher=()
    [ "$ranks" -gt 1 ] && launcher=("${mpiexec[@]}" -n "$ranks")
    if ! "${launcher[@]}" "$nunatak" solve "$config" --set "output.file=$work/$name.nc" "$@" \
      > "$log" 2>&1; then
      echo "bp_real_grids.sh: $name failed:" >&2
      tail -3 "$log" >&2
      exit 1
    fi
    line=$(grep "bp diagnostic solve in" "$log" | head -1)
    local t newton krylov
    t=$(sed -E 's/.*solve in ([0-9.]+) s.*/\1/' <<< "$line")
    newton=$(sed -E 's/.*Newton ([0-9]+) iterations.*/\1/' <<< "$line")
    krylov=$(sed -E 's/.*, ([0-9]+) Krylov.*/\1/' <<< "$line")
    if [ -z "$best" ] || awk -v a="$t" -v b="${best%% *}" 'BEGIN { exit !(a < b) }'; then
      best="$t $newton $krylov"
    fi
    if grep -q "stalled" <<< "$line"; then echo "  ($name: $(sed -E 's/.*; //' <<< "$line"))" >&2; fi
  done
  echo "$best"
}

printf '%-38s %9s %6s %7s %9s %12s %8s\n' case time newton krylov kry/newt "s/1e5 unkn." ratio
row() { # row LABEL UNKNOWNS "t n k" [REFERENCE_T]
  local label=$1 unknowns=$2 result=$3 reference=${4:-}
  read -r t n k <<< "$result"
  local ratio="-"
  [ -n "$reference" ] && ratio=$(awk -v a="$t" -v b="$reference" 'BEGIN { printf "%.2f", a / b }')
  awk -v l="$label" -v t="$t" -v n="$n" -v k="$k" -v u="$unknowns" -v r="$ratio" \
    'BEGIN { printf "%-38s %8.1fs %6d %7d %9.1f %12.2f %8s\n", l, t, n, k, k / n, t / u * 1e5, r }'
}

g_unknowns=$((106 * 181 * 9 * 2))
c_unknowns=$((98 * 174 * 9 * 2))
m_unknowns=$((97 * 173 * 9 * 2))
a_unknowns=$((199 * 264 * 9 * 2))
g_ilu=$(run greenland_ilu 1 "$greenland" -- -bp_pc_type ilu)
g_nat=$(run greenland_natural 1 "$greenland" -- -bp_pc_factor_mat_ordering_type natural)
g_icc=$(run greenland_icc 1 "$greenland")
row "Greenland 106x181, ILU(0)" "$g_unknowns" "$g_ilu"
row "Greenland 106x181, ICC(1) natural" "$g_unknowns" "$g_nat" "${g_ilu%% *}"
row "Greenland 106x181, ICC(1) RCM default" "$g_unknowns" "$g_icc" "${g_nat%% *}"
c_ilu=$(run crop_ilu 1 "$greenland" --set "$crop" -- -bp_pc_type ilu)
c_icc=$(run crop_icc 1 "$greenland" --set "$crop")
row "Greenland 98x174, ILU(0)" "$c_unknowns" "$c_ilu"
row "Greenland 98x174, ICC(1) RCM default" "$c_unknowns" "$c_icc" "${c_ilu%% *}"
m_default=$(run crop_mg 1 "$greenland" --set "$crop_mg")
row "Greenland 97x173, ICC(1) RCM default" "$m_unknowns" "$m_default"
g_np2=$(run greenland_np2 2 "$greenland")
row "Greenland 106x181, default, 2 ranks" "$g_unknowns" "$g_np2" "${g_icc%% *}"
if [ "$aletsch" = 1 ]; then
  a_nat=$(run aletsch_natural 1 "$aletsch_config" -- -bp_pc_factor_mat_ordering_type natural)
  a_icc=$(run aletsch_icc 1 "$aletsch_config")
  row "Aletsch 199x264, ICC(1) natural" "$a_unknowns" "$a_nat"
  row "Aletsch 199x264, ICC(1) RCM default" "$a_unknowns" "$a_icc" "${a_nat%% *}"
fi
echo "(ratio: time against the row above it; 2 ranks: against 1 rank)"
