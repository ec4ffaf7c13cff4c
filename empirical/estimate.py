"""The labels an adaptive collective plays on real data, estimated from its own rows only.

Unplanting (Gauthier, Bach, Jordan 2025, Definition 3.6) plays y^(g(x)), the label other than y*
the collective finds most frequent at g(x); erasing (Definition 3.8) plays y~(g(x)), the label
most likely at g(x). On discrete problems the collective counts its rows at each point; on images
no point repeats, so it fits a classifier instead: multinomial logistic regression (a linear
softmax on the flattened features) on the members' *original* (x, y), never on the platform's
other rows, its validation split or the test set. Its per-class scores at g(x) give the labels:
y^ = argmax over y != y* (unplanting), y~ = argmax over all labels (erasing), through
:meth:`collective_action.collective.Strategy.labels_from`.

Unplanting fits on ``n_est`` of its members (default: half of them, drawn with the run's seed, as
in the simulator); erasing on all of them. The fit minimises the mean cross-entropy plus
``l2 / 2`` times the squared weights and biases by full-batch L-BFGS from zero (at most
:data:`MAX_ITERATIONS` iterations): the objective is strictly convex, so the estimate depends on
the rows alone, not on any initialisation or batch order. The estimate is fitted once per run and
played on the training split and, under ``validation: with-collective``, on the validation split
(:func:`.splits.prepare_policies`).
"""

from __future__ import annotations

from functools import partial
from typing import Callable

import numpy as np
import torch

from collective_action.collective import get_strategy
from collective_action.errors import InputError

from .config import EstimatorSpec

#: Ridge penalty of the estimate by default (config: estimator.l2).
DEFAULT_L2 = EstimatorSpec().l2
#: L-BFGS iterations of one fit: the labels (argmax) settle long before; 100 keep a fit on 12,000
#: Fashion-MNIST images to seconds (500 change its test accuracy by 0.001).
MAX_ITERATIONS = 100


def fit_label_scorer(x: np.ndarray, y: np.ndarray, n_classes: int, l2: float = DEFAULT_L2) -> Callable:
    """Fit a multinomial logistic regression on rows (x, y); returns batch -> (batch, n_classes) scores.

    Every class gets a score, seen in the rows or not (an unseen class only ever scores low), so
    that unplanting always has a label other than y* to play.
    """
    features = torch.as_tensor(np.asarray(x, dtype=np.float64).reshape(len(x), -1))
    labels = torch.tensor(np.asarray(y), dtype=torch.int64)  # a copy: cached data sets are read-only
    weight = torch.zeros(features.shape[1], n_classes, dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(n_classes, dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.LBFGS([weight, bias], lr=1.0, max_iter=MAX_ITERATIONS, tolerance_grad=1e-9,
                                  tolerance_change=1e-12, history_size=20, line_search_fn="strong_wolfe")

    def objective():
        optimiser.zero_grad()
        logits = features @ weight + bias
        loss = torch.nn.functional.cross_entropy(logits, labels)
        loss = loss + 0.5 * l2 * (weight.pow(2).sum() + bias.pow(2).sum())
        loss.backward()
        return loss

    optimiser.step(objective)
    w, b = weight.detach(), bias.detach()

    def scores(batch) -> np.ndarray:
        flat = torch.as_tensor(np.asarray(batch, dtype=np.float64).reshape(len(batch), -1))
        return (flat @ w + b).numpy()

    return scores


def label_estimator(n_classes: int, l2: float = DEFAULT_L2) -> Callable:
    """The ``estimator`` of :class:`collective_action.collective.Collective`: (x, y) -> scorer."""
    return partial(fit_label_scorer, n_classes=n_classes, l2=l2)


def estimation_rows(strategy: str, members: int, n_est: int | None) -> int:
    """How many of the members' rows the estimate is fitted on (unplanting: n_est, default half)."""
    if strategy == "unplanting":
        return members // 2 if n_est is None else int(n_est)
    return members


def check_estimation(strategy: str, alpha: float, n_train: int, n_est: int | None) -> None:
    """InputError when an adaptive collective of ``alpha`` among ``n_train`` training points cannot
    estimate its labels: unplanting needs 1 <= n_est < members (its estimators and at least one
    other member), erasing at least one member. Planting strategies need nothing."""
    if not get_strategy(strategy).adaptive:
        return
    members = int(round(alpha * n_train))
    rows = estimation_rows(strategy, members, n_est)
    if strategy == "unplanting" and not 1 <= rows < members:
        given = "half of them" if n_est is None else str(n_est)
        raise InputError(f"unplanting needs 1 <= estimator.n_est < members = round(alpha n_train) = "
                         f"round({alpha:g} x {n_train}) = {members}, got {given}")
    if strategy == "erasing" and members < 1:
        raise InputError(f"erasing needs at least one member to estimate its labels; round(alpha n_train) = "
                         f"round({alpha:g} x {n_train}) = 0")
