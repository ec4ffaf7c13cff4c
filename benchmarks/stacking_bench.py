"""Benchmark: the empirical pillar's stacked training against training the same cells one at a time.

Sixteen cells (4 alphas x 4 seeds) of one learner run through ``empirical.experiment.run_cells``
twice: ``batched=False`` (each cell alone, the shared loop; the baseline a user gets without
stacking) and ``batched=True`` (cells that differ only in alpha and seed trained as one stacked
model, each with its own rule and state). Same cells, same seeds, one torch thread on both sides;
medians of ``--repeats`` interleaved repeats; ratio = one-at-a-time time / stacked time. The mean
success of both sides is printed next to it (the rows agree up to float rounding, which training
can amplify run by run; docs/empirical.md). The stacked side stacks every model size, whatever the
pillar's CPU size rule (``runner.CPU_STACK_MAX_FLOPS``, which this benchmark's numbers set).

    python benchmarks/stacking_bench.py [--repeats 3] [--quick] [--write]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from results_log import append_run

LEARNERS = [{"name": "erm"}, {"name": "jtt", "hparams": {"T": 1, "upweight": 5}},
            {"name": "cvar", "hparams": {"beta": 0.2}}]
SETS = [
    ("MNIST-1D, MLP 40-100-10, 5 epochs", {"name": "mnist1d", "val_size": 500},
     {"model": "mlp", "width": 100, "epochs": 5, "batch_size": 64}, {"kind": "patch", "size": 3, "place": "corner"}),
    ("Fashion-MNIST 5k, MLP 784-256-10, 3 epochs", {"name": "fashion-mnist", "val_size": 1000, "train_size": 5000},
     {"model": "mlp", "width": 256, "epochs": 3, "batch_size": 128}, {"kind": "patch", "size": 3}),
]


def cells_for(data, train, signal, learner, seeds: int):
    from collective_action import load_experiment

    return load_experiment({
        "name": "stacking-bench", "pillar": "empirical", "seeds": seeds,
        "config": {"data": data, "collective": {"alpha": 0.05, "target": 3}, "learner": learner,
                   "signal": signal, "train": train},
        "grid": {"collective.alpha": [0.01, 0.03, 0.1, 0.3]}}).cells()


def measure(repeats: int, quick: bool) -> list[dict]:
    import torch

    from collective_action.empirical import runner
    from collective_action.empirical.experiment import run_cells

    runner.CPU_STACK_MAX_FLOPS = float("inf")  # stack every size: this benchmark measures where it pays

    torch.set_num_threads(1)
    rows = []
    sets = SETS[:1] if quick else SETS
    for label, data, train, signal in sets:
        for learner in LEARNERS:
            cells = cells_for(data, train, signal, learner, seeds=2 if quick else 4)
            run_cells(cells[:1], batched=False)  # warm-up: data loaded, caches filled
            times = {"alone": [], "stacked": []}
            success = {}
            for _ in range(repeats):  # interleaved, so a slow moment of the machine hits both sides
                for side, batched in (("alone", False), ("stacked", True)):
                    t = time.perf_counter()
                    out = run_cells(cells, batched=batched)
                    times[side].append(time.perf_counter() - t)
                    success[side] = float(np.mean([r[0].success for r in out]))
            med = {k: statistics.median(v) for k, v in times.items()}
            rows.append({"set": label, "learner": learner["name"], "cells": len(cells), **med,
                         "ratio": med["alone"] / med["stacked"], "success_alone": success["alone"],
                         "success_stacked": success["stacked"]})
    return rows


def table(rows) -> str:
    lines = ["| data and model | learner | cells | one at a time (s) | stacked (s) | ratio | mean success (alone / stacked) |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['set']} | {r['learner']} | {r['cells']} | {r['alone']:.2f} | {r['stacked']:.2f} | "
              f"**{r['ratio']:.2f}x** | {r['success_alone']:.3f} / {r['success_stacked']:.3f} |" for r in rows]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3, help="interleaved repeats (median reported)")
    ap.add_argument("--quick", action="store_true", help="MNIST-1D only, 2 seeds (seconds)")
    ap.add_argument("--write", action="store_true", help="append the table to benchmarks/RESULTS.md")
    args = ap.parse_args()
    if args.repeats < 1:
        ap.error("--repeats must be at least 1")
    out = table(measure(args.repeats, args.quick))
    print(out)
    if args.write:
        append_run("Empirical stacking: stacked cells vs one at a time", "python benchmarks/stacking_bench.py"
                   + (" --quick" if args.quick else ""), f"one torch thread, medians of {args.repeats} interleaved "
                   "repeats", out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
