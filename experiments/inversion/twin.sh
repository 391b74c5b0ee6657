#!/bin/sh
# Twin experiments (known truth; docs/inversion.md, "Twin experiments"):
#
#   sh experiments/inversion/twin.sh synthetic [OUTDIR]   # a valley glacier, 44 x 26 cells of 250 m
#   sh experiments/inversion/twin.sh greenland [OUTDIR]   # a 32 x 31 sector of Greenland at 16 km
#   sh experiments/inversion/twin.sh sliding [OUTDIR]     # model error: the synthetic glacier's
#                                                         # truth slides, the inversion assumes no slip
#
# The geometry's thickness is the truth. `nunatak observe` makes the
# observations: BP surface velocity plus noise, radar along 1, 3 or 6 lines
# plus noise. `nunatak invert` starts from the plastic estimate fitted to
# those radar cells, in each forward mode (solver: L-BFGS; emulator and
# hybrid: Adam), and the table gives the thickness RMS against the truth,
# the velocity misfits of the forward model and of BP at the final state,
# the steps and the inversion's time. Environment: NUNATAK (the program),
# MODEL (the emulator), INVERT_SET (extra --set options of every inversion,
# e.g. "--set inversion.velocity.sigma=20"), FORWARDS (the forward modes to
# run, default "solver emulator hybrid"), LINES (default "1 3 6"), LAUNCH (a
# launcher for the inversions, e.g. "mpirun -n 2": rank 0 inverts, every rank
# joins its Blatter-Pattyn solves).
set -eu
NUNATAK=${NUNATAK:-build/bin/nunatak}
MODEL=${MODEL:-experiments/emulator/cnn_glen_data.pt}
case=${1:?usage: twin.sh synthetic|greenland|sliding [OUTDIR]}
out=${2:-output/inversion/twin_$case}
mkdir -p "$out"
model=$(realpath "$MODEL")
observe_extra=""
case $case in
  synthetic | sliding)
    sh experiments/inversion/synthetic_glacier.sh "$out/truth.nc"
    geometry="input.geometry.file: $(realpath "$out/truth.nc")"
    physics="flow_law.softness: 7.574e-17"
    noise="observe: {velocity_noise: 2, radar_noise: 10, seed: 1}"
    misfit="velocity.sigma: 2
  radar.sigma: 10"
    # Weertman sliding of about 50 m/a under the truth only.
    [ "$case" = sliding ] && observe_extra="--set sliding.law=weertman --set sliding.coefficient=3e-4"
    ;;
  greenland)
    geometry="input:
  geometry.file: $(realpath ../shared/data/greenland-16km/GRL-16KM_TOPO-M17.nc)
  region: [-400000, 100000, -2500000, -2000000]"
    physics="flow_law.softness: 1e-16
thickness_estimate.shape_factor: 1"
    noise="observe: {velocity_noise: 5, radar_noise: 20, seed: 1}"
    misfit="velocity.sigma: 5
  radar.sigma: 20
  radar.density_radius: 20000
  regularisation.thickness.length: 16000"
    ;;
  *) echo "twin.sh: unknown case '$case' (synthetic, greenland or sliding)" >&2; exit 2 ;;
esac
cat > "$out/twin.yaml" <<YAML
$geometry
bp.levels: 9
$physics
thickness_estimate.holdout_block_size: 0
emulator.model: $model
$noise
inversion:
  iterations: 300
  precision: single
  $misfit
output.quicklook: [thk_change, velsurf_misfit_bp]
YAML
echo "| radar lines | forward | thickness RMS vs truth (m), first guess -> inverted | velocity misfit, forward / BP (m/a) | steps | time (s) |"
echo "|---|---|---|---|---|---|"
for lines in ${LINES:-1 3 6}; do
  # shellcheck disable=SC2086
  "$NUNATAK" observe "$out/twin.yaml" -o "$out/obs_$lines.nc" --set observe.radar_lines=$lines \
    $observe_extra > "$out/observe_$lines.log" 2>&1
  for forward in ${FORWARDS:-solver emulator hybrid}; do
    log="$out/invert_${lines}_$forward.log"
    # shellcheck disable=SC2086
    ${LAUNCH:-} "$NUNATAK" invert "$out/twin.yaml" --set input.observations.file="$(realpath "$out/obs_$lines.nc")" \
      --set inversion.forward=$forward --set output.file="$out/inverted_${lines}_$forward.nc" \
      ${INVERT_SET:-} > "$log" 2>&1
    truth=$(sed -n "s/.*twin's truth, not used): RMS \([0-9.]*\) m (first guess \([0-9.]*\) m).*/\2 -> \1/p" "$log")
    fwd=$(grep -v "Blatter-Pattyn's velocity" "$log" |
      sed -n "s/.*with the .*'s velocity: surface velocity RMS misfit \([0-9.]*\) m\/a.*/\1/p")
    bp=$(sed -n "s/.*with Blatter-Pattyn's velocity: surface velocity RMS misfit \([0-9.]*\) m\/a.*/\1/p" "$log")
    steps=$(sed -n "s/.*inversion: \([0-9]*\) steps.*in \([0-9.]*\) s;.*/\1/p" "$log")
    secs=$(sed -n "s/.*inversion: \([0-9]*\) steps.*in \([0-9.]*\) s;.*/\2/p" "$log")
    echo "| $lines | $forward | $truth | ${fwd:-–} / $bp | $steps | $secs |"
  done
done
