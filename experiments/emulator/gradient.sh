#!/bin/sh
# The emulator's gradient fidelity (docs/emulator.md, "Gradient fidelity"):
# for J = sum |u_s|^2 over the ice, dJ/d(thickness) at 24 interior columns
# of held-out samples, through each model given on the command line (default:
# the three training modes) against the solver's (central differences of
# Blatter-Pattyn solves), beside the shallow-ice baseline. Run from the
# repository root after evaluate.sh has made the held-out sets:
#
#   sh experiments/emulator/gradient.sh [MODEL.pt ...]
set -e
NUNATAK=${NUNATAK:-build/bin/nunatak}
OUT=output/emulator
MODELS=${*:-"$OUT/physics.pt $OUT/data.pt $OUT/hybrid.pt"}
for d in $OUT/heldout_synthetic.nc $OUT/heldout_aletsch.nc; do
  echo "--- $d"
  $NUNATAK emulator gradient $d $MODELS --samples all --max-samples 8 --cells 24 2>&1 |
    grep -E "sample|\|"
done
