"""`collective-action report DIR`: one self-contained HTML page per results folder.

Real folders of every command (reproduce, sweep, stress, critical-mass) are built with the toy
pillar and a small simulate scenario, then the page is parsed with html.parser: its images decode
to PNGs matplotlib reads back, its tables hold the right rows and the right numbers, the
configuration and command lines are there, text is escaped; bad input is one line and exit 2."""

from __future__ import annotations

import base64
import copy
import io
import json
import math
import os
import shutil
import subprocess
from html.parser import HTMLParser

import numpy as np
import pytest
from scipy import stats

from collective_action import __version__
from collective_action.experiment import load_experiment
from collective_action.runs import reproduce as reproduce_mod
from collective_action.runs.report import build_report
from collective_action.runs.stress import run_stress, write_outputs
from collective_action.runs.sweep import read_results

os.environ.setdefault("OMP_NUM_THREADS", "1")

NASTY = "<b>bold</b> & 'single' \"double\" <script>alert(1)</script>"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


# ------------------------------------------------------------------------------ reading the page
class Page(HTMLParser):
    """The parts of a page the tests check, and every tag nesting error found on the way."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.doctype, self.stack, self.errors, self.tags = None, [], [], []
        self.title, self.imgs, self.tables, self.pres, self.text = "", [], [], [], []
        self._table = self._row = self._pre = None
        self._in_title = self._in_caption = False
        self.feed(text)
        self.close()
        if self.stack:
            self.errors.append(f"unclosed: {self.stack}")

    def handle_decl(self, decl):
        self.doctype = decl

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag not in VOID:
            self.stack.append(tag)
        if tag == "title":
            self._in_title = True
        elif tag == "img":
            self.imgs.append(attrs)
        elif tag == "table":
            self._table = {"caption": "", "header": [], "rows": [], "class": attrs.get("class", "")}
        elif tag == "caption":
            self._in_caption = True
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._row.append("")
        elif tag == "pre":
            self._pre = {"class": attrs.get("class", ""), "text": ""}

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1] if self.stack else 'nothing'}")
        else:
            self.stack.pop()
        if tag == "title":
            self._in_title = False
        elif tag == "caption":
            self._in_caption = False
        elif tag == "tr" and self._table is not None:
            in_head = "thead" in self.stack
            (self._table["header"].extend(self._row) if in_head else self._table["rows"].append(self._row))
            self._row = None
        elif tag == "table":
            self.tables.append(self._table)
            self._table = None
        elif tag == "pre":
            self.pres.append(self._pre)
            self._pre = None

    def handle_data(self, data):
        self.text.append(data)
        if self._in_title:
            self.title += data
        if self._in_caption and self._table is not None:
            self._table["caption"] += data
        elif self._row is not None and self._row:
            self._row[-1] += data
        if self._pre is not None:
            self._pre["text"] += data

    def table(self, caption_start: str) -> dict:
        found = [t for t in self.tables if t["caption"].startswith(caption_start)]
        assert len(found) == 1, [t["caption"] for t in self.tables]
        return found[0]

    def pre(self, cls: str) -> list[str]:
        return [p["text"] for p in self.pres if p["class"] == cls]


def check_page(text: str) -> Page:
    """Parse ``text`` and check what every report must be: valid HTML5 with a title and style, no
    script, nothing fetched from outside, every image a PNG that matplotlib reads back."""
    import matplotlib.image as mpimg

    page = Page(text)
    assert text.startswith("<!DOCTYPE html>") and page.doctype.lower() == "doctype html"
    assert page.errors == []
    assert ("html", {"lang": "en"}) in page.tags and ("meta", {"charset": "utf-8"}) in page.tags
    assert page.title.startswith("collective-action report") and any(t == "style" for t, _ in page.tags)
    assert not any(t in ("script", "link", "iframe", "object") for t, _ in page.tags)
    # offline: every src/href is inline data or a link inside the page
    for _, attrs in page.tags:
        for key in ("src", "href"):
            if key in attrs:
                assert attrs[key].startswith(("data:", "#")), attrs[key]
    ids = [a["id"] for _, a in page.tags if "id" in a]
    assert len(ids) == len(set(ids))
    assert page.imgs, "no figure in the page"
    for img in page.imgs:
        head, payload = img["src"].split(",", 1)
        assert head == "data:image/png;base64" and img.get("alt")
        data = base64.b64decode(payload, validate=True)
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        pixels = mpimg.imread(io.BytesIO(data), format="png")
        assert pixels.ndim == 3 and pixels.shape[0] > 50 and pixels.shape[1] > 50
        assert float(np.ptp(pixels[..., :3])) > 0  # not a blank image
    return page


def t_interval(values) -> tuple[float, float, float]:
    """The 95% Student-t interval of the mean, cut to [0, 1], computed here independently."""
    v = np.asarray(values, dtype=float)
    m, half = v.mean(), stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v))
    return m, max(m - half, 0.0), min(m + half, 1.0)


def rows_of(table: dict, series: str) -> dict[float, list[str]]:
    return {float(r[1]): r for r in table["rows"] if r[0] == series}


# ------------------------------------------------------------------------------ folders
@pytest.fixture
def claim_files(toy, write_experiment, monkeypatch):
    """Two toy files standing in for claim C2's shipped files; the first has a nasty description."""
    first = write_experiment(name="c2_toy_a.yaml")
    second = write_experiment(name="c2_toy_b.yaml")
    second.write_text(second.read_text().replace("name: toy-sweep", "name: c2-toy-b").replace("n_points: 300", "n_points: 150"))
    first.write_text(first.read_text().replace("name: toy-sweep", f"name: c2-toy-a\ndescription: {json.dumps(NASTY)}")
                     + "quick:\n  collective.alpha: [0.01, 0.3]\n")
    files = {"C2": [first, second]}
    monkeypatch.setattr(reproduce_mod, "experiment_files", lambda claim: files.get(claim, []))
    return files


