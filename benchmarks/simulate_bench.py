"""Benchmark: the batched simulator against the loop a user would write.

Same data for both: C training sets of family 2 (two Gaussian classes, a planted signal on a free
coordinate; alpha on a log grid times seeds), sampled once. The batched simulator trains all C
logistic regressions with one batched matrix product per gradient step
(collective_action.simulate.logistic.fit_logistic, via the simulate pillar's learner); the loop
fits scikit-learn's LogisticRegression (lbfgs, the same ridge penalty) once per configuration.
Both are then scored on the same fresh test points (clean accuracy and success), so the speed-up
is quoted at matched accuracy. Achieved GFLOP/s counts the solver's matrix products and is set
against the measured matmul peak of the same backend and dtype (a large square product through
NumPy's BLAS, or cuBLAS on a GPU). Everything is measured in one run.

    python benchmarks/simulate_bench.py                 # print the numbers
    python benchmarks/simulate_bench.py --write         # also append them to benchmarks/RESULTS.md
    python benchmarks/simulate_bench.py --backend cupy --baseline numpy --configs 20000
                                                        # on a GPU: CuPy against the NumPy backend
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
from matmul_peak import matmul_peak_gflops  # benchmarks/ is the script's folder


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", type=int, default=1000)
    ap.add_argument("--n-train", type=int, default=200)
    ap.add_argument("--n-test", type=int, default=1000)
    ap.add_argument("--solver", default="newton", choices=("newton", "gd"),
                    help="batched solver: Newton's method (to the optimum, like lbfgs) or plain GD")
    ap.add_argument("--steps", type=int, default=None,
                    help="cap on solver steps (default: 25 Newton steps, or 50 GD steps)")
    ap.add_argument("--lr", type=float, default=1.0)
    ap.add_argument("--l2", type=float, default=1e-3)
    ap.add_argument("--backend", default="numpy")
    ap.add_argument("--baseline", default="sklearn", choices=("sklearn", "numpy"),
                    help="what the batched simulator is compared with: the scikit-learn loop, or the same "
                         "batched simulator on the NumPy backend (for --backend cupy: the GPU's ratio)")
    ap.add_argument("--dtype", default="float64")
    ap.add_argument("--blas-threads", type=int, default=None,
                    help="limit BLAS/OpenMP threads for both sides (default: the library default)")
    ap.add_argument("--repeats", type=int, default=3,
                    help="time each side this many times and report the median (the first batched "
                         "pass also pays the page faults of its first large allocations)")
    ap.add_argument("--write", action="store_true", help="append a section to benchmarks/RESULTS.md")
    args = ap.parse_args(argv)
    if args.steps is None:
        args.steps = 25 if args.solver == "newton" else 50
    if args.blas_threads is not None:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=args.blas_threads):
            return _main(args)
    return _main(args)


def _main(args) -> dict:

    from sklearn.linear_model import LogisticRegression

    from collective_action.simulate.backend import get_backend
    from collective_action.simulate.gaussian import make_problem, sample_batch
    from collective_action.simulate.logistic import fit_logistic

    bk = get_backend(args.backend)
    problem = make_problem(n_classes=2, d_class=2, separation=4.0, sigma=1.0, n_free=2, tau=1.0,
                           placement="free", n_coords=1, amplitude=4.0, mode="additive", jitter=0.0,
                           target=1, strategy="feature-label")
    C = args.configs
    alphas = np.tile(np.geomspace(0.005, 0.3, 10), -(-C // 10))[:C]
    seeds = np.repeat(np.arange(-(-C // 10)), 10)[:C]
    t0 = time.perf_counter()
    batch = sample_batch(problem, alphas, seeds, args.n_train, args.n_test)
    t_sample = time.perf_counter() - t0
    n, d, K = args.n_train, problem.dim, 2

    peak = matmul_peak_gflops(backend=bk, dtype=args.dtype, size=2048 if bk.name == "numpy" else 8192)

    def simulate_on(backend):
        """The batched simulator on ``backend``: every configuration fitted and scored at once."""
        fit = fit_logistic(batch.X, batch.y, n_classes=K, steps=args.steps, lr=args.lr, l2=args.l2,
                           backend=backend, dtype=args.dtype, solver=args.solver)
        simulate_on.steps_run = float(np.mean(fit.steps_run))
        return fit.accuracy(batch.X_clean, batch.y_clean), fit.label_rate(batch.X_signal, problem.target)

    # the loop a user would write: scikit-learn per configuration, same objective
    def sklearn_loop():
        acc, succ = np.empty(C), np.empty(C)
        for c in range(C):
            model = LogisticRegression(C=1.0 / (args.l2 * n)).fit(batch.X[c], batch.y[c])
            acc[c] = model.score(batch.X_clean[c], batch.y_clean[c])
            succ[c] = (model.predict(batch.X_signal[c]) == problem.target).mean()
        return acc, succ

    # the baseline: that loop, or the same batched computation on NumPy (the CPU side of a GPU's ratio)
    numpy_bk = get_backend("numpy")
    loop = sklearn_loop if args.baseline == "sklearn" else (lambda: simulate_on(numpy_bk))
    # warm-up on a few configurations first (imports, BLAS threads), for each batched side
    for warm in (bk, numpy_bk) if args.baseline == "numpy" else (bk,):
        fit_logistic(batch.X[:2], batch.y[:2], n_classes=K, steps=2, backend=warm)

    # interleaved repeats, so that a change of machine load hits both sides alike
    times_b, times_l = [], []
    for _ in range(max(1, args.repeats)):
        t0 = time.perf_counter()
        acc_b, succ_b = simulate_on(bk)
        times_b.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        acc_l, succ_l = loop()
        times_l.append(time.perf_counter() - t0)
    t_batched, t_loop = float(np.median(times_b)), float(np.median(times_l))

    if args.solver == "newton":  # per step: z and gradient (2np each), Hessian (2np^2), p = d + 1
        p = d + 1
        flops = C * simulate_on.steps_run * (4 * n * p + 2 * n * p * p)
    else:
        flops = C * args.steps * 4 * n * d * K
    result = {
        "configs": C, "n_train": n, "n_test": args.n_test, "dim": d, "classes": K, "solver": args.solver, "steps": args.steps,
        "mean_steps_run": round(simulate_on.steps_run, 2),
        "backend": bk.name, "device": bk.device, "dtype": args.dtype,
        "sample_s": round(t_sample, 3),
        "batched_s": round(t_batched, 3), "loop_s": round(t_loop, 3),
        "batched_configs_per_s": round(C / t_batched, 1), "loop_configs_per_s": round(C / t_loop, 1),
        "ratio": round(t_loop / t_batched, 2),
        "clean_accuracy_batched": round(float(acc_b.mean()), 4), "clean_accuracy_loop": round(float(acc_l.mean()), 4),
        "success_batched": round(float(succ_b.mean()), 4), "success_loop": round(float(succ_l.mean()), 4),
        "max_abs_accuracy_gap": round(float(np.abs(acc_b - acc_l).max()), 4),
        "achieved_gflops": round(flops / t_batched / 1e9, 3), "matmul_peak_gflops": round(peak, 2),
        "baseline": args.baseline, "repeats": max(1, args.repeats), "batched_s_all": [round(t, 3) for t in times_b],
        "loop_s_all": [round(t, 3) for t in times_l],
        "cpu_count": os.cpu_count(), "blas_threads": args.blas_threads or "default",
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(result))
    if args.write:
        _write(result)
    return result


def _write(r: dict) -> None:
    path = Path(__file__).with_name("RESULTS.md")
    when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    baseline, target = (("a scikit-learn loop (LogisticRegression, lbfgs)", "target 50x")
                        if r["baseline"] == "sklearn" else
                        ("the same batched simulator on NumPy (CPU)", "GPU vs the NumPy backend"))
    text = f"""
