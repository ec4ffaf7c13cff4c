"""The fused Newton kernel (simulate/fused_newton.py) against the array-API Newton solver.

Both minimise the same objective with the same stopping rule; they sum in different orders, so
they must agree to rounding on every output, including where the array solver's safeguards act
(capped steps, exp overflow on separable data, zero weights, no intercept, float32).
"""

from __future__ import annotations

import numpy as np
import pytest

from collective_action.errors import InputError
from collective_action.simulate.fused_newton import FUSED_MAX_PARAMS, sigmoid_of_minus
from collective_action.simulate.logistic import fit_logistic


def _problem(C=12, n=90, d=4, seed=0, noise=None):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(C, n, d))
    noise = np.linspace(0.1, 2.0, C)[:, None] if noise is None else noise
    y = (X[:, :, 0] - 0.5 * X[:, :, -1] + noise * rng.normal(size=(C, n)) > 0).astype(np.int64)
    return X, y


def _both(X, y, **kw):
    args = dict(n_classes=2, solver="newton", l2=0.02, steps=30, tol=1e-9)
    args.update(kw)
    return (fit_logistic(X, y, newton_kernel="array", **args),
            fit_logistic(X, y, newton_kernel="fused", **args))


def _assert_agree(a, f, atol=1e-10):
    np.testing.assert_allclose(f.W, a.W, rtol=0, atol=atol)
    np.testing.assert_allclose(f.b, a.b, rtol=0, atol=atol)
    np.testing.assert_allclose(f.final_loss, a.final_loss, rtol=1e-9, atol=0)
    np.testing.assert_allclose(f.grad_norm, a.grad_norm, rtol=0, atol=1e-9)
    assert np.array_equal(f.steps_run, a.steps_run)
    assert np.array_equal(f.converged, a.converged)
    assert f.config == a.config


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_fused_kernel_agrees_with_the_array_kernel(fit_intercept, weighted):
    X, y = _problem()
    sw = None
    if weighted:   # uneven weights, some points switched off entirely
        sw = np.random.default_rng(1).uniform(0.0, 3.0, size=y.shape)
        sw[:, ::7] = 0.0
    a, f = _both(X, y, fit_intercept=fit_intercept, sample_weight=sw)
    assert len(set(a.steps_run.tolist())) > 1           # configurations converge at different steps
    _assert_agree(a, f)


def test_capped_steps_and_separable_data_agree():
    X, y = _problem(C=6, noise=np.zeros((6, 1)))       # separable: margins grow, exp overflows
    a, f = _both(X, y, l2=1e-6, steps=40, tol=1e-14)
    assert not a.converged.all() or (a.steps_run > 10).any()
    _assert_agree(a, f, atol=1e-6 * max(1.0, float(np.abs(a.W).max())))
    a, f = _both(*_problem(C=5), steps=2)                # the cap binds: two updates each
    assert (a.steps_run == 2).all()
    _assert_agree(a, f)
    a, f = _both(*_problem(C=3), steps=0)                # no update at all: the objective at zero
    assert (f.steps_run == 0).all() and np.all(f.W == 0)
    _assert_agree(a, f)


def test_many_parameters_and_float32():
    X, y = _problem(C=4, n=200, d=FUSED_MAX_PARAMS - 1)
    _assert_agree(*_both(X, y))
    X, y = _problem(C=4, n=150)
    a, f = _both(X, y, dtype="float32", tol=1e-4)
    assert f.W.dtype == np.float32
    np.testing.assert_allclose(f.W, a.W, rtol=0, atol=1e-4)
    assert np.abs(f.steps_run - a.steps_run).max() <= 1   # float32 rounding near tol may cost a step


def test_threads_change_no_number_and_auto_picks_the_fused_kernel():
    X, y = _problem(C=9)
    kw = dict(n_classes=2, solver="newton", l2=0.02, steps=30, tol=1e-9)
    one = fit_logistic(X, y, newton_kernel="fused", **kw)
    for threads in (2, 3):
        many = fit_logistic(X, y, newton_kernel="fused", threads=threads, **kw)
        for key in ("W", "b", "final_loss", "grad_norm", "steps_run"):
            assert np.array_equal(getattr(one, key), getattr(many, key)), key
    auto = fit_logistic(X, y, **kw)
    assert np.array_equal(auto.W, one.W)
    # above the fused kernel's parameter count, 'auto' takes the array kernel
    Xw, yw = _problem(C=2, n=60, d=FUSED_MAX_PARAMS)
    wide = fit_logistic(Xw, yw, **kw)
    assert np.array_equal(wide.W, fit_logistic(Xw, yw, newton_kernel="array", **kw).W)


