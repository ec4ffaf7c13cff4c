"""Every claim's figure module draws from a small stored table; the output is checked for content."""

from __future__ import annotations

import importlib
import json

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from collective_action.figures import common
from collective_action.figures.style import OKABE_ITO
from collective_action.runs.store import CellOutcome, ResultStore

ALPHAS = (0.001, 0.003, 0.01, 0.03, 0.1)
SEEDS = (0, 1, 2)


@pytest.fixture(autouse=True)
def _close_figures():
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


def _logistic(alpha, centre):
    return 1.0 / (1.0 + (centre / alpha) ** 2)


def _rows(experiment: str, series: list[str], with_groups: bool, with_alpha_eff: bool, rng) -> list[tuple]:
    """(cell_id, pillar, seed, record) rows: theory lines + noisy simulated points per series."""
    rows = []
    for s_idx, name in enumerate(series):
        centre = 0.004 * (s_idx + 1)
        for alpha in ALPHAS:
            rows.append((f"{experiment}-t-{name}-{alpha}", "theory", 0, {
                "alpha": alpha, "learner": "bayes", "series": name, "success": _logistic(alpha, centre) * 0.9}))
            for seed in SEEDS:
                success = float(np.clip(_logistic(alpha, centre) + rng.normal(0, 0.03), 0, 1))
                rec = {
                    "alpha": alpha, "learner": "erm", "series": name, "success": success,
                    "success_theory": _logistic(alpha, centre), "success_bound": _logistic(alpha, centre) * 0.9,
                    "success_se": 0.01, "clean_accuracy": 0.9 - 0.02 * s_idx + rng.normal(0, 0.005),
                }
                if with_groups:
                    rec["worst_group_accuracy"] = 0.6 + 0.1 * s_idx + rng.normal(0, 0.01)
                if with_alpha_eff:
                    factor = 1.0 + 2.0 * s_idx
                    rec["alpha_eff_predicted"] = min(0.9, alpha * factor)
                    rec["alpha_eff_measured"] = min(0.9, alpha * factor * (1 + rng.normal(0, 0.05)))
                rows.append((f"{experiment}-{name}-{alpha}-{seed}", "simulate", seed, rec))
    return rows


def _stored_frame(tmp_path, rows, experiment) -> pd.DataFrame:
    """Write the rows through the real store and read them back (figures read stored tables)."""
    with ResultStore.open(tmp_path / "store", create=True) as store:
        for cell_id, pillar, seed, rec in rows:
            store.write(CellOutcome(cell_id, experiment, pillar, seed, {"alpha": rec["alpha"], "series": rec["series"]},
                                    [rec], None, "serial", "host", "t0", "t1", 0.1), "test")
        return store.frame()


CASES = {
    # claim: (series, worst-group column?, alpha_eff columns?, expected extra panels)
    "C1": (["Bayes (discrete)", "Bayes (Gaussian)"], False, False, 0),
    "C2": (["ERM", "JTT (lambda=20)", "CVaR (beta=0.2)"], True, True, 1),
    "C3": (["JTT: clean validation", "JTT: validation with collective"], False, False, 0),
    "C4": (["signal: simple block", "signal: complex block", "signal: free coordinates"], False, False, 0),
    "C5": (["simulate", "empirical"], False, True, 2),
}


