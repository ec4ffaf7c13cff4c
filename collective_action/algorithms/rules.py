"""The weighting rules of the learning algorithms, written once against the array API.

Each rule maps per-point losses (and the state the algorithm keeps) to non-negative per-point
weights. Arrays may be NumPy, CuPy or torch tensors (through array-api-compat); leading axes are
independent problems (the simulator's configurations), the last axis holds the points. A
hyper-parameter is a Python number or an array that broadcasts against ``losses[..., :1]``.
Both pillars call these functions: the simulator on full-batch losses, the empirical pillar on
each mini-batch.
"""

from __future__ import annotations

from array_api_compat import array_namespace
from array_api_compat import device as device_of

#: Bisection steps of the chi-square rule: the bracket shrinks 2**100-fold, below float64 spacing.
CHI2_BISECTION_STEPS = 100


def as_column(xp, value, like):
    """``value`` as an array broadcasting against ``like[..., :1]`` (scalars stay scalars)."""
    if isinstance(value, (int, float)):
        return float(value)
    v = xp.asarray(value, dtype=like.dtype)
    return v[..., None] if v.ndim == like.ndim - 1 else v


def uniform_weights(losses):
    """ERM: every point weighs one."""
    xp = array_namespace(losses)
    return xp.ones_like(losses)


def jtt_weights(errors, upweight, dtype):
    """JTT: ``upweight`` on the stage-1 model's errors, one elsewhere."""
    xp = array_namespace(errors)
    e = xp.astype(errors, dtype)
    return 1.0 + (as_column(xp, upweight, e) - 1.0) * e


def cvar_weights(losses, beta):
    """CVaR-DRO at level beta: the optimal weights of the dual, 1/beta on the top beta-share.

    Exactly k = beta * n units of mass sit in the tail. Points above the tail's edge loss carry
    one unit each; the points whose loss equals the edge share the remaining k - (number above)
    units equally (a single edge point takes the fractional remainder). Weights have mean one
    and do not depend on the order of the points (ties are never broken by position), so a
    mini-batch and the same points in another order get the same weights.
    """
    xp = array_namespace(losses)
    n = losses.shape[-1]
    b = as_column(xp, beta, losses)
    k = b * n
    ordered = -xp.sort(-losses, axis=-1)                                  # descending
    edge_rank = xp.clip(xp.ceil(xp.asarray(k, dtype=losses.dtype)) - 1, 0, n - 1)
    ranks = xp.astype(xp.arange(n, device=device_of(losses)), losses.dtype)
    edge = xp.sum(xp.where(ranks == edge_rank, ordered, xp.zeros_like(ordered)), axis=-1, keepdims=True)
    above = losses > edge
    at_edge = losses == edge
    n_above = xp.sum(xp.astype(above, losses.dtype), axis=-1, keepdims=True)
    n_edge = xp.sum(xp.astype(at_edge, losses.dtype), axis=-1, keepdims=True)
    share = xp.clip((k - n_above) / n_edge, 0.0, 1.0)
    mass = xp.where(above, xp.ones_like(losses), xp.where(at_edge, share, xp.zeros_like(losses)))
    return mass / b


def chi2_weights(losses, rho, iters: int = CHI2_BISECTION_STEPS):
    """chi-square DRO: the worst-case weights in the ball D(w) = mean((w - 1)^2) / 2 <= rho.

    The maximiser has w proportional to (loss - eta)_+ (mean one), and D grows with eta from 0
    (eta -> -inf) to (n - 1)/2 (all mass on the worst point), so eta is found by bisection, for
    every leading index at once. Where the ball holds the point mass (rho >= (n - 1)/2) or every
    loss is equal, the bracket closes on max(loss); the weights are then shared equally by the
    points at the maximum. Returns (weights, eta) with eta of shape ``losses.shape[:-1] + (1,)``.
    """
    xp = array_namespace(losses)
    r = as_column(xp, rho, losses)
    mean = xp.mean(losses, axis=-1, keepdims=True)
    std = xp.std(losses, axis=-1, keepdims=True)
    tiny = 1e-300 if losses.dtype == xp.float64 else 1e-38

    def weights(eta):
        excess = xp.clip(losses - eta, min=0.0)
        return excess / xp.clip(xp.mean(excess, axis=-1, keepdims=True), min=tiny)

    # below min(loss), D = var / (2 (mean - eta)^2): this lower end has D <= rho
    lo = mean - std / (2 * r) ** 0.5 - 1.0
    hi = xp.max(losses, axis=-1, keepdims=True)
    for _ in range(iters):
        mid = (lo + hi) / 2
        too_far = 0.5 * xp.mean((weights(mid) - 1.0) ** 2, axis=-1, keepdims=True) > r
        hi = xp.where(too_far, mid, hi)
        lo = xp.where(too_far, lo, mid)
    w = weights(lo)
    at_max = xp.astype(losses == xp.max(losses, axis=-1, keepdims=True), losses.dtype)
    point_mass = at_max / xp.mean(at_max, axis=-1, keepdims=True)
    closed = xp.max(losses - lo, axis=-1, keepdims=True) <= 0  # no point above eta
    return xp.where(closed, point_mass, w), lo


