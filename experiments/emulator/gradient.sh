#!/bin/sh
# The emulator's gradient fidelity (docs/emulator.md, "Gradient fidelity"):
# for J = sum |u_s|^2 over the ice, dJ/d(thickness) at interior columns of
# held-out samples (8 synthetic glaciers x 24 columns, 3 Aletsch patches x
# 12) and of Greenland at 16 km (24 columns; its BP fixture, made by
# evaluate.sh), through each model given on the command line (default: the three
# training modes) against the solver's (central differences of Blatter-Pattyn
# solves), and at every interior column against the solver's adjoint, beside
# the shallow-ice and membrane baselines. Run from the
# repository root after evaluate.sh has made the held-out sets:
#
#   sh experiments/emulator/gradient.sh [MODEL.pt ...]
#   REFINE=2 REFINE_METHOD=newton sh experiments/emulator/gradient.sh MODEL.pt
#     (each model refined towards the BP balance, its gradient that
#     balance's adjoint: --refine, as invert's emulator.refine_steps)
set -e
NUNATAK=${NUNATAK:-build/bin/nunatak}
OUT=output/emulator
MODELS=${*:-"$OUT/physics.pt $OUT/data.pt $OUT/hybrid.pt"}
# The Aletsch patches' solves are slower (100-200 m spacing): fewer of them.
for set in "heldout_synthetic 8 24" "heldout_aletsch 3 12" "fixtures/greenland 1 24"; do
  set -- $set
  echo "--- $OUT/$1.nc"
  $NUNATAK emulator gradient $OUT/$1.nc $MODELS --samples all --max-samples $2 --cells $3 \
    --refine "${REFINE:-0}" --refine-method "${REFINE_METHOD:-defect}" 2>&1 |
    grep -E "sample|adjoint|\|"
done
