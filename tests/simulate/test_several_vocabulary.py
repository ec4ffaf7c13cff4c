"""Family discrete-several in the shared vocabulary (collective_action.several): the same rows as the
flat entries, its checks, and corrupted-signal deviators drawn member by member."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import yaml

from collective_action.errors import InputError
from collective_action.experiment import load_experiment
from collective_action.simulate import several as fam
from collective_action.simulate.runner import run
from collective_action.theory import several as sev

ROOT = Path(__file__).resolve().parents[2]
C7 = ROOT / "experiments" / "c7_several_discrete.yaml"
NOT_NUMBERS = {"config", "cell_id", "experiment"}


def _as_item(flat: dict) -> dict:
    """A flat entry written in the shared vocabulary."""
    signal = {"size": flat.get("signal_size", 2), "points": flat.get("signal", "disjoint")}
    if "same_signal_as" in flat:
        signal = {"same_as": flat["same_signal_as"]}
    if "g" in flat:
        signal = {"g": flat["g"]}
    item = {"signal": signal, "noise": {"share": flat.get("noise", 0.0), "kind": flat.get("noise_kind", "keep-label")}}
    for key in ("alpha", "target"):
        if key in flat:
            item[key] = flat[key]
    return item


def test_c7_in_the_shared_vocabulary_gives_the_same_rows():
    raw = yaml.safe_load(C7.read_text())
    items = copy.deepcopy(raw)
    items["config"]["several"]["collectives"] = [_as_item(e) for e in raw["config"]["several"]["collectives"]]
    items["grid"]["several.collectives"] = [[_as_item(e) for e in layout] for layout in raw["grid"]["several.collectives"]]
    flat_rows, item_rows = run(raw, quick=True), run(items, quick=True)
    assert len(flat_rows) == len(item_rows) > 0
    for column in flat_rows.columns:
        if column not in NOT_NUMBERS:
            assert flat_rows[column].equals(item_rows[column]), column
    assert not set(flat_rows["cell_id"]) & set(item_rows["cell_id"])  # another configuration, another id


def _file(collectives, **section):
    return {"name": "sev-items", "pillar": "simulate", "seeds": [0],
            "config": {"family": "discrete-several", "collective": {"alpha": 0.1, "target": 1},
                       "learner": {"name": "plug-in"}, "n_train": 10_000, "n_test": 1000,
                       "several": {"n_points": 6, "n_labels": 3, "problem_seed": 1, "collectives": collectives,
                                   **section}}}


@pytest.mark.parametrize("collectives,section,needle", [
    ([{"alpha": 0.1, "signal": {}}], {}, "give its alpha once"),
    ([{"signal": {}}, {"target": 2, "signal": {}}], {}, "needs an alpha"),
    ([{"signal": {}}, {"alpha": 0.1, "signal": {}}], {}, "needs a target"),
    ([{"signal": {}}, {"target": 2, "alpha": 0.1, "signal": {}}], {"shares": {1: 0.2}}, "give its alpha once"),
    ([{"signal": {}}, {"target": 2, "alpha": 0.95, "signal": {}}], {}, "sum to less than 1"),
    ([{"signal": {}}, {"target": 2, "alpha": 0.1, "signal": {"same_as": 1}}], {}, "earlier collective"),
    ([{"signal": {}}, {"target": 2, "alpha": 0.1, "strategy": "feature-only", "signal": {}}], {}, "feature-label"),
    ([{"signal": {}, "noise": {"share": 0.1, "kind": "wander-off"}}], {}, "kind"),
    ([{"signal": {}, "noise": {"share": 1.0}}], {}, "share"),
    ([{"signal": {}}, {"target": 2, "alpha": 0.1, "signal_size": 2}], {}, "the same way"),
    ([{"signal": {}}], {"noise": {3: 0.1}}, "no collective 3"),
])
def test_invalid_item_configurations(collectives, section, needle):
    with pytest.raises(InputError, match=needle):
        load_experiment(_file(collectives, **section)).cells()


def test_items_sweep_through_the_overrides():
    spec = _file([{"signal": {"size": 2}, "noise": {"share": 0.0, "kind": "corrupted-signal"}},
                  {"target": 2, "signal": {"same_as": 0}}], shares={}, noise={})
    spec["grid"] = {"several.shares.1": [0.05, 0.2], "several.noise.0": [0.0, 0.5]}
    cfgs = [c.validated_config() for c in load_experiment(spec).cells()]
    assert sorted({tuple(fam.shares_of(v)) for v in cfgs}) == [(0.1, 0.05), (0.1, 0.2)]
    assert sorted({fam.noises_of(v)[0] for v in cfgs}) == [0.0, 0.5]
    assert {fam.collectives_of(v)[0].kind for v in cfgs} == {"corrupted-signal"}
    assert {fam.layout_of(v) for v in cfgs} == {"0:own 1:same-as-0"}


def test_corrupted_members_follow_theorys_law():
    """The member-by-member draw of a corrupted-signal collective has theory's P*_k as its law:
    a chi-square test on 10^6 members of random problems (the family's own check of the table)."""
    from scipy import stats

    rng = np.random.default_rng(9)
    p_values = []
    for i in range(20):
        X, Y = int(rng.integers(2, 7)), int(rng.integers(2, 4))
        p0 = rng.dirichlet(np.ones(X * Y)).reshape(X, Y)
        g = rng.integers(0, X, size=X)
        c = sev.Collective(0.2, g, int(rng.integers(0, Y)), float(rng.uniform(0.05, 0.9)), "corrupted-signal")
        problem = sev.SeveralProblem(p0, (c,))
        m = 1_000_000
        counts = fam._corrupted_members(problem, 0, m, np.random.default_rng(i)).ravel()
        expected = m * problem.pstar(0).ravel()
        seen = expected > 0
        assert counts[~seen].sum() == 0
        p_values.append(stats.chisquare(counts[seen], expected[seen] * counts.sum() / expected[seen].sum()).pvalue)
    # under the right law the p-values are uniform: none tiny, not all small
    assert min(p_values) > 1e-4 and np.median(p_values) > 0.05, p_values


def test_corrupted_rows_against_theory():
    spec = _file([{"signal": {"size": 2}, "noise": {"share": 0.6, "kind": "corrupted-signal"}},
                  {"alpha": 0.1, "target": 2, "signal": {"size": 1}, "noise": {"share": 0.5, "kind": "corrupted-signal"}}])
    spec["config"]["n_train"] = 10_000_000
    spec["config"]["n_test"] = 20_000
    spec["seeds"] = [0, 1, 2]
    spec["grid"] = {"collective.alpha": [0.02, 0.1, 0.3]}
    rows = run(spec)
    assert set(rows["noise_kind"]) == {"corrupted-signal"}
    se = rows["success_se"].clip(lower=1e-12)
    assert ((rows["success"] - rows["success_theory"]).abs() <= 3 * se + 1e-12).mean() >= 0.9
    for key in ("success_bound", "success_bound_integrated", "success_bound_shares"):
        assert (rows[key] <= rows["success_theory"] + 1e-9).all()
