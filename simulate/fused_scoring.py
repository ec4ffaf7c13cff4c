"""Scoring C binary logistic models on their evaluation sets in one compiled pass (CPU, NumPy).

:class:`~collective_action.simulate.logistic.LogisticFit` scores one group of configurations at a
time: a group's models against the evaluation set they share, a handful of array operations per
group. A sweep lists ten or so configurations per seed, so those operations, not the arithmetic,
set the cost (about 4 ns per point and model at n_test = 1000). Here compiled loops walk every
configuration's own set through the set index: the same margins u . x + c, summed feature by
feature, and the same rules (class 1 iff the margin is > 0; a NaN margin is class 0 and never a
hit for label 0), with nothing materialised but the results.

Used by the simulator's learners for two-class fits on the NumPy backend when numba is present
(``fused_available``); everything else keeps the per-group path.
"""

from __future__ import annotations

import numpy as np

from collective_action.simulate.fused_newton import fused_available, run_over_configurations


def applies(fit, tests) -> bool:
    """True when ``fit`` (a LogisticFit) can be scored here on ``tests`` (EvaluationSets): two
    classes, host arrays of float64 points (a float32 set is scored in float32 by the per-group
    path, so it stays there), numba."""
    return (fit.n_classes == 2 and fit.backend.name == "numpy" and fused_available()
            and all(np.asarray(getattr(tests, k)).dtype == np.float64 for k in ("X_clean", "X_signal")))


def _margin_weights(fit, dtype):
    return tuple(np.ascontiguousarray(np.asarray(a).astype(dtype, copy=False)) for a in fit.binary_weights())


def _index(tests, C: int) -> np.ndarray:
    return np.arange(C, dtype=np.int64) if tests.index is None else np.ascontiguousarray(tests.index, dtype=np.int64)


def predict_sets(fit, tests, name: str, threads: int = 1) -> np.ndarray:
    """(C, m) int64 predicted labels of every configuration on its own set of field ``name``
    (``X_signal`` or ``X_clean``) of ``tests`` (EvaluationSets)."""
    from collective_action.simulate import fused_scoring_kernels as kernels

    points = kernels.feature_major(np.ascontiguousarray(getattr(tests, name)))
    u, c = _margin_weights(fit, points.dtype)
    C = u.shape[0]
    out = np.empty((C, points.shape[2]), dtype=np.int64)
    run_over_configurations(kernels.predict_range, kernels.predict_parallel, (points, _index(tests, C), u, c, out),
                            C, threads)
    return out


def rates_sets(fit, tests, target: int, threads: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(clean accuracy, rate of label ``target`` on the signal points) per configuration, each on
    its own sets of ``tests``: what ``fit.accuracy`` and ``fit.label_rate`` give group by group."""
    from collective_action.simulate import fused_scoring_kernels as kernels

    X_clean = kernels.feature_major(np.ascontiguousarray(tests.X_clean))
    X_signal = kernels.feature_major(np.ascontiguousarray(tests.X_signal))
    y_clean = np.ascontiguousarray(tests.y_clean, dtype=np.int64)
    u, c = _margin_weights(fit, X_clean.dtype)
    C = u.shape[0]
    acc, succ = np.empty(C), np.empty(C)
    run_over_configurations(kernels.rates_range, kernels.rates_parallel,
                            (X_clean, y_clean, X_signal, _index(tests, C), u, c, int(target), acc, succ), C, threads)
    return acc, succ
