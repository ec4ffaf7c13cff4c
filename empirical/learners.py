"""Learning algorithms as small classes in one registry, hyper-parameters in one place.

Each learner trains a fresh model with the shared loop of :mod:`.train` and differs only in how
it weighs the per-sample losses of a batch (THEORY section 5):

=============  ====================================================================  ===========
name           weights                                                               defaults
=============  ====================================================================  ===========
``erm``        1 for every point                                                     --
``jtt``        stage 1: ERM for ``T`` epochs; its error set gets ``upweight``         T=1, 20
``cvar``       1/beta on the batch's top-``beta`` losses, 0 elsewhere                beta=0.2
``chi2``       proportional to (loss - eta)_+, eta set so the chi-square radius      rho=1.0
               of the batch weights is ``rho``
``lff``        CE_b / (CE_b + CE_d) from EMAs of a GCE-trained biased model b        q=0.7, 0.7
``group-dro``  exponentiated-gradient weights q_g over groups (classes when the      eta_q=0.01
               data set has no groups), shared by the points of a group
=============  ====================================================================  ===========

Every fit returns a :class:`FitReport`: the weight ledger (the collective's measured share of
the total training weight, per epoch) and the statistics theory needs to *predict* that share
(e*, e0 for JTT; the collective's tail share for CVaR; mean excess losses for chi-square DRO;
mean LfF weights), accumulated per epoch so that they can be read at the selected epoch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, ClassVar

import torch
from torch import nn
from torch.nn import functional as F

from collective_action.errors import InputError, check_choice

from .train import OptimConfig, WeightLedger, make_optimizer, minibatches, predict, train_epochs


@dataclass
class FitContext:
    """What a learner gets: data on the device, a model factory, SGD settings, hooks."""

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


@dataclass
class FitReport:
    """A finished fit: final model, weight ledger and per-epoch statistics for theory."""

    model: nn.Module
    ledger: WeightLedger
    # name -> per-epoch [member_sum, member_count, base_sum, base_count] accumulators
    stats: dict[str, list[list[float]]] = field(default_factory=dict)
    fixed: dict[str, float] = field(default_factory=dict)   # run-level numbers (e*, e0 of JTT)

    def measured(self, upto: int | None = None) -> float:
        return self.ledger.share(upto)

    def stat_means(self, name: str, upto: int | None = None) -> tuple[float, float]:
        """(mean over members, mean over base points) of statistic ``name`` in epochs [0, upto)."""
        rows = self.stats[name][:upto]
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


class Learner:
    """Base class: ``defaults`` lists every hyper-parameter with its default value."""

    name: ClassVar[str]
    defaults: ClassVar[dict[str, float]] = {}

    def __init__(self, **hparams):
        unknown = set(hparams) - set(self.defaults)
        if unknown:
            raise InputError(f"learner {self.name!r} has no hyper-parameter {sorted(unknown)[0]!r}; "
                             f"it takes: {', '.join(sorted(self.defaults)) or 'none'}")
        self.hparams = {**self.defaults, **{k: float(v) for k, v in hparams.items()}}
        self.check()

    def check(self) -> None:
        """Validate hyper-parameters (raise InputError)."""

    def fit(self, ctx: FitContext) -> FitReport:
        raise NotImplementedError

    def __repr__(self):
        args = ", ".join(f"{k}={v:g}" for k, v in self.hparams.items())
        return f"{self.name}({args})"


class ERM(Learner):
    """Empirical risk minimisation by (momentum) SGD: every point weighs 1."""

    name = "erm"

    def fit(self, ctx):
        model = ctx.make_model()
        ledger = WeightLedger(ctx.members)
        train_epochs(model, ctx.x, ctx.y, lambda losses, idx, epoch: torch.ones_like(losses), ctx.optim,
                     ctx.generator, ledger, ctx.on_epoch_end)
        return FitReport(model, ledger)


class JTT(Learner):
    """Just Train Twice: ERM for ``T`` epochs, then a fresh model with its error set upweighted.

    The stage-2 loss is ``mean(w * loss) / mean_all(w)``: the weighted risk with weights
    normalised over the whole training set, so that the step size means the same as for ERM.
    """

    name = "jtt"
    defaults = {"T": 1.0, "upweight": 20.0}

    def check(self):
        if self.hparams["T"] < 1 or self.hparams["T"] != int(self.hparams["T"]):
            raise InputError(f"jtt T must be a positive whole number of epochs, got {self.hparams['T']}")
        if self.hparams["upweight"] < 1:
            raise InputError(f"jtt upweight must be at least 1, got {self.hparams['upweight']}")

    def fit(self, ctx):
        stage1 = ctx.make_model()
        train_epochs(stage1, ctx.x, ctx.y, lambda losses, idx, epoch: torch.ones_like(losses), ctx.optim,
                     ctx.generator, epochs=int(self.hparams["T"]))
        errors = predict(stage1, ctx.x) != ctx.y
        weights = torch.where(errors, self.hparams["upweight"], 1.0).to(ctx.x.dtype)
        scale = weights.mean()
        e_star = float(errors[ctx.members].float().mean()) if ctx.members.any() else math.nan
        e0 = float(errors[~ctx.members].float().mean())
        model = ctx.make_model()
        ledger = WeightLedger(ctx.members)
        train_epochs(model, ctx.x, ctx.y, lambda losses, idx, epoch: weights[idx] / scale, ctx.optim,
                     ctx.generator, ledger, ctx.on_epoch_end)
        return FitReport(model, ledger, fixed={"e_star": e_star, "e0": e0})


class CVaR(Learner):
    """CVaR-DRO at level beta: each batch's loss is the mean of its top ceil(beta * B) losses."""

    name = "cvar"
    defaults = {"beta": 0.2}

    def check(self):
        if not 0 < self.hparams["beta"] <= 1:
            raise InputError(f"cvar beta must lie in (0, 1], got {self.hparams['beta']}")

    def fit(self, ctx):
        model = ctx.make_model()
        ledger = WeightLedger(ctx.members)
        in_tail = _StatAccumulator(ctx.members)
        beta = self.hparams["beta"]

        def weigh(losses, idx, epoch):
            k = max(1, math.ceil(beta * len(losses)))
            tail = torch.zeros_like(losses)
            tail[losses.topk(k).indices] = 1.0
            in_tail.add(tail, idx, epoch)
            return tail * (len(losses) / k)  # mean(w * loss) = mean of the top-k losses

        train_epochs(model, ctx.x, ctx.y, weigh, ctx.optim, ctx.generator, ledger, ctx.on_epoch_end)
        return FitReport(model, ledger, stats={"in_tail": in_tail.rows})


