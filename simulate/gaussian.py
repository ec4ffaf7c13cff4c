"""Family 2: Gaussian classes with a planted signal, sampled as one batch over configurations.

The model and its exact Bayes success live in :mod:`collective_action.theory.gaussian`; this
module draws finite training and test sets from it, stacked on a leading configuration axis C
so that every learner trains the whole batch at once.

Randomness: configuration c draws its base training points from the stream (seed_c, 0) and its
test points from (seed_c, 1). Configurations that share a seed therefore share their base data
and test points whatever their alpha or hyper-parameters (common random numbers: curves over
alpha are smooth, and a configuration's data never depend on its batch mates).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from typing import Optional

import numpy as np

from collective_action.collective import get_strategy, member_rows
from collective_action.errors import InputError, check_open_unit
from collective_action.simulate.evaluation_sets import EvaluationSets
from collective_action.theory.gaussian import PLACEMENTS, GaussianProblem, class_means

_TRAIN_STREAM, _TEST_STREAM = 0, 1

#: From this many training points on, a configuration's members are planted by indexing their
#: rows (cost ~ members); below it by a masked copy over all rows (cost ~ n, fewer calls). Both
#: place the same values; measured crossover between n = 200 and n = 2000.
_PLANT_BY_INDEX_FROM = 1000


@dataclass
class SampleBatch:
    """C training sets of n points and their evaluation points (NumPy arrays; learners move them).

    ``member`` marks the training rows the collective controls. ``tests`` holds the evaluation
    points once per distinct seed (:class:`EvaluationSets`); ``X_signal`` are g(x) for fresh
    x ~ P0 (success is the share predicted y*), ``X_clean``/``y_clean`` fresh points of P0, and
    ``y_signal`` the labels of the x behind ``X_signal`` (attack success). Read as attributes,
    those four are (C, m, ...) arrays, one row per configuration, built on first use; scoring
    loops use ``tests`` directly and score each set once for all the configurations that share it.
    """

    X: np.ndarray
    y: np.ndarray
    member: np.ndarray
    tests: EvaluationSets
    n_classes: int
    target: int
    seeds: Optional[np.ndarray] = None     # each configuration's seed (learners that draw their own noise)
    _expanded: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def from_arrays(cls, X, y, member, X_signal, X_clean, y_clean, n_classes: int, target: int,
                    y_signal=None, seeds=None) -> "SampleBatch":
        """A batch whose evaluation points are given per configuration, (C, m, ...) arrays."""
        return cls(X, y, member, EvaluationSets(X_signal, X_clean, y_clean, y_signal), n_classes, target, seeds)

    def _per_configuration(self, name: str):
        if name not in self._expanded:
            self._expanded[name] = self.tests.per_configuration(name)
        return self._expanded[name]

    @property
    def X_signal(self) -> np.ndarray:
        return self._per_configuration("X_signal")

    @property
    def X_clean(self) -> np.ndarray:
        return self._per_configuration("X_clean")

    @property
    def y_clean(self) -> np.ndarray:
        return self._per_configuration("y_clean")

    @property
    def y_signal(self) -> Optional[np.ndarray]:
        return self._per_configuration("y_signal")

    @property
    def n_configs(self) -> int:
        return self.X.shape[0]

    @property
    def alpha_realised(self) -> np.ndarray:
        """Share of training rows the collective controls, per configuration (C,)."""
        return self.member.mean(axis=1)


def make_problem(*, n_classes: int, d_class: int, separation: float, sigma: float, n_free: int,
                 tau: float, placement: str, n_coords: int, amplitude: float, mode: str,
                 jitter: float, target: int, strategy: str) -> GaussianProblem:
    """A :class:`GaussianProblem` from the experiment file's fields.

    The pattern v has norm ``amplitude`` spread evenly over ``n_coords`` coordinates: the first
    free coordinates (``placement='free'``) or the first class coordinates (``'class'``).
    """
    if placement not in PLACEMENTS:
        raise InputError(f"unknown placement {placement!r}; choose one of: {', '.join(PLACEMENTS)}")
    pool = n_free if placement == "free" else d_class
    if not (1 <= n_coords <= pool):
        raise InputError(f"signal.n_coords must lie in [1, {pool}] for placement {placement!r}, got {n_coords}")
    start = d_class if placement == "free" else 0
    coords = tuple(range(start, start + n_coords))
    pattern = np.full(n_coords, amplitude / np.sqrt(n_coords))
    return GaussianProblem(class_means(n_classes, d_class, separation), sigma, n_free, tau, coords,
                           pattern, target=target, mode=mode, jitter=jitter, strategy=strategy)


def sample_batch(problem: GaussianProblem, alphas, seeds, n_train: int, n_test: int) -> SampleBatch:
    """Draw one training set per (alpha, seed) pair, planted as the shared Collective plants it
    (``Collective.plant_in_training_set``: round(alpha n) members at random, reporting by the
    problem's strategy).

    Configurations that share a seed share their base points and evaluation points (the module's
    common random numbers), so those are drawn once per distinct seed: the evaluation points are
    stored once (``batch.tests``), and each configuration plants from its own copy of the
    training stream, resumed where the base draw left it. The result is the same, array for
    array, as drawing every configuration from scratch (tests/simulate/test_sampling_identity.py
    holds it to that); a sweep over A alphas samples its base data A times less often and holds
    its evaluation points A times, not A^2 times.
    """
    alphas = np.asarray(alphas, dtype=float)
    seeds = np.asarray(seeds, dtype=np.int64)
    if alphas.shape != seeds.shape or alphas.ndim != 1:
        raise InputError("alphas and seeds must be 1-d sequences of the same length")
    C, d = len(alphas), problem.dim
    distinct, index = np.unique(seeds, return_inverse=True)
    S = len(distinct)
    X = np.empty((C, n_train, d))
    y = np.empty((C, n_train), dtype=np.int64)
    member = np.empty((C, n_train), dtype=bool)
    tests = EvaluationSets(np.empty((S, n_test, d)), np.empty((S, n_test, d)), np.empty((S, n_test), dtype=np.int64),
                           np.empty((S, n_test), dtype=np.int64), index=index)
    X_signal, X_clean, y_clean, y_signal = tests.X_signal, tests.X_clean, tests.y_clean, tests.y_signal
    strategy = get_strategy(problem.strategy)
    for a in alphas:
        check_open_unit("alpha", a)
    # the additive signal draws nothing, so g(x) of a seed's base points is computed once and
    # every configuration takes its members' rows from it; the overwrite signal draws its noise
    # from each configuration's stream, after the members
    random_plant = problem.mode != "additive"
    # one generator replays the training stream for every configuration, its state reset each
    # time (building a fresh bit generator per configuration cost more than setting a state)
    plant_bits = None
    for rows, s in tests.groups():        # each seed's configurations, as the scoring sees them
        seed, configs = distinct[s], np.arange(C)[rows]
        rng = np.random.default_rng([int(seed), _TRAIN_STREAM])
        x0, y0 = problem.sample_base(n_train, rng)
        after_base = rng.bit_generator.state
        if plant_bits is None:
            plant_bits = type(rng.bit_generator)()
            plant_rng = np.random.Generator(plant_bits)
        # a member's report depends only on its own row (feature-label and feature-only, the
        # strategies the Gaussian model allows), so the seed's configurations differ only in
        # which rows are members: reports are built for every row once and copied in per member,
        # in place (a group-wide np.where would hold a second copy of the group's data)
        carries = strategy.plants(y0, problem.target)
        y_reported = strategy.relabel(y0, carries, problem.target)
        planted = None if random_plant else problem.plant(x0, plant_rng)
        by_index = n_train >= _PLANT_BY_INDEX_FROM
        for c in configs:
            plant_bits.state = after_base
            is_member = member[c]
            is_member[:] = False
            rows = member_rows(float(alphas[c]), n_train, plant_rng)
            is_member[rows] = True
            X[c] = x0
            y[c] = y0
            if random_plant:
                signal_rows = np.flatnonzero(is_member & carries)   # ascending: the noise's order
                if len(signal_rows):
                    X[c, signal_rows] = problem.plant(x0[signal_rows], plant_rng)
            elif by_index:
                signal_rows = rows[carries[rows]]
                X[c, signal_rows] = planted[signal_rows]
            else:
                np.copyto(X[c], planted, where=(is_member & carries)[:, None])
            if by_index:
                y[c, rows] = y_reported[rows]
            else:
                np.copyto(y[c], y_reported, where=is_member)
        test_rng = np.random.default_rng([int(seed), _TEST_STREAM])
        xs, y_signal[s] = problem.sample_base(n_test, test_rng)
        X_signal[s] = problem.plant(xs, test_rng)
        X_clean[s], y_clean[s] = problem.sample_base(n_test, test_rng)
    return SampleBatch(X, y, member, tests, problem.n_classes, problem.target, seeds)
