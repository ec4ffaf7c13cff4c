"""The empirical pillar's side of the algorithm registry: one fit for every learning algorithm.

:func:`fit` trains a registry algorithm (:mod:`collective_action.algorithms`) with the shared
loop of :mod:`.train`: a stage-1 ERM model first where the algorithm asks for one (JTT), then the
models it trains side by side (LfF's biased and debiased models), each mini-batch's detached
per-sample losses going through the algorithm's rule to become weights. Nothing here knows a
particular algorithm; its name, hyper-parameters, rule, statistic and theory live in its entry.

Every fit returns a :class:`FitReport`: the weight ledger (the collective's measured share of
the total training weight, per epoch) and the per-epoch membership sums of the algorithm's
statistic, so that theory's prediction can be read at the selected epoch. With several
collectives (``FitContext.other_members``) the report carries one such report per other
collective as well (``FitReport.others``), read from the same training.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from collective_action.algorithms import Algorithm, Start, check_name, get_algorithm

from . import stage1_cache
from .train import OptimConfig, WeightLedger, predict, train_epochs


@dataclass
class FitContext:
    """What a fit gets: data on the device, a model factory, SGD settings, hooks."""

    make_model: Callable[[], nn.Module]
    x: torch.Tensor
    y: torch.Tensor
    members: torch.Tensor                 # bool per training point
    optim: OptimConfig
    generator: torch.Generator
    n_classes: int
    groups: torch.Tensor | None = None    # group index per training point, if any
    n_groups: int = 0
    on_epoch_end: Callable[[nn.Module, int], None] | None = None
    augment: Callable | None = None       # transform of every training batch (empirical/augment.py)
    other_members: tuple = ()             # several collectives: a bool mask per collective after the first
    model_spec: tuple | None = None       # what make_model builds; None: stage 1 is never reused
    augment_spec: tuple = ()              # the augmentation's settings (part of stage 1's cache key)


@dataclass
class FitReport:
    """A finished fit: final model, weight ledger and per-epoch sums of the algorithm's statistic."""

    model: nn.Module
    ledger: WeightLedger
    # per-epoch [member_sum, member_count, base_sum, base_count] of the statistic
    stats: list[list[float]] = field(default_factory=list)
    extra: dict = field(default_factory=dict)   # algorithm-specific columns (DP-SGD: the privacy spent)
    others: list = field(default_factory=list)  # several collectives: a FitReport per other collective

    def measured(self, upto: int | None = None) -> float:
        return self.ledger.share(upto)

    def stat_means(self, upto: int | None = None, since: int = 0) -> tuple[float, float]:
        """(mean over members, mean over base points) of the statistic in epochs [since, upto)."""
        rows = self.stats[since:upto]
        ms, mc, bs, bc = (sum(r[i] for r in rows) for i in range(4))
        return (ms / mc if mc else math.nan), (bs / bc if bc else math.nan)


class _StatAccumulator:
    """Collects a per-sample statistic split by membership, one row per epoch."""

    def __init__(self, members: torch.Tensor):
        self.members = members
        self.rows: list[list[float]] = []
        self._epoch = -1

    def add(self, values: torch.Tensor, idx: torch.Tensor, epoch: int):
        while self._epoch < epoch:
            self.rows.append([0.0, 0.0, 0.0, 0.0])
            self._epoch += 1
        m = self.members[idx]
        row = self.rows[-1]
        row[0] += float(values[m].sum())
        row[1] += float(m.sum())
        row[2] += float(values[~m].sum())
        row[3] += float((~m).sum())


def _uniform(losses, idx, epoch):
    return torch.ones_like(losses)


class _Ledgers:
    """Several weight ledgers fed by one training loop (one per collective)."""

    def __init__(self, ledgers: list[WeightLedger]):
        self.ledgers = ledgers

    def start_epoch(self):
        for ledger in self.ledgers:
            ledger.start_epoch()

    def add(self, weights, idx):
        for ledger in self.ledgers:
            ledger.add(weights, idx)


def _bookkeeping(ctx: FitContext):
    """The ledger the loop feeds, and a (ledger, statistic) pair per collective (the first is ctx.members')."""
    masks = (ctx.members,) + tuple(ctx.other_members)
    pairs = [(WeightLedger(m), _StatAccumulator(m)) for m in masks]
    loop_ledger = pairs[0][0] if len(pairs) == 1 else _Ledgers([p[0] for p in pairs])
    return loop_ledger, pairs


def _report(model, pairs, extra=None) -> FitReport:
    (ledger, statistic), rest = pairs[0], pairs[1:]
    return FitReport(model, ledger, statistic.rows, extra or {},
                     [FitReport(model, other, stat.rows) for other, stat in rest])


