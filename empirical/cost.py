"""How much work a cell's training is, relative to other cells: the order a sweep starts them in.

A pool that starts the longest cells first finishes sooner (no worker is left alone with one CNN
at the end; longest-processing-time-first scheduling). The estimate is the multiply-adds of
training: training points x epochs x forward FLOPs per point (counted on the cell's real model by
forward hooks on its linear and convolution layers, the operations torch's FlopCounterMode counts;
FlopCounterMode itself imports torch._dynamo, about 1.5 s of start-up), times the learner's
passes (LfF trains two models, JTT adds its stage-1 epochs, DP-SGD clips every point's gradient)
and its hyper-parameter candidates. It orders cells; it never changes what a cell computes.
"""

from __future__ import annotations

import math
from functools import lru_cache

from collective_action.algorithms import ALGORITHMS
from collective_action.experiment import Cell

from .config import EmpiricalConfig

#: a DP-SGD step against a plain one: ghost clipping's second backward pass (MLP, 2.8x) or
#: stored per-point gradients (CNN, 1.8x; benchmarks/dp_sgd_bench.py); only orders cells
PRIVATE_FACTOR = 2.0


def estimate_cost(cell: Cell) -> float:
    """Relative training cost of ``cell`` (multiply-adds, up to a constant factor)."""
    from .runner import build_dataset
    from .splits import training_size

    cfg: EmpiricalConfig = cell.validated_config()
    ds = build_dataset(cfg)  # cached per process: the sweep's parent has built it for check_cells
    n = training_size(ds, cfg.data.train_size, cfg.data.val_size)
    t = cfg.train
    per_point = forward_flops(cfg, ds)
    total = 0.0
    for params in cfg.learner.validated_candidates:
        algorithm = ALGORITHMS[cfg.learner.name](params)
        epochs = len(algorithm.models) * t.epochs + (algorithm.stage1_length() or 0)
        total += epochs * (PRIVATE_FACTOR if algorithm.private else 1.0)
    return float(n * per_point * total)


def forward_flops(cfg: EmpiricalConfig, ds=None) -> float:
    """Forward FLOPs per point of the configuration's model (also the pillar's CPU stacking rule);
    ``ds``: the configuration's data set when the caller has it already."""
    from .runner import build_dataset

    ds = ds if ds is not None else build_dataset(cfg)
    t = cfg.train
    return forward_flops_per_point(t.model, tuple(ds.input_shape), int(ds.n_classes), t.width, t.depth)


@lru_cache(maxsize=64)
def forward_flops_per_point(model: str, input_shape: tuple[int, ...], n_classes: int, width: int | None, depth: int) -> float:
    """FLOPs (2 per multiply-add) of one point's forward pass through the matrix products and
    convolutions of the model, as torch's FlopCounterMode counts them (tested equal)."""
    import torch
    from torch import nn

    from .models import build_model

    net = build_model(model, input_shape, n_classes, width, depth)
    total = [0]

    def count(module, inputs, output):
        if isinstance(module, nn.Linear):
            total[0] += 2 * module.in_features * module.out_features * (output.numel() // module.out_features)
        else:  # a convolution: every output element is a dot product over its receptive field
            total[0] += 2 * (module.in_channels // module.groups) * math.prod(module.kernel_size) * output.numel()

    hooks = [m.register_forward_hook(count) for m in net.modules()
             if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d))]
    try:
        with torch.no_grad():
            net(torch.zeros((1, *input_shape)))
    finally:
        for h in hooks:
            h.remove()
    return float(max(total[0], 1))
