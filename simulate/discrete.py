"""Family 1: discrete problems, finite training sets, the plug-in (empirical Bayes) learner.

A training set of n points with m = round(alpha n) collective members is a pair of multinomial
count tables over X x Y: (n - m) draws from P0 plus the members' m reports (docs/theory.md §1).
The plug-in learner predicts, at each x, the label with the most training points there; ties
(and unseen x) go against the collective, by the rule of the strategy's goal
(:class:`collective_action.collective.Goal`), as in theory's exact Bayes success. Success is the
goal's (planting: f(g(x)) = y*; unplanting: f(g(x)) != y*; erasing: f(g(x)) = f(x)), measured on
n_test fresh points x ~ P0 (signal points g(x) for planting and unplanting, the clean test points
for erasing); clean accuracy on n_test fresh points of P0; the exact population success of the
trained classifier is reported beside them.

How the members' reports are drawn:

* planting strategies: their reports are one multinomial draw from P* (unchanged since the
  family began, so earlier results keep their numbers); the members' own original table, which
  the finite-sample bounds read, is then drawn from a separate stream conditionally on those
  reports (given how many members planted at x~, their original points are multinomial over
  g's preimage of x~ with weights P0), which gives exactly the joint law of (original, report);
* adaptive strategies (unplanting, erasing): the members' original table is drawn from P0 and the
  collective plays the labels it estimates from it: unplanting takes y^ from the first n_est of
  its rows (its own estimation sample) and every member reports (g(x), y^(g(x))), as Gauthier et
  al.'s Theorem 3.7 states; erasing takes y~ from all m rows and every member reports (x, y~(g(x))).

Counting makes huge n cheap (a few multinomial draws), so the plug-in learner can be pushed to
the Bayes limit that theory describes, and a bound can be checked over hundreds of repetitions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from collective_action.collective import get_strategy
from collective_action.discrete import DiscreteProblem
from collective_action.errors import InputError
from collective_action.theory import finite_sample_goals as goals
from collective_action.theory.finite_sample import finite_sample_bound_from_estimates

_TRAIN_STREAM, _TEST_STREAM, _MEMBERS_STREAM = 0, 1, 2


def random_problem(n_points: int, n_labels: int, concentration: float, signal_size: int,
                   target: int, seed: int, idempotent: bool = False) -> DiscreteProblem:
    """A random P0 (Dirichlet(concentration) over the |X| |Y| cells) and a random signal map.

    g sends every x to one of ``signal_size`` randomly chosen signal points (uniformly at random),
    so X* has at most ``signal_size`` points. ``idempotent``: every signal point is then sent to
    itself (g(g(x)) = g(x), as erasing's finite-sample bound assumes); the draws are the same.
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
    if idempotent:
        g[signal_points] = signal_points
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
    members: np.ndarray  # (C, |X|, |Y|) the members' original points
    estimators: np.ndarray | None  # (C, |X|, |Y|) unplanting: the n_est rows that chose y^
    played: np.ndarray | None  # (C, |X|) adaptive strategies: the label played at each point


@dataclass
class TrainingSample:
    """What one batch of configurations trains on, and what the collective knows."""

    counts: np.ndarray  # (C, |X|, |Y|) the training set
    n_members: np.ndarray  # (C,)
    members: np.ndarray  # (C, |X|, |Y|) the members' original points
    estimators: np.ndarray | None
    played: np.ndarray | None


def _members_given_reports(problem: DiscreteProblem, reports: np.ndarray, strategy: str,
                           rng: np.random.Generator) -> np.ndarray:
    """The members' original table drawn conditionally on their planting reports (module docstring)."""
    p0, g, t = problem.p0, problem.g, problem.target
    members = np.zeros(p0.shape, dtype=np.int64)
    if strategy == "feature-only":  # members without y* reported their own point
        members[:] = reports
        members[:, t] = 0
    weights = p0 if strategy == "feature-label" else p0[:, [t]]
    for point in np.unique(g):
        pre = np.flatnonzero(g == point)
        planted = int(reports[point, t])
        w = weights[pre].ravel()
        if planted == 0 or w.sum() <= 0:
            continue
        draw = rng.multinomial(planted, w / w.sum()).reshape(len(pre), -1)
        if strategy == "feature-label":
            members[pre] += draw
        else:
            members[pre, t] += draw[:, 0]
    return members


def _adaptive_reports(problem: DiscreteProblem, members: np.ndarray, played: np.ndarray, strategy: str) -> np.ndarray:
    """The members' reports: unplanting (g(x), y^(g(x))), erasing (x, y~(g(x)))."""
    reports = np.zeros_like(members)
    per_point = members.sum(axis=1)
    g = problem.g
    if strategy == "unplanting":
        np.add.at(reports, (g, played[g]), per_point)
    else:
        np.add.at(reports, (np.arange(problem.n_points), played[g]), per_point)
    return reports


def sample_training(problem: DiscreteProblem, alphas, seeds, n_train: int, strategy: str,
                    n_est=None) -> TrainingSample:
    """Training count tables, the members' own tables and the labels adaptive strategies play.

    ``n_est`` (unplanting only): the members who estimate y^, one number or one per configuration.
    """
    impl = get_strategy(strategy)
    if (strategy == "unplanting") != (n_est is not None):
        raise InputError("n_est (the members who estimate y^) is required for unplanting and only there")
    C, shape = len(alphas), problem.p0.shape
    n_est = None if n_est is None else np.broadcast_to(np.asarray(n_est, dtype=np.int64), (C,))
    p0 = np.minimum(problem.p0.ravel(), 1.0)
    counts = np.empty((C,) + shape, dtype=np.int64)
    members = np.empty((C,) + shape, dtype=np.int64)
    n_members = np.empty(C, dtype=np.int64)
    estimators = np.empty((C,) + shape, dtype=np.int64) if n_est is not None else None
    played = np.empty((C, shape[0]), dtype=np.int64) if impl.adaptive else None
    # rounding can leave one cell a hair above 1 (all mass on one signal point), which multinomial rejects
    pstar = None if impl.adaptive else np.minimum(problem.pstar(strategy).ravel(), 1.0)
    for c in range(C):
        rng = np.random.default_rng([int(seeds[c]), _TRAIN_STREAM])
        m = int(round(float(alphas[c]) * n_train))
        n_members[c] = m
        base = rng.multinomial(n_train - m, p0).reshape(shape)
        if not impl.adaptive:
            reports = rng.multinomial(m, pstar).reshape(shape)
            members[c] = _members_given_reports(problem, reports, strategy,
                                                np.random.default_rng([int(seeds[c]), _MEMBERS_STREAM]))
        else:
            if n_est is not None:
                k = int(n_est[c])
                if not 1 <= k < m:
                    raise InputError(f"unplanting needs 1 <= n_est < m = round(alpha n_train) = {m}, got n_est = {k}")
                estimators[c] = rng.multinomial(k, p0).reshape(shape)
                members[c] = estimators[c] + rng.multinomial(m - k, p0).reshape(shape)
                played[c] = impl.labels_from(estimators[c], problem.target)
            else:
                members[c] = rng.multinomial(m, p0).reshape(shape)
                played[c] = impl.labels_from(members[c], problem.target)
            reports = _adaptive_reports(problem, members[c], played[c], strategy)
        counts[c] = base + reports
    return TrainingSample(counts, n_members, members, estimators, played)


def sample_counts(problem: DiscreteProblem, alphas, seeds, n_train: int, strategy: str, n_est=None):
    """Training count tables (C, |X|, |Y|) and the number of members per configuration."""
    sample = sample_training(problem, alphas, seeds, n_train, strategy, n_est)
    return sample.counts, sample.n_members


def plug_in_labels(counts: np.ndarray, target: int, strategy: str = "feature-label") -> np.ndarray:
    """argmax of the counts at each x, ties (and empty x) against the collective by the strategy's
    goal (planting: y* only when it wins strictly)."""
    return get_strategy(strategy).goal.predict(counts, target, tol=0.0)


def run_plug_in(problem: DiscreteProblem, alphas, seeds, n_train: int, n_test: int,
                strategy: str, n_est=None) -> DiscreteOutcome:
    """Train the plug-in learner on C sampled training sets and measure it on fresh points."""
    sample = sample_training(problem, alphas, seeds, n_train, strategy, n_est)
    labels = plug_in_labels(sample.counts, problem.target, strategy)  # (C, |X|)
    goal = get_strategy(strategy).goal
    signal_law = np.minimum(problem.signal_law, 1.0)  # see sample_training
    if goal.name == "erase":
        success_pop = problem.success_of(labels, strategy)
    else:  # f read at the signal points only: summed over the law of g(x)
        success_pop = (goal.hits(labels, labels, problem.target) * signal_law).sum(axis=1)
    C = len(alphas)
    success = np.empty(C)
    clean = np.empty(C)
    for c in range(C):
        rng = np.random.default_rng([int(seeds[c]), _TEST_STREAM])
        signal_counts = rng.multinomial(n_test, signal_law)
        clean_counts = rng.multinomial(n_test, np.minimum(problem.p0.ravel(), 1.0)).reshape(problem.p0.shape)
        if goal.name == "erase":  # the clean test points x, each with its g(x)
            at_x = clean_counts.sum(axis=1)
            success[c] = at_x[goal.hits(labels[c][problem.g], labels[c], problem.target)].sum() / n_test
        else:  # the fresh signal points g(x)
            success[c] = signal_counts[goal.hits(labels[c], labels[c], problem.target)].sum() / n_test
        correct = clean_counts[np.arange(problem.n_points), labels[c]].sum()
        clean[c] = correct / n_test
    se = np.sqrt(success * (1 - success) / n_test)
    return DiscreteOutcome(sample.n_members / n_train, success, se, success_pop, clean, labels,
                           sample.members, sample.estimators, sample.played)


# ------------------------------------------------------------------------------------------
# Gauthier et al.'s finite-sample bounds, from the members' own data


BOUND_NAMES = {
    "feature-label": "Gauthier et al. Thm 3.3 (planting)",
    "feature-only": "Gauthier et al. Thm 3.5 with the members' kept rows counted (feature-only in place)",
    "unplanting": "Gauthier et al. Thm 3.7 as printed (adaptive unplanting)",
    "erasing": "Gauthier et al. Thm 3.9 as printed (erasing; NaN where its hypotheses fail)",
}


def erasing_hypotheses(problem: DiscreteProblem, m: int, n_train: int, delta: float) -> bool:
    """Theorem 3.9's hypotheses: g idempotent, a margin eta > 0 between the most likely label and
    every other at every x, and k(eta) <= m <= n_train - k(eta) (:func:`.goals.erasing_sample_size`)."""
    top2 = np.sort(problem.p0, axis=1)[:, -2:]
    eta = float(np.min(top2[:, 1] - top2[:, 0]))
    if not problem.is_idempotent or eta <= 0:
        return False
    k = goals.erasing_sample_size().numeric(eta, delta, problem.n_points, len(problem.signal_set), problem.n_labels)
    return bool(k <= m <= n_train - k)


def finite_sample_bound(problem: DiscreteProblem, strategy: str, outcome: DiscreteOutcome, c: int,
                        n_train: int, n_test: int, delta: float = 0.05, epsilon: float = 0.0) -> float:
    """The strategy's finite-sample lower bound for configuration ``c``, computed from the members'
    own tables only (what the collective can compute before acting)."""
    m = int(round(outcome.alpha_realised[c] * n_train))
    if m < 1 or m >= n_train:
        return float("nan")
    t, g, k_y = problem.target, problem.g, problem.n_labels
    k_star = len(problem.signal_set)
    if strategy in ("feature-label", "feature-only"):
        est = goals.planting_estimates(outcome.members[c], g, t, kept_in_place=strategy == "feature-only")
        if strategy == "feature-label":
            return float(finite_sample_bound_from_estimates(est["mass"], est["gap"], m, n_train, n_test, delta,
                                                            epsilon, k_star, k_y))
        return float(goals.feature_only_bound_from_estimates(est["mass"], est["planted"], est["gap"], m, n_train,
                                                             n_test, delta, epsilon, k_star, k_y,
                                                             kept_rival_hat=est["kept_rival"]))
    if strategy == "unplanting":
        n_est = int(outcome.estimators[c].sum())
        est = goals.unplanting_estimates(outcome.estimators[c], outcome.members[c] - outcome.estimators[c], g, t)
        return float(goals.unplanting_bound_from_estimates(est["mass"], est["gap"], m, n_est, n_train, n_test, delta,
                                                           epsilon, k_star, version=goals.UNPLANTING_THEOREM))
    if not erasing_hypotheses(problem, m, n_train, delta):
        return float("nan")
    est = goals.erasing_estimates(outcome.members[c], g)
    return float(goals.erasing_bound_from_estimates(est["mass"], est["gap"], m, n_train, n_test, delta, epsilon,
                                                    n_points=problem.n_points, signal_set_size=k_star,
                                                    n_labels=k_y))
