#!/usr/bin/env bash
# Regenerate the numbers and figures of docs/RESULTS.md (claims C1-C5) on this machine.
#
#   bash scripts/results_report.sh            # quick sizes for every claim + the larger runs below
#   QUICK_ONLY=1 bash scripts/results_report.sh
#   DOCS=1 bash scripts/results_report.sh     # ... and copy the PNGs into docs/figures/report/
#
# What runs (sizes are exactly those the report quotes):
#   * reproduce all --quick            -> results/report-quick/{c1..c5}, figures/
#   * reproduce C1 and C5 at full size -> results/report-full/{c1,c5}, figures/
#   * the full-size sweep of c2_simulate_dro (50 s here) -> results/report-full-sweeps/<name>/;
#     EXTRA_SWEEPS="c4_simulate_simplicity c2_empirical_spurious" adds more full-size files
#     (both were too slow for the shared 2-core CPU in the session that wrote the report).
# Not run for the report (too heavy for a shared 2-core CPU in one session): the image files at
# full size (c2_empirical_fmnist_erm_dro: small CNN on all 60k images, 120 models;
# c3_validation_lever; c4_empirical_dominoes); run `collective-action reproduce C2|C3|C4` for them.
# Tables: python scripts/results_tables.py DIR prints every table of the report from the stores.
# Reruns resume (finished cells are never recomputed).
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${MKL_NUM_THREADS:-1}
QUICK=${QUICK:-results/report-quick}
FULL=${FULL:-results/report-full}
SWEEPS=${SWEEPS:-results/report-full-sweeps}
mkdir -p results

timed() { local start=$(date +%s); "$@"; echo "[$(( $(date +%s) - start )) s] $*" >&2; }

timed collective-action reproduce all --quick --out "$QUICK" --workers 1
if [ -z "${QUICK_ONLY:-}" ]; then
  timed collective-action reproduce C1 --out "$FULL" --workers 1
  timed collective-action reproduce C5 --out "$FULL" --workers 1
  for name in c2_simulate_dro ${EXTRA_SWEEPS:-}; do
    timed collective-action sweep "experiments/$name.yaml" --out "$SWEEPS/$name" --workers 1
    collective-action plot "$SWEEPS/$name" --figures "$SWEEPS/figures/$name"
  done
fi
python scripts/results_tables.py "$QUICK" > results/report-tables-quick.md
if [ -z "${QUICK_ONLY:-}" ]; then
  python scripts/results_tables.py "$FULL" > results/report-tables-full.md
  for name in c2_simulate_dro ${EXTRA_SWEEPS:-}; do
    python - "$SWEEPS/$name" <<'PY' >> results/report-tables-full.md
import sys
from pathlib import Path
sys.path.insert(0, "scripts")
from results_tables import agreement_stats, experiment_table
from collective_action.sweep import read_results
frame = read_results(Path(sys.argv[1]))
print(f"\n### {sys.argv[1]} ({len(frame)} rows, {frame['seed'].nunique()} seeds)\n")
print(experiment_table(frame))
for line in agreement_stats(frame):
    print(f"\n- {line}")
PY
  done
fi
if [ -n "${DOCS:-}" ]; then
  mkdir -p docs/figures/report
  cp "$QUICK"/figures/c2.png "$QUICK"/figures/c3.png "$QUICK"/figures/c4.png docs/figures/report/
  if [ -z "${QUICK_ONLY:-}" ]; then
    cp "$FULL"/figures/c1.png "$FULL"/figures/c5.png docs/figures/report/
    for name in c2_simulate_dro ${EXTRA_SWEEPS:-}; do
      cp "$SWEEPS"/figures/$name/*.png "docs/figures/report/${name}_full.png"
    done
  fi
fi
echo "tables: results/report-tables-*.md; figures: $QUICK/figures, $FULL/figures, $SWEEPS/figures"