@pytest.mark.parametrize("kwargs, message", [
    (dict(newton_kernel="numba"), "unknown newton_kernel 'numba'"),
    (dict(newton_kernel="fused", d=FUSED_MAX_PARAMS), f"at most {FUSED_MAX_PARAMS} parameters"),
])
def test_bad_kernel_choices_are_one_line_errors(kwargs, message):
    d = kwargs.pop("d", 3)
    X, y = _problem(C=2, n=30, d=d)
    with pytest.raises(InputError, match=message) as err:
        fit_logistic(X, y, n_classes=2, solver="newton", l2=0.1, steps=5, **kwargs)
    assert "\n" not in str(err.value)


def test_predictions_and_success_are_the_same_under_both_kernels():
    # scoring (what every learner of the simulator reports) sees no difference on any point
    X, y = _problem(C=8, n=120)
    a, f = _both(X, y)
    Z = np.random.default_rng(5).normal(size=(8, 500, 4))
    assert np.array_equal(a.predict(Z), f.predict(Z))
    np.testing.assert_allclose(a.label_rate(Z, 1), f.label_rate(Z, 1), rtol=0, atol=0)


def test_the_kernels_exp_matches_the_library_over_the_whole_range():
    # sigmoid(-m) through the kernel's range-reduced exp, against the overflow-free form computed
    # with the library's exp, from margins that underflow to ones that overflow exp
    m = np.concatenate([np.linspace(-800.0, 800.0, 400_001), [0.0, -0.0, 1e-300, -1e-300, 708.0, 709.5]])
    ours = sigmoid_of_minus(m)
    e = np.exp(-np.abs(m))
    ref = np.where(m >= 0, e, 1.0) / (1.0 + e)
    normal = ref > 1e-300
    assert np.max(np.abs(ours[normal] - ref[normal]) / ref[normal]) < 2e-15
    assert np.all(ours[~normal] < 1e-300) and np.all(ours >= 0) and np.all(ours <= 1)
    assert ours[m == 0][0] == 0.5


def _fit_in_forked_child(queue, X, y, ref):
    fit = fit_logistic(X, y, n_classes=2, solver="newton", l2=0.02, threads=2)
    queue.put(float(np.abs(fit.W - ref).max()))


def test_a_threaded_fit_leaves_the_process_safe_to_fork():
    # process pools fork; a threading runtime started by a fit must not make the children abort
    import multiprocessing

    import os

    import numba

    X, y = _problem(C=8)
    ref = fit_logistic(X, y, n_classes=2, solver="newton", l2=0.02, threads=2).W
    if "NUMBA_THREADING_LAYER" not in os.environ:
        assert numba.threading_layer() == "workqueue"   # not OpenMP, whose fork() aborts the child
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_fit_in_forked_child, args=(queue, X, y, ref))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    assert queue.get(timeout=5) == 0.0


def test_without_numba_auto_runs_the_array_kernel_and_fused_says_why(monkeypatch):
    # a machine without numba (the lent GPU machine's image) still fits, with the array kernel
    from collective_action.simulate import fused_newton

    X, y = _problem(C=4)
    kw = dict(n_classes=2, solver="newton", l2=0.02, steps=30, tol=1e-9)
    array = fit_logistic(X, y, newton_kernel="array", **kw)
    monkeypatch.setattr(fused_newton, "fused_available", lambda: False)
    auto = fit_logistic(X, y, **kw)
    assert np.array_equal(auto.W, array.W) and np.array_equal(auto.steps_run, array.steps_run)
    with pytest.raises(InputError, match="needs numba") as err:
        fit_logistic(X, y, newton_kernel="fused", **kw)
    assert "\n" not in str(err.value)
