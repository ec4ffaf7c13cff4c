"""Pools start the costliest cells first; the cost estimate follows the work a training does."""

from __future__ import annotations

import pandas as pd

from collective_action import load_experiment
from collective_action.empirical.cost import estimate_cost
from collective_action.runs.schedule import longest_first
from collective_action.runs.store import comparable
from collective_action.runs.sweep import make_batches, run_sweep


def _experiment(grid: dict, learner: dict | None = None, epochs: int = 2):
    return load_experiment({
        "name": "schedule", "pillar": "empirical", "seeds": 1,
        "config": {"data": {"name": "digits", "val_size": 100, "train_size": 300},
                   "collective": {"alpha": 0.1, "target": 8},
                   "signal": {"kind": "patch", "place": "center", "size": 4},
                   "learner": learner or {"name": "erm"},
                   "train": {"model": "mlp", "width": 16, "epochs": epochs, "batch_size": 64}},
        "grid": grid})


def _cost(**overrides):
    grid = {k: [v] for k, v in overrides.items()}
    learner = grid.pop("learner", [None])[0]
    epochs = grid.pop("epochs", [2])[0]
    (cell,) = _experiment(grid, learner, epochs).cells()
    return estimate_cost(cell)


def test_cost_follows_the_work_of_training():
    base = _cost()
    assert _cost(**{"data.train_size": 900}) == 3 * base  # linear in the training points
    assert _cost(epochs=4) == 2 * base  # and in the epochs
    assert _cost(**{"train.width": 64}) > 3 * base  # a wider hidden layer: more multiply-adds per point
    assert _cost(**{"train.model": "cnn"}) > 10 * base  # convolutions at every pixel
    assert _cost(learner={"name": "lff"}) == 2 * base  # two models trained side by side
    assert _cost(learner={"name": "jtt", "hparams": {"T": 1}}) == 1.5 * base  # stage 1's extra epoch
    assert _cost(learner={"name": "dp-sgd"}) > base  # per-sample gradients
    assert _cost(learner={"name": "cvar", "candidates": [{"beta": 0.1}, {"beta": 0.5}]}) == 2 * base  # two candidates


def test_longest_first_orders_by_cost_and_keeps_grid_order_on_ties():
    exp = _experiment({"data.train_size": [100, 900, 300, 900]})
    batches = make_batches(exp.cells(), 1)
    ordered = longest_first(batches)
    sizes = [b[0].validated_config().data.train_size for b in ordered]
    assert sizes == [900, 900, 300, 100]
    assert [b[0].cell_id for b in ordered[:2]] == [batches[1][0].cell_id, batches[3][0].cell_id]


def test_a_pool_starts_the_costliest_cell_first_and_computes_the_same_rows(tmp_path):
    exp = _experiment({"data.train_size": [100, 900, 300]})
    pooled = run_sweep(exp, tmp_path / "pool", executor="pool", workers=1, batch_size=1, progress=False)
    serial = run_sweep(exp, tmp_path / "serial", executor="serial", batch_size=1, progress=False)
    frame = pooled.frame().sort_values("started_at")
    assert frame["n_train"].tolist() == sorted(frame["n_train"], reverse=True)  # 900 first, 100 last
    key = ["cell_id", "series"]
    volatile = ["train_seconds"]
    pd.testing.assert_frame_equal(comparable(pooled.frame()).drop(columns=volatile).sort_values(key).reset_index(drop=True),
                                  comparable(serial.frame()).drop(columns=volatile).sort_values(key).reset_index(drop=True))


def test_a_cell_that_cannot_be_sized_is_scheduled_last_and_fails_when_it_runs(tmp_path):
    """A CNN on MNIST-1D's vectors cannot be built: the schedule does not stop the sweep for it;
    the cell fails with its one-line error and the other cells run."""
    exp = load_experiment({
        "name": "schedule-bad", "pillar": "empirical", "seeds": 1,
        "config": {"data": {"name": "mnist1d", "val_size": 100, "train_size": 300},
                   "collective": {"alpha": 0.1, "target": 3},
                   "signal": {"kind": "patch", "place": "corner", "size": 3},
                   "train": {"model": "mlp", "width": 8, "epochs": 1, "batch_size": 64}},
        "grid": {"train.model": ["cnn", "mlp"]}})
    assert [b[0].validated_config().train.model for b in longest_first(make_batches(exp.cells(), 1))] == ["mlp", "cnn"]
    report = run_sweep(exp, tmp_path / "pool", executor="pool", workers=1, batch_size=1, progress=False)
    assert report.n_failed == 1 and "images" in report.failures[0][1]


def test_forward_flops_match_torchs_flop_counter():
    """The hook count equals FlopCounterMode's (which start-up must not import: it pulls in torch._dynamo)."""
    import pytest
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from collective_action.empirical.cost import forward_flops_per_point
    from collective_action.empirical.models import build_model

    for model, shape, width, depth in [("linear", (1, 8, 8), None, 1), ("mlp", (1, 28, 28), 256, 1),
                                       ("mlp", (40,), 100, 2), ("cnn", (1, 28, 28), 16, 1),
                                       ("cnn", (3, 32, 32), None, 1), ("resnet", (3, 32, 32), 8, 1)]:
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            build_model(model, shape, 10, width, depth)(torch.zeros((1, *shape)))
        assert forward_flops_per_point(model, shape, 10, width, depth) == pytest.approx(counter.get_total_flops(), rel=0)


def test_cells_that_train_alone_get_a_batch_of_their_own(tmp_path):
    """Without a chosen batch size, a cell its pillar trains by itself (LfF's two models, a wide MLP
    on the CPU) is not held back by batch mates; small ERM MLPs stay together to be stacked."""
    from collective_action.compute import Compute
    from collective_action.runs.schedule import split_lone_cells

    exp = _experiment({"learner": [{"name": "erm"}, {"name": "lff"}], "collective.alpha": [0.05, 0.1, 0.2]})
    cells = exp.cells()
    split = split_lone_cells(make_batches(cells, 32), Compute(device="cpu"))
    names = [[c.validated_config().learner.name for c in b] for b in split]
    assert sorted(names) == [["erm"] * 3] + [["lff"]] * 3
    assert sorted(c.cell_id for b in split for c in b) == sorted(c.cell_id for c in cells)  # none lost or repeated
    # a wide MLP is not stacked on the CPU, so it runs alone too
    wide = _experiment({"train.width": [1024], "collective.alpha": [0.05, 0.1]})
    assert [len(b) for b in split_lone_cells(make_batches(wide.cells(), 32), Compute(device="cpu"))] == [1, 1]
    # and a sweep splits them only when the user left the batch size to it
    report = run_sweep(exp, tmp_path / "out", executor="pool", workers=2, progress=False)
    assert report.n_run == 6 and report.n_failed == 0
