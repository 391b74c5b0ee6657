#!/usr/bin/env bash
# Blatter-Pattyn benchmark: nunatak's solver against PETSc's own ex48
# (src/snes/tutorials/ex48.c, compiled here from the PETSc installation into a
# temporary folder; it is not part of nunatak) on ISMIP-HOM A, L = 10 km.
#
# Usage (from anywhere, after the nunatak build exists):
#   experiments/benchmarks/bp_vs_ex48.sh [--large] [--repeat N] [--grids "32x32x9 64x64x17"]
#                                        [--no-ex48] [--no-parallel] [--options "PETSc options"]
#                                        [--nunatak PATH] [--keep]
#   --large        also run 128x128x33 (about 1.1 million unknowns: minutes, ~5 GB for nunatak)
#   --repeat N     run every case N times and keep the fastest (the machine may be shared)
#   --grids LIST   grids NXxNYxNZ (nodes); NX = NY, NX a multiple of 16, (NZ-1) = 4 NX/16
#                  keeps ex48's coarse grid at the reference 16x16x5
#   --options S    nunatak's PETSc options (prefix -bp_) instead of the recommended set below
#                  (setting -bp_pc_mg_levels switches nunatak's grid sequencing off)
#   --nunatak PATH the nunatak executable (default build/bin/nunatak, built if missing)
#   --keep         keep the temporary folder (logs, ex48 binary, NetCDF output)
#
# What is compared (both codes on 1 rank; nunatak also on 2):
#   * solve time, everything the user waits for in one solve. ex48: the SNESSolve event of
#     -log_view (all grid-sequence levels, with their matrix creation, which happens inside
#     SNESSolve). nunatak: its own timer around the solver's construction (DMDA, matrix, COO
#     preallocation), the geometry and BlatterPattyn::solve() (coarser grids of its grid
#     sequencing, with their set-up, included); nunatak's SNESSolve events (all grids) are
#     printed too. Also the wall time of the whole process measured here (date +%s.%N;
#     includes start-up and, for nunatak, the NetCDF output used for the surface statistics);
#   * Newton iterations and Krylov iterations per Newton iteration on the finest grid (both
#     codes also: Newton iterations summed over all grid-sequence levels);
#   * peak resident memory (/usr/bin/time "Maximum resident set size"; summed over ranks)
#     per unknown (2 NX NY NZ unknowns);
#   * surface vx (m/a) over the whole surface: max, min, mean (ex48's "Surface statistics",
#     nunatak's uvelsurf from its NetCDF output).
# Stopping criteria: ex48 -snes_rtol 1e-8 -snes_stol 0 (relative to the initial residual of
# each grid-sequence level); nunatak: on the finest grid, its built-in rtol 1e-8 relative to
# the initial residual or the absolute tolerance 1e-8 of the residual at zero velocity (the
# driving stress; this one stops it here), i.e. the same absolute level as without grid
# sequencing; its coarser grids stop at 1e-2 (-bp_grid_sequence_rtol; 1e-4 until 2026-12-02).
# ex48's reference solver (issue text): -ksp_type fgmres -pc_type mg -pc_mg_type full
# -mg_levels_ksp_type gmres -mg_levels_ksp_max_it 1 -mg_levels_pc_type icc -thi_mat_type sbaij
# (coarse levels re-discretised by ex48; 3 levels for 64x64x17 from -M 16 -P 5
# -snes_grid_sequence 2).
set -uo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
# Recommended nunatak options (stated explicitly, so that the figures do not depend on the
# code's defaults; they are also its defaults on grids that coarsen by 2): FGMRES
# preconditioned by full geometric multigrid on the DMDA with Galerkin coarse operators (the
# solver provides no coarse-level callbacks; the level count is the code's, as many as keep
# 4 nodes across and 3 deep), one GMRES iteration of block-Jacobi/ICC(0) as smoother (ex48's
# solver), ICC without its default positive-definite shift (with the shift, the smoother
# stagnates on Greenland, whose Jacobian has negative ICC(0) pivots; ILU(0) works too but
# its factorisation costs more), and PETSc's backtracking line search on the residual norm.
# Grid sequencing (coarser grids first) is nunatak's default on cold starts.
# -bp_snes_linesearch_type cp saved 3 to 4 Newton iterations without grid sequencing, none
# with it, and does not converge on Greenland (16 km); try it with --options.
recommended="-bp_snes_linesearch_type bt -bp_ksp_type fgmres -bp_pc_type mg -bp_pc_mg_galerkin both \
-bp_pc_mg_type full -bp_mg_levels_ksp_type gmres -bp_mg_levels_ksp_max_it 1 \
-bp_mg_levels_pc_type bjacobi -bp_mg_levels_sub_pc_type icc -bp_mg_levels_sub_pc_factor_shift_type none"

