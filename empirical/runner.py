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
from dataclasses import dataclass, field

import numpy as np
import torch

from collective_action.algorithms import ALGORITHMS
from collective_action.collective import Collective
from collective_action.errors import InputError
from collective_action.results import ResultRow

from . import derived
from .config import EmpiricalConfig
from .augment import make_augment
from .data import Dataset, load_dataset
from .learners import FitContext, fit, make_learner
from .metrics import accuracy, success_rate, worst_class_accuracy, worst_subset_accuracy
from .models import build_model
from .selection import Selector
from .signals import make_signal
from .splits import PreparedData, prepare, subsample_test
from .train import OptimConfig, predict, resolve_device, to_tensor



def build_dataset(cfg: EmpiricalConfig) -> Dataset:
    d = cfg.data
    if d.name == "spurious":
        return derived.make_spurious(seed=d.data_seed, agreement=d.agreement, classes_a=d.classes_a,
                                     classes_b=d.classes_b, n_val=max(d.val_size, 1), data_dir=d.data_dir)
    if d.name == "dominoes":
        return derived.make_dominoes(seed=d.data_seed, simple=d.simple, agreement=d.simple_agreement,
                                     margin=d.margin, data_dir=d.data_dir)
    return load_dataset(d.name, d.data_dir)


def build_signal(cfg: EmpiricalConfig, ds: Dataset):
    s = cfg.signal
    place = list(s.place) if isinstance(s.place, list) else s.place
    # Images live in [0, 1] and are clipped; MNIST-1D features are standardised, so not clipped.
    return make_signal(s.kind, ds.input_shape, place=place, size=s.size, high=s.high, low=s.low,
                       amplitude=s.amplitude, seed=s.seed, regions=ds.meta.get("regions"),
                       clip=ds.name != "mnist1d")


def series_label(cfg: EmpiricalConfig, validation: str | None = None) -> str:
    if cfg.series:
        return cfg.series
    label = ALGORITHMS[cfg.learner.name].label
    if cfg.learner.hparams:
        label += " (" + ", ".join(f"{k}={v:g}" for k, v in sorted(cfg.learner.hparams.items())) + ")"
    if (validation or cfg.selection.validation) == "with-collective":
        label += " [val with collective]"
    return label


def signal_label(cfg: EmpiricalConfig) -> str:
    """A short description of the signal, e.g. ``patch 3x3 @ margin`` or ``global 0.0314``."""
    s = cfg.signal
    if s.kind == "global":
        return f"global {s.amplitude:.3g} ({cfg.collective.strategy})"
    place = s.place if isinstance(s.place, str) else f"[{s.place[0]}, {s.place[1]}]"
    return f"patch {s.size}x{s.size} @ {place} ({cfg.collective.strategy})"


def policies_of(cfg: EmpiricalConfig) -> tuple[str, ...]:
    """The validation policies one run selects under (``both``: clean, then with-collective)."""
    v = cfg.selection.validation
    return ("clean", "with-collective") if v == "both" else (v,)


def train_once(cfg: EmpiricalConfig, seed: int, device: str = "cpu", *, experiment: str = "empirical",
               cell_id: str = "", no_collective: bool = False) -> ResultRow:
    """Train and evaluate one configuration with one seed; ``no_collective`` gives the alpha=0 baseline.

    With ``selection.validation: both`` this returns the clean-validation row; use
    :func:`train_and_select` for all of them.
    """
    return train_and_select(cfg, seed, device, experiment=experiment, cell_id=cell_id,
                            no_collective=no_collective)[0]


def train_and_select(cfg: EmpiricalConfig, seed: int, device: str = "cpu", *, experiment: str = "empirical",
                     cell_id: str = "", no_collective: bool = False) -> list[ResultRow]:
    """Train once, select under each validation policy of ``cfg``; one row per policy.

    Training never sees the validation split, so under ``both`` the very same trained models are
    selected twice -- once on a clean validation set, once on the same points with the
    collective planted -- and the two rows differ only through selection (a paired comparison).
    """
    run = setup_run(cfg, seed, device, no_collective=no_collective)
    for i, params in enumerate(cfg.learner.validated_candidates):  # validated when the file was loaded
        learner = ALGORITHMS[cfg.learner.name](params)
        run.start_candidate(i)
        t = cfg.train
        ctx = FitContext(run.make_model, run.x, run.y, run.members, run.optim, run.generator, run.ds.n_classes,
                         run.groups, run.data.n_groups, on_epoch_end=run.end_of_epoch,
                         augment=make_augment(t.augment.shift, t.augment.flip),
                         model_spec=(t.model, run.ds.input_shape, run.ds.n_classes, t.width, t.depth),
                         augment_spec=(t.augment.shift, t.augment.flip))
        run.reports.append(fit(learner, ctx))
        run.learners.append(learner)
    return run.rows(experiment, cell_id)


