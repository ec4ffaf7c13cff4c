"""One self-contained HTML page for a results folder: `collective-action report DIR`.

The page gathers what a collaborator needs to read a run without the toolkit: the figures (PNG,
inlined as base64 data URIs), per experiment a table of mean and 95% interval over seeds of
success, attack success and clean accuracy per (series, alpha), each experiment's configuration,
the toolkit version, the store path(s) and the command lines that reproduce the folder. It has no
script and no external asset (no font, stylesheet or image is fetched), so it opens offline.

It reads any folder the commands write:

* ``reproduce``: ``DIR/c1 ... c6/results.sqlite`` and ``DIR/figures``;
* ``sweep``, ``simulate``, ``train``: ``DIR/results.sqlite``;
* ``stress``: the store of the scenarios (their specs carry an ``assess:`` section) and
  ``stress_table.csv``; the stress table is rebuilt from the store (:func:`assess_folder`);
* ``critical-mass``: the store and ``critical_mass.csv``.

Figures already in the folder (``DIR/*.png``, ``DIR/figures/*.png``) are used as they are; a
folder without any has them drawn from its stores into a temporary folder (nothing is written
into ``DIR``). Every text that reaches the page goes through :func:`html.escape`.

Example::

    from collective_action.runs.report import write_report
    write_report("results/quick", "results/quick/report.html")
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
import re
import shlex
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .._version import __version__
from ..errors import InputError
from ..intervals import mean_interval
from .provenance import describe, environments, mixed_environments_note
from .store import ResultStore, has_store, store_path
from .sweep import _store_paths, check_writable_file

REPORT_FILENAME = "report.html"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: The measured rates the summary tables show, each with its interval over seeds.
METRICS = ("success", "attack_success", "clean_accuracy")
#: Distinct row configurations shown for an experiment without a stored spec (a grid can be large).
MAX_CONFIGS = 20

_STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 72rem;
       padding: 0 1rem; color: #1b1b1b; background: #fff; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { border-bottom: 1px solid #ccc; margin-top: 2.2rem; }
h3 { margin-top: 1.8rem; }
table { border-collapse: collapse; margin: .6rem 0 1rem; font-size: .88rem; }
caption { text-align: left; font-weight: 600; padding-bottom: .3rem; }
th, td { border: 1px solid #d4d4d4; padding: .25rem .55rem; text-align: right; vertical-align: top; }
th { background: #f3f3f3; } td.text, th.text { text-align: left; }
tbody tr:nth-child(even) { background: #fafafa; }
pre { background: #f6f6f6; border: 1px solid #e0e0e0; padding: .6rem .8rem; overflow-x: auto; font-size: .82rem; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
figure { margin: 1rem 0 2rem; } img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption, .note { color: #555; font-size: .85rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; } dt { font-weight: 600; }
details { margin: .4rem 0 1rem; } summary { cursor: pointer; font-weight: 600; }
"""


def _e(text) -> str:
    """Escape any value for HTML text or a quoted attribute."""
    return html.escape(str(text), quote=True)


# ------------------------------------------------------------------------------ reading the folder
@dataclass
class _Store:
    path: Path
    experiments: dict            # name -> {fingerprint, source, quick, registered_at}
    specs: dict                  # name -> {"spec": ..., "quick": ...}
    frame: pd.DataFrame
    failed: dict = field(default_factory=dict)   # experiment -> failed cells
    damaged: list = field(default_factory=list)  # cell ids whose rows fail their checksum


def _read_store(path: Path) -> _Store:
    with ResultStore.open(path) as store:
        frame = store.frame()
        failures = store.failures()
        failed = failures["experiment"].value_counts().to_dict() if len(failures) else {}
        return _Store(path, store.experiments(), store.specs(), frame, failed, list(store.skipped_damaged))


def _base(folder: Path) -> Path:
    """The folder the outputs sit in (``folder`` may name the store file itself)."""
    return store_path(folder).parent if has_store(folder) else folder


def _kind(folder: Path, stores: list[_Store]) -> str:
    base = _base(folder)
    if (base / "critical_mass.csv").is_file():
        return "critical-mass"
    if (base / "stress_table.csv").is_file() or any(
            s["spec"].get("assess") is not None for st in stores for s in st.specs.values()):
        return "stress"
    if not has_store(folder):
        return "reproduce"  # one store per claim in sub-folders
    return "sweep"


