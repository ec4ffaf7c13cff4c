"""Benchmark: family 2's sampling, drawn once per distinct seed, against the per-configuration draw.

Both sides produce the same arrays (tests/simulate/test_sampling_identity.py holds them to it):
C training and test sets of the benchmark problem of benchmarks/baselines_bench.py, alpha on a
10-point log grid times seeds (each seed shared by 10 configurations, as a sweep over alpha has
it). The baseline is the loop a user writes first: every configuration seeds its streams and
draws its base points, plants, and draws its test points. The toolkit's ``sample_batch`` draws
base and test points once per seed and plants per configuration. Medians of ``--repeats``
interleaved repeats; ratio = baseline time / toolkit time, from the same run.

    python benchmarks/sampling_bench.py              # n = 200, 2000, 20000 with C = 1000, 1000, 200
    python benchmarks/sampling_bench.py --quick      # small sizes, seconds
    python benchmarks/sampling_bench.py --write      # also append the table to benchmarks/RESULTS.md
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from baselines_bench import draw, make_benchmark_problem
from results_log import append_run


def per_configuration_draw(problem, n_configs: int, n_train: int, n_test: int):
    """The baseline: one configuration at a time, each from freshly seeded streams."""
    from collective_action.collective import Collective

    per = -(-n_configs // 10)
    alphas = np.tile(np.geomspace(0.005, 0.3, 10), per)[:n_configs]
    seeds = np.repeat(np.arange(per), 10)[:n_configs]
    d = problem.dim
    X = np.empty((n_configs, n_train, d))
    X_signal, X_clean = np.empty((n_configs, n_test, d)), np.empty((n_configs, n_test, d))
    for c, (alpha, seed) in enumerate(zip(alphas, seeds)):
        rng = np.random.default_rng([int(seed), 0])
        x0, y0 = problem.sample_base(n_train, rng)
        collective = Collective(float(alpha), problem.target,
                                signal=lambda xb, rng=rng: problem.plant(xb, rng), strategy=problem.strategy)
        X[c], _, _ = collective.plant_in_training_set(x0, y0, rng)
        test_rng = np.random.default_rng([int(seed), 1])
        xs, _ = problem.sample_base(n_test, test_rng)
        X_signal[c] = problem.plant(xs, test_rng)
        X_clean[c], _ = problem.sample_base(n_test, test_rng)
    return X, X_signal, X_clean


def measure(sizes, repeats: int, n_test: int) -> list[dict]:
    problem = make_benchmark_problem()
    rows = []
    for n, C in sizes:
        times = {"per-configuration": [], "toolkit": []}
        for _ in range(repeats):  # interleaved, so a slow moment of the machine hits both sides
            t = time.perf_counter()
            base = per_configuration_draw(problem, C, n, n_test)
            times["per-configuration"].append(time.perf_counter() - t)
            t = time.perf_counter()
            batch = draw(problem, C, n, n_test)
            times["toolkit"].append(time.perf_counter() - t)
            assert np.array_equal(base[0], batch.X) and np.array_equal(base[1], batch.X_signal)
            del base, batch
        med = {k: statistics.median(v) for k, v in times.items()}
        rows.append({"n": n, "C": C, "n_test": n_test, **{f"{k}_s": v for k, v in med.items()},
                     "ratio": med["per-configuration"] / med["toolkit"]})
    return rows


def table(rows) -> str:
    lines = ["| n | C | n_test | per-configuration draw (s) | toolkit (s) | ratio |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['n']} | {r['C']} | {r['n_test']} | {r['per-configuration_s']:.3f} | {r['toolkit_s']:.3f} | "
              f"**{r['ratio']:.1f}x** |" for r in rows]
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
