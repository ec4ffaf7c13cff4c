"""Batching, determinism, backends and the learners' building blocks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from collective_action.experiment import load_experiment
from collective_action.simulate import run
from collective_action.algorithms.rules import chi2_weights, cvar_weights
from collective_action.simulate.runner import batch_key

SPEC = {
    "name": "runner-test", "pillar": "simulate", "seeds": 2,
    "config": {
        "family": "gaussian", "collective": {"alpha": 0.05, "target": 1},
        "learner": {"name": "jtt", "params": {"steps": 100, "T": 20, "upweight": 10}},
        "n_train": 400, "n_test": 500,
        "gaussian": {"separation": 4.0, "tau": 1.0, "n_free": 1, "signal": {"amplitude": 3.0}},
    },
    "grid": {"collective.alpha": [0.01, 0.1], "learner.params.upweight": [5, 20]},
}

NUMERIC = ["success", "clean_accuracy", "alpha_eff_measured", "alpha_eff_predicted", "e_star", "e0"]


def test_cells_differing_in_alpha_seed_and_batched_params_form_one_batch():
    cells = load_experiment(SPEC).cells()
    assert len(cells) == 8 and len({batch_key(c.config) for c in cells}) == 1
    other = dict(SPEC, grid={"learner.params.T": [10, 20]})
    assert len({batch_key(c.config) for c in load_experiment(other).cells()}) == 2


def test_same_seed_same_numbers_on_cpu():
    a = run(SPEC, backend="numpy")
    b = run(SPEC, backend="numpy")
    pd.testing.assert_frame_equal(a, b)
    assert a.backend.eq("numpy").all() and a.device.eq("cpu").all()


def test_batched_equals_one_configuration_at_a_time():
    order = ["alpha", "seed", "series"]
    batched = run(SPEC, backend="numpy").sort_values(order).reset_index(drop=True)
    tiny = dict(SPEC, config=dict(SPEC["config"], memory_budget_mb=1e-6))  # one config per chunk
    chunked = run(tiny, backend="numpy").sort_values(order).reset_index(drop=True)
    np.testing.assert_allclose(batched[NUMERIC].to_numpy(float), chunked[NUMERIC].to_numpy(float), atol=1e-9)


def test_seeds_change_the_data():
    df = run(SPEC, backend="numpy")
    by_seed = df.groupby("seed").success.apply(list)
    assert by_seed[0] != by_seed[1]


@pytest.mark.gpu
def test_numpy_and_cupy_agree():
    a = run(SPEC, backend="numpy").sort_values("cell_id").reset_index(drop=True)
    b = run(SPEC, backend="cupy").sort_values("cell_id").reset_index(drop=True)
    assert b.backend.eq("cupy").all()
    np.testing.assert_allclose(a[NUMERIC].to_numpy(float), b[NUMERIC].to_numpy(float), atol=2e-3)


def test_cvar_weights_put_beta_mass_on_the_worst_losses():
    rng = np.random.default_rng(0)
    losses = rng.exponential(size=(3, 101))
    beta = np.array([0.1, 0.2, 0.55])
    w = cvar_weights(losses, beta)
    np.testing.assert_allclose(w.mean(axis=1), 1.0)
    for c in range(3):
        tail = w[c] > 0
        assert losses[c][tail].min() >= losses[c][~tail].max()
        np.testing.assert_allclose((w[c] * beta[c]).sum(), beta[c] * 101)
    tied = cvar_weights(np.ones((1, 10)), np.array([0.25]))  # ties: still exactly 2.5 units
    np.testing.assert_allclose((tied * 0.25).sum(), 2.5)


def test_chi2_weights_make_the_constraint_bind():
    rng = np.random.default_rng(1)
    losses = rng.gamma(2.0, size=(4, 200))
    rho = np.array([0.05, 0.5, 1.0, 3.0])
    w, eta = chi2_weights(losses, rho)
    np.testing.assert_allclose(w.mean(axis=1), 1.0)
    np.testing.assert_allclose(0.5 * ((w - 1) ** 2).mean(axis=1), rho, rtol=1e-6)
    for c in range(4):  # w is proportional to (loss - eta)_+
        excess = np.maximum(losses[c] - eta[c], 0)
        np.testing.assert_allclose(w[c], excess / excess.mean())


def test_lda_matches_scikit_learn_predictions():
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    from collective_action.simulate.backend import get_backend
    from collective_action.simulate.gaussian import make_problem, sample_batch
    from collective_action.simulate.learners import LDA, LDAParams

    problem = make_problem(n_classes=3, d_class=3, separation=2.0, sigma=1.0, n_free=2, tau=0.5,
                           placement="free", n_coords=2, amplitude=1.0, mode="additive", jitter=0.0,
                           target=2, strategy="feature-label")
    batch = sample_batch(problem, [0.05, 0.2], [0, 1], 3000, 2000)
    out = LDA().fit(batch, [LDAParams(shrinkage=0.0)] * 2, get_backend("numpy"))
    for c in range(2):
        ref = LinearDiscriminantAnalysis(solver="lsqr").fit(batch.X[c], batch.y[c])
        assert (ref.predict(batch.X_clean[c]) == out.pred_clean[c]).mean() > 0.995
        assert (ref.predict(batch.X_signal[c]) == out.pred_signal[c]).mean() > 0.995


def test_run_cells_keeps_the_order_of_mixed_batches():
    from collective_action.simulate.runner import run_cells

    spec = dict(SPEC, grid={"collective.alpha": [0.01, 0.1],
                            "learner": [{"name": "lda"}, {"name": "erm", "params": {"steps": 20}}]})
    cells = load_experiment(spec).cells()
    shuffled = [cells[i] for i in np.random.default_rng(0).permutation(len(cells))]
    rows = run_cells(shuffled)
    assert [r[0].cell_id for r in rows] == [c.cell_id for c in shuffled]
    assert [r[0].learner for r in rows] == [c.config["learner"]["name"] for c in shuffled]


def test_summary_interval_is_the_student_t_interval():
    from scipy import stats

    from collective_action.simulate.summary import mean_interval, summarise

    m, lo, hi = mean_interval([0.5, 0.7, 0.6])
    half = stats.t.ppf(0.975, 2) * 0.1 / np.sqrt(3)
    assert m == pytest.approx(0.6) and (lo, hi) == pytest.approx((0.6 - half, 0.6 + half))
    assert np.isnan(mean_interval([0.4])[1])
    frame = pd.DataFrame({"learner": ["a"] * 3 + ["b"], "series": ["s"] * 4, "alpha": [0.1] * 4,
                          "success": [0.5, 0.7, 0.6, 0.9], "clean_accuracy": [0.9] * 4})
    out = summarise(frame)
    assert out.seeds.tolist() == [3, 1] and out.success.tolist() == pytest.approx([0.6, 0.9])


def test_threads_reach_the_batched_fits_and_change_no_number(monkeypatch):
    """``--threads N`` (Compute.threads) gives the simulator's fits N threads for their chunks;
    the chunks are independent, so every number is the same as on one thread."""
    from collective_action.compute import Compute
    from collective_action.simulate import learners

    seen = []
    real = learners.fit_logistic

    def recording(*args, **kwargs):
        seen.append(kwargs["backend"].threads)
        return real(*args, **kwargs)

    monkeypatch.setattr(learners, "fit_logistic", recording)
    one = run(SPEC, backend="numpy")
    assert seen and set(seen) == {1}
    seen.clear()
    two = run(SPEC, backend=Compute(array_backend="numpy", threads=2))
    assert seen and set(seen) == {2}
    volatile = [c for c in one.columns if c in ("wall_s", "started_at", "finished_at", "threads")]
    pd.testing.assert_frame_equal(one.drop(columns=volatile), two.drop(columns=volatile))
