"""Many small MLPs trained at once as one batched model (stacked weights, ``torch.bmm``).

Sweeps over seeds and alpha values train many small models on data of the same shape. Python
and kernel-launch overhead dominate such tiny models, so stacking K models into one set of
``(K, ...)`` weight tensors and running every layer as one batched matrix product trains all K
for roughly the price of one.

Why this is exactly K independent trainings: the total loss is the *sum* over models of each
model's mean batch loss, so the gradient with respect to model k's weights is model k's own
gradient; SGD with momentum and weight decay acts element-wise, so one optimizer over the
stacked tensors equals K optimizers. Each model keeps its own data and its own batch order
(its own generator), so ``train_batched`` reproduces ``train.train_epochs`` model by model, up to
floating-point rounding (tested): with ERM weights, or with each model's own reweighting rule
(JTT, CVaR, chi-square DRO, group DRO: one weight per point, computed from that model's losses).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from collective_action.errors import InputError

from .models import MLP
from .train import OptimConfig, make_optimizer


class BatchedMLP(nn.Module):
    """K MLPs (flatten, ``depth`` ReLU layers of ``width``, linear read-out) with stacked weights."""

    def __init__(self, weights: list[torch.Tensor], biases: list[torch.Tensor]):
        super().__init__()
        # weights[l]: (K, fan_in, fan_out); biases[l]: (K, 1, fan_out)
        self.weights = nn.ParameterList([nn.Parameter(w) for w in weights])
        self.biases = nn.ParameterList([nn.Parameter(b) for b in biases])

    @property
    def n_models(self) -> int:
        return self.weights[0].shape[0]

    @classmethod
    def from_models(cls, models: list[MLP]) -> "BatchedMLP":
        """Stack K identically shaped :class:`MLP` modules (their current weights are copied)."""
        if not models:
            raise InputError("BatchedMLP needs at least one model")
        layers = [[m for m in model.net if isinstance(m, nn.Linear)] for model in models]
        if len({tuple(tuple(l.weight.shape) for l in ls) for ls in layers}) != 1:
            raise InputError("BatchedMLP: all models must have the same layer shapes")
        weights = [torch.stack([ls[i].weight.detach().T for ls in layers]).contiguous() for i in range(len(layers[0]))]
        biases = [torch.stack([ls[i].bias.detach()[None] for ls in layers]).contiguous() for i in range(len(layers[0]))]
        return cls(weights, biases)

    def unstack(self, template: MLP) -> list[MLP]:
        """K separate MLPs (deep copies of ``template``) carrying the trained weights."""
        import copy

        out = []
        for k in range(self.n_models):
            model = copy.deepcopy(template)
            linears = [m for m in model.net if isinstance(m, nn.Linear)]
            with torch.no_grad():
                for lin, w, b in zip(linears, self.weights, self.biases):
                    lin.weight.copy_(w[k].T)
                    lin.bias.copy_(b[k, 0])
            out.append(model)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: (K, B, ...) -> logits (K, B, n_classes)."""
        h = x.reshape(x.shape[0], x.shape[1], -1)
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(b, h, w)
            if i < last:
                h = torch.relu(h)
        return h


def train_batched(model: BatchedMLP, xs: torch.Tensor, ys: torch.Tensor, cfg: OptimConfig,
                  generators: list[torch.Generator], on_epoch_end=None, weighs: list | None = None,
                  ledgers: list | None = None) -> BatchedMLP:
    """SGD for every stacked model on its own data: ``xs`` (K, N, ...), ``ys`` (K, N).

    Without ``weighs`` every point weighs one (ERM). With them, model k's per-sample weights come
    from ``weighs[k]({"main": losses}, idx, epoch)["main"]`` exactly as the shared loop's
    ``weigh`` hook gives them (a reweighting algorithm's rule with its own state, empirical/learners.py
    :func:`prepare`), and model k steps on ``mean(weights * losses)``; ``ledgers[k]`` (if given)
    records the weights as the shared loop's ledger does. ``on_epoch_end(model, epoch)`` is called
    after every epoch (for selection and diagnostics).
    """
    k, n = ys.shape
    if xs.shape[:2] != (k, n) or len(generators) != k or model.n_models != k:
        raise InputError("train_batched: xs, ys, generators and the model must agree on K and N")
    if weighs is not None and (len(weighs) != k or (ledgers is not None and len(ledgers) != k)):
        raise InputError("train_batched: one weigh rule (and ledger) per stacked model")
    optimizer = make_optimizer(model, cfg)
    rows = torch.arange(k, device=xs.device)[:, None]
    for epoch in range(cfg.epochs):
        model.train()
        for ledger in ledgers or ():
            ledger.start_epoch()
        # one permutation per model, drawn exactly as train.minibatches draws it
        orders = torch.stack([torch.randperm(n, generator=g) for g in generators]).to(xs.device)
        for start in range(0, n, cfg.batch_size):
            idx = orders[:, start:start + cfg.batch_size]
            logits = model(xs[rows, idx])
            losses = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ys[rows, idx].reshape(-1),
                                     reduction="none").reshape(k, -1)
            if weighs is None:
                loss = losses.mean(dim=1).sum()  # sum of per-model means: gradients stay per model
            else:
                detached = losses.detach()
                weights = torch.stack([weighs[j]({"main": detached[j]}, idx[j], epoch)["main"] for j in range(k)])
                loss = (weights * losses).mean(dim=1).sum()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if weighs is not None and ledgers is not None:
                for j, ledger in enumerate(ledgers):
                    ledger.add(weights[j], idx[j])
        if on_epoch_end is not None:
            on_epoch_end(model, epoch)
    return model


@torch.no_grad()
def predict_batched(model: BatchedMLP, xs: torch.Tensor, shared: bool = False,
                    batch_size: int = 4096) -> torch.Tensor:
    """Predicted labels (K, N) for per-model inputs ``xs`` (K, N, ...), or for inputs (N, ...)
    shared by every model when ``shared``."""
    model.eval()
    if shared:
        xs = xs.expand(model.n_models, *xs.shape)
    return torch.cat([model(chunk).argmax(-1) for chunk in torch.split(xs, batch_size, dim=1)], dim=1)