@pytest.fixture
def reproduce_folder(claim_files, cli, tmp_path):
    out = tmp_path / "repro"
    res = cli("reproduce", "C2", "--quick", "--out", out, "--executor", "serial", "--no-progress")
    assert res.exit_code == 0, res.stderr
    return out


@pytest.fixture
def sweep_folder(toy, write_experiment, cli, tmp_path):
    """A plain sweep whose name names no claim, and no figures: the page draws its own."""
    exp = write_experiment()
    out = tmp_path / "sweep"
    assert cli("sweep", exp, "--out", out, "--executor", "serial", "--no-progress").exit_code == 0
    return out


TV_SCENARIO = {
    "name": "tv-report", "pillar": "simulate", "description": f"stress {NASTY}", "seeds": 2,
    "config": {"family": "discrete-counts", "collective": {"alpha": 0.01, "target": 0},
               "learner": {"name": "tv-adversary", "params": {"epsilon": 0.01}}, "n_train": 100000, "n_test": 2000,
               "counts": {"n_points": 4, "n_labels": 2, "signal_size": 1, "signal_mass": 0.0}},
    "grid": {"collective.alpha": [0.01, 0.02, 0.1]}, "assess": {},
}


@pytest.fixture
def stress_folder(tmp_path):
    """A real stress run of one small scenario, written as the `stress` command writes it."""
    out = tmp_path / "stress"
    run = run_stress([load_experiment(copy.deepcopy(TV_SCENARIO))], out, executor="serial")
    write_outputs(run, out, quick=False)
    return out