@pytest.mark.parametrize("claim", sorted(CASES))
def test_figure_draws_expected_panels_series_and_pixels(tmp_path, claim):
    series, groups, alpha_eff, n_extra = CASES[claim]
    rng = np.random.default_rng(0)
    frame = _stored_frame(tmp_path, _rows(f"{claim.lower()}-demo", series, groups, alpha_eff, rng), f"{claim.lower()}-demo")
    module = importlib.import_module(f"collective_action.figures.{claim.lower()}")

    fig = module.build(frame)
    n_alpha_panels = 2 + (1 if groups else 0)  # success + clean (+ worst group)
    panels = common.data_panels(fig)
    assert len(panels) == n_alpha_panels + n_extra
    alpha_axes = panels[:n_alpha_panels]
    for ax in alpha_axes:
        assert ax.get_xscale() == "log"
        assert "alpha" in ax.get_xlabel() and ax.get_ylabel()
    success_ax = alpha_axes[0]
    # one errorbar container (points with 95% CIs) per experimental series
    bars = success_ax.containers
    assert len(bars) == len(series)
    # theory lines: per series, the theory pillar's curve + success_theory + success_bound
    theory_lines = [ln for ln in success_ax.get_lines() if ln.get_linestyle() in ("-", "--")
                    and len(ln.get_xdata()) == len(ALPHAS)]
    assert len(theory_lines) == 3 * len(series)
    # the plotted means are the stored means over seeds, and the interval is the t-interval
    sim = frame[(frame["pillar"] == "simulate") & (frame["series"] == series[0])]
    at = sim[sim["alpha"] == ALPHAS[2]]["success"].to_numpy()
    mean = at.mean()
    half = stats.t.ppf(0.975, len(at) - 1) * at.std(ddof=1) / np.sqrt(len(at))
    label_order = sorted(series)
    container = bars[label_order.index(series[0])]
    ys = np.asarray(container.lines[0].get_ydata())
    assert ys[2] == pytest.approx(mean)
    segs = container.lines[2][0].get_segments()
    assert segs[2][1][1] - segs[2][0][1] == pytest.approx(2 * half)
    if n_extra:  # agreement panels: a y = x reference line, named in their row's legend
        for ax in panels[n_alpha_panels:]:
            assert any(line.get_linestyle() == ":" for line in ax.get_lines())
        last_legend = [ax for ax in fig.axes if ax.get_label() == common.LEGEND_LABEL][-1].get_legend()
        assert any("y = x" in t.get_text() for t in last_legend.get_texts())

    paths = module.draw(frame, tmp_path / "figs")
    assert [p.suffix for p in paths] == [".png", ".pdf"]
    assert paths[1].read_bytes()[:4] == b"%PDF"
    image = mpimg.imread(paths[0])[..., :3]
    not_white = (image < 0.95).any(axis=2).mean()
    assert 0.02 < not_white < 0.6, not_white  # drawn, but not a black page
    # the palette really is used: pixels of the first two Okabe-Ito colours are present
    for hex_colour in OKABE_ITO[:2]:
        rgb = np.array([int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)])
        assert (np.abs(image - rgb).max(axis=2) < 0.06).sum() > 20, hex_colour


def test_single_seed_interval_uses_monte_carlo_se_and_empty_frame_is_an_error(tmp_path):
    mean, lo, hi, n = common.interval_95([0.5], [0.02])
    assert (mean, n) == (0.5, 1) and hi - lo == pytest.approx(2 * 1.96 * 0.02)
    mean, lo, hi, n = common.interval_95([0.2, 0.4, 0.6])
    assert hi - lo == pytest.approx(2 * stats.t.ppf(0.975, 2) * 0.2 / np.sqrt(3))
    # a success near 1 (one seed, Monte Carlo SE) and a spread-out one: cut to [0, 1] in summaries
    assert common.interval_95([0.99], [0.02], (0.0, 1.0))[2] == 1.0
    frame = pd.DataFrame({"alpha": [0.1] * 4, "success": [0.1, 1.0, 1.0, 1.0]})
    row = common.summarise(frame, "success").iloc[0]
    assert row["upper"] == 1.0 and row["lower"] < row["mean"] < 1.0
    from collective_action.figures import c1

    with pytest.raises(ValueError):
        c1.build(pd.DataFrame(columns=["experiment", "alpha", "success"]))


def test_one_row_of_panels_per_experiment(tmp_path):
    rng = np.random.default_rng(1)
    rows = _rows("exp-a", ["ERM"], False, False, rng)
    with ResultStore.open(tmp_path / "store", create=True) as store:
        for i, (cell_id, pillar, seed, rec) in enumerate(rows + _rows("exp-b", ["ERM"], True, False, rng)):
            experiment = "exp-a" if i < len(rows) else "exp-b"
            store.write(CellOutcome(cell_id, experiment, pillar, seed, {"alpha": rec["alpha"]}, [rec], None, "serial", "h", "a",
                                    "b", 0.0), "test")
        frame = store.frame()
    from collective_action.figures import c2

    fig = c2.build(frame)
    # exp-a: success + clean; exp-b: success + clean + worst group; no alpha_eff data -> no extra
    assert len(common.data_panels(fig)) == 5
    assert common.data_panels(fig)[0].get_title(loc="left") == "exp-a"
    # each row's legend sits in its own axes and lists that row's curves
    legends = [ax.get_legend() for ax in fig.axes if ax.get_label() == common.LEGEND_LABEL]
    assert len(legends) == 2 and all(lg is not None for lg in legends)


