"""Several collectives on real data (scikit-learn digits, real SGD): planting with deviating members,
one row per collective, the plain case unchanged, ERM / JTT / CVaR through the registry."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from collective_action import theory
from collective_action.collective import Collective
from collective_action.errors import InputError
from collective_action.experiment import load_experiment
from collective_action.empirical.data import load_digits
from collective_action.empirical.experiment import run
from collective_action.empirical.several import Planter, plant
from collective_action.empirical.signals import PatchSignal

ROOT = Path(__file__).resolve().parents[2]
C7 = ROOT / "experiments" / "c7_several_empirical.yaml"
CORNER = {"kind": "patch", "place": "corner", "size": 2}
TOP_LEFT = {"kind": "patch", "place": "top-left", "size": 2}
NOT_NUMBERS = {"config", "cell_id", "train_seconds"}


def _spec(collectives=None, alpha=0.1, learner=None, seeds=(0,), grid=None, selection=None, **config):
    cfg = {"data": {"name": "digits", "val_size": 200},
           "collective": {"alpha": alpha, "target": 0},
           "learner": learner or {"name": "erm"},
           "train": {"model": "mlp", "width": 64, "epochs": 8, "batch_size": 64, "lr": 0.05},
           **({"selection": selection} if selection else {}), **config}
    if collectives is None:
        cfg["signal"] = CORNER
    else:
        cfg["collectives"] = collectives
    return {"name": "several-digits", "pillar": "empirical", "seeds": list(seeds), "config": cfg,
            **({"grid": grid} if grid else {})}


def _by_collective(rows, column="success"):
    return rows.groupby("collective")[column].mean()


# ------------------------------------------------------------------------------------------
# Planting


def test_one_collective_plants_draw_for_draw_like_the_shared_collective():
    ds = load_digits()
    signal = PatchSignal(5, 5, 2)
    c = Collective(0.13, 4, signal)
    x1, y1, members = c.plant_in_training_set(ds.x_train, ds.y_train, np.random.default_rng(3))
    x2, y2, membership = plant(ds.x_train, ds.y_train, [Planter(c, 0.0, "keep-label")], 10, np.random.default_rng(3))
    assert np.array_equal(x1, x2) and np.array_equal(y1, y2) and np.array_equal(members, membership == 0)


def test_several_collectives_and_every_noise_kind_in_the_training_split():
    ds = load_digits()
    n = len(ds.y_train)
    corner, top_left = PatchSignal(5, 5, 2), PatchSignal(1, 1, 2)
    planted = [Planter(Collective(0.2, 0, corner), 0.5, "corrupted-signal"),
               Planter(Collective(0.2, 1, top_left), 0.5, "random-label"),
               Planter(Collective(0.2, 2, corner), 0.5, "keep-label")]
    x, y, membership = plant(ds.x_train, ds.y_train, planted, 10, np.random.default_rng(0))
    for k in range(3):
        assert (membership == k).sum() == round(0.2 * n)  # disjoint members, each its own share
    changed = (x != ds.x_train).any(axis=(1, 2, 3))

    def carries(signal, rows):
        return np.array([np.array_equal(signal(x[i:i + 1]), x[i:i + 1]) for i in rows])

    zero = np.flatnonzero(membership == 0)
    on_corner = carries(corner, zero)
    assert (y[zero] == 0).all()  # followers and corrupted deviators both report the target
    assert 0.4 < on_corner.mean() < 0.6  # half plant the patch where it belongs, half somewhere else
    assert changed[zero].all()
    one = np.flatnonzero(membership == 1)
    assert carries(top_left, one).all()  # random-label deviators plant the right patch
    assert 0.45 < (y[one] == 1).mean() < 0.65  # followers (1/2) + deviators with label 1 (1/2 x 1/10)
    assert len(np.unique(y[one])) == 10
    two = np.flatnonzero(membership == 2)
    kept = ~changed[two]
    assert 0.4 < kept.mean() < 0.6 and (y[two][kept] == ds.y_train[two][kept]).all()  # keep-label deviators
    rest = membership < 0
    assert np.array_equal(x[rest], ds.x_train[rest]) and np.array_equal(y[rest], ds.y_train[rest])


# ------------------------------------------------------------------------------------------
# The plain case


@pytest.mark.parametrize("learner", [{"name": "erm"}, {"name": "jtt", "hparams": {"T": 2, "upweight": 10}}])
def test_one_collective_without_noise_gives_the_plain_rows(learner):
    """collectives: [{signal: ...}] is the file without collectives:, number for number (both
    validation policies, so the validation split is planted too)."""
    selection = {"validation": "both", "metric": "average"}
    grid = {"collective.alpha": [0.03, 0.2]}
    plain = run(_spec(learner=learner, grid=grid, selection=selection), device="cpu")
    listed = run(_spec([{"signal": CORNER, "noise": {"share": 0.0, "kind": "corrupted-signal"}}], learner=learner,
                       grid=grid, selection=selection), device="cpu")
    assert len(plain) == len(listed) == 4
    for column in plain.columns:
        if column not in NOT_NUMBERS:
            assert plain[column].equals(listed[column]), column
    assert set(listed.columns) - set(plain.columns) >= {"collective", "noise_kind", "signal_layout", "alpha_0"}


def test_a_file_without_collectives_keeps_its_cell_ids():
    exp = load_experiment(_spec())
    cfg = exp.cells()[0].config
    assert not {"collectives", "shares", "noise"} & set(cfg)


# ------------------------------------------------------------------------------------------
# Several collectives, trained


def test_two_disjoint_collectives_both_succeed_at_large_alpha():
    rows = run(_spec([{"signal": CORNER}, {"alpha": 0.1, "target": 1, "signal": TOP_LEFT}], seeds=(0, 1)),
               device="cpu")
    assert len(rows) == 4 and set(rows["signal_layout"]) == {"0:own 1:own"}
    success = _by_collective(rows)
    assert success[0] > 0.9 and success[1] > 0.9
    assert (rows["clean_accuracy"] > 0.85).all()
    # ERM weighs every point 1: each collective's measured weight is its realised share
    assert np.allclose(rows["alpha_eff_measured"], rows["alpha_realised"])
    assert np.allclose(rows["alpha_realised"], round(0.1 * 1197) / 1197)
    assert (rows.groupby("seed")["clean_accuracy"].nunique() == 1).all()  # one model per seed


def test_tug_of_war_the_larger_collective_wins_under_erm():
    """The same patch with targets 0 and 1: the larger collective takes it, both ways round (trained
    long enough for the patch to be learnt: 15 epochs)."""
    big, small = 0.12, 0.03
    for a0, a1 in ((big, small), (small, big)):
        spec = _spec([{"signal": CORNER}, {"alpha": a1, "target": 1, "signal": CORNER}], alpha=a0, seeds=(0, 1))
        spec["config"]["train"]["epochs"] = 15
        rows = run(spec, device="cpu")
        assert set(rows["signal_layout"]) == {"0:own 1:same-as-0"}
        success = _by_collective(rows)
        winner, loser = (0, 1) if a0 > a1 else (1, 0)
        assert success[winner] > 0.7 and success[loser] < 0.2, success.to_dict()


def test_deviating_members_cost_the_collective_its_success():
    """Collective 0 at 0.06 succeeds when all follow; with 80% keeping their own points it has the
    effective share of a collective too small to plant (alpha_eff measured on all its members)."""
    plans = {eta: run(_spec([{"signal": CORNER, "noise": {"share": eta, "kind": "keep-label"}},
                             {"alpha": 0.1, "target": 1, "signal": TOP_LEFT}], alpha=0.06, seeds=(0, 1)),
                      device="cpu") for eta in (0.0, 0.8)}
    s = {eta: _by_collective(rows)[0] for eta, rows in plans.items()}
    assert s[0.0] > 0.8 and s[0.8] < s[0.0] - 0.3, s
    noisy = plans[0.8]
    first = noisy["collective"] == 0
    assert np.allclose(noisy.loc[first, "alpha_effective"], 0.2 * noisy.loc[first, "alpha_realised"])
    assert np.allclose(noisy.loc[~first, "alpha_effective"], noisy.loc[~first, "alpha_realised"])


@pytest.mark.parametrize("learner", [{"name": "jtt", "hparams": {"T": 2, "upweight": 10}},
                                     {"name": "cvar", "hparams": {"beta": 0.2}}])
def test_jtt_and_cvar_weigh_each_collective_through_the_registry(learner):
    """Every collective gets its own ledger and statistic from the one training: JTT's measured weight
    is theory's alpha_eff at each collective's own e*, e0 (exactly: stage-2 weights are fixed)."""
    rows = run(_spec([{"signal": CORNER}, {"alpha": 0.05, "target": 1, "signal": TOP_LEFT,
                                           "noise": {"share": 0.3, "kind": "random-label"}}], alpha=0.03,
                     learner=learner), device="cpu")
    assert len(rows) == 2 and rows["learner"].eq(learner["name"]).all()
    assert rows["alpha_eff_measured"].between(0, 1).all() and rows["alpha_eff_predicted"].notna().all()
    assert rows["alpha_eff_measured"].iloc[0] != rows["alpha_eff_measured"].iloc[1]
    for _, row in rows.iterrows():
        traj = json.loads(row["alpha_eff_trajectory"])
        assert len(traj) == 8 and all(0 < v < 1 for v in traj)
        if learner["name"] == "jtt":
            expected = theory.alpha_eff_jtt(row["alpha_realised"], 10, row["e_star"], row["e0"])
            assert row["alpha_eff_measured"] == pytest.approx(expected, rel=1e-5)
        else:
            assert abs(row["alpha_eff_predicted"] - row["alpha_eff_measured"]) < 0.05


# ------------------------------------------------------------------------------------------
# Configuration


@pytest.mark.parametrize("change,needle", [
    ({"signal": CORNER}, "remove signal"),
    ({"collectives": [{"signal": CORNER, "alpha": 0.1}]}, "give its alpha once"),
    ({"collectives": [{"signal": CORNER}, {"target": 1, "signal": CORNER}]}, "needs an alpha"),
    ({"collectives": [{"signal": CORNER}, {"alpha": 0.1, "target": 1, "strategy": "unplanting", "signal": CORNER}]},
     "several collectives plant with"),
    ({"collectives": [{"signal": CORNER}, {"alpha": 0.95, "target": 1, "signal": CORNER}]}, "sum to less than 1"),
    ({"collectives": [{"signal": CORNER, "noise": {"share": 0.2, "kind": "wander-off"}}]}, "kind"),
    ({"shares": {1: 0.1}, "collectives": None}, "there is none"),
])
def test_invalid_configurations(change, needle):
    spec = _spec([{"signal": CORNER}])
    for key, value in change.items():
        if value is None:
            spec["config"].pop(key)
            spec["config"]["signal"] = CORNER
        else:
            spec["config"][key] = value
    with pytest.raises(InputError, match=needle):
        load_experiment(spec).cells()


def test_a_target_the_data_lacks_is_refused_before_training():
    from collective_action.empirical.experiment import check_cells

    exp = load_experiment(_spec([{"signal": CORNER}, {"alpha": 0.1, "target": 12, "signal": TOP_LEFT}]))
    with pytest.raises(InputError, match="collective 1: target 12"):
        check_cells(exp.cells())


def test_the_shipped_file_runs_quick():
    exp = load_experiment(C7)
    cells = exp.cells(quick=True)
    assert len(exp.cells()) == 150 * 3 and len(cells) == 12
    rows = run(C7, quick=True, device="cpu")
    assert len(rows) == 2 * len(cells)
    assert set(rows["learner"]) == {"erm", "jtt", "cvar"}
    assert set(rows["signal_layout"]) == {"0:own 1:same-as-0", "0:own 1:own"}
    assert {"corrupted-signal", "keep-label"} == set(rows["noise_kind"])
    assert rows["success"].between(0, 1).all() and (rows["clean_accuracy"] > 0.3).all()
    assert all(math.isfinite(v) for v in rows["alpha_eff_measured"])