# ------------------------------------------------------------------------------ figures
def _existing_figures(base: Path) -> list[Path]:
    """PNGs the commands left in the folder; of two with one name (stress writes DIR/x.png, plot
    DIR/figures/x.png) the newer, since it was drawn from more of the store."""
    found: dict[str, Path] = {}
    for path in sorted(base.glob("*.png")) + sorted((base / "figures").glob("*.png")):
        if path.is_file() and (path.name not in found or path.stat().st_mtime > found[path.name].stat().st_mtime):
            found[path.name] = path
    return [found[name] for name in sorted(found)]


def _draw_figures(folder: Path, kind: str, stores: list[_Store], into: Path) -> tuple[list[Path], list[str]]:
    """Draw the folder's figures from its stores (and tables) into ``into``; (paths, notes)."""
    from .reproduce import redraw

    notes: list[str] = []
    try:
        if kind == "critical-mass":
            from ..figures.critical_mass import draw_leaderboard

            paths = draw_leaderboard(_base(folder) / "critical_mass.csv", into / "critical_mass")
        else:
            # reproduce folders, claim sweeps and stress stores: the figures `plot` draws
            paths = [Path(p) for ps in redraw(folder, into).values() for p in ps]
    except InputError:
        # a sweep whose claim cannot be told from its names: the generic success/accuracy figure
        from ..figures.common import build_claim_figure, save_figure

        frame = pd.concat([s.frame for s in stores if len(s.frame)], ignore_index=True) \
            if any(len(s.frame) for s in stores) else pd.DataFrame()
        try:
            paths = save_figure(build_claim_figure(frame, f"Results of {folder.name}"), into, "results")
        except ValueError as err:
            return [], [f"no figure: {err}"]
    except ValueError as err:  # nothing drawable (e.g. every cell failed)
        return [], [f"no figure: {err}"]
    return [p for p in paths if p.suffix == ".png"], notes


def _png_data_uri(path: Path) -> str | None:
    data = path.read_bytes()
    if not data.startswith(PNG_SIGNATURE):
        return None
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _figures_html(folder: Path, kind: str, stores: list[_Store]) -> str:
    base = _base(folder)
    parts = ['<section id="figures">', "<h2>Figures</h2>"]
    existing = _existing_figures(base)
    with tempfile.TemporaryDirectory(prefix="ca-report-") as tmp:
        if existing:
            figures, notes = [(p, f"{p.relative_to(base)} in the folder") for p in existing], []
        else:
            drawn, notes = _draw_figures(folder, kind, stores, Path(tmp))
            figures = [(p, f"{p.name}, drawn from the stored results for this page") for p in drawn]
        for path, where in figures:
            uri = _png_data_uri(path)
            if uri is None:
                notes.append(f"{path.name} is not a PNG file; left out")
                continue
            parts += ["<figure>", f'<img src="{uri}" alt="{_e(path.stem)} figure">',
                      f"<figcaption>{_e(where)}</figcaption>", "</figure>"]
    if not figures and not notes:
        notes.append("no figure")
    parts += [f'<p class="note">{_e(n)}</p>' for n in notes]
    parts.append("</section>")
    return "\n".join(parts)


# ------------------------------------------------------------------------------ tables
def _rate(mean: float, low: float, high: float) -> str:
    if not math.isfinite(mean):
        return "–"
    if not (math.isfinite(low) and math.isfinite(high)):
        return f"{mean:.3f}"  # one seed: no interval
    return f"{mean:.3f} [{low:.3f}, {high:.3f}]"


