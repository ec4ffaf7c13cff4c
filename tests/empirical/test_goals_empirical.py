"""The non-default strategies on real images, each measured by its own goal (scikit-learn digits).

A 4x4 checkerboard in the centre of a digit reads as an 8 to a model trained without a collective,
so y* = 8 leaves every strategy something to do. Each strategy is compared with the same training
without a collective (``no_collective``: same data, seed and initialisation), whose success is the
goal's rate when nobody acts:

* unplanting (f(g(x)) != y*) at alpha 0.3 against the share of g(x) the clean model calls 8;
* erasing (f(g(x)) = f(x)) at alpha 0.9 with a 5x5 checkerboard, which the clean model answers
  differently from the clean image on about half of the test points;
* feature-only planting (f(g(x)) = y*), whose members keep their labels and only class-8 members
  carry the signal.

The adaptive strategies estimate their labels from the members' own rows only (tested by
recording every row the estimator is fitted on), once per run, and play the same estimate on a
validation split that carries the collective.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from pydantic import ValidationError

from collective_action.collective import Collective
from collective_action.empirical import runner
from collective_action.empirical.config import EmpiricalConfig
from collective_action.empirical.data import load_digits
from collective_action.empirical.estimate import fit_label_scorer, label_estimator
from collective_action.empirical.runner import setup_run, train_once
from collective_action.empirical.signals import make_signal
from collective_action.empirical.splits import prepare_policies, split

SEEDS = [0, 1]


def _config(strategy: str, alpha: float, size: int = 4, **extra) -> EmpiricalConfig:
    return EmpiricalConfig.model_validate({
        "data": {"name": "digits", "val_size": 200},
        "collective": {"alpha": alpha, "target": 8, "strategy": strategy},
        "signal": {"kind": "patch", "place": "center", "size": size},
        "train": {"model": "mlp", "width": 64, "epochs": 10, "batch_size": 64, "lr": 0.05, "momentum": 0.9},
        **extra,
    })


def _against_baseline(cfg: EmpiricalConfig, seed: int):
    return train_once(cfg, seed), train_once(cfg, seed, no_collective=True)


@pytest.mark.parametrize("seed", SEEDS)
def test_unplanting_drives_the_signal_away_from_y_star(seed):
    row, base = _against_baseline(_config("unplanting", 0.3), seed)
    assert row.extra["goal"] == base.extra["goal"] == "unplant"
    assert math.isnan(row.attack_success)  # attack success counts planted y*: planting goals only
    # without a collective the checkerboard reads as an 8 on a fair share of test points
    assert base.success < 0.95, f"seed {seed}: nothing to unplant, clean model's success {base.success:.3f}"
    assert row.success > base.success + 0.1, (
        f"seed {seed}: unplanting {row.success:.3f} vs no collective {base.success:.3f}")
    # the per-epoch trajectory uses the goal too: its last entry is the row's success (no selection)
    assert json.loads(row.extra["success_trajectory"])[0][-1] == pytest.approx(row.success, abs=1e-4)


@pytest.mark.parametrize("seed", SEEDS)
def test_erasing_makes_the_signal_not_change_the_answer(seed):
    row, base = _against_baseline(_config("erasing", 0.9, size=5), seed)
    assert row.extra["goal"] == "erase" and math.isnan(row.attack_success)
    assert row.success > base.success + 0.15, (
        f"seed {seed}: Pr[f(g(x)) = f(x)] with erasing {row.success:.3f} vs no collective {base.success:.3f}")
    assert json.loads(row.extra["success_trajectory"])[0][-1] == pytest.approx(row.success, abs=1e-4)


@pytest.mark.parametrize("seed", SEEDS)
def test_feature_only_plants_with_members_kept_in_place(seed):
    cfg = _config("feature-only", 0.3)
    row, base = _against_baseline(cfg, seed)
    assert row.extra["goal"] == "plant" and not math.isnan(row.attack_success)
    assert row.success > base.success + 0.3, (
        f"seed {seed}: feature-only {row.success:.3f} vs no collective {base.success:.3f}")
    # members keep their labels; only those of class y* carry the signal, the others keep x as well
    run = setup_run(cfg, seed)
    x0, y0, *_ = split(run.ds, np.random.default_rng([seed, 7]), val_size=cfg.data.val_size)
    members = run.data.members
    own = members & (y0 == 8)
    np.testing.assert_array_equal(run.data.y_train, y0)
    np.testing.assert_array_equal(run.data.x_train[~own], x0[~own])
    np.testing.assert_array_equal(run.data.x_train[own], run.collective.signal(x0[own]))
    assert own.any() and (members & ~own).any()


def _recording_estimator(monkeypatch) -> list:
    """Replace the runner's estimator by one that records every (x, y) it is fitted on."""
    fitted = []

    def estimator(n_classes, l2):
        real = label_estimator(n_classes, l2)

        def fit(x, y):
            fitted.append((np.array(x, copy=True), np.array(y, copy=True)))
            return real(x, y)

        return fit

    monkeypatch.setattr(runner, "label_estimator", estimator)
    return fitted


