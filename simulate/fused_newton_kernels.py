"""The compiled loops of the fused Newton kernel (numba); the API is simulate/fused_newton.py.

Kept in a module of their own, at module level, so that numba caches their machine code on disk
(functions built inside a closure are compiled again in every process) and so that importing the
simulator does not import numba. The derivations are in fused_newton.py's docstring.
"""

from __future__ import annotations

import math
import os

import numba
import numpy as np

# numba's OpenMP threading layer (libgomp comes with torch) makes a fork() after a parallel launch
# abort the child, and process pools fork. The built-in workqueue layer forks safely (tested) and
# was as fast here. Chosen before any launch, unless the user chose a layer.
if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "workqueue"

# exp by range reduction: exp(x) = 2^k exp(r), k = round(x / ln 2), |r| <= ln(2) / 2, with ln 2
# split in two so that x - k ln 2 is exact enough, and exp(r) by its Taylor polynomial to degree
# 13 (remainder under 2e-16 relative). Written as plain arithmetic, the loop vectorises, where the
# library's exp is a call per point.
LOG2E = 1.4426950408889634
LN2_HI = 6.93147180369123816490e-01
LN2_LO = 1.90821492927058770002e-10
(_C0, _C1, _C2, _C3, _C4, _C5, _C6, _C7, _C8, _C9, _C10, _C11, _C12,
 _C13) = (1.0 / math.factorial(k) for k in range(14))
#: |m| is capped here before exp(-|m|): 2^k stays a normal number, and sigmoid(-m) for larger
#: margins (under 1e-307) is as good as the 0 it would underflow to.
MARGIN_CAP = 708.0


@numba.njit(cache=True, fastmath={"contract"}, inline="always")
def sigmoid_neg(m, out, bits):
    """out = sigmoid(-m) = 1 / (1 + exp(m)) for a vector m, through e = exp(-|m|) <= 1 (no
    overflow): e / (1 + e) for m >= 0, 1 / (1 + e) for m < 0. ``bits`` is int64 scratch."""
    n = m.shape[0]
    scale = bits.view(np.float64)
    for i in range(n):
        x = -min(abs(m[i]), MARGIN_CAP)
        k = math.floor(x * LOG2E + 0.5)
        r = x - k * LN2_HI - k * LN2_LO
        out[i] = _C0 + r * (_C1 + r * (_C2 + r * (_C3 + r * (_C4 + r * (_C5 + r * (_C6 + r * (
            _C7 + r * (_C8 + r * (_C9 + r * (_C10 + r * (_C11 + r * (_C12 + r * _C13))))))))))))
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


#: Sums over points may be reassociated (and multiply-adds fused), so the compiler vectorises
#: them; nothing else is.
REDUCE = {"reassoc", "contract"}


@numba.njit(cache=True, fastmath=REDUCE, inline="always")
def _margins(xs, th, m, p):
    """m = theta . (s x) for every point, feature by feature (each a vectorised pass)."""
    n = xs.shape[1]
    for i in range(n):
        m[i] = 0.0
    for j in range(p):
        t = th[j]
        for i in range(n):
            m[i] += t * xs[j, i]


@numba.njit(cache=True, fastmath=REDUCE)
def _newton_steps(X, y, wn, c, theta, ridge, tol, steps, p, d, fit_intercept, xs, m, r, cv, tmp, bits):
    """Train configuration c in place (theta[c]); returns (steps taken, solved, the gradient's
    norm at the final theta, from the check that ended the loop). ``xs`` (p, n) and the (n,)
    vectors are this thread's scratch space."""
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
        _margins(xs, th, m, p)
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
            return taken, True, math.sqrt(norm)
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
            return taken, False, math.sqrt(norm)
        for j in range(p):
            th[j] -= step[j]
        taken += 1


@numba.njit(cache=True, fastmath=REDUCE)
def _objective(wn, c, theta, p, d, l2, xs, m):
    """The objective of the (W, b) problem at theta[c] (``xs`` still holds its signed features):
    cross-entropy softplus(-m) = max(-m, 0) + log1p(exp(-|m|)), overflow-free, as the array solver
    computes it, plus the ridge term (l2/2)|W|^2 = (l2/4)|u|^2."""
    n = xs.shape[1]
    th = theta[c]
    _margins(xs, th, m, p)
    total = 0.0
    for i in range(n):
        total += wn[c, i] * (max(-m[i], 0.0) + math.log1p(math.exp(-abs(m[i]))))
    uu = 0.0
    for j in range(d):
        uu += th[j] * th[j]
    return total + 0.25 * l2 * uu


@numba.njit(cache=True, fastmath=REDUCE)
def _train_configuration(X, y, wn, c, theta, ridge, tol, steps, fit_intercept, l2, steps_run, solved, loss,
                         gnorm):
    """Configuration c from start to end: Newton steps, then its final objective. Its gradient
    norm is the one the last step's check computed at the final theta; the (W, b) problem's is
    sqrt(2) times it (dL/dw1 = -dL/dw0 = the theta gradient's u-part, the same for b)."""
    _, n, d = X.shape
    p = theta.shape[1]
    dt = X.dtype
    # scratch per configuration: a few (n,) vectors, small next to the work on them
    xs = np.empty((p, n), dtype=dt)
    m = np.empty(n, dtype=dt)
    r = np.empty(n, dtype=dt)
    cv = np.empty(n, dtype=dt)
    tmp = np.empty(n, dtype=dt)
    bits = np.empty(n, dtype=np.int64)
    taken, ok, norm = _newton_steps(X, y, wn, c, theta, ridge, tol, steps, p, d, fit_intercept, xs, m, r, cv,
                                    tmp, bits)
    steps_run[c] = taken
    solved[c] = ok
    gnorm[c] = math.sqrt(2.0) * norm
    loss[c] = _objective(wn, c, theta, p, d, l2, xs, m)


@numba.njit(cache=True)
def fit_range(X, y, wn, theta, ridge, tol, steps, fit_intercept, l2, steps_run, solved, loss, gnorm, start, stop):
    """Configurations start..stop-1, on the calling thread."""
    for c in range(start, stop):
        _train_configuration(X, y, wn, c, theta, ridge, tol, steps, fit_intercept, l2, steps_run, solved, loss,
                             gnorm)


@numba.njit(cache=True, parallel=True)
def fit_all_parallel(X, y, wn, theta, ridge, tol, steps, fit_intercept, l2, steps_run, solved, loss, gnorm):
    """Every configuration, spread over numba's threads."""
    for c in numba.prange(X.shape[0]):
        _train_configuration(X, y, wn, c, theta, ridge, tol, steps, fit_intercept, l2, steps_run, solved, loss,
                             gnorm)
