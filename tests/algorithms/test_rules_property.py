"""Every rule of the registry gives the same weights on NumPy and on torch (float64, 1e-12), for
random losses and state drawn by hypothesis; CuPy in the gpu-marked test. Mathematical
properties of each rule are checked on the same draws."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from collective_action.algorithms import ALGORITHMS, Start, algorithms_for, get_algorithm

TOL = 1e-12

#: parameters of each entry's property run (the defaults where they exercise the rule)
PARAMS = {"erm": {}, "jtt": {"upweight": 7.0}, "cvar": {"beta": 0.3}, "chi2": {"rho": 0.7},
          "lff": {"q": 0.6, "ema": 0.5}, "group-dro": {"eta_q": 0.4}, "label-smoothing": {"smoothing": 0.1},
          "dp-sgd": {"noise_multiplier": 0.5}}


@st.composite
def problems(draw):
    """Losses (C, n) with ties now and then, labels, a stage-1 error set and group labels."""
    C = draw(st.integers(1, 3))
    n = draw(st.integers(1, 40))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    losses = rng.exponential(size=(C, n))
    if draw(st.booleans()):  # ties, as at a model's initialisation
        losses = np.round(losses, 1)
    labels = rng.integers(0, 3, size=(C, n))
    errors = rng.random((C, n)) < 0.3
    aux = rng.exponential(size=(C, n))
    return losses, labels, errors, aux


def _run(name, xp_from, losses, labels, errors, aux, steps=3):
    """The entry's rule for ``steps`` consecutive calls (state carried), weights and statistic as NumPy."""
    alg = get_algorithm(name, PARAMS[name])
    conv = xp_from
    state = alg.start(Start(labels=conv(labels), dtype=conv(losses).dtype, n_groups=3,
                            stage1_errors=conv(errors)))
    out = []
    for step in range(steps):
        scale = 1.0 + 0.5 * step
        given_losses = {m: conv(losses * scale if m == "main" else aux * scale) for m in alg.models}
        weights, stat = alg.weigh(state, given_losses)
        out.append(({m: np.asarray(_host(w)) for m, w in weights.items()},
                    None if stat is None else np.asarray(_host(stat)), np.asarray(_host(alg.normaliser(state)))))
    return out


def _host(a):
    if isinstance(a, torch.Tensor):
        return a.detach().cpu().numpy()
    if hasattr(a, "get"):
        return a.get()
    return a


def _assert_equal(a, b):
    for (wa, sa, na), (wb, sb, nb) in zip(a, b):
        for m in wa:
            np.testing.assert_allclose(wa[m], wb[m], rtol=0, atol=TOL)
        if sa is not None:
            np.testing.assert_allclose(sa, sb, rtol=0, atol=TOL)
        np.testing.assert_allclose(na, nb, rtol=0, atol=TOL)


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
@settings(max_examples=60, deadline=None)
@given(problem=problems())
def test_numpy_and_torch_give_the_same_weights(name, problem):
    def to_torch(a):
        return torch.as_tensor(np.asarray(a))

    _assert_equal(_run(name, np.asarray, *problem), _run(name, to_torch, *problem))


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
@settings(max_examples=40, deadline=None)
@given(problem=problems())
def test_weights_are_non_negative_finite_and_mean_one_where_the_rule_says(name, problem):
    losses = problem[0]
    for weights, _, _ in _run(name, np.asarray, *problem):
        w = weights["main"]
        assert w.shape == losses.shape and np.isfinite(w).all() and (w >= 0).all()
        if name in ("cvar", "chi2", "group-dro", "erm", "label-smoothing"):
            np.testing.assert_allclose(w.mean(axis=1), 1.0, rtol=1e-9)


@settings(max_examples=60, deadline=None)
@given(problem=problems())
def test_cvar_weights_do_not_depend_on_the_order_of_the_points(problem):
    losses = problem[0]
    alg = get_algorithm("cvar", {"beta": 0.3})
    perm = np.random.default_rng(0).permutation(losses.shape[1])
    w, _ = alg.weigh({}, {"main": losses})
    wp, _ = alg.weigh({}, {"main": losses[:, perm]})
    np.testing.assert_allclose(w["main"][:, perm], wp["main"], atol=TOL)
    # exactly beta * n units in the tail, the losses above the edge at full weight 1/beta
    np.testing.assert_allclose((w["main"] * 0.3).sum(axis=1), 0.3 * losses.shape[1], rtol=1e-12)


def test_the_comparison_can_fail():
    """Power: a rule with a different parameter on one side is caught."""
    problem = (np.random.default_rng(1).exponential(size=(2, 30)), np.zeros((2, 30), dtype=int),
               np.zeros((2, 30), dtype=bool), np.ones((2, 30)))
    a = _run("cvar", np.asarray, *problem)
    PARAMS["cvar"] = {"beta": 0.31}
    try:
        b = _run("cvar", lambda x: torch.as_tensor(np.asarray(x)), *problem)
    finally:
        PARAMS["cvar"] = {"beta": 0.3}
    with pytest.raises(AssertionError):
        _assert_equal(a, b)


@pytest.mark.gpu
@pytest.mark.parametrize("name", algorithms_for("simulate"))
def test_numpy_and_cupy_give_the_same_weights(name):
    import cupy as cp  # gpu-marked: tests/conftest.py skips it where CuPy sees no device

    rng = np.random.default_rng(3)
    problem = (rng.exponential(size=(3, 50)), rng.integers(0, 3, size=(3, 50)), rng.random((3, 50)) < 0.3,
               rng.exponential(size=(3, 50)))
    _assert_equal(_run(name, np.asarray, *problem), _run(name, cp.asarray, *problem))
