"""The finite-sample bound (Gauthier et al. 2025, Thm 3.3) holds with its stated probability."""

import numpy as np
import pytest
from scipy.stats import binom

from collective_action import InputError
from collective_action.theory import finite_sample_bound, finite_sample_bound_from_estimates
from collective_action.theory.bayes import bayes_classifier
from collective_action.theory.finite_sample import estimate_from_samples, hoeffding_radius

# Six points, two labels, target 0. Signal points: 4 (D = 0, P_g = 0.7) and 5 (D = 0.3, P_g = 0.3).
P0 = np.array([[0.10, 0.06], [0.06, 0.10], [0.05, 0.11], [0.07, 0.10], [0.025, 0.025], [0.0, 0.3]])
G = np.array([4, 4, 4, 4, 4, 5])
TARGET = 0


def _one_draw(rng, n, big_n, n_test, delta):
    """Train the empirical Bayes learner on N points (n planted) and return (bound, success, naive)."""
    flat = P0.ravel()
    members = rng.choice(flat.size, size=n, p=flat)
    ox, oy = np.divmod(members, P0.shape[1])
    planted = G[ox]
    counts = rng.multinomial(big_n - n, flat).reshape(P0.shape).astype(float)
    np.add.at(counts[:, TARGET], planted, 1.0)
    labels = bayes_classifier(counts, against=TARGET, tol=0.5)  # integer counts: ties lose
    test_x = rng.multinomial(n_test, P0.sum(axis=1))
    success = float((test_x * (labels[G] == TARGET)).sum() / n_test)
    bound = finite_sample_bound(ox, oy, planted, big_n, n_test, n_points=6, n_labels=2,
                                target=TARGET, signal_set_size=2, delta=delta)
    _, ps, gap = estimate_from_samples(ox, oy, planted, 6, 2, TARGET)
    naive = float((ps * (n / big_n * ps - (big_n - n) / big_n * gap > 0)).sum())
    return bound, success, naive


def test_bound_holds_with_at_least_its_stated_probability():
    rng = np.random.default_rng(0)
    delta, reps = 0.1, 300
    draws = [_one_draw(rng, 4000, 10_000, 4000, delta) for _ in range(reps)]
    bound, success, naive = map(np.array, zip(*draws))
    failures = int(np.sum(bound > success))
    # Allowed failures: the 99.9% binomial quantile at rate delta.
    assert failures <= binom.ppf(0.999, reps, delta)
    assert np.median(bound) > 0.5  # non-vacuous here
    # Power check: the plug-in condition without the confidence terms fails far more often.
    assert np.sum(naive > success) > binom.ppf(0.999, reps, delta)


def test_bound_is_a_staircase_in_n_that_depends_on_absolute_n():
    ps = np.array([0.4, 0.3, 0.2, 0.1])
    gap = np.array([0.0, 0.02, 0.05, 0.08])
    ns = np.arange(50, 200_000, 997)
    big = 4 * ns  # fixed ratio n/N = 1/4
    bound = finite_sample_bound_from_estimates(ps, gap, ns, big, 10**6, 0.05, 0.0, 4, 2)
    radius = hoeffding_radius()
    captured = bound + radius.numeric(ns, 0.05, 4, 2) + radius.numeric(10**6, 0.05, 4, 2)
    # The captured mass only takes subset sums of P*_hat and never decreases with n: a staircase.
    sums = {round(float(ps[list(s)].sum()), 9) for s in _subsets(4)}
    assert {round(float(c), 9) for c in captured} <= sums
    assert np.all(np.diff(captured) >= -1e-12)
    assert len(np.unique(np.round(captured, 9))) >= 3
    # Same ratio, different absolute sizes, different bounds.
    small = finite_sample_bound_from_estimates(ps, gap, 100, 400, 10**6, 0.05, 0.0, 4, 2)
    large = finite_sample_bound_from_estimates(ps, gap, 100_000, 400_000, 10**6, 0.05, 0.0, 4, 2)
    assert small < large - 0.2


def _subsets(k):
    for mask in range(2 ** k):
        yield [i for i in range(k) if mask >> i & 1]


def test_bound_tends_to_the_pointwise_condition():
    ps = np.array([0.5, 0.5])
    gap = np.array([0.1, 0.4])  # at ratio 1/2: margin 0.25 - 0.05 > 0, 0.25 - 0.2 > 0
    huge = finite_sample_bound_from_estimates(ps, gap, 10**9, 2 * 10**9, 10**12, 0.05, 0.0, 2, 2)
    assert huge == pytest.approx(1.0, abs=1e-3)
    eps_kills_second = finite_sample_bound_from_estimates(ps, gap, 10**9, 2 * 10**9, 10**12, 0.05,
                                                          0.06, 2, 2)
    assert eps_kills_second == pytest.approx(0.5, abs=1e-3)


def test_bad_sample_input_is_rejected():
    with pytest.raises(InputError, match="n_train"):
        finite_sample_bound_from_estimates([0.5], [0.0], 10, 10, 100)
    with pytest.raises(InputError, match="same non-zero length"):
        finite_sample_bound([0, 1], [0], [2, 2], 100, 100, n_points=3, n_labels=2, target=0,
                            signal_set_size=1)
