#!/bin/sh
# Choosing the Aletsch inversion's settings without its test cells
# (docs/inversion.md, "Aletsch"): the radar cells held out by
# experiments/inversion/aletsch_emulator.yaml (every other 2 km block) are
# dropped altogether, the 206 that remain are split again in 4 km blocks
# (inversion.radar.validation_block_size), and each setting is run on both
# halves: trained on one, reported on the other. The table gives the
# validation RMS of the first guess and of the inversion for each half.
#
#   sh experiments/inversion/aletsch_validation.sh [OUTDIR]
#
# Environment: NUNATAK (the program), ROWS (the settings to run, by name;
# default all), EXTRA (--set options for every row, e.g. "--set
# inversion.forward=solver"), TAG (appended to the rows' names and files).
# About 4 minutes per row and half on this machine with the emulator (the
# final Blatter-Pattyn check is most of it); about 30 in solver mode.
set -eu
NUNATAK=${NUNATAK:-build/bin/nunatak}
out=${1:-output/inversion/aletsch_validation}
mkdir -p "$out"
config=experiments/inversion/aletsch_emulator.yaml
echo "| setting | half | first guess: validation RMS (m) | inverted: radar RMS used / validation (m) | inversion time (s) |"
echo "|---|---|---|---|---|"
while read -r name sets; do
  case " ${ROWS:-$name} " in *" $name "*) ;; *) continue ;; esac
  name="$name${TAG:-}"
  for parity in 0 1; do
    log="$out/${name}_$parity.log"
    # shellcheck disable=SC2086
    "$NUNATAK" invert "$config" --set inversion.radar.validation_block_size=4000 \
      --set inversion.radar.validation_parity=$parity --set output.file="$out/${name}_$parity.nc" \
      --set output.quicklook=[thk_change] $sets ${EXTRA:-} > "$log" 2>&1
    first=$(sed -n 's/.*first guess: radar RMS [0-9.]* m on the cells used, \([0-9.]*\) m on the held-out cells.*/\1/p' "$log")
    used=$(sed -n "s/.*with Blatter-Pattyn's velocity: .*radar RMS \([0-9.]*\) m (bias [-+0-9.]* m) on [0-9]* cells used, held out: RMS \([0-9.]*\) m.*/\1 \/ \2/p" "$log")
    secs=$(sed -n 's/.*inversion: [0-9]* steps.* in \([0-9.]*\) s;.*/\1/p' "$log")
    echo "| $name | $parity | $first | $used | $secs |"
  done
done <<LIST
plastic_H --set inversion.first_guess=plastic --set inversion.velocity.sigma=10 --set inversion.velocity.relative_sigma=0 --set inversion.regularisation.thickness.smooth_correction=false
velocity_H_sigma20_prior --set inversion.velocity.relative_sigma=0 --set inversion.regularisation.thickness.smooth_correction=false --set inversion.regularisation.thickness.prior=1 --set inversion.regularisation.thickness.prior_sigma=50
velocity_radar_only_H --set inversion.velocity.sigma=10000 --set inversion.velocity.relative_sigma=0 --set inversion.regularisation.thickness.smooth_correction=false
velocity_radar_only_correction --set inversion.velocity.sigma=10000 --set inversion.velocity.relative_sigma=0
velocity_sigma20_correction --set inversion.velocity.relative_sigma=0
velocity_sigma20_rel0.3_correction
velocity_sigma20_rel0.3_correction_friction --set inversion.controls=[thickness,friction]
velocity_sigma20_rel0.3_correction_w10 --set inversion.regularisation.thickness.smoothing=10
velocity_sigma20_rel0.3_correction_w100 --set inversion.regularisation.thickness.smoothing=100
LIST
