"""Chunks trained on several threads give exactly the single-threaded fit (chunks are independent)."""

import numpy as np
import pytest

from collective_action.errors import InputError
from collective_action.simulate.logistic import chunk_threads, fit_logistic


def _data(C=40, n=300, d=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(C, n, d))
    w = rng.normal(size=(C, d))
    y = (np.einsum("cnd,cd->cn", X, w) + rng.normal(size=(C, n)) > 0).astype(np.int64)
    return X, y


@pytest.mark.parametrize("solver,kwargs", [("newton", {"l2": 1e-3, "steps": 25}),
                                           ("gd", {"l2": 1e-3, "steps": 60, "lr": 0.5}),
                                           ("gd", {"steps": 30, "lr": 0.3, "batch_size": 64})])
def test_threads_give_the_same_fit_bit_for_bit(solver, kwargs):
    X, y = _data()
    budget = 3 * 300 * 4 * 8 * 8  # a few configurations per chunk: many chunks for the threads to share
    one = fit_logistic(X, y, n_classes=2, solver=solver, memory_budget=budget, threads=1, **kwargs)
    many = fit_logistic(X, y, n_classes=2, solver=solver, memory_budget=budget, threads=3, **kwargs)
    assert np.array_equal(one.W, many.W) and np.array_equal(one.b, many.b)
    assert np.array_equal(one.steps_run, many.steps_run) and np.array_equal(one.final_loss, many.final_loss)


def test_thread_count_follows_the_process_cap(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert chunk_threads() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert chunk_threads() == 3 and chunk_threads(2) == 2
    with pytest.raises(InputError):
        chunk_threads(0)
