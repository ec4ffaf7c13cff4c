#!/usr/bin/env bash
# On the lent GPU machine (the `device` tool), from the repository root, with .whl/ carried (made
# here by scripts/gpu_wheels.sh): every GPU check of the project in one go, about 5-8 minutes.
# Logs, JSON and the benchmark sections for benchmarks/RESULTS.md land in $OUT.
#   1. the gpu-marked tests (CuPy == NumPy on the simulate pillar) and the CUDA training test;
#   2. the simulate benchmark on CuPy against the NumPy backend, float64 and float32;
#   3. the empirical benchmark on CUDA (stacked MLPs, a CNN epoch).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-results/gpu-check}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH=/tmp/site
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
python3 -m pip install -q --no-index --no-deps --no-build-isolation --no-compile --target /tmp/site . || exit 1
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  python3 -P -c "import cupy, torch, numpy; print('cupy', cupy.__version__, cupy.cuda.is_available(), '| torch', torch.__version__, torch.cuda.is_available(), '| numpy', numpy.__version__)"
} > "$OUT/gpu.txt" 2>&1
cat "$OUT/gpu.txt"
lines=$(wc -l < benchmarks/RESULTS.md)
status=0
# -P: the installed package in /tmp/site, not the source folders (their layout needs the install)
# (the CUDA training test is not gpu-marked: -m gpu would deselect it, so it runs on its own)
# (--continue-on-collection-errors: a test module needing a package the image lacks, e.g. ray,
#  must not stop the gpu tests of the other modules)
{ timeout 300 python3 -P -m pytest -q -p no:cacheprovider --continue-on-collection-errors -m gpu tests || status=1
  timeout 120 python3 -P -m pytest -q -p no:cacheprovider \
    tests/empirical/test_learners.py::test_cuda_run_matches_cpu_closely || status=1
} > "$OUT/pytest_gpu.log" 2>&1
grep -E "passed|failed|skipped|error" "$OUT/pytest_gpu.log" | tail -4
for dtype in float64 float32; do
  timeout 120 python3 benchmarks/simulate_bench.py --backend cupy --baseline numpy --configs 20000 \
    --dtype "$dtype" --repeats 3 --write > "$OUT/simulate_cupy_$dtype.json" 2>&1 || status=1
  tail -1 "$OUT/simulate_cupy_$dtype.json"
done
timeout 240 python3 benchmarks/empirical_bench.py --device cuda --data-dir .whl/data/fashion-mnist --write > "$OUT/empirical_cuda.log" 2>&1 || status=1
tail -3 "$OUT/empirical_cuda.log"
tail -n +"$((lines + 1))" benchmarks/RESULTS.md > "$OUT/RESULTS_gpu.md"
echo "gpu check: exit $status; files in $OUT"
exit $status
