#!/bin/sh
# The Greenland ensemble of docs/ensembles.md on 2 MPI ranks (2 groups of 1):
# the 8 Latin-hypercube members of greenland.yaml plus a ninth that fails on
# purpose (an enhancement factor of 1e7: the flow is so fast that the time
# steps are fractions of a second, and ensemble.member_time_limit stops it),
# stopped by SIGTERM part-way and continued by the same command. The
# summary (summary.nc, summary.png) is in output/ensemble/greenland/.
#
#   sh experiments/ensemble/run.sh
#
# Environment: NUNATAK (the program), MPIEXEC (the launcher). About 2
# minutes on this machine (2 cores), most of it the failing member's limit.
set -eu
NUNATAK=${NUNATAK:-build/bin/nunatak}
MPIEXEC=${MPIEXEC:-mpirun --allow-run-as-root --oversubscribe}
config=experiments/ensemble/greenland.yaml
out=output/ensemble/greenland
rm -rf "$out"
mkdir -p "$out"
# The members: the sample, then the failing one.
table=output/ensemble/greenland_table.csv
"$NUNATAK" ensemble sample "$config" -o "$table"
echo "1e7,1,0" >> "$table"
set -- --set ensemble.members=0 --set "ensemble.parameters=[]" --set "ensemble.table=$table"

# First run: stopped by SIGTERM to the ranks after 12 s (as a batch system's
# time limit would), which checkpoints the members that are running.
$MPIEXEC -n 2 "$NUNATAK" ensemble "$config" "$@" &
launcher=$!
sleep 12
pkill -TERM -P "$launcher" || true
status=0
wait "$launcher" || status=$?
echo "## first run: exit status $status (75: stopped, continue with the same command)"
grep -H "^status:\|^time_years:" "$out"/member_*.status

# The same command continues: finished members are skipped, interrupted
# ones continue from their checkpoints.
status=0
$MPIEXEC -n 2 "$NUNATAK" ensemble "$config" "$@" || status=$?
echo "## second run: exit status $status (1: a member failed, as it should)"
grep -H "^status:\|^attempts:\|^wall_seconds:" "$out"/member_*.status