def group_dro_step(q, losses, groups, n_groups: int, eta_q):
    """One exponentiated-gradient step of group DRO on the group weights ``q`` (..., G).

    Group losses are the mean losses of the groups present; q_g <- q_g exp(eta_q loss_g),
    renormalised. Only groups present carry weight: a point of group g weighs
    B q_g / (n_g sum_present q), so the weights have mean one over the B points.
    Returns (weights, new q, group losses).
    """
    xp = array_namespace(losses)
    B = losses.shape[-1]
    onehot = xp.astype(groups[..., None] == xp.arange(n_groups, device=device_of(losses))[None, :], losses.dtype)
    counts = xp.sum(onehot, axis=-2)                                   # (..., G)
    safe = xp.clip(counts, min=1.0)
    group_loss = xp.sum(losses[..., None] * onehot, axis=-2) / safe
    present = xp.astype(counts > 0, losses.dtype)
    q = q * xp.exp(as_column(xp, eta_q, q) * group_loss * present)
    q = q / xp.sum(q, axis=-1, keepdims=True)
    q_present = q * present
    q_present = q_present / xp.sum(q_present, axis=-1, keepdims=True)
    per_point = xp.sum(onehot * (q_present / safe)[..., None, :], axis=-1)
    return B * per_point, q, group_loss


def lff_weights(ema_biased, ema_debiased):
    """LfF's relative difficulty W = CE_b / (CE_b + CE_d) of the loss averages; 1/2 where both vanish."""
    xp = array_namespace(ema_biased)
    total = ema_biased + ema_debiased
    positive = total > 0
    return xp.where(positive, ema_biased / xp.where(positive, total, xp.ones_like(total)),
                    xp.full_like(total, 0.5))


def gce_weights(losses, q):
    """Generalised cross-entropy as a weighting of cross-entropy: d GCE = p_y^q d CE, p_y = exp(-CE)."""
    xp = array_namespace(losses)
    return xp.exp(-losses) ** as_column(xp, q, losses)


def exponential_average(old, new, decay):
    """decay * old + (1 - decay) * new (LfF's loss averages)."""
    return decay * old + (1 - decay) * new


def smoothed_cross_entropy(logits, y, smoothing):
    """Per-point cross-entropy against :func:`smoothed_targets` of y (label smoothing)."""
    xp = array_namespace(logits)
    K = logits.shape[-1]
    top = xp.max(logits, axis=-1, keepdims=True)
    log_p = logits - top - xp.log(xp.sum(xp.exp(logits - top), axis=-1, keepdims=True))
    onehot = xp.astype(y[..., None] == xp.arange(K, device=device_of(logits)), logits.dtype)
    return -xp.sum(smoothed_targets(onehot, smoothing) * log_p, axis=-1)


def smoothed_targets(onehot, smoothing):
    """(1 - s) one-hot + s / K: label smoothing's targets (``smoothing`` a number, or one per
    leading configuration of a (C, n, K) array)."""
    xp = array_namespace(onehot)
    K = onehot.shape[-1]
    s = smoothing if isinstance(smoothing, (int, float)) else xp.asarray(smoothing, dtype=onehot.dtype)[..., None, None]
    return (1.0 - s) * onehot + s / K
