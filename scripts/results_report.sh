#!/usr/bin/env bash
# Regenerate the numbers and figures of docs/RESULTS.md (claims C1-C5) on this machine.
#
#   bash scripts/results_report.sh            # quick sizes for every claim + the larger runs below
#   QUICK_ONLY=1 bash scripts/results_report.sh
#   DOCS=1 bash scripts/results_report.sh     # ... and copy the PNGs into docs/figures/report/
#
# What runs (sizes are exactly those the report quotes; times on an idle 2-core CPU, one thread
# per sweep):
#   * reproduce all --quick            -> results/report-quick/{c1..c5}, figures/      (~4 min)
#   * reproduce C1 and C5 at full size -> results/report-full/{c1,c5}, figures/        (~10 min)
#   * every other experiment file at full size, one sweep each
#     -> results/report-full-sweeps/<name>/ and its figure in results/report-full-sweeps/figures/:
#     c2_simulate_dro (~1 min), c4_simulate_simplicity (~2 min), c2_empirical_fmnist_cnn_erm
#     (40 CNNs on all 60k images, ~50 min), c2_empirical_fmnist_erm_dro (160 MLPs on 60k, ~25 min),
#     c2_empirical_spurious (175 MLPs, ~20 min), c3_validation_lever (40 cells, ~15 min),
#     c4_empirical_dominoes (90 MLPs + 90 CNNs, ~45 min). FULL_SWEEPS="a b" picks a subset.
# Tables: python scripts/results_tables.py DIR prints every table of the report from the stores.
# Reruns resume (finished cells are never recomputed).
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${MKL_NUM_THREADS:-1}
QUICK=${QUICK:-results/report-quick}
FULL=${FULL:-results/report-full}
SWEEPS=${SWEEPS:-results/report-full-sweeps}
FULL_SWEEPS=${FULL_SWEEPS:-c2_simulate_dro c4_simulate_simplicity c2_empirical_fmnist_cnn_erm c2_empirical_fmnist_erm_dro c2_empirical_spurious c3_validation_lever c4_empirical_dominoes}
mkdir -p results

timed() { local start=$(date +%s); "$@"; echo "[$(( $(date +%s) - start )) s] $*" >&2; }

timed collective-action reproduce all --quick --out "$QUICK" --workers 1
if [ -z "${QUICK_ONLY:-}" ]; then
  timed collective-action reproduce C1 --out "$FULL" --workers 1
  timed collective-action reproduce C5 --out "$FULL" --workers 1
  for name in $FULL_SWEEPS; do
    timed collective-action sweep "experiments/$name.yaml" --out "$SWEEPS/$name" --workers 1
    collective-action plot "$SWEEPS/$name" --figures "$SWEEPS/figures/$name"
  done
fi
python scripts/results_tables.py "$QUICK" > results/report-tables-quick.md
if [ -z "${QUICK_ONLY:-}" ]; then
  python scripts/results_tables.py "$FULL" > results/report-tables-full.md
  for name in $FULL_SWEEPS; do
    python - "$SWEEPS/$name" <<'PY' >> results/report-tables-full.md
import sys
from pathlib import Path
sys.path.insert(0, "scripts")
from results_tables import agreement_stats, experiment_table
from collective_action.runs.sweep import read_results
frame = read_results(Path(sys.argv[1]))
print(f"\n### {sys.argv[1]} ({len(frame)} rows, {frame['seed'].nunique()} seeds)\n")
print(experiment_table(frame))
for line in agreement_stats(frame):
    print(f"\n- {line}")
PY
  done
fi
if [ -n "${DOCS:-}" ]; then   # the figures docs/RESULTS.md shows (full size only)
  mkdir -p docs/figures/report
  if [ -z "${QUICK_ONLY:-}" ]; then
    cp "$FULL"/figures/c1.png "$FULL"/figures/c5.png docs/figures/report/
    for name in $FULL_SWEEPS; do
      cp "$SWEEPS"/figures/$name/*.png "docs/figures/report/${name}_full.png"
    done
  fi
fi
echo "tables: results/report-tables-*.md; figures: $QUICK/figures, $FULL/figures, $SWEEPS/figures"