## simulate: batched simulator vs {baseline} ({when})

`python benchmarks/simulate_bench.py --write` on {platform.machine()}, {r['cpu_count']} cores
(BLAS threads: {r['blas_threads']}), backend {r['backend']} ({r['device']}), {r['dtype']}; load average at the end {r['load_average']}
(times: median of {r['repeats']} interleaved repeats; batched {r['batched_s_all']} s, loop {r['loop_s_all']} s).

| quantity | batched (fit_logistic, solver {r['solver']}, {r['mean_steps_run']} steps on average) | {baseline} |
|---|---|---|
| configurations | {r['configs']} (n = {r['n_train']}, d = {r['dim']}, K = {r['classes']}) | same data |
| wall time (s) | {r['batched_s']} | {r['loop_s']} |
| throughput (configs/s) | {r['batched_configs_per_s']} | {r['loop_configs_per_s']} |
| mean clean accuracy | {r['clean_accuracy_batched']} | {r['clean_accuracy_loop']} |
| mean success | {r['success_batched']} | {r['success_loop']} |

Ratio (baseline / batched): **{r['ratio']}x** ({target}). Largest per-configuration clean-accuracy
gap: {r['max_abs_accuracy_gap']}. Achieved {r['achieved_gflops']} GFLOP/s (the solver's matrix
products only) against a measured matmul peak of {r['matmul_peak_gflops']} GFLOP/s. Sampling the data
took {r['sample_s']} s (not in either time).
"""
    with path.open("a") as fh:
        fh.write(text)


if __name__ == "__main__":
    from collective_action.errors import run_script

    run_script(main)
