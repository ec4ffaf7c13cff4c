"""One (configuration, seed) from data to result row: the empirical pillar's unit of work.

Steps: load the data set, split it and plant the collective (:mod:`.splits`), build the signal,
train every hyper-parameter candidate of the learner with epoch-wise selection on the
validation set (:mod:`.selection`), then evaluate the selected model on clean test points
(clean, worst-class, worst-group accuracy) and on signal-carrying test points (success, by the
goal of the collective's strategy: planting f(g(x)) = y*, unplanting f(g(x)) != y*, erasing
f(g(x)) = f(x)), and read the collective's measured training weight and theory's prediction at the
selected epoch. An adaptive collective (unplanting, erasing) estimates the labels it plays from its
own rows (:mod:`.estimate`); on discrete data (``data: discrete``) each row also carries the trained
classifier's exact success against P0 and theory's exact Bayes success (:mod:`.exact`).
With several collectives (``collectives:``, :mod:`.several`) the same model gives one row per
collective and validation policy: its own success, weight and prediction, the shared clean accuracy.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from collective_action.algorithms import ALGORITHMS
from collective_action.collective import ERASE, PLANT, Collective, Goal
from collective_action.errors import InputError
from collective_action.results import ResultRow

from . import derived
from .config import EmpiricalConfig
from .augment import make_augment
from .data import Dataset, load_dataset, load_discrete
from .estimate import check_estimation, label_estimator
from .exact import exact_columns
from .learners import FitContext, fit, make_learner
from .metrics import accuracy, goal_success, success_rate, worst_class_accuracy, worst_subset_accuracy
from .models import build_model
from .selection import Selector
from .several import check_targets, collectives_of, layout_of, planters, prepare_several, signal_text
from .signals import make_signal
from .splits import PreparedData, prepare_policies, subsample_test, training_size
from .train import OptimConfig, predict, resolve_device, to_tensor



def build_dataset(cfg: EmpiricalConfig) -> Dataset:
    d = cfg.data
    if d.name == "spurious":
        return derived.make_spurious(seed=d.data_seed, agreement=d.agreement, classes_a=d.classes_a,
                                     classes_b=d.classes_b, n_val=max(d.val_size, 1), data_dir=d.data_dir)
    if d.name == "dominoes":
        return derived.make_dominoes(seed=d.data_seed, simple=d.simple, agreement=d.simple_agreement,
                                     margin=d.margin, data_dir=d.data_dir)
    if d.name == "discrete":
        p = d.discrete
        return load_discrete(p.n_points, p.n_labels, p.concentration, p.problem_seed, p.n_train, p.n_test,
                             d.data_seed)
    return load_dataset(d.name, d.data_dir)


def build_signal(cfg: EmpiricalConfig, ds: Dataset, spec=None):
    """The signal callable of ``spec`` (default: the configuration's ``signal:``) on ``ds``."""
    s = cfg.signal if spec is None else spec
    place = list(s.place) if isinstance(s.place, list) else s.place
    # Images live in [0, 1] and are clipped; MNIST-1D features are standardised, so not clipped.
    return make_signal(s.kind, ds.input_shape, place=place, size=s.size, high=s.high, low=s.low,
                       amplitude=s.amplitude, seed=s.seed, regions=ds.meta.get("regions"),
                       clip=ds.name != "mnist1d", signal_map=ds.meta.get("signal_map"))


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
    return signal_text(cfg.signal, cfg.collective.strategy)


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
    return train_and_select_each([cfg], seed, device, experiment=experiment, cell_ids=[cell_id],
                                 no_collective=no_collective)[0]


def training_key(cfg: EmpiricalConfig, seed: int) -> str:
    """Configurations (with their seeds) that share this key train the very same models: they differ
    at most in ``selection.metric``, which only chooses among the epochs and candidates that
    training visits (the selectors read the validation split; training never does)."""
    dump = cfg.model_dump(mode="json")
    dump["selection"].pop("metric")
    return json.dumps([dump, int(seed)], sort_keys=True)


def train_and_select_each(cfgs: list[EmpiricalConfig], seed: int, device: str = "cpu", *,
                          experiment: str = "empirical", cell_ids: list[str], no_collective: bool = False
                          ) -> list[list[ResultRow]]:
    """Train once for configurations of one :func:`training_key` and select for each: rows per configuration.

    Every configuration gets the rows its own :func:`train_and_select` would give (tested): the
    selectors of all of them watch the same training, which their scoring does not change. A
    selection metric that needs no extra training (early stopping on the validation split against
    the last epoch) is then compared on the same models, at the cost of one training.
    """
    keys = {training_key(c, seed) for c in cfgs}
    if len(keys) != 1:
        raise ValueError("train_and_select_each: the configurations differ in more than selection.metric")
    run = setup_run(cfgs[0], seed, device, no_collective=no_collective)
    # the first configuration's selectors, then the same validation splits scored by each other metric
    own = [run.selectors] + [[Selector(c.selection.metric, s.x_val, s.y_val, s.groups_val) for s in run.selectors]
                             for c in cfgs[1:]]
    run.selectors = [s for selectors in own for s in selectors]
    cfg = cfgs[0]
    for i, params in enumerate(cfg.learner.validated_candidates):  # validated when the file was loaded
        learner = ALGORITHMS[cfg.learner.name](params)
        run.start_candidate(i)
        run.reports.append(fit(learner, run.fit_context(on_epoch_end=run.end_of_epoch)))
        run.learners.append(learner)
    return [replace(run, cfg=c, selectors=selectors).rows(experiment, cell_id)
            for c, selectors, cell_id in zip(cfgs, own, cell_ids)]


@dataclass
class Measured:
    """One collective as a run measures it (the only one, or one of several)."""

    spec: object                     # collective_action.several.Resolved
    collective: Collective
    goal: Goal                       # what success means: the goal of the collective's strategy
    x_success: np.ndarray            # every test point with its signal planted: g(x), x ~ P0
    x_signal: torch.Tensor           # the same, on the device
    attack_mask: torch.Tensor        # test points whose label is not its y* (attack success)
    members: torch.Tensor            # bool per training point
    alpha_realised: float
    trajectory: list = field(default_factory=list)  # success per candidate and epoch; diagnostic only


@dataclass
class Run:
    """One (configuration, seed) prepared for training, and what training left behind."""

    cfg: EmpiricalConfig
    seed: int
    device: torch.device
    no_collective: bool
    ds: Dataset
    measured: list[Measured]         # collective 0 first
    policies: tuple[str, ...]
    data: PreparedData
    x: torch.Tensor
    y: torch.Tensor
    x_test: torch.Tensor             # the clean test points x ~ P0 (erasing's goal compares f(g(x)) with f(x))
    groups: torch.Tensor | None
    selectors: list[Selector]
    optim: OptimConfig
    generator: torch.Generator
    started: float
    reports: list = field(default_factory=list)
    learners: list = field(default_factory=list)

    @property
    def several(self) -> bool:
        """Whether the configuration lists its collectives (one row per collective, with their columns)."""
        return self.cfg.collectives is not None

    @property
    def collective(self) -> Collective:
        return self.measured[0].collective

    @property
    def members(self) -> torch.Tensor:
        return self.measured[0].members

    @property
    def other_members(self) -> tuple:
        return tuple(m.members for m in self.measured[1:])

    def make_model(self):
        t = self.cfg.train
        return build_model(t.model, self.ds.input_shape, self.ds.n_classes, t.width, t.depth).to(self.device)

    def fit_context(self, on_epoch_end=None) -> FitContext:
        """What the learners' fit needs for this run (the same for the one-model and the stacked loop)."""
        t = self.cfg.train
        return FitContext(self.make_model, self.x, self.y, self.members, self.optim, self.generator,
                          self.ds.n_classes, self.groups, self.data.n_groups, on_epoch_end=on_epoch_end,
                          augment=make_augment(t.augment.shift, t.augment.flip), other_members=self.other_members,
                          model_spec=(t.model, self.ds.input_shape, self.ds.n_classes, t.width, t.depth),
                          augment_spec=(t.augment.shift, t.augment.flip))

    def start_candidate(self, index: int) -> None:
        for selector in self.selectors:
            selector.candidate = index
        for m in self.measured:
            m.trajectory.append([])

    def success_of(self, model, m: Measured) -> float:
        """Collective ``m``'s success under its goal (erasing also predicts the clean test points)."""
        pred_clean = predict(model, self.x_test) if m.goal is ERASE else None
        return goal_success(m.goal, predict(model, m.x_signal), pred_clean, m.collective.target)

    def end_of_epoch(self, model, epoch: int) -> None:
        for selector in self.selectors:
            selector(model, epoch)
        for m in self.measured:
            m.trajectory[-1].append(round(self.success_of(model, m), 4))

    def rows(self, experiment: str, cell_id: str) -> list[ResultRow]:
        """Evaluate the model each selector chose; one row per validation policy (and collective)."""
        cfg, data, dev = self.cfg, self.data, self.device
        train_seconds = time.perf_counter() - self.started
        rows = []
        x_test, y_test = self.x_test, to_tensor(data.y_test, dev, torch.long)
        g_test = None if data.groups_test is None else to_tensor(data.groups_test, dev, torch.long)
        for policy, selector in zip(self.policies, self.selectors):
            choice = selector.best
            report, learner = self.reports[choice.candidate], self.learners[choice.candidate]
            upto = choice.epoch + 1
            pred_test = predict(choice.model, x_test)
            clean = accuracy(pred_test, y_test)
            worst_group = math.nan if g_test is None else worst_subset_accuracy(pred_test, y_test, g_test)
            worst_class = worst_class_accuracy(pred_test, y_test)
            hparams = learner.params.model_dump()
            for k, m in enumerate(self.measured):
                own = report if k == 0 else report.others[k - 1]  # the same training, collective k's bookkeeping
                target = m.collective.target
                pred_signal = predict(choice.model, m.x_signal)
                success = goal_success(m.goal, pred_signal, pred_test, target)
                # attack success counts planted y*: defined for planting goals only
                attack = success_rate(pred_signal[m.attack_mask], target) if m.goal is PLANT else math.nan
                alpha_real = m.alpha_realised
                measured = own.measured(upto) if not self.no_collective else math.nan
                collective_mean, base_mean = own.stat_means(upto)
                predicted = math.nan if self.no_collective else learner.predict_alpha_eff(
                    alpha_real, collective_mean, base_mean)
                stat_columns = {"e_star": math.nan, "e0": math.nan, "tail_share": math.nan}
                if learner.statistic is not None:
                    names = learner.stat_columns
                    stat_columns[names[0]] = collective_mean
                    if names[1]:
                        stat_columns[names[1]] = base_mean
                n_success = len(m.x_success)
                extra = {
                    "series": series_label(cfg, policy), "goal": m.goal.name,
                    "success_se": math.sqrt(success * (1 - success) / n_success) if n_success else math.nan,
                    "success_theory": math.nan, "success_bound": math.nan,
                    "worst_class_accuracy": worst_class,
                    "alpha_realised": 0.0 if self.no_collective else alpha_real,
                    **stat_columns,
                    "alpha_eff_trajectory": json.dumps([round(v, 6) for v in own.ledger.trajectory()]),
                    "success_trajectory": json.dumps(m.trajectory),
                    "val_scores": json.dumps([[c, e, round(v, 4)] for c, e, v in selector.history]),
                    "selected_epoch": choice.epoch, "selected_candidate": choice.candidate,
                    "selected_hparams": json.dumps(hparams, sort_keys=True),
                    "val_score": choice.score, "dataset": self.ds.name, "model": cfg.train.model,
                    "signal": signal_text(m.spec.signal, m.spec.strategy) if self.several else signal_label(cfg),
                    "validation": policy, "selection_metric": cfg.selection.metric,
                    "backend": "torch", "device": str(dev), "n_train": int(len(data.y_train)),
                    "n_test": int(len(data.y_test)), "epochs": cfg.train.epochs, "train_seconds": train_seconds,
                    **report.extra,
                }
                if self.several:
                    extra.update(self._several_columns(k))
                elif "p0" in self.ds.meta:  # discrete data: exact success against P0, and theory's
                    extra.update(exact_columns(self.ds, choice.model, data.played or m.collective,
                                               0.0 if self.no_collective else alpha_real))
                rows.append(ResultRow(
                    experiment=experiment, pillar="empirical", config=cfg.model_dump(mode="json"),
                    seed=int(self.seed), alpha=0.0 if self.no_collective else float(m.spec.alpha),
                    learner=cfg.learner.name, success=success, clean_accuracy=clean, worst_group_accuracy=worst_group,
                    alpha_eff_predicted=predicted, alpha_eff_measured=measured, attack_success=attack,
                    cell_id=cell_id, extra=extra,
                ))
        return rows

    def _several_columns(self, k: int) -> dict:
        """Columns of collective k's row that place it among the others (as the simulator's several rows)."""
        specs = [m.spec for m in self.measured]
        c = specs[k]
        return {"collective": k, "target": c.target, "strategy": c.strategy, "noise": c.noise, "noise_kind": c.kind,
                "alpha_effective": self.measured[k].alpha_realised * (1 - c.noise),
                "signal_layout": layout_of(specs), "alphas": json.dumps([d.alpha for d in specs]),
                **{f"alpha_{j}": d.alpha for j, d in enumerate(specs)}}


def setup_run(cfg: EmpiricalConfig, seed: int, device: str = "cpu", *, no_collective: bool = False) -> Run:
    """Data, collectives, validation selectors and seeded generators for one (configuration, seed).

    Seeding is fixed here so that every way of training the run (one model at a time, or many
    stacked) starts from the same weights and visits the batches in the same order.
    """
    started = time.perf_counter()
    dev = resolve_device(device)
    ds = subsample_test(build_dataset(cfg), cfg.data.test_size, cfg.data.data_seed)
    specs = collectives_of(cfg)
    signals = [build_signal(cfg, ds, c.signal if cfg.collectives is not None else None) for c in specs]
    collective = Collective(cfg.collective.alpha, cfg.collective.target, signals[0], cfg.collective.strategy,
                            estimator=label_estimator(ds.n_classes, cfg.estimator.l2), n_est=cfg.estimator.n_est)
    if collective.target >= ds.n_classes:
        raise InputError(f"collective.target {collective.target} is not a class of {ds.name} (0..{ds.n_classes - 1})")
    check_targets(specs, ds)
    check_estimation(cfg.collective.strategy, cfg.collective.alpha,
                     training_size(ds, cfg.data.train_size, cfg.data.val_size), cfg.estimator.n_est)
    policies = policies_of(cfg)
    several = cfg.collectives is not None and not no_collective
    planted = planters(specs, signals)
    if several:
        splits = [prepare_several(ds, planted, np.random.default_rng([int(seed), 7]), train_size=cfg.data.train_size,
                                  val_size=cfg.data.val_size, validation=policy) for policy in policies]
    else:  # one split and planting for every policy: an adaptive collective fits its estimate once
        splits = prepare_policies(ds, None if no_collective else collective, np.random.default_rng([int(seed), 7]),
                                  train_size=cfg.data.train_size, val_size=cfg.data.val_size, policies=policies)
    data = splits[0]
    measured = []
    for k, (spec, p) in enumerate(zip(specs, planted)):
        mine = data.members if not several else data.membership == k
        # success is measured over every test point (x ~ P0); attack success over those not of class y*
        x_success = p.collective.signal(ds.x_test)
        own = collective if k == 0 else p.collective
        measured.append(Measured(
            spec=spec, collective=own, goal=own.strategy_impl.goal, x_success=x_success,
            x_signal=to_tensor(x_success, dev),
            attack_mask=torch.as_tensor(ds.y_test != p.collective.target, device=dev),
            members=torch.as_tensor(mine, device=dev),
            alpha_realised=data.alpha_realised if not several else float(mine.mean())))
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
        cfg=cfg, seed=int(seed), device=dev, no_collective=no_collective, ds=ds, measured=measured,
        policies=policies, data=data,
        x=to_tensor(data.x_train, dev), y=to_tensor(data.y_train, dev, torch.long), x_test=to_tensor(data.x_test, dev),
        groups=None if data.groups_train is None else to_tensor(data.groups_train, dev, torch.long),
        selectors=selectors, optim=optim, generator=torch.Generator().manual_seed(int(seed)), started=started,
    )