grids="32x32x9 64x64x17"
large=0 repeat=1 run_ex48=1 run_np2=1 keep=0
options="$recommended"
nunatak="$root/build/bin/nunatak"
while [ $# -gt 0 ]; do
  case "$1" in
    --large) large=1 ;;
    --repeat) repeat="$2"; shift ;;
    --grids) grids="$2"; shift ;;
    --no-ex48) run_ex48=0 ;;
    --no-parallel) run_np2=0 ;;
    --options) options="$2"; shift ;;
    --nunatak) nunatak="$2"; shift ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d'; exit 0 ;;
    *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
[ "$large" = 1 ] && grids="$grids 128x128x33"

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
unset PETSC_OPTIONS
mpirun=(mpirun --allow-run-as-root --oversubscribe)
tmp="$(mktemp -d /tmp/bp_vs_ex48.XXXXXX)"
if [ "$keep" = 1 ]; then echo "temporary folder (kept): $tmp"; else trap 'rm -rf "$tmp"' EXIT; fi

if [ ! -x "$nunatak" ]; then
  echo "building nunatak ..."
  cmake --build "$root/build" -j2 --target nunatak >"$tmp/build.log" 2>&1 ||
    { tail -20 "$tmp/build.log"; exit 1; }
fi

# --- ex48 from the PETSc installation --------------------------------------------------
if [ "$run_ex48" = 1 ]; then
  ex48_src="${EX48_SRC:-}"
  if [ -z "$ex48_src" ]; then
    ver="$(pkg-config --modversion PETSc 2>/dev/null | cut -d. -f1,2)"
    for c in "/usr/share/petsc/$ver/share/petsc/examples/src/snes/tutorials/ex48.c" \
             "$(pkg-config --variable=prefix PETSc 2>/dev/null)/share/petsc/examples/src/snes/tutorials/ex48.c"; do
      [ -f "$c" ] && { ex48_src="$c"; break; }
    done
  fi
  [ -f "$ex48_src" ] || { echo "ex48.c not found (set EX48_SRC)" >&2; exit 1; }
  # ex48 includes the private header petsc/private/dmdaimpl.h: it is under PETSc's include dir.
  mpicc -O2 $(pkg-config --cflags PETSc) "$ex48_src" -o "$tmp/ex48" $(pkg-config --libs PETSc) -lm \
    >"$tmp/ex48_build.log" 2>&1 || { cat "$tmp/ex48_build.log"; exit 1; }
  echo "ex48: $ex48_src compiled with mpicc -O2 (PETSc $(pkg-config --modversion PETSc))"
fi
echo "nunatak: $nunatak"
echo "machine: $(getconf _NPROCESSORS_ONLN) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo

now() { date +%s.%N; }
fmin() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b + 0 < a + 0) print b; else print a }'; }
snes_time() { awk '$1 == "SNESSolve" { print $4; exit }' "$1"; }

