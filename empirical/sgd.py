"""Heavy-ball SGD with weight decay: the update of ``torch.optim.SGD``, without its start-up cost.

``torch.optim.Optimizer`` wraps its methods in ``torch._disable_dynamo``, whose first call imports
``torch._dynamo`` (about 1.5 s on a 2-core CPU, longer than a small training run). Every learner of
the pillar only needs plain SGD with momentum and weight decay, so the loop uses this class, which
performs the same tensor operations in the same order as ``torch.optim.SGD``'s single-tensor path
(``foreach=False``, no dampening, no Nesterov): parameters come out bit for bit equal
(tests/empirical/test_sgd.py). DP-SGD keeps ``torch.optim.SGD``, because Opacus's ``DPOptimizer``
wraps a ``torch.optim.Optimizer``.
"""

from __future__ import annotations

from typing import Iterable

import torch


class HeavyBallSGD:
    """``p <- p - lr * b``, ``b <- momentum * b + (grad + weight_decay * p)`` (``b`` starts at the first gradient)."""

    def __init__(self, params: Iterable[torch.Tensor], lr: float, momentum: float = 0.0,
                 weight_decay: float = 0.0):
        self.params = [p for p in params]
        self.lr, self.momentum, self.weight_decay = float(lr), float(momentum), float(weight_decay)
        self.buffers: list[torch.Tensor | None] = [None] * len(self.params)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad.detach_()
                p.grad.zero_()

    @torch.no_grad()
    def step(self) -> None:
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            grad = p.grad
            if self.weight_decay != 0:
                grad = grad.add(p, alpha=self.weight_decay)
            if self.momentum != 0:
                buf = self.buffers[i]
                if buf is None:
                    buf = torch.clone(grad).detach()
                    self.buffers[i] = buf
                else:
                    buf.mul_(self.momentum).add_(grad)
                grad = buf
            p.add_(grad, alpha=-self.lr)
