#!/usr/bin/env bash
# Blatter-Pattyn diagnostic solves on real grids: Greenland at 16 km (106 x 181
# x 9 nodes), the same cropped to 98 x 174 (97 and 173 node intervals, both
# prime) and to 97 x 173 (96 and 172 intervals: it coarsens by 2, but the ice
# has margins, so the default is GMRES/ICC from the start), Greenland on 2
# ranks, and Aletsch at 100 m (199 x 264 x 9), each with the defaults
# (GMRES/ICC(0) on the reverse Cuthill-McKee ordering since 2026-11-30, the
# stress-velocity Newton with the critical-point line search) and, in the
# same run, one alternative: `--compare fill` (the default) ICC(1), one level
# of fill (the default before: -bp_pc_factor_levels 1, -bp_sub_pc_factor_levels
# 1 on 2 ranks); `--compare exact` Newton with the exact Hessian and the l2
# line search (-bp_stress_velocity_newton 0); then 15 years of the transient
# Greenland run with BP, both ways (about 17 steps of 0.9 years, limited by
# the effective diffusivity since stop 32; before, three unstable 5-year
# steps).
#
# Usage (from the repository root, after the build): experiments/benchmarks/bp_real_grids.sh
#   [--repeat N]  run every case N times and keep the fastest (default 1)
#   [--compare fill|exact] [--no-aletsch] [--no-transient]
# Prints one table: solve time (nunatak's own timer, "bp diagnostic solve in",
# which includes writing the output file), Newton steps, Krylov iterations,
# Krylov per Newton, time per 100,000 unknowns, and the ratio of the
# default's time to the alternative's; then the transient runs' times
# ("finished ... in"), time per step, and their Newton steps per solve.
set -euo pipefail
cd "$(dirname "$0")/../.."
repeat=1
aletsch=1
transient=1
compare=fill
while [ $# -gt 0 ]; do
  case "$1" in
    --repeat) repeat="$2"; shift 2 ;;
    --no-aletsch) aletsch=0; shift ;;
    --compare) compare="$2"; shift 2 ;;
    --no-transient) transient=0; shift ;;
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
case "$compare" in
  fill) other=(-- -bp_pc_factor_levels 1); other_np2=(-- -bp_sub_pc_factor_levels 1); label="ICC(1)" ;;
  exact) other=(-- -bp_stress_velocity_newton 0); other_np2=("${other[@]}"); label="exact Hessian" ;;
  *) echo "bp_real_grids.sh: --compare fill or exact, not '$compare'" >&2; exit 2 ;;
esac
g_other=$(run greenland_other 1 "$greenland" "${other[@]}")
g_default=$(run greenland_default 1 "$greenland")
row "Greenland 106x181, $label" "$g_unknowns" "$g_other"
row "Greenland 106x181, default" "$g_unknowns" "$g_default" "${g_other%% *}"
c_other=$(run crop_other 1 "$greenland" --set "$crop" "${other[@]}")
c_default=$(run crop_default 1 "$greenland" --set "$crop")
row "Greenland 98x174, $label" "$c_unknowns" "$c_other"
row "Greenland 98x174, default" "$c_unknowns" "$c_default" "${c_other%% *}"
m_other=$(run crop_mg_other 1 "$greenland" --set "$crop_mg" "${other[@]}")
m_default=$(run crop_mg_default 1 "$greenland" --set "$crop_mg")
row "Greenland 97x173, $label" "$m_unknowns" "$m_other"
row "Greenland 97x173, default" "$m_unknowns" "$m_default" "${m_other%% *}"
g_np2_other=$(run greenland_np2_other 2 "$greenland" "${other_np2[@]}")
g_np2=$(run greenland_np2 2 "$greenland")
row "Greenland 106x181, $label, 2 ranks" "$g_unknowns" "$g_np2_other"
row "Greenland 106x181, default, 2 ranks" "$g_unknowns" "$g_np2" "${g_np2_other%% *}"
if [ "$aletsch" = 1 ]; then
  a_other=$(run aletsch_other 1 "$aletsch_config" "${other[@]}")
  a_default=$(run aletsch_default 1 "$aletsch_config")
  row "Aletsch 199x264, $label" "$a_unknowns" "$a_other"
  row "Aletsch 199x264, default" "$a_unknowns" "$a_default" "${a_other%% *}"
fi
echo "(ratio: the default's time against $label's, same grid and ranks)"
if [ "$transient" = 1 ]; then
  # 15 years of the Greenland run with BP (each step's solve starts from the
  # last velocity), after the diagnostic solve at the start.
  for mode in "$label" default; do
    options=(-- -bp_snes_converged_reason)
    [ "$mode" = default ] || options+=("${other[@]:1}")
    log="$work/transient.log"
    "$nunatak" run experiments/greenland/greenland.yaml --set stress_balance.model=bp \
      --set time.end=15 --set "output.file=$work/transient.nc" "${options[@]}" > "$log" 2>&1 ||
      { echo "bp_real_grids.sh: transient ($mode) failed:" >&2; tail -3 "$log" >&2; exit 1; }
    finished=$(grep -o 'after [0-9]* steps in [0-9.]* s' "$log")
    printf 'transient Greenland BP, %-16s %s, %s s per step (Newton steps per solve: %s)\n' \
      "$mode:" "$finished" "$(echo "$finished" | awk '{ printf "%.2f", $5 / $2 }')" \
      "$(grep -o 'converged due to [A-Z_]* iterations [0-9]*' "$log" | awk '{ print $NF }' | paste -sd ' ')"
  done
fi
