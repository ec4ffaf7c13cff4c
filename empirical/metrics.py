"""Accuracy-type metrics.

* success: share of signal-carrying test points predicted as y* (over every test point: Hardt et
  al.'s success; over the points whose label is not y*: attack success);
* average, worst-class and worst-group accuracy (worst over classes / groups present).

Theory's alpha_eff from the measured statistics is each algorithm's ``predict_alpha_eff``
(:mod:`collective_action.algorithms`).
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
