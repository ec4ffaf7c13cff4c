"""Every strategy's empirical success against theory's exact success on a discrete problem.

The empirical pillar trains on points sampled from a random discrete problem (``data: discrete``:
one-hot x, the problem's g as the signal) with its normal loop and a linear softmax, which can
represent any classifier of X. Full-batch gradient descent (100 steps, lr 2, momentum 0.9) brings
the network's conditional probabilities to within about 0.004 of the training sample's, far below
the sample's own error, so the trained classifier is the Bayes classifier of the training sample.

How close that is to theory's exact Bayes success of P_alpha (the labels the collective actually
estimated, for the adaptive strategies) is the plug-in's sampling error, computed exactly here: at
a point where the mixture's two most likely labels differ by more than 4 standard deviations of
their empirical difference (n training points), the trained label must be Bayes' label; the other
points ("undecided") may go either way, and the exact success may then differ from theory's by at
most the P0-mass of the test points whose goal reads an undecided point. Each row is also held to
3 binomial standard errors of its sampled success (n_test points) plus that mass. The problem
(seed 99) is one whose points are all decided at these alphas for every strategy, as this
computation finds, and on which every strategy's success moves with alpha: the test then demands
theory's exact success to the last digit.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from collective_action import theory
from collective_action.collective import get_strategy
from collective_action.empirical.config import EmpiricalConfig
from collective_action.empirical.data import discrete_problem
from collective_action.empirical.runner import train_once
from collective_action.theory.bayes import mixture_tables

PROBLEM = {"n_points": 6, "n_labels": 3, "concentration": 1.0, "problem_seed": 99, "n_train": 30_000,
           "n_test": 20_000}
ALPHAS = [0.05, 0.2, 0.5]
STRATEGIES = ["feature-label", "feature-only", "unplanting", "erasing"]


def _config(strategy: str, alpha: float) -> EmpiricalConfig:
    return EmpiricalConfig.model_validate({
        "data": {"name": "discrete", "val_size": 0, "discrete": PROBLEM},
        "collective": {"alpha": alpha, "target": 0, "strategy": strategy},
        "signal": {"kind": "map"},
        "train": {"model": "linear", "epochs": 100, "batch_size": PROBLEM["n_train"], "lr": 2.0, "momentum": 0.9},
    })


def _labels(text: str) -> np.ndarray:
    return np.array([int(v) for v in text.split(",")])


def _undecided(table: np.ndarray, n: int) -> np.ndarray:
    """Points whose two most likely labels in ``table`` are within 4 standard deviations of their
    difference estimated from n draws (a tie counts as undecided)."""
    top = np.sort(table, axis=1)[:, ::-1]
    gap = top[:, 0] - top[:, 1]
    sd = np.sqrt((top[:, 0] + top[:, 1] - gap ** 2) / n)
    return gap <= 4 * sd


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_trained_success_is_theory_exact_success_within_sampling_error(strategy):
    goal = get_strategy(strategy).goal
    problem = discrete_problem(PROBLEM["n_points"], PROBLEM["n_labels"], PROBLEM["concentration"],
                               PROBLEM["problem_seed"], target=0)
    successes = []
    for alpha in ALPHAS:
        row = train_once(_config(strategy, alpha), seed=0)
        e = row.extra
        assert e["goal"] == goal.name
        a, n = e["alpha_realised"], e["n_train"]
        played = _labels(e["labels_played"]) if "labels_played" in e else None
        table = mixture_tables(problem, a, strategy, played)
        bayes = goal.predict(table, problem.target)
        trained = _labels(e["labels_trained"])
        undecided = _undecided(table, n)
        assert np.array_equal(trained[~undecided], bayes[~undecided]), (
            f"{strategy} alpha={alpha}: trained labels {trained} vs Bayes {bayes} on decided points")
        reads = undecided[problem.g] | (undecided if goal.name == "erase" else False)
        slack = float(problem.marginal[reads].sum())
        exact = theory.bayes_success(problem, a, strategy, labels=played)
        assert e["success_theory"] == pytest.approx(exact, abs=1e-12)
        assert abs(e["success_population"] - exact) <= slack + 1e-12, (
            f"{strategy} alpha={alpha}: exact success {e['success_population']:.4f} vs theory {exact:.4f}")
        se = math.sqrt(max(exact * (1 - exact), 0.0) / e["n_test"])
        assert abs(row.success - exact) <= 3 * se + slack + 1e-12, (
            f"{strategy} alpha={alpha}: sampled success {row.success:.4f} vs theory {exact:.4f} (3 SE = {3 * se:.4f})")
        if played is not None:  # thousands of estimating members find the population's labels here
            assert e["labels_as_population"] == 1.0
            assert exact == pytest.approx(theory.bayes_success(problem, a, strategy))
        successes.append((exact, slack))
    # a comparison with teeth: success moves with alpha, and most points are decided
    assert max(s for s, _ in successes) - min(s for s, _ in successes) > 0.1, successes
    assert sum(slack for _, slack in successes) < 0.2, successes