# ------------------------------------------------------------------------------ the pages
def test_reproduce_folder_page_has_figures_tables_config_and_commands(reproduce_folder, cli, tmp_path):
    target = tmp_path / "shared" / "page.html"  # a folder that does not exist yet is made
    res = cli("report", reproduce_folder, "--out", target, "--json")
    assert res.exit_code == 0, res.stderr
    assert res.json()["report"] == str(target)
    text = target.read_text(encoding="utf-8")
    page = check_page(text)
    assert len(page.imgs) == 1  # figures/c2.png, the one figure reproduce drew

    # one summary table per experiment; quick file a: 2 alphas x 2 learners, file b: 4 x 2
    a, b = page.table("c2-toy-a:"), page.table("c2-toy-b:")
    assert a["header"] == ["series", "alpha", "seeds", "success", "attack success", "clean accuracy"]
    assert len(a["rows"]) == 4 and len(b["rows"]) == 8
    assert {r[0] for r in b["rows"]} == {"majority", "smoothed"} and {r[2] for r in b["rows"]} == {"3"}

    # the numbers are the stored rows' mean and 95% interval over the three seeds
    frame = read_results(reproduce_folder)
    part = frame[(frame["experiment"] == "c2-toy-b") & (frame["learner"] == "smoothed") & (frame["alpha"] == 0.03)]
    assert len(part) == 3
    for column, shown in (("success", rows_of(b, "smoothed")[0.03][3]), ("clean_accuracy", rows_of(b, "smoothed")[0.03][5])):
        m, lo, hi = t_interval(part[column])
        assert shown == f"{m:.3f} [{lo:.3f}, {hi:.3f}]"
    assert rows_of(b, "smoothed")[0.03][4] == "–"  # the toy pillar measures no attack success

    # each experiment's stored spec, as JSON
    configs = [json.loads(t) for t in page.pre("config")]
    assert {c["name"] for c in configs} == {"c2-toy-a", "c2-toy-b"}
    a_spec = next(c for c in configs if c["name"] == "c2-toy-a")
    assert a_spec["description"] == NASTY and a_spec["grid"]["learner"] == ["majority", "smoothed"]

    commands = page.pre("commands")[0].splitlines()
    assert f"collective-action reproduce C2 --quick --out {reproduce_folder}" in commands
    assert f"collective-action plot {reproduce_folder}" in commands
    words = " ".join(page.text)
    assert f"collective-action {__version__}" in words
    assert str((reproduce_folder / "c2" / "results.sqlite").resolve()) in words

    # the description reaches the page as text, never as markup
    assert NASTY in words
    assert "<b>bold</b>" not in text and "<script>" not in text
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &#x27;single&#x27; &quot;double&quot;" in text


def test_sweep_without_figures_gets_them_drawn_and_leaves_the_folder_as_it_was(sweep_folder, cli):
    before = sorted(p.name for p in sweep_folder.rglob("*"))
    assert not list(sweep_folder.rglob("*.png"))
    res = cli("report", sweep_folder)
    assert res.exit_code == 0, res.stderr
    out = sweep_folder / "report.html"
    assert str(out) in res.stdout
    page = check_page(out.read_text(encoding="utf-8"))
    assert len(page.imgs) == 1 and "drawn from the stored results" in " ".join(page.text)
    assert sorted(p.name for p in sweep_folder.rglob("*")) == sorted(before + ["report.html"])
    table = page.table("toy-sweep:")
    assert len(table["rows"]) == 8  # 4 alphas x 2 learners
    assert page.pre("commands")[0].splitlines()[0].startswith("collective-action sweep ")
    assert page.pre("commands")[0].splitlines()[0].endswith(f" --out {sweep_folder}")


def test_stress_folder_page_has_the_stress_table_and_draws_a_missing_figure(stress_folder):
    page = check_page(build_report(stress_folder))
    assert len(page.imgs) == 1  # stress_tightness.png as the command wrote it
    per = page.table("Per scenario")
    assert [r[0] for r in per["rows"]] == ["tv-report"] and per["rows"][0][2] == "3"
    summary = page.table("tv-report:")
    assert len(summary["rows"]) == 3 and {r[2] for r in summary["rows"]} == {"2"}
    commands = page.pre("commands")[0]
    # a scenario given from Python has no file: the page says so instead of naming one that does not exist
    assert "save its configuration below as tv-report.yaml" in commands
    assert f"collective-action stress --file tv-report.yaml --out {stress_folder}" in commands
    assert f"collective-action results {stress_folder} --assess" in commands
    assert json.loads(page.pre("config")[0])["assess"]["over"] == "collective.alpha"

    # without the figure in the folder, it is drawn from the store for the page
    for png in stress_folder.glob("*.png"):
        png.unlink()
    page = check_page(build_report(stress_folder))
    assert len(page.imgs) == 1 and "stress_tightness.png, drawn from" in " ".join(page.text)
    assert not list(stress_folder.rglob("*.png"))


