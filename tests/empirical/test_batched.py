"""Batched training of stacked MLPs equals training them one by one."""

import torch

from collective_action.empirical.batched import BatchedMLP, predict_batched, train_batched
from collective_action.empirical.data import load_mnist1d
from collective_action.empirical.models import build_model
from collective_action.empirical.train import OptimConfig, predict, to_tensor, train_epochs


def test_batched_training_reproduces_one_by_one_training():
    ds = load_mnist1d()
    n, k = 1000, 3
    xs = torch.stack([to_tensor(ds.x_train[i * 500: i * 500 + n], "cpu") for i in range(k)])
    ys = torch.stack([to_tensor(ds.y_train[i * 500: i * 500 + n], "cpu", torch.long) for i in range(k)])
    cfg = OptimConfig(lr=0.05, momentum=0.9, weight_decay=1e-4, batch_size=64, epochs=3)
    models = []
    for seed in range(k):
        torch.manual_seed(seed)
        models.append(build_model("mlp", (40,), 10, width=32, depth=2))
    batched = BatchedMLP.from_models(models)
    template = build_model("mlp", (40,), 10, width=32, depth=2)

    for seed, model in enumerate(models):
        train_epochs(model, xs[seed], ys[seed], lambda losses, idx, epoch: torch.ones_like(losses), cfg,
                     torch.Generator().manual_seed(100 + seed))
    train_batched(batched, xs, ys, cfg, [torch.Generator().manual_seed(100 + s) for s in range(k)])

    for single, from_batch in zip(models, batched.unstack(template)):
        for p, q in zip(single.parameters(), from_batch.parameters()):
            assert torch.allclose(p, q, atol=1e-4), float((p - q).abs().max())
    x_test = to_tensor(ds.x_test, "cpu")
    preds = predict_batched(batched, x_test, shared=True)
    agree = [(preds[i] == predict(m, x_test)).float().mean() for i, m in enumerate(models)]
    assert min(agree) > 0.99
    assert (preds[0] == to_tensor(ds.y_test, "cpu", torch.long)).float().mean() > 0.2  # it learned (chance: 0.1)


def test_batched_models_differ_when_their_data_differ():
    ds = load_mnist1d()
    xs = to_tensor(ds.x_train[:600], "cpu").expand(2, -1, -1).clone()
    ys = torch.stack([to_tensor(ds.y_train[:600], "cpu", torch.long), torch.zeros(600, dtype=torch.long)])
    torch.manual_seed(0)
    model = BatchedMLP.from_models([build_model("mlp", (40,), 10, width=16)] * 2)
    train_batched(model, xs, ys, OptimConfig(epochs=2, batch_size=50), [torch.Generator().manual_seed(0)] * 2)
    preds = predict_batched(model, xs[0], shared=True)
    assert (preds[1] == 0).all() and not (preds[0] == 0).all()


def test_pillar_batches_erm_mlp_cells_with_the_same_numbers():
    from collective_action import load_experiment
    from collective_action.empirical.experiment import run_cells

    exp = load_experiment({
        "name": "batch-check", "pillar": "empirical", "seeds": 2,
        "config": {"data": {"name": "digits", "val_size": 200}, "collective": {"alpha": 0.05, "target": 3},
                   "learner": {"name": "erm"},
                   "train": {"model": "mlp", "width": 32, "epochs": 3, "batch_size": 64}},
        "grid": {"collective.alpha": [0.05, 0.2]},
    })
    cells = exp.cells()
    alone = [rows[0] for rows in run_cells(cells, batched=False)]
    stacked = [rows[0] for rows in run_cells(cells, batched=True)]
    for a, b in zip(alone, stacked):
        assert (a.cell_id, a.seed, a.alpha) == (b.cell_id, b.seed, b.alpha)
        assert abs(a.success - b.success) <= 0.01 and abs(a.clean_accuracy - b.clean_accuracy) <= 0.005
        assert a.alpha_eff_measured == b.alpha_eff_measured
        assert len(a.extra["success_trajectory"]) == len(b.extra["success_trajectory"])
    assert len({r.success for r in stacked}) > 1  # different alphas and seeds really differ


import pytest  # noqa: E402


@pytest.mark.parametrize("learner,selection", [
    ({"name": "jtt", "hparams": {"T": 1, "upweight": 5}}, {"validation": "clean", "metric": "last"}),
    ({"name": "cvar", "hparams": {"beta": 0.3}}, {"validation": "both", "metric": "worst-class"}),
    ({"name": "chi2"}, {"validation": "clean", "metric": "last"}),
    ({"name": "group-dro"}, {"validation": "clean", "metric": "average"}),
    ({"name": "erm"}, {"validation": "both", "metric": "worst-class"})])