def test_shared_theory_curve_is_drawn_once_and_points_are_dodged(tmp_path):
    rng = np.random.default_rng(2)
    rows = []
    for name in ("ERM", "JTT"):
        for alpha in ALPHAS:
            for seed in SEEDS:
                rows.append((f"{name}-{alpha}-{seed}", "simulate", seed, {
                    "alpha": alpha, "learner": name, "series": name, "success": float(rng.uniform(0.2, 0.8)),
                    "success_theory": _logistic(alpha, 0.01)}))  # one closed form for both learners
    frame = _stored_frame(tmp_path, rows, "c2-shared")
    from collective_action.figures import c2

    ax = common.data_panels(c2.build(frame))[0]
    predicted = [ln for ln in ax.get_lines() if "predicted" in ln.get_label()]
    assert [ln.get_label() for ln in predicted] == ["all curves (predicted)"]
    x_erm = ax.containers[0].lines[0].get_xdata()
    x_jtt = ax.containers[1].lines[0].get_xdata()
    assert np.all(np.asarray(x_erm) < np.asarray(ALPHAS)) and np.all(np.asarray(x_jtt) > np.asarray(ALPHAS))


def test_c4_has_one_row_of_panels_per_learner(tmp_path):
    rng = np.random.default_rng(3)
    rows = []
    for learner in ("logistic-gd", "max-margin"):
        for cell_id, pillar, seed, rec in _rows("c4", ["signal: free", "signal: simple"], False, False, rng):
            if pillar == "simulate":
                rows.append((f"{cell_id}-{learner}", pillar, seed, dict(rec, learner=learner)))
    frame = _stored_frame(tmp_path, rows, "c4-demo")
    from collective_action.figures import c4

    panels = common.data_panels(c4.build(frame))
    assert len(panels) == 4  # (success, clean) x 2 learners
    assert [ax.get_title(loc="left") for ax in panels[::2]] == ["c4-demo: logistic-gd", "c4-demo: max-margin"]
    assert all(len(ax.containers) == 2 for ax in panels[::2])


def test_a_grid_axis_missing_from_series_splits_the_curve(tmp_path):
    """Rows labelled alike but configured differently (signal place) must not be pooled."""
    rng = np.random.default_rng(4)
    rows = []
    for place, centre in (("simple", 0.002), ("margin", 0.02)):
        for alpha in ALPHAS:
            for seed in SEEDS:
                rec = {"alpha": alpha, "learner": "erm", "series": "ERM",
                       "success": float(np.clip(_logistic(alpha, centre) + rng.normal(0, 0.02), 0, 1))}
                rows.append((f"{place}-{alpha}-{seed}", "empirical", seed, rec, {"signal": {"place": place}, "alpha": alpha}))
    with ResultStore.open(tmp_path / "store", create=True) as store:
        for cell_id, pillar, seed, rec, config in rows:
            store.write(CellOutcome(cell_id, "c4-dominoes", pillar, seed, config, [rec], None, "serial", "h", "a", "b",
                                    0.0), "test")
        frame = store.frame()
    labels = set(common.curve_labels(frame))
    assert labels == {"ERM, place=simple", "ERM, place=margin"}
    from collective_action.figures import c4

    assert len(common.data_panels(c4.build(frame))[0].containers) == 2


def test_c6_car_figure_is_drawn_from_stored_rows(tmp_path):
    from collective_action.runs.sweep import read_results, run_sweep
    from collective_action.experiments import experiment_files
    from collective_action.figures import c6

    files = experiment_files("C6")
    assert len(files) >= 4
    for f in files:
        run_sweep(f, tmp_path / "c6", executor="serial", quick=True, progress=False, share_store=True)
    frame = read_results(tmp_path / "c6")
    png, pdf = c6.draw(frame, tmp_path / "figs")
    assert png.stat().st_size > 10_000 and pdf.stat().st_size > 0
    fig = c6.build(frame)
    titles = [ax.get_title(loc="left") for ax in fig.axes if ax.get_visible()]
    assert any("unplanting" in t for t in titles) and any("feature-only" in t for t in titles)
    # every car panel draws the bound (dashed) next to the measured success (the empirical goal rows
    # have no bound to draw)
    car = [ax for ax in fig.axes if ax.get_visible() and ax.get_label().startswith("c6-car")]
    assert car and all(any(line.get_linestyle() == "--" for line in ax.get_lines()) for ax in car)


