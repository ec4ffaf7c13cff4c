"""The weighted-risk lemma and alpha_eff: symbolic proofs and direct Bayes-classifier checks."""

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from collective_action import DiscreteProblem, InputError
from collective_action.theory import (
    alpha_eff,
    alpha_eff_chi2,
    alpha_eff_cvar,
    alpha_eff_jtt,
    alpha_eff_lff,
    jtt_crossover,
    jtt_gain,
    per_point_margin,
)
from collective_action.theory.bayes import TIE_TOL, bayes_classifier, success_of_classifier
from collective_action.theory.cvar_fixed_point import cvar_cell_weights
from collective_action.theory.effective_size import lemma_identity_residual, jtt_formula


def test_lemma_identity_is_proved_symbolically():
    assert lemma_identity_residual() == 0


def test_jtt_gain_factors_with_the_sign_of_e_star_minus_e0():
    a, lam, es, e0 = jtt_formula().symbols
    z = a * (1 + (lam - 1) * es) + (1 - a) * (1 + (lam - 1) * e0)
    assert sp.simplify(jtt_gain() * z - a * (1 - a) * (lam - 1) * (es - e0)) == 0


def _weighted_success_two_routes(problem, alpha, w):
    """Success of the Bayes classifier of w P directly, and via alpha_eff + per-point condition."""
    pstar = problem.pstar("feature-label")
    mixture = (1 - alpha) * problem.p0 + alpha * pstar
    direct_table = w * mixture / (w * mixture).sum()
    direct = success_of_classifier(problem, bayes_classifier(direct_table, problem.target))
    e_star, e_base = (w * pstar).sum(), (w * problem.p0).sum()
    a = alpha_eff(alpha, e_star, e_base)
    p0_w = w * problem.p0 / e_base
    pstar_w = (w * pstar)[:, problem.target] / e_star
    gap_w = np.delete(p0_w, problem.target, axis=1).max(axis=1) - p0_w[:, problem.target]
    margin = per_point_margin().numeric(a, pstar_w, gap_w)
    law = problem.signal_law
    predicted = float((law * ((margin > TIE_TOL) & (law > 0))).sum())
    return float(direct), predicted, a


def test_bayes_classifier_of_reweighted_mixture_matches_alpha_eff_prediction():
    rng = np.random.default_rng(0)
    differs = 0
    for _ in range(2000):
        problem = DiscreteProblem.random(rng, int(rng.integers(1, 7)), int(rng.integers(2, 5)))
        w = rng.gamma(0.5, size=problem.p0.shape) + 1e-3
        alpha = float(rng.uniform(0.01, 0.9))
        direct, predicted, a = _weighted_success_two_routes(problem, alpha, w)
        assert direct == pytest.approx(predicted, abs=1e-9)
        # alpha_eff really matters: plugging in the raw alpha would often predict wrongly.
        _, raw_prediction, _ = _weighted_success_two_routes(problem, alpha, np.ones_like(w))
        differs += abs(raw_prediction - direct) > 1e-9
    assert differs > 100


@settings(max_examples=300, deadline=None)
@given(alpha=st.floats(1e-4, 1 - 1e-4), lam=st.floats(1.0, 100.0),
       e_star=st.floats(0.0, 1.0), e_base=st.floats(0.0, 1.0))
def test_jtt_amplifies_exactly_when_collective_error_share_is_larger(alpha, lam, e_star, e_base):
    value = alpha_eff_jtt(alpha, lam, e_star, e_base)
    gain = value - alpha
    scale = alpha * (1 - alpha) * (lam - 1) * abs(e_star - e_base)
    if scale < 1e-9:  # no upweighting or equal shares: no change beyond rounding
        assert abs(gain) <= 1e-9
    elif e_star > e_base:
        assert gain > 0
    else:
        assert gain < 0
    assert 0 < value < 1


def test_jtt_numbers_and_limits():
    # Small collective that stage 1 misses entirely, base error share 10%, lambda = 20.
    assert alpha_eff_jtt(0.01, 20, 1.0, 0.1) == pytest.approx(0.01 * 20 / (0.01 * 20 + 0.99 * 2.9))
    assert alpha_eff_jtt(0.3, 1.0, 0.9, 0.1) == pytest.approx(0.3)
    with pytest.raises(InputError, match="upweight"):
        alpha_eff_jtt(0.1, 0.5, 0.2, 0.1)


