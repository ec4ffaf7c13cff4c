"""The plotting API and `plot`'s options: named panels read back from the figure objects, panel
selection, page sizes, vector formats, and one colour and marker per algorithm and strategy."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import matplotlib.colors as mcolors
import numpy as np
import pandas as pd
import pytest

from collective_action import InputError
from collective_action.figures import NoPanelSelected, draw, drawing, save
from collective_action.figures import looks, style
from collective_action.runs.store import CellOutcome, ResultStore

ALPHAS = (0.002, 0.01, 0.05, 0.2)
SEEDS = (0, 1, 2)
#: What a saved file may exceed the page width by: the tight bounding box's padding on both sides.
PAD = 0.06
#: learner -> (series label, centre of its success curve, alpha_eff / alpha)
LEARNERS = {"erm": ("ERM", 0.01, 1.0), "jtt": ("JTT (T=1, upweight=20)", 0.004, 3.0),
            "cvar": ("CVaR-DRO (beta=0.2)", 0.006, 2.0), "lff": ("LfF (q=0.7, ema=0.7)", 0.008, 1.5)}


@pytest.fixture(autouse=True)
def _close_figures():
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


def _rows(experiment: str, learners, rng, strategy="feature-label") -> list[tuple]:
    """(experiment, cell id, seed, config, record): noisy success, clean and worst-group accuracy
    and alpha_eff per learner, alpha and seed."""
    rows = []
    for learner in learners:
        series, centre, gain = LEARNERS[learner]
        for alpha in ALPHAS:
            for seed in SEEDS:
                success = float(np.clip(1 / (1 + (centre / alpha) ** 2) + rng.normal(0, 0.03), 0, 1))
                measured = min(0.9, alpha * gain * (1 + rng.normal(0, 0.05)))
                rec = {"alpha": alpha, "learner": learner, "series": series, "success": success,
                       "clean_accuracy": 0.9 + rng.normal(0, 0.01), "worst_group_accuracy": 0.6 + rng.normal(0, 0.02),
                       "alpha_eff_predicted": min(0.9, alpha * gain), "alpha_eff_measured": measured}
                config = {"alpha": alpha, "learner": {"name": learner},
                          "collective": {"alpha": alpha, "strategy": strategy}}
                rows.append((experiment, f"{experiment}-{learner}-{alpha}-{seed}", seed, config, rec))
    return rows


def _frame(tmp_path, rows, name="store") -> pd.DataFrame:
    """The rows written through the real store and read back (figures read stored tables)."""
    with ResultStore.open(tmp_path / name, create=True) as store:
        for experiment, cell_id, seed, config, rec in rows:
            store.write(CellOutcome(cell_id, experiment, "simulate", seed, config, [rec], None, "serial", "h", "a", "b",
                                    0.0), "test")
        return store.frame()


@pytest.fixture
def c2_frame(tmp_path):
    rng = np.random.default_rng(0)
    return _frame(tmp_path, _rows("c2-a", ["erm", "jtt", "cvar"], rng) + _rows("c2-b", ["jtt", "lff"], rng))


def _hex(colour) -> str:
    return mcolors.to_hex(colour).lower()


def test_draw_returns_the_figure_and_its_named_panels_holding_the_stored_data(c2_frame):
    fig, panels = draw(c2_frame, "c2")
    assert set(panels) == {f"{e}/{k}" for e in ("c2-a", "c2-b") for k in ("success", "clean", "worst-group",
                                                                         "amplification")}
    assert all(ax in fig.axes for ax in panels.values())
    ax = panels["c2-a/success"]
    assert ax.get_xscale() == "log" and len(ax.containers) == 3  # one errorbar per learner
    # the drawn points are the stored means over seeds (ERM's curve: its label in the legend order)
    erm = next(c for c in ax.containers if c.get_label() == "ERM")
    stored = c2_frame[(c2_frame["experiment"] == "c2-a") & (c2_frame["learner"] == "erm")]
    means = pd.to_numeric(stored["success"]).groupby(stored["alpha"]).mean()
    np.testing.assert_allclose(np.asarray(erm.lines[0].get_ydata(), float), means.to_numpy(float))
    amplification = draw(c2_frame, "C2").of_kind("amplification")
    assert [a.get_label() for a in amplification] == ["c2-a/amplification", "c2-b/amplification"]


def test_panels_can_be_restyled_before_saving(c2_frame, tmp_path):
    drawing_ = draw(c2_frame, "C2", panels=["success"])
    drawing_.panels["c2-b/success"].set_title("restyled by the user")
    drawing_.panels["c2-b/success"].set_ylim(0.2, 0.8)
    (svg,) = drawing_.save(tmp_path / "c2", formats=["svg"])
    assert "restyled by the user" in svg.read_text()


@pytest.mark.parametrize("chosen, expected", [
    (["success"], {"c2-a/success", "c2-b/success"}),
    (["amplification", "clean"], {"c2-a/clean", "c2-b/clean", "c2-a/amplification", "c2-b/amplification"}),
])
def test_a_panel_selection_draws_only_those_panels(c2_frame, chosen, expected):
    fig, panels = draw(c2_frame, "C2", panels=chosen)
    assert set(panels) == expected
    data_axes = [ax for ax in fig.axes if ax.get_label() != "legend"]
    assert len(data_axes) == len(expected)  # nothing else was drawn


def test_a_selection_a_figure_lacks_is_an_error_and_an_unknown_name_lists_the_valid_ones(c2_frame):
    with pytest.raises(NoPanelSelected, match="amplification"):
        draw(c2_frame, "C2", panels=["tightness"])
    with pytest.raises(InputError, match="choose one of: success, clean, worst-group"):
        draw(c2_frame, "C2", panels=["sucess"])
    with pytest.raises(InputError, match="figure kind"):
        draw(c2_frame, "C9")


@pytest.mark.parametrize("size, width, columns", [("single", 3.5, 1), ("double", 7.2, 3)])
def test_page_sizes_give_their_widths_and_columns(c2_frame, tmp_path, size, width, columns):
    fig, panels = draw(c2_frame, "C2", size=size)
    assert fig.get_figwidth() == pytest.approx(width)
    fig.canvas.draw()
    lefts = {round(ax.get_position().x0, 3) for ax in panels.values()}
    assert len(lefts) == columns  # rows wrap into the size's panel columns
    widths = [ax.get_position().width * width for ax in panels.values()]
    assert max(widths) / min(widths) < 1.1 and max(widths) < width / columns
    # text prints at its size: the figure is not scaled, so 8 pt axis labels stay 8 pt
    assert panels["c2-a/success"].xaxis.label.get_fontsize() == 8
    (png,) = save(fig, tmp_path / size, formats=["png"], dpi=100)
    from PIL import Image

    saved_width = Image.open(png).size[0] / 100
    assert 0.9 * width < saved_width <= width + PAD  # a tight bounding box trims only the margin


def test_vector_formats_are_valid_files(c2_frame, tmp_path):
    paths = save(draw(c2_frame, "C2", panels=["success"]).figure, tmp_path / "c2", formats=["pdf", "SVG", "png"])
    assert [p.name for p in paths] == ["c2.pdf", "c2.svg", "c2.png"]
    assert paths[0].read_bytes()[:5] == b"%PDF-"
    root = ET.parse(paths[1]).getroot()
    assert root.tag.endswith("svg") and float(root.get("width").removesuffix("pt")) <= (7.2 + PAD) * 72
    assert paths[2].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(InputError, match="png, pdf, svg"):
        save(draw(c2_frame, "C2").figure, tmp_path / "c2", formats=["jpg"])


def test_every_algorithm_has_its_own_look_from_the_registry_order():
    from collective_action.algorithms import ALGORITHMS

    seen = [looks.algorithm_look(name) for name in ALGORITHMS]
    assert len(set(seen)) == len(seen)
    assert seen[0] == (style.CURVE_COLOURS[0], style.MARKERS[0])  # the first entry, ERM: a black circle
    assert not set(seen) & {looks.strategy_look(name) for name in looks.strategy_names()}


def test_the_same_algorithm_has_the_same_colour_and_marker_in_every_figure(tmp_path):
    rng = np.random.default_rng(1)
    c2 = _frame(tmp_path, _rows("c2-x", ["cvar", "jtt"], rng) + _rows("c2-y", ["lff", "erm", "jtt"], rng), "c2")
    c4 = _frame(tmp_path, _rows("c4-z", ["jtt", "lff"], rng), "c4")
    jtt = looks.algorithm_look("jtt")
    for frame, kind in ((c2, "C2"), (c4, "C4")):
        for name, ax in draw(frame, kind).panels.items():
            for container in ax.containers:
                learner = next(k for k, v in LEARNERS.items() if v[0] == container.get_label())
                expected = looks.algorithm_look(learner)
                line = container.lines[0]
                assert (_hex(line.get_color()), line.get_marker()) == (_hex(expected.colour), expected.marker), name
    # the bug this replaced: the amplification row gave JTT two colours in two experiments
    amplification = draw(c2, "C2").of_kind("amplification")
    colours = {_hex(c.lines[0].get_color()) for ax in amplification for c in ax.containers if "JTT" in c.get_label()}
    assert colours == {_hex(jtt.colour)}


def test_curves_of_one_algorithm_take_free_looks_and_strategies_are_read_at_draw_time(tmp_path, monkeypatch):
    rng = np.random.default_rng(2)
    rows = _rows("c3-v", ["jtt"], rng)
    rows += [(e, c + "-2", s, cfg, dict(r, series="JTT: validation with collective")) for e, c, s, cfg, r in rows]
    fig, panels = draw(_frame(tmp_path, rows), "C3", panels=["success"])
    (ax,) = panels.values()
    pairs = {c.get_label(): (_hex(c.lines[0].get_color()), c.lines[0].get_marker()) for c in ax.containers}
    assert len(set(pairs.values())) == 2  # two JTT curves, two looks: one is JTT's
    registry = {(_hex(looks.algorithm_look(n).colour), looks.algorithm_look(n).marker) for n in looks.algorithm_names()}
    assert len(set(pairs.values()) & registry) == 1
    # curves that differ by strategy take the strategies' looks; a strategy added to the registry
    # gets one without touching the figures; an unknown name gets the same fallback every time
    from collective_action import collective

    strategies = dict(collective.STRATEGIES, **{"swap-label": object})
    monkeypatch.setattr(collective, "STRATEGIES", strategies)
    assert looks.strategy_look("swap-label") == looks.palette_look(looks.N_LOOKS - len(strategies))
    assert looks.strategy_look("never-registered") == looks.strategy_look("never-registered")
    rows = _rows("c1-s", ["erm"], rng, "feature-label") + [
        (e, c + "-fo", s, json.loads(json.dumps(cfg).replace("feature-label", "feature-only")),
         dict(r, series="ERM, feature-only")) for e, c, s, cfg, r in _rows("c1-s", ["erm"], rng)]
    (ax,) = draw(_frame(tmp_path, rows, "strategies"), "C1", panels=["success"]).panels.values()
    drawn = {c.get_label(): _hex(c.lines[0].get_color()) for c in ax.containers}
    assert drawn == {"ERM": _hex(looks.strategy_look("feature-label").colour),
                     "ERM, feature-only": _hex(looks.strategy_look("feature-only").colour)}


def test_stress_and_critical_mass_tables_draw_named_panels():
    stress = pd.DataFrame({"scenario": ["a", "a", "b"], "tightness": [0.5, 0.9, np.nan], "flags": ["", "", ""],
                           "prediction": ["bound", "bound", "alpha_eff"]})
    fig, panels = draw(stress, "stress", size="single")
    assert list(panels) == ["tightness"] and fig.get_figwidth() == pytest.approx(3.5)
    assert len(panels["tightness"].collections) >= 2
    board = pd.DataFrame({"experiment": ["e", "e"], "metric": ["success", "success"], "target": [0.5, 0.5],
                          "group": ["learner=erm", "learner=jtt"], "alpha_star": [0.02, 0.005],
                          "alpha_star_lo": [0.01, 0.003], "alpha_star_hi": [0.03, 0.008], "status": ["found", "found"],
                          "theory_alpha_star": [0.02, np.nan], "hardt_alpha_star": [0.05, np.nan]})
    _, panels = draw(board, "critical-mass")
    assert list(panels) == ["e: success >= 0.5/leaderboard"]
    # sorted by the measured alpha*: JTT's smaller critical mass first
    assert [t.get_text() for t in panels["e: success >= 0.5/leaderboard"].get_yticklabels()] == ["jtt", "erm"]


def test_drawing_options_apply_to_the_figure_modules_inside_the_block_only(c2_frame, tmp_path):
    from collective_action.figures import c2

    with drawing(panels=["success"], size="single", formats=["svg"]):
        paths = c2.draw(c2_frame, tmp_path / "figs")
    assert [p.name for p in paths] == ["c2.svg"]
    assert [p.name for p in c2.draw(c2_frame, tmp_path / "default")] == ["c2.png", "c2.pdf"]
    with drawing(panels=["interaction"]):
        assert c2.draw(c2_frame, tmp_path / "nothing") == []  # C2 has no such panel: nothing written
    assert not (tmp_path / "nothing").exists()


def _store(tmp_path) -> str:
    rng = np.random.default_rng(3)
    _frame(tmp_path, _rows("c2-cli", ["erm", "jtt"], rng), "sweep")
    return str(tmp_path / "sweep")


def test_plot_options_in_process(cli, tmp_path):
    folder = _store(tmp_path)
    res = cli("plot", folder, "--figures", tmp_path / "out", "--panel", "success", "--panel", "amplification",
              "--size", "single", "--format", "svg", "--format", "pdf", "--json")
    assert res.exit_code == 0, res.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["c2.pdf", "c2.svg"]
    assert res.json()["C2"] == [str(tmp_path / "out" / "c2.svg"), str(tmp_path / "out" / "c2.pdf")]
    root = ET.parse(tmp_path / "out" / "c2.svg").getroot()
    assert float(root.get("width").removesuffix("pt")) <= (3.5 + PAD) * 72
    texts = "".join(root.itertext())
    assert "clean test accuracy" not in texts  # only the chosen panels were drawn
    # defaults: PNG and PDF, as always
    res = cli("plot", folder, "--figures", tmp_path / "default")
    assert res.exit_code == 0 and sorted(p.name for p in (tmp_path / "default").iterdir()) == ["c2.pdf", "c2.png"]


@pytest.mark.parametrize("args, message", [
    (["--panel", "nope"], "unknown panel 'nope'; choose one of: success, clean"),
    (["--size", "a4"], "unknown figure size 'a4'; choose one of: double, single"),
    (["--format", "jpg"], "unknown figure format 'jpg'; choose one of: png, pdf, svg"),
    (["--panel", "tightness"], "no figure under"),
])
def test_plot_bad_options_are_one_line_exit_2_and_write_nothing(cli, tmp_path, args, message):
    folder = _store(tmp_path)
    res = cli("plot", folder, "--figures", tmp_path / "out", *args)
    assert res.exit_code == 2 and res.stderr.count("\n") == 1 and message in res.stderr, res.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize("span", [(0.001, 0.0016), (0.00105, 0.00549), (0.00242, 0.00949), (0.0003, 0.3)])
def test_leaderboard_tick_labels_never_overlap(span):
    # within a decade matplotlib labels every minor tick (2-9 x 10^k), and on a narrow panel
    # "3 x 10^-3" ran into "4 x 10^-3"
    lo, hi = span
    board = pd.DataFrame({"experiment": ["e"] * 2, "metric": ["success"] * 2, "target": [0.5] * 2,
                          "group": ["train=(model=cnn,width=16,weight_decay=0.0005), metric=average", "erm"],
                          "alpha_star": [lo * 1.1, hi / 1.1], "alpha_star_lo": [lo, hi / 1.5],
                          "alpha_star_hi": [lo * 1.5, hi], "status": ["found", "limited-by-seeds"],
                          "theory_alpha_star": [np.nan] * 2, "hardt_alpha_star": [np.nan] * 2})
    fig, panels = draw(board, "critical-mass")
    (ax,) = panels.values()
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = sorted((t.get_window_extent(renderer) for t in ax.get_xticklabels(minor=False) + ax.get_xticklabels(minor=True)
                    if t.get_visible() and t.get_text()
                    and ax.get_xlim()[0] <= t.get_position()[0] <= ax.get_xlim()[1]), key=lambda b: b.x0)
    assert len(boxes) >= 2  # the axis says where it is
    assert all(a.x1 <= b.x0 for a, b in zip(boxes, boxes[1:])), [(b.x0, b.x1) for b in boxes]