# Whole-surface statistics of uvelsurf (m/a) from a nunatak NetCDF file: "max min mean".
surface_stats() {
  ncdump -v uvelsurf "$1" | awk '/^ uvelsurf =/ {on = 1; sub(/.*=/, "")} on {
      last = /;/; gsub(/[;,]/, " "); for (i = 1; i <= NF; i++) { v = $i + 0; n++; s += v;
        if (n == 1 || v > mx) mx = v; if (n == 1 || v < mn) mn = v }
      if (last) on = 0 } END { if (n) printf "%.4f %.4f %.4f\n", mx, mn, s / n }'
}

declare -A R   # results, keyed "grid:field"

run_nunatak() { # grid np -> fills R
  local g=$1 np=$2 nx ny nz opts rep log rss t0 t1 wall st
  IFS=x read -r nx ny nz <<<"$g"
  opts="$options"
  R[$g:opts]="$opts"
  for rep in $(seq "$repeat"); do
    log="$tmp/nunatak_${g}_np${np}_$rep.log"; rss="$tmp/nunatak_${g}_np${np}_$rep.rss"
    local out=()
    [ "$np" = 1 ] && out=(-o "$tmp/nunatak_$g.nc")
    t0=$(now)
    if [ "$np" = 1 ]; then
      PETSC_OPTIONS="$opts -log_view" /usr/bin/time -f "%M" -a -o "$rss" \
        "$nunatak" ismip-hom A --length 10 --grid "$g" "${out[@]}" >"$log" 2>&1
    else
      "${mpirun[@]}" -n "$np" -x PETSC_OPTIONS="$opts -log_view" -x OMP_NUM_THREADS \
        /usr/bin/time -f "%M" -a -o "$rss" \
        "$nunatak" ismip-hom A --length 10 --grid "$g" >"$log" 2>&1
    fi
    local rc=$?
    t1=$(now)
    if [ $rc != 0 ] || ! grep -q "^Newton" "$log"; then
      echo "nunatak $g on $np rank(s) failed (log $log):" >&2; tail -5 "$log" >&2; return 1
    fi
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
    st="$(sed -nE 's/^Newton.*, ([0-9.]+) s \(set-up and solve\)$/\1/p' "$log")"
    R[$g:wall$np]=$(fmin "${R[$g:wall$np]:-}" "$wall")
    R[$g:solve$np]=$(fmin "${R[$g:solve$np]:-}" "$st")
    R[$g:snes$np]=$(fmin "${R[$g:snes$np]:-}" "$(snes_time "$log")")
    R[$g:rss$np]=$(awk '{ s += $1 } END { print s }' "$rss")   # kB, summed over ranks
    rm -f "$rss"
    read -r newton krylov <<<"$(sed -nE 's/^Newton ([0-9]+) iterations, ([0-9]+) Krylov.*/\1 \2/p' "$log")"
    R[$g:newton$np]=$newton; R[$g:krylov$np]=$krylov
    coarse="$(sed -nE 's/^grid sequencing: ([0-9]+) coarser grid\(s\) first, ([0-9]+) Newton.*/\2/p' "$log")"
    R[$g:newton_all$np]=$((newton + ${coarse:-0}))
    R[$g:line$np]="$(grep -E '^surface vx' "$log")"
    R[$g:resid$np]="$(grep -oE 'residual [^ ]+ -> [^ ]+ \([A-Z_]+\)' "$log")"
  done
  if [ "$np" = 1 ]; then R[$g:surf_n]="$(surface_stats "$tmp/nunatak_$g.nc")"; fi
}

