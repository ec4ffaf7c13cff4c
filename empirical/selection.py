"""Model selection on a validation set: which epoch (and which hyper-parameters) to keep.

DRO methods are tuned by the worst-group or worst-class accuracy on a validation set. If that
set contains collective points (policy ``with-collective``), a model that has *not* learned the
signal misclassifies them -- they carry y* -- and loses validation accuracy on class y*, so
selection leans towards models that fit the signal: the paper's validation-set lever (C3).

:class:`Selector` is called after every epoch of every candidate; it keeps a CPU copy of the
best model so far. Ties keep the earlier model.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
from torch import nn

from collective_action.errors import InputError, check_choice

from .metrics import accuracy, worst_class_accuracy, worst_subset_accuracy
from .train import predict

SELECTION_METRICS = ("average", "worst-class", "worst-group", "last")


@dataclass
class Choice:
    """The selected model and where it came from."""

    model: nn.Module
    candidate: int
    epoch: int
    score: float


class Selector:
    """Track the best (candidate, epoch) by a validation metric.

    ``last`` keeps the final epoch of the first candidate and needs no validation set.
    """

    def __init__(self, metric: str, x_val: torch.Tensor, y_val: torch.Tensor,
                 groups_val: torch.Tensor | None = None):
        check_choice("selection metric", metric, SELECTION_METRICS)
        if metric == "worst-group" and groups_val is None:
            raise InputError("selection metric 'worst-group' needs a data set with groups (e.g. spurious)")
        if metric != "last" and len(y_val) == 0:
            raise InputError(f"selection metric {metric!r} needs a validation set (val_size > 0)")
        self.metric, self.x_val, self.y_val, self.groups_val = metric, x_val, y_val, groups_val
        self.best: Choice | None = None
        self.history: list[tuple[int, int, float]] = []
        self.candidate = 0

    def score(self, model: nn.Module) -> float:
        if self.metric == "last":
            return math.nan
        pred = predict(model, self.x_val)
        if self.metric == "average":
            return accuracy(pred, self.y_val)
        if self.metric == "worst-class":
            return worst_class_accuracy(pred, self.y_val)
        return worst_subset_accuracy(pred, self.y_val, self.groups_val)

    def __call__(self, model: nn.Module, epoch: int) -> None:
        s = self.score(model)
        self.history.append((self.candidate, epoch, s))
        if self.metric == "last":
            better = self.candidate == 0
        else:
            better = self.best is None or s > self.best.score
        if better:
            self.best = Choice(copy.deepcopy(model), self.candidate, epoch, s)
