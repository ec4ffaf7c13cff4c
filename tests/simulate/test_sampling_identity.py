"""Family 2's sampling draws shared base and test data once per seed: the arrays must equal drawing
every configuration from scratch, as the simulator did before (the reference below is that code)."""

from __future__ import annotations

import numpy as np
import pytest

from collective_action.collective import Collective
from collective_action.simulate.gaussian import _PLANT_BY_INDEX_FROM, make_problem, sample_batch


def reference_sample_batch(problem, alphas, seeds, n_train, n_test):
    """One configuration at a time, each from freshly seeded streams (the former implementation)."""
    out = {k: [] for k in ("X", "y", "member", "X_signal", "X_clean", "y_clean", "y_signal")}
    for alpha, seed in zip(alphas, seeds):
        rng = np.random.default_rng([int(seed), 0])
        x0, y0 = problem.sample_base(n_train, rng)
        collective = Collective(float(alpha), problem.target,
                                signal=lambda xb, rng=rng: problem.plant(xb, rng), strategy=problem.strategy)
        X, y, member = collective.plant_in_training_set(x0, y0, rng)
        test_rng = np.random.default_rng([int(seed), 1])
        xs, y_signal = problem.sample_base(n_test, test_rng)
        X_signal = problem.plant(xs, test_rng)
        X_clean, y_clean = problem.sample_base(n_test, test_rng)
        for key, value in dict(X=X, y=y, member=member, X_signal=X_signal, X_clean=X_clean,
                               y_clean=y_clean, y_signal=y_signal).items():
            out[key].append(value)
    return {k: np.stack(v) for k, v in out.items()}


@pytest.mark.parametrize("seeds", [
    [4, 4, 0, 9, 4, 9, 0],   # repeated and unsorted: a seed's configurations are scattered
    [4, 4, 4, 0, 0, 9, 9],   # side by side, as a sweep lists them (copied by slices)
], ids=["scattered", "side-by-side"])
@pytest.mark.parametrize("mode, jitter, strategy, n_classes", [
    ("additive", 0.0, "feature-label", 2),
    ("additive", 0.0, "feature-only", 3),     # members of other classes report their own point
    ("overwrite", 0.3, "feature-label", 3),   # the plant itself draws from the stream
    ("overwrite", 0.5, "feature-only", 3),
])
# both planting paths: a masked copy below _PLANT_BY_INDEX_FROM training points, indexing above
@pytest.mark.parametrize("n_train", [300, 1200])
def test_shared_seed_sampling_equals_per_configuration_sampling(mode, jitter, strategy, n_classes, seeds, n_train):
    problem = make_problem(n_classes=n_classes, d_class=3, separation=2.0, sigma=1.0, n_free=2, tau=0.7,
                           placement="free", n_coords=2, amplitude=2.5, mode=mode, jitter=jitter,
                           target=1, strategy=strategy)
    # alphas that give no, few and many members
    alphas = [0.001, 0.3, 0.05, 0.3, 0.5, 0.05, 0.2]
    assert (n_train >= _PLANT_BY_INDEX_FROM) == (n_train == 1200)
    got = sample_batch(problem, alphas, seeds, n_train=n_train, n_test=120)
    want = reference_sample_batch(problem, alphas, seeds, n_train, 120)
    for key, value in want.items():
        np.testing.assert_array_equal(getattr(got, key), value, err_msg=key)


def test_configurations_sharing_a_seed_differ_only_in_their_planted_rows():
    problem = make_problem(n_classes=2, d_class=2, separation=3.0, sigma=1.0, n_free=1, tau=1.0,
                           placement="free", n_coords=1, amplitude=3.0, mode="additive", jitter=0.0,
                           target=0, strategy="feature-label")
    batch = sample_batch(problem, [0.1, 0.4], [7, 7], n_train=500, n_test=50)
    untouched = ~(batch.member[0] | batch.member[1])
    np.testing.assert_array_equal(batch.X[0][untouched], batch.X[1][untouched])
    np.testing.assert_array_equal(batch.X_clean[0], batch.X_clean[1])
    assert batch.member[0].sum() == 50 and batch.member[1].sum() == 200


