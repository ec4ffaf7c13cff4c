"""A configuration is validated once, when the file is expanded into cells: the pillars (and the
workers that receive pickled cells) use the validated model the cell carries."""

from __future__ import annotations

import pickle

import pytest

from collective_action.experiment import load_experiment

SIM = {
    "name": "once-sim", "pillar": "simulate", "seeds": 2,
    "config": {"family": "gaussian", "collective": {"alpha": 0.05, "target": 1},
               "learner": {"name": "cvar", "params": {"steps": 20, "beta": 0.3}}, "n_train": 100, "n_test": 100},
    "grid": {"collective.alpha": [0.02, 0.1]},
}
EMP = {
    "name": "once-emp", "pillar": "empirical", "seeds": 1,
    "config": {"data": {"name": "digits", "val_size": 100}, "collective": {"alpha": 0.1, "target": 3},
               "learner": {"name": "jtt", "candidates": [{"T": 1}, {"upweight": 5}]},
               "train": {"model": "linear", "epochs": 1, "batch_size": 256}},
}


def _count_validations(monkeypatch, *models):
    calls = []
    for model in models:
        original = model.model_validate.__func__

        def counting(cls, *args, _original=original, **kwargs):
            calls.append(cls.__name__)
            return _original(cls, *args, **kwargs)

        monkeypatch.setattr(model, "model_validate", classmethod(counting))
    return calls


def test_simulate_cells_are_not_validated_again(monkeypatch):
    from collective_action.simulate.experiment import SimulateConfig
    from collective_action.simulate.learners import LEARNERS
    from collective_action.simulate.runner import run_cells

    cells = load_experiment(SIM).cells()
    cells = pickle.loads(pickle.dumps(cells))  # as a pool or Ray worker receives them
    calls = _count_validations(monkeypatch, SimulateConfig, LEARNERS["cvar"].Params)
    rows = run_cells(cells)
    assert len(rows) == 4 and calls == []


def test_empirical_cells_are_not_validated_again(monkeypatch):
    from collective_action.algorithms import ALGORITHMS
    from collective_action.empirical.config import EmpiricalConfig
    from collective_action.empirical.experiment import run_cells

    cells = pickle.loads(pickle.dumps(load_experiment(EMP).cells()))
    calls = _count_validations(monkeypatch, EmpiricalConfig, ALGORITHMS["jtt"].Params)
    rows = run_cells(cells)
    assert len(rows) == 1 and calls == []


def test_the_count_would_see_a_validation(monkeypatch):
    from collective_action.simulate.experiment import SimulateConfig

    cells = load_experiment(SIM).cells()
    calls = _count_validations(monkeypatch, SimulateConfig)
    SimulateConfig.model_validate(cells[0].config)
    assert calls == ["SimulateConfig"]