def _fmt(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return "–" if not math.isfinite(float(value)) else f"{float(value):.4g}"
    if value is None or (isinstance(value, str) and value == "nan"):
        return "–"
    return str(value)


def summary_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per (series, alpha) of one experiment's rows: seeds and mean [95% interval] of each metric.

    The series is the figures' curve label (``series``, else ``learner``, else ``pillar``; rows
    whose configurations differ in more than alpha and seed are told apart), so a table row is a
    point of a figure. A cell with several collectives gets one row per collective.
    """
    from ..figures.common import curve_labels, numeric

    if not len(frame):
        return pd.DataFrame(columns=["series", "alpha", "seeds", *METRICS])
    work = frame.assign(_series=curve_labels(frame).astype(str), _alpha=numeric(frame, "alpha"))
    keys = ["_series", "_alpha"]
    if "collective" in work and work["collective"].nunique(dropna=True) > 1:
        keys.append("collective")
    records = []
    for key, part in work.groupby(keys, sort=True, dropna=False):
        rec = {"series": key[0], "alpha": key[1], "seeds": int(part["seed"].nunique())}
        if len(keys) == 3:
            rec["collective"] = key[2]
        for metric in METRICS:
            values = part[metric] if metric in part else pd.Series(dtype=float)
            rec[metric] = mean_interval(values, (0.0, 1.0))
        records.append(rec)
    return pd.DataFrame(records)


def _table_html(header: list[str], rows: list[list[str]], caption: str, text_columns: int = 1,
                css: str = "") -> str:
    """A table; the first ``text_columns`` columns are left-aligned text, the rest numbers."""
    def cell(tag, i, value):
        cls = ' class="text"' if i < text_columns else ""
        return f"<{tag}{cls}>{_e(value)}</{tag}>"

    table_cls = f' class="{_e(css)}"' if css else ""
    out = [f"<table{table_cls}>", f"<caption>{_e(caption)}</caption>",
           "<thead><tr>" + "".join(cell("th", i, h) for i, h in enumerate(header)) + "</tr></thead>", "<tbody>"]
    out += ["<tr>" + "".join(cell("td", i, v) for i, v in enumerate(r)) + "</tr>" for r in rows]
    out.append("</tbody></table>")
    return "\n".join(out)


def _summary_html(name: str, frame: pd.DataFrame) -> str:
    table = summary_table(frame)
    if not len(table):
        return '<p class="note">no finished cells of this experiment in the store</p>'
    with_collective = "collective" in table
    header = ["series", "alpha"] + (["collective"] if with_collective else []) + [
        "seeds", "success", "attack success", "clean accuracy"]
    rows = []
    for _, r in table.iterrows():
        rows.append([r["series"], _fmt(r["alpha"])] + ([_fmt(r["collective"])] if with_collective else [])
                    + [str(r["seeds"])] + [_rate(*r[m]) for m in METRICS])
    return _table_html(header, rows, f"{name}: mean [95% interval over seeds] per series and alpha",
                       css="summary")


def _configuration_html(name: str, store: _Store, frame: pd.DataFrame) -> str:
    saved = store.specs.get(name)
    if saved is not None:
        body = json.dumps(saved["spec"], indent=2, sort_keys=True)
        title = "Configuration: the validated experiment file, as stored"
    else:
        # a store from before specs were saved: the configurations its rows were computed with
        configs = []
        for text in frame.get("config", pd.Series(dtype=object)).dropna().astype(str).unique():
            try:
                configs.append(json.dumps(json.loads(text), indent=2, sort_keys=True))
            except ValueError:
                configs.append(text)
        more = len(configs) - MAX_CONFIGS
        body = "\n\n".join(configs[:MAX_CONFIGS]) + (f"\n\n... and {more} more" if more > 0 else "")
        title = f"Configuration: the {len(configs)} distinct configurations of its rows (no stored spec)"
    return (f"<details open><summary>{_e(title)}</summary>\n"
            f'<pre class="config"><code>{_e(body)}</code></pre></details>')


def _experiment_html(index: int, name: str, store: _Store) -> str:
    info = store.experiments.get(name, {})
    frame = store.frame[store.frame["experiment"].astype(str) == name] if len(store.frame) else store.frame
    spec = (store.specs.get(name) or {}).get("spec") or {}
    quick = info.get("quick", (store.specs.get(name) or {}).get("quick"))
    versions = sorted({str(v) for v in frame.get("package_version", pd.Series(dtype=object)).dropna()})
    pillars = ", ".join(sorted(frame["pillar"].astype(str).unique())) if len(frame) else "–"
    envs = environments(frame)
    facts = [("pillar", spec.get("pillar") or pillars),
             ("source file", info.get("source", "–")),
             ("quick", "yes" if quick else "no" if quick is not None else "–"),
             ("cells done", str(frame["cell_id"].nunique()) if len(frame) else "0"),
             ("cells failed", str(store.failed.get(name, 0))),
             ("computed by version", ", ".join(versions) or "–"),
             ("computed with", "; ".join(f"{describe(r)} ({r['cells']} cells)" for _, r in envs.iterrows()) or "–"),
             ("registered", info.get("registered_at", "–")),
             ("store", str(store.path))]
    parts = [f'<section class="experiment" id="experiment-{index}">', f"<h3>{_e(name)}</h3>"]
    if spec.get("description"):
        parts.append(f'<p class="description">{_e(str(spec["description"]).strip())}</p>')
    parts.append("<dl>" + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts) + "</dl>")
    if len(envs) > 1:
        parts.append(f'<p class="note mixed-environments">{_e(mixed_environments_note(len(envs)))}</p>')
    parts.append(_summary_html(name, frame))
    parts.append(_configuration_html(name, store, frame))
    parts.append("</section>")
    return "\n".join(parts)


def _stress_html(folder: Path) -> str:
    from ..assess import flag_counts, scenario_summary
    from .stress import assess_folder, stored_scenarios

    base = _base(folder)
    if stored_scenarios(folder):
        table, origin = assess_folder(folder), "rebuilt from the store"
    elif (base / "stress_table.csv").is_file():
        table, origin = pd.read_csv(base / "stress_table.csv"), "read from stress_table.csv"
    else:
        return ""
    parts = ['<section id="stress">', "<h2>Stress battery</h2>"]
    if not len(table):
        return "\n".join(parts + ['<p class="note">the stress table is empty</p>', "</section>"])
    counts = flag_counts(table)
    parts.append(f'<p>{_e(len(table))} rows ({_e(origin)}); flags: '
                 + ", ".join(f"{_e(v)} {_e(k)}" for k, v in counts.items()) + "</p>")
    per = scenario_summary(table)
    keep = [c for c in ("scenario", "stresses", "rows", "tightness_min", "tightness_median", "vacuous_share",
                        "violation", "loose", "not_converged", "nan") if c in per]
    parts.append(_table_html(keep, [[_fmt(r[c]) for c in keep] for _, r in per.iterrows()],
                             "Per scenario: tightness (bound / measured success) of informative bounds and flags",
                             text_columns=2))
    flagged = table[table["flags"].fillna("").astype(str) != ""]
    if len(flagged):
        cols = [c for c in ("scenario", "point", "series", "alpha", "success", "success_bound", "flags",
                            "violation_cause") if c in flagged]
        parts.append(_table_html(cols, [[_fmt(r[c]) for c in cols] for _, r in flagged.iterrows()],
                                 "Flagged rows", text_columns=3))
    parts.append("</section>")
    return "\n".join(parts)


def _critical_mass_html(folder: Path) -> str:
    path = _base(folder) / "critical_mass.csv"
    table = pd.read_csv(path)
    cols = [c for c in ("experiment", "group", "metric", "target", "alpha_star", "alpha_star_lo", "alpha_star_hi",
                        "status", "trainings", "seeds", "seeds_to_decide", "clean_accuracy_at_hi", "theory_alpha_star",
                        "hardt_alpha_star", "theory_kind") if c in table]
    return "\n".join(['<section id="critical-mass">', "<h2>Critical mass</h2>",
                      _table_html(cols, [[_fmt(r[c]) for c in cols] for _, r in table.iterrows()],
                                  f"alpha*(target) with its interval per group ({path.name})", text_columns=3),
                      "</section>"])


# ------------------------------------------------------------------------------ command lines
def _q(path) -> str:
    return shlex.quote(str(path))


def _shipped_stress_names() -> dict[str, str]:
    from .stress import shipped_scenario_files

    return {str(p.resolve()): p.stem for p in shipped_scenario_files()}


def _file_search_defaults(stores: list[_Store], name: str, info: dict) -> tuple[int | None, tuple | None]:
    """(seed count, alpha range) a critical-mass search of the stored experiment file gets without
    --seeds and --alpha-range (quick overrides applied); None where the file is not stored or this
    version cannot read it, so that the command keeps the option."""
    from ..experiment import load_experiment
    from .critical_mass import search_range

    saved = next((st.specs[name] for st in stores if name in st.specs), None)
    if saved is None:
        return None, None
    try:
        _, axes, seeds = load_experiment(saved["spec"]).grid(bool(info.get("quick")))
    except Exception:  # noqa: BLE001 - a spec this version cannot read
        return None, None
    try:
        return len(seeds), search_range(axes)
    except InputError:  # no alpha axis to default to: the search was given --alpha-range
        return len(seeds), None


def commands(folder: str | Path, kind: str | None = None, stores: list[_Store] | None = None) -> list[str]:
    """The command lines that recompute ``folder`` (each resumes: a stored cell is never rerun),
    then the ones that redraw and rebuild this page; ``#`` lines explain a placeholder."""
    folder = Path(folder)
    stores = stores if stores is not None else [_read_store(p) for p in _store_paths(folder)]
    kind = kind or _kind(folder, stores)
    out = _q(_base(folder))
    infos = sorted(((name, info) for s in stores for name, info in s.experiments.items()),
                   key=lambda item: item[1]["registered_at"])
    lines: list[str] = []

    def source(name: str, info: dict) -> str:
        if info["source"] in ("<memory>", ""):
            lines.append(f"# {name} was given from Python, not a file: save its configuration below as {name}.yaml")
            return _q(f"{name}.yaml")
        return _q(info["source"])

    quick = lambda info: " --quick" if info["quick"] else ""  # noqa: E731
    if kind == "reproduce":
        for st in stores:
            claim = st.path.parent.name.upper()
            flags = {i["quick"] for i in st.experiments.values()}
            if re.fullmatch(r"C[1-6]", claim):
                lines.append(f"collective-action reproduce {claim}{' --quick' if True in flags else ''} --out {out}")
        lines.append(f"collective-action plot {out}")
    elif kind == "stress":
        shipped = _shipped_stress_names()
        files, names = [], []
        for name, info in infos:
            src = info["source"]
            if src in shipped or (src not in ("<memory>", "") and str(Path(src).resolve()) in shipped):
                names.append(name)
            else:
                files.append(source(name, info))
        picked = "".join(f" --scenario {_q(n)}" for n in names) + "".join(f" --file {f}" for f in files)
        any_quick = any(info["quick"] for _, info in infos)
        lines.append(f"collective-action stress{' --quick' if any_quick else ''}{picked} --out {out}")
        lines.append(f"collective-action results {out} --assess")
    elif kind == "critical-mass":
        table = pd.read_csv(_base(folder) / "critical_mass.csv")
        for name, info in infos:
            part = table[table["experiment"].astype(str) == name] if "experiment" in table else table
            opts = "".join(f" --target {t:g}" for t in sorted(part["target"].dropna().unique())) if "target" in part else ""
            if "metric" in part and len(part) and part["metric"].iloc[0] != "success":
                opts += f" --metric {_q(part['metric'].iloc[0])}"
            if "level" in part and len(part) and float(part["level"].iloc[0]) != 0.95:
                opts += f" --level {float(part['level'].iloc[0]):g}"
            if "stop_ratio" in part and len(part) and float(part["stop_ratio"].iloc[0]) != 1.5:
                opts += f" --ratio {float(part['stop_ratio'].iloc[0]):.12g}"
            file_seeds, file_range = _file_search_defaults(stores, name, info)
            if {"alpha_min", "alpha_max"} <= set(part.columns) and len(part):
                lo, hi = float(part["alpha_min"].iloc[0]), float(part["alpha_max"].iloc[0])
                if (lo, hi) != file_range:  # the search ran with --alpha-range
                    opts += f" --alpha-range {lo:.12g} --alpha-range {hi:.12g}"
            if "max_rounds" in part and len(part) and int(part["max_rounds"].iloc[0]) != 16:
                opts += f" --max-rounds {int(part['max_rounds'].iloc[0])}"
            if "seeds" in part and len(part) and int(part["seeds"].iloc[0]) != file_seeds:
                opts += f" --seeds {int(part['seeds'].iloc[0])}"  # the search ran with --seeds
            lines.append(f"collective-action critical-mass {source(name, info)}{quick(info)}{opts} --out {out}")
    else:
        for i, (name, info) in enumerate(infos):
            # a second experiment in one store needs --resume (sweep refuses to mix otherwise)
            lines.append(f"collective-action sweep {source(name, info)}{quick(info)} --out {out}"
                         + (" --resume" if i else ""))
        lines.append(f"collective-action plot {out}")
    lines.append(f"collective-action report {out} --out {_q(_base(folder) / REPORT_FILENAME)}")
    return lines