def chi2_weights(losses: torch.Tensor, rho: float, iters: int = 50) -> tuple[torch.Tensor, float]:
    """Worst-case weights of a batch in the chi-square ball of radius ``rho`` around uniform.

    The maximiser of sum p_i l_i subject to (1/2n) sum (n p_i - 1)^2 <= rho has the form
    p_i proportional to (l_i - eta)_+; the divergence grows with eta, so eta is found by
    bisection. Returns (weights scaled to mean 1, eta).
    """
    n = len(losses)

    def divergence(eta):
        p = (losses - eta).clamp_min(0)
        p = p / p.sum()
        return 0.5 * float(((n * p - 1) ** 2).mean())

    top = float(losses.max())
    if n == 1 or float(losses.min()) == top:
        return torch.ones_like(losses), float(losses.min()) - 1.0
    if rho >= 0.5 * (n - 1):  # the ball contains the point mass on the worst loss
        eta = float(torch.topk(losses, 2).values[1])
    else:
        spread = top - float(losses.min())
        lo, hi = float(losses.min()) - spread, top
        while divergence(lo) > rho:
            lo -= 2 * (top - lo)
        for _ in range(iters):
            mid = 0.5 * (lo + hi)
            if divergence(mid) > rho:
                hi = mid
            else:
                lo = mid
        eta = lo
    p = (losses - eta).clamp_min(0)
    return p * (n / p.sum()), eta


class ChiSquareDRO(Learner):
    """Chi-square DRO (radius rho), per batch: weights proportional to (loss - eta)_+."""

    name = "chi2"
    defaults = {"rho": 1.0}

    def check(self):
        if self.hparams["rho"] <= 0:
            raise InputError(f"chi2 rho must be positive, got {self.hparams['rho']}")

    def fit(self, ctx):
        model = ctx.make_model()
        ledger = WeightLedger(ctx.members)
        excess = _StatAccumulator(ctx.members)
        rho = self.hparams["rho"]

        def weigh(losses, idx, epoch):
            weights, eta = chi2_weights(losses, rho)
            excess.add((losses - eta).clamp_min(0), idx, epoch)
            return weights

        train_epochs(model, ctx.x, ctx.y, weigh, ctx.optim, ctx.generator, ledger, ctx.on_epoch_end)
        return FitReport(model, ledger, stats={"excess": excess.rows})


def gce_loss(logits: torch.Tensor, y: torch.Tensor, q: float) -> torch.Tensor:
    """Generalised cross-entropy (1 - p_y^q) / q per sample (Zhang & Sabuncu 2018)."""
    p_y = F.softmax(logits, dim=1).gather(1, y[:, None]).squeeze(1).clamp_min(1e-8)
    return (1 - p_y ** q) / q


