"""DP-SGD in the shared training loop, with Opacus: per-sample clipping, noise, and the privacy spent.

:func:`make_private` wraps a model and its SGD optimiser the way Opacus does (a GradSampleModule
computes every point's gradient; a DPOptimizer clips each to norm ``max_grad_norm``, sums them,
adds N(0, (noise_multiplier * max_grad_norm)^2) noise and divides by the expected batch size).
The loop's batches are drawn by Poisson sampling (:func:`poisson_batches`: each point joins each
batch independently with probability q = batch_size / n), the sampling the RDP accountant
assumes, so :func:`privacy_spent` is the epsilon of the run as trained, not an approximation
for shuffled batches.
"""

from __future__ import annotations

import math
import warnings

import torch
from torch import nn

from collective_action.algorithms.privacy import privacy_spent  # noqa: F401  (re-exported: the loop's API)
from collective_action.errors import InputError


def check_model(model: nn.Module) -> None:
    """InputError when Opacus cannot compute per-sample gradients of ``model`` (batch norm mixes points)."""
    from opacus.validators import ModuleValidator

    errors = ModuleValidator.validate(model, strict=False)
    if errors:
        raise InputError(f"dp-sgd cannot train this model: {errors[0]} (use model mlp, linear or cnn)")


def make_private(model: nn.Module, optimizer: torch.optim.Optimizer, *, max_grad_norm: float,
                 noise_multiplier: float, batch_size: int, generator: torch.Generator):
    """(per-sample-gradient model, DP optimiser) for the shared loop; the model's weights are shared."""
    from opacus import GradSampleModule
    from opacus.optimizers import DPOptimizer

    check_model(model)
    # Opacus's hooks fire on the first layer, whose input needs no gradient: a harmless torch warning
    warnings.filterwarnings("ignore", message="Full backward hook is firing", category=UserWarning)
    private_model = GradSampleModule(model)
    private_optimizer = DPOptimizer(optimizer, noise_multiplier=noise_multiplier, max_grad_norm=max_grad_norm,
                                    expected_batch_size=batch_size, loss_reduction="mean",
                                    generator=_noise_generator(generator, model))
    return private_model, private_optimizer


def _noise_generator(generator: torch.Generator, model: nn.Module) -> torch.Generator:
    """A generator for the noise on the model's device, seeded from the run's generator (reproducible)."""
    device = next(model.parameters()).device
    g = torch.Generator(device=device)
    g.manual_seed(int(torch.randint(0, 2**62, (1,), generator=generator)))
    return g


def poisson_batches(n: int, batch_size: int, generator: torch.Generator, device) -> list[torch.Tensor]:
    """One epoch of Poisson-sampled batches: ceil(n / batch_size) batches, each point in each with q = batch_size / n."""
    q = min(1.0, batch_size / n)
    steps = math.ceil(n / batch_size)
    picks = torch.rand(steps, n, generator=generator) < q
    return [torch.nonzero(row).flatten().to(device) for row in picks]