@pytest.fixture(scope="module")
def c7_frame(tmp_path_factory):
    """Every C7 file at its quick size (the empirical one trains 12 small models, about 15 s), once."""
    from collective_action.experiments import experiment_files
    from collective_action.runs.sweep import read_results, run_sweep

    files = experiment_files("C7")
    assert len(files) == 3
    out = tmp_path_factory.mktemp("c7")
    for f in files:
        run_sweep(f, out, executor="serial", quick=True, progress=False, share_store=True)
    return read_results(out)


def test_c7_figure_draws_the_interaction_map_noise_and_learners(tmp_path, c7_frame):
    from collective_action.figures import c7

    frame = c7_frame
    fig = c7.build(frame)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    titles = " | ".join(ax.get_title(loc="left") for ax in visible)
    assert "tug of war" in titles and "disjoint" in titles and "random label" in titles and "Gaussian" in titles
    # the interaction map carries one cell per (alpha_0, alpha_1) of the quick grid
    mesh = [c for ax in visible for c in ax.collections if c.__class__.__name__ == "QuadMesh"]
    assert mesh and mesh[0].get_array().size == 3 * 2
    png, pdf = c7.draw(frame, tmp_path / "figs")
    assert png.stat().st_size > 10_000 and pdf.stat().st_size > 0


# ------------------------------------------------------------------------------ C6: the collective's goals
@pytest.fixture(scope="module")
def c6_goals_frame():
    """experiments/c6_discrete_goals.yaml at its quick size (24 cells, about 1 s), run in-process."""
    from collective_action import simulate
    from collective_action.experiments import experiment_dir

    frame = simulate.run(experiment_dir() / "c6_discrete_goals.yaml", quick=True)
    return frame.assign(strategy_=[json.loads(c)["collective"]["strategy"] for c in frame["config"]])


def _hex(colour) -> str:
    import matplotlib.colors as mcolors

    return mcolors.to_hex(colour).lower()


def test_c6_draws_every_goal_per_problem_with_dense_theory_jumping_where_theory_says(c6_goals_frame):
    from collective_action import theory
    from collective_action.experiment import get_pillar
    from collective_action.figures import draw, looks
    from collective_action.simulate.runner import discrete_problem
    from collective_action.theory import hardt_goals

    frame = c6_goals_frame
    fig, panels = draw(frame.drop(columns="strategy_"), "C6")
    alphas = np.sort(frame["alpha"].unique())
    expected = set()
    for strategy, rows in frame.groupby("strategy_"):
        cfg = get_pillar("simulate").config_model.model_validate(json.loads(rows["config"].iloc[0]))
        problem = discrete_problem(cfg)
        name = f"{rows['experiment'].iloc[0]}: {rows['goal'].iloc[0]}, problem {cfg.discrete.problem_seed}/success"
        expected.add(name)
        ax = panels[name]
        # the measured success: one errorbar per strategy, in the strategy's registry look, at the stored means
        (bar,) = [c for c in ax.containers if c.get_label() == strategy]
        assert _hex(bar.lines[0].get_color()) == _hex(looks.strategy_look(strategy).colour)
        assert bar.lines[0].get_marker() == looks.strategy_look(strategy).marker
        means = np.asarray(bar.lines[0].get_ydata(), dtype=float)  # errorbar keeps its data as objects
        np.testing.assert_allclose(means, rows.groupby("alpha")["success"].mean())
        # theory's exact success: dense steps over the experiment's range ...
        (exact,) = [ln for ln in ax.get_lines() if ln.get_label() == f"{strategy} (exact)"]
        xs, ys = np.asarray(exact.get_xdata()), np.asarray(exact.get_ydata())
        assert len(xs) >= 200 and exact.get_drawstyle() == "steps-post"
        assert (xs[0], xs[-1]) == (pytest.approx(alphas[0]), pytest.approx(alphas[-1]))
        # ... jumping at exactly the mixture breakpoints where the goal's success changes
        breaks = theory.bayes.mixture_breakpoints(problem, strategy)
        breaks = breaks[(breaks > xs[0]) & (breaks < xs[-1])]
        left = np.asarray(theory.bayes_success(problem, breaks * (1 - 1e-7), strategy), dtype=float)
        right = np.asarray(theory.bayes_success(problem, breaks * (1 + 1e-7), strategy), dtype=float)
        jumps = xs[np.flatnonzero(np.abs(np.diff(ys)) > 1e-12) + 1]
        np.testing.assert_allclose(jumps, breaks[np.abs(right - left) > 1e-12], rtol=1e-8)
        stored = rows.groupby("alpha")["success_theory"].mean()  # the stored column, where it was measured
        at = np.searchsorted(xs, stored.index.to_numpy(), side="right") - 1
        np.testing.assert_allclose(ys[at], stored, atol=1e-9)
        # the Hardt-form bound of this strategy, dense, ending on the stored column's values
        (bound,) = [ln for ln in ax.get_lines() if ln.get_label() == f"{strategy} (Hardt-form bound)"]
        bx, by = np.asarray(bound.get_xdata()), np.asarray(bound.get_ydata())
        assert len(bx) >= 200 and bound.get_linestyle() == "--"
        np.testing.assert_allclose(by, hardt_goals.population_bound(problem, bx, strategy))
        stored = rows.groupby("alpha")["success_bound"].mean()
        np.testing.assert_allclose(by[[0, -1]], stored.iloc[[0, -1]], rtol=1e-9)
        # Gauthier et al.'s finite-sample bound at the stored means (none where it is undefined)
        finite = rows.groupby("alpha")["success_bound_finite"].mean()
        lines = [ln for ln in ax.get_lines() if ln.get_label() == f"{strategy} (finite-sample bound)"]
        if finite.notna().any():
            (line,) = lines
            assert line.get_linestyle() == "-."
            np.testing.assert_allclose(line.get_ydata(), finite, equal_nan=True)
        else:
            assert not lines
    assert set(panels) == expected  # no car rows: no car panels


