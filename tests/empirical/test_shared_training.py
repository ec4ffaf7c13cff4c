"""Cells that differ only in selection.metric share one training: each gets the rows its own training
would give, the pillar trains once per seed, the scheduler keeps such cells in one batch, and the
critical-mass search counts the shared training once."""

from __future__ import annotations

import math

import pytest

from collective_action import load_experiment
from collective_action.compute import Compute
from collective_action.empirical import runner
from collective_action.empirical.experiment import run_cells
from collective_action.runs.schedule import gather_shared_training, split_lone_cells
from collective_action.runs.sweep import make_batches

# a small CNN (trained alone on the CPU) whose validation accuracy peaks before the last epoch
# (lr 0.5): early stopping and the last epoch select different models from one training
SPEC = {
    "name": "shared-training", "pillar": "empirical", "seeds": [0, 1],
    "config": {"data": {"name": "digits", "val_size": 200, "train_size": 600},
               "collective": {"alpha": 0.05, "target": 3},
               "signal": {"kind": "patch", "place": "corner", "size": 3}, "learner": {"name": "erm"},
               "train": {"model": "cnn", "width": 4, "epochs": 6, "batch_size": 64, "lr": 0.5},
               "selection": {"metric": "last"}},
    "grid": {"selection.metric": ["last", "average"]},
}
NUMBERS = ("success", "clean_accuracy", "attack_success", "alpha_eff_measured")
EXTRAS = ("selected_epoch", "val_scores", "success_trajectory", "alpha_eff_trajectory", "selection_metric", "series")


def _counted_fits(monkeypatch) -> list:
    calls = []
    real = runner.fit

    def counting(learner, ctx):
        calls.append(1)
        return real(learner, ctx)

    monkeypatch.setattr(runner, "fit", counting)
    return calls


def _view(row):
    return (tuple(getattr(row, k) for k in NUMBERS), tuple(row.extra[k] for k in EXTRAS), row.cell_id, row.config)


def test_one_training_gives_every_selection_the_rows_of_its_own_training(monkeypatch):
    cells = load_experiment(SPEC).cells()
    calls = _counted_fits(monkeypatch)
    alone = run_cells(cells, batched=False)
    assert len(calls) == 4  # two metrics x two seeds, one training each
    calls.clear()
    shared = run_cells(cells, batched=True)
    assert len(calls) == 2  # one training per seed
    for a, b in zip(alone, shared):
        assert [_view(r) for r in a] == [_view(r) for r in b]
    # the two selections really differ: early stopping chose an earlier epoch than the last
    by_metric = {(c.seed, c.validated_config().selection.metric): rows[0] for c, rows in zip(cells, shared)}
    for seed in (0, 1):
        last, early = by_metric[(seed, "last")], by_metric[(seed, "average")]
        assert last.extra["selected_epoch"] == 5 and early.extra["selected_epoch"] < 5
        assert math.isnan(last.extra["val_score"]) and early.extra["val_score"] > 0


def test_configurations_of_different_trainings_are_refused():
    cells = load_experiment({**SPEC, "grid": {"train.lr": [0.5, 0.1]}}).cells()
    with pytest.raises(ValueError, match="more than selection.metric"):
        runner.train_and_select_each([c.validated_config() for c in cells[:3:2]], 0, cell_ids=["a", "b"])


def test_the_scheduler_keeps_cells_of_one_training_in_one_batch():
    cells = load_experiment(SPEC).cells()  # grid order: last (seeds 0, 1), then average (seeds 0, 1)
    cpu = Compute(device="cpu")
    def shape(batches):
        return [[(c.seed, c.validated_config().selection.metric) for c in b] for b in batches]

    for batches in (make_batches(cells, 1), split_lone_cells(make_batches(cells, 4), cpu)):
        assert shape(gather_shared_training(batches, cpu)) == [[(0, "last"), (0, "average")],
                                                               [(1, "last"), (1, "average")]]
    # batches of 3: seed 1's "last" shares the first batch, so its "average" joins it there
    assert shape(gather_shared_training(make_batches(cells, 3), cpu)) == [
        [(0, "last"), (1, "last"), (0, "average"), (1, "average")]]
    # a stacked MLP does not share (its cells differ in the stacked batch key): the batches stay
    mlp = load_experiment({**SPEC, "config": {**SPEC["config"], "train": {"model": "mlp", "width": 8}}}).cells()
    assert [len(b) for b in gather_shared_training(make_batches(mlp, 1), cpu)] == [1, 1, 1, 1]


def test_the_critical_mass_search_counts_a_shared_training_once(tmp_path, monkeypatch):
    from collective_action.runs.critical_mass import critical_mass

    spec = {**SPEC, "config": {**SPEC["config"], "train": {**SPEC["config"]["train"], "lr": 0.1, "epochs": 2}},
            "grid": {**SPEC["grid"], "collective.alpha": [0.01, 0.3]}}
    calls = _counted_fits(monkeypatch)
    report = critical_mass(load_experiment(spec), tmp_path / "cm", targets=(0.5,), executor="serial", max_rounds=1)
    assert report.cells == report.ran > report.trainings == len(calls) > 0
