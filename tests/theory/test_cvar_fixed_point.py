"""CVaR-DRO with a Bayes learner: the gap between pure fixed points, and oscillation."""

import numpy as np
import pytest

from collective_action import InputError
from collective_action.theory import best_response_states, cvar_alpha_range, cvar_fixed_points, iterate_cvar_bayes
from collective_action.theory.cvar_fixed_point import (
    cvar_gap_proof,
    cvar_signal_point_states,
    cvar_state_sizes,
)


def test_gap_between_pure_states_is_proved_symbolically():
    proof = cvar_gap_proof()
    assert proof["holds"]
    sizes = cvar_state_sizes()
    assert str(sizes["unlearned_small"]) == "alpha/beta"
    assert str(sizes["unlearned_large"]) == "alpha/(alpha + r)"


def test_regimes_match_the_alpha_thresholds_and_the_gap_is_never_empty():
    rng = np.random.default_rng(0)
    for _ in range(400):
        beta = float(rng.uniform(0.05, 0.95))
        r = float(rng.uniform(0, beta * 0.99))
        a_c = float(rng.uniform(0.01, 0.99))
        alpha_u, alpha_l = cvar_alpha_range(beta, r, a_c)
        if alpha_u < 1 - r:  # inside the valid range the gap is never empty
            assert alpha_u < alpha_l
        alphas = np.linspace(1e-4, 1 - r - 1e-6, 400)
        fp = cvar_fixed_points(alphas, beta, r, a_c)
        assert not np.any(fp.unlearned_consistent & fp.learned_consistent)
        expected = np.where(alphas > alpha_l + 1e-12, "succeeds",
                            np.where(alphas <= alpha_u + 1e-12, "fails", "oscillates"))
        close = np.isclose(alphas, alpha_u, atol=1e-9) | np.isclose(alphas, alpha_l, atol=1e-9)
        assert np.all((fp.regime == expected) | close)


def test_best_response_oscillates_inside_the_gap_and_settles_outside():
    beta, r, a_c = 0.2, 0.05, 0.3
    alpha_u, alpha_l = cvar_alpha_range(beta, r, a_c)
    assert alpha_u == pytest.approx(0.06) and alpha_l == pytest.approx(a_c * beta * 0.95 / 0.15)
    inside = best_response_states((alpha_u + alpha_l) / 2, beta, r, a_c)
    assert inside[-4:] in (["U", "L", "U", "L"], ["L", "U", "L", "U"])
    assert set(best_response_states(alpha_u / 2, beta, r, a_c, start="learned")[1:]) == {"U"}
    assert set(best_response_states(min(alpha_l * 1.5, 0.9), beta, r, a_c)[1:]) == {"L"}


def _signal_point_problem(rng):
    """Deterministic base points, one 50/50 point (constant error mass), one signal point x'=3."""
    masses = rng.dirichlet(np.ones(4))
    p_t, p_r = rng.uniform(0, 0.5, size=2) * masses[3]
    p0 = np.array([[masses[0], 0.0], [0.0, masses[1]], [masses[2] / 2, masses[2] / 2],
                   [p_t, p_r]])
    p0[3] = [p_t, p_r]
    p0 /= p0.sum()
    return p0


def test_exact_signal_point_analysis_predicts_the_table_best_response():
    rng = np.random.default_rng(1)
    seen = set()
    for _ in range(1500):
        p0 = _signal_point_problem(rng)
        alpha = float(rng.uniform(0.005, 0.6))
        beta = float(rng.uniform(0.05, 0.9))
        pstar = np.zeros_like(p0)
        pstar[3, 0] = 1.0
        table = (1 - alpha) * p0 + alpha * pstar
        rest = table[2, 1]  # the 50/50 point always contributes half its mass as error
        base_labels = np.array([0, 1, 0, 0])
        u_ok, l_ok = cvar_signal_point_states(alpha, beta, p0[3, 0], p0[3, 1], rest)
        for start, ok in ((1, u_ok), (0, l_ok)):
            labels = base_labels.copy()
            labels[3] = start
            nxt = iterate_cvar_bayes(table, 0, beta, steps=1, start_labels=labels)[-1]
            stays = nxt[3] == start
            assert stays == bool(ok), (p0, alpha, beta, start)
        seen.add((bool(u_ok), bool(l_ok)))
    assert (False, False) in seen  # oscillation happens
    assert (True, False) in seen and (False, True) in seen


def test_table_iteration_shows_fail_oscillate_succeed_as_alpha_grows():
    p0 = np.array([[0.5, 0.0], [0.0, 0.44], [0.0, 0.06]])  # x'=2 carries only rival mass
    pstar = np.zeros_like(p0)
    pstar[2, 0] = 1.0
    regimes = []
    for alpha in (0.001, 0.05, 0.9):
        table = (1 - alpha) * p0 + alpha * pstar
        path = [int(labels[2] == 0) for labels in iterate_cvar_bayes(table, 0, 0.05, steps=8)]
        regimes.append("oscillates" if path[-1] != path[-2] else ("succeeds" if path[-1] else "fails"))
        u_ok, l_ok = cvar_signal_point_states(alpha, 0.05, 0.0, 0.06, 0.0)
        predicted = "succeeds" if l_ok and not u_ok else "fails" if u_ok and not l_ok else "oscillates"
        assert regimes[-1] == predicted or (u_ok and l_ok)
    assert regimes == ["fails", "oscillates", "succeeds"]


def test_inconsistent_inputs_are_rejected():
    with pytest.raises(InputError, match="must be below beta"):
        cvar_fixed_points(0.1, 0.2, 0.3, 0.5)
    with pytest.raises(InputError, match="start"):
        best_response_states(0.1, 0.2, 0.05, 0.3, start="maybe")