run_ex48() { # grid -> fills R
  local g=$1 nx ny nz gs=-1 k f M P log rss t0 t1 wall
  IFS=x read -r nx ny nz <<<"$g"
  for k in 4 3 2 1 0; do
    f=$((1 << k))
    if [ "$nx" = "$ny" ] && [ $((nx % f)) = 0 ] && [ $(((nz - 1) % f)) = 0 ] &&
       [ $((nx / f)) -ge 16 ] && [ $(((nz - 1) / f)) -ge 4 ]; then gs=$k; break; fi
  done
  [ $gs -ge 0 ] || { echo "ex48: grid $g not reachable by grid sequencing" >&2; return 1; }
  M=$((nx >> gs)); P=$((((nz - 1) >> gs) + 1))
  R[$g:ex48args]="-M $M -P $P -snes_grid_sequence $gs"
  for rep in $(seq "$repeat"); do
    log="$tmp/ex48_${g}_$rep.log"; rss="$tmp/ex48_$g.rss"
    t0=$(now)
    /usr/bin/time -f "%M" -o "$rss" "$tmp/ex48" -thi_hom A -thi_L 10e3 -M $M -P $P \
      -snes_grid_sequence $gs -ksp_type fgmres -pc_type mg -pc_mg_type full \
      -mg_levels_ksp_type gmres -mg_levels_ksp_max_it 1 -mg_levels_pc_type icc \
      -thi_mat_type sbaij -snes_rtol 1e-8 -snes_stol 0 -snes_converged_reason -log_view \
      >"$log" 2>&1 || { echo "ex48 $g failed (log $log)" >&2; tail -5 "$log" >&2; return 1; }
    t1=$(now)
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
    R[$g:ex_wall]=$(fmin "${R[$g:ex_wall]:-}" "$wall")
    R[$g:ex_solve]=$(fmin "${R[$g:ex_solve]:-}" "$(snes_time "$log")")
    R[$g:ex_rss]=$(cat "$rss")
    # The finest grid ex48 reports ("num elements" are DMDA node counts here).
    R[$g:ex_grid]=$(sed -nE 's/^Level ([0-9]+) .*num elements ([0-9]+) x ([0-9]+) x ([0-9]+) .*/\1 \2x\3x\4/p' "$log" |
                    sort -n | tail -1 | cut -d' ' -f2)
    read -r newton krylov <<<"$(sed -nE 's/.*Number of SNES iterations = ([0-9]+), total linear iterations = ([0-9]+).*/\1 \2/p' "$log")"
    R[$g:ex_newton]=$newton; R[$g:ex_krylov]=$krylov
    R[$g:ex_newton_all]=$(sed -nE 's/.*Nonlinear solve converged due to [A-Z_]+ iterations ([0-9]+).*/\1/p' "$log" |
                          awk '{ s += $1 } END { print s }')
    R[$g:surf_e]=$(sed -nE 's/^Surface statistics: u in \[ *([^,]+), *([^]]+)\] mean *(.*)$/\2 \1 \3/p' "$log" |
                   awk '{ printf "%.4f %.4f %.4f\n", $1, $2, $3 }')
  done
}

for g in $grids; do
  echo "== $g"
  run_nunatak "$g" 1 || continue
  echo "   nunatak 1 rank : set-up + solve ${R[$g:solve1]} s (SNESSolve, all grids, ${R[$g:snes1]} s), wall ${R[$g:wall1]} s, Newton ${R[$g:newton1]} (all grids ${R[$g:newton_all1]}), Krylov ${R[$g:krylov1]}, ${R[$g:resid1]}"
  echo "   ${R[$g:line1]}"
  if [ "$run_np2" = 1 ] && run_nunatak "$g" 2; then
    echo "   nunatak 2 ranks: set-up + solve ${R[$g:solve2]} s, wall ${R[$g:wall2]} s, Newton ${R[$g:newton2]}, Krylov ${R[$g:krylov2]}"
  fi
  if [ "$run_ex48" = 1 ] && run_ex48 "$g"; then
    echo "   ex48 (${R[$g:ex48args]}, finest grid ${R[$g:ex_grid]}): solve ${R[$g:ex_solve]} s, wall ${R[$g:ex_wall]} s, Newton ${R[$g:ex_newton]} (all levels ${R[$g:ex_newton_all]}), Krylov ${R[$g:ex_krylov]}"
  fi
done