# ------------------------------------------------------------------------------------------------
# Many ERM-trained MLPs at once

#: Memory allowed for the stacked training inputs of one batched group (bytes).
BATCH_MEMORY = 512 * 2**20


#: On the CPU, stacking pays only for small models: with one torch thread, 16 stacked MLPs
#: 40-100-10 (1e4 forward FLOPs per point) train 1.5-2.2x faster than one at a time, 16 stacked
#: MLPs 784-256-10 (4e5 FLOPs per point) 0.89-0.97x (benchmarks/stacking_bench.py, idle, RESULTS.md).
#: Larger models are compute-bound, and a stacked product is no faster than K separate ones.
CPU_STACK_MAX_FLOPS = 1e5


def batch_key(cfg: EmpiricalConfig, device: str = "cpu") -> str | None:
    """Cells with the same key can be trained as one stacked model; None: train alone.

    Stacking applies to MLPs without augmentation or hyper-parameter candidates, trained by ERM
    or by a reweighting algorithm that trains one model on the cross-entropy with its own
    per-point weights (JTT, CVaR, chi-square DRO, group DRO): configurations that differ only in
    alpha and seed share data shape, architecture and schedule. Epoch-wise selection works as in
    one model's loop: every epoch, each run's selectors score that run's unstacked model. On the
    CPU only models of at most ``CPU_STACK_MAX_FLOPS`` forward FLOPs per point are stacked.
    """
    algorithm = ALGORITHMS[cfg.learner.name]
    if (cfg.train.model != "mlp" or not stackable(algorithm) or cfg.learner.candidates
            or cfg.train.augment.shift or cfg.train.augment.flip
            or cfg.collectives is not None):  # several collectives: one row per collective, trained alone
        return None
    from .cost import forward_flops

    if not str(device).startswith("cuda") and forward_flops(cfg) > CPU_STACK_MAX_FLOPS:
        return None
    dump = cfg.model_dump(mode="json")
    dump["collective"].pop("alpha")
    return json.dumps(dump, sort_keys=True)