def _trained_goal_rows(experiment: str, rng) -> list[tuple]:
    """(cell id, pillar, seed, config, record) of trained models measuring each strategy's goal."""
    rows = []
    for strategy, goal in (("feature-label", "plant"), ("feature-only", "plant"), ("unplanting", "unplant")):
        for alpha in ALPHAS:
            for seed in SEEDS:
                rec = {"alpha": alpha, "learner": "erm", "series": "ERM", "goal": goal,
                       "success": float(np.clip(_logistic(alpha, 0.01) + rng.normal(0, 0.03), 0, 1)),
                       "clean_accuracy": 0.9 + rng.normal(0, 0.01)}
                config = {"alpha": alpha, "learner": {"name": "erm"},
                          "collective": {"alpha": alpha, "strategy": strategy}}
                rows.append((f"{experiment}-{strategy}-{alpha}-{seed}", "empirical", seed, config, rec))
    return rows


def test_c6_draws_goal_rows_of_trained_models_and_leaves_out_what_it_cannot_draw(tmp_path, c6_goals_frame):
    from collective_action.figures import NoPanelSelected, draw, looks

    rng = np.random.default_rng(5)
    junk = [("no-goal-0.01-0", "empirical", 0, {"alpha": 0.01}, {"alpha": 0.01, "learner": "erm", "success": 0.5}),
            ("other-family-0.01-0", "simulate", 0, {"alpha": 0.01, "family": "gaussian"},
             {"alpha": 0.01, "learner": "bayes", "success": 0.5, "family": "gaussian"})]
    with ResultStore.open(tmp_path / "store", create=True) as store:
        for cell_id, pillar, seed, config, rec in _trained_goal_rows("c6-trained-goals", rng) + junk:
            store.write(CellOutcome(cell_id, "c6-trained-goals", pillar, seed, config, [rec], None, "serial", "h", "a",
                                    "b", 0.0), "test")
        frame = store.frame()
    fig, panels = draw(frame, "C6")
    assert set(panels) == {f"c6-trained-goals: {goal}/{kind}" for goal in ("plant", "unplant")
                           for kind in ("success", "clean")}
    for goal, strategies in (("plant", {"feature-label", "feature-only"}), ("unplant", {"unplanting"})):
        for kind in ("success", "clean"):
            ax = panels[f"c6-trained-goals: {goal}/{kind}"]
            # one errorbar per strategy, in the strategy's registry colour
            assert {_hex(c.lines[0].get_color()) for c in ax.containers} == \
                {_hex(looks.strategy_look(s).colour) for s in strategies}
    # beside the discrete problems' rows; the clean panels alone; rows of no kind it draws
    both = draw(pd.concat([frame, c6_goals_frame.drop(columns="strategy_")], ignore_index=True), "C6").panels
    assert set(panels) < set(both) and len(both) == len(panels) + c6_goals_frame["goal"].nunique()
    assert set(draw(frame, "C6", panels=["clean"]).panels) == {n for n in panels if n.endswith("/clean")}
    with pytest.raises(NoPanelSelected):
        draw(c6_goals_frame, "C6", panels=["clean"])
    with pytest.raises(ValueError):
        draw(frame[frame["goal"].isna()], "C6")


