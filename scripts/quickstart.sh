#!/usr/bin/env bash
# Quick start: install (Fashion-MNIST package + .venv), then reproduce every claim at quick sizes.
# Figures end up in results/quick/figures/ (PNG and PDF). Rerunning resumes: finished cells are
# never recomputed. Claims without shipped experiment files are skipped with a note.
#
#   bash scripts/quickstart.sh            # install + reproduce all --quick
#   bash scripts/quickstart.sh --docs     # ... and copy the PNGs into docs/figures/ (README images)
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/setup
OUT=${OUT:-results/quick}
start=$(date +%s)
status=0
.venv/bin/collective-action reproduce all --quick --out "$OUT" || status=$?
echo "reproduce all --quick: $(( $(date +%s) - start )) s (exit $status); figures in $OUT/figures/"
.venv/bin/collective-action report "$OUT" --out "$OUT/report.html" || status=$?
if [ "${1:-}" = "--docs" ]; then
  mkdir -p docs/figures
  cp "$OUT"/figures/*.png docs/figures/
  echo "copied $(ls "$OUT"/figures/*.png | wc -l) PNG(s) to docs/figures/"
fi
exit "$status"
