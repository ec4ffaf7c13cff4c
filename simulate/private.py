"""DP-SGD on the simulator's linear softmax models, C configurations at once.

The same algorithm as the empirical pillar's Opacus run (empirical/private.py), written out for a
linear model, where every point's gradient has a closed form: for logits x W + b and residual
r = softmax - onehot(y), the gradient with respect to (W, b) is [x, 1] (outer) r, whose norm is
|r| sqrt(|x|^2 + 1). Each step:

* a Poisson batch: every point joins independently with probability q = batch_size / n;
* each member of the batch has its gradient scaled by min(1, C / (norm + 1e-6)) (Opacus's clip
  factor), so no point moves the model by more than lr C / batch_size;
* Gaussian noise N(0, (sigma C)^2) is added to every coordinate of the sum, which is divided by the
  expected batch size q n (Opacus's ``loss_reduction="mean"``) before a plain SGD step.

Randomness: configuration c draws its batches and noise from the stream (seed_c, 2), so a
configuration's run does not depend on its batch mates, and configurations that share a seed share
their batches and noise (common random numbers, as their data do). The privacy spent comes from
Opacus's RDP accountant for the same (sigma, q, steps, delta) (collective_action.algorithms.privacy).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from collective_action.errors import InputError

_DP_STREAM = 2
#: Opacus adds this to every per-sample norm before dividing (keeps a zero gradient finite)
CLIP_EPS = 1e-6


@dataclass
class PrivateRun:
    """Parameters (W (C, d, K), b (C, K)) after ``steps`` DP-SGD steps, and the largest step any
    single point's clipped gradient contributed (C,), which the clip bounds."""

    W: np.ndarray
    b: np.ndarray
    steps: int
    sample_rate: float
    largest_clipped_norm: np.ndarray


def clipped_residuals(X, resid, max_grad_norm):
    """Per-point residuals scaled by Opacus's clip factor, and each point's unclipped gradient norm."""
    norms = np.sqrt(np.sum(X * X, axis=-1) + 1.0) * np.sqrt(np.sum(resid * resid, axis=-1))  # (C, n)
    factor = np.minimum(1.0, max_grad_norm[:, None] / (norms + CLIP_EPS))
    return resid * factor[..., None], norms * factor


def fit_dp_sgd(X, y, seeds, *, n_classes: int, steps: int, lr: float, batch_size: int,
               max_grad_norm, noise_multiplier) -> PrivateRun:
    """Train C linear softmax models from zero by DP-SGD (NumPy; the batches are drawn per configuration).

    ``max_grad_norm`` and ``noise_multiplier`` are scalars or (C,) arrays; ``seeds`` (C,) name each
    configuration's stream.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    C, n, d = X.shape
    seeds = np.asarray(seeds, dtype=np.int64)
    if seeds.shape != (C,):
        raise InputError(f"dp-sgd needs one seed per configuration ({C}), got shape {seeds.shape}")
    if batch_size is None or batch_size < 1:
        raise InputError("dp-sgd needs a batch_size (the expected Poisson batch size)")
    clip = np.broadcast_to(np.asarray(max_grad_norm, dtype=np.float64), (C,))
    sigma = np.broadcast_to(np.asarray(noise_multiplier, dtype=np.float64), (C,))
    q = min(1.0, batch_size / n)
    K = int(n_classes)
    Y = (y[..., None] == np.arange(K)).astype(np.float64)
    W = np.zeros((C, d, K))
    b = np.zeros((C, K))
    rngs = [np.random.default_rng([int(s), _DP_STREAM]) for s in seeds]
    largest = np.zeros(C)
    scale = (sigma * clip)[:, None]
    for _ in range(int(steps)):
        # every configuration's batch and noise from its own stream (never its batch mates')
        picked = np.stack([rng.random(n) < q for rng in rngs]).astype(np.float64)          # (C, n)
        noise = np.stack([rng.standard_normal((d + 1) * K) for rng in rngs]) * scale        # (C, (d+1)K)
        logits = np.matmul(X, W) + b[:, None, :]
        logits -= logits.max(axis=-1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=-1, keepdims=True)
        r, clipped_norm = clipped_residuals(X, p - Y, clip)
        r *= picked[..., None]
        largest = np.maximum(largest, np.max(clipped_norm * picked, axis=1))
        gW = np.matmul(np.transpose(X, (0, 2, 1)), r) + noise[:, :d * K].reshape(C, d, K)
        gb = r.sum(axis=1) + noise[:, d * K:]
        W -= lr * gW / (q * n)
        b -= lr * gb / (q * n)
    return PrivateRun(W, b, int(steps), q, largest)
