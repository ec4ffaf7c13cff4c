"""Evaluation points shared per seed: scoring each set once, under the models of the configurations
that share it, gives exactly the predictions of scoring per-configuration copies (the former
layout), for every learner of the simulator, whether a seed's configurations sit side by side or
are scattered."""

from __future__ import annotations

import numpy as np
import pytest

from collective_action.simulate.backend import get_backend
from collective_action.simulate.evaluation_sets import EvaluationSets
from collective_action.simulate.gaussian import SampleBatch, make_problem, sample_batch
from collective_action.simulate.learners import LEARNERS
from collective_action.simulate.logistic import fit_logistic

PARAMS = {"label-smoothing": {"schedule": "steps"}, "dp-sgd": {"batch_size": 32}}


def _problem():
    return make_problem(n_classes=2, d_class=2, separation=3.0, sigma=1.0, n_free=2, tau=1.0,
                        placement="free", n_coords=1, amplitude=3.0, mode="additive", jitter=0.0,
                        target=1, strategy="feature-label")


def _per_configuration_copy(batch: SampleBatch) -> SampleBatch:
    """The same batch with every configuration's evaluation points copied out (the former layout)."""
    return SampleBatch.from_arrays(batch.X, batch.y, batch.member, batch.X_signal.copy(), batch.X_clean.copy(),
                                   batch.y_clean.copy(), batch.n_classes, batch.target,
                                   y_signal=batch.y_signal.copy(), seeds=batch.seeds)


@pytest.mark.parametrize("seeds", [[3, 3, 3, 8, 8, 8], [5, 6, 6, 5, 5, 6]], ids=["side-by-side", "scattered"])
@pytest.mark.parametrize("name", sorted(LEARNERS))
def test_shared_sets_give_the_predictions_of_per_configuration_copies(name, seeds):
    problem = _problem()
    alphas = [0.02, 0.1, 0.3, 0.05, 0.2, 0.01]
    shared = sample_batch(problem, alphas, seeds, n_train=120, n_test=90)
    copied = _per_configuration_copy(shared)
    assert shared.tests.index is not None and copied.tests.index is None
    cls = LEARNERS[name]
    params = [cls.Params(**PARAMS.get(name, {})) for _ in alphas]
    results = []
    for batch in (shared, copied):
        learner = cls()
        if name == "bayes":
            learner.problem = problem
        results.append(learner.fit(batch, params, get_backend("numpy")))
    np.testing.assert_array_equal(results[0].pred_signal, results[1].pred_signal)
    np.testing.assert_array_equal(results[0].pred_clean, results[1].pred_clean)
    assert results[0].pred_signal.shape == (6, 90)


def test_groups_are_slices_when_side_by_side_and_index_arrays_otherwise():
    points = np.arange(3 * 4 * 2, dtype=float).reshape(3, 4, 2)
    labels = np.arange(12).reshape(3, 4)
    sets = EvaluationSets(points, points + 100, labels, index=[2, 0, 0, 1, 2])
    groups = {s: rows for rows, s in sets.groups()}
    assert groups[0] == slice(1, 3) and groups[1] == slice(3, 4)
    np.testing.assert_array_equal(groups[2], [0, 4])
    expanded = sets.per_configuration("X_clean")
    np.testing.assert_array_equal(expanded, (points + 100)[[2, 0, 0, 1, 2]])
    np.testing.assert_array_equal(sets.of("y_clean", 4), labels[2])
    assert sets.per_configuration("y_signal") is None
    # score: each set once, under the rows that share it
    calls = []

    def predict(rows, X):
        calls.append(len(X))
        return np.broadcast_to(X[:, 0], (len(np.arange(5)[rows]), len(X)))

    np.testing.assert_array_equal(sets.score(predict, "X_signal"), points[[2, 0, 0, 1, 2], :, 0])
    assert len(calls) == 3


def test_one_set_per_configuration_needs_no_copy():
    points = np.zeros((2, 3, 1))
    sets = EvaluationSets(points, points, np.zeros((2, 3), dtype=np.int64))
    assert sets.per_configuration("X_signal") is points and sets.n_configs == 2


@pytest.mark.parametrize("index", [[0, 3], [[0, 1]], [-1, 0]])
def test_a_bad_index_is_refused(index):
    with pytest.raises(ValueError, match="index"):
        EvaluationSets(np.zeros((2, 3, 1)), np.zeros((2, 3, 1)), np.zeros((2, 3)), index=index)


def test_a_fit_restricted_to_rows_scores_like_the_whole_fit():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(5, 60, 3))
    y = (X[:, :, 0] > 0).astype(np.int64)
    fit = fit_logistic(X, y, n_classes=2, steps=20, l2=0.01, solver="newton")
    points = rng.normal(size=(40, 3))
    whole = fit.predict(np.broadcast_to(points, (5, 40, 3)))
    for rows in (slice(1, 4), np.array([0, 4])):
        part = fit.rows(rows)
        np.testing.assert_array_equal(part.predict(points), whole[rows])
        np.testing.assert_array_equal(part.final_loss, fit.final_loss[rows])
        assert part.n_configs == len(np.arange(5)[rows])
    assert fit.rows(slice(0, 5)) is fit
