"""Batched logistic regression: correctness against scikit-learn, batching, SGD, weights, chunking."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from collective_action.errors import InputError
from collective_action.simulate.backend import get_backend
from collective_action.simulate.logistic import chunked, fit_logistic, logistic_working_set_bytes


def _blobs(C=3, n=80, d=4, K=3, seed=0, shift=0.8):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, K, size=(C, n))
    centers = rng.normal(size=(K, d)) * shift
    X = rng.normal(size=(C, n, d)) + centers[y]
    return X, y


def _sklearn_proba(X, y, C_reg, fit_intercept=True, sample_weight=None):
    model = LogisticRegression(C=C_reg, tol=1e-10, max_iter=10_000, fit_intercept=fit_intercept)
    model.fit(X, y, sample_weight=sample_weight)
    return model.predict_proba(X)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_matches_sklearn_multinomial(fit_intercept):
    X, y = _blobs(K=3)
    l2 = 0.05
    fit = fit_logistic(X, y, n_classes=3, l2=l2, steps=4000, lr=1.0, tol=1e-9,
                       fit_intercept=fit_intercept, backend="numpy")
    assert fit.converged.all()
    ours = fit.predict_proba(X)
    n = X.shape[1]
    for c in range(X.shape[0]):
        ref = _sklearn_proba(X[c], y[c], 1.0 / (l2 * n), fit_intercept)
        assert np.abs(ours[c] - ref).max() < 1e-3
    if not fit_intercept:
        assert np.all(fit.b == 0)


def test_matches_sklearn_binary_and_weighted():
    # binary: the softmax pair (w0, w1) with penalty l2/2 (|w0|^2+|w1|^2) is optimal at w0 = -w1,
    # i.e. the binary model w = w1 - w0 with penalty (l2/4)|w|^2 -> sklearn C = 2 / (l2 sum w).
    X, y = _blobs(K=2, seed=3)
    rng = np.random.default_rng(1)
    sw = rng.uniform(0.2, 3.0, size=y.shape)
    l2 = 0.02
    fit = fit_logistic(X, y, n_classes=2, sample_weight=sw, l2=l2, steps=6000, lr=1.0, tol=1e-9,
                       backend="numpy")
    assert fit.converged.all()
    ours = fit.predict_proba(X)
    for c in range(X.shape[0]):
        ref = _sklearn_proba(X[c], y[c], 2.0 / (l2 * sw[c].sum()), sample_weight=sw[c])
        assert np.abs(ours[c] - ref).max() < 1e-3


@pytest.mark.parametrize("batch_size", [None, 16])
def test_batched_equals_per_configuration(batch_size):
    X, y = _blobs(C=5, K=3, seed=2)
    kw = dict(n_classes=3, steps=300, lr=0.5, l2=0.01, batch_size=batch_size, seed=7, backend="numpy",
              tol=1e-4)
    batched = fit_logistic(X, y, **kw)
    for c in range(X.shape[0]):
        single = fit_logistic(X[c:c + 1], y[c:c + 1], **kw)
        np.testing.assert_allclose(batched.W[c], single.W[0], rtol=0, atol=1e-12)
        np.testing.assert_allclose(batched.b[c], single.b[0], rtol=0, atol=1e-12)
        assert batched.steps_run[c] == single.steps_run[0]


def test_convergence_freezes_each_configuration_separately():
    # an easy and a hard problem in one batch: the easy one stops early, the hard one goes on
    X, y = _blobs(C=2, K=2, seed=4)
    X[0] *= 0.05
    fit = fit_logistic(X, y, n_classes=2, steps=2000, l2=0.5, lr=0.5, tol=1e-6, backend="numpy")
    assert fit.converged.all()
    assert fit.steps_run[0] != fit.steps_run[1]
    assert fit.steps_run.max() < 2000


def test_sgd_deterministic_given_seed_and_seed_matters():
    X, y = _blobs(C=2, K=3, seed=5)
    kw = dict(n_classes=3, steps=200, lr=0.3, batch_size=10, backend="numpy")
    a = fit_logistic(X, y, seed=1, **kw)
    b = fit_logistic(X, y, seed=1, **kw)
    c = fit_logistic(X, y, seed=2, **kw)
    assert np.array_equal(a.W, b.W) and np.array_equal(a.b, b.b)
    assert not np.allclose(a.W, c.W)
    # and SGD really learns: within a few points of full-batch GD's training accuracy
    gd = fit_logistic(X, y, n_classes=3, steps=200, lr=0.3, backend="numpy")
    assert np.all(a.accuracy(X, y) > gd.accuracy(X, y) - 0.1)


def test_duplicating_a_point_equals_weight_two():
    X, y = _blobs(C=2, n=30, K=3, seed=6)
    dup_X = np.concatenate([X, X[:, :1]], axis=1)
    dup_y = np.concatenate([y, y[:, :1]], axis=1)
    w = np.ones(y.shape)
    w[:, 0] = 2.0
    kw = dict(n_classes=3, steps=500, lr=0.5, l2=0.01, backend="numpy")
    weighted = fit_logistic(X, y, sample_weight=w, **kw)
    duplicated = fit_logistic(dup_X, dup_y, **kw)
    np.testing.assert_allclose(weighted.W, duplicated.W, atol=1e-10)
    np.testing.assert_allclose(weighted.final_loss, duplicated.final_loss, atol=1e-12)
    # and the weight matters: unit weights give a different model
    plain = fit_logistic(X, y, **kw)
    assert np.abs(plain.W - weighted.W).max() > 1e-4


def test_chunking_covers_the_grid_and_gives_the_same_fit():
    slices = chunked(10, bytes_per_config=100, memory_budget=350)
    assert [(s.start, s.stop) for s in slices] == [(0, 3), (3, 6), (6, 9), (9, 10)]
    assert chunked(2, bytes_per_config=1000, memory_budget=10) == [slice(0, 1), slice(1, 2)]
    X, y = _blobs(C=7, K=3, seed=8)
    per = logistic_working_set_bytes(X.shape[1], X.shape[2], 3)
    kw = dict(n_classes=3, steps=100, backend="numpy", record_every=10)
    whole = fit_logistic(X, y, **kw)
    pieces = fit_logistic(X, y, memory_budget=2 * per, **kw)
    np.testing.assert_array_equal(whole.W, pieces.W)
    np.testing.assert_array_equal(whole.loss_trace, pieces.loss_trace)


def test_loss_trace_decreases_and_matches_final_loss():
    X, y = _blobs(C=3, K=3, seed=9)
    fit = fit_logistic(X, y, n_classes=3, steps=200, lr=0.5, record_every=20, tol=0.0, backend="numpy")
    assert fit.loss_trace.shape == (3, 10)
    assert np.all(np.diff(fit.loss_trace, axis=1) < 0)
    assert np.allclose(fit.loss_trace[:, 0], np.log(3))  # zero parameters: uniform prediction
    assert np.all(fit.final_loss < fit.loss_trace[:, -1])


def test_stable_with_huge_features_and_float32():
    X, y = _blobs(C=2, K=2, seed=10)
    # margins of 1e3 and more: exp overflows to inf inside the residual, which must give exactly
    # 0 (no warning, no NaN) for GD and for Newton
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = fit_logistic(X * 1e3, y, n_classes=2, steps=50, backend="numpy")
        newton = fit_logistic(X * 1e3, y, n_classes=2, steps=50, l2=1e-6, solver="newton", backend="numpy")
    assert np.all(np.isfinite(fit.final_loss)) and np.all(np.isfinite(fit.W))
    assert np.all(np.isfinite(newton.final_loss)) and np.all(np.isfinite(newton.W))
    assert np.all(newton.grad_norm < 1e-5)
    f32 = fit_logistic(X, y, n_classes=2, steps=100, dtype="float32", backend="numpy")
    f64 = fit_logistic(X, y, n_classes=2, steps=100, backend="numpy")
    assert f32.W.dtype == np.float32
    np.testing.assert_allclose(f32.W, f64.W, atol=1e-4)


def test_two_class_predict_equals_argmax_of_logits():
    X, y = _blobs(C=3, K=2, seed=13)
    fit = fit_logistic(X, y, n_classes=2, steps=30, backend="numpy")
    np.testing.assert_array_equal(fit.predict(X), np.argmax(fit.decision_function(X), axis=-1))
    np.testing.assert_allclose(fit.predict_proba(X).sum(axis=-1), 1.0)


def test_predictions_for_shared_test_points():
    X, y = _blobs(C=3, K=3, seed=11)
    fit = fit_logistic(X, y, n_classes=3, steps=100, backend="numpy")
    shared = fit.predict(X[0])
    assert shared.shape == (3, X.shape[1])
    np.testing.assert_array_equal(shared[1], fit.predict(X[[0, 0, 0]])[1])
    assert fit.accuracy(X[0], y[0]).shape == (3,)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_classes=2), "labels y"),
        (dict(n_classes=3, sample_weight=-np.ones((2, 20))), "sample_weight"),
        (dict(n_classes=3, sample_weight=np.zeros((2, 20))), "positive total"),
        (dict(n_classes=3, lr=0.0), "lr"),
        (dict(n_classes=3, batch_size=0), "batch_size"),
        (dict(n_classes=3, dtype="float16"), "dtype"),
        (dict(n_classes=3, backend="tpu"), "backend"),
    ],
)
def test_bad_input_is_one_line_input_error(kwargs, match):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2, 20, 3))
    y = np.tile(np.arange(20) % 3, (2, 1))
    with pytest.raises(InputError, match=match) as err:
        fit_logistic(X, y, **kwargs)
    assert "\n" not in str(err.value)
    with pytest.raises(InputError, match="shape"):
        fit_logistic(X[0], y, n_classes=3)
    # nested lists are accepted like arrays
    listed = fit_logistic(X.tolist(), y.tolist(), n_classes=3, steps=5, backend="numpy")
    np.testing.assert_array_equal(listed.W, fit_logistic(X, y, n_classes=3, steps=5, backend="numpy").W)


@pytest.mark.gpu
def test_numpy_and_cupy_agree():
    X, y = _blobs(C=4, K=3, seed=12)
    kw = dict(n_classes=3, steps=300, lr=0.5, l2=0.01, tol=0.0)
    ref = fit_logistic(X, y, backend="numpy", **kw)
    gpu = fit_logistic(X, y, backend="cupy", **kw)
    np.testing.assert_allclose(get_backend("cupy").to_numpy(gpu.W), ref.W, atol=1e-9)
    sgd_ref = fit_logistic(X, y, backend="numpy", batch_size=16, **kw)
    sgd_gpu = fit_logistic(X, y, backend="cupy", batch_size=16, **kw)
    np.testing.assert_allclose(get_backend("cupy").to_numpy(sgd_gpu.W), sgd_ref.W, atol=1e-9)
    # Newton (two classes), with compaction of converged configurations on the GPU too
    X2, y2 = _blobs(C=16, K=2, seed=13)
    newton = dict(n_classes=2, steps=30, l2=0.01, solver="newton")
    n_ref, n_gpu = fit_logistic(X2, y2, backend="numpy", **newton), fit_logistic(X2, y2, backend="cupy", **newton)
    np.testing.assert_allclose(get_backend("cupy").to_numpy(n_gpu.W), n_ref.W, atol=1e-9)
    assert np.abs(n_gpu.steps_run - n_ref.steps_run).max() <= 1   # rounding near tol may cost a step


@pytest.mark.parametrize("kernel", ["array", "fused"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_newton_solver_reaches_the_optimum_gradient_descent_approaches(fit_intercept, kernel):
    rng = np.random.default_rng(3)
    C, n, d = 4, 120, 3
    X = rng.normal(size=(C, n, d))
    y = (X[:, :, 0] + 0.7 * rng.normal(size=(C, n)) > 0).astype(int)
    sw = rng.uniform(0.5, 2.0, size=(C, n))
    gd = fit_logistic(X, y, n_classes=2, steps=20000, lr=2.0, l2=0.05, tol=1e-10, sample_weight=sw,
                      fit_intercept=fit_intercept)
    nt = fit_logistic(X, y, n_classes=2, steps=50, l2=0.05, tol=1e-10, sample_weight=sw,
                      fit_intercept=fit_intercept, solver="newton", newton_kernel=kernel)
    assert nt.converged.all() and (nt.steps_run <= 10).all()   # quadratic convergence
    np.testing.assert_allclose(nt.W, gd.W, atol=1e-7)
    np.testing.assert_allclose(nt.b, gd.b, atol=1e-7)
    np.testing.assert_allclose(nt.final_loss, gd.final_loss, rtol=1e-12)
    # batched equals one configuration at a time
    one = fit_logistic(X[1:2], y[1:2], n_classes=2, steps=50, l2=0.05, tol=1e-10, sample_weight=sw[1:2],
                       fit_intercept=fit_intercept, solver="newton", newton_kernel=kernel)
    np.testing.assert_allclose(one.W[0], nt.W[1], atol=1e-12)


@pytest.mark.parametrize("kwargs", [dict(n_classes=3), dict(l2=0.0), dict(batch_size=10),
                                    dict(solver="lbfgs")])
def test_newton_solver_rejects_what_it_cannot_do(kwargs):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(2, 30, 2)), rng.integers(0, 2, size=(2, 30))
    args = dict(n_classes=2, l2=0.1, solver="newton", steps=5)
    args.update(kwargs)
    with pytest.raises(InputError) as err:
        fit_logistic(X, y, **args)
    assert "\n" not in str(err.value)


def test_newton_compaction_and_chunking_leave_every_configuration_unchanged():
    # configurations that converge after different numbers of steps (easy and hard problems
    # mixed) are compacted out of the working set; each must equal its own one-by-one fit
    rng = np.random.default_rng(7)
    C, n, d = 9, 80, 2
    X = rng.normal(size=(C, n, d))
    noise = np.linspace(0.05, 3.0, C)[:, None] * rng.normal(size=(C, n))
    y = (X[:, :, 0] + noise > 0).astype(int)
    kw = dict(n_classes=2, steps=40, l2=0.01, tol=1e-9, solver="newton", newton_kernel="array")
    whole = fit_logistic(X, y, **kw)
    assert len(set(whole.steps_run.tolist())) > 1   # compaction really happened
    chunked = fit_logistic(X, y, memory_budget=1, **kw)   # one configuration per chunk
    for c in range(C):
        one = fit_logistic(X[c:c + 1], y[c:c + 1], **kw)
        np.testing.assert_allclose(whole.W[c], one.W[0], atol=1e-12)
        assert whole.steps_run[c] == one.steps_run[0]
    np.testing.assert_allclose(chunked.W, whole.W, atol=1e-12)


@pytest.mark.parametrize("kernel", ["array", "fused"])
def test_newton_with_many_features_uses_the_matrix_hessian_and_still_reaches_the_optimum(kernel):
    rng = np.random.default_rng(8)
    C, n, d = 3, 150, 9    # d + 1 = 10 parameters: above the array kernel's feature-pair threshold
    X = rng.normal(size=(C, n, d))
    y = (X @ rng.normal(size=d) + 0.5 * rng.normal(size=(C, n)) > 0).astype(int)
    gd = fit_logistic(X, y, n_classes=2, steps=20000, lr=2.0, l2=0.1, tol=1e-10)
    nt = fit_logistic(X, y, n_classes=2, steps=50, l2=0.1, tol=1e-10, solver="newton", newton_kernel=kernel)
    assert nt.converged.all()
    np.testing.assert_allclose(nt.W, gd.W, atol=1e-7)


def test_scoring_float64_points_with_a_float32_fit_and_label_rate():
    X, y = _blobs(C=3, K=2, seed=4)
    fit = fit_logistic(X, y, n_classes=2, steps=200, lr=0.5, dtype="float32")
    pred = fit.predict(X)
    assert pred.dtype == np.int64
    np.testing.assert_allclose(fit.accuracy(X, y), (pred == y).mean(axis=1))
    for label in (0, 1):
        np.testing.assert_allclose(fit.label_rate(X, label), (pred == label).mean(axis=1))
    # the float64 margin and the float32 one agree on the labels of these points
    assert (fit.predict(X.astype(np.float32)) == pred).mean() > 0.999
    with pytest.raises(InputError):
        fit.label_rate(X, 2)
    three = fit_logistic(*_blobs(C=2, K=3, seed=5), n_classes=3, steps=50)
    Z, _ = _blobs(C=2, K=3, seed=6)
    np.testing.assert_allclose(three.label_rate(Z, 2), (three.predict(Z) == 2).mean(axis=1))


@pytest.mark.parametrize("solver", ["newton", "gd", "sgd"])
def test_threads_spread_the_chunks_and_change_no_result(solver):
    # one configuration per chunk, spread over three threads: every output equal, bit for bit,
    # to the one-thread fit (the chunks are independent); the default budget grows with threads
    X, y = _blobs(C=7, n=60, d=3, K=2 if solver == "newton" else 3, seed=3)
    w = np.random.default_rng(4).uniform(0.5, 2.0, size=y.shape)
    kw = {"newton": dict(n_classes=2, steps=30, l2=0.05, solver="newton"),
          "gd": dict(n_classes=3, steps=60, lr=0.5, l2=0.01, sample_weight=w, record_every=10),
          "sgd": dict(n_classes=3, steps=60, lr=0.3, l2=0.01, batch_size=16, seed=5)}[solver]
    one = fit_logistic(X, y, memory_budget=1, **kw)
    for threads in (2, 3):
        many = fit_logistic(X, y, memory_budget=1, threads=threads, **kw)
        for key in ("W", "b", "final_loss", "grad_norm", "steps_run", "loss_trace"):
            a, b = getattr(one, key), getattr(many, key)
            assert (a is None and b is None) or np.array_equal(np.asarray(a), np.asarray(b)), key
    backend = get_backend("numpy")
    from dataclasses import replace

    via_backend = fit_logistic(X, y, memory_budget=1, backend=replace(backend, threads=2), **kw)
    assert np.array_equal(via_backend.W, one.W)


@pytest.mark.parametrize("threads", [0, -1, 1.5, "two", True])
def test_threads_must_be_a_positive_whole_number(threads):
    X, y = _blobs(C=2, n=20, K=2)
    with pytest.raises(InputError, match="threads must be a positive whole number"):
        fit_logistic(X, y, n_classes=2, steps=2, threads=threads)