class LfF(Learner):
    """Learning from Failure: a GCE-trained biased model b steers the weights of the debiased d.

    Per point, W = CE_b / (CE_b + CE_d) from exponential moving averages (factor ``ema``) of both
    models' losses; d minimises mean(W * CE_d). (The class-wise normalisation of the EMAs in the
    original paper is left out: it rescales within a class and would hide the collective's share.)
    """

    name = "lff"
    defaults = {"q": 0.7, "ema": 0.7}

    def check(self):
        if not 0 < self.hparams["q"] <= 1:
            raise InputError(f"lff q must lie in (0, 1], got {self.hparams['q']}")
        if not 0 <= self.hparams["ema"] < 1:
            raise InputError(f"lff ema must lie in [0, 1), got {self.hparams['ema']}")

    def fit(self, ctx):
        biased, model = ctx.make_model(), ctx.make_model()
        opt_b, opt_d = make_optimizer(biased, ctx.optim), make_optimizer(model, ctx.optim)
        ema_b = torch.zeros(len(ctx.y), device=ctx.x.device)
        ema_d = torch.zeros(len(ctx.y), device=ctx.x.device)
        decay, q = self.hparams["ema"], self.hparams["q"]
        ledger = WeightLedger(ctx.members)
        mean_w = _StatAccumulator(ctx.members)
        for epoch in range(ctx.optim.epochs):
            biased.train()
            model.train()
            ledger.start_epoch()
            for idx in minibatches(len(ctx.y), ctx.optim.batch_size, ctx.generator, ctx.x.device):
                xb, yb = ctx.x[idx], ctx.y[idx]
                logits_b, logits_d = biased(xb), model(xb)
                ce_b = F.cross_entropy(logits_b, yb, reduction="none").detach()
                ce_d = F.cross_entropy(logits_d, yb, reduction="none")
                ema_b[idx] = decay * ema_b[idx] + (1 - decay) * ce_b
                ema_d[idx] = decay * ema_d[idx] + (1 - decay) * ce_d.detach()
                w = ema_b[idx] / (ema_b[idx] + ema_d[idx] + 1e-8)
                loss = gce_loss(logits_b, yb, q).mean() + (w * ce_d).mean()
                opt_b.zero_grad(set_to_none=True)
                opt_d.zero_grad(set_to_none=True)
                loss.backward()
                opt_b.step()
                opt_d.step()
                ledger.add(w, idx)
                mean_w.add(w, idx, epoch)
            if ctx.on_epoch_end is not None:
                ctx.on_epoch_end(model, epoch)
        return FitReport(model, ledger, stats={"weight": mean_w.rows})


class GroupDRO(Learner):
    """Group DRO (Sagawa et al. 2020): exponentiated-gradient group weights q, step ``eta_q``.

    Groups are the data set's groups when it has them, else the classes. A point of group g in
    a batch with n_g points of that group weighs B * q_g / n_g.
    """

    name = "group-dro"
    defaults = {"eta_q": 0.01}

    def check(self):
        if self.hparams["eta_q"] <= 0:
            raise InputError(f"group-dro eta_q must be positive, got {self.hparams['eta_q']}")

    def fit(self, ctx):
        groups, n_groups = (ctx.groups, ctx.n_groups) if ctx.groups is not None else (ctx.y, ctx.n_classes)
        q = torch.full((n_groups,), 1.0 / n_groups, device=ctx.x.device)
        eta = self.hparams["eta_q"]

        def weigh(losses, idx, epoch):
            g = groups[idx]
            counts = torch.bincount(g, minlength=n_groups).to(losses.dtype)
            group_loss = torch.bincount(g, weights=losses, minlength=n_groups) / counts.clamp_min(1)
            present = counts > 0
            q.mul_(torch.exp(eta * group_loss * present))
            q.div_(q.sum())
            # Only groups present in the batch can carry weight; renormalise over them.
            q_present = q * present
            q_present = q_present / q_present.sum()
            return len(losses) * q_present[g] / counts[g]

        model = ctx.make_model()
        ledger = WeightLedger(ctx.members)
        train_epochs(model, ctx.x, ctx.y, weigh, ctx.optim, ctx.generator, ledger, ctx.on_epoch_end)
        return FitReport(model, ledger)


LEARNERS: dict[str, type[Learner]] = {cls.name: cls for cls in (ERM, JTT, CVaR, ChiSquareDRO, LfF, GroupDRO)}


def make_learner(name: str, hparams: dict | None = None) -> Learner:
    """The learner ``name`` with ``hparams`` overriding its defaults."""
    check_choice("learner", name, LEARNERS)
    return LEARNERS[name](**(hparams or {}))
