"""The simulate pillar is written once against the array API: it runs unchanged on
``array_api_strict`` (the standard's reference implementation, which rejects every NumPy-only
idiom: fancy indexing with slices, assignment through integer arrays, implicit trailing axes)
and gives the same numbers as on NumPy.

This is what can be checked without a GPU. It shows that no NumPy-only call sits on the compute
path CuPy takes; it is not a measurement on CuPy (test_runner.py::test_numpy_and_cupy_agree,
marked gpu, is that).
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

array_api_strict = pytest.importorskip("array_api_strict")  # a dev dependency, pinned in CI

from collective_action.simulate.backend import Backend  # noqa: E402
from collective_action.simulate.logistic import fit_logistic  # noqa: E402
from collective_action.simulate.runner import run  # noqa: E402

STRICT = Backend("array-api-strict", array_api_strict, "cpu")
EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


def _data(C=24, n=60, d=3, K=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((C, n, d))
    y = np.argmax(X[..., :K] + 0.7 * rng.standard_normal((C, n, K)), axis=-1).astype(np.int64)
    return X, y


@pytest.mark.parametrize("solver, kwargs", [
    ("newton", dict(n_classes=2, steps=30, l2=1e-2)),                    # compaction + chunks
    ("gd", dict(n_classes=2, steps=40, l2=1e-3)),
    ("gd", dict(n_classes=3, steps=40, l2=1e-3)),                        # the general softmax path
    ("gd", dict(n_classes=2, steps=40, l2=1e-3, batch_size=16, seed=3)),  # minibatch SGD
])
def test_fit_logistic_is_the_same_on_the_strict_array_api(solver, kwargs):
    X, y = _data(K=kwargs["n_classes"])
    budget = 20_000  # small: several chunks
    ref = fit_logistic(X, y, backend="numpy", solver=solver, memory_budget=budget, **kwargs)
    got = fit_logistic(X, y, backend=STRICT, solver=solver, memory_budget=budget, **kwargs)
    np.testing.assert_allclose(np.asarray(got.W), ref.W, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got.final_loss, ref.final_loss, rtol=1e-12)
    np.testing.assert_array_equal(got.steps_run, ref.steps_run)
    if solver == "newton":   # configurations converged at different steps: compaction really ran
        assert len(set(ref.steps_run.tolist())) > 1
    np.testing.assert_array_equal(got.accuracy(X, y), ref.accuracy(X, y))
    np.testing.assert_array_equal(got.label_rate(X, 1), ref.label_rate(X, 1))


@pytest.mark.parametrize("name", ["c1_simulate_gaussian", "c2_simulate_dro", "c4_simulate_simplicity"])
def test_quick_experiments_give_the_same_rows_on_the_strict_array_api(name):
    """Every learner of families 2 and 3 (Bayes, LDA, logistic GD, JTT, CVaR, chi2, LfF, group
    DRO, max-margin) trained for real on both namespaces; every numeric column agrees."""
    ref = run(EXPERIMENTS / f"{name}.yaml", quick=True, backend="numpy")
    got = run(EXPERIMENTS / f"{name}.yaml", quick=True, backend=STRICT)
    assert len(got) == len(ref) > 0
    assert set(got["backend"]) == {"array-api-strict"}
    numeric = [c for c in ref.columns if pd.api.types.is_numeric_dtype(ref[c]) and c != "wall_s"]
    assert {"success", "clean_accuracy"} <= set(numeric)
    for column in numeric:
        np.testing.assert_allclose(got[column].to_numpy(float), ref[column].to_numpy(float),
                                   rtol=1e-9, atol=1e-12, equal_nan=True, err_msg=column)


def _namespace(name):
    if name == "strict":
        return STRICT
    torch = pytest.importorskip("torch")
    from array_api_compat import array_namespace

    return Backend("torch", array_namespace(torch.empty(0)), "cpu")   # through array-api-compat, as CuPy is


@pytest.mark.parametrize("namespace", ["strict", "torch"])
@pytest.mark.parametrize("name", ["lda", "erm", "max-margin", "jtt", "cvar", "chi2", "lff", "group-dro"])
def test_every_learner_is_the_same_on_other_array_namespaces(name, namespace):
    """Each trained learner (the Bayes oracle evaluates densities on the host), three classes (so
    group DRO has three groups), on a second namespace."""
    from collective_action.simulate.backend import get_backend
    from collective_action.simulate.gaussian import make_problem, sample_batch
    from collective_action.simulate.learners import LEARNERS

    problem = make_problem(n_classes=3, d_class=3, separation=4.0, sigma=1.0, n_free=2, tau=1.0,
                           placement="free", n_coords=1, amplitude=4.0, mode="additive", jitter=0.0,
                           target=1, strategy="feature-label")
    batch = sample_batch(problem, [0.01, 0.2], [0, 1], 200, 200)
    cls = LEARNERS[name]
    params = [cls.Params(steps=30) if "steps" in cls.Params.model_fields else cls.Params()] * 2
    ref, other = cls().fit(batch, params, get_backend("numpy")), cls().fit(batch, params, _namespace(namespace))
    # torch sums in another order: allow a rare flip of a point on the decision boundary
    assert (ref.pred_signal == other.pred_signal).mean() > 0.99
    assert (ref.pred_clean == other.pred_clean).mean() > 0.99
    if namespace == "strict":   # same NumPy kernels underneath: identical predictions
        np.testing.assert_array_equal(ref.pred_signal, other.pred_signal)
        np.testing.assert_array_equal(ref.pred_clean, other.pred_clean)
    if ref.weights is not None:
        np.testing.assert_allclose(ref.weights, other.weights, atol=1e-8)


@pytest.mark.gpu
@pytest.mark.parametrize("name", ["c1_simulate_gaussian", "c2_simulate_dro", "c4_simulate_simplicity"])
def test_quick_experiments_agree_on_cupy(name):
    """On a GPU: the same quick files on CuPy. Reductions run in another order there, so a test
    point on a decision boundary may flip: rates agree within 2e-3, not bit for bit."""
    ref = run(EXPERIMENTS / f"{name}.yaml", quick=True, backend="numpy")
    got = run(EXPERIMENTS / f"{name}.yaml", quick=True, backend="cupy")
    assert set(got["backend"]) == {"cupy"} and len(got) == len(ref)
    for column in ("success", "clean_accuracy", "alpha_eff_measured", "worst_group_accuracy"):
        if column in ref and ref[column].notna().any():
            np.testing.assert_allclose(got[column].to_numpy(float), ref[column].to_numpy(float),
                                       atol=2e-3, equal_nan=True, err_msg=column)
