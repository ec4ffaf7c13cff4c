"""DP-SGD in the shared training loop, with Opacus: per-sample clipping, noise, and the privacy spent.

:func:`make_private` wraps a model and its SGD optimiser in one of Opacus's two modes; both clip
every point's gradient to norm ``max_grad_norm`` = C, sum them, add N(0, (noise_multiplier * C)^2)
noise and divide by the expected batch size, and their updates are equal to float rounding (tested):
- ghost clipping (Li et al. 2022; Opacus's ``grad_sample_mode="ghost"``) for models without
  convolutions: a first backward pass gives every point's gradient norm from the layer's
  activations and output gradients without storing per-point gradients (for a linear layer
  ||g_i a_i^T|| = ||g_i|| ||a_i||), a second one, on the per-point losses scaled by
  min(1, C / norm_i), the sum of clipped gradients. For the 784-256-10 MLP an epoch costs a
  twentieth of storing the per-point gradients, 100 MB a batch (24x on the idle 2-core machine,
  benchmarks/dp_sgd_bench.py);
- stored per-point gradients (Opacus's default, GradSampleModule + DPOptimizer) for models with
  convolutions, whose norms ghost clipping cannot take without storing the per-point gradients
  anyway, so its second backward pass through the convolutions only adds cost (0.9x for the CNN).
The loop's batches are drawn by Poisson sampling (:func:`poisson_batches`: each point joins each
batch independently with probability q = batch_size / n), the sampling the RDP accountant
assumes, so :func:`privacy_spent` is the epsilon of the run as trained, not an approximation
for shuffled batches.
"""

from __future__ import annotations

import copy
import math
import warnings
from dataclasses import dataclass

import torch
from torch import nn

from collective_action.algorithms.privacy import privacy_spent  # noqa: F401  (re-exported: the loop's API)
from collective_action.errors import InputError

# what Opacus leaves on each parameter; removed so the trained model is a plain module again
_PER_POINT_STATE = ("grad_sample", "summed_grad", "_norm_sample", "_forward_counter", "_current_grad_sample")
_HOOK_TABLES = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")


def check_model(model: nn.Module) -> None:
    """InputError when Opacus cannot compute per-sample gradients of ``model`` (batch norm mixes points)."""
    from opacus.validators import ModuleValidator

    errors = ModuleValidator.validate(model, strict=False)
    if errors:
        raise InputError(f"dp-sgd cannot train this model: {errors[0]} (use model mlp, linear or cnn)")


@dataclass
class PrivateTraining:
    """A model and optimiser wrapped for DP-SGD; :meth:`backward` replaces ``losses.mean().backward()``."""

    model: nn.Module  # Opacus's wrapper; it shares the plain model's weights
    optimizer: torch.optim.Optimizer  # Opacus's DP optimiser around the plain SGD
    ghost: bool  # ghost clipping (two backward passes) rather than stored per-point gradients

    def backward(self, losses: torch.Tensor) -> None:
        """Leave the gradient of the mean of ``losses`` (one per point) for the DP optimiser to clip and noise."""
        if not self.ghost:
            losses.mean().backward()  # hooks store every point's gradient; the optimiser clips them
            return
        from opacus.utils.fast_gradient_clipping_utils import DPTensorFastGradientClipping

        # leaves the sum of clipped per-point gradients; the optimiser adds noise and divides
        DPTensorFastGradientClipping(self.model, self.optimizer, losses, "mean").backward()

    def release(self, plain: nn.Module) -> None:
        """Remove Opacus's hooks, the last noisy gradient and the per-point state: ``plain`` is a plain module again."""
        self.model.remove_hooks()
        _strip_per_point_state(plain)


def plain_copy(model: nn.Module) -> nn.Module:
    """A copy of a model under training that carries none of Opacus's hooks or state (for the selector,
    which keeps copies of the model at chosen epochs and must not keep the training wrapper's hooks)."""
    copied = copy.deepcopy(model)
    for module in copied.modules():
        for table in _HOOK_TABLES:
            getattr(module, table).clear()
    _strip_per_point_state(copied)
    return copied


def _strip_per_point_state(model: nn.Module) -> None:
    """Drop every parameter's gradient and Opacus attributes, and the layers' stored activations."""
    for param in model.parameters():
        param.grad = None
        for attr in _PER_POINT_STATE:
            if hasattr(param, attr):
                delattr(param, attr)
    for module in model.modules():
        if hasattr(module, "activations"):
            del module.activations


def uses_ghost_clipping(model: nn.Module) -> bool:
    """Ghost clipping for models without convolutions (cheaper there; module docstring)."""
    return not any(isinstance(m, nn.modules.conv._ConvNd) for m in model.modules())


def make_private(model: nn.Module, optimizer: torch.optim.Optimizer, *, max_grad_norm: float,
                 noise_multiplier: float, batch_size: int, generator: torch.Generator,
                 ghost: bool | None = None) -> PrivateTraining:
    """DP-SGD's wrapping of ``model`` and its optimiser (the weights are shared); ``ghost`` defaults
    to :func:`uses_ghost_clipping`."""
    from opacus import GradSampleModule
    from opacus.grad_sample.grad_sample_module_fast_gradient_clipping import GradSampleModuleFastGradientClipping
    from opacus.optimizers import DPOptimizer
    from opacus.optimizers.optimizer_fast_gradient_clipping import DPOptimizerFastGradientClipping

    check_model(model)
    ghost = uses_ghost_clipping(model) if ghost is None else ghost
    # Opacus's hooks fire on the first layer, whose input needs no gradient: a harmless torch warning
    warnings.filterwarnings("ignore", message="Full backward hook is firing", category=UserWarning)
    noise = dict(noise_multiplier=noise_multiplier, max_grad_norm=max_grad_norm, expected_batch_size=batch_size,
                 loss_reduction="mean", generator=noise_generator(generator, model))
    if ghost:
        wrapped = GradSampleModuleFastGradientClipping(model, max_grad_norm=max_grad_norm, use_ghost_clipping=True,
                                                       loss_reduction="mean")
        return PrivateTraining(wrapped, DPOptimizerFastGradientClipping(optimizer, **noise), ghost=True)
    return PrivateTraining(GradSampleModule(model), DPOptimizer(optimizer, **noise), ghost=False)


def noise_generator(generator: torch.Generator, model: nn.Module) -> torch.Generator:
    """A generator for the noise on the model's device, seeded from the run's generator (reproducible;
    a reference run given the same generator adds the same noise)."""
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
