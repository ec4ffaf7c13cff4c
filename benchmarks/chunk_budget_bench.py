"""Benchmark: the Newton fit's chunk budget and threads on the CPU, one setting against another in the same run.

``fit_logistic(..., solver="newton")`` splits the configurations into chunks whose working set fits
a byte budget and runs Newton's method chunk by chunk. A small chunk stays in a core's cache, a
large one pays fewer Python-level operations per configuration; which wins depends on the host's
caches. This benchmark times the same fit (baselines_bench.py's problem and sizes, same data) under
several budgets and thread counts (``fit_logistic(..., threads=N)`` spreads the chunks over N
threads), interleaved, and reports each setting's median time against the 4 MB budget on one
thread the solver used before and against its current default on one thread. The fitted
parameters must be identical under every setting (each configuration's arithmetic is independent
of its chunk mates); the run stops with an error if they are not.

    python benchmarks/chunk_budget_bench.py                       # the six sizes, 5 repeats
    python benchmarks/chunk_budget_bench.py --quick               # small sizes, seconds
    python benchmarks/chunk_budget_bench.py --budgets-mb 4 16 64 --write
    python benchmarks/chunk_budget_bench.py --budgets-mb 4 --threads 1 2   # and the default
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from baselines_bench import draw, make_benchmark_problem  # benchmarks/ is the script's folder
from results_log import append_run

SIZES = ((200, 100), (200, 1000), (200, 10000), (2000, 100), (2000, 1000), (20000, 100))
QUICK_SIZES = ((200, 50), (500, 40))
FORMER_MB = 4.0


def cache_sizes() -> str:
    """The host's caches as sysfs lists them for CPU 0 ('L1d 48K, L2 2048K, L3 491520K'), or ''."""
    out = []
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        try:
            level = (index / "level").read_text().strip()
            kind = (index / "type").read_text().strip()
            size = (index / "size").read_text().strip()
        except OSError:
            continue
        if kind != "Instruction":
            out.append(f"L{level}{'d' if kind == 'Data' else ''} {size}")
    return ", ".join(out)


def fit(X, y, budget_mb, args, threads=1):
    from collective_action.simulate.logistic import fit_logistic

    budget = None if budget_mb is None else int(budget_mb * 2**20)
    return fit_logistic(X, y, n_classes=2, steps=args.steps, l2=args.l2, solver="newton", tol=args.tol,
                        backend="numpy", memory_budget=budget, threads=threads)


def run_size(args, problem, n: int, C: int) -> dict:
    # (budget in MB or None for the solver's default, threads)
    sides = [(b, t) for b in (*args.budgets_mb, None) for t in args.threads]
    batch = draw(problem, C, n, 10)
    fit(batch.X[:2], batch.y[:2], None, args)  # warm-up (imports), untimed
    times = {s: [] for s in sides}
    ref = None
    for _ in range(args.repeats):
        for side in sides:                     # interleaved: every setting once per repeat
            t0 = time.perf_counter()
            result = fit(batch.X, batch.y, side[0], args, side[1])
            times[side].append(time.perf_counter() - t0)
            params = (np.asarray(result.W), np.asarray(result.b))
            if ref is None:
                ref = params
            elif not (np.array_equal(params[0], ref[0]) and np.array_equal(params[1], ref[1])):
                raise SystemExit(f"error: the fit with budget {side[0]} MB on {side[1]} thread(s) differs from "
                                 f"the first setting's at n={n}, C={C}; chunking must not change any result")
    med = {s: float(np.median(t)) for s, t in times.items()}
    former = med.get((FORMER_MB, 1))
    default = med.get((None, 1))
    rows = []
    for side in sides:
        rows.append({"budget_mb": "default" if side[0] is None else side[0], "threads": side[1],
                     "fit_s": round(med[side], 5), "per_config_point_ns": round(med[side] / (n * C) * 1e9, 2),
                     "vs_former": None if former is None else round(former / med[side], 3),
                     "vs_default": None if default is None else round(default / med[side], 3)})
    return {"n": n, "configs": C, "rows": rows}


def table(result: dict) -> str:
    lines = []
    for cell in result["sizes"]:
        lines += [f"\n#### n = {cell['n']}, C = {cell['configs']}\n",
                  "| budget (MB) | threads | fit (s) | ns per (configuration x point) | 4 MB, 1 thread time / this "
                  "| default, 1 thread time / this |",
                  "|---|---|---|---|---|---|"]
        for r in cell["rows"]:
            lines.append(f"| {r['budget_mb']} | {r['threads']} | {r['fit_s']} | {r['per_config_point_ns']} | "
                         f"{'-' if r['vs_former'] is None else r['vs_former']} | "
                         f"{'-' if r['vs_default'] is None else r['vs_default']} |")
    return "\n".join(lines)


def main(argv=None) -> dict:
    from collective_action.simulate.logistic import NEWTON_CPU_MEMORY_BUDGET

    ap = argparse.ArgumentParser(prog="chunk_budget_bench.py", description=__doc__.splitlines()[0])
    ap.add_argument("--budgets-mb", type=float, nargs="+", default=[1, 4, 16, 64],
                    help="chunk budgets to compare, in MB (the solver's default is always added)")
    ap.add_argument("--threads", type=int, nargs="+", default=[1],
                    help="thread counts to compare (fit_logistic's threads); 1 is always included")
    ap.add_argument("--repeats", type=int, default=5, help="interleaved repeats (median reported)")
    ap.add_argument("--quick", action="store_true", help="two small sizes, 2 repeats (seconds)")
    ap.add_argument("--l2", type=float, default=1e-3)
    ap.add_argument("--tol", type=float, default=1e-6)
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--write", action="store_true", help="append the run to benchmarks/RESULTS.md")
    args = ap.parse_args(argv)
    if any(not b > 0 for b in args.budgets_mb):
        ap.error(f"--budgets-mb must be positive, got {args.budgets_mb}")
    if any(t < 1 for t in args.threads):
        ap.error(f"--threads must be at least 1, got {args.threads}")
    args.threads = sorted(set(args.threads) | {1})
    if args.repeats < 1:
        ap.error(f"--repeats must be at least 1, got {args.repeats}")
    if args.quick:
        args.repeats = min(args.repeats, 2)
    problem = make_benchmark_problem()
    sizes = [run_size(args, problem, n, C) for n, C in (QUICK_SIZES if args.quick else SIZES)]
    result = {"default_mb": NEWTON_CPU_MEMORY_BUDGET / 2**20, "caches": cache_sizes(), "sizes": sizes,
              "command": "python benchmarks/chunk_budget_bench.py " + " ".join(sys.argv[1:] if argv is None else argv)}
    print(json.dumps(result))
    if args.write:
        how = (f"Newton fit, float64, l2 = {args.l2}, tol = {args.tol}, default budget "
               f"{result['default_mb']:g} MB, threads {', '.join(map(str, args.threads))}, caches "
               f"{result['caches'] or 'unknown'}, medians of {args.repeats} interleaved repeats, parameters "
               "identical under every setting")
        append_run("Newton fit: chunk budget and threads vs the former 4 MB on one thread", result["command"].strip(),
                   how, table(result))
    return result


if __name__ == "__main__":
    main()
