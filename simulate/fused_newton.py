"""Newton's method for C binary logistic regressions on the CPU, one fused pass per step.

The array-API solver in :mod:`collective_action.simulate.logistic` runs every Newton step as a
handful of batched array operations, each a pass over the (C, p, n) data and (C, n) temporaries
in memory. Here one compiled loop (numba) trains each configuration to convergence on its own:
a step is a single pass over the configuration's n points that accumulates the gradient and the
Hessian together, followed by a p x p solve. A configuration's data stay in cache across its
steps, nothing is materialised beyond the parameters, and configurations that converge early cost
nothing more (no batch-wide synchronisation, no compaction).

Same objective, stopping rule and step cap as the array solver (its docstring derives them):
theta = (u, c) minimises sum_i w_i softplus(-s_i theta.x_i) / sum_i w_i + (l2/4)|u|^2, a
configuration stops when its gradient norm drops below ``tol`` or after ``steps`` updates. The
arithmetic is summed in another order, so parameters agree with the array solver to rounding
(tested to 1e-10), not bit for bit.

numba is imported and the kernels compiled on first use only (cached on disk), so importing the
simulator stays cheap.
"""

from __future__ import annotations

import math
import threading

import numpy as np

#: Up to this many parameters (d + intercept) the fused kernel is used: its per-point Hessian
#: update costs p (p + 1) / 2 multiply-adds, which above this is better left to a BLAS product.
FUSED_MAX_PARAMS = 16

_KERNELS: dict = {}
#: numba's default threading layer (workqueue) must not be entered from two Python threads at
#: once, so parallel launches take turns; one-thread fits never touch it and need no lock.
_PARALLEL_LAUNCH = threading.Lock()


def fused_available() -> bool:
    """True when numba imports (a declared dependency; False only in a broken install)."""
    try:
        import numba  # noqa: F401
    except Exception:  # pragma: no cover - numba is a dependency
        return False
    return True


# exp by range reduction: exp(x) = 2^k exp(r), k = round(x / ln 2), |r| <= ln(2) / 2, with ln 2
# split in two so that x - k ln 2 is exact enough, and exp(r) by its Taylor polynomial to degree
# 13 (remainder under 2e-16 relative). Written as plain arithmetic, the loop vectorises, where the
# library's exp is a call per point.
_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_TAYLOR = tuple(1.0 / math.factorial(k) for k in range(14))
#: |m| is capped here before exp(-|m|): 2^k stays a normal number, and sigmoid(-m) for larger
#: margins (under 1e-307) is as good as the 0 it would underflow to.
_MARGIN_CAP = 708.0


