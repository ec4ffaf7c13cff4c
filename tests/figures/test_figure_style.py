"""Paper-quality checks of the figures: palette, log-alpha ticks, legend text, layout, theory lines."""

from __future__ import annotations

import math

import matplotlib.colors as mcolors
import numpy as np
import pandas as pd
import pytest

from collective_action.figures import c1, c2, common, style
from collective_action.runs.store import CellOutcome, ResultStore

YELLOW = "#F0E442"


def _logistic(alpha, centre):
    return 1.0 / (1.0 + (centre / alpha) ** 2)


def _store_frame(tmp_path, rows) -> pd.DataFrame:
    """rows: (experiment, cell_id, pillar, seed, config, record) written through the real store."""
    with ResultStore.open(tmp_path / "store", create=True) as store:
        for experiment, cell_id, pillar, seed, config, rec in rows:
            store.write(CellOutcome(cell_id, experiment, pillar, seed, config, [rec], None, "serial", "h", "a", "b", 0.0),
                        "test")
        return store.frame()


def _experiment(name, series, alphas, rng, config=None, theory=True, alpha_eff=False, seeds=(0, 1, 2)):
    rows = []
    for s_idx, label in enumerate(series):
        centre = 0.003 * (s_idx + 1)
        for alpha in alphas:
            for seed in seeds:
                rec = {"alpha": alpha, "learner": "erm", "series": label,
                       "success": float(np.clip(_logistic(alpha, centre) + rng.normal(0, 0.03), 0, 1)),
                       "clean_accuracy": 0.9 + rng.normal(0, 0.01)}
                if theory:
                    rec["success_theory"] = _logistic(alpha, centre)
                    rec["success_bound"] = 0.8 * _logistic(alpha, centre)
                if alpha_eff:
                    rec["alpha_eff_predicted"] = alpha * (1 + s_idx)
                    rec["alpha_eff_measured"] = alpha * (1 + s_idx) * (1 + rng.normal(0, 0.05))
                cfg = dict(config or {}, alpha=alpha, series=label)
                rows.append((name, f"{name}-{label}-{alpha}-{seed}", "simulate", seed, cfg, rec))
    return rows


def _rgb(c):
    return np.asarray(mcolors.to_rgb(c))


def test_palette_strong_colours_first_and_yellow_never_drawn(tmp_path):
    assert style.OKABE_ITO[:7] == ("#000000", "#0072B2", "#D55E00", "#009E73", "#E69F00", "#CC79A7", "#56B4E9")
    assert all(style.colour(i) != YELLOW for i in range(100))
    pairs = [(style.colour(i), style.marker(i)) for i in range(len(style.CURVE_COLOURS) * len(style.MARKERS))]
    assert len(set(pairs)) == len(pairs)  # colour and marker together tell every curve apart
    # nine curves in one panel: more than the seven colours, still no yellow artist anywhere
    series = [f"learner {i}" for i in range(9)]
    frame = _store_frame(tmp_path, _experiment("c2-many", series, (0.001, 0.01, 0.1), np.random.default_rng(0)))
    ax = common.data_panels(c2.build(frame))[0]
    colours = [ln.get_color() for ln in ax.get_lines()] + [c.lines[0].get_color() for c in ax.containers]
    assert colours and not any(np.allclose(_rgb(c), _rgb(YELLOW)) for c in colours)
    first_seven = {mcolors.to_hex(c.lines[0].get_color()).lower() for c in ax.containers[:7]}
    assert first_seven == {c.lower() for c in style.CURVE_COLOURS}


@pytest.mark.parametrize("alphas", [(0.004, 0.02, 0.2), (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5),
                                    (0.001, 0.01, 0.1, 0.5), (1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3),
                                    (0.01,)])
def test_log_alpha_ticks_are_few_apart_and_cover_the_data(tmp_path, alphas):
    frame = _store_frame(tmp_path, _experiment("c1-ticks", ["A", "B", "C"], alphas, np.random.default_rng(1)))
    fig = c1.build(frame)
    fig.canvas.draw()
    ax = common.data_panels(fig)[0]
    left, right = ax.get_xlim()
    xs = np.concatenate([np.asarray(c.lines[0].get_xdata(), float) for c in ax.containers])
    assert left < xs.min() and right > xs.max()  # every dodged point inside
    assert math.log10(xs.min() / left) < 0.5 and math.log10(right / xs.max()) < 0.5  # a small margin only
    major = [(t.get_loc(), t.label1.get_text()) for t in ax.xaxis.get_major_ticks()
             if left <= t.get_loc() <= right and t.label1.get_text()]
    assert 1 <= len(major) <= 5
    assert all(len(text) <= 5 for _, text in major), major  # compact: 1e-3, 0.01, 0.005
    span = math.log10(right / left)
    locs = sorted(loc for loc, _ in major)
    assert all(math.log10(b / a) >= span / 6 for a, b in zip(locs, locs[1:])), major  # labels cannot overlap
    assert not any(t.label1.get_text() for t in ax.xaxis.get_minor_ticks())
    # the rendered tick labels really do not overlap
    boxes = [t.label1.get_window_extent() for t in ax.xaxis.get_major_ticks()
             if left <= t.get_loc() <= right and t.label1.get_text()]
    assert all(a.x1 < b.x0 for a, b in zip(boxes, boxes[1:]))


