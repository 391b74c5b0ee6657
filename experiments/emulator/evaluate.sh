#!/bin/sh
# The emulator's held-out accuracy (docs/emulator.md, "Accuracy"): each model
# given on the command line (default: the three training modes) against the
# Blatter-Pattyn solver on data it never saw in training:
#   - held-out synthetic glaciers (heldout_synthetic.yaml: another seed),
#   - held-out Aletsch patches (heldout_aletsch.yaml: the eastern 40 %),
#   - Greenland at 16 km (the whole ice sheet, experiments/greenland),
#   - ISMIP-HOM A-D at L = 10 and 40 km (periodic; 32 x 32 or 32 x 4 columns).
# Run from the repository root after `nunatak emulator dataset` and `train`:
#
#   sh experiments/emulator/evaluate.sh [MODEL.pt ...]
#   REFINE=2 sh experiments/emulator/evaluate.sh MODEL.pt   # with 2 refinement steps
#   REFINE=2 REFINE_METHOD=newton sh experiments/emulator/evaluate.sh MODEL.pt
set -e
NUNATAK=${NUNATAK:-build/bin/nunatak}
OUT=output/emulator
MPI="mpirun --allow-run-as-root --oversubscribe -n 2"
mkdir -p $OUT/fixtures
[ -f $OUT/heldout_synthetic.nc ] || $MPI $NUNATAK emulator dataset experiments/emulator/heldout_synthetic.yaml
[ -f $OUT/heldout_aletsch.nc ] || $MPI $NUNATAK emulator dataset experiments/emulator/heldout_aletsch.yaml
# Real geometries: the solver's solution as a fixture (one rank: one patch).
[ -f $OUT/fixtures/greenland.nc ] || $NUNATAK solve experiments/greenland/greenland_bp_diagnostic.yaml \
  --set output.file=$OUT/fixtures/greenland_solve.nc --bp-fixture $OUT/fixtures/greenland.nc
for e in A B C D; do
  case $e in A|C) grid=32x32x9 ;; *) grid=32x4x9 ;; esac
  for L in 10 40; do
    f=$OUT/fixtures/ismip_${e}_${L}.nc
    [ -f $f ] || $NUNATAK ismip-hom $e --length $L --grid $grid --bp-fixture $f > /dev/null
  done
done
MODELS=${*:-"$OUT/physics.pt $OUT/data.pt $OUT/hybrid.pt"}
REFINE=${REFINE:-0}
REFINE_METHOD=${REFINE_METHOD:-defect}
SUFFIX=$([ "$REFINE" -gt 0 ] && echo "_refine$REFINE" || true)
[ "$REFINE_METHOD" = defect ] || SUFFIX=${SUFFIX}_$REFINE_METHOD
for m in $MODELS; do
  echo "=== $m"
  for d in $OUT/heldout_synthetic.nc $OUT/heldout_aletsch.nc $OUT/fixtures/greenland.nc \
           $OUT/fixtures/ismip_*.nc; do
    echo "--- $d"
    $NUNATAK emulator eval $m $d --maps 2 --refine $REFINE --refine-method $REFINE_METHOD \
      --maps-prefix ${m%.pt}${SUFFIX}_$(basename ${d%.nc}) 2>&1 |
      grep -E "surface velocity|depth-averaged|membrane surface|gauss surface|refined surface|time:"
  done
done