def test_cvar_alpha_eff_matches_lemma_with_actual_cvar_weights():
    rng = np.random.default_rng(1)
    for _ in range(500):
        problem = DiscreteProblem.random(rng, 5, 3)
        alpha = float(rng.uniform(0.01, 0.5))
        beta = float(rng.uniform(0.05, 0.9))
        pstar = problem.pstar("feature-label")
        mixture = (1 - alpha) * problem.p0 + alpha * pstar
        labels = rng.integers(0, 3, size=5)  # any model: the weights are taken at that model
        w = cvar_cell_weights(mixture, labels, beta)
        assert (w * mixture).sum() == pytest.approx(1.0)  # E_P[w] = 1, the premise
        tail_share = float((beta * w * pstar).sum())  # share of P* mass inside the beta-tail
        lemma = alpha_eff(alpha, (w * pstar).sum(), (w * problem.p0).sum())
        assert alpha_eff_cvar(alpha, beta, min(tail_share, 1.0)) == pytest.approx(lemma, rel=1e-9)


def test_cvar_rejects_inconsistent_tail_shares():
    with pytest.raises(InputError, match="overfill"):
        alpha_eff_cvar(0.5, 0.1, 0.5)
    with pytest.raises(InputError, match="base points cannot fill"):
        alpha_eff_cvar(0.5, 0.9, 0.0)
    assert alpha_eff_cvar(0.01, 0.1, 1.0) == pytest.approx(0.1)


def test_chi2_and_lff_follow_the_lemma_and_chi2_is_scale_free():
    rng = np.random.default_rng(2)
    for _ in range(200):
        alpha = float(rng.uniform(0.01, 0.99))
        loss_star, loss_base = rng.exponential(size=50), rng.exponential(size=400)
        eta = float(np.quantile(np.concatenate([loss_star, loss_base]), 0.5))
        ex_s, ex_b = np.maximum(loss_star - eta, 0).mean(), np.maximum(loss_base - eta, 0).mean()
        if ex_s + ex_b == 0:
            continue
        expected = alpha * ex_s / (alpha * ex_s + (1 - alpha) * ex_b)
        assert alpha_eff_chi2(alpha, ex_s, ex_b) == pytest.approx(expected)
        assert alpha_eff_chi2(alpha, 7 * ex_s, 7 * ex_b) == pytest.approx(expected)
        ws, wb = rng.random(2)
        assert alpha_eff_lff(alpha, ws, wb) == pytest.approx(alpha_eff(alpha, ws, wb))
    with pytest.raises(InputError):
        alpha_eff_lff(0.1, 1.5, 0.2)


def test_alpha_eff_is_vectorised():
    alphas = np.array([0.01, 0.1, 0.5])
    out = alpha_eff_jtt(alphas, 10.0, np.array([0.9, 0.5, 0.1]), 0.2)
    assert out.shape == (3,)
    assert out[0] > alphas[0] and out[2] < alphas[2]


def test_jtt_crossover_locates_the_sign_change():
    alphas = np.array([0.01, 0.05, 0.1, 0.2, 0.4])
    e_star = np.array([0.95, 0.9, 0.5, 0.1, 0.02])
    e_base = np.full(5, 0.2)
    cross = jtt_crossover(alphas, e_star, e_base)
    assert 0.1 < cross < 0.2
    assert cross == pytest.approx(0.1 + 0.1 * 0.3 / 0.4)
    assert np.isnan(jtt_crossover(alphas, np.full(5, 0.9), e_base))


def test_group_weights_reduce_to_the_lemma_and_to_jtt():
    from collective_action.theory import alpha_eff_groups

    # Two "groups" = stage-1 error set (weight lambda) and the rest (weight 1): JTT.
    lam, e_star, e_base = 20.0, 0.8, 0.1
    got = alpha_eff_groups(0.05, [lam, 1.0], [e_star, 1 - e_star], [e_base, 1 - e_base])
    assert got == pytest.approx(alpha_eff_jtt(0.05, lam, e_star, e_base))
    # Direct check on a table: groups = labels, Bayes classifier of the reweighted mixture.
    rng = np.random.default_rng(3)
    for _ in range(300):
        problem = DiscreteProblem.random(rng, 4, 3)
        alpha = float(rng.uniform(0.01, 0.9))
        weights = rng.uniform(0.1, 5.0, size=3)
        pstar = problem.pstar("feature-label")
        w = np.broadcast_to(weights, problem.p0.shape)
        shares = [np.clip(t.sum(axis=0), 0, 1) for t in (pstar, problem.p0)]
        a = alpha_eff_groups(alpha, weights, *shares)
        direct, predicted, a_lemma = _weighted_success_two_routes(problem, alpha, w)
        assert a == pytest.approx(a_lemma)
        assert direct == pytest.approx(predicted, abs=1e-9)
    with pytest.raises(InputError, match="sum to 1"):
        alpha_eff_groups(0.1, [1, 2], [0.5, 0.6], [0.5, 0.5])