def test_evaluation_points_are_stored_once_per_distinct_seed():
    problem = make_problem(n_classes=2, d_class=2, separation=3.0, sigma=1.0, n_free=1, tau=1.0,
                           placement="free", n_coords=1, amplitude=3.0, mode="additive", jitter=0.0,
                           target=1, strategy="feature-label")
    seeds = [4, 4, 0, 9, 4, 9, 0]
    batch = sample_batch(problem, [0.1] * 7, seeds, n_train=100, n_test=80)
    tests = batch.tests
    assert tests.X_signal.shape == (3, 80, problem.dim) and tests.X_clean.shape == (3, 80, problem.dim)
    assert tests.y_clean.shape == tests.y_signal.shape == (3, 80)
    # configuration c scores on its seed's set; the per-configuration arrays are those sets
    np.testing.assert_array_equal(tests.index, [1, 1, 0, 2, 1, 2, 0])
    for c in range(7):
        np.testing.assert_array_equal(batch.X_signal[c], tests.of("X_signal", c))
    assert batch.X_signal is batch.X_signal  # built once


@pytest.mark.parametrize("alpha", [0.0, 1.0, -0.2, float("nan")])
def test_an_alpha_outside_the_open_unit_interval_is_refused_in_one_line(alpha):
    from collective_action.errors import InputError

    problem = make_problem(n_classes=2, d_class=2, separation=3.0, sigma=1.0, n_free=1, tau=1.0,
                           placement="free", n_coords=1, amplitude=3.0, mode="additive", jitter=0.0,
                           target=1, strategy="feature-label")
    with pytest.raises(InputError, match=r"^alpha must lie in \(0, 1\)"):
        sample_batch(problem, [0.1, alpha], [3, 3], n_train=100, n_test=20)


def test_sampling_holds_no_second_copy_of_a_seeds_training_sets():
    """Configurations sharing a seed are planted in place: drawing them needs no more memory than
    the arrays returned (a group-wide np.where once held the group's data twice)."""
    import tracemalloc

    problem = make_problem(n_classes=2, d_class=2, separation=3.0, sigma=1.0, n_free=2, tau=1.0,
                           placement="free", n_coords=1, amplitude=3.0, mode="additive", jitter=0.0,
                           target=1, strategy="feature-label")
    C, n = 200, 2000
    alphas, seeds = np.geomspace(0.005, 0.3, C), np.zeros(C, dtype=int)   # one seed: one group
    sample_batch(problem, alphas[:2], seeds[:2], n, 10)
    tracemalloc.start()
    try:
        batch = sample_batch(problem, alphas, seeds, n, 10)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    returned = batch.X.nbytes + batch.y.nbytes + batch.member.nbytes
    assert peak < 1.1 * returned, (peak, returned)


@pytest.mark.parametrize("n_classes, n_free", [(2, 2), (3, 0)])
def test_base_points_are_the_former_expression_of_the_same_stream(n_classes, n_free):
    """sample_base computes in place (and gathers with take); every sweep's numbers rest on it
    drawing exactly what full_means[y] + z * scales drew from the same stream."""
    problem = make_problem(n_classes=n_classes, d_class=3, separation=2.0, sigma=0.8, n_free=n_free, tau=0.7,
                           placement="class" if n_free == 0 else "free", n_coords=2, amplitude=2.5,
                           mode="additive", jitter=0.0, target=1, strategy="feature-label")
    for seed in range(5):
        x, y = problem.sample_base(1000, np.random.default_rng(seed))
        rng = np.random.default_rng(seed)
        y_ref = rng.integers(0, problem.n_classes, size=1000)
        x_ref = problem.full_means[y_ref] + rng.standard_normal((1000, problem.dim)) * problem.scales
        np.testing.assert_array_equal(y, y_ref)
        np.testing.assert_array_equal(x, x_ref)