def test_critical_mass_folder_page_has_the_leaderboard(toy, write_experiment, cli, tmp_path):
    exp = write_experiment()
    out = tmp_path / "cm"
    res = cli("critical-mass", exp, "--out", out, "--executor", "serial", "--max-rounds", "3", "--target", "0.6")
    assert res.exit_code == 0, res.stderr
    (out / "critical_mass.png").unlink()  # drawn again from critical_mass.csv for the page
    res = cli("report", out, "--out", tmp_path / "cm.html")
    assert res.exit_code == 0, res.stderr
    page = check_page((tmp_path / "cm.html").read_text(encoding="utf-8"))
    board = page.table("alpha*(target)")
    assert len(board["rows"]) == 2 and {r[1] for r in board["rows"]} == {"learner=majority", "learner=smoothed"}
    # the search's non-default settings are part of the command that runs it again
    assert f"collective-action critical-mass {exp} --target 0.6 --max-rounds 3 --out {out}" in page.pre("commands")[0]
    assert page.table("toy-sweep:")["rows"]


# ------------------------------------------------------------------------------ bad input
def test_a_folder_without_a_store_is_one_line_and_writes_nothing(cli, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    res = cli("report", empty)
    assert res.exit_code == 2 and res.stderr.count("\n") == 1 and "no results store" in res.stderr
    assert list(empty.iterdir()) == []


def test_out_under_a_regular_file_or_on_a_folder_is_one_line(sweep_folder, cli, tmp_path):
    plain = tmp_path / "plain.txt"
    plain.write_text("keep")
    res = cli("report", sweep_folder, "--out", plain / "report.html")
    assert res.exit_code == 2 and res.stderr.count("\n") == 1 and "is not a folder" in res.stderr
    assert plain.read_text() == "keep"
    res = cli("report", sweep_folder, "--out", sweep_folder)
    assert res.exit_code == 2 and res.stderr.count("\n") == 1 and "is a folder" in res.stderr
    assert not (sweep_folder / "report.html").exists()


def test_out_in_an_unwritable_folder_is_one_line(sweep_folder, cli, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    immutable = False
    try:
        if os.access(locked, os.W_OK):  # root ignores permission bits; an immutable folder binds it too
            immutable = shutil.which("chattr") is not None and subprocess.run(
                ["chattr", "+i", str(locked)], capture_output=True).returncode == 0
            if not immutable:
                pytest.skip("running as root without chattr: no folder here is unwritable")
        res = cli("report", sweep_folder, "--out", locked / "report.html")
        assert res.exit_code == 2 and res.stderr.count("\n") == 1 and "not writable" in res.stderr
        assert list(locked.iterdir()) == []
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(locked)], check=True)
        locked.chmod(0o755)


# ------------------------------------------------------------------------------ a real browser
def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


#: Added to a copy of the page only (the report itself has no script): marks whether every image decoded.
_IMAGE_PROBE = ("<script>window.addEventListener('load', function () {"
                "var imgs = Array.prototype.slice.call(document.images);"
                "var bad = imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); });"
                "document.body.setAttribute('data-images', imgs.length + ' ok ' + (imgs.length - bad.length));"
                "});</script>")


@pytest.mark.skipif(_chromium() is None, reason="chromium / chromium-browser is not on PATH (.ci/setup installs it)")
def test_the_page_opens_in_headless_chromium_and_every_image_renders(reproduce_folder, tmp_path):
    page = tmp_path / "report.html"
    page.write_text(build_report(reproduce_folder), encoding="utf-8")
    base = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run(base + ["--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=180)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "<title>collective-action report" in dom.stdout and "c2-toy-b" in dom.stdout

    probed = tmp_path / "probed.html"
    probed.write_text(page.read_text(encoding="utf-8").replace("</body>", _IMAGE_PROBE + "</body>"), encoding="utf-8")
    dom = subprocess.run(base + ["--virtual-time-budget=10000", "--dump-dom", probed.as_uri()],
                         capture_output=True, text=True, timeout=180)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'data-images="1 ok 1"' in dom.stdout, dom.stdout[-500:]

    shot = tmp_path / "shot.png"
    res = subprocess.run(base + [f"--screenshot={shot}", "--window-size=1280,2000", page.as_uri()],
                         capture_output=True, text=True, timeout=180)
    assert res.returncode == 0 and shot.read_bytes().startswith(b"\x89PNG"), res.stderr[-2000:]
