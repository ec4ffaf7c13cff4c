"""Benchmark: family 2's sampling, drawn once per distinct seed, against two baselines.

Every side produces the same arrays (tests/simulate/test_sampling_identity.py holds them to it):
C training and test sets of the benchmark problem of benchmarks/baselines_bench.py, alpha on a
10-point log grid times seeds (each seed shared by 10 configurations, as a sweep over alpha has
it). The baselines:

* ``per-configuration``: the loop a user writes first; every configuration seeds its streams,
  draws its base points, plants, and draws its test points;
* ``per-seed, copied``: what a user who noticed the shared seeds writes (and what the toolkit did
  until 2026-12-03): base and test points drawn once per seed, the test points copied into every
  configuration of the seed, as (C, n_test, d) arrays.

The toolkit's ``sample_batch`` draws base and test points once per seed, plants per
configuration, and stores each seed's test points once (``batch.tests``); its learners score each
set once for the configurations that share it. Medians of ``--repeats`` interleaved repeats (the order rotated each repeat);
ratio = baseline time / toolkit time, from the same run.

    python benchmarks/sampling_bench.py              # n = 200, 2000, 20000 with C = 1000, 1000, 200
    python benchmarks/sampling_bench.py --quick      # small sizes, seconds
    python benchmarks/sampling_bench.py --write      # also append the table to benchmarks/RESULTS.md
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from baselines_bench import draw, grid, make_benchmark_problem
from results_log import append_run


def per_configuration_draw(problem, n_configs: int, n_train: int, n_test: int):
    """The baseline: one configuration at a time, each from freshly seeded streams."""
    from collective_action.collective import Collective

    alphas, seeds = grid(n_configs)
    X, y, member, X_signal, X_clean, y_clean, y_signal = _arrays(n_configs, n_configs, n_train, n_test, problem.dim)
    for c, (alpha, seed) in enumerate(zip(alphas, seeds)):
        rng = np.random.default_rng([int(seed), 0])
        x0, y0 = problem.sample_base(n_train, rng)
        collective = Collective(float(alpha), problem.target,
                                signal=lambda xb, rng=rng: problem.plant(xb, rng), strategy=problem.strategy)
        X[c], y[c], member[c] = collective.plant_in_training_set(x0, y0, rng)
        test_rng = np.random.default_rng([int(seed), 1])
        xs, y_signal[c] = problem.sample_base(n_test, test_rng)
        X_signal[c] = problem.plant(xs, test_rng)
        X_clean[c], y_clean[c] = problem.sample_base(n_test, test_rng)
    return X, y, member, X_signal, X_clean, y_clean, y_signal


def _arrays(n_configs: int, n_sets: int, n_train: int, n_test: int, d: int):
    """Every array a draw fills: training sets per configuration, test points per set."""
    return (np.empty((n_configs, n_train, d)), np.empty((n_configs, n_train), dtype=np.int64),
            np.empty((n_configs, n_train), dtype=bool), np.empty((n_sets, n_test, d)), np.empty((n_sets, n_test, d)),
            np.empty((n_sets, n_test), dtype=np.int64), np.empty((n_sets, n_test), dtype=np.int64))


def per_seed_copied_draw(problem, n_configs: int, n_train: int, n_test: int):
    """The second baseline: base and test points once per seed, test points copied into every
    configuration of the seed (a seed's configurations sit side by side here, so by slices)."""
    from collective_action.collective import Collective

    alphas, seeds = grid(n_configs)
    X, y, member, X_signal, X_clean, y_clean, y_signal = _arrays(n_configs, n_configs, n_train, n_test, problem.dim)
    for seed in range(int(seeds[-1]) + 1):   # 10 configurations per seed, side by side
        rows = slice(10 * seed, min(10 * seed + 10, n_configs))
        rng = np.random.default_rng([seed, 0])
        x0, y0 = problem.sample_base(n_train, rng)
        after_base = rng.bit_generator.state
        for c in range(rows.start, rows.stop):
            plant_rng = np.random.Generator(type(rng.bit_generator)())
            plant_rng.bit_generator.state = after_base
            collective = Collective(float(alphas[c]), problem.target,
                                    signal=lambda xb, r=plant_rng: problem.plant(xb, r), strategy=problem.strategy)
            X[c], y[c], member[c] = collective.plant_in_training_set(x0, y0, plant_rng)
        test_rng = np.random.default_rng([seed, 1])
        xs, y_signal[rows] = problem.sample_base(n_test, test_rng)
        X_signal[rows] = problem.plant(xs, test_rng)
        X_clean[rows], y_clean[rows] = problem.sample_base(n_test, test_rng)
    return X, y, member, X_signal, X_clean, y_clean, y_signal


SIDES = {"per-configuration": per_configuration_draw, "per-seed, copied": per_seed_copied_draw}


def measure(sizes, repeats: int, n_test: int) -> list[dict]:
    problem = make_benchmark_problem()
    rows = []
    for n, C in sizes:
        times = {"toolkit": [], **{side: [] for side in SIDES}}
        order = ["toolkit", *SIDES]
        for r in range(repeats):  # interleaved, the order rotated, so no side always runs first
            batch, bases = None, {}
            for side in order[r % len(order):] + order[:r % len(order)]:
                t = time.perf_counter()
                if side == "toolkit":
                    batch = draw(problem, C, n, n_test)
                else:
                    bases[side] = SIDES[side](problem, C, n, n_test)
                times[side].append(time.perf_counter() - t)
            held = {"toolkit": sum(a.nbytes for a in (batch.X, batch.y, batch.member, batch.tests.X_signal,
                                                       batch.tests.X_clean, batch.tests.y_clean, batch.tests.y_signal))}
            names = ("X", "y", "member", "X_signal", "X_clean", "y_clean", "y_signal")
            for side, base in bases.items():
                assert all(np.array_equal(a, getattr(batch, k)) for a, k in zip(base, names)), side
                held[side] = sum(a.nbytes for a in base)
            del batch, bases
        med = {k: statistics.median(v) for k, v in times.items()}
        rows.append({"n": n, "C": C, "n_test": n_test, **{f"{k}_s": v for k, v in med.items()},
                     **{f"{side}_ratio": med[side] / med["toolkit"] for side in SIDES},
                     **{f"{side}_mb": held[side] / 2**20 for side in held}})
    return rows


def table(rows) -> str:
    lines = ["| n | C | n_test | per-configuration draw (s) | per-seed, copied (s) | toolkit (s) "
             "| ratio to per-configuration | ratio to per-seed, copied | arrays held, copied / toolkit (MB) |",
             "|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['n']} | {r['C']} | {r['n_test']} | {r['per-configuration_s']:.3f} | "
              f"{r['per-seed, copied_s']:.3f} | {r['toolkit_s']:.3f} | **{r['per-configuration_ratio']:.1f}x** | "
              f"**{r['per-seed, copied_ratio']:.2f}x** | {r['per-seed, copied_mb']:.0f} / {r['toolkit_mb']:.0f} |"
              for r in rows]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (seconds)")
    ap.add_argument("--repeats", type=int, default=5, help="interleaved repeats (median reported)")
    ap.add_argument("--write", action="store_true", help="append the table to benchmarks/RESULTS.md")
    args = ap.parse_args()
    if args.repeats < 1:
        ap.error("--repeats must be at least 1")
    sizes = [(200, 100), (2000, 100)] if args.quick else [(200, 1000), (2000, 1000), (20000, 200)]
    rows = measure(sizes, args.repeats, n_test=1000)
    out = table(rows)
    print(out)
    if args.write:
        append_run("Family-2 sampling: once per seed vs per configuration", "python benchmarks/sampling_bench.py"
                   + (" --quick" if args.quick else ""), f"medians of {args.repeats} interleaved repeats", out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