def test_pillar_stacks_reweighting_cells_with_the_same_numbers(learner, selection):
    """JTT, CVaR, chi-square and group DRO cells that differ in alpha and seed train as one stacked
    model, each with its own rule and state, and give the one-at-a-time rows up to float rounding."""
    from collective_action import load_experiment
    from collective_action.empirical.experiment import run_cells
    from collective_action.empirical.runner import batch_key

    exp = load_experiment({
        "name": "batch-check-dro", "pillar": "empirical", "seeds": 2,
        "config": {"data": {"name": "digits", "val_size": 200}, "collective": {"alpha": 0.05, "target": 3},
                   "learner": learner, "train": {"model": "mlp", "width": 32, "epochs": 3, "batch_size": 64},
                   "selection": selection},
        "grid": {"collective.alpha": [0.05, 0.2]},
    })
    cells = exp.cells()
    assert len({batch_key(c.validated_config()) for c in cells}) == 1  # one stacked group of four
    alone = [row for rows in run_cells(cells, batched=False) for row in rows]
    stacked = [row for rows in run_cells(cells, batched=True) for row in rows]
    assert len(alone) == len(stacked) == len(cells) * (2 if selection["validation"] == "both" else 1)
    for a, b in zip(alone, stacked):
        assert (a.cell_id, a.seed, a.alpha, a.extra["validation"]) == (b.cell_id, b.seed, b.alpha, b.extra["validation"])
        assert a.extra["selected_epoch"] == b.extra["selected_epoch"]  # selection saw the same scores
        assert abs(a.success - b.success) <= 0.01 and abs(a.clean_accuracy - b.clean_accuracy) <= 0.005
        assert a.alpha_eff_measured == pytest.approx(b.alpha_eff_measured, rel=1e-4)
        assert a.alpha_eff_predicted == pytest.approx(b.alpha_eff_predicted, rel=1e-3, nan_ok=True)
        for column in ("e_star", "e0", "tail_share"):  # the algorithm's statistic, measured the same way
            assert a.extra[column] == pytest.approx(b.extra[column], rel=1e-3, abs=1e-3, nan_ok=True)
    if learner["name"] != "erm":  # the weights really were the algorithm's: it moves the collective's share
        assert any(abs(r.alpha_eff_measured - r.extra["alpha_realised"]) > 1e-3 for r in stacked)


def test_lff_dp_sgd_label_smoothing_candidates_and_augmentation_train_alone():
    from collective_action import load_experiment
    from collective_action.empirical.runner import batch_key

    base = {"data": {"name": "digits", "val_size": 200}, "collective": {"alpha": 0.05, "target": 3},
            "train": {"model": "mlp", "width": 32, "epochs": 1}}
    for learner in ({"name": "lff"}, {"name": "dp-sgd"}, {"name": "label-smoothing"},
                    {"name": "cvar", "candidates": [{"beta": 0.2}, {"beta": 0.5}]}):
        (cell,) = load_experiment({"name": "x", "pillar": "empirical", "seeds": 1,
                                   "config": {**base, "learner": learner}}).cells()
        assert batch_key(cell.validated_config()) is None, learner
    shifted = {**base, "train": {**base["train"], "augment": {"shift": 1}}}
    (cell,) = load_experiment({"name": "x", "pillar": "empirical", "seeds": 1, "config": shifted}).cells()
    assert batch_key(cell.validated_config()) is None


def test_on_the_cpu_only_small_models_are_stacked():
    """Stacking a compute-bound model gains nothing on the CPU (benchmarks/stacking_bench.py): a wide
    MLP trains alone there and is stacked on a GPU; a small one is stacked on both."""
    from collective_action import load_experiment
    from collective_action.empirical.cost import forward_flops
    from collective_action.empirical.runner import CPU_STACK_MAX_FLOPS, batch_key

    def cfg(width):
        (cell,) = load_experiment({"name": "x", "pillar": "empirical", "seeds": 1, "config": {
            "data": {"name": "digits", "val_size": 200}, "collective": {"alpha": 0.05, "target": 3},
            "train": {"model": "mlp", "width": width, "epochs": 1}}}).cells()
        return cell.validated_config()

    small, wide = cfg(32), cfg(1024)
    assert forward_flops(small) < CPU_STACK_MAX_FLOPS < forward_flops(wide)
    assert batch_key(small, "cpu") is not None and batch_key(small, "cuda") is not None
    assert batch_key(wide, "cpu") is None and batch_key(wide, "cuda") is not None
