#!/usr/bin/env bash
# The emulator's GPU figures on a machine with LibTorch (PyTorch's, with CUDA)
# and nothing else: no PETSc, Kokkos or NetCDF. Configures the LibTorch-only
# build (-DNUNATAK_ENABLE_SOLVERS=OFF), builds the emulator library, its tests
# (where GoogleTest is found) and the two LibTorch benchmarks, then runs them.
#   sh experiments/benchmarks/run_device_benchmarks.sh [OUTPUT_DIR]
# Everything it prints is also written to OUTPUT_DIR/device_benchmarks.txt.
set -u
out="${1:-output/device}"
mkdir -p "$out"
log="$out/device_benchmarks.txt"
build="${BUILD_DIR:-build-device}"
jobs="$(nproc)"
{
  echo "# $(date -u +%FT%TZ) on $(hostname)"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1
  prefix="$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')"
  python3 -c 'import torch; print("PyTorch", torch.__version__, "CUDA", torch.version.cuda)'
  start=$(date +%s)
  if ! cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
    -DNUNATAK_ENABLE_SOLVERS=OFF -DNUNATAK_ENABLE_BENCHMARKS=ON > "$out/configure.log" 2>&1; then
    tail -n 40 "$out/configure.log"
    echo "configure failed"
    exit 1
  fi
  if ! cmake --build "$build" -j "$jobs" > "$out/build.log" 2>&1; then
    grep -B2 -A8 "error" "$out/build.log" | head -n 120
    echo "build failed"
    exit 1
  fi
  echo "configured and built in $(($(date +%s) - start)) s"
  if [ -x "$build/bin/test_bp_energy_torch" ]; then
    (cd "$build" && ctest --output-on-failure -R "bp_energy_torch|emulator_network|emulator_trainer" \
      2>&1 | tail -n 25)
  else
    echo "no GoogleTest here: the tests were not built"
  fi
  echo "## emulator_device_timing (all CPU threads)"
  model=experiments/emulator/cnn_gauss_data.pt
  timeout 300 "$build/bin/emulator_device_timing" 20 "$model"
  echo "## emulator_device_timing (1 CPU thread)"
  OMP_NUM_THREADS=1 timeout 200 "$build/bin/emulator_device_timing" 5 "$model"
  echo "## bp_energy_timing"
  timeout 60 "$build/bin/bp_energy_timing" 64 64 17 20
  timeout 60 "$build/bin/bp_energy_timing" 200 264 9 10
} 2>&1 | tee "$log"