@dataclass
class Run:
    """One (configuration, seed) prepared for training, and what training left behind."""

    cfg: EmpiricalConfig
    seed: int
    device: torch.device
    no_collective: bool
    ds: Dataset
    collective: Collective
    policies: tuple[str, ...]
    data: PreparedData
    x_success: np.ndarray            # every test point with the signal planted: g(x), x ~ P0
    attack_mask: torch.Tensor        # test points whose label is not y* (attack success)
    x: torch.Tensor
    y: torch.Tensor
    members: torch.Tensor
    groups: torch.Tensor | None
    selectors: list[Selector]
    optim: OptimConfig
    generator: torch.Generator
    x_signal: torch.Tensor
    started: float
    reports: list = field(default_factory=list)
    learners: list = field(default_factory=list)
    success_by_epoch: list = field(default_factory=list)  # diagnostic only: never used for selection

    def make_model(self):
        t = self.cfg.train
        return build_model(t.model, self.ds.input_shape, self.ds.n_classes, t.width, t.depth).to(self.device)

    def start_candidate(self, index: int) -> None:
        for selector in self.selectors:
            selector.candidate = index
        self.success_by_epoch.append([])

    def end_of_epoch(self, model, epoch: int) -> None:
        for selector in self.selectors:
            selector(model, epoch)
        self.success_by_epoch[-1].append(
            round(success_rate(predict(model, self.x_signal), self.collective.target), 4))

    def rows(self, experiment: str, cell_id: str) -> list[ResultRow]:
        """Evaluate the model each selector chose; one row per validation policy."""
        cfg, data, dev = self.cfg, self.data, self.device
        train_seconds = time.perf_counter() - self.started
        rows = []
        x_test, y_test = to_tensor(data.x_test, dev), to_tensor(data.y_test, dev, torch.long)
        g_test = None if data.groups_test is None else to_tensor(data.groups_test, dev, torch.long)
        for policy, selector in zip(self.policies, self.selectors):
            choice = selector.best
            report, learner = self.reports[choice.candidate], self.learners[choice.candidate]
            upto = choice.epoch + 1
            pred_test = predict(choice.model, x_test)
            pred_signal = predict(choice.model, self.x_signal)
            success = success_rate(pred_signal, self.collective.target)
            attack = success_rate(pred_signal[self.attack_mask], self.collective.target)
            worst_group = math.nan if g_test is None else worst_subset_accuracy(pred_test, y_test, g_test)

            alpha_real = data.alpha_realised
            measured = report.measured(upto) if not self.no_collective else math.nan
            collective_mean, base_mean = report.stat_means(upto)
            predicted = math.nan if self.no_collective else learner.predict_alpha_eff(
                alpha_real, collective_mean, base_mean)
            stat_columns = {"e_star": math.nan, "e0": math.nan, "tail_share": math.nan}
            if learner.statistic is not None:
                names = learner.stat_columns
                stat_columns[names[0]] = collective_mean
                if names[1]:
                    stat_columns[names[1]] = base_mean
            hparams = learner.params.model_dump()

            n_success = len(self.x_success)
            rows.append(ResultRow(
                experiment=experiment, pillar="empirical", config=cfg.model_dump(mode="json"), seed=int(self.seed),
                alpha=0.0 if self.no_collective else float(cfg.collective.alpha), learner=cfg.learner.name,
                success=success, clean_accuracy=accuracy(pred_test, y_test), worst_group_accuracy=worst_group,
                alpha_eff_predicted=predicted, alpha_eff_measured=measured, attack_success=attack, cell_id=cell_id,
                extra={
                    "series": series_label(cfg, policy),
                    "success_se": math.sqrt(success * (1 - success) / n_success) if n_success else math.nan,
                    "success_theory": math.nan, "success_bound": math.nan,
                    "worst_class_accuracy": worst_class_accuracy(pred_test, y_test),
                    "alpha_realised": 0.0 if self.no_collective else alpha_real,
                    **stat_columns,
                    "alpha_eff_trajectory": json.dumps([round(v, 6) for v in report.ledger.trajectory()]),
                    "success_trajectory": json.dumps(self.success_by_epoch),
                    "val_scores": json.dumps([[c, e, round(v, 4)] for c, e, v in selector.history]),
                    "selected_epoch": choice.epoch, "selected_candidate": choice.candidate,
                    "selected_hparams": json.dumps(hparams, sort_keys=True),
                    "val_score": choice.score, "dataset": self.ds.name, "model": cfg.train.model,
                    "signal": signal_label(cfg),
                    "validation": policy, "selection_metric": cfg.selection.metric,
                    "backend": "torch", "device": str(dev), "n_train": int(len(data.y_train)),
                    "n_test": int(len(data.y_test)), "epochs": cfg.train.epochs, "train_seconds": train_seconds,
                    **report.extra,
                },
            ))
        return rows