def _build(parallel: bool):
    import numba

    c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13 = _TAYLOR
    log2e, ln2_hi, ln2_lo, cap = _LOG2E, _LN2_HI, _LN2_LO, _MARGIN_CAP

    @numba.njit(cache=True, fastmath={"contract"}, inline="always")
    def sigmoid_neg(m, out, bits):
        """out = sigmoid(-m) = 1 / (1 + exp(m)) for a vector m, through e = exp(-|m|) <= 1 (no
        overflow): e / (1 + e) for m >= 0, 1 / (1 + e) for m < 0. ``bits`` is int64 scratch."""
        n = m.shape[0]
        scale = bits.view(np.float64)
        for i in range(n):
            x = -min(abs(m[i]), cap)
            k = math.floor(x * log2e + 0.5)
            r = x - k * ln2_hi - k * ln2_lo
            out[i] = c0 + r * (c1 + r * (c2 + r * (c3 + r * (c4 + r * (c5 + r * (c6 + r * (
                c7 + r * (c8 + r * (c9 + r * (c10 + r * (c11 + r * (c12 + r * c13))))))))))))
            bits[i] = (np.int64(k) + 1023) << 52            # the bits of the double 2^k
        for i in range(n):
            e = out[i] * scale[i]
            out[i] = (e if m[i] >= 0 else 1.0) / (1.0 + e)

    @numba.njit(cache=True, fastmath=False, inline="always")
    def _solve(H, g, out, p):
        """out = H^-1 g by Gaussian elimination with partial pivoting (LAPACK's gesv does the
        same); H and g are overwritten. Returns False for a singular system."""
        for k in range(p):
            piv = k
            big = abs(H[k, k])
            for r in range(k + 1, p):
                if abs(H[r, k]) > big:
                    big = abs(H[r, k])
                    piv = r
            if big == 0.0:
                return False
            if piv != k:
                for j in range(p):
                    H[k, j], H[piv, j] = H[piv, j], H[k, j]
                g[k], g[piv] = g[piv], g[k]
            for r in range(k + 1, p):
                f = H[r, k] / H[k, k]
                if f != 0.0:
                    for j in range(k, p):
                        H[r, j] -= f * H[k, j]
                    g[r] -= f * g[k]
        for k in range(p - 1, -1, -1):
            acc = g[k]
            for j in range(k + 1, p):
                acc -= H[k, j] * out[j]
            out[k] = acc / H[k, k]
        return True

    # Sums over points may be reassociated (and multiply-adds fused), so the compiler vectorises
    # them; nothing else is.
    reduce = {"reassoc", "contract"}

    @numba.njit(cache=True, fastmath=reduce)
    def _one(X, y, wn, c, theta, ridge, tol, steps, p, d, fit_intercept, xs, m, r, cv, tmp, bits):
        """Train configuration c in place (theta[c]); returns (steps taken, solved). ``xs`` (p, n)
        and the (n,) vectors are this thread's scratch space."""
        n = X.shape[1]
        dt = X.dtype
        G = np.zeros(p, dtype=dt)
        H = np.zeros((p, p), dtype=dt)
        step = np.zeros(p, dtype=dt)
        th = theta[c]
        for i in range(n):                        # signed features s x, point-minor (vectorisable)
            s = 1.0 if y[c, i] == 1 else -1.0
            for j in range(d):
                xs[j, i] = s * X[c, i, j]
            if fit_intercept:
                xs[d, i] = s
        taken = 0
        while True:
            for i in range(n):
                m[i] = 0.0
            for j in range(p):
                t = th[j]
                for i in range(n):
                    m[i] += t * xs[j, i]
            sigmoid_neg(m, tmp, bits)
            for i in range(n):
                neg = tmp[i]                                  # sigmoid(-m)
                r[i] = wn[c, i] * neg
                cv[i] = r[i] - r[i] * neg                     # w sigmoid(-m) sigmoid(m)
            norm = 0.0
            for j in range(p):
                acc = 0.0
                for i in range(n):
                    acc += r[i] * xs[j, i]
                G[j] = ridge[j] * th[j] - acc
                norm += G[j] * G[j]
            if math.sqrt(norm) < tol or taken == steps:
                return taken, True
            for j in range(p):                        # s^2 = 1: (s x)(s x)^T = x x^T
                for i in range(n):
                    tmp[i] = cv[i] * xs[j, i]
                for k in range(j, p):
                    acc = 0.0
                    for i in range(n):
                        acc += tmp[i] * xs[k, i]
                    H[j, k] = acc
                    H[k, j] = acc
                H[j, j] += ridge[j]
            if not _solve(H, G, step, p):
                return taken, False
            for j in range(p):
                th[j] -= step[j]
            taken += 1

    @numba.njit(cache=True, fastmath=reduce)
    def _final(wn, c, theta, ridge, p, d, l2, loss, gnorm, xs, m, r):
        """Objective and gradient norm of the (W, b) problem at theta[c] (``xs`` still holds its
        signed features), with the overflow-free forms the array solver uses at its end."""
        n = xs.shape[1]
        th = theta[c]
        for i in range(n):
            m[i] = 0.0
        for j in range(p):
            t = th[j]
            for i in range(n):
                m[i] += t * xs[j, i]
        total = 0.0
        for i in range(n):
            e = math.exp(-abs(m[i]))
            r[i] = wn[c, i] * (e if m[i] >= 0 else 1.0) / (1.0 + e)     # w sigmoid(-m)
            total += wn[c, i] * (max(-m[i], 0.0) + math.log1p(e))
        norm = 0.0
        for j in range(p):
            acc = 0.0
            for i in range(n):
                acc += r[i] * xs[j, i]
            g = ridge[j] * th[j] - acc
            norm += g * g
        uu = 0.0
        for j in range(d):
            uu += th[j] * th[j]
        loss[c] = total + 0.25 * l2 * uu
        gnorm[c] = math.sqrt(2.0) * math.sqrt(norm)

    loop = numba.prange if parallel else range

    @numba.njit(cache=True, parallel=parallel)
    def fit_all(X, y, wn, theta, ridge, tol, steps, fit_intercept, l2, steps_run, solved, loss, gnorm):
        C, n, d = X.shape
        p = theta.shape[1]
        dt = X.dtype
        for c in loop(C):
            # scratch per configuration: a few (n,) vectors, small next to the work on them
            xs = np.empty((p, n), dtype=dt)
            m = np.empty(n, dtype=dt)
            r = np.empty(n, dtype=dt)
            cv = np.empty(n, dtype=dt)
            tmp = np.empty(n, dtype=dt)
            bits = np.empty(n, dtype=np.int64)
            taken, ok = _one(X, y, wn, c, theta, ridge, tol, steps, p, d, fit_intercept, xs, m, r, cv, tmp,
                             bits)
            steps_run[c] = taken
            solved[c] = ok
            _final(wn, c, theta, ridge, p, d, l2, loss, gnorm, xs, m, r)

    return fit_all, sigmoid_neg


