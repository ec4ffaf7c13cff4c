"""The compiled loops of the fused binary scoring (numba); the API is simulate/fused_scoring.py.

At module level, like fused_newton_kernels.py, so that numba caches their machine code on disk and
importing the simulator does not import numba. Each margin is summed feature by feature in a
fixed order, without fast-math, as a plain matrix-vector product would. The evaluation sets come
feature-major, (S, d, m), so that every pass runs over contiguous points and vectorises.
"""

from __future__ import annotations

import numba
import numpy as np

from collective_action.simulate import fused_newton_kernels  # noqa: F401  (chooses the threading layer)


@numba.njit(cache=True)
def feature_major(points):
    """(S, m, d) -> a new (S, d, m) array."""
    S, m, d = points.shape
    out = np.empty((S, d, m), dtype=points.dtype)
    for s in range(S):
        for i in range(m):
            for j in range(d):
                out[s, j, i] = points[s, i, j]
    return out


@numba.njit(cache=True, inline="always")
def _margins(P, uk, ck, z):
    """z = sum_j uk[j] P[j] + ck, summed over features in order (P is one set, (d, m))."""
    d, m = P.shape
    for i in range(m):
        z[i] = 0.0
    for j in range(d):
        t = uk[j]
        for i in range(m):
            z[i] += P[j, i] * t
    for i in range(m):
        z[i] += ck


@numba.njit(cache=True, inline="always")
def _predict_one(points, index, u, c, out, k, z):
    _margins(points[index[k]], u[k], c[k], z)
    row = out[k]
    for i in range(z.shape[0]):
        row[i] = 1 if z[i] > 0 else 0


@numba.njit(cache=True)
def predict_range(points, index, u, c, out, start, stop):
    """out[k, i] = 1 if u[k] . x + c[k] > 0 else 0 for the points x of set index[k] (points
    feature-major, (S, d, m)), for k in start..stop-1."""
    z = np.empty(points.shape[2], dtype=points.dtype)
    for k in range(start, stop):
        _predict_one(points, index, u, c, out, k, z)


@numba.njit(cache=True, parallel=True)
def predict_parallel(points, index, u, c, out):
    for k in numba.prange(u.shape[0]):
        z = np.empty(points.shape[2], dtype=points.dtype)
        _predict_one(points, index, u, c, out, k, z)


@numba.njit(cache=True, inline="always")
def _rates_one(X_clean, y_clean, X_signal, index, u, c, target, acc, succ, k, zc, zs):
    s = index[k]
    _margins(X_clean[s], u[k], c[k], zc)
    Y = y_clean[s]
    hits = 0
    for i in range(zc.shape[0]):
        hits += 1 if (zc[i] > 0) == (Y[i] == 1) else 0
    acc[k] = hits / zc.shape[0]
    _margins(X_signal[s], u[k], c[k], zs)
    hits = 0
    if target == 1:
        for i in range(zs.shape[0]):
            hits += 1 if zs[i] > 0 else 0
    else:                                   # as label_rate: a NaN margin is neither class
        for i in range(zs.shape[0]):
            hits += 1 if zs[i] <= 0 else 0
    succ[k] = hits / zs.shape[0]


@numba.njit(cache=True)
def rates_range(X_clean, y_clean, X_signal, index, u, c, target, acc, succ, start, stop):
    """Clean accuracy and the rate of label ``target`` on the signal points (both sets
    feature-major), for k in start..stop-1."""
    zc = np.empty(X_clean.shape[2], dtype=X_clean.dtype)
    zs = np.empty(X_signal.shape[2], dtype=X_signal.dtype)
    for k in range(start, stop):
        _rates_one(X_clean, y_clean, X_signal, index, u, c, target, acc, succ, k, zc, zs)


@numba.njit(cache=True, parallel=True)
def rates_parallel(X_clean, y_clean, X_signal, index, u, c, target, acc, succ):
    for k in numba.prange(u.shape[0]):
        zc = np.empty(X_clean.shape[2], dtype=X_clean.dtype)
        zs = np.empty(X_signal.shape[2], dtype=X_signal.dtype)
        _rates_one(X_clean, y_clean, X_signal, index, u, c, target, acc, succ, k, zc, zs)
