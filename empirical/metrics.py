"""Accuracy-type metrics.

* success: the collective's goal met on test points x ~ P0 (:class:`collective_action.collective.Goal`):
  planting f(g(x)) = y* (Hardt et al.'s success), unplanting f(g(x)) != y*, erasing f(g(x)) = f(x);
* attack success (planting goals): the share of signal-carrying test points whose label is not y*
  predicted as y*;
* average, worst-class and worst-group accuracy (worst over classes / groups present).

Theory's alpha_eff from the measured statistics is each algorithm's ``predict_alpha_eff``
(:mod:`collective_action.algorithms`).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from collective_action.collective import Goal


def accuracy(pred: torch.Tensor, y: torch.Tensor) -> float:
    return float((pred == y).float().mean()) if len(y) else math.nan


def success_rate(pred_on_signal: torch.Tensor, target: int) -> float:
    """Pr[f(g(x)) = y*] on the signal-carrying test points."""
    return float((pred_on_signal == target).float().mean()) if len(pred_on_signal) else math.nan


def goal_success(goal: Goal, pred_on_signal: torch.Tensor, pred_clean: torch.Tensor | None, target: int) -> float:
    """The share of test points x where ``goal`` holds, from f(g(x)) (``pred_on_signal``) and f(x)
    (``pred_clean``; only erasing reads it). For planting it is :func:`success_rate`, the same float32 mean."""
    if not len(pred_on_signal):
        return math.nan
    clean = None if pred_clean is None else pred_clean.cpu().numpy()
    hits = goal.hits(pred_on_signal.cpu().numpy(), clean, target)
    return float(torch.from_numpy(np.asarray(hits)).float().mean())


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
