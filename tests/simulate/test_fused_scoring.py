"""The compiled scoring of two-class fits (simulate/fused_scoring.py) must give what the per-group
path gives, label for label and rate for rate: it replaces that path in the simulator's learners
and in LogisticFit.rates_on."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from collective_action.errors import InputError
from collective_action.simulate import fused_scoring
from collective_action.simulate.evaluation_sets import EvaluationSets
from collective_action.simulate.gaussian import make_problem, sample_batch
from collective_action.simulate.logistic import fit_logistic


def _batch(n_classes=2, seeds=(4, 4, 0, 9, 4, 9, 0)):
    problem = make_problem(n_classes=n_classes, d_class=3, separation=1.0, sigma=1.0, n_free=2, tau=0.7,
                           placement="free", n_coords=2, amplitude=1.5, mode="additive", jitter=0.0,
                           target=1, strategy="feature-label")
    alphas = np.linspace(0.01, 0.3, len(seeds))
    batch = sample_batch(problem, alphas, list(seeds), n_train=150, n_test=400)
    fit = fit_logistic(batch.X, batch.y, n_classes=n_classes, steps=25, l2=1e-3, backend="numpy",
                       **({"solver": "newton", "tol": 1e-6} if n_classes == 2 else {"solver": "gd", "lr": 0.5}))
    return batch, fit


def _per_group_predictions(fit, tests, name):
    return tests.score(lambda rows, points: fit.rows(rows).predict(points), name)


def _per_group_rates(fit, tests, label):
    acc, rate = np.empty(tests.n_configs), np.empty(tests.n_configs)
    for rows, s in tests.groups():
        acc[rows] = fit.rows(rows).accuracy(tests.X_clean[s], tests.y_clean[s])
        rate[rows] = fit.rows(rows).label_rate(tests.X_signal[s], label)
    return acc, rate


@pytest.mark.parametrize("seeds", [(4, 4, 0, 9, 4, 9, 0), (1, 1, 1, 2, 2, 2, 2)], ids=["scattered", "side-by-side"])
@pytest.mark.parametrize("threads", [1, 2])
def test_compiled_scoring_equals_the_per_group_path(seeds, threads):
    batch, fit = _batch(seeds=seeds)
    assert fused_scoring.applies(fit, batch.tests)
    for name in ("X_signal", "X_clean"):
        got = fused_scoring.predict_sets(fit, batch.tests, name, threads)
        want = _per_group_predictions(fit, batch.tests, name)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    for label in (0, 1):
        got = fused_scoring.rates_sets(fit, batch.tests, label, threads)
        want = _per_group_rates(fit, batch.tests, label)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
        # and the rates really vary between configurations (not a constant the paths agree on)
        assert len(np.unique(got[1])) > 1


def test_one_set_per_configuration_and_a_nan_model_score_as_the_per_group_path():
    batch, fit = _batch()
    C = batch.n_configs
    tests = EvaluationSets(batch.tests.per_configuration("X_signal"), batch.tests.per_configuration("X_clean"),
                           batch.tests.per_configuration("y_clean"))          # index None: set c for c
    W = np.array(fit.W)
    W[2] = np.nan                                                              # a diverged configuration
    fit = dataclasses.replace(fit, W=W)
    for label in (0, 1):
        got, want = fit.rates_on(tests, label), _per_group_rates(fit, tests, label)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
    assert fit.rates_on(tests, 0)[1][2] == 0.0 and fit.rates_on(tests, 1)[1][2] == 0.0
    np.testing.assert_array_equal(fused_scoring.predict_sets(fit, tests, "X_clean"),
                                  _per_group_predictions(fit, tests, "X_clean"))
    assert C == tests.n_configs


def test_float32_sets_and_three_classes_keep_the_per_group_path():
    batch, fit = _batch()
    tests32 = dataclasses.replace(batch.tests, X_signal=batch.tests.X_signal.astype(np.float32),
                                  X_clean=batch.tests.X_clean.astype(np.float32))
    assert not fused_scoring.applies(fit, tests32)
    got, want = fit.rates_on(tests32, 1), _per_group_rates(fit, tests32, 1)
    np.testing.assert_array_equal(got[0], want[0])
    batch3, fit3 = _batch(n_classes=3)
    assert not fused_scoring.applies(fit3, batch3.tests)
    got, want = fit3.rates_on(batch3.tests, 2), _per_group_rates(fit3, batch3.tests, 2)
    np.testing.assert_array_equal(got[1], want[1])


def test_rates_on_refuses_a_bad_label_or_sets_for_other_configurations_in_one_line():
    batch, fit = _batch()
    with pytest.raises(InputError, match=r"label must lie in \[0, 1\]") as err:
        fit.rates_on(batch.tests, 2)
    assert "\n" not in str(err.value)
    with pytest.raises(InputError, match="7 configurations"):
        fit.rows(slice(0, 3)).rates_on(batch.tests, 1)
