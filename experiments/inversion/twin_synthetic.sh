#!/bin/sh
# Twin experiment on a synthetic valley glacier (docs/inversion.md): the
# truth is synthetic_glacier.sh's thickness; `nunatak observe` makes the
# observations (BP surface velocity + 2 m/a noise, radar along 1, 3 or 6
# lines + 10 m noise); `nunatak invert` starts from the plastic estimate
# fitted to those radar cells, in each forward mode, and prints the
# thickness RMS against the truth, the velocity misfits and the time.
#
#   sh experiments/inversion/twin_synthetic.sh [OUTDIR]   (default output/inversion/twin)
set -eu
NUNATAK=${NUNATAK:-build/bin/nunatak}
MODEL=${MODEL:-experiments/emulator/cnn_glen_data.pt}
out=${1:-output/inversion/twin}
mkdir -p "$out"
sh experiments/inversion/synthetic_glacier.sh "$out/valley.nc"
cat > "$out/twin.yaml" <<YAML
input.geometry.file: $(realpath "$out/valley.nc")
bp.levels: 9
flow_law.softness: 7.574e-17
thickness_estimate.holdout_block_size: 0
emulator.model: $(realpath "$MODEL")
observe: {velocity_noise: 2, radar_noise: 10, seed: 1}
inversion:
  iterations: 100
  precision: single
  velocity.sigma: 2
  radar.sigma: 10
output.quicklook: [thk_change, velsurf_misfit_bp]
YAML
echo "| radar lines | forward | thickness RMS vs truth (m), first guess -> inverted | velocity misfit, forward / BP (m/a) | steps | time (s) |"
echo "|---|---|---|---|---|---|"
for lines in 1 3 6; do
  "$NUNATAK" observe "$out/twin.yaml" -o "$out/obs_$lines.nc" --set observe.radar_lines=$lines \
    > "$out/observe_$lines.log" 2>&1
  for forward in solver emulator hybrid; do
    log="$out/invert_${lines}_$forward.log"
    "$NUNATAK" invert "$out/twin.yaml" --set input.observations.file="$(realpath "$out/obs_$lines.nc")" \
      --set inversion.forward=$forward --set output.file="$out/inverted_${lines}_$forward.nc" > "$log" 2>&1
    truth=$(sed -n "s/.*twin's truth, not used): RMS \([0-9.]*\) m (first guess \([0-9.]*\) m).*/\2 -> \1/p" "$log")
    fwd=$(sed -n "s/.*with the $forward's velocity: surface velocity RMS misfit \([0-9.]*\) m\/a.*/\1/p" "$log")
    bp=$(sed -n "s/.*with Blatter-Pattyn's velocity: surface velocity RMS misfit \([0-9.]*\) m\/a.*/\1/p" "$log")
    steps=$(sed -n "s/.*inversion: \([0-9]*\) steps.*in \([0-9.]*\) s;.*/\1/p" "$log")
    secs=$(sed -n "s/.*inversion: \([0-9]*\) steps.*in \([0-9.]*\) s;.*/\2/p" "$log")
    echo "| $lines | $forward | $truth | ${fwd:-–} / $bp | $steps | $secs |"
  done
done
