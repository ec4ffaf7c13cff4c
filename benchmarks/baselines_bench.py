"""Benchmark: the batched simulator's logistic fit against baselines a demanding reviewer accepts.

Every side gets the same data, the same objective, the same stopping rule (where the solver lets
us choose it) and the same scoring, and is timed in the same process, interleaved:

* data: family 2 (two Gaussian classes, a planted signal on a free coordinate, d = 4), C training
  sets of n points drawn by ``collective_action.simulate.gaussian.sample_batch`` (as
  benchmarks/simulate_bench.py draws them: alpha on a log grid times seeds), and fresh test points
  (clean accuracy on P0, success on signal-carrying points);
* objective: the one the toolkit's Newton solver minimises. ``fit_logistic(..., l2, solver=
  "newton")`` works on theta = (u, c) = (w1 - w0, b1 - b0) and minimises
  ``mean_i softplus(-s_i theta . x_i) + (l2/4) |u|^2`` (simulate/logistic.py, _fit_chunk_newton:
  ``ridge = 0.5 * l2`` on the gradient, ``0.25 * l2 * |u|^2`` in the loss). scikit-learn's binary
  objective ``C_sk sum_i CE_i + |w|^2 / 2`` divided by ``C_sk n`` is ``mean_i CE_i + |w|^2 /
  (2 C_sk n)``, so the matching value is **C_sk = 2 / (l2 n)** (the old benchmark passed
  1 / (l2 n), twice the penalty);
* stopping rule: Newton steps until the 2-norm of the gradient of that objective is below ``tol``
  (toolkit, NumPy, torch: identical rule, same cap on steps, converged configurations frozen);
  scikit-learn lbfgs: ``tol / sqrt(d + 1)`` on the gradient's max-norm (at least as strict);
  newton-cholesky: its own Newton-decrement rule at ``tol``; liblinear: its relative rule at
  ``tol`` (and ``intercept_scaling = 100``: liblinear penalises the intercept, this makes that
  penalty small). Each side's largest gradient norm of the common objective at its answer, and
  its largest parameter distance from the toolkit's, are reported, so the accuracy is visible;
* scoring: accuracy on the same clean test points and success (share predicted y*) on the same
  signal points, batched over configurations on every side, timed inside each side's time: the
  toolkit sides through ``LogisticFit.rates_on`` (for two classes on the CPU one compiled pass over
  every configuration's sets, simulate/fused_scoring.py), the baselines by the short batched
  ``score`` below, one call per evaluation set and its configurations, as a user would write it.

Sides: ``toolkit`` (fit_logistic, solver newton, the NumPy backend, one thread: the default, which
runs the fused kernel of simulate/fused_newton.py); ``toolkit-threads`` (the same with ``threads`` =
the core count, opt-in; on one core it is left out); ``toolkit-array`` (the toolkit's array-API
Newton kernel, ``newton_kernel="array"``, one thread: the former CPU default, which CuPy runs); ``numpy`` (a ~40-line batched
Newton over a (C, n, d + 1) array with matmul, as a user would write it); ``torch`` (the same in
torch, ``torch.linalg.solve`` over the batch, torch's threads = the core count; and ``torch-1t``, the
same on one thread, since on a shared machine more threads can be slower);
``sklearn-<solver>`` (LogisticRegression per configuration, blocks of configurations fitted in
parallel over the cores with joblib's default process backend).

Times: fit-only (the fit, from the NumPy arrays to parameters) and end-to-end (sampling + fit +
scoring). The sampling call is the same for every side (same function, same seeds, same data), so
it is timed once per repeat and added to every side's fit and scoring of that repeat. Medians of
``--repeats`` interleaved repeats (every side once per repeat, in an order shuffled each repeat
with a fixed seed), ratios (baseline time / toolkit time; > 1 means the toolkit is faster) from
the same run. A step shorter than ``WARM_BELOW`` (50 ms: sampling, or one side's fit and scoring)
is timed warm, right after an untimed run of the same step, for every side alike: a short call
otherwise pays for the idle processor or cold caches the step before left behind. Every step
starts after a ``SETTLE_S`` (0.25 s) pause, so that the spinning thread pools of the side before
(OpenBLAS, torch's OpenMP) do not take the cores from the next one.

    python benchmarks/baselines_bench.py                  # the full grid (several minutes)
    python benchmarks/baselines_bench.py --quick          # small sizes, seconds
    python benchmarks/baselines_bench.py --n 2000 --configs 1000 --repeats 5
    python benchmarks/baselines_bench.py --write          # also append to benchmarks/RESULTS.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import re
import time
from pathlib import Path

import numpy as np

from memory_traffic import count_fit_traffic, stream_bandwidth

D = 4                 # features of the benchmark problem (2 class coordinates + 2 free ones)
SKLEARN_SOLVERS = ("liblinear", "lbfgs", "newton-cholesky")
LIBLINEAR_INTERCEPT_SCALING = 100.0
#: Steps (sampling, a side's fit and scoring) shorter than this are timed right after an untimed
#: run of the same step (see run_cell).
WARM_BELOW = 0.05
#: Pause before every step, so that the thread pools of the step before (OpenBLAS's, torch's
#: OpenMP threads) stop spinning before the next one starts (see run_cell).
SETTLE_S = 0.25


def make_benchmark_problem():
    from collective_action.simulate.gaussian import make_problem

    return make_problem(n_classes=2, d_class=2, separation=4.0, sigma=1.0, n_free=2, tau=1.0,
                        placement="free", n_coords=1, amplitude=4.0, mode="additive", jitter=0.0,
                        target=1, strategy="feature-label")


def grid(n_configs: int):
    """(alphas, seeds) of C configurations: a 10-point log grid of alpha per seed, side by side."""
    per = -(-n_configs // 10)
    alphas = np.tile(np.geomspace(0.005, 0.3, 10), per)[:n_configs]
    seeds = np.repeat(np.arange(per), 10)[:n_configs]
    return alphas, seeds


def draw(problem, n_configs: int, n_train: int, n_test: int):
    """C training and test sets, as benchmarks/simulate_bench.py draws them."""
    from collective_action.simulate.gaussian import sample_batch

    return sample_batch(problem, *grid(n_configs), n_train, n_test)


def sklearn_C(l2: float, n: int) -> float:
    """scikit-learn's C for the toolkit's Newton objective mean CE + (l2/4)|u|^2 (see the docstring)."""
    return 2.0 / (l2 * n)


# --------------------------------------------------------------------------------------------
# The sides. Each returns theta (C, d + 1) = (u, c) on the host and the Newton steps it took.


def toolkit_fit(X, y, l2, tol, steps, threads=None, kernel="auto"):
    from collective_action.simulate.logistic import fit_logistic

    fit = fit_logistic(X, y, n_classes=2, steps=steps, l2=l2, solver="newton", tol=tol, backend="numpy",
                       threads=threads, newton_kernel=kernel)
    return fit


def toolkit_theta(fit):
    """theta = (u, c) of the toolkit's two-class fit, the parametrisation the baselines return."""
    from collective_action.theory.max_margin import binary_direction

    return binary_direction(fit)