def test_short_labels_use_symbols_and_say_shared_settings_once():
    texts, common_text = common.short_labels(["CVaR (beta=0.2)", "JTT (lambda=20, T=50)", "group DRO (eta_q=0.01)",
                                              "chi2-DRO (rho=1)"])
    assert texts["CVaR (beta=0.2)"] == "CVaR (β=0.2)" and texts["JTT (lambda=20, T=50)"] == "JTT (λ=20, T=50)"
    assert texts["group DRO (eta_q=0.01)"] == "group DRO (η_q=0.01)" and texts["chi2-DRO (rho=1)"] == "χ²-DRO (ρ=1)"
    assert common_text == ""
    texts, common_text = common.short_labels(["plug-in (problem 0, n=20000)", "plug-in (problem 1, n=20000)"])
    assert set(texts.values()) == {"plug-in (problem 0)", "plug-in (problem 1)"} and common_text == "n=20000"
    texts, common_text = common.short_labels(["ERM, name=mnist, train_size=100, place=[4, 4]",
                                              "ERM, name=mnist, train_size=100, place=corner"])
    assert set(texts.values()) == {"ERM, place=[4, 4]", "ERM, place=corner"} and common_text == "mnist, n=100"
    # never merges two curves into one entry
    texts, _ = common.short_labels(["A (x)", "A (x), y"])
    assert len(set(texts.values())) == 2


def test_pooled_panel_names_experiments_not_config_dumps(tmp_path):
    rng = np.random.default_rng(2)
    rows = (_experiment("c2-empirical-fmnist", ["ERM", "CVaR (beta=0.2)"], (0.01, 0.1), rng, alpha_eff=True,
                        config={"data": {"name": "fashion-mnist", "train_size": 20000}, "metric": "last"})
            + _experiment("c2-empirical-spurious", ["ERM", "CVaR (beta=0.2)"], (0.01, 0.1), rng, alpha_eff=True,
                          config={"data": {"name": "spurious", "train_size": None}, "metric": "worst-group"}))
    frame = _store_frame(tmp_path, rows)
    fig = c2.build(frame)
    legends = [ax.get_legend() for ax in fig.axes if ax.get_label() == common.LEGEND_LABEL]
    pooled = [t.get_text() for t in legends[-1].get_texts()]
    assert "ERM [empirical-fmnist]" in pooled and "CVaR (β=0.2) [empirical-spurious]" in pooled
    assert not any("=" in t and ("name" in t or "train_size" in t or "metric" in t) for t in pooled)
    assert len(pooled) == 5  # 2 series x 2 experiments + y = x
    # per-experiment rows: just the series names, symbols included
    assert sorted(t.get_text() for t in legends[0].get_texts())[:2] == ["CVaR (β=0.2)", "ERM"]


def test_layout_is_double_column_constrained_equal_panels_no_empty_slot(tmp_path):
    rng = np.random.default_rng(3)
    rows = (_experiment("c2-a", ["ERM", "JTT (lambda=20)"], (0.001, 0.01, 0.1), rng, alpha_eff=True)
            + [(e, c + "-wg", p, s, dict(cfg, wg=True), dict(r, worst_group_accuracy=0.7))
               for e, c, p, s, cfg, r in _experiment("c2-b", ["ERM"], (0.001, 0.01, 0.1), rng)])
    fig = c2.build(frame := _store_frame(tmp_path, rows))
    assert fig.get_layout_engine() is not None and "Constrained" in type(fig.get_layout_engine()).__name__
    assert fig.get_figwidth() == pytest.approx(style.FIGURE_WIDTH)
    fig.canvas.draw()
    panels = common.data_panels(fig)
    widths = [ax.get_position().width for ax in panels]
    assert max(widths) / min(widths) < 1.1  # consistent panel sizes
    # every row's slots are filled: panels plus a legend spanning the rest (or a strip below a full row)
    rows_of = {}
    for ax in fig.axes:
        spec = ax.get_subplotspec()
        rows_of.setdefault(spec.rowspan.start, set()).update(spec.colspan)
    assert all(cols == set(range(style.N_COLUMNS)) for cols in rows_of.values()), rows_of
    legends = [ax for ax in fig.axes if ax.get_label() == common.LEGEND_LABEL]
    assert len(legends) == 3 == len(frame["experiment"].unique()) + 1
    title = fig.get_suptitle()
    assert "95%" in title and "Points" in title and "Lines" in title and "bound" in title


def test_theory_curves_are_thin_sorted_lines_keyed_once(tmp_path):
    rng = np.random.default_rng(4)
    rows = _experiment("c1-lines", ["ERM", "LDA"], (0.3, 0.001, 0.03, 0.01), rng)
    rows += [("c1-lines", f"t-{a}", "theory", 0, {"alpha": a}, {"alpha": a, "series": "Bayes", "success": _logistic(a, 0.002),
                                                                "success_bound": 0.7 * _logistic(a, 0.002)})
             for a in (0.1, 0.001, 0.01)]
    fig = c1.build(_store_frame(tmp_path, rows))
    ax = common.data_panels(fig)[0]
    lines = [ln for ln in ax.get_lines() if ln.get_linestyle() in ("-", "--")]
    assert {ln.get_linestyle() for ln in lines} == {"-", "--"}
    data_width = min(c.lines[2][0].get_linewidth()[0] for c in ax.containers)
    for ln in lines:
        x = np.asarray(ln.get_xdata(), float)
        assert np.all(np.diff(x) > 0)  # sorted by alpha
        assert ln.get_linewidth() < data_width  # theory stays behind the measurements
    texts = [t.get_text() for t in [a for a in fig.axes if a.get_label() == common.LEGEND_LABEL][0].get_legend().get_texts()]
    assert texts.count(common.EXACT_KEY) == 1 and texts.count(common.BOUND_KEY) == 1
    assert {"Bayes", "ERM", "LDA"} <= set(texts)