@dataclass
class Prepared:
    """An algorithm ready for its training loop: initialised models, the weighing rule, bookkeeping."""

    models: dict[str, nn.Module]
    weigh: Callable          # (losses by model, idx, epoch) -> weights by model
    ledger: object           # fed by the loop: WeightLedger, or one per collective
    pairs: list              # (ledger, statistic accumulator) per collective

    def report(self) -> FitReport:
        return _report(self.models["main"], self.pairs)


def prepare(alg: Algorithm, ctx: FitContext) -> Prepared:
    """Stage 1 where the algorithm has one (JTT), the rule's state, the initialised models and the
    bookkeeping: everything but the training loop, so that one loop or a stacked one can run it."""
    errors = None
    if alg.stage1_length():
        def train_stage1():
            stage1 = ctx.make_model()
            train_epochs(stage1, ctx.x, ctx.y, _uniform, ctx.optim, ctx.generator, epochs=alg.stage1_length(),
                         augment=ctx.augment)
            return predict(stage1, ctx.x) != ctx.y

        # the model's shape and first weights come from make_model and torch's generator: both
        # are in the key (a model spec, and the random state)
        key = stage1_cache.fingerprint(ctx.x, ctx.y, ctx.generator, ctx.model_spec, ctx.optim,
                                       alg.stage1_length(), ctx.augment_spec, str(ctx.x.device))
        errors = (stage1_cache.stage1_errors(key, ctx.generator, train_stage1) if ctx.model_spec is not None
                  else train_stage1())
    groups, n_groups = (ctx.groups, ctx.n_groups) if ctx.groups is not None else (ctx.y, ctx.n_classes)
    state = alg.start(Start(labels=ctx.y, dtype=ctx.x.dtype, groups=groups, n_groups=n_groups,
                            stage1_errors=errors))
    models = {name: ctx.make_model() for name in alg.models}  # creation order = initialisation order
    ledger, pairs = _bookkeeping(ctx)

    def weigh(losses, idx, epoch):
        weights, stat = alg.weigh(state, losses, idx)
        if stat is not None:
            for _, statistic in pairs:
                statistic.add(stat, idx, epoch)
        weights["main"] = weights["main"] / alg.normaliser(state)
        return weights

    return Prepared(models, weigh, ledger, pairs)


def fit(alg: Algorithm, ctx: FitContext) -> FitReport:
    """Train ``alg`` on ``ctx``'s data; the main model is returned in the report."""
    if alg.private:
        return _fit_private(alg, ctx)
    p = prepare(alg, ctx)
    train_epochs(p.models, ctx.x, ctx.y, p.weigh, ctx.optim, ctx.generator, p.ledger, ctx.on_epoch_end,
                 loss_fn=alg.loss, augment=ctx.augment)
    return p.report()


def _fit_private(alg: Algorithm, ctx: FitContext) -> FitReport:
    """DP-SGD: the same loop with Poisson batches, per-sample clipping and noise (empirical/private.py)."""
    from .private import make_private, plain_copy, poisson_batches, privacy_spent

    p = alg.params
    model = ctx.make_model()
    # Opacus's DPOptimizer wraps a torch.optim.Optimizer, so DP-SGD keeps torch's SGD (same update)
    sgd = torch.optim.SGD(model.parameters(), lr=ctx.optim.lr, momentum=ctx.optim.momentum,
                          weight_decay=ctx.optim.weight_decay)
    private = make_private(model, sgd, max_grad_norm=p.max_grad_norm, noise_multiplier=p.noise_multiplier,
                           batch_size=ctx.optim.batch_size, generator=ctx.generator)
    ledger, pairs = _bookkeeping(ctx)
    # the selector copies the model it keeps: give it one without Opacus's hooks
    on_epoch_end = None if ctx.on_epoch_end is None else (lambda m, epoch: ctx.on_epoch_end(plain_copy(model), epoch))
    train_epochs(private.model, ctx.x, ctx.y, _uniform, ctx.optim, ctx.generator, ledger, on_epoch_end,
                 optimizer=private.optimizer, batches=poisson_batches, augment=ctx.augment, backward=private.backward)
    n = len(ctx.y)
    q = min(1.0, ctx.optim.batch_size / n)
    steps = ctx.optim.epochs * math.ceil(n / ctx.optim.batch_size)
    eps = privacy_spent(noise_multiplier=p.noise_multiplier, sample_rate=q, steps=steps, delta=p.delta)
    private.release(model)  # the model is evaluated and copied as a plain module from here on
    return _report(model, pairs, {"dp_epsilon": eps, "dp_delta": p.delta, "dp_sample_rate": q,
                                  "dp_steps": steps, "dp_noise_multiplier": p.noise_multiplier,
                                  "dp_max_grad_norm": p.max_grad_norm})


def make_learner(name: str, hparams: dict | None = None) -> Algorithm:
    """The registry algorithm ``name`` with ``hparams`` validated over its defaults."""
    check_name(name, "empirical")
    return get_algorithm(name, hparams)
