"""`reproduce CLAIM` runs a claim's experiment files into one store and draws; `plot` redraws."""

from __future__ import annotations

import json

import pytest

from collective_action.runs import reproduce as reproduce_mod
from collective_action.runs.store import ResultStore


@pytest.fixture
def toy_claim_files(toy, write_experiment, monkeypatch):
    """Two toy experiment files standing in for claim C2's shipped files (no other claim has any)."""
    first = write_experiment(name="c2_toy_a.yaml")
    second = write_experiment(name="c2_toy_b.yaml")
    second.write_text(second.read_text().replace("name: toy-sweep", "name: c2-toy-b").replace("n_points: 300", "n_points: 150"))
    first.write_text(first.read_text().replace("name: toy-sweep", "name: c2-toy-a")
                     + "quick:\n  collective.alpha: [0.01, 0.3]\n")
    files = {"C2": [first, second]}
    monkeypatch.setattr(reproduce_mod, "experiment_files", lambda claim: files.get(claim, []))
    return files


def test_unknown_claim_exits_2_and_writes_nothing(cli, tmp_path):
    res = cli("reproduce", "C9", "--out", tmp_path / "out")
    assert res.exit_code == 2 and res.stderr.count("\n") == 1 and "unknown claim" in res.stderr
    assert not (tmp_path / "out").exists()


def test_reproduce_all_runs_claim_files_draws_and_plot_redraws(toy_claim_files, cli, tmp_path):
    out = tmp_path / "quick"
    res = cli("reproduce", "all", "--quick", "--out", out, "--executor", "serial", "--no-progress", "--json")
    assert res.exit_code == 0, res.stderr
    claims = {c["claim"]: c for c in res.json()["claims"]}
    assert set(claims) == {"C1", "C2", "C3", "C4", "C5", "C6", "C7"}
    assert "no experiment files" in claims["C1"]["note"] and claims["C1"]["cells"] == 0
    # quick section of file a: 2 alphas x 2 learners x 3 seeds; file b has no quick section: 24
    assert claims["C2"]["cells"] == 12 + 24 and claims["C2"]["failed"] == 0
    png = out / "figures" / "c2.png"
    assert png.exists() and (out / "figures" / "c2.pdf").exists()
    with ResultStore.open(out / "c2") as store:
        assert set(store.experiments()) == {"c2-toy-a", "c2-toy-b"} and store.count("done") == 36

    again = cli("reproduce", "C2", "--quick", "--out", out, "--executor", "serial", "--no-progress", "--json")
    assert again.exit_code == 0 and again.json()["claims"][0]["ran"] == 0

    drawn = {p.name: p.read_bytes() for p in (png, out / "figures" / "c2.pdf")}
    png.unlink()
    res = cli("plot", out, "--json")
    assert res.exit_code == 0 and png.exists()
    assert json.loads(res.stdout)["C2"][0].endswith("c2.png")
    # the figures carry no date: redrawing from the store writes the same bytes
    assert {name: (out / "figures" / name).read_bytes() for name in drawn} == drawn
    assert b"/CreationDate" not in drawn["c2.pdf"]

    # a full run into the quick folder is refused before anything runs
    res = cli("reproduce", "C2", "--out", out, "--executor", "serial", "--no-progress")
    assert res.exit_code == 2 and "another --out" in res.stderr and res.stderr.count("\n") == 1


def test_plot_of_a_single_sweep_infers_its_claim(toy, write_experiment, cli, tmp_path):
    exp = write_experiment()
    exp.write_text(exp.read_text().replace("name: toy-sweep", "name: c4-toy"))
    out = tmp_path / "sweep"
    assert cli("sweep", exp, "--out", out, "--executor", "serial", "--no-progress").exit_code == 0
    res = cli("plot", out, "--json")
    assert res.exit_code == 0, res.stderr
    assert (out / "figures" / "c4.png").exists()
    res = cli("plot", tmp_path / "empty-dir")
    assert res.exit_code == 2 and "no results store" in res.stderr


def test_a_claims_figures_are_drawn_on_a_pool_worker_as_the_parent_draws_them(toy_claim_files, tmp_path,
                                                                               monkeypatch):
    """On a pool, a claim's figures are drawn by a worker (the next claim computes meanwhile), under
    the caller's drawing options, byte for byte as the parent draws them (the files carry no date);
    claims report in order."""
    from collective_action.figures.options import drawing

    with drawing(formats=["png", "svg", "pdf"]):
        serial = reproduce_mod.reproduce("all", tmp_path / "serial", quick=True, executor="serial", progress=False)
    seen = []

    def parent_must_not_draw(*args):
        raise AssertionError("the parent drew a claim's figures")

    monkeypatch.setattr(reproduce_mod, "draw_claim", parent_must_not_draw)
    with drawing(formats=["png", "svg", "pdf"]):
        pooled = reproduce_mod.reproduce("all", tmp_path / "pool", quick=True, executor="pool", workers=2,
                                         progress=False, on_claim=lambda r: seen.append(r.claim))
    assert seen == [r.claim for r in pooled] == ["C1", "C2", "C3", "C4", "C5", "C6", "C7"]
    c2 = pooled[1]
    assert [p.rsplit("/", 1)[-1] for p in c2.figures] == ["c2.png", "c2.svg", "c2.pdf"] and c2.wall_s > 0
    assert [p.rsplit("/", 1)[-1] for p in serial[1].figures] == ["c2.png", "c2.svg", "c2.pdf"]
    for name in ("c2.png", "c2.svg", "c2.pdf"):
        assert (tmp_path / "pool" / "figures" / name).read_bytes() == (tmp_path / "serial" / "figures" / name).read_bytes()


def test_a_claim_whose_drawing_cannot_reach_the_pool_is_drawn_by_the_parent(toy_claim_files, tmp_path):
    """A pool that broke (a worker died) refuses new work: the parent draws that claim's figures."""
    import concurrent.futures as cf

    out = tmp_path / "quick"
    first = reproduce_mod.reproduce("C2", out, quick=True, executor="serial", progress=False)[0]
    (out / "figures" / "c2.png").unlink()

    class BrokenPool:
        def executor(self):
            raise cf.process.BrokenProcessPool("a worker died")

    seen = []
    figures = reproduce_mod._ClaimFigures(BrokenPool(), out / "figures", seen.append)
    with ResultStore.open(out / "c2") as store:
        frame = store.frame()
    report = reproduce_mod.ClaimReport("C2")
    figures.add(report, 0.0, frame)
    assert seen == [report] and report.figures == first.figures and (out / "figures" / "c2.png").exists()
