#!/bin/sh
# The Greenland super-resolution experiments of docs/superres.md: the pairs
# of CONFIG's scenario(s) at 16 km and 32/64 km, one model per factor, and
# the evaluation on scenarios not used in training (an SMB offset of
# -0.5 m/a, a factor of 0.7, and a ramp of the offset to -1 m/a at year
# 2000). Results go to output/superres/; the tables to stdout.
#
#   sh experiments/superres/run.sh                                        # one pair (the protocol)
#   sh experiments/superres/run.sh experiments/superres/greenland_multi.yaml  # three scenarios
#
# Environment: NUNATAK (the program). About 6 minutes of training per factor
# for greenland.yaml, 15 for greenland_multi.yaml, and 10 s per evaluation
# on this machine (2 cores).
set -eu
NUNATAK=${NUNATAK:-build/bin/nunatak}
config=${1:-experiments/superres/greenland.yaml}
stem=$(basename "$config" .yaml)
"$NUNATAK" superres pairs "$config"
for factor in 2 4; do
  model=output/superres/${stem}_x$factor.pt
  "$NUNATAK" superres train "$config" --set superres.factor=$factor --set superres.model=$model
  for scenario in "offset_-0.5 surface_mass_balance.offset=-0.5" \
                  "factor_0.7 surface_mass_balance.factor=0.7" \
                  "ramp_-1 surface_mass_balance.offset_rate=-0.0005"; do
    name=${scenario%% *}
    set_key=${scenario#* }
    echo "## $stem, factor $factor, scenario $name ($set_key)"
    "$NUNATAK" superres eval "$model" --scenario "$config" --set "$set_key" \
      --prefix "output/superres/eval_${stem}_x${factor}_$name"
  done
done