@pytest.mark.parametrize("strategy", ["unplanting", "erasing"])
def test_the_estimate_sees_only_the_members_own_rows_once_per_run(monkeypatch, strategy):
    fitted = _recording_estimator(monkeypatch)
    cfg = _config(strategy, 0.2, selection={"validation": "both", "metric": "average"})
    seed = 3
    run = setup_run(cfg, seed)
    assert len(fitted) == 1  # one fit, played on the training split and on the validation split
    x_seen, y_seen = fitted[0]
    x0, y0, *_ = split(run.ds, np.random.default_rng([seed, 7]), val_size=cfg.data.val_size)
    members = run.data.members
    m = int(members.sum())
    assert len(y_seen) == (m // 2 if strategy == "unplanting" else m)
    # every row it saw is a member's original (x, y): never a non-member's, the validation's or a test row
    own = {(row.tobytes(), int(label)) for row, label in zip(x0[members], y0[members])}
    assert all((row.tobytes(), int(label)) in own for row, label in zip(x_seen, y_seen))
    if strategy == "erasing":  # all of them, each once
        key = lambda xs, ys: sorted((r.tobytes(), int(lab)) for r, lab in zip(xs, ys))
        assert key(x_seen, y_seen) == key(x0[members], y0[members])


def test_validation_with_the_collective_plays_the_training_estimate():
    ds = load_digits()
    signal = make_signal("patch", ds.input_shape, place="center", size=4)
    calls = []

    def estimator(x, y):
        calls.append(len(y))
        return fit_label_scorer(x, y, ds.n_classes)

    collective = Collective(0.3, 8, signal, "erasing", estimator=estimator)
    clean, planted = prepare_policies(ds, collective, np.random.default_rng([0, 7]), val_size=300,
                                      policies=("clean", "with-collective"))
    assert len(calls) == 1 and clean.played is planted.played and planted.played.labeler is not None
    np.testing.assert_array_equal(clean.x_train, planted.x_train)
    assert not clean.val_members.any() and planted.val_members.sum() == round(0.3 * 300)
    _, _, _, x_val, y_val, _ = split(ds, np.random.default_rng([0, 7]), val_size=300)
    v = planted.val_members
    np.testing.assert_array_equal(planted.x_val[v], x_val[v])  # erasing keeps x
    np.testing.assert_array_equal(planted.y_val[v], planted.played.labeler(signal(x_val[v])))
    np.testing.assert_array_equal(planted.y_val[~v], y_val[~v])


def test_plain_configurations_keep_their_identity():
    plain = _config("feature-label", 0.1).model_dump(mode="json")
    assert "estimator" not in plain and "discrete" not in plain["data"]
    spelled = _config("feature-only", 0.1, estimator={"n_est": None, "l2": 1e-4}).model_dump(mode="json")
    assert spelled == {**plain, "collective": {**plain["collective"], "strategy": "feature-only"}}
    # the defaults of an adaptive collective leave no trace either; a chosen n_est does
    assert "estimator" not in _config("unplanting", 0.1).model_dump()
    assert _config("unplanting", 0.1, estimator={"n_est": 20}).model_dump()["estimator"]["n_est"] == 20


@pytest.mark.parametrize("patch, fragment", [
    ({"collective": {"alpha": 0.1, "target": 8, "strategy": "erasing"}, "estimator": {"n_est": 5}},
     "applies to strategy 'unplanting' only"),
    ({"collective": {"alpha": 0.1, "target": 8}, "estimator": {"l2": 0.1}}, "adaptive strategies"),
    ({"collective": {"alpha": 0.1, "target": 8, "strategy": "unplanting"}, "estimator": {"n_est": 50},
      "data": {"name": "digits", "train_size": 400}}, "n_est < members"),
    ({"collective": {"alpha": 0.001, "target": 8, "strategy": "unplanting"},
      "data": {"name": "digits", "train_size": 400}}, "n_est < members"),
    ({"collective": {"alpha": 0.001, "target": 8, "strategy": "erasing"},
      "data": {"name": "digits", "train_size": 400}}, "at least one member"),
    ({"signal": {"kind": "map"}}, "data: discrete"),
    ({"data": {"name": "discrete"}}, "signal: {kind: map}"),
])
def test_impossible_adaptive_or_discrete_settings_are_refused_at_load(patch, fragment):
    base = _config("feature-label", 0.1).model_dump(mode="json")
    with pytest.raises(ValidationError, match=fragment.replace("{", r"\{").replace("}", r"\}")):
        EmpiricalConfig.model_validate({**base, **patch})


def test_a_run_without_enough_members_stops_before_training():
    from collective_action.errors import InputError

    cfg = _config("unplanting", 0.1, estimator={"n_est": 500})  # 120 members of 1,197 training points
    with pytest.raises(InputError, match="n_est < members"):
        setup_run(cfg, 0)
