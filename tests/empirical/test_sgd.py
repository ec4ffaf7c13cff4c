"""The loop's own SGD performs torch.optim.SGD's update exactly, so replacing it changed no result."""

import subprocess
import sys

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from collective_action.empirical.sgd import HeavyBallSGD


def _run(make_opt, steps=25, frozen=False):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
    if frozen:  # a parameter without a gradient is left alone by both
        model[0].bias.requires_grad_(False)
    opt = make_opt(model.parameters())
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(64, 6, generator=g), torch.randint(0, 3, (64,), generator=g)
    for step in range(steps):
        idx = torch.randperm(64, generator=g)[:16]
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad(set_to_none=step % 2 == 0)
        loss.backward()
        opt.step()
    return [p.detach().clone() for p in model.parameters()]


@pytest.mark.parametrize("lr,momentum,weight_decay", [(0.05, 0.9, 0.0), (0.1, 0.0, 0.0), (0.03, 0.5, 1e-3),
                                                       (0.2, 0.0, 5e-2)])
@pytest.mark.parametrize("frozen", [False, True])
def test_bit_for_bit_equal_to_torch_sgd(lr, momentum, weight_decay, frozen):
    ours = _run(lambda ps: HeavyBallSGD(ps, lr=lr, momentum=momentum, weight_decay=weight_decay), frozen=frozen)
    torchs = _run(lambda ps: torch.optim.SGD(ps, lr=lr, momentum=momentum, weight_decay=weight_decay,
                                             foreach=False), frozen=frozen)
    for a, b in zip(ours, torchs):
        assert torch.equal(a, b)


def test_a_different_update_is_caught():
    """The comparison has power: a dampened momentum (torch's dampening=0.1) is not our update."""
    ours = _run(lambda ps: HeavyBallSGD(ps, lr=0.05, momentum=0.9))
    other = _run(lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, dampening=0.1, foreach=False))
    assert any(not torch.equal(a, b) for a, b in zip(ours, other))


def test_training_does_not_import_torch_dynamo():
    """The point of the class: a training run never pays torch._dynamo's import (about 1.5 s)."""
    code = ("import sys, torch\n"
            "from collective_action.empirical.train import OptimConfig, train_epochs\n"
            "m = torch.nn.Linear(3, 2); x = torch.randn(20, 3); y = torch.randint(0, 2, (20,))\n"
            "train_epochs(m, x, y, lambda l, i, e: torch.ones_like(l), OptimConfig(epochs=1, batch_size=8),\n"
            "             torch.Generator().manual_seed(0))\n"
            "print('torch._dynamo' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/")
    assert out.stdout.strip() == "False"


def test_a_warm_cli_training_run_imports_none_of_the_slow_modules(tmp_path):
    """The whole `train` path (validation, the cost estimate and stacking rule, training, the
    summary with its intervals) stays clear of torch._dynamo, scipy.special and numpy.f2py: the
    start-up goal depends on it."""
    exp = tmp_path / "one.yaml"
    exp.write_text("name: one\npillar: empirical\nseeds: 1\nconfig:\n"
                   "  data: {name: digits, val_size: 100, train_size: 300}\n"
                   "  collective: {alpha: 0.1, target: 8}\n"
                   "  train: {model: mlp, width: 16, epochs: 1}\n")
    code = ("import sys\n"
            "from collective_action.cli.main import main\n"
            "out = sys.argv[1]\n"
            f"try:\n    main(['train', {str(exp)!r}, '--out', out])\n"
            "except SystemExit as e:\n    assert not e.code, e.code\n"
            "print('torch._dynamo' in sys.modules, 'scipy.special' in sys.modules, 'numpy.f2py' in sys.modules)\n")
    # the first run fills the data cache (building digits imports scikit-learn); the second is a
    # warm start, as the start-up benchmark measures it
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "first")], capture_output=True, check=True, cwd="/")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "second")], capture_output=True, text=True,
                         check=True, cwd="/")
    # scipy.special (its t quantile) would add numpy.f2py's import: collective_action/t_quantile.py
    assert out.stdout.strip().splitlines()[-1] == "False False False"
