"""A documented finding: JTT presumes a low-error first stage.

With two classes at distance 2 sigma the stage-1 (and Bayes) error is about 16%. Upweighting
that error set by lambda = 20 gives it 20 * 0.16 = 3.2 units of weight against 0.84 for the
correctly classified points; the error set is the data with the labels "wrong side" of the
boundary, so the weighted optimum flips the classifier and clean accuracy collapses to about
the error rate. Roughly, collapse needs lambda e0 > 1 - e0 (e0 > 1/21 ~ 4.8% at lambda 20): at
distance 4 sigma (e0 ~ 2%) the same JTT keeps its accuracy.
"""

from __future__ import annotations

from collective_action.simulate import run


def _spec(separation: float, learner: dict) -> dict:
    return {
        "name": "jtt-collapse", "pillar": "simulate", "seeds": 3,
        "config": {
            "family": "gaussian", "collective": {"alpha": 0.01, "target": 1},
            "learner": learner, "n_train": 1000, "n_test": 2000,
            "gaussian": {"separation": separation, "tau": 1.0, "n_free": 1,
                         "signal": {"amplitude": 4.0}},
        },
        "grid": {"learner": [{"name": "logistic", "params": {"steps": 200}},
                             {"name": "jtt", "params": {"steps": 200, "stage1_steps": 50, "upweight": 20}}]},
    }


def test_jtt_collapses_at_large_base_error():
    df = run(_spec(2.0, {}), backend="numpy")
    erm, jtt = df[df.learner == "logistic"], df[df.learner == "jtt"]
    assert jtt.e0.between(0.10, 0.22).all()  # base error around 16%
    assert erm.clean_accuracy.mean() > 0.8
    assert jtt.clean_accuracy.mean() < 0.35  # collapsed to about the error rate


def test_jtt_keeps_accuracy_when_classes_are_well_separated():
    df = run(_spec(4.0, {}), backend="numpy")
    jtt = df[df.learner == "jtt"]
    assert jtt.e0.max() < 0.05
    assert jtt.clean_accuracy.mean() > 0.9
