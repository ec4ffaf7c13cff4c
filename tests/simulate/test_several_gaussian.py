"""Family gaussian-world with several collectives in the shared vocabulary: the same rows as
world.signal / world.second, deviators of every noise kind (sampler against density), and the base
law B_j of the integrated gap."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import special

from collective_action.errors import InputError
from collective_action.experiment import load_experiment
from collective_action.simulate.runner import run
from collective_action.simulate.stress_worlds import make_world, sample_world_batch

ROOT = Path(__file__).resolve().parents[2]
C7 = ROOT / "experiments" / "c7_several_gaussian.yaml"
NOT_NUMBERS = {"config", "cell_id", "experiment"}


def _signal(**kw):
    base = dict(placement="free", offset=0, n_coords=1, amplitude=1.5, direction=1, mode="additive",
                jitter=0.0, target=1, plant_prob=1.0)
    base.update(kw)
    return base


def _world(signals, **kw):
    args = dict(n_classes=3, d_class=3, separation=2.0, sigma=1.0, n_free=3, tau=1.0, priors=None,
                label_noise=0.0, signals=signals)
    args.update(kw)
    return make_world(**args)


def test_c7_gaussian_in_the_shared_vocabulary_gives_the_same_rows():
    """world.signal with plant_prob p and world.second, written as world.collectives with noise
    {share: 1 - p, kind: keep-label}: the same rows, number for number."""
    raw = yaml.safe_load(C7.read_text())
    items = copy.deepcopy(raw)
    world = items["config"]["world"]
    first, second = world.pop("signal"), world.pop("second")
    p = first.pop("plant_prob")
    world["collectives"] = [{"signal": first, "noise": {"share": 1.0 - p, "kind": "keep-label"}},
                            {"target": second["target"], "signal": second["signal"]}]
    world["shares"], world["noise"] = {}, {}
    grid = items["grid"]
    grid["world.shares.1"] = grid.pop("world.second.alpha")
    grid["world.noise.0"] = [1.0 - v for v in grid.pop("world.signal.plant_prob")]
    items["quick"]["world.shares.1"] = items["quick"].pop("world.second.alpha")
    items["grid"] = {k: grid[k] for k in ("learner", "world.shares.1", "world.noise.0", "collective.alpha")}
    flat_rows, item_rows = run(raw, quick=True), run(items, quick=True)  # the same grid order: the same row order
    assert len(flat_rows) == len(item_rows) > 0
    for column in flat_rows.columns:
        if column not in NOT_NUMBERS:
            assert flat_rows[column].equals(item_rows[column]), column
    assert set(item_rows["noise_kind"]) == {"keep-label"}
    assert set(item_rows["noise"]) == {0.0, 0.5}


def _file(collectives, **world):
    return {"name": "world-items", "pillar": "simulate", "seeds": [0],
            "config": {"family": "gaussian-world", "collective": {"alpha": 0.1, "target": 1},
                       "learner": {"name": "bayes"}, "n_train": 500, "n_test": 500, "theory_mc_samples": 2000,
                       "world": {"n_classes": 3, "d_class": 3, "separation": 2.0, "n_free": 2, "tau": 1.0,
                                 "collectives": collectives, **world}}}


@pytest.mark.parametrize("collectives,world,needle", [
    ([{"signal": {}}], {"second": {"alpha": 0.1, "target": 2}}, "remove world.signal and world.second"),
    ([{"signal": {}}], {"signal": {"amplitude": 2.0}}, "remove world.signal"),
    ([{"signal": {"plant_prob": 0.5}}], {}, "noise: {share: 0.5, kind: keep-label}"),
    ([{"signal": {}}, {"target": 5, "alpha": 0.1, "signal": {}}], {}, "target must be a label"),
    ([{"signal": {}}, {"target": 2, "signal": {}}], {}, "needs an alpha"),
    ([{"signal": {"n_coords": 2}, "noise": {"share": 0.2, "kind": "corrupted-signal"}}], {}, "no other offset"),
])
def test_invalid_world_collectives(collectives, world, needle):
    with pytest.raises(InputError, match=needle):
        load_experiment(_file(collectives, **world)).cells()


def test_a_world_without_collectives_keeps_its_cell_ids():
    """The new fields are left out of the serialised configuration (the cell id hashes it)."""
    for cell in load_experiment(C7).cells(quick=True):
        assert not {"collectives", "shares", "noise"} & set(cell.config["world"])


def test_overrides_need_world_collectives():
    spec = _file(None, shares={1: 0.1})
    spec["config"]["world"].pop("collectives")
    with pytest.raises(InputError, match="there is none"):
        load_experiment(spec).cells()


@pytest.mark.parametrize("kind", ["random-label", "corrupted-signal"])
def test_deviator_sampler_has_the_deviator_density(kind):
    """x ~ the sampler of deviators against x ~ P0 reweighted by N_j / P0 (importance sampling):
    the density normalises to 1 and gives the sampler's means of the signal's pool and its label law."""
    world = _world([_signal(noise_kind=kind, plant_prob=0.5)])
    rng = np.random.default_rng(0)
    n = 400_000
    x0, y0, _ = world.sample_base(n, rng)
    xd, yd = world.deviate(x0.copy(), y0.copy(), 0, rng)
    xb, _, _ = world.sample_base(n, np.random.default_rng(1))
    log_n = world.log_deviator_joint(xb, 0)
    w = np.exp(special.logsumexp(log_n, axis=1) - special.logsumexp(world.log_base_joint(xb), axis=1))
    assert abs(w.mean() - 1.0) < 0.03  # a normalised law
    pool = slice(world.means.shape[1], world.dim)
    sampled = xd[:, pool].mean(axis=0)
    weighted = (w[:, None] * xb[:, pool]).mean(axis=0)
    assert np.allclose(sampled, weighted, atol=0.05), (sampled, weighted)
    labels = np.exp(log_n - special.logsumexp(log_n, axis=1, keepdims=True))
    by_label = np.bincount(yd, minlength=world.n_classes) / n
    assert np.allclose(by_label, (w[:, None] * labels).mean(axis=0), atol=0.02)
    if kind == "corrupted-signal":  # the pattern lands on the two other free coordinates, never its own
        assert abs(sampled[0]) < 0.01 and np.allclose(sampled[1:], 0.75, atol=0.02)
        assert (yd == 1).all()


def test_training_sets_carry_the_deviators():
    world = _world([_signal(noise_kind="corrupted-signal", plant_prob=0.4), _signal(offset=1, target=2)])
    batch, planted, nominal = sample_world_batch(world, np.array([[0.5, 0.1]] * 2), np.arange(2), 4000, 100)
    assert abs(planted[:, 0].mean() - 0.2) < 0.03 and np.allclose(planted[:, 1], 0.1)
    members = batch.member[0]
    assert (batch.y[0, members] == 1).all()  # followers and corrupted deviators both report y*
    # the same world with keep-label deviators: same draws up to the deviators, who keep their points
    quiet = _world([_signal(plant_prob=0.4), _signal(offset=1, target=2)])
    same, _, _ = sample_world_batch(quiet, np.array([[0.5, 0.1]] * 2), np.arange(2), 4000, 100)
    assert (same.y[0, members] != 1).any()
    assert np.array_equal(batch.member, same.member)


def test_integrated_gap_uses_the_base_law_of_every_other_part():
    """B_0 = (P - a_0 P*_0)/(1 - a_0) in a tug of war with noisy deviators: the engine's Monte Carlo
    against a direct evaluation from the densities with the weights of the derivation."""
    world = _world([_signal(noise_kind="random-label", plant_prob=0.6), _signal(target=2, noise_kind="corrupted-signal",
                                                                                 plant_prob=0.5)])
    nominal = [0.4, 0.3]
    a = [0.4 * 0.6, 0.3 * 0.5]
    d = world.deviator_shares(nominal)
    assert d == pytest.approx([0.16, 0.15])
    gap, se = world.integrated_gap_mc(a, 0, 100_000, seed=5, deviators=d)
    rng = np.random.default_rng(9)
    n = 100_000
    weights = np.array([1 - sum(a) - sum(d), 0.0, a[1], d[0], d[1]]) / (1 - a[0])
    source = rng.choice(5, size=n, p=weights / weights.sum())
    x, y, _ = world.sample_base(n, rng)
    x[source == 2] = world.plant(x[source == 2], 1, rng)
    for j in (0, 1):
        pick = source == 3 + j
        x[pick], _ = world.deviate(x[pick], y[pick], j, rng)
    parts = [math.log(weights[0]) + world.log_base_joint(x), math.log(weights[2]) + world.log_collective_joint(x, 1),
             math.log(weights[3]) + world.log_deviator_joint(x, 0), math.log(weights[4]) + world.log_deviator_joint(x, 1)]
    logp = special.logsumexp(np.stack(parts), axis=0)
    post = np.exp(logp - special.logsumexp(logp, axis=1, keepdims=True))
    direct = np.maximum(np.delete(post, 1, axis=1).max(axis=1) - post[:, 1], 0.0)
    assert abs(gap - direct.mean()) < 4 * math.hypot(se, direct.std() / math.sqrt(n))


@pytest.mark.parametrize("kind", ["keep-label", "random-label", "corrupted-signal"])
def test_bayes_rows_against_theory_for_every_kind(kind):
    spec = _file([{"signal": {"amplitude": 3.0}, "noise": {"share": 0.4, "kind": kind}},
                  {"alpha": 0.1, "target": 2, "signal": {"offset": 1, "amplitude": 3.0},
                   "noise": {"share": 0.2, "kind": kind}}])
    spec["config"].update(n_test=4000, theory_mc_samples=20000)
    spec["grid"] = {"collective.alpha": [0.02, 0.1, 0.3]}
    rows = run(spec)
    assert set(rows["noise_kind"]) == {kind} and len(rows) == 6
    se = np.hypot(rows["success_se"], rows["success_theory_se"]).clip(lower=1e-3)
    assert ((rows["success"] - rows["success_theory"]).abs() <= 4 * se).all()
    assert (rows["success_bound"] <= rows["success_theory"] + 3 * rows["success_bound_se"] + 0.01).all()


def test_the_memory_estimate_counts_every_listed_collectives_test_points():
    from collective_action.simulate.footprint import footprint

    sig = {"placement": "free", "amplitude": 3.0}
    one = load_experiment(_file([{"signal": {**sig, "offset": 0}}])).cells()[0].validated_config()
    three = load_experiment(_file([{"signal": {**sig, "offset": 0}},
                                   {"alpha": 0.05, "target": 2, "signal": {**sig, "offset": 1}},
                                   {"alpha": 0.05, "target": 0, "signal": {**sig, "offset": 0}}])
                            ).cells()[0].validated_config()
    (p1, b1), (p3, b3) = footprint(one), footprint(three)
    assert p3 - p1 == 2 * 500 and b3 > b1   # two more signal test sets of n_test points
