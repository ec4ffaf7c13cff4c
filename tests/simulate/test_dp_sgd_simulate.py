"""The simulator's DP-SGD (simulate/private.py): the closed-form per-point gradients, the clip, the
noise, the privacy spent, and its place in experiment files."""

from __future__ import annotations

import numpy as np
import pytest

from collective_action.simulate import run
from collective_action.simulate.gaussian import make_problem, sample_batch
from collective_action.simulate.private import clipped_residuals, fit_dp_sgd


def _batch(C=3, n=300, seed0=0):
    problem = make_problem(n_classes=3, d_class=3, separation=3.0, sigma=1.0, n_free=2, tau=1.0, placement="free",
                           n_coords=1, amplitude=3.0, mode="additive", jitter=0.0, target=1, strategy="feature-label")
    return sample_batch(problem, np.linspace(0.02, 0.2, C), np.arange(seed0, seed0 + C), n_train=n, n_test=50)


def test_closed_form_per_point_gradient_norms_match_autograd():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1, 40, 5))
    y = rng.integers(0, 3, size=(1, 40))
    W, b = rng.normal(size=(5, 3)), rng.normal(size=3)
    logits = X[0] @ W + b
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    resid = (p - np.eye(3)[y[0]])[None]
    _, norms = clipped_residuals(X, resid, np.array([np.inf]))
    Wt = torch.tensor(W, requires_grad=True)
    bt = torch.tensor(b, requires_grad=True)
    for i in range(40):
        loss = torch.nn.functional.cross_entropy((torch.tensor(X[0, i]) @ Wt + bt)[None], torch.tensor(y[0, i:i + 1]))
        gW, gb = torch.autograd.grad(loss, (Wt, bt))
        want = float(torch.sqrt((gW ** 2).sum() + (gb ** 2).sum()))
        assert norms[0, i] == pytest.approx(want, rel=1e-9)


def test_clipped_gradients_never_exceed_the_bound():
    rng = np.random.default_rng(1)
    X = rng.normal(scale=5.0, size=(2, 100, 4))
    resid = rng.normal(size=(2, 100, 3))
    clip = np.array([0.5, 2.0])
    r, clipped = clipped_residuals(X, resid, clip)
    full = np.sqrt(np.sum(X * X, -1) + 1) * np.sqrt(np.sum(r * r, -1))
    assert np.all(full <= clip[:, None] + 1e-12)
    np.testing.assert_allclose(full, clipped, rtol=1e-12)
    assert np.all(clipped[0] < 0.5) and np.any(clipped[0] > 0.49)   # the clip binds, not only bounds


def test_without_sampling_clipping_or_noise_dp_sgd_is_full_batch_gradient_descent():
    from collective_action.simulate.logistic import fit_logistic

    batch = _batch()
    n = batch.X.shape[1]
    dp = fit_dp_sgd(batch.X, batch.y, batch.seeds, n_classes=3, steps=40, lr=0.3, batch_size=n,
                    max_grad_norm=1e12, noise_multiplier=0.0)
    gd = fit_logistic(batch.X, batch.y, n_classes=3, steps=40, lr=0.3, backend="numpy", tol=0.0)
    np.testing.assert_allclose(dp.W, gd.backend.to_numpy(gd.W), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(dp.b, gd.backend.to_numpy(gd.b), rtol=1e-9, atol=1e-12)


def test_noise_has_the_stated_scale_and_each_run_is_independent_of_its_batch_mates():
    batch = _batch(C=2)
    n = batch.X.shape[1]
    lr, clip, sigma, B = 0.1, 0.7, 3.0, 30
    # with a zero step size on the data side the first step is the noise alone: lr sigma C / (q n)
    zero = np.zeros_like(batch.X[:1])
    runs = [fit_dp_sgd(zero, batch.y[:1], [s], n_classes=3, steps=1, lr=lr, batch_size=B, max_grad_norm=clip,
                       noise_multiplier=sigma) for s in range(400)]
    W = np.stack([r.W[0] for r in runs])
    data_part = fit_dp_sgd(zero, batch.y[:1], [0], n_classes=3, steps=1, lr=lr, batch_size=B, max_grad_norm=clip,
                           noise_multiplier=0.0).W[0]
    noise = W - data_part
    want = lr * sigma * clip / B
    assert noise.std() == pytest.approx(want, rel=0.08)
    together = fit_dp_sgd(batch.X, batch.y, batch.seeds, n_classes=3, steps=25, lr=lr, batch_size=B,
                          max_grad_norm=clip, noise_multiplier=sigma)
    alone = fit_dp_sgd(batch.X[1:], batch.y[1:], batch.seeds[1:], n_classes=3, steps=25, lr=lr, batch_size=B,
                       max_grad_norm=clip, noise_multiplier=sigma)
    np.testing.assert_array_equal(together.W[1], alone.W[0])
    assert n == 300


SPEC = {"name": "dp-sim", "pillar": "simulate", "seeds": 2,
        "config": {"family": "gaussian", "collective": {"alpha": 0.05, "target": 1},
                   "learner": {"name": "dp-sgd", "params": {"steps": 120, "lr": 0.5, "batch_size": 50,
                                                             "max_grad_norm": 1.0, "noise_multiplier": 1.0}},
                   "n_train": 800, "n_test": 800,
                   "gaussian": {"separation": 4.0, "tau": 1.0, "n_free": 1, "signal": {"amplitude": 3.0}}},
        "grid": {"collective.alpha": [0.01, 0.3], "learner.params.noise_multiplier": [0.0, 2.0]}}


def test_experiment_rows_report_the_privacy_spent_and_the_clip_bound():
    from collective_action.algorithms.privacy import privacy_spent

    df = run(SPEC, backend="numpy")
    assert len(df) == 8 and set(df["learner"]) == {"dp-sgd"}
    q, steps = 50 / 800, 120
    for sigma, rows in df.groupby("dp_noise_multiplier"):
        want = privacy_spent(noise_multiplier=sigma, sample_rate=q, steps=steps, delta=1e-5)
        assert np.all(rows["dp_epsilon"] == want)
    assert np.isinf(df.loc[df.dp_noise_multiplier == 0, "dp_epsilon"]).all()
    # no point ever moved the model by more than lr C / (q n)
    assert (df["dp_largest_point_step"] <= 0.5 * 1.0 / 50 + 1e-12).all()
    # the collective still plants at a large alpha, and a larger collective does better
    big, small = (df[df.alpha == a]["success"].mean() for a in (0.3, 0.01))
    assert big > small + 0.2


def test_dp_sgd_needs_a_batch_size():
    from collective_action.errors import InputError

    spec = {**SPEC, "config": {**SPEC["config"], "learner": {"name": "dp-sgd", "params": {"steps": 10}}}}
    with pytest.raises(InputError, match="batch_size"):
        run(spec, backend="numpy")