# ------------------------------------------------------------------------------ the page
def check_inputs(folder: str | Path, out: str | Path | None = None) -> tuple[Path, Path]:
    """(folder, out) once both are usable, before any work: a store in ``folder`` (or its
    sub-folders) and a writable ``out`` (default ``folder``/report.html); else InputError."""
    folder = Path(folder)
    _store_paths(folder)
    out = Path(out) if out is not None else _base(folder) / REPORT_FILENAME
    check_writable_file(out, "--out")
    return folder, out


def build_report(folder: str | Path) -> str:
    """The HTML page of the results folder ``folder`` (see the module docstring)."""
    folder = Path(folder)
    paths = _store_paths(folder)
    stores = [_read_store(p) for p in paths]
    kind = _kind(folder, stores)
    generated = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    names = []
    for st in stores:
        stored = set(st.frame["experiment"].astype(str)) if len(st.frame) else set()
        names += [(name, st) for name in sorted(set(st.experiments) | stored)]
    versions = sorted({str(v) for st in stores for v in st.frame.get("package_version", pd.Series(dtype=object)).dropna()})
    damaged = [cid for st in stores for cid in st.damaged]
    title = f"collective-action report: {_base(folder).name or _base(folder)}"
    facts = [("folder", str(_base(folder).resolve())), ("kind", f"{kind} folder"),
             ("toolkit version", f"collective-action {__version__} (this page)"),
             ("cells computed by", ", ".join(f"collective-action {v}" for v in versions) or "–"),
             ("results stores", "; ".join(str(p.resolve()) for p in paths)),
             ("experiments", ", ".join(n for n, _ in names) or "–"),
             ("generated", generated)]
    body = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta name="generator" content="collective-action {_e(__version__)}">',
        f"<title>{_e(title)}</title>", f"<style>{_STYLE}</style>", "</head>", "<body>",
        "<header>", f"<h1>{_e(title)}</h1>",
        '<p class="note">Points are means over seeds with two-sided 95% Student-t intervals over seeds, cut to [0, 1]; '
        "a single seed gives no interval. success: Pr over clean test points that the model outputs the "
        "collective's target on the signal; attack success: the same over points whose label is not the target; "
        "clean accuracy: accuracy on clean test points.</p>",
        "</header>",
        '<section id="provenance">', "<h2>Provenance</h2>",
        "<dl>" + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts) + "</dl>",
    ]
    if damaged:
        body.append(f'<p class="note">{_e(len(damaged))} stored cell(s) with damaged rows (checksum mismatch) are '
                    f"left out; `sweep --resume` recomputes them</p>")
    body += ["<h3>Command lines that reproduce this folder</h3>",
             '<p class="note">Run from the folder the run was started in (source paths are as given then). '
             "Each command resumes: cells already stored are not computed again.</p>",
             f'<pre class="commands"><code>{_e(chr(10).join(commands(folder, kind, stores)))}</code></pre>',
             "</section>"]
    body.append(_figures_html(folder, kind, stores))
    if kind == "stress":
        body.append(_stress_html(folder))
    if kind == "critical-mass":
        body.append(_critical_mass_html(folder))
    body += ['<section id="experiments">', "<h2>Experiments</h2>"]
    body += [_experiment_html(i, name, st) for i, (name, st) in enumerate(names, start=1)]
    body += ["</section>", "</body>", "</html>", ""]
    return "\n".join(body)


def write_report(folder: str | Path, out: str | Path | None = None) -> Path:
    """Write the page of ``folder`` to ``out`` (default ``folder``/report.html); returns its path.

    Both are checked before any work; the page is written to a temporary file next to ``out``
    and renamed, so a failed write never leaves half a page.
    """
    folder, out = check_inputs(folder, out)
    page = build_report(folder)
    # open() rather than mkstemp: the page keeps the umask's permissions, so collaborators can read it
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(page, encoding="utf-8")
        os.replace(tmp, out)
    except OSError as err:
        raise InputError(f"cannot write {out} ({err.strerror or err})") from None
    finally:
        if tmp.exists():
            tmp.unlink()
    return out


__all__ = ["build_report", "write_report", "check_inputs", "summary_table", "commands"]