def setup_run(cfg: EmpiricalConfig, seed: int, device: str = "cpu", *, no_collective: bool = False) -> Run:
    """Data, collective, validation selectors and seeded generators for one (configuration, seed).

    Seeding is fixed here so that every way of training the run (one model at a time, or many
    stacked) starts from the same weights and visits the batches in the same order.
    """
    started = time.perf_counter()
    dev = resolve_device(device)
    ds = subsample_test(build_dataset(cfg), cfg.data.test_size, cfg.data.data_seed)
    signal = build_signal(cfg, ds)
    collective = Collective(cfg.collective.alpha, cfg.collective.target, signal, cfg.collective.strategy)
    if collective.target >= ds.n_classes:
        raise InputError(f"collective.target {collective.target} is not a class of {ds.name} (0..{ds.n_classes - 1})")
    policies = policies_of(cfg)
    splits = [prepare(ds, None if no_collective else collective, np.random.default_rng([int(seed), 7]),
                      train_size=cfg.data.train_size, val_size=cfg.data.val_size, validation=policy)
              for policy in policies]
    data = splits[0]
    # success is measured over every test point (x ~ P0); attack success over those not of class y*
    x_success = signal(ds.x_test)
    selectors = []
    for split in splits:
        g_val = None if split.groups_val is None else to_tensor(split.groups_val, dev, torch.long)
        selectors.append(Selector(cfg.selection.metric, to_tensor(split.x_val, dev),
                                  to_tensor(split.y_val, dev, torch.long), g_val))
    t = cfg.train
    optim = OptimConfig(lr=t.lr, momentum=t.momentum, weight_decay=t.weight_decay, batch_size=t.batch_size,
                        epochs=t.epochs)
    torch.manual_seed(int(seed))  # model initialisation draws from the global generator
    return Run(
        cfg=cfg, seed=int(seed), device=dev, no_collective=no_collective, ds=ds, collective=collective,
        policies=policies, data=data, x_success=x_success,
        attack_mask=torch.as_tensor(ds.y_test != collective.target, device=dev),
        x=to_tensor(data.x_train, dev), y=to_tensor(data.y_train, dev, torch.long),
        members=torch.as_tensor(data.members, device=dev),
        groups=None if data.groups_train is None else to_tensor(data.groups_train, dev, torch.long),
        selectors=selectors, optim=optim, generator=torch.Generator().manual_seed(int(seed)),
        x_signal=to_tensor(x_success, dev), started=started,
    )


# ------------------------------------------------------------------------------------------------
# Many ERM-trained MLPs at once

#: Memory allowed for the stacked training inputs of one batched group (bytes).
BATCH_MEMORY = 512 * 2**20


def batch_key(cfg: EmpiricalConfig) -> str | None:
    """Cells with the same key can be trained as one stacked model; None: train alone.

    Stacking applies to ERM-trained MLPs without selection (``metric: last``) or augmentation: configurations
    that differ only in alpha and seed share data shape, architecture and schedule.
    """
    if (cfg.learner.name != "erm" or cfg.train.model != "mlp" or cfg.learner.candidates
            or cfg.selection.metric != "last" or cfg.train.augment.shift or cfg.train.augment.flip):
        return None
    dump = cfg.model_dump(mode="json")
    dump["collective"].pop("alpha")
    return json.dumps(dump, sort_keys=True)


def train_erm_mlps_batched(jobs: list[tuple[EmpiricalConfig, int, str, str]], device: str = "cpu") -> list[list[ResultRow]]:
    """Train the ERM MLPs of ``jobs`` ((cfg, seed, experiment, cell_id), same batch key) stacked.

    Each job gets exactly the data, initial weights and batch order that
    :func:`train_and_select` would give it, so its rows agree with the one-at-a-time rows up to
    floating-point rounding (tested).
    """
    from .batched import BatchedMLP, train_batched
    from .learners import FitReport
    from .train import WeightLedger

    runs, models = [], []
    for cfg, seed, _, _ in jobs:
        run = setup_run(cfg, seed, device)
        models.append(run.make_model())  # right after setup_run: the seeded initialisation
        run.start_candidate(0)
        runs.append(run)
    template = models[0]
    stacked = BatchedMLP.from_models(models).to(runs[0].device)

    def end_of_epoch(model, epoch):
        for run, single in zip(runs, model.unstack(template)):
            run.end_of_epoch(single, epoch)

    train_batched(stacked, torch.stack([r.x for r in runs]), torch.stack([r.y for r in runs]), runs[0].optim,
                  [r.generator for r in runs], on_epoch_end=end_of_epoch)
    out = []
    for run, final, (cfg, seed, experiment, cell_id) in zip(runs, stacked.unstack(template), jobs):
        ledger = WeightLedger(run.members)  # ERM weighs every point 1 in every epoch
        everyone = torch.arange(len(run.y), device=run.device)
        for _ in range(cfg.train.epochs):
            ledger.start_epoch()
            ledger.add(torch.ones(len(run.y), device=run.device), everyone)
        run.reports.append(FitReport(final, ledger))
        run.learners.append(make_learner("erm"))
        out.append(run.rows(experiment, cell_id))
    return out


def group_size_limit(cfg: EmpiricalConfig, n_inputs: int) -> int:
    """How many models of ``cfg`` fit one stacked group within BATCH_MEMORY (at least 1, at most 32)."""
    n = cfg.data.train_size or 60000
    return max(1, min(32, BATCH_MEMORY // max(1, n * n_inputs * 4)))