# ------------------------------------------------------------------------------ C7: trained models
def test_c7_draws_the_trained_tug_of_war_and_deviators_per_learner(c7_frame, c6_goals_frame):
    from collective_action.figures import draw, looks

    trained = c7_frame[c7_frame["pillar"] == "empirical"]
    (experiment,) = trained["experiment"].unique()
    fig, panels = draw(c7_frame, "C7")
    tug = trained[trained["signal_layout"] == "0:own 1:same-as-0"]
    assert len(tug) and (tug["noise"] == 0).all()
    for a1, part in tug.groupby("alpha_1"):
        ax = panels[f"{experiment}: alpha_1={a1:g}/learners"]
        assert f"{experiment}: alpha_1={a1:g}/clean" in panels
        # one solid (collective 0) and one dashed (collective 1) line per learner, in its registry colour
        assert len(ax.get_lines()) == 2 * part["learner"].nunique()
        for learner, rows in part.groupby("learner"):
            mine = [ln for ln in ax.get_lines() if _hex(ln.get_color()) == _hex(looks.algorithm_look(learner).colour)]
            assert sorted(ln.get_linestyle() for ln in mine) == ["-", "--"]
            for line in mine:
                j = 0 if line.get_linestyle() == "-" else 1
                means = rows[rows["collective"] == j].groupby("alpha_0")["success"].mean()
                np.testing.assert_allclose(line.get_xdata(), means.index)
                np.testing.assert_allclose(line.get_ydata(), means)
    # deviators: collective 0 on disjoint signals, one curve per noise kind and share, per learner
    own = trained[(trained["signal_layout"] == "0:own 1:own") & (trained["collective"] == 0)]
    own = own[own["alpha_1"] == own["alpha_1"].min()]
    assert len(own) and (own["noise"] > 0).any()
    for learner, rows in own.groupby("learner"):
        for kind, column in (("noise", "success"), ("clean", "clean_accuracy")):
            ax = panels[f"{experiment}: {learner}/{kind}"]
            curves = {("no deviators" if share == 0 else f"{noise}, $\\eta_0$ = {share:g}"): part
                      for (noise, share), part in rows.groupby(["noise_kind", "noise"])}
            drawn = {ln.get_label(): ln for ln in ax.get_lines()}
            assert set(drawn) == set(curves)
            for label, part in curves.items():
                np.testing.assert_allclose(drawn[label].get_ydata(), part.groupby("alpha_0")[column].mean())
    # the trained models' rows alone, or beside rows C7 does not draw, give the same panels
    alone = draw(pd.concat([trained, c6_goals_frame], ignore_index=True), "C7").panels
    assert set(alone) == {name for name in panels if name.startswith(f"{experiment}: ")}


def test_an_unset_field_is_left_out_of_a_split_curves_label(tmp_path):
    """A CNN with width 16 beside an MLP whose width is unset (the default): the MLP's label says
    model=mlp, not width=None, and the curves stay distinct."""
    rows = []
    for train in ({"model": "mlp", "width": None}, {"model": "cnn", "width": 16}):
        for alpha in ALPHAS:
            rec = {"alpha": alpha, "learner": "erm", "series": "ERM", "success": 0.5}
            rows.append((f"{train['model']}-{alpha}", {"train": train, "alpha": alpha}, rec))
    with ResultStore.open(tmp_path / "store", create=True) as store:
        for cell_id, config, rec in rows:
            store.write(CellOutcome(cell_id, "c4-dominoes", "empirical", 0, config, [rec], None, "serial", "h", "a",
                                    "b", 0.0), "test")
        frame = store.frame()
    assert set(common.curve_labels(frame)) == {"ERM, model=mlp", "ERM, model=cnn, width=16"}
