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

from dataclasses import dataclass

from typing import Optional

import numpy as np

from collective_action.collective import Collective
from collective_action.errors import InputError
from collective_action.theory.gaussian import PLACEMENTS, GaussianProblem, class_means

_TRAIN_STREAM, _TEST_STREAM = 0, 1


@dataclass
class SampleBatch:
    """C training sets of n points and their test sets (NumPy arrays; learners move them).

    ``member`` marks the training rows the collective controls. ``X_signal`` are g(x) for fresh
    x ~ P0 (success is the share predicted y*); ``X_clean``/``y_clean`` are fresh points of P0.
    """

    X: np.ndarray
    y: np.ndarray
    member: np.ndarray
    X_signal: np.ndarray
    X_clean: np.ndarray
    y_clean: np.ndarray
    n_classes: int
    target: int
    y_signal: Optional[np.ndarray] = None  # labels of the x behind X_signal (attack success)
    seeds: Optional[np.ndarray] = None     # each configuration's seed (learners that draw their own noise)

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
    """Draw one training set per (alpha, seed) pair, planted by the shared Collective vocabulary.

    Configurations that share a seed share their base points and test points (the module's
    common random numbers), so those are drawn once per distinct seed and copied; each
    configuration then plants from its own copy of the training stream, resumed where the base
    draw left it. The result is the same, array for array, as drawing every configuration from
    scratch (tests/simulate/test_sampling_identity.py holds it to that); a sweep over A alphas
    samples its base data A times less often.
    """
    alphas = np.asarray(alphas, dtype=float)
    seeds = np.asarray(seeds, dtype=np.int64)
    if alphas.shape != seeds.shape or alphas.ndim != 1:
        raise InputError("alphas and seeds must be 1-d sequences of the same length")
    C, d = len(alphas), problem.dim
    X = np.empty((C, n_train, d))
    y = np.empty((C, n_train), dtype=np.int64)
    member = np.empty((C, n_train), dtype=bool)
    X_signal = np.empty((C, n_test, d))
    X_clean = np.empty((C, n_test, d))
    y_clean = np.empty((C, n_test), dtype=np.int64)
    y_signal = np.empty((C, n_test), dtype=np.int64)
    for seed in np.unique(seeds):
        configs = np.flatnonzero(seeds == seed)
        rng = np.random.default_rng([int(seed), _TRAIN_STREAM])
        x0, y0 = problem.sample_base(n_train, rng)
        after_base = rng.bit_generator.state
        for c in configs:
            plant_rng = np.random.Generator(type(rng.bit_generator)())
            plant_rng.bit_generator.state = after_base
            collective = Collective(float(alphas[c]), problem.target,
                                    signal=lambda xb, rng=plant_rng: problem.plant(xb, rng),
                                    strategy=problem.strategy)
            X[c], y[c], member[c] = collective.plant_in_training_set(x0, y0, plant_rng)
        # a sweep lists a seed's configurations side by side: a slice copies them several times
        # faster than an index array, with the same result
        rows = slice(configs[0], configs[-1] + 1) if configs[-1] - configs[0] + 1 == len(configs) else configs
        test_rng = np.random.default_rng([int(seed), _TEST_STREAM])
        xs, y_signal[rows] = problem.sample_base(n_test, test_rng)
        X_signal[rows] = problem.plant(xs, test_rng)
        X_clean[rows], y_clean[rows] = problem.sample_base(n_test, test_rng)
    return SampleBatch(X, y, member, X_signal, X_clean, y_clean, problem.n_classes, problem.target, y_signal,
                       seeds)
