"""The plain training loop every learner shares, and evaluation helpers.

One epoch = one pass over a random permutation of the training points in mini-batches. Each
batch computes per-sample cross-entropy losses; the learner's ``weigh`` turns them into
non-negative per-sample weights (detached: the weights are the algorithm's choice, not something
to differentiate through), and SGD steps on ``mean(weights * losses)``. Because every learner
goes through the same ``weigh`` hook, the weight the algorithm gave the collective is measured
the same way for all of them: :class:`WeightLedger` sums the weights of members and of everyone,
epoch by epoch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from collective_action.errors import InputError

from .sgd import HeavyBallSGD

#: weigh(losses, idx, epoch) -> weights (same shape, detached, >= 0).
Weigh = Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]


@dataclass(frozen=True)
class OptimConfig:
    """SGD settings shared by every learner (DomainBed style: one place for the numbers)."""

    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 0.0
    batch_size: int = 128
    epochs: int = 3


def resolve_device(device: str) -> torch.device:
    """``cpu`` or ``cuda``; asking for CUDA without a usable CUDA device is bad input."""
    if device == "cpu":
        return torch.device("cpu")
    if device == "cuda":
        if not torch.cuda.is_available():
            raise InputError("device 'cuda' requested but torch sees no CUDA device; use --device cpu")
        return torch.device("cuda")
    raise InputError(f"unknown device {device!r}; choose one of: auto, cpu, cuda")


def pick_device(device: str) -> str:
    """``auto`` -> ``cuda`` when torch sees a CUDA device, else ``cpu``; ``cpu``/``cuda`` are checked."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return str(resolve_device(device))


def make_optimizer(model: nn.Module, cfg: OptimConfig) -> HeavyBallSGD:
    """The loop's SGD (torch.optim.SGD's update without its import of torch._dynamo; empirical/sgd.py)."""
    return HeavyBallSGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def minibatches(n: int, batch_size: int, generator: torch.Generator, device) -> list[torch.Tensor]:
    """Index batches of one epoch: a fresh random permutation cut into ``batch_size`` pieces."""
    order = torch.randperm(n, generator=generator).to(device)
    return list(torch.split(order, batch_size))


@dataclass
class WeightLedger:
    """Per-epoch sums of the weights given to collective members and to all points."""

    members: torch.Tensor  # bool per training point
    member_weight: list[float] = field(default_factory=list)
    total_weight: list[float] = field(default_factory=list)

    def start_epoch(self):
        self.member_weight.append(0.0)
        self.total_weight.append(0.0)

    def add(self, weights: torch.Tensor, idx: torch.Tensor):
        self.member_weight[-1] += float((weights * self.members[idx]).sum())
        self.total_weight[-1] += float(weights.sum())

    def share(self, upto: int | None = None) -> float:
        """The collective's share of the weight over epochs ``[0, upto)`` (all by default)."""
        total = sum(self.total_weight[:upto])
        return sum(self.member_weight[:upto]) / total if total > 0 else float("nan")

    def trajectory(self) -> list[float]:
        return [m / t if t > 0 else float("nan") for m, t in zip(self.member_weight, self.total_weight)]


def train_epochs(model, x: torch.Tensor, y: torch.Tensor, weigh: Weigh, cfg: OptimConfig,
                 generator: torch.Generator, ledger: WeightLedger | None = None,
                 on_epoch_end: Callable[[nn.Module, int], None] | None = None,
                 epochs: int | None = None, optimizer=None,
                 loss_fn: Callable | None = None, batches: Callable = None,
                 augment: Callable | None = None, backward: Callable[[torch.Tensor], None] | None = None):
    """Train for ``epochs`` (default ``cfg.epochs``) epochs of weighted SGD, in place.

    ``model`` is one module (``weigh`` maps a loss tensor to a weight tensor) or a dict of modules
    trained side by side on the same batches (``weigh`` maps a dict of losses to a dict of
    weights; the step is on the sum of their weighted means; ``"main"`` is the one the ledger and
    ``on_epoch_end`` see). ``loss_fn(logits, y)`` replaces the main model's cross-entropy.
    ``batches(n, batch_size, generator, device)`` draws an epoch's index batches (default: a
    shuffled pass, :func:`minibatches`; DP-SGD draws Poisson batches); an empty batch is skipped,
    except under ``backward`` (DP-SGD), where its step is noise alone, as the privacy accountant
    assumes of every step.
    ``augment(xb, generator)`` transforms each training batch (empirical/augment.py).
    ``optimizer`` (single model only; default :func:`make_optimizer`) needs ``zero_grad`` and ``step``.
    ``backward(losses)`` (single model only) replaces ``losses.mean().backward()`` on the weighted
    per-point losses (DP-SGD clips each point's gradient in it, empirical/private.py).
    """
    batches = batches or minibatches
    single = isinstance(model, nn.Module)
    if backward is not None and not single:
        raise ValueError("backward= trains one model; it was given several")
    models = {"main": model} if single else model
    optimizers = {name: (optimizer if single and optimizer is not None else make_optimizer(m, cfg))
                  for name, m in models.items()}
    for epoch in range(cfg.epochs if epochs is None else epochs):
        for m in models.values():
            m.train()
        if ledger is not None:
            ledger.start_epoch()
        for idx in batches(len(y), cfg.batch_size, generator, x.device):
            if len(idx) == 0 and backward is None:
                continue
            xb, yb = x[idx], y[idx]
            if augment is not None:
                xb = augment(xb, generator)
            losses = {}
            for name, m in models.items():
                logits = m(xb)
                custom = loss_fn(logits, yb) if (loss_fn is not None and name == "main") else None
                losses[name] = F.cross_entropy(logits, yb, reduction="none") if custom is None else custom
            if single:
                weights = {"main": weigh(losses["main"].detach(), idx, epoch)}
            else:
                weights = weigh({k: v.detach() for k, v in losses.items()}, idx, epoch)
            for opt in optimizers.values():
                opt.zero_grad(set_to_none=True)
            if backward is not None:
                backward(weights["main"] * losses["main"])
            else:
                loss = None
                for name in models:
                    term = (weights[name] * losses[name]).mean()
                    loss = term if loss is None else loss + term
                loss.backward()
            for opt in optimizers.values():
                opt.step()
            if ledger is not None:
                ledger.add(weights["main"], idx)
        if on_epoch_end is not None:
            on_epoch_end(models["main"], epoch)
    return model


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
    """Predicted labels of ``x`` (evaluation mode; batched to bound memory)."""
    model.eval()
    if len(x) == 0:
        return torch.zeros(0, dtype=torch.long, device=x.device)
    return torch.cat([model(chunk).argmax(1) for chunk in torch.split(x, batch_size)])


def to_tensor(a: np.ndarray, device, dtype=torch.float32) -> torch.Tensor:
    """A tensor copy of ``a`` on ``device`` (copied: cached data sets are read-only arrays)."""
    return torch.tensor(np.asarray(a), dtype=dtype, device=device)
