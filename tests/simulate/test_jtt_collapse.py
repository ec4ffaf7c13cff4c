"""A documented finding: JTT presumes a low-error first stage, and theory says where it breaks.

With two classes at distance 2 sigma the stage-1 (and Bayes) error is about 16%. The error set is
the data on the "wrong" side of the boundary; upweighting it by lambda pulls the weighted
logistic optimum towards the flipped classifier. theory.gaussian.jtt_collapse_upweight derives
the exact population threshold lambda_c = E[z; z > 0] / E[-z; z < 0] (z the stage-1 margin):
13.0 at distance 2 sigma, 52 at 3 sigma, 237 at 4 sigma. Above it, clean accuracy collapses to
about e0 (the spec's prototype: e0 = 16%, lambda = 20 -> 16% accuracy); below it, JTT keeps its
accuracy. So "a few percent" stage-1 error is what makes lambda = 20 safe.
"""

from __future__ import annotations

import numpy as np
import pytest

from collective_action.simulate import run
from collective_action.theory import jtt_collapse_upweight


def _spec(separation: float, upweights: list[float]) -> dict:
    jtt = [{"name": "jtt", "params": {"steps": 200, "T": 50, "upweight": float(u)}} for u in upweights]
    return {
        "name": "jtt-collapse", "pillar": "simulate", "seeds": 3,
        "config": {
            "family": "gaussian", "collective": {"alpha": 0.01, "target": 1},
            "n_train": 1000, "n_test": 2000,
            "gaussian": {"separation": separation, "tau": 1.0, "n_free": 1, "signal": {"amplitude": 4.0}},
        },
        "grid": {"learner": [{"name": "erm", "params": {"steps": 200}}] + jtt},
    }


def test_jtt_collapses_at_large_base_error_with_lambda_20():
    df = run(_spec(2.0, [20]), backend="numpy")
    erm, jtt = df[df.learner == "erm"], df[df.learner == "jtt"]
    assert jtt.e0.between(0.10, 0.22).all()  # base error around 16%
    assert erm.clean_accuracy.mean() > 0.8
    assert jtt.clean_accuracy.mean() < 0.25  # collapsed to about the error rate
    assert abs(jtt.clean_accuracy.mean() - jtt.e0.mean()) < 0.05


@pytest.mark.parametrize("separation", [2.0, 3.0])
def test_collapse_threshold_matches_theory(separation):
    lam_c = jtt_collapse_upweight(separation)
    df = run(_spec(separation, [0.6 * lam_c, 1.6 * lam_c]), backend="numpy")
    jtt = df[df.learner == "jtt"]
    lam = jtt.series.str.extract(r"upweight=([0-9.]+)")[0].astype(float)
    below, above = jtt[lam < lam_c], jtt[lam > lam_c]
    e0 = jtt.e0.mean()
    # below lambda_c the classifier keeps its orientation (accuracy well above 1/2; finite samples
    # and 200 GD steps erode it somewhat as lambda nears lambda_c), above it flips to about e0
    assert below.clean_accuracy.min() > 0.75
    assert above.clean_accuracy.max() < 2.5 * e0


def test_jtt_keeps_accuracy_when_classes_are_well_separated():
    df = run(_spec(4.0, [20]), backend="numpy")
    jtt = df[df.learner == "jtt"]
    assert jtt.e0.max() < 0.05
    assert jtt.clean_accuracy.mean() > 0.9
    assert 20 < jtt_collapse_upweight(4.0) / 10


def test_collapse_threshold_formula_against_quadrature():
    from scipy import integrate, stats

    for sep in (1.0, 2.0, 3.5):
        mu = sep / 2
        pos = integrate.quad(lambda z: z * stats.norm.pdf(z - mu), 0, np.inf)[0]
        neg = integrate.quad(lambda z: -z * stats.norm.pdf(z - mu), -np.inf, 0)[0]
        assert jtt_collapse_upweight(sep) == pytest.approx(pos / neg, rel=1e-8)
