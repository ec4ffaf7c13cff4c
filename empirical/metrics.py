"""Accuracy-type metrics and theory's prediction of the collective's effective size.

* success: share of signal-carrying test points (every class but y*) predicted as y*;
* average, worst-class and worst-group accuracy (worst over classes / groups present);
* :func:`predicted_alpha_eff`: alpha_eff from the statistics a learner measured (e*, e0, tail
  shares, mean excess losses, mean LfF weights) through :mod:`collective_action.theory`.
"""

from __future__ import annotations

import math

import torch


def accuracy(pred: torch.Tensor, y: torch.Tensor) -> float:
    return float((pred == y).float().mean()) if len(y) else math.nan


def success_rate(pred_on_signal: torch.Tensor, target: int) -> float:
    """Pr[f(g(x)) = y*] on the signal-carrying test points."""
    return float((pred_on_signal == target).float().mean()) if len(pred_on_signal) else math.nan


def worst_subset_accuracy(pred: torch.Tensor, y: torch.Tensor, labels: torch.Tensor) -> float:
    """Minimum over the values of ``labels`` present of the accuracy on that subset."""
    if len(y) == 0:
        return math.nan
    correct = (pred == y).to(torch.float64)
    counts = torch.bincount(labels)
    hits = torch.bincount(labels, weights=correct, minlength=len(counts))
    present = counts > 0
    return float((hits[present] / counts[present]).min())


def worst_class_accuracy(pred, y) -> float:
    return worst_subset_accuracy(pred, y, y)


def predicted_alpha_eff(learner: str, alpha: float, *, hparams: dict, e_star=math.nan, e0=math.nan,
                        tail_share=math.nan, collective_mean=math.nan, base_mean=math.nan) -> float:
    """Theory's alpha_eff for ``learner`` from the statistics measured during training.

    ``collective_mean`` / ``base_mean`` are the mean excess losses (chi2) or mean LfF weights of
    collective and base points. Returns NaN where theory has no prediction (group DRO) or a
    statistic is undefined (no collective).
    """
    from collective_action import theory

    if not 0 < alpha < 1:
        return math.nan
    if learner == "erm":
        return float(theory.alpha_eff(alpha, 1.0, 1.0))
    if learner == "jtt":
        if math.isnan(e_star) or math.isnan(e0):
            return math.nan
        return float(theory.alpha_eff_jtt(alpha, hparams["upweight"], e_star, e0))
    if learner == "cvar":
        return math.nan if math.isnan(tail_share) else float(theory.alpha_eff_cvar(alpha, hparams["beta"], tail_share))
    if learner == "chi2":
        if math.isnan(collective_mean) or math.isnan(base_mean) or collective_mean + base_mean == 0:
            return math.nan
        return float(theory.alpha_eff_chi2(alpha, collective_mean, base_mean))
    if learner == "lff":
        if math.isnan(collective_mean) or math.isnan(base_mean):
            return math.nan
        return float(theory.alpha_eff_lff(alpha, collective_mean, base_mean))
    return math.nan