def stackable(algorithm) -> bool:
    """One model, the plain cross-entropy and the ordinary SGD step: the stacked loop can train it."""
    return algorithm.models == ("main",) and not algorithm.private and not algorithm.changes_loss


def train_mlps_batched(jobs: list[tuple[EmpiricalConfig, int, str, str]], device: str = "cpu") -> list[list[ResultRow]]:
    """Train the MLPs of ``jobs`` ((cfg, seed, experiment, cell_id), same batch key) stacked.

    Each job gets exactly the data, initial weights, batch order and (JTT) stage-1 model that
    :func:`train_and_select` would give it, so its rows agree with the one-at-a-time rows up to
    floating-point rounding (tested). ERM needs no weights; a reweighting algorithm's rule runs per
    model, with its own state, on that model's losses.
    """
    from .batched import BatchedMLP, train_batched
    from .learners import FitReport, prepare
    from .train import WeightLedger

    runs, models, prepared = [], [], []
    erm = jobs[0][0].learner.name == "erm"
    for cfg, seed, _, _ in jobs:
        run = setup_run(cfg, seed, device)
        run.start_candidate(0)
        learner = ALGORITHMS[cfg.learner.name](cfg.learner.validated_candidates[0])
        if erm:
            models.append(run.make_model())  # right after setup_run: the seeded initialisation
        else:  # stage 1 (JTT), the rule's state and the model, as fit() prepares them
            prepared.append(prepare(learner, run.fit_context()))
            models.append(prepared[-1].models["main"])
        run.learners.append(learner)
        runs.append(run)
    template = models[0]
    stacked = BatchedMLP.from_models(models).to(runs[0].device)

    def end_of_epoch(model, epoch):
        for run, single in zip(runs, model.unstack(template)):
            run.end_of_epoch(single, epoch)

    train_batched(stacked, torch.stack([r.x for r in runs]), torch.stack([r.y for r in runs]), runs[0].optim,
                  [r.generator for r in runs], on_epoch_end=end_of_epoch,
                  weighs=None if erm else [p.weigh for p in prepared],
                  ledgers=None if erm else [p.ledger for p in prepared])
    out = []
    for k, (run, final, (cfg, seed, experiment, cell_id)) in enumerate(zip(runs, stacked.unstack(template), jobs)):
        if erm:
            ledger = WeightLedger(run.members)  # ERM weighs every point 1 in every epoch
            everyone = torch.arange(len(run.y), device=run.device)
            for _ in range(cfg.train.epochs):
                ledger.start_epoch()
                ledger.add(torch.ones(len(run.y), device=run.device), everyone)
            run.reports.append(FitReport(final, ledger))
        else:
            prepared[k].models["main"] = final
            run.reports.append(prepared[k].report())
        out.append(run.rows(experiment, cell_id))
    return out


def group_size_limit(cfg: EmpiricalConfig, n_inputs: int) -> int:
    """How many models of ``cfg`` fit one stacked group within BATCH_MEMORY (at least 1, at most 32)."""
    n = cfg.data.train_size or 60000
    return max(1, min(32, BATCH_MEMORY // max(1, n * n_inputs * 4)))
