"""One (configuration, seed) from data to result row: the empirical pillar's unit of work.

Steps: load the data set, split it and plant the collective (:mod:`.splits`), build the signal,
train every hyper-parameter candidate of the learner with epoch-wise selection on the
validation set (:mod:`.selection`), then evaluate the selected model on clean test points
(clean, worst-class, worst-group accuracy) and on signal-carrying test points (success), and
read the collective's measured training weight and theory's prediction at the selected epoch.
"""

from __future__ import annotations

import json
import math
import time

import numpy as np
import torch

from collective_action.collective import Collective
from collective_action.errors import InputError
from collective_action.results import ResultRow

from . import derived
from .config import EmpiricalConfig
from .data import Dataset, load_dataset
from .learners import FitContext, make_learner
from .metrics import accuracy, predicted_alpha_eff, success_rate, worst_class_accuracy, worst_subset_accuracy
from .models import build_model
from .selection import Selector
from .signals import make_signal
from .splits import PreparedData, prepare
from .train import OptimConfig, predict, resolve_device, to_tensor

LEARNER_LABELS = {"erm": "ERM", "jtt": "JTT", "cvar": "CVaR", "chi2": "chi2-DRO", "lff": "LfF",
                  "group-dro": "group DRO"}


def build_dataset(cfg: EmpiricalConfig) -> Dataset:
    d = cfg.data
    if d.name == "spurious":
        return derived.make_spurious(seed=d.data_seed, agreement=d.agreement, n_val=max(d.val_size, 1))
    if d.name == "dominoes":
        return derived.make_dominoes(seed=d.data_seed, simple=d.simple, agreement=d.simple_agreement,
                                     margin=d.margin)
    return load_dataset(d.name, d.data_dir)


def build_signal(cfg: EmpiricalConfig, ds: Dataset):
    s = cfg.signal
    place = list(s.place) if isinstance(s.place, list) else s.place
    # Images live in [0, 1] and are clipped; MNIST-1D features are standardised, so not clipped.
    return make_signal(s.kind, ds.input_shape, place=place, size=s.size, high=s.high, low=s.low,
                       amplitude=s.amplitude, seed=s.seed, regions=ds.meta.get("regions"),
                       clip=ds.name != "mnist1d")


def series_label(cfg: EmpiricalConfig) -> str:
    if cfg.series:
        return cfg.series
    label = LEARNER_LABELS[cfg.learner.name]
    if cfg.learner.hparams:
        label += " (" + ", ".join(f"{k}={v:g}" for k, v in sorted(cfg.learner.hparams.items())) + ")"
    if cfg.selection.validation == "with-collective":
        label += " [val with collective]"
    return label


