"""theory.gaussian: the closed-form Bayes success against Monte Carlo, and Hardt's bound."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from collective_action.errors import InputError
from collective_action.theory import gaussian as G

ALPHAS = np.array([0.003, 0.02, 0.1, 0.3, 0.6])


def _problem(**kw):
    base = dict(n_classes=2, d_class=1, separation=1.5, sigma=1.0, n_free=2, tau=0.5)
    sig = dict(coords=(1,), pattern=[1.0], mode="additive", jitter=0.0, target=1, strategy="feature-label")
    for k in list(kw):
        if k in sig:
            sig[k] = kw.pop(k)
    base.update(kw)
    means = G.class_means(base["n_classes"], base["d_class"], base["separation"])
    return G.GaussianProblem(means, base["sigma"], base["n_free"], base["tau"], sig["coords"],
                             np.asarray(sig["pattern"]), target=sig["target"], mode=sig["mode"],
                             jitter=sig["jitter"], strategy=sig["strategy"])


def test_sympy_condition_is_the_solved_inequality():
    d = G.binary_free_condition()
    a, L, _ = d["symbols"]
    assert sp.simplify(d["r_star"] - (1 - a) * (1 - L) / (a * (1 + L))) == 0
    vn, tau, gap, sigma = d["subs"]
    assert sp.simplify(d["log_r"][0] - vn**2 / (2 * tau**2)) == 0
    assert sp.simplify(d["log_r"][1] - vn**2 / tau**2) == 0
    assert sp.simplify(d["log_L_target"][0] + d["log_L_other"][0]) == 0


@pytest.mark.parametrize("kw", [
    {},
    {"pattern": [0.6, 0.8], "coords": (1, 2), "target": 0, "separation": 2.5},
    {"mode": "overwrite", "jitter": 0.5},  # same law as additive on a free coordinate (jitter = tau)
    {"tau": 2.0, "pattern": [3.0], "d_class": 3, "coords": (3,)},
])
def test_closed_form_matches_monte_carlo_within_3_se(kw):
    problem = _problem(**kw)
    assert G.closed_form_applies(problem)
    exact = G.bayes_success_closed_form(problem, ALPHAS)
    mc, se = G.bayes_success_mc(problem, ALPHAS, n=200_000, seed=3)
    assert np.all(np.abs(exact - mc) <= 3 * se + 1e-12), (exact, mc, se)
    assert np.all(np.diff(exact) > 0)  # more collective, more success


def test_closed_form_catches_a_wrong_signal_strength():
    """The comparison can fail: a problem with another |v| is many SEs away."""
    exact = G.bayes_success_closed_form(_problem(pattern=[1.0]), ALPHAS[1:4])
    mc, se = G.bayes_success_mc(_problem(pattern=[1.3]), ALPHAS[1:4], n=200_000, seed=3)
    assert np.any(np.abs(exact - mc) > 3 * se)


def test_no_closed_form_outside_its_assumptions():
    for kw in ({"coords": (0,)}, {"mode": "overwrite", "jitter": 0.1}, {"strategy": "feature-only"},
               {"n_classes": 3, "d_class": 3}):
        problem = _problem(**kw)
        assert not G.closed_form_applies(problem)
        with pytest.raises(InputError):
            G.bayes_success_closed_form(problem, 0.1)
        s, se, method = G.bayes_success(problem, 0.1, n_mc=20_000)
        assert method == "monte-carlo" and 0 <= s <= 1 and se > 0


def test_singular_overwrite_succeeds_at_any_alpha():
    problem = _problem(mode="overwrite", jitter=0.0)
    assert G.bayes_success_closed_form(problem, 1e-4) == 1.0
    mc, _ = G.bayes_success_mc(problem, np.array([1e-4, 0.5]), n=5000)
    assert np.all(mc == 1.0)
    assert G.hardt_constants_gaussian(problem) == (0.0, 0.0)


def test_integrated_gap_matches_monte_carlo_and_bound_is_valid():
    from collective_action.theory import hardt_bound

    problem = _problem(separation=0.8)
    delta, xi = G.hardt_constants_gaussian(problem)
    # the K = 2 closed form of the integrated gap against its Monte Carlo definition
    x, _ = problem.sample_base(200_000, np.random.default_rng(1))
    logp = problem.log_base_joint(x)
    post = np.exp(logp - np.logaddexp(logp[:, :1], logp[:, 1:]))
    mc_gap = np.maximum(post[:, 0] - post[:, 1], 0).mean()
    assert abs(delta * xi - mc_gap) < 4 * np.maximum(post[:, 0] - post[:, 1], 0).std() / np.sqrt(len(x))
    exact = G.bayes_success_closed_form(problem, ALPHAS)
    assert np.all(hardt_bound(ALPHAS, delta, xi) <= exact + 1e-12)
    assert hardt_bound(0.6, delta, xi) > 0.5  # informative, not vacuous, at large alpha
