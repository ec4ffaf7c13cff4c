"""Write docs/gallery/: one image of every figure kind, and docs/gallery.md with their captions.

    python scripts/make_gallery.py                        # runs the quick experiments (a few minutes)
    python scripts/make_gallery.py --store results/quick  # draws from an existing `reproduce all --quick`

The figures come from real runs of shipped experiment files at their quick sizes (``CLAIM_FILES``:
for each claim the files that fill every panel kind of its figure, simulations where one does,
so the only training runs are C3's, C5's and C7's small quick ones), the stress battery's quick
scenarios, and a quick critical-mass search over experiments/c2_simulate_dro.yaml. Every run
resumes from its store under --work, so a second call recomputes nothing. Each caption names
the experiments drawn. The images are PNGs at --dpi (default 100; the commands write 200), so
the repository stays light.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Entry:
    """One gallery image: the figure kind, where its data comes from, and what to say about it."""

    kind: str
    stem: str
    title: str
    caption: str
    command: str
    source: str = ""  # the claim store's folder name, or "stress" / "critical-mass"
    panels: tuple[str, ...] | None = None
    size: str = "double"
    experiment: str | None = None  # draw only this experiment's rows


ENTRIES = (
    Entry("C1", "c1", "C1: Hardt et al.'s bound against the exact Bayes success", source="c1", caption=(
        "One row per experiment: the collective's success S(alpha) on a log alpha axis, with clean "
        "and worst-group accuracy beside it where the rows hold them. Points are simulated means over seeds "
        "with 95% Student-t intervals; solid lines are theory's exact success (steps where it is a step "
        "function), dashed lines Hardt et al.'s lower bound, both evaluated on a dense alpha grid. The claim "
        "holds where no point lies below its bound by more than its Monte Carlo error."),
        command="collective-action plot results/quick/c1"),
    Entry("C2", "c2", "C2: distributionally robust learners change the effective size", source="c2", caption=(
        "Success (attack success for trained networks) and accuracies per learner, one row per experiment, "
        "then the amplification row: alpha_eff / alpha per reweighting learner, measured (points) and "
        "predicted by theory from the measured statistics (lines), with the crossover where the prediction "
        "crosses 1. Each algorithm keeps its registry colour and marker: JTT is a blue square in every "
        "panel and every figure."),
        command="collective-action plot results/quick/c2"),
    Entry("C3", "c3", "C3: the validation set is a lever", source="c3", caption=(
        "Success and clean accuracy of each learner trained with a clean validation set and with one that "
        "holds the collective's points (the legend names which): the gap between the two is how much "
        "controlling model selection adds to the collective's reach."),
        command="collective-action plot results/quick/c3"),
    Entry("C4", "c4", "C4: simplicity bias decides which signals work", source="c4", caption=(
        "Success per signal placement (simple block, complex block, free coordinates), one row of panels per "
        "experiment and learner, so the collective sizes each placement needs can be read side by side. "
        "Theory's prediction for the linear case is drawn as lines."),
        command="collective-action plot results/quick/c4"),
    Entry("C5", "c5", "C5: theory, simulation and training agree", source="c5", caption=(
        "Success against alpha per experiment, then agreement scatters: measured success against theory's "
        "exact success, and measured against predicted alpha_eff, each with the dotted y = x line of perfect "
        "agreement and 95% intervals over seeds."),
        command="collective-action plot results/quick/c5"),
    Entry("C6", "c6", "C6: the collective's goals, on the car data and on random discrete problems",
          source="c6", caption=(
        "Gauthier, Bach & Jordan's car data: one panel per experiment, success against the collective's "
        "share n/N in percent (points with a 95% band over seeds) and the lower bound computed from the "
        "collective's own data (dashed; dotted where the corrected unplanting bound differs). Below, random "
        "discrete problems: one row per problem, one panel per goal (plant, unplant, erase), one curve per "
        "strategy in its registry colour and marker: the measured success of the strategy's goal (points, "
        "95% interval), theory's exact Bayes success (solid steps) and the Hardt-form population bound "
        "(dashed), both on a dense alpha grid, and Gauthier et al.'s finite-sample bound from the members' own "
        "rows (dash-dot, absent where it is undefined). Goal rows of trained models, where stored, get a "
        "success and a clean-accuracy panel per goal."),
        command="collective-action plot results/quick/c6"),
    Entry("C7", "c7", "C7: several collectives and coordination noise", source="c7", caption=(
        "Top: collective 0's success over the grid alpha_0 x alpha_1 of two collectives, with theory's frontier "
        "(exact success 0.5) in white. Below: its success against the noise share of its members, per kind of "
        "deviation, with theory's exact success dashed; and, where the Gaussian tug of war ran, both "
        "collectives' success per learning algorithm in the registry's colours. Last, trained models on "
        "Fashion-MNIST: the tug of war on one patch, collective 0's success (solid) and collective 1's "
        "(dashed) against alpha_0 per learning algorithm, one panel per alpha_1; and collective 0's success "
        "against alpha_0 with deviating members on disjoint patches, one curve per kind of deviation that ran "
        "(and one without deviators where that ran), one panel per learning algorithm; each with the clean "
        "accuracy of the same models beside or below it."),
        command="collective-action plot results/quick/c7"),
    Entry("stress", "stress", "Stress battery: tightness per scenario", source="stress", caption=(
        "Every row of the quick stress battery as a dot: theory's bound divided by the measured success (1: "
        "tight; far left: loose), one strip per scenario. Vacuous bounds sit on the left edge as open "
        "triangles, rows checked by alpha_eff as diamonds, violations as red crosses."),
        command="collective-action stress --quick --out results/stress"),
    Entry("critical-mass", "critical_mass", "Critical mass per learning algorithm", source="critical-mass", caption=(
        "The adaptive critical-mass search on experiments/c2_simulate_dro.yaml (quick): per learner, the "
        "smallest alpha whose attack success reaches 0.5, as a 95% interval (bar) and estimate (dot), with "
        "theory's prediction through alpha_eff (open diamond). A search that did not close its bracket is grey "
        "and names its status. Once the search has run, `collective-action plot results/cm` redraws it from "
        "the stored table."),
        command="collective-action critical-mass experiments/c2_simulate_dro.yaml --metric attack_success --quick "
                "--out results/cm"),
    Entry("results", "results", "Any sweep: the generic results figure", source="c2",
          experiment="c2-simulate-dro", caption=(
              "What `report` draws for a sweep whose claim cannot be told from its experiment names: the panels "
              "every claim figure starts with (success, clean and worst-group accuracy against alpha, theory as "
              "lines), here for the quick rows of experiments/c2_simulate_dro.yaml."),
          command="python -c \"from collective_action.figures import draw, save; "
                  "from collective_action.runs.sweep import read_results; "
                  "save(draw(read_results('results/quick/c2'), 'results').figure, 'results')\""),
    Entry("C2", "c2_amplification_single", "Options: one panel kind, one column", source="c2",
          panels=("amplification",), size="single", caption=(
              "The same C2 data drawn with `--panel amplification --size single`: only the amplification panels, "
              "3.5 in wide for one column of a two-column paper, one panel per row, text still printed at 8 pt. "
              "`--format pdf --format svg` writes vector files instead of PNG."),
          command="collective-action plot results/quick/c2 --panel amplification --size single --format png"),
)


#: Claim -> the shipped files its gallery image is drawn from (what `reproduce` runs, less the
#: empirical files of claims whose simulations already fill every panel kind of the figure).
CLAIM_FILES = {
    "C1": ("c1_simulate_discrete.yaml", "c1_simulate_gaussian.yaml", "c1_theory_bounds.yaml",
           "c1_theory_suboptimal.yaml"),
    "C2": ("c2_simulate_dro.yaml",),
    "C3": ("c3_validation_lever.yaml",),
    "C4": ("c4_simulate_simplicity.yaml",),
    "C5": ("c5_simulate_discrete_exact.yaml", "c5_simulate_exact_success.yaml", "c5_empirical_alpha_eff.yaml"),
    "C6": ("c6_car_planting.yaml", "c6_car_feature_only.yaml", "c6_car_planting_N.yaml", "c6_car_unplanting.yaml",
           "c6_car_unplanting_naive.yaml", "c6_discrete_goals.yaml"),
    "C7": ("c7_several_discrete.yaml", "c7_several_gaussian.yaml", "c7_several_empirical.yaml"),
}


def run_claims(work: Path, executor: str) -> Path:
    """Sweep every claim's ``CLAIM_FILES`` at quick size into work/quick/<claim> (the layout
    `reproduce` writes; resumes), on one worker pool; returns work/quick."""
    from contextlib import nullcontext

    from collective_action.experiments import experiment_dir
    from collective_action.runs.executors import WorkerPool
    from collective_action.runs.sweep import check_options, run_sweep

    out = work / "quick"
    workers = check_options(executor, None, None, None)
    with (WorkerPool(workers) if executor == "pool" else nullcontext()) as pool:
        for claim, files in CLAIM_FILES.items():
            t0 = time.perf_counter()
            reports = [run_sweep(experiment_dir() / name, out / claim.lower(), executor=executor, quick=True,
                                 progress=False, share_store=True, pool=pool) for name in files]
            print(f"  {claim}: {sum(r.n_cells for r in reports)} cells, {sum(r.n_run for r in reports)} ran, "
                  f"{sum(r.n_failed for r in reports)} failed, {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return out


def stress_table(work: Path, executor: str):
    from collective_action.runs.stress import load_scenarios, run_stress

    return run_stress(load_scenarios(), work / "stress", quick=True, resume=True, executor=executor).table


def critical_mass_table(work: Path, executor: str):
    from collective_action.experiments import experiment_dir
    from collective_action.runs.critical_mass import critical_mass

    return critical_mass(experiment_dir() / "c2_simulate_dro.yaml", work / "critical-mass", targets=(0.5,),
                         metric="attack_success", quick=True, executor=executor).table


def markdown(entries, images: dict[str, Path], out: Path, dpi: float) -> str:
    lines = ["# Figure gallery", "",
             "One image of every figure kind the toolkit draws, from quick runs of the shipped experiment "
             "files (each caption names the experiments drawn). Regenerate them all with `python "
             "scripts/make_gallery.py` (a few minutes on 2 cores; `--store results/quick` draws from an "
             "existing `reproduce all --quick` instead); the images are PNGs at "
             f"{dpi:g} dpi (the commands write 200). Each caption ends with the command that draws the "
             "figure; the claims' commands read `results/quick`, which `collective-action reproduce all "
             "--quick` fills with every file of every claim. `plot` takes `--panel KIND`, `--size single|double` and "
             "`--format png|pdf|svg`; from Python every figure is a matplotlib figure with named panels to "
             "restyle (docs/sweeps.md, \"Figures\"):", "",
             "```python",
             "from collective_action.figures import draw, save",
             "fig, panels = draw(frame, \"C2\", panels=[\"success\"], size=\"single\")",
             "save(fig, \"c2\", formats=[\"pdf\", \"svg\"])",
             "```", ""]
    for entry in entries:
        if entry.stem not in images:
            continue
        image, drawn_from = images[entry.stem]
        rel = image.relative_to(out.parent)
        lines += [f"## {entry.title}", "", f"![{entry.title}]({rel.as_posix()})", "",
                  f"{entry.caption} Drawn from: {drawn_from}.", "", f"Command: `{entry.command}`", ""]
    return "\n".join(lines)


def drawn_from(entry: Entry, data) -> str:
    """What the image shows rows of, for its caption: the experiments (or stress scenarios)."""
    if entry.source == "stress":
        return f"{data['scenario'].nunique()} quick stress scenarios"
    names = sorted(set(data["experiment"].astype(str)))
    return ", ".join(f"`{name}`" for name in names) + " (quick sizes)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, help="an existing `reproduce all --quick` folder (c1/ ... c7/)")
    parser.add_argument("--work", type=Path, default=ROOT / "results" / "gallery", help="where the runs are stored")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "gallery", help="where the images go")
    parser.add_argument("--dpi", type=float, default=100.0, help="PNG resolution (default 100)")
    parser.add_argument("--executor", choices=("pool", "serial"), default="pool",
                        help="run cells on a process pool (default) or one after another")
    args = parser.parse_args(argv)

    import pandas as pd

    from collective_action.figures import draw, save
    from collective_action.runs.sweep import read_results

    t0 = time.perf_counter()
    claims = args.store or run_claims(args.work, args.executor)
    tables = {"stress": stress_table(args.work, args.executor),
              "critical-mass": critical_mass_table(args.work, args.executor)}
    args.out.mkdir(parents=True, exist_ok=True)
    images = {}
    for entry in ENTRIES:
        if entry.source in tables:
            data = tables[entry.source]
        else:
            data = read_results(claims / entry.source)
            if entry.experiment:
                data = data[data["experiment"] == entry.experiment]
        if not isinstance(data, pd.DataFrame) or data.empty:
            print(f"note: no rows for {entry.stem}; left out", file=sys.stderr)
            continue
        fig, panels = draw(data, entry.kind, panels=entry.panels, size=entry.size)
        (png,) = save(fig, args.out / entry.stem, formats=["png"], dpi=args.dpi)
        images[entry.stem] = (png, drawn_from(entry, data))
        print(f"{png}: {len(panels)} panels, {png.stat().st_size // 1024} KiB", file=sys.stderr)
    page = args.out.parent / "gallery.md"
    page.write_text(markdown(ENTRIES, images, args.out, args.dpi))
    print(f"{page}: {len(images)} images in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