def train_once(cfg: EmpiricalConfig, seed: int, device: str = "cpu", *, experiment: str = "empirical",
               cell_id: str = "", no_collective: bool = False) -> ResultRow:
    """Train and evaluate one configuration with one seed; ``no_collective`` gives the alpha=0 baseline."""
    started = time.perf_counter()
    dev = resolve_device(device)
    ds = build_dataset(cfg)
    signal = build_signal(cfg, ds)
    collective = Collective(cfg.collective.alpha, cfg.collective.target, signal, cfg.collective.strategy)
    if collective.target >= ds.n_classes:
        raise InputError(f"collective.target {collective.target} is not a class of {ds.name} (0..{ds.n_classes - 1})")
    rng = np.random.default_rng([int(seed), 7])
    data = prepare(ds, None if no_collective else collective, rng, train_size=cfg.data.train_size,
                   val_size=cfg.data.val_size, validation=cfg.selection.validation)
    x_success = ds.x_test[ds.y_test != collective.target]
    x_success = signal(x_success) if no_collective else data.x_success

    x = to_tensor(data.x_train, dev)
    y = to_tensor(data.y_train, dev, torch.long)
    members = torch.as_tensor(data.members, device=dev)
    groups = None if data.groups_train is None else to_tensor(data.groups_train, dev, torch.long)
    x_val, y_val = to_tensor(data.x_val, dev), to_tensor(data.y_val, dev, torch.long)
    g_val = None if data.groups_val is None else to_tensor(data.groups_val, dev, torch.long)
    selector = Selector(cfg.selection.metric, x_val, y_val, g_val)

    t = cfg.train
    optim = OptimConfig(lr=t.lr, momentum=t.momentum, weight_decay=t.weight_decay, batch_size=t.batch_size,
                        epochs=t.epochs)
    torch.manual_seed(int(seed))
    make_model = lambda: build_model(t.model, ds.input_shape, ds.n_classes, t.width, t.depth).to(dev)  # noqa: E731
    generator = torch.Generator().manual_seed(int(seed))

    candidates = cfg.learner.candidates or [{}]
    reports, learners = [], []
    for i, override in enumerate(candidates):
        learner = make_learner(cfg.learner.name, {**cfg.learner.hparams, **override})
        selector.candidate = i
        ctx = FitContext(make_model, x, y, members, optim, generator, ds.n_classes, groups, data.n_groups,
                         on_epoch_end=selector)
        reports.append(learner.fit(ctx))
        learners.append(learner)
    choice = selector.best
    report, learner = reports[choice.candidate], learners[choice.candidate]
    upto = choice.epoch + 1

    model = choice.model
    pred_test = predict(model, to_tensor(data.x_test, dev))
    y_test = to_tensor(data.y_test, dev, torch.long)
    pred_signal = predict(model, to_tensor(x_success, dev))
    success = success_rate(pred_signal, collective.target)
    worst_group = math.nan
    if data.groups_test is not None:
        worst_group = worst_subset_accuracy(pred_test, y_test, to_tensor(data.groups_test, dev, torch.long))

    alpha_real = data.alpha_realised
    measured = report.measured(upto) if not no_collective else math.nan
    stats = {}
    if "in_tail" in report.stats:
        stats["tail_share"] = report.stat_means("in_tail", upto)[0]
    if "excess" in report.stats:
        stats["collective_mean"], stats["base_mean"] = report.stat_means("excess", upto)
    if "weight" in report.stats:
        stats["collective_mean"], stats["base_mean"] = report.stat_means("weight", upto)
    e_star, e0 = report.fixed.get("e_star", math.nan), report.fixed.get("e0", math.nan)
    predicted = math.nan if no_collective else predicted_alpha_eff(
        learner.name, alpha_real, hparams=learner.hparams, e_star=e_star, e0=e0, **stats)

    n_success = len(x_success)
    config = cfg.model_dump(mode="json")
    return ResultRow(
        experiment=experiment, pillar="empirical", config=config, seed=int(seed),
        alpha=0.0 if no_collective else float(cfg.collective.alpha), learner=cfg.learner.name,
        success=success, clean_accuracy=accuracy(pred_test, y_test), worst_group_accuracy=worst_group,
        alpha_eff_predicted=predicted, alpha_eff_measured=measured, cell_id=cell_id,
        extra={
            "series": series_label(cfg),
            "success_se": math.sqrt(success * (1 - success) / n_success) if n_success else math.nan,
            "success_theory": math.nan, "success_bound": math.nan,
            "worst_class_accuracy": worst_class_accuracy(pred_test, y_test),
            "alpha_realised": 0.0 if no_collective else alpha_real,
            "e_star": e_star, "e0": e0, "tail_share": stats.get("tail_share", math.nan),
            "collective_mean_stat": stats.get("collective_mean", math.nan),
            "base_mean_stat": stats.get("base_mean", math.nan),
            "alpha_eff_trajectory": json.dumps([round(v, 6) for v in report.ledger.trajectory()]),
            "selected_epoch": choice.epoch, "selected_hparams": json.dumps(learner.hparams, sort_keys=True),
            "val_score": choice.score, "dataset": ds.name, "model": t.model,
            "validation": cfg.selection.validation, "selection_metric": cfg.selection.metric,
            "backend": "torch", "device": str(dev), "n_train": int(len(data.y_train)),
            "n_test": int(len(data.y_test)), "epochs": t.epochs, "train_seconds": time.perf_counter() - started,
        },
    )