def numpy_newton(X, y, l2, tol, steps):
    """Batched Newton for C binary logistic regressions in plain NumPy: what a user would write."""
    C, n, d = X.shape
    Xa = np.concatenate([X, np.ones((C, n, 1))], axis=2)            # (C, n, p): intercept column
    XaT = Xa.transpose(0, 2, 1)                                      # (C, p, n) view
    t = (y == 1).astype(X.dtype)
    ridge = np.r_[np.full(d, 0.5 * l2), 0.0]                         # (l2/4)|u|^2, intercept free
    theta = np.zeros((C, d + 1))
    taken = np.zeros(C, dtype=np.int64)
    with np.errstate(over="ignore"):
        for _ in range(steps):
            prob = 1.0 / (1.0 + np.exp(-(Xa @ theta[:, :, None])[:, :, 0]))
            grad = (XaT @ (prob - t)[:, :, None])[:, :, 0] / n + ridge * theta
            active = np.linalg.norm(grad, axis=1) >= tol
            if not active.any():
                break
            w = prob * (1.0 - prob) / n
            hess = (XaT * w[:, None, :]) @ Xa + np.diag(ridge)
            step = np.linalg.solve(hess, grad[:, :, None])[:, :, 0]
            theta -= active[:, None] * step
            taken += active
    return theta, taken


