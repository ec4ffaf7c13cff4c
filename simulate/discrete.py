"""Family 1: discrete problems, finite training sets, the plug-in (empirical Bayes) learner.

A training set of n points with m = round(alpha n) collective members is a pair of multinomial
count tables over X x Y: (n - m) draws from P0 plus m draws from P* (docs/theory.md §1). The
plug-in learner predicts, at each x, the label with the most training points there; ties (and
unseen x) go against the collective, as in the exact Bayes success of docs/theory.md §2. Success is
measured on n_test fresh signal points g(x), x ~ P0, and clean accuracy on n_test fresh points of
P0; the exact population success of the trained classifier is reported beside them.

Counting makes huge n cheap (one multinomial draw), so the plug-in learner can be pushed to the
Bayes limit that theory describes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from collective_action.discrete import DiscreteProblem
from collective_action.errors import InputError

_TRAIN_STREAM, _TEST_STREAM = 0, 1


def random_problem(n_points: int, n_labels: int, concentration: float, signal_size: int,
                   target: int, seed: int) -> DiscreteProblem:
    """A random P0 (Dirichlet(concentration) over the |X| |Y| cells) and a random signal map.

    g sends every x to one of ``signal_size`` randomly chosen signal points (uniformly at random),
    so X* has at most ``signal_size`` points.
    """
    if n_points < 1 or n_labels < 2:
        raise InputError(f"need n_points >= 1 and n_labels >= 2, got {n_points}, {n_labels}")
    if not (1 <= signal_size <= n_points):
        raise InputError(f"signal_size must lie in [1, n_points={n_points}], got {signal_size}")
    if not (concentration > 0):
        raise InputError(f"concentration must be > 0, got {concentration}")
    rng = np.random.default_rng([seed, 7])
    p0 = rng.dirichlet(np.full(n_points * n_labels, float(concentration))).reshape(n_points, n_labels)
    p0 = p0 / p0.sum()
    signal_points = rng.choice(n_points, size=signal_size, replace=False)
    g = signal_points[rng.integers(0, signal_size, size=n_points)]
    return DiscreteProblem(p0, g.astype(np.int64), target)


@dataclass
class DiscreteOutcome:
    """Per-configuration results of the plug-in learner (all arrays have length C)."""

    alpha_realised: np.ndarray
    success: np.ndarray
    success_se: np.ndarray
    success_population: np.ndarray
    clean_accuracy: np.ndarray
    labels: np.ndarray  # (C, |X|) the trained classifiers


def sample_counts(problem: DiscreteProblem, alphas, seeds, n_train: int, strategy: str):
    """Training count tables (C, |X|, |Y|) and the number of members per configuration."""
    pstar = problem.pstar(strategy).ravel()
    p0 = problem.p0.ravel()
    C = len(alphas)
    counts = np.empty((C, problem.n_points * problem.n_labels), dtype=np.int64)
    members = np.empty(C, dtype=np.int64)
    for c in range(C):
        rng = np.random.default_rng([int(seeds[c]), _TRAIN_STREAM])
        m = int(round(float(alphas[c]) * n_train))
        counts[c] = rng.multinomial(n_train - m, p0) + rng.multinomial(m, pstar)
        members[c] = m
    return counts.reshape(C, problem.n_points, problem.n_labels), members


def plug_in_labels(counts: np.ndarray, target: int) -> np.ndarray:
    """argmax of the counts at each x; y* only when it wins strictly (ties and empty x go against it)."""
    others = counts.astype(float)
    others[..., target] = -np.inf
    best_other = np.argmax(others, axis=-1)
    wins = counts[..., target] > np.take_along_axis(others, best_other[..., None], axis=-1)[..., 0]
    return np.where(wins, target, best_other)


def run_plug_in(problem: DiscreteProblem, alphas, seeds, n_train: int, n_test: int,
                strategy: str) -> DiscreteOutcome:
    """Train the plug-in learner on C sampled training sets and measure it on fresh points."""
    counts, members = sample_counts(problem, alphas, seeds, n_train, strategy)
    labels = plug_in_labels(counts, problem.target)  # (C, |X|)
    hits_at = labels == problem.target  # (C, |X|): does f(x') = y*?
    signal_law = problem.signal_law
    success_pop = (hits_at * signal_law).sum(axis=1)
    C = len(alphas)
    success = np.empty(C)
    clean = np.empty(C)
    for c in range(C):
        rng = np.random.default_rng([int(seeds[c]), _TEST_STREAM])
        signal_counts = rng.multinomial(n_test, signal_law)
        success[c] = signal_counts[hits_at[c]].sum() / n_test
        clean_counts = rng.multinomial(n_test, problem.p0.ravel()).reshape(problem.p0.shape)
        correct = clean_counts[np.arange(problem.n_points), labels[c]].sum()
        clean[c] = correct / n_test
    se = np.sqrt(success * (1 - success) / n_test)
    return DiscreteOutcome(members / n_train, success, se, success_pop, clean, labels)
