"""theory.several's corrupted-signal noise: the law, its margin, exact success and the three bounds."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from collective_action import several as vocabulary
from collective_action.theory import several as sev


def _random_problem(rng, kinds=None) -> sev.SeveralProblem:
    """2-3 collectives on 3-6 points: same signal, disjoint or random signals, noise of ``kinds``."""
    return sev.SeveralProblem.random(rng, kinds)


def _with_kind(problem: sev.SeveralProblem, k: int, kind: str) -> sev.SeveralProblem:
    cols = list(problem.collectives)
    c = cols[k]
    cols[k] = sev.Collective(c.alpha, c.g, c.target, c.noise, kind)
    return sev.SeveralProblem(problem.p0, tuple(cols))


def test_the_kinds_are_the_vocabularys():
    assert list(sev.NOISE_KINDS) == list(vocabulary.NOISE_KINDS)


def test_corrupted_law_is_the_member_level_description():
    """N by enumerating members: x ~ P0, every point but g(x) with probability 1/(|X| - 1), label y*."""
    rng = np.random.default_rng(0)
    for _ in range(200):
        X, Y = int(rng.integers(2, 8)), int(rng.integers(2, 5))
        p0 = rng.dirichlet(np.ones(X * Y)).reshape(X, Y)
        g = rng.integers(0, X, size=X)
        target = int(rng.integers(0, Y))
        by_members = np.zeros((X, Y))
        for x in range(X):
            for y in range(Y):
                for other in range(X):
                    if other != g[x]:
                        by_members[other, target] += p0[x, y] / (X - 1)
        law = sev.NOISE_KINDS["corrupted-signal"](p0, g, target)
        np.testing.assert_allclose(law, by_members, atol=1e-15)
        assert law.sum() == pytest.approx(1.0)
        # the closed form of the derivation, at every point
        f = sev.corrupted_signal_formula()
        signal_law = np.bincount(g, weights=p0.sum(axis=1), minlength=X)
        np.testing.assert_allclose(law[:, target], f.numeric(signal_law, X), atol=1e-15)


def test_corrupted_margin_is_the_random_label_margin_plus_a_gain():
    f, m = sev.corrupted_margin_formula(), sev.margin_formula()
    ak, eta, a_o, pk, p0t, p0r, ot, or_, n = f.symbols
    gain = sp.simplify(f.expr - m.expr.subs({m.symbols[6]: m.symbols[7]}))  # random-label: n_t = n_r
    assert sp.simplify(gain - ak * eta * (1 - pk) / (n - 1)) == 0
    # a numeric check of the same statement against the table-level margin
    rng = np.random.default_rng(1)
    for _ in range(200):
        v = rng.uniform(0.0, 0.3, size=5)  # p_k, p0_t, p0_r, O_t, O_r
        a, e, o = rng.uniform(0.01, 0.4), rng.uniform(0, 0.9), rng.uniform(0, 0.4)
        nt = (1 - v[0]) / 4
        assert f.numeric(a, e, o, *v, 5) == pytest.approx(m.numeric(a, e, o, v[0], v[1], v[2], nt, 0.0, v[3], v[4]))


def test_exact_success_from_the_margin_and_bounds_hold_with_corrupted_deviators():
    rng = np.random.default_rng(2)
    informative = 0
    for _ in range(1000):
        p = _random_problem(rng, kinds=["corrupted-signal"])
        s = sev.success(p)
        np.testing.assert_allclose(sev.success_per_point(p), s, atol=1e-12)
        b = sev.bounds(p)
        for key in ("base", "integrated", "shares"):
            assert np.all(b[key] <= s + 1e-9), (key, b[key], s)
        assert np.all(b["integrated"] >= b["shares"] - 1e-9)
        informative += int((b["shares"] > 0).sum())
    assert informative > 100


def test_the_shares_bound_needs_the_others_corrupted_mass():
    """Without the others' corrupted-signal mass in R the shares bound fails on some problems: the term
    is needed, and the check above could catch its absence."""
    rng = np.random.default_rng(3)
    f = sev.shares_bound_formula()
    broken = 0
    for _ in range(3000):
        p = _random_problem(rng, kinds=["corrupted-signal"])
        s, b = sev.success(p), sev.bounds(p)
        for k, c in enumerate(p.collectives):
            in_signal = np.zeros(p.n_points, dtype=bool)
            in_signal[np.unique(c.g)] = True
            followers_only = sum(d.effective * float(p.p0.sum(axis=1)[in_signal[d.g]].sum())
                                 for j, d in enumerate(p.collectives) if j != k and d.target != c.target)
            wrong = f.numeric(c.alpha, c.noise, b["c0"][k], b["delta0"][k], b["xi0"][k], followers_only)
            broken += int(wrong > s[k] + 1e-9)
    assert broken > 0


def test_corrupted_deviators_cost_their_own_collective_no_more_than_random_label_ones():
    """Pointwise the corrupted margin exceeds the random-label one (derived above): the same problem
    with one collective's deviators switched from random-label to corrupted-signal never lowers that
    collective's exact success (exact target-target ties aside: none on continuous random problems)."""
    rng = np.random.default_rng(4)
    higher = 0
    for _ in range(1000):
        p = _random_problem(rng, kinds=["random-label"])
        k = int(rng.integers(0, len(p.collectives)))
        random_label = sev.success(p)[k]
        corrupted = sev.success(_with_kind(p, k, "corrupted-signal"))[k]
        assert corrupted >= random_label - 1e-12
        higher += int(corrupted > random_label + 1e-12)
    assert higher > 10  # and it does help, on some problems


def test_corrupted_deviators_can_hurt_another_collective():
    """Two disjoint collectives: collective 1's corrupted deviators plant its target on collective 0's
    signal point and take it; as random-label deviators they do not."""
    p0 = np.array([[0.02, 0.01, 0.0], [0.3, 0.2, 0.07], [0.2, 0.1, 0.1]])
    g0, g1 = np.zeros(3, dtype=int), np.full(3, 2)
    quiet = sev.SeveralProblem(p0, (sev.Collective(0.05, g0, 1), sev.Collective(0.3, g1, 2, 0.9, "random-label")))
    loud = _with_kind(quiet, 1, "corrupted-signal")
    assert sev.success(quiet)[0] == 1.0
    assert sev.success(loud)[0] == 0.0
    assert sev.success(loud)[1] >= sev.success(quiet)[1]


def test_corrupted_signal_needs_two_points():
    with pytest.raises(Exception, match="at least 2 points"):
        sev.NOISE_KINDS["corrupted-signal"](np.array([[0.5, 0.5]]), np.array([0]), 0)