echo
echo "nunatak options: ${options}"
echo "times in s: sol = nunatak set-up + solve (own timer), ex48 SNESSolve event (-log_view);"
echo "wal = whole process; best of $repeat run(s); allN: Newton iterations on all grids"
printf "\n%-11s %8s | %7s %7s %4s %4s %6s | %7s %7s %4s %6s %5s | %6s %6s | %7s %7s %5s\n" \
  grid unknowns nun_sol nun_wal Nwt allN Kr/Nwt ex_sol ex_wal Nwt Kr/Nwt allN sol_r wal_r 2r_sol 2r_wal eff
for g in $grids; do
  [ -n "${R[$g:solve1]:-}" ] || continue
  IFS=x read -r nx ny nz <<<"$g"; n=$((2 * nx * ny * nz))
  awk -v g="$g" -v n="$n" -v s1="${R[$g:solve1]}" -v w1="${R[$g:wall1]}" -v N1="${R[$g:newton1]}" \
      -v A1="${R[$g:newton_all1]}" \
      -v K1="${R[$g:krylov1]}" -v es="${R[$g:ex_solve]:-}" -v ew="${R[$g:ex_wall]:-}" \
      -v EN="${R[$g:ex_newton]:-}" -v EK="${R[$g:ex_krylov]:-}" -v EA="${R[$g:ex_newton_all]:-}" \
      -v s2="${R[$g:solve2]:-}" -v w2="${R[$g:wall2]:-}" 'BEGIN {
    printf "%-11s %8d | %7.2f %7.2f %4d %4d %6.2f | ", g, n, s1, w1, N1, A1, K1 / N1
    if (es != "") printf "%7.2f %7.2f %4d %6.2f %5d | %6.2f %6.2f | ", es, ew, EN, EK / EN, EA, s1 / es, w1 / ew
    else printf "%7s %7s %4s %6s %5s | %6s %6s | ", "-", "-", "-", "-", "-", "-", "-"
    if (s2 != "") printf "%7.2f %7.2f %4.0f%%\n", s2, w2, 100 * s1 / (2 * s2); else printf "%7s %7s %5s\n", "-", "-", "-" }'
done
echo "(sol_r, wal_r: nunatak/ex48 on 1 rank; eff: 2-rank parallel efficiency of the solve, T1/(2 T2))"

printf "\n%-11s | %9s %9s %9s | %8s %8s %8s | %25s\n" grid nun_B/dof 2r_B/dof ex_B/dof \
  dmax% dmin% dmean% "surface vx max/min/mean"
for g in $grids; do
  [ -n "${R[$g:solve1]:-}" ] || continue
  IFS=x read -r nx ny nz <<<"$g"; n=$((2 * nx * ny * nz))
  read -r nmax nmin nmean <<<"${R[$g:surf_n]:-- - -}"
  read -r emax emin emean <<<"${R[$g:surf_e]:-- - -}"
  awk -v g="$g" -v n="$n" -v r1="${R[$g:rss1]}" -v r2="${R[$g:rss2]:-}" -v re="${R[$g:ex_rss]:-}" \
      -v a="$nmax" -v b="$nmin" -v c="$nmean" -v A="$emax" -v B="$emin" -v C="$emean" 'BEGIN {
    printf "%-11s | %9.0f %9s %9s | ", g, r1 * 1024 / n, (r2 == "" ? "-" : sprintf("%.0f", r2 * 1024 / n)),
      (re == "" ? "-" : sprintf("%.0f", re * 1024 / n))
    if (A != "-") printf "%8.3f %8.3f %8.3f | nunatak %s/%s/%s ex48 %s/%s/%s\n",
      100 * (a - A) / A, 100 * (b - B) / B, 100 * (c - C) / C, a, b, c, A, B, C
    else printf "%8s %8s %8s | nunatak %s/%s/%s\n", "-", "-", "-", a, b, c }'
done
echo "(B/dof: peak resident memory per unknown, 2-rank summed over ranks; d*%: nunatak vs ex48,"
echo " whole-surface statistics of surface vx in m/a)"