def torch_newton(X, y, l2, tol, steps, threads=None):
    """The same batched Newton in torch (torch.linalg.solve over the batch), on ``threads`` threads."""
    import torch

    torch.set_num_threads(threads or os.cpu_count() or 1)
    Xt = torch.from_numpy(X)
    C, n, d = Xt.shape
    Xa = torch.cat([Xt, Xt.new_ones(C, n, 1)], dim=2)
    XaT = Xa.transpose(1, 2)
    t = torch.from_numpy(y == 1).to(Xa.dtype)
    ridge = Xa.new_full((d + 1,), 0.5 * l2)
    ridge[d] = 0.0
    theta = Xa.new_zeros(C, d + 1)
    taken = torch.zeros(C, dtype=torch.int64)
    for _ in range(steps):
        prob = torch.sigmoid((Xa @ theta[:, :, None])[:, :, 0])
        grad = (XaT @ (prob - t)[:, :, None])[:, :, 0] / n + ridge * theta
        active = torch.linalg.vector_norm(grad, dim=1) >= tol
        if not bool(active.any()):
            break
        w = prob * (1.0 - prob) / n
        hess = (XaT * w[:, None, :]) @ Xa + torch.diag(ridge)
        step = torch.linalg.solve(hess, grad[:, :, None])[:, :, 0]
        theta -= active[:, None] * step
        taken += active
    return theta.numpy(), taken.numpy()


def _sklearn_block(X, y, C_sk, solver, tol, max_iter):
    """Fit LogisticRegression on each configuration of one block (runs in a joblib worker)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    kw = {"intercept_scaling": LIBLINEAR_INTERCEPT_SCALING} if solver == "liblinear" else {}
    theta = np.empty((X.shape[0], X.shape[2] + 1))
    iters = np.empty(X.shape[0], dtype=np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # counted through n_iter_ instead
        for k in range(X.shape[0]):
            m = LogisticRegression(C=C_sk, solver=solver, tol=tol, max_iter=max_iter, **kw).fit(X[k], y[k])
            theta[k, :-1], theta[k, -1] = m.coef_[0], m.intercept_[0]
            iters[k] = int(np.max(m.n_iter_))
    return theta, iters


def sklearn_tol(solver: str, tol: float, p: int) -> float:
    """scikit-learn's tol giving (at least) the toolkit's stopping rule where the solver allows:
    lbfgs stops on the max-norm of the same gradient, so tol / sqrt(p) bounds the 2-norm by tol;
    liblinear's rule is relative to its first gradient in its own scaling (C_sk * sum, intercept
    feature x 100), which at ``tol`` left gradients of 5e-6 on the common objective (measured), so
    it gets tol / 10; newton-cholesky stops on its Newton decrement, close to the toolkit's rule."""
    return tol / math.sqrt(p) if solver == "lbfgs" else tol / 10 if solver == "liblinear" else tol


def sklearn_fit(X, y, l2, tol, solver, n_jobs, max_iter=1000):
    """scikit-learn per configuration, blocks of configurations in parallel over ``n_jobs`` processes."""
    from joblib import Parallel, delayed

    C, n, d = X.shape
    blocks = np.array_split(np.arange(C), min(C, 4 * n_jobs))
    parts = Parallel(n_jobs=n_jobs)(
        delayed(_sklearn_block)(X[b[0]:b[-1] + 1], y[b[0]:b[-1] + 1], sklearn_C(l2, n), solver,
                                sklearn_tol(solver, tol, d + 1), max_iter) for b in blocks if len(b))
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def score(theta, X_clean, y_clean, X_signal, target):
    """Clean accuracy and success per configuration from theta = (u, c), batched over C (the same
    rule as LogisticFit.accuracy / label_rate: class 1 iff the margin is > 0). The points are
    (C, m, d), or (m, d) shared by every configuration."""
    u, c = theta[:, :-1], theta[:, -1:]
    zc = (X_clean @ u[:, :, None])[:, :, 0] + c
    zs = (X_signal @ u[:, :, None])[:, :, 0] + c
    acc = np.mean((zc > 0) == (y_clean == 1), axis=1)
    succ = np.mean(zs > 0 if target == 1 else zs <= 0, axis=1)
    return acc, succ


def objective_grad_norm(X, y, theta, l2):
    """2-norm of the gradient of the common objective at theta, per configuration (not timed)."""
    C, n, d = X.shape
    Xa = np.concatenate([X, np.ones((C, n, 1))], axis=2)
    with np.errstate(over="ignore"):
        prob = 1.0 / (1.0 + np.exp(-(Xa @ theta[:, :, None])[:, :, 0]))
    grad = (Xa.transpose(0, 2, 1) @ (prob - (y == 1))[:, :, None])[:, :, 0] / n
    grad[:, :d] += 0.5 * l2 * theta[:, :d]
    return np.linalg.norm(grad, axis=1)


# --------------------------------------------------------------------------------------------
# The run


