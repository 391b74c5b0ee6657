#!/bin/sh
# The emulator against the Blatter-Pattyn solver on the real geometries, in
# one run: `nunatak solve` of the Greenland (16 km) and Aletsch (100 m)
# diagnostic experiments with the BP stress balance (1 and 2 MPI ranks) and
# with the shipped emulator (`stress_balance.model: emulator`, 1 and 2
# threads), each solve's own "diagnostic solve in" time, and the ratios.
# Run from the repository root after building (docs/emulator.md, "Speed"):
#
#   sh experiments/benchmarks/emulator_vs_bp.sh
#
# NUNATAK (default build/bin/nunatak), MODEL (default the shipped
# experiments/emulator/cnn_gauss_imbalance.pt), OUTPUT (emulator.output:
# network, the default, or reference, the model's membrane reference alone),
# REFINE_STEPS (emulator.refine_steps, default 0: the network's answer as it
# is) and REFINE_METHOD (emulator.refine_method, default newton) may be set
# in the environment.
set -e
NUNATAK=${NUNATAK:-build/bin/nunatak}
MODEL=${MODEL:-experiments/emulator/cnn_gauss_imbalance.pt}
OUTPUT=${OUTPUT:-network}
REFINE_STEPS=${REFINE_STEPS:-0}
REFINE_METHOD=${REFINE_METHOD:-newton}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

# The last "diagnostic solve in T s|ms" of a log on stdin, in seconds.
seconds() {
  sed -n 's/.*diagnostic solve in \([0-9.]*\) \(m*s\).*/\1 \2/p' |
    awk 'END { if (NR == 0) print "nan"; else print ($2 == "ms") ? $1 / 1000 : $1 }'
}

bp() { # CONFIG RANKS
  OMP_NUM_THREADS=1 mpirun --oversubscribe -n "$2" "$NUNATAK" solve "$1" \
    --set output.file="$OUT/bp.nc" 2>&1 | seconds
}

emulator() { # CONFIG THREADS
  OMP_NUM_THREADS=$2 "$NUNATAK" solve "$1" --set stress_balance.model=emulator \
    --set emulator.model="$MODEL" --set emulator.output="$OUTPUT" \
    --set emulator.refine_steps="$REFINE_STEPS" --set emulator.refine_method="$REFINE_METHOD" \
    --set output.file="$OUT/emulator.nc" 2>&1 | seconds
}

echo "emulator: $MODEL, output $OUTPUT, $REFINE_STEPS refinement step(s) ($REFINE_METHOD)"
printf '%-26s %9s %9s %12s %12s %9s %9s\n' "experiment" "BP 1 (s)" "BP 2 (s)" \
  "emul. 1 (s)" "emul. 2 (s)" "BP/em. 1" "BP/em. 2"
for config in experiments/greenland/greenland_bp_diagnostic.yaml \
              experiments/aletsch/aletsch_bp_diagnostic.yaml; do
  b1=$(bp "$config" 1)
  b2=$(bp "$config" 2)
  e1=$(emulator "$config" 1)
  e2=$(emulator "$config" 2)
  awk -v name="$(basename "$config" .yaml)" -v b1="$b1" -v b2="$b2" -v e1="$e1" -v e2="$e2" \
    'BEGIN { printf "%-26s %9.2f %9.2f %12.3f %12.3f %9.1f %9.1f\n", name, b1, b2, e1, e2, b1 / e1, b2 / e2 }'
done