def _kernel(parallel: bool):
    if parallel not in _KERNELS:
        _KERNELS[parallel] = _build(parallel)
    return _KERNELS[parallel][0]


def sigmoid_of_minus(m: np.ndarray) -> np.ndarray:
    """sigmoid(-m) = 1 / (1 + exp(m)) of a float64 vector, as the kernel computes it (its own
    vectorised exp; exposed to be tested against the library's)."""
    m = np.ascontiguousarray(m, dtype=np.float64)
    _kernel(False)
    out = np.empty_like(m)
    _KERNELS[False][1](m, out, np.empty(m.shape[0], dtype=np.int64))
    return out


def fit_newton_fused(X: np.ndarray, y: np.ndarray, w_norm: np.ndarray, *, steps: int, l2: float,
                     fit_intercept: bool, tol: float, threads: int = 1):
    """Newton fits of C binary logistic regressions on host arrays.

    ``X`` (C, n, d) float, ``y`` (C, n) labels in {0, 1}, ``w_norm`` (C, n) weights summing to one
    per configuration, all of X's dtype. Returns (theta (C, p), steps_run, loss, grad_norm) as in
    the array solver, theta = (u, c). ``threads`` > 1 spreads configurations over numba's threads.
    Raises ``numpy.linalg.LinAlgError`` when a configuration's Newton system is singular, as
    the array solver's ``solve`` does.
    """
    import numba

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
    threads = max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS, max(C, 1)))
    parallel = threads > 1
    kernel = _kernel(parallel)
    if parallel:
        with _PARALLEL_LAUNCH:
            before = numba.get_num_threads()
            numba.set_num_threads(threads)
            try:
                kernel(X, y, w_norm, theta, ridge, dt.type(tol), int(steps), bool(fit_intercept),
                       dt.type(l2), steps_run, solved, loss, gnorm)
            finally:
                numba.set_num_threads(before)
    else:
        kernel(X, y, w_norm, theta, ridge, dt.type(tol), int(steps), bool(fit_intercept), dt.type(l2),
               steps_run, solved, loss, gnorm)
    if not solved.all():
        raise np.linalg.LinAlgError(f"Singular matrix: the Newton system of configuration "
                                    f"{int(np.flatnonzero(~solved)[0])} has no unique solution")
    return theta, steps_run, loss, gnorm