def estimated_bytes(C: int, n: int, n_test: int, d: int = D) -> int:
    """Peak memory of one cell, over-estimated: the sampled data (training sets per configuration,
    test points once per seed, i.e. per 10 configurations) plus the largest side's working set (the
    NumPy/torch baselines: the (C, n, d + 1) array, its weighted copy and a few (C, n) vectors;
    scikit-learn's memory-mapped copy of X is smaller)."""
    data = C * n * (d * 8 + 8 + 1) + -(-C // 10) * n_test * (2 * d * 8 + 2 * 8)
    side = C * n * (2 * (d + 1) * 8 + 6 * 8)
    return data + side


def scaling(cells: list[dict]) -> dict:
    """How the toolkit's fit time grows with C and n: its cost per (configuration x point) in every
    cell, and the spreads the issue-17 goal bounds (flat within 20%): per configuration at each n
    across C, per point at each C across n, and over all cells (max / min)."""
    per = {(c["n"], c["configs"]): c["fit_ns_per_point"] for c in cells}

    def spread(values):
        return round(max(values) / min(values), 2) if len(values) > 1 else None

    across_C = {n: spread([v for (m, _), v in per.items() if m == n]) for n in sorted({k[0] for k in per})}
    across_n = {C: spread([v for (_, c), v in per.items() if c == C]) for C in sorted({k[1] for k in per})}
    return {"ns_per_point": {f"n={n}/C={C}": v for (n, C), v in sorted(per.items())},
            "across_C": {n: s for n, s in across_C.items() if s is not None},
            "across_n": {C: s for C, s in across_n.items() if s is not None},
            "overall": spread(list(per.values()))}


def _sides(args) -> list[str]:
    threaded = ["toolkit-threads"] if args.jobs > 1 else []
    return ["toolkit", *threaded, "toolkit-array", "numpy", "torch", "torch-1t"] + [f"sklearn-{s}" for s in args.sklearn_solvers]


def run_cell(args, problem, n: int, C: int) -> dict:
    l2, tol, steps = args.l2, args.tol, args.steps
    sides = _sides(args)

    def fit_side(side, X, y):
        if side.startswith("toolkit"):
            fit = toolkit_fit(X, y, l2, tol, steps, threads=args.jobs if side == "toolkit-threads" else None,
                              kernel="array" if side == "toolkit-array" else "auto")
            return fit, fit.steps_run
        if side == "numpy":
            return numpy_newton(X, y, l2, tol, steps)
        if side.startswith("torch"):
            return torch_newton(X, y, l2, tol, steps, 1 if side == "torch-1t" else args.jobs)
        return sklearn_fit(X, y, l2, tol, side.split("-", 1)[1], args.jobs)

    def score_side(side, model, batch):
        # every side scores each evaluation set once, under the models of the configurations that
        # share it (a sweep's configurations of one seed share their test points); the toolkit
        # through its own call for that (LogisticFit.rates_on), the baselines group by group
        tests = batch.tests
        if side.startswith("toolkit"):
            return model.rates_on(tests, problem.target)
        acc, succ = np.empty(batch.n_configs), np.empty(batch.n_configs)
        for rows, s in tests.groups():
            X_clean, y_clean, X_signal = tests.X_clean[s], tests.y_clean[s], tests.X_signal[s]
            acc[rows], succ[rows] = score(model[rows], X_clean, y_clean, X_signal, problem.target)
        return acc, succ

    def untimed(side, batch):
        score_side(side, fit_side(side, batch.X, batch.y)[0], batch)

    # warm-up on a few configurations (imports, thread pools, the joblib workers), untimed
    small = draw(problem, min(C, 2 * args.jobs), n, 10)
    for side in sides:
        untimed(side, small)

    # a call shorter than WARM_BELOW is timed warm, right after an untimed call of the same step:
    # otherwise it inherits the state the step before left (a 1.3 ms fit took 1.6 ms after a
    # 20 ms pause and 1.9 ms after 100 ms, the processor idle or the caches cold), which says
    # nothing about the step itself. The first repeat's untimed calls tell which steps are short.
    t0 = time.perf_counter()
    batch = draw(problem, C, n, args.n_test)
    warm_sampling = time.perf_counter() - t0 < WARM_BELOW
    warm = {}
    for side in sides:
        t0 = time.perf_counter()
        untimed(side, batch)
        warm[side] = time.perf_counter() - t0 < WARM_BELOW

    t_sample, t_fit, t_score = [], {s: [] for s in sides}, {s: [] for s in sides}
    models, taken = {}, {}
    for rep in range(args.repeats):
        time.sleep(SETTLE_S)
        if warm_sampling:
            draw(problem, C, n, args.n_test)
        t0 = time.perf_counter()
        batch = draw(problem, C, n, args.n_test)
        t_sample.append(time.perf_counter() - t0)
        # interleaved: every side once per repeat, in an order shuffled each repeat (seeded), so
        # that no side always follows the same one: torch's OpenMP threads spin for a while after
        # its calls and slow whatever multi-threaded code runs next
        for side in [sides[i] for i in np.random.default_rng(rep).permutation(len(sides))]:
            # the pause lets the previous side's threads go idle: measured at n = 2000, C = 100,
            # the threaded fit took 6.7-12.0 ms (median 8.0) right after other sides and
            # 6.6-7.1 ms (median 6.9) after a 0.25 s pause and its warm-up run
            time.sleep(SETTLE_S)
            if warm[side]:
                untimed(side, batch)
            t0 = time.perf_counter()
            model, taken[side] = fit_side(side, batch.X, batch.y)
            t1 = time.perf_counter()
            acc, succ = score_side(side, model, batch)
            t2 = time.perf_counter()
            t_fit[side].append(t1 - t0)
            t_score[side].append(t2 - t1)
            models[side] = (model, acc, succ)
            del model

    ref = toolkit_theta(models["toolkit"][0])
    if "toolkit-threads" in models:  # threads change the schedule, never a number
        assert np.array_equal(toolkit_theta(models["toolkit-threads"][0]), ref)
    fit_med = {s: float(np.median(t_fit[s])) for s in sides}
    # the array kernel's memory traffic, counted op by op on the last repeat's data (untimed); the
    # fused kernel has no array operations to count: it reads its data once and works in cache
    moved, counted = count_fit_traffic(batch.X, batch.y, n_classes=2, steps=steps, l2=l2, solver="newton",
                                       tol=tol, newton_kernel="array")
    assert np.array_equal(toolkit_theta(counted), toolkit_theta(models["toolkit-array"][0]))  # counting changes nothing
    e2e = {s: [a + b + c for a, b, c in zip(t_sample, t_fit[s], t_score[s])] for s in sides}
    e2e_med = {s: float(np.median(e2e[s])) for s in sides}
    rows = {}
    for side in sides:
        model, acc, succ = models[side]
        theta = toolkit_theta(model) if side.startswith("toolkit") else model
        rows[side] = {
            "fit_s": round(fit_med[side], 4), "e2e_s": round(e2e_med[side], 4),
            "score_s": round(float(np.median(t_score[side])), 4),
            "fit_ratio": round(fit_med[side] / fit_med["toolkit"], 2),
            "e2e_ratio": round(e2e_med[side] / e2e_med["toolkit"], 2),
            "fit_s_all": [round(t, 4) for t in t_fit[side]], "e2e_s_all": [round(t, 4) for t in e2e[side]],
            "accuracy": round(float(np.mean(acc)), 5), "success": round(float(np.mean(succ)), 5),
            "max_accuracy_gap": float(np.max(np.abs(acc - models["toolkit"][1]))),
            "max_param_diff": float(np.max(np.abs(theta - ref))),
            "max_grad_norm": float(np.max(objective_grad_norm(batch.X, batch.y, theta, l2))),
            "mean_steps": round(float(np.mean(taken[side])), 2),
        }
    return {"n": n, "configs": C, "n_test": args.n_test, "sample_s": round(float(np.median(t_sample)), 4),
            "sample_s_all": [round(t, 4) for t in t_sample], "sides": rows,
            "fit_ns_per_point": round(fit_med["toolkit"] / (C * n) * 1e9, 2),
            # the fused kernel passes over a configuration's points once per Newton step taken and
            # once to test convergence at its end, plus the final objective's pass
            "fit_ns_per_point_pass": round(fit_med["toolkit"] / (n * float(np.sum(taken["toolkit"] + 2))) * 1e9, 2),
            "fit_bytes": moved, "fit_gb_s": round(moved / fit_med["toolkit-array"] / 1e9, 2),
            # sampling is shared: even with a free fit and free scoring the toolkit's end-to-end
            # time is at least the sampling's, so the end-to-end ratio cannot pass this ceiling
            "e2e_ceiling": round(min(e2e_med[s] for s in _SHORT if s in e2e_med)
                                 / float(np.median(t_sample)), 2)}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=None, help="training points per configuration")
    ap.add_argument("--configs", type=int, nargs="+", default=None, help="configurations C")
    ap.add_argument("--n-test", type=int, default=None, help="test points per configuration (each kind)")
    ap.add_argument("--repeats", type=int, default=None, help="interleaved repeats (median reported)")
    ap.add_argument("--quick", action="store_true", help="small sizes and 2 repeats (seconds)")
    ap.add_argument("--l2", type=float, default=1e-3)
    ap.add_argument("--tol", type=float, default=1e-6, help="gradient-norm tolerance of every Newton side")
    ap.add_argument("--steps", type=int, default=25, help="cap on Newton steps (toolkit, numpy, torch)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                    help="processes for scikit-learn and threads for torch (default: the core count)")
    ap.add_argument("--sklearn-solvers", nargs="+", default=list(SKLEARN_SOLVERS), choices=SKLEARN_SOLVERS)
    ap.add_argument("--max-gb", type=float, default=2.0, help="skip cells whose estimated peak memory exceeds this")
    ap.add_argument("--write", action="store_true", help="append a section to benchmarks/RESULTS.md "
                                                         "and update its 'Current numbers' rows")
    ap.add_argument("--results", default=str(Path(__file__).with_name("RESULTS.md")), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.n is None:
        args.n = [100, 400] if args.quick else [200, 2000, 20000]
    if args.configs is None:
        args.configs = [20, 60] if args.quick else [100, 1000, 10000]
    if args.n_test is None:
        args.n_test = 200 if args.quick else 1000
    if args.repeats is None:
        args.repeats = 2 if args.quick else 5
    from collective_action.errors import InputError

    if min(args.n) < 2 or min(args.configs) < 1 or args.repeats < 1 or args.n_test < 1 or args.jobs < 1:
        raise InputError("--n must be >= 2 and --configs, --repeats, --n-test, --jobs >= 1")
    if not (args.l2 > 0 and args.tol > 0 and args.steps >= 1):
        raise InputError("--l2 and --tol must be positive and --steps >= 1")

    load_start = [round(x, 2) for x in os.getloadavg()]
    bandwidth = stream_bandwidth()
    problem = make_benchmark_problem()
    cells, skipped = [], []
    for n in args.n:
        for C in args.configs:
            need = estimated_bytes(C, n, args.n_test)
            if need > args.max_gb * 1e9:
                skipped.append({"n": n, "configs": C, "estimated_gb": round(need / 1e9, 2)})
                print(json.dumps({"skipped": skipped[-1]}), flush=True)
                continue
            cell = run_cell(args, problem, n, C)
            cell["command"] = (f"python benchmarks/baselines_bench.py --n {n} --configs {C} --n-test {args.n_test} "
                               f"--repeats {args.repeats} --jobs {args.jobs}")
            cells.append(cell)
            print(json.dumps(cell), flush=True)
    result = {"cells": cells, "skipped": skipped, "l2": args.l2, "tol": args.tol, "steps": args.steps,
              "jobs": args.jobs, "repeats": args.repeats, "warm_below": WARM_BELOW, "settle_s": SETTLE_S,
              "n_test": args.n_test,
              "cpu_count": os.cpu_count(), "load_average_start": load_start,
              "load_average": [round(x, 2) for x in os.getloadavg()],
              "sides": _sides(args), "argv": argv}
    # the machine's streaming bandwidth, best of the start and the end of the run
    end = stream_bandwidth()
    result["bandwidth"] = max(bandwidth, end, key=lambda b: b["best_gb_s"])
    result["scaling"] = scaling(cells)
    for c in cells:
        c["traffic_share"] = round(c["fit_gb_s"] / result["bandwidth"]["best_gb_s"], 2)
    if args.write:
        write(result, Path(args.results))
    return result


# --------------------------------------------------------------------------------------------
# RESULTS.md


_BASELINE_LABEL = {"numpy": "batched NumPy Newton (~40 lines)",
                   "torch-best": "batched torch Newton (~40 lines), faster of 1 thread and all cores",
                   "sklearn-best": "scikit-learn, fastest solver per size (joblib)",
                   "toolkit-array": "the toolkit's own array-API Newton kernel (the former CPU default, 1 thread)"}


def _cell_tag(c):
    return f"n={c['n']}/C={c['configs']}"


def _best_of(cell, key, prefix):
    cand = {s: r[key] for s, r in cell["sides"].items() if s.startswith(prefix)}
    if not cand:
        return None, None
    s = min(cand, key=cand.get)
    return s, cell["sides"][s][key.replace("_s", "_ratio")]


def current_rows(result, when) -> list[str]:
    """The 'Current numbers' rows of the simulator: each baseline / toolkit, fit-only and end-to-end."""
    rows = []
    for mode, key, what in (("fit-only", "fit_s", "fit"), ("end-to-end", "e2e_s", "sampling + fit + scoring")):
        for base in ("sklearn-best", "numpy", "torch-best", "toolkit-array"):
            parts = []
            for c in result["cells"]:
                if base.endswith("-best"):
                    s, ratio = _best_of(c, key, base.split("-")[0])
                    if s is None:
                        continue
                    parts.append(f"{_cell_tag(c)} {ratio}x ({s.split('-', 1)[1] if base == 'sklearn-best' else s})")
                elif base in c["sides"]:
                    parts.append(f"{_cell_tag(c)} {c['sides'][base][key.replace('_s', '_ratio')]}x")
            if parts:
                rows.append(f"| `baselines_bench.py` ({mode}) | batched Newton (fit_logistic) vs {_BASELINE_LABEL[base]}, "
                            f"same data, objective and scoring, {what}; baseline time / toolkit time | - | "
                            f"{'; '.join(parts)} | {when} |")
    return rows + goal_rows(result, when) + linearity_and_traffic_rows(result, when)


_SHORT = ("numpy", "torch", "torch-1t")


def goal_rows(result, when) -> list[str]:
    """The 2x goal, on equal footing: the faster of the toolkit's one-thread default and its threaded
    fit against the faster of the short NumPy and torch solvers (torch at 1 thread or all cores)."""
    rows = []
    for mode, key, what in (("fit-only", "fit_s", "fit"), ("end-to-end", "e2e_s", "sampling + fit + scoring")):
        parts = []
        for c in result["cells"]:
            sides = c["sides"]
            ours = min((s for s in ("toolkit", "toolkit-threads") if s in sides), key=lambda s: sides[s][key])
            theirs = min((s for s in _SHORT if s in sides), key=lambda s: sides[s][key], default=None)
            if theirs is None:
                continue
            ceiling = f", ceiling {c['e2e_ceiling']}x" if key == "e2e_s" and "e2e_ceiling" in c else ""
            parts.append(f"{_cell_tag(c)} {round(sides[theirs][key] / sides[ours][key], 2)}x ({theirs} / {ours}{ceiling})")
        if parts:
            rows.append(f"| `baselines_bench.py` ({mode}, goal) | faster of the toolkit's 1 thread and threaded fit vs "
                        f"the faster short batched solver (NumPy, torch at 1 thread or all cores), same data, objective "
                        f"and scoring, {what}; baseline time / toolkit time"
                        + ("; ceiling: the faster short solver's end-to-end time / the shared sampling's, what a "
                           "free fit and free scoring would reach" if key == "e2e_s" else "")
                        + f" | >= 2x (goal) | {'; '.join(parts)} | {when} |")
    return rows


def linearity_and_traffic_rows(result, when) -> list[str]:
    """The two goal rows about the toolkit's fit alone: cost linear in C and n, and its memory traffic
    against the streaming bandwidth measured in the same run."""
    sc, bw = result.get("scaling"), result.get("bandwidth")
    if not sc or not result["cells"]:
        return []
    per_point = "; ".join(f"{k} {v} ns" for k, v in sc["ns_per_point"].items())
    spreads = ("; ".join([f"across C at n={n}: {v}x" for n, v in sc["across_C"].items()]
                         + [f"across n at C={C}: {v}x" for C, v in sc["across_n"].items()]))
    traffic = "; ".join(f"{_cell_tag(c)} {c['fit_gb_s']} GB/s ({c['traffic_share']})" for c in result["cells"])
    return [f"| `baselines_bench.py` (linearity) | toolkit fit time per (configuration x point); spread = max / min "
            f"per configuration at each n across C, per point at each C across n | each spread <= 1.2x (goal) | "
            f"{per_point}; {spreads}; all cells {sc['overall']}x | {when} |",
            f"| `baselines_bench.py` (memory traffic) | the array kernel's NumPy traffic (operands + results of every "
            f"op, counted) / its fit time, share of the streaming bandwidth measured in the run (best of STREAM copy "
            f"{bw['copy_gb_s']} and read {bw['read_gb_s']} GB/s) | >= 0.5 (goal) | {traffic} | {when} |"]


def write(result: dict, path: Path, when: str | None = None) -> None:
    when = when or dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load, start = result["load_average"], result["load_average_start"]
    busy = start[0] > 0.5  # before the run: other processes were using the cores
    lines = [f"\n## baselines: batched simulator vs fair baselines ({when})\n",
             f"`python benchmarks/baselines_bench.py --write` on {platform.machine()}, {result['cpu_count']} cores; "
             f"float64, l2 = {result['l2']} (scikit-learn C = 2 / (l2 n)), tol = {result['tol']}, at most "
             f"{result['steps']} Newton steps; {result['n_test']} clean and {result['n_test']} signal test points "
             f"per configuration; scikit-learn in {result['jobs']} joblib processes, torch on {result['jobs']} "
             f"threads; medians of {result['repeats']} interleaved repeats, steps under "
             f"{result['warm_below'] * 1000:g} ms timed warm (after an untimed run of the same step), every step after a "
             f"{result['settle_s']:g} s pause. Load average before the run {start}, at the "
             f"end {load} (the run itself adds up to {result['jobs']})"
             + (": other processes shared the machine during this run, so absolute times are pessimistic and "
                "multi-core sides (scikit-learn's processes, torch's threads) are hit hardest." if busy else "."),
             "",
             "Ratios are baseline time / toolkit time in the same run (> 1: the toolkit is faster). End-to-end = "
             "sampling (the same `sample_batch` call for every side, timed once per repeat) + fit + batched scoring. "
             "max abs dtheta is the largest parameter distance from the toolkit's answer; max norm g the largest "
             "gradient norm of the common objective at the side's answer.",
             ""]
    for c in result["cells"]:
        lines += [f"### n = {c['n']}, C = {c['configs']}: sampling {c['sample_s']} s",
                  "", f"`{c['command']}`", "",
                  f"Toolkit fit (fused kernel): {c['fit_ns_per_point']} ns per (configuration x point), "
                  f"{c.get('fit_ns_per_point_pass', '-')} ns per point and pass. Array kernel (toolkit-array): "
                  f"{round(c['fit_bytes'] / 1e6, 1)} MB of NumPy traffic counted, {c['fit_gb_s']} GB/s, "
                  f"{c['traffic_share']} of the measured streaming bandwidth. Sampling is shared, so the "
                  f"end-to-end ratio against the faster short solver cannot exceed {c.get('e2e_ceiling', '-')}x "
                  f"here (its end-to-end time / the sampling's).", "",
                  "| side | fit s | fit ratio | end-to-end s | e2e ratio | accuracy | success | max abs dtheta | max norm g | steps |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for s, r in c["sides"].items():
            lines.append(f"| {s} | {r['fit_s']} | {r['fit_ratio']}x | {r['e2e_s']} | {r['e2e_ratio']}x | "
                         f"{r['accuracy']} | {r['success']} | {r['max_param_diff']:.1e} | {r['max_grad_norm']:.1e} | "
                         f"{r['mean_steps']} |")
        lines.append("")
    if result["skipped"]:
        lines.append("Skipped (estimated peak memory over the limit): " + ", ".join(
            f"n = {s['n']}, C = {s['configs']} ({s['estimated_gb']} GB)" for s in result["skipped"]) + ".\n")
    if result.get("bandwidth"):
        bw = result["bandwidth"]
        lines.append(f"Streaming bandwidth measured in this run (best of 5, {bw['array_mb']} MB float64 arrays, "
                     f"at the start and the end): copy {bw['copy_gb_s']} GB/s, read {bw['read_gb_s']} GB/s. "
                     f"Toolkit fit cost per (configuration x point), max / min: across C "
                     f"{result['scaling']['across_C']}, across n {result['scaling']['across_n']}, "
                     f"all cells {result['scaling']['overall']}x.\n")
    rows = current_rows(result, when)
    lines.append("These rows replace the simulator's 'Current numbers' rows (53x float64 / 76x float32, against a "
                 "one-process lbfgs loop with twice the penalty and per-model scoring); those runs stay in the log above.\n")
    text = path.read_text()
    text = update_current_numbers(text, rows)
    path.write_text(text.rstrip("\n") + "\n" + "\n".join(lines))


_OLD_ROW = re.compile(r"^\| `(simulate_bench\.py`? \(float64|simulate_bench\.py --dtype float32`|baselines_bench\.py`)")


def update_current_numbers(text: str, rows: list[str]) -> str:
    """Replace the simulator's rows of the 'Current numbers' table (the old 53x / 76x rows, or the
    rows of an earlier baselines run) by ``rows``, in place; the log below is left as it is."""
    lines = text.split("\n")
    start = next(i for i, l in enumerate(lines) if l.startswith("## Current numbers"))
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    table = [i for i in range(start, end) if lines[i].startswith("|")]
    old = [i for i in table if _OLD_ROW.match(lines[i])]
    at = old[0] if old else (table[-1] + 1 if table else end)
    kept = [l for i, l in enumerate(lines) if i not in set(old)]
    at -= sum(1 for i in old if i < at)
    return "\n".join(kept[:at] + rows + kept[at:])


if __name__ == "__main__":
    from collective_action.errors import run_script

    run_script(main)
