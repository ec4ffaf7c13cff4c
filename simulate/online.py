"""A registry algorithm's rule applied at every full-batch gradient step, for C configurations.

This is the empirical pillar's training loop with one mini-batch holding every point (one epoch
is one GD step, no momentum), on linear softmax models started at zero: per-point cross-entropy
losses, detached weights from the rule, a step on mean(w * loss) / normaliser for every model
the algorithm trains (LfF trains two). JTT's stage 1 is plain GD for T steps. The simulator's
``schedule: steps`` and the cross-pillar agreement suite use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from collective_action.algorithms import Algorithm, Start
from collective_action.simulate.backend import Backend, get_backend
from collective_action.simulate.logistic import LogisticFit


@dataclass
class OnlineRun:
    """The main model, the last step's weights and statistic (NumPy, (C, n)), alpha_eff per step."""

    model: LogisticFit
    weights: np.ndarray
    statistic: Any
    trajectory: np.ndarray
    iterates: list | None = None  # (W, b) of the main model after every step, when asked for


def _losses_and_grads(xp, X, Y, W, b):
    """Per-point cross-entropy against the targets Y (C, n, K; one-hot or smoothed), which sum to
    one per point, and the per-point softmax residual p - Y (C, n, K)."""
    logits = xp.matmul(X, W) + b[:, None, :]
    top = xp.max(logits, axis=-1, keepdims=True)
    e = xp.exp(logits - top)
    s = xp.sum(e, axis=-1, keepdims=True)
    ce = (xp.log(s) + top)[..., 0] - xp.sum(logits * Y, axis=-1)
    return ce, e / s - Y


def _step(xp, X, resid, w, W, b, lr):
    """One GD step on mean(w * ce) (w already divided by n and the normaliser)."""
    r = resid * w[..., None]
    gW = xp.matmul(xp.permute_dims(X, (0, 2, 1)), r)
    gb = xp.sum(r, axis=1)
    return W - lr * gW, b - lr * gb


def fit_online(alg: Algorithm, X, y, member, *, n_classes: int, steps: int, lr: float,
               backend: Backend | str = "numpy", keep_iterates: bool = False) -> OnlineRun:
    """Train ``alg`` by full-batch GD on (C, n, d) features with the rule applied every step."""
    bk = get_backend(backend)
    xp = bk.xp
    X = xp.asarray(X, dtype=xp.float64)
    yk = xp.asarray(y)
    C, n, d = X.shape
    K = n_classes
    Y = xp.astype(yk[..., None] == xp.arange(K)[None, None, :], X.dtype)

    def zeros():
        return xp.zeros((C, d, K), dtype=X.dtype), xp.zeros((C, K), dtype=X.dtype)

    errors = None
    if alg.stage1_length():
        W1, b1 = zeros()
        for _ in range(alg.stage1_length()):
            _, resid = _losses_and_grads(xp, X, Y, W1, b1)
            W1, b1 = _step(xp, X, resid, xp.ones((C, n), dtype=X.dtype) / n, W1, b1, lr)
        errors = xp.argmax(xp.matmul(X, W1) + b1[:, None, :], axis=-1) != yk
    state = alg.start(Start(labels=yk, dtype=X.dtype, n_groups=K, stage1_errors=errors))
    params = {m: zeros() for m in alg.models}
    targets = {m: (alg.targets(Y) if m == "main" else Y) for m in alg.models}
    member_np = np.asarray(member, dtype=bool)
    traj, iterates = [], []
    weights = stat = None
    for _ in range(steps):
        computed = {m: _losses_and_grads(xp, X, targets[m], *params[m]) for m in alg.models}
        weights, stat = alg.weigh(state, {m: c[0] for m, c in computed.items()})
        norm = alg.normaliser(state)
        for m in alg.models:
            params[m] = _step(xp, X, computed[m][1], weights[m] / (n * norm) if m == "main" else weights[m] / n,
                              *params[m], lr)
        w_main = bk.to_numpy(weights["main"])
        traj.append((w_main * member_np).sum(axis=1) / w_main.sum(axis=1))
        if keep_iterates:
            iterates.append(tuple(bk.to_numpy(a).copy() for a in params["main"]))
    W, b = params["main"]
    nan = np.full(C, np.nan)
    model = LogisticFit(W=W, b=b, backend=bk, steps=steps, final_loss=nan, converged=np.zeros(C, dtype=bool),
                        grad_norm=nan, steps_run=np.full(C, steps))
    return OnlineRun(model, bk.to_numpy(weights["main"]) if weights else np.ones((C, n)),
                     None if stat is None else bk.to_numpy(stat), np.stack(traj, axis=1) if traj else
                     np.zeros((C, 0)), iterates if keep_iterates else None)
