#!/bin/sh
# What retraining during a run and the solver check cost and buy
# (docs/emulator.md, "Retraining and checks on Greenland"): 12 one-year steps of
# Greenland at 16 km (experiments/greenland/greenland.yaml) with the emulator
# MODEL as the stress balance and a Blatter-Pattyn check every 4 steps:
#   fixed      the network as trained;
#   retrain    10 Adam steps on the current geometry at every step (lr 1e-4);
#   retrain_x  20 Adam steps at every step, lr 1e-3;
#   refined    no retraining, the network refined by two steps towards the
#              Blatter-Pattyn balance at every step (emulator.refine_steps: 2).
# Prints each run's checks (emulator_solver_difference) and wall time.
#   sh experiments/emulator/retrain_greenland.sh MODEL.pt
set -e
NUNATAK=${NUNATAK:-build/bin/nunatak}
MODEL=${1:?usage: retrain_greenland.sh MODEL.pt}
OUT=output/emulator/greenland_runs
mkdir -p $OUT
run() {
  name=$1
  shift
  start=$(date +%s)
  $NUNATAK run experiments/greenland/greenland.yaml --set stress_balance.model=emulator \
    --set emulator.model=$MODEL --set time.end=12 --set time.max_step=1 --set output.interval=12 \
    --set checkpoint.interval=0 --set output.quicklook=[] --set output.file=$OUT/$name.nc \
    --set emulator.solver_check_every=4 "$@" > $OUT/$name.log 2>&1
  echo "=== $name: $(($(date +%s) - start)) s, $(grep -c . $OUT/$name.log) log lines"
  ncdump -v emulator_solver_difference ${OUT}/${name}_ts.nc | sed -n '/^ emulator_solver_difference =/,$p' |
    tr -d '\n' | sed 's/}//'
  echo
}
run fixed
run refined --set emulator.refine_steps=2
run retrain --set emulator.retrain_every=1 --set emulator.retrain_steps=10
run retrain_x --set emulator.retrain_every=1 --set emulator.retrain_steps=20 \
  --set emulator.retrain_learning_rate=1e-3
