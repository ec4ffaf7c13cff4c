"""Newton's method for C binary logistic regressions on the CPU, one configuration at a time in cache.

The array-API solver in :mod:`collective_action.simulate.logistic` runs every Newton step as a
handful of batched array operations, each a pass over the (C, p, n) data and (C, n) temporaries
in memory. Here compiled loops (numba) train each configuration to convergence on its own: a
step computes margins, residuals, the gradient and the Hessian in a few short vectorised loops
over that configuration's points, which stay in cache across its steps, then a p x p solve.
Nothing is materialised beyond a few per-configuration vectors, and configurations that converge
early cost nothing more (no batch-wide synchronisation, no compaction).

Same objective, stopping rule and step cap as the array solver (its docstring derives them):
theta = (u, c) minimises sum_i w_i softplus(-s_i theta.x_i) / sum_i w_i + (l2/4)|u|^2, a
configuration stops when its gradient norm drops below ``tol`` or after ``steps`` updates. The
arithmetic is summed in another order, so parameters agree with the array solver to rounding
(tested to 1e-10), not bit for bit.

numba is imported and the kernels compiled on first use only (cached on disk), so importing the
simulator stays cheap.
"""

from __future__ import annotations

import functools
import threading

import numpy as np

#: Up to this many parameters (d + intercept) the fused kernel is used: its per-point Hessian
#: update costs p (p + 1) / 2 multiply-adds, which above this is better left to a BLAS product.
FUSED_MAX_PARAMS = 16

#: numba's workqueue threading layer must not be entered from two Python threads at once, so
#: parallel launches take turns; one-thread fits never touch it.
_PARALLEL_LAUNCH = threading.Lock()


@functools.lru_cache(maxsize=1)
def fused_available() -> bool:
    """True when numba imports. It is a declared dependency, but a machine may lack it (the lent
    GPU machine's image does, and its wheels are too large to carry): then 'auto' runs the array
    kernel."""
    try:
        import numba  # noqa: F401
    except Exception:
        return False
    return True


def run_over_configurations(serial, parallel, args, C: int, threads: int) -> None:
    """Run a compiled kernel over C configurations: ``serial(*args, 0, C)`` on the calling thread,
    or with ``threads`` > 1 ``parallel(*args)`` (a ``prange`` over the configurations) on that many
    of numba's threads, one launch at a time, numba's thread count restored after."""
    threads = max(1, min(int(threads), C))
    if threads == 1:
        serial(*args, 0, C)
        return
    import numba

    with _PARALLEL_LAUNCH:
        before = numba.get_num_threads()
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        try:
            parallel(*args)
        finally:
            numba.set_num_threads(before)


def sigmoid_of_minus(m: np.ndarray) -> np.ndarray:
    """sigmoid(-m) = 1 / (1 + exp(m)) of a float64 vector, as the kernel computes it (its own
    vectorised exp; exposed to be tested against the library's)."""
    from collective_action.simulate.fused_newton_kernels import sigmoid_neg

    m = np.ascontiguousarray(m, dtype=np.float64)
    out = np.empty_like(m)
    sigmoid_neg(m, out, np.empty(m.shape[0], dtype=np.int64))
    return out


def fit_newton_fused(X: np.ndarray, y: np.ndarray, w_norm: np.ndarray, *, steps: int, l2: float,
                     fit_intercept: bool, tol: float, threads: int = 1):
    """Newton fits of C binary logistic regressions on host arrays.

    ``X`` (C, n, d) float, ``y`` (C, n) labels in {0, 1}, ``w_norm`` (C, n) weights summing to one
    per configuration, all of X's dtype. Returns (theta (C, p), steps_run, loss, grad_norm) as in
    the array solver, theta = (u, c). ``threads`` > 1 spreads the configurations over numba's
    threads, on its workqueue layer (its OpenMP layer makes a later fork() fatal, and pools fork;
    host threads over ranges of configurations reached only 1.4x on 2 cores against 2.1x).
    Raises ``numpy.linalg.LinAlgError`` when a configuration's Newton system is singular, as
    the array solver's ``solve`` does.
    """
    from collective_action.simulate import fused_newton_kernels as kernels

    C, n, d = X.shape
    p = d + int(bool(fit_intercept))
    dt = X.dtype
    X = np.ascontiguousarray(X)
    y = np.ascontiguousarray(y)
    w_norm = np.ascontiguousarray(w_norm, dtype=dt)
    theta = np.zeros((C, p), dtype=dt)
    ridge = np.asarray([0.5 * l2] * d + [0.0] * (p - d), dtype=dt)      # no penalty on c
    steps_run = np.zeros(C, dtype=np.int64)
    solved = np.ones(C, dtype=np.bool_)
    loss = np.zeros(C, dtype=dt)
    gnorm = np.zeros(C, dtype=dt)

    args = (X, y, w_norm, theta, ridge, dt.type(tol), int(steps), bool(fit_intercept), dt.type(l2),
            steps_run, solved, loss, gnorm)
    run_over_configurations(kernels.fit_range, kernels.fit_all_parallel, args, C, threads)
    if not solved.all():
        raise np.linalg.LinAlgError(f"Singular matrix: the Newton system of configuration "
                                    f"{int(np.flatnonzero(~solved)[0])} has no unique solution")
    return theta, steps_run, loss, gnorm
