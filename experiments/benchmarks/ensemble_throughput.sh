#!/bin/sh
# Ensemble throughput (members per hour) on this machine: the 8 members of
# experiments/ensemble/greenland.yaml (Greenland 16 km SIA, here 2000 years
# each) on 1 rank, on 2 ranks as 2 groups of 1 (members side by side), and
# on 2 ranks as 1 group of 2 (each member domain-decomposed). Prints members
# per hour of each and its ratio to 1 rank, and the share of the command's
# wall time that the members ran (the rest: start-up, scheduling, summary).
#
#   sh experiments/benchmarks/ensemble_throughput.sh [YEARS]
#
# Environment: NUNATAK (the program), MPIEXEC (the launcher).
set -eu
NUNATAK=${NUNATAK:-build/bin/nunatak}
MPIEXEC=${MPIEXEC:-mpirun --allow-run-as-root --oversubscribe}
years=${1:-2000}
config=experiments/ensemble/greenland.yaml
out=output/benchmarks/ensemble
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
echo "== 8 Greenland 16 km SIA members of $years years each"
printf "%-28s %10s %14s %8s %12s\n" layout "wall (s)" "members/hour" ratio "in members"
base=""
for layout in "1 1" "2 1" "2 2"; do
  ranks=${layout% *}
  per=${layout#* }
  dir=$out/np${ranks}_per${per}
  rm -rf "$dir"
  start=$(date +%s.%N)
  $MPIEXEC -n "$ranks" "$NUNATAK" -q ensemble "$config" --set time.end="$years" \
    --set checkpoint.interval=0 --set ensemble.directory="$dir" \
    --set ensemble.ranks_per_member="$per" > /dev/null 2>&1
  end=$(date +%s.%N)
  wall=$(awk -v a="$start" -v b="$end" 'BEGIN {print b - a}')
  # The members' own wall time, summed over groups.
  members=$(cat "$dir"/member_*.status | awk '/^wall_seconds:/ {s += $2} END {print s}')
  groups=$((ranks / per))
  rate=$(awk -v w="$wall" 'BEGIN {print 8 / w * 3600}')
  [ -z "$base" ] && base=$rate
  printf "%-28s %10.1f %14.0f %8.2f %11.0f%%\n" "$ranks rank(s), $groups group(s) of $per" \
    "$wall" "$rate" "$(awk -v r="$rate" -v b="$base" 'BEGIN {print r / b}')" \
    "$(awk -v m="$members" -v g="$groups" -v w="$wall" 'BEGIN {print 100 * m / (g * w)}')"
done
