"""Exact success on discrete data (``data: discrete``): the trained network against theory.

On one-hot points the trained network is a classifier of X, read off by predicting every point
once. Its success under the collective's goal can then be computed exactly against P0,
sum_x P0(x) 1[goal met at x] (:meth:`collective_action.discrete.DiscreteProblem.success_of`),
with no test sampling. Theory's exact Bayes success of the training mixture P_alpha at the
realised alpha (:func:`collective_action.theory.bayes_success`) is the number it should
approach: an adaptive collective's mixture uses the labels it actually estimated at each point,
so that the comparison tests the learner, not the estimate.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from collective_action.collective import Collective
from collective_action.discrete import DiscreteProblem

from .data import Dataset
from .train import predict


def exact_columns(ds: Dataset, model: torch.nn.Module, played: Collective, alpha_realised: float) -> dict:
    """Row columns of a run on discrete data: ``success_population`` (the trained classifier's exact
    success), ``labels_trained`` (its label at each point of X), ``success_theory`` (exact Bayes
    success of P_alpha with the labels played; NaN without a collective), and for adaptive
    strategies ``labels_played`` and ``labels_as_population`` (whether they are the population's)."""
    from collective_action.theory import bayes_success

    problem = DiscreteProblem(ds.meta["p0"], ds.meta["signal_map"], played.target)
    points = np.eye(problem.n_points, dtype=np.float32)
    device = next(model.parameters()).device
    labels = predict(model, torch.as_tensor(points, device=device)).cpu().numpy()
    strategy = played.strategy
    out = {"success_population": float(problem.success_of(labels, strategy)), "success_theory": math.nan,
           "labels_trained": ",".join(str(int(y)) for y in labels)}
    adaptive = played.strategy_impl.adaptive
    estimated = np.asarray(played.labeler(points)) if adaptive and played.labeler is not None else None
    if 0.0 < alpha_realised < 1.0 and (estimated is not None or not adaptive):
        out["success_theory"] = float(bayes_success(problem, alpha_realised, strategy, labels=estimated))
    if estimated is not None:
        signal_points = problem.signal_set
        out["labels_played"] = ",".join(str(int(y)) for y in estimated)
        # only the labels at the signal points are ever played
        out["labels_as_population"] = float(np.array_equal(estimated[signal_points],
                                                           problem.collective_labels(strategy)[signal_points]))
    return out
