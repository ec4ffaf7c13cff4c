"""DP-SGD: per-sample clipping bounds every point's contribution, the privacy spent is Opacus's
accountant's, batches are Poisson-sampled, and a real training through the registry reports it."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from collective_action.algorithms import ALGORITHMS, validate_params
from collective_action.empirical.private import make_private, poisson_batches, privacy_spent, uses_ghost_clipping


def _model(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3))


def _update(model, x, y, *, clip, noise, batch_size, seed=0):
    """The parameter change of one DP step (lr 1, no momentum), flattened."""
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    private = make_private(model, opt, max_grad_norm=clip, noise_multiplier=noise, batch_size=batch_size,
                           generator=torch.Generator().manual_seed(seed))
    before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
    private.optimizer.zero_grad()
    private.backward(nn.functional.cross_entropy(private.model(x), y, reduction="none"))
    private.optimizer.step()
    private.release(model)
    after = torch.cat([p.detach().flatten() for p in model.parameters()])
    return before - after


def _steps_through_per_point_gradients(model, batches, *, clip, noise, batch_size, seed):
    """The oracle: Opacus's GradSampleModule stores every point's gradient, DPOptimizer clips each."""
    from opacus import GradSampleModule
    from opacus.optimizers import DPOptimizer

    from collective_action.empirical.private import noise_generator

    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
    wrapped = GradSampleModule(model)
    dp_opt = DPOptimizer(opt, noise_multiplier=noise, max_grad_norm=clip, expected_batch_size=batch_size,
                         generator=noise_generator(torch.Generator().manual_seed(seed), model))
    for xb, yb in batches:
        dp_opt.zero_grad()
        nn.functional.cross_entropy(wrapped(xb), yb).backward()
        dp_opt.step()
    wrapped.remove_hooks()
    return torch.cat([p.detach().flatten() for p in model.parameters()])


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
@pytest.mark.parametrize("noise", [0.0, 1.0])
@pytest.mark.parametrize("ghost", [True, False])
@pytest.mark.filterwarnings("ignore:Full backward hook is firing")  # the oracle's first layer (make_private filters it)
def test_both_clipping_modes_train_as_per_point_gradients_do(kind, noise, ghost):
    # Ghost clipping never stores a point's gradient; steps with momentum, weight decay and noise,
    # on batches of 23 points, one point and none (a noise-only step), must land where clipping the
    # stored per-point gradients lands (float32 rounding apart), in either mode on either model
    from collective_action.empirical.models import build_model

    def make_model(kind):
        torch.manual_seed(3)
        return build_model(kind, (1, 28, 28), 10, width=16)

    torch.manual_seed(1)
    x, y = torch.randn(60, 1, 28, 28) * 3, torch.randint(0, 10, (60,))
    batches = [(x[i:j], y[i:j]) for i, j in ((0, 23), (20, 21), (30, 30), (37, 60))]
    oracle = _steps_through_per_point_gradients(make_model(kind), batches,
                                                clip=0.5, noise=noise, batch_size=20, seed=7)
    model = make_model(kind)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
    private = make_private(model, opt, max_grad_norm=0.5, noise_multiplier=noise, batch_size=20,
                           generator=torch.Generator().manual_seed(7), ghost=ghost)  # the oracle's noise
    assert uses_ghost_clipping(model) == (kind == "mlp")  # by default the CNN stores per-point gradients
    for xb, yb in batches:
        private.optimizer.zero_grad()
        private.backward(nn.functional.cross_entropy(private.model(xb), yb, reduction="none"))
        private.optimizer.step()
    private.release(model)
    trained = torch.cat([p.detach().flatten() for p in model.parameters()])
    assert torch.isfinite(trained).all()
    assert (trained - oracle).abs().max().item() <= 1e-6 * oracle.abs().max().item() + 1e-7


def _hooks(model):
    return sum(len(getattr(m, t)) for m in model.modules()
               for t in ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks"))


def _opacus_state(model):
    return [a for p in model.parameters() for a in vars(p) if a in ("grad_sample", "summed_grad", "_norm_sample")] + \
        [m for m in model.modules() if hasattr(m, "activations")] + [p for p in model.parameters() if p.grad is not None]


@pytest.mark.parametrize("ghost", [True, False])
def test_copies_during_training_and_the_released_model_are_plain_modules(ghost):
    import copy

    from collective_action.empirical.private import plain_copy

    model = _model()
    private = make_private(model, torch.optim.SGD(model.parameters(), lr=0.1), max_grad_norm=1.0,
                           noise_multiplier=1.0, batch_size=8, generator=torch.Generator().manual_seed(0), ghost=ghost)
    x, y = torch.randn(8, 5, generator=torch.Generator().manual_seed(1)), torch.arange(8) % 3
    private.optimizer.zero_grad()
    private.backward(nn.functional.cross_entropy(private.model(x), y, reduction="none"))
    private.optimizer.step()
    assert _hooks(model) > 0 and _opacus_state(model)  # under training the model carries Opacus's hooks
    snapshot = plain_copy(model)  # what the selector keeps at an epoch's end
    private.release(model)
    for plain in (snapshot, model):
        assert _hooks(plain) == 0 and not _opacus_state(plain)
        again = copy.deepcopy(plain)  # and it trains as any module does
        nn.functional.cross_entropy(again(x), y).backward()
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in again.parameters())
    assert torch.equal(snapshot(x), model(x))


def test_no_point_moves_the_model_by_more_than_the_clip_norm():
    x = torch.randn(20, 5, generator=torch.Generator().manual_seed(0)) * 50  # large inputs, labelled against
    clip = 0.5  # the model: raw gradients far above C
    for i in range(20):
        model = _model(i)
        y = model(x).argmin(1).detach()
        raw = torch.autograd.grad(nn.functional.cross_entropy(model(x[i:i + 1]), y[i:i + 1]), list(model.parameters()))
        raw_norm = torch.cat([g.flatten() for g in raw]).norm()
        step = _update(model, x[i:i + 1], y[i:i + 1], clip=clip, noise=0.0, batch_size=1)
        assert raw_norm > 2 * clip  # clipping is active ...
        assert step.norm() <= clip * (1 + 1e-5)  # ... and the point's step is at most C
        assert step.norm() >= clip * (1 - 1e-4)  # (exactly C: the gradient was clipped, not dropped)


def test_a_batch_of_members_moves_the_model_by_at_most_its_size_times_c_over_the_batch():
    x = torch.randn(16, 5, generator=torch.Generator().manual_seed(0)) * 50
    y = torch.full((16,), 2)
    step = _update(_model(), x, y, clip=1.0, noise=0.0, batch_size=32)
    assert step.norm() <= 16 * 1.0 / 32 * (1 + 1e-5)


def test_noise_has_the_std_the_mechanism_says():
    # a batch whose loss gradient is zero: the step is pure noise, std = sigma * C / expected batch size
    model = nn.Linear(200, 2, bias=False)
    nn.init.zeros_(model.weight)
    x = torch.zeros(4, 200)
    y = torch.zeros(4, dtype=torch.long)
    step = _update(model, x, y, clip=2.0, noise=1.5, batch_size=4)
    assert step.std().item() == pytest.approx(1.5 * 2.0 / 4, rel=0.15)


def test_epsilon_is_opacus_accountant_for_the_same_run():
    from opacus.accountants import RDPAccountant

    for sigma, q, steps, delta in ((1.0, 0.01, 1000, 1e-5), (0.7, 0.05, 300, 1e-6), (2.0, 1.0, 10, 1e-5)):
        accountant = RDPAccountant()
        for _ in range(steps):
            accountant.step(noise_multiplier=sigma, sample_rate=q)
        assert privacy_spent(noise_multiplier=sigma, sample_rate=q, steps=steps, delta=delta) == pytest.approx(
            accountant.get_epsilon(delta=delta), rel=1e-9)
    # more noise spends less privacy, more steps more; no noise is no privacy
    assert privacy_spent(noise_multiplier=2.0, sample_rate=0.01, steps=100, delta=1e-5) < \
        privacy_spent(noise_multiplier=1.0, sample_rate=0.01, steps=100, delta=1e-5)
    assert privacy_spent(noise_multiplier=1.0, sample_rate=0.01, steps=1000, delta=1e-5) > \
        privacy_spent(noise_multiplier=1.0, sample_rate=0.01, steps=100, delta=1e-5)
    assert privacy_spent(noise_multiplier=0.0, sample_rate=0.01, steps=10, delta=1e-5) == math.inf


def test_full_batch_gaussian_mechanism_matches_the_rdp_closed_form():
    # q = 1: T Gaussian steps have RDP T * order / (2 sigma^2); Opacus converts with its improved bound.
    # Check against the classic conversion, which it may only improve on: eps <= min_order RDP + log(1/delta)/(order-1)
    sigma, steps, delta = 3.0, 5, 1e-5
    classic = min(steps * a / (2 * sigma**2) + math.log(1 / delta) / (a - 1) for a in [1 + x / 10 for x in range(1, 1000)])
    eps = privacy_spent(noise_multiplier=sigma, sample_rate=1.0, steps=steps, delta=delta)
    assert eps <= classic + 1e-9 and eps > 0.5 * classic


def test_poisson_batches_have_the_sampling_rate():
    g = torch.Generator().manual_seed(0)
    batches = poisson_batches(1000, 50, g, "cpu")
    assert len(batches) == 20
    sizes = torch.tensor([len(b) for b in batches], dtype=torch.float)
    assert sizes.mean().item() == pytest.approx(50, rel=0.15)
    again = poisson_batches(1000, 50, torch.Generator().manual_seed(0), "cpu")
    assert all(torch.equal(a, b) for a, b in zip(batches, again))


def test_dp_sgd_is_a_registry_entry_with_checked_parameters():
    from collective_action.errors import InputError

    entry = ALGORITHMS["dp-sgd"]
    assert entry.private and entry.pillars == {"empirical", "simulate"}
    assert validate_params("dp-sgd", {"noise_multiplier": 0.5}).max_grad_norm == 1.0
    with pytest.raises(InputError):
        validate_params("dp-sgd", {"max_grad_norm": 0})


def test_training_through_the_cli_reports_the_privacy_spent(cli, tmp_path):
    import yaml

    spec = {"name": "dp", "pillar": "empirical", "seeds": 1,
            "config": {"data": {"name": "digits", "val_size": 200}, "collective": {"alpha": 0.1, "target": 3},
                       "signal": {"kind": "patch", "place": "corner", "size": 3},
                       "learner": {"name": "dp-sgd", "hparams": {"noise_multiplier": 1.0}},
                       "train": {"model": "mlp", "width": 32, "epochs": 4, "batch_size": 64}}}
    path = tmp_path / "dp.yaml"
    path.write_text(yaml.safe_dump(spec))
    res = cli("train", path, "--out", tmp_path / "out", "--device", "cpu", "--json")
    assert res.exit_code == 0, res.stderr
    rows = cli("results", tmp_path / "out", "--format", "json")
    import io

    import pandas as pd

    frame = pd.read_json(io.StringIO(rows.stdout))
    r = frame.iloc[0]
    n = int(r["n_train"])
    steps = 4 * math.ceil(n / 64)
    assert r["dp_steps"] == steps and r["dp_sample_rate"] == pytest.approx(64 / n)
    assert r["dp_epsilon"] == pytest.approx(privacy_spent(noise_multiplier=1.0, sample_rate=64 / n, steps=steps,
                                                          delta=1e-5))
    assert 0 <= r["success"] <= 1 and r["clean_accuracy"] > 0.2  # it trained (chance: 0.1)
    spec["config"]["train"]["model"] = "resnet"
    path.write_text(yaml.safe_dump(spec))
    bad = cli("train", path, "--out", tmp_path / "never", "--device", "cpu")
    assert bad.exit_code == 2 and "batch norm" in bad.stderr and not (tmp_path / "never").exists()
