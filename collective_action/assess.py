"""Holding results against theory: the ``assess:`` section of an experiment file and its flags.

An experiment file with an ``assess:`` section is a stress scenario. Its cells run like any
other (``sweep``, ``stress``, any executor, one results store); afterwards its stored rows are
grouped over seeds (one group per grid point, swept value and collective) and every group is held
against the prediction the rows carry::

    assess:
      against: auto          # bound | exact | alpha_eff | auto (alpha_eff for reweighting learners, else bound)
      z: 3.0                 # standard errors a gap must exceed before it counts
      alpha_eff_tolerance: 0.02
      loose_below: 0.1       # optional: tightness = bound / measured below this raises LOOSE
      flags: [VIOLATION, LOOSE, NOT_CONVERGED, NAN]   # the flags this scenario may raise

The rows must carry theory's numbers next to the measurement (the simulator's stress families
do): ``success_bound`` (a lower bound on success) with ``success_bound_se``, ``success_theory``
with ``success_theory_se`` and ``exact_applies`` (theory's value is exact for the learner that
ran), ``alpha_eff_predicted`` / ``alpha_eff_measured``, ``converged``. The checks:

* **bound**: a lower bound must not sit above the measured mean beyond ``z`` SE (the SE combines
  the spread over seeds, the binomial error of the test points and the prediction's own Monte Carlo
  error). The suspected cause is named from what else theory knows about the row: if the bound
  even exceeds theory's *exact* success for the learner class it assumes, the formula is wrong or
  applied outside its assumptions; if the measurement falls below that exact success, the learner is
  not the one theory assumes; otherwise the gap is a Monte Carlo or finite-sample effect.
* **exact**: where theory's value is exact for the learner that ran (or ``against: exact``),
  |exact - mean| > ``z`` SE is a bug in one of the two.
* **alpha_eff**: theory's alpha_eff fed with the measured shares must equal the measured weight
  share within ``alpha_eff_tolerance`` (the tolerance of claim C5).
* **JTT's collapse** (rows with ``jtt_lambda_c``): docs/theory.md §5 predicts that the second stage
  flips a binary classifier exactly when lambda > lambda_c; flipped, clean accuracy falls below 1/2.

Flags: VIOLATION (with the suspected cause), LOOSE, NOT_CONVERGED (some seed's fit did not
converge), NAN (a quantity the row is held against is missing).
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass
from typing import Literal, Optional

import numpy as np
import pandas as pd
from pydantic import Field, field_validator

from .experiment import Experiment, StrictModel

VIOLATION, LOOSE, NOT_CONVERGED, NAN = "VIOLATION", "LOOSE", "NOT_CONVERGED", "NAN"
FLAGS = (VIOLATION, LOOSE, NOT_CONVERGED, NAN)
#: Absolute slack for floating-point ties (a bound equal to the measurement is not a violation).
ATOL = 1e-9


class AssessSpec(StrictModel):
    """The ``assess:`` section of an experiment file."""

    against: Literal["auto", "bound", "exact", "alpha_eff"] = Field(
        "auto", description="the prediction each row is held against (auto: alpha_eff for reweighting learners, else bound)")
    z: float = Field(3.0, gt=0.0, description="standard errors a gap must exceed (3: about 0.3% false alarms per check)")
    alpha_eff_tolerance: float = Field(0.02, gt=0.0, description="largest |alpha_eff predicted - measured| that agrees")
    loose_below: Optional[float] = Field(None, gt=0.0, le=1.0, description="tightness below this raises LOOSE")
    over: str = Field("collective.alpha", description="the grid axis rows are grouped along (the swept share)")
    flags: list[str] = Field(default_factory=lambda: list(FLAGS), description="flags this scenario may raise")

    @field_validator("flags")
    @classmethod
    def _known_flags(cls, v):
        bad = [f for f in v if f not in FLAGS]
        if bad:
            raise ValueError(f"unknown flag {bad[0]!r}; choose from: {', '.join(FLAGS)}")
        return v


@dataclass
class Assessment:
    flags: list
    causes: list

    @property
    def flag_text(self) -> str:
        return ";".join(self.flags)

    @property
    def cause_text(self) -> str:
        return " | ".join(self.causes)


def _finite(*values) -> bool:
    return all(v is not None and math.isfinite(float(v)) for v in values)


def assess_row(*, success: float, success_se: float, bound: float = math.nan, bound_se: float = 0.0,
               exact: float = math.nan, exact_se: float = 0.0, exact_applies: bool = False,
               exact_label: str = "theory's exact success", assumption: str = "",
               alpha_eff_predicted: float = math.nan, alpha_eff_measured: float = math.nan,
               not_converged_share: float = 0.0, convergence_note: str = "",
               expected: tuple = ("success",), values: dict | None = None,
               z: float = 3.0, alpha_eff_tolerance: float = 0.02,
               loose_below: float | None = None) -> Assessment:
    """Flags and suspected causes of one group of rows (see the module docstring).

    ``expected`` names the quantities the row must have (a NaN among them raises NAN); ``values``
    maps further names to their values (success, bound, exact, ... are known already).
    """
    flags: list = []
    causes: list = []
    known = {"success": success, "bound": bound, "exact": exact,
             "alpha_eff_predicted": alpha_eff_predicted, "alpha_eff_measured": alpha_eff_measured}
    known.update(values or {})
    missing = [name for name in expected if not _finite(known.get(name, math.nan))]
    if missing:
        flags.append(NAN)
        causes.append(f"NAN in {', '.join(missing)}")
    se = math.sqrt(max(success_se, 0.0) ** 2 + max(bound_se, 0.0) ** 2) if _finite(success_se) else math.nan
    if _finite(bound, success, se) and bound - success > z * se + ATOL:
        flags.append(VIOLATION)
        if _finite(exact) and bound > exact + z * max(exact_se, 0.0) + ATOL:
            causes.append(f"bug or wrong formula: the bound {bound:.4g} exceeds {exact_label} {exact:.4g} "
                          f"of the learner class it assumes ({assumption})")
        elif _finite(exact) and success < exact - z * math.sqrt(se**2 + max(exact_se, 0.0) ** 2) - ATOL:
            causes.append(f"wrong assumption: the learner is not the one the bound assumes ({assumption}); "
                          f"measured {success:.4g} < {exact_label} {exact:.4g}")
        else:
            causes.append(f"bound {bound:.4g} above measured {success:.4g} beyond {z:g} SE "
                          f"(Monte Carlo or finite-sample effect; assumes {assumption})")
    if exact_applies and _finite(exact, success, se):
        se_e = math.sqrt(se**2 + max(exact_se, 0.0) ** 2)
        if abs(exact - success) > z * se_e + ATOL:
            flags.append(VIOLATION)
            causes.append(f"bug: measured {success:.4g} differs from {exact_label} {exact:.4g} by more than {z:g} SE")
    if _finite(alpha_eff_predicted, alpha_eff_measured) and abs(alpha_eff_predicted - alpha_eff_measured) > alpha_eff_tolerance:
        flags.append(VIOLATION)
        causes.append(f"bug: alpha_eff predicted {alpha_eff_predicted:.4g} vs measured {alpha_eff_measured:.4g}")
    if loose_below is not None and _finite(bound, success) and success > 0 and 0 < bound / success < loose_below:
        flags.append(LOOSE)
        causes.append(f"loose: bound {bound:.4g} is below {loose_below:g} x the measured {success:.4g}")
    if _finite(not_converged_share) and not_converged_share > 0:
        flags.append(NOT_CONVERGED)
        causes.append(f"not converged in {not_converged_share:.0%} of seeds{': ' + convergence_note if convergence_note else ''}")
    seen, unique = set(), []  # one VIOLATION flag per row, however many checks fired
    for f in flags:
        if f not in seen:
            seen.add(f)
            unique.append(f)
    return Assessment(unique, causes)


def tightness(bound: float, success: float) -> float:
    """bound / measured success; NaN where it is undefined (no bound, or nothing measured)."""
    if not _finite(bound, success) or success <= 0:
        return math.nan
    return float(bound / success)


def mean_se(values, per_run_se) -> tuple[float, float, float, float]:
    """(mean, 95% low, 95% high, SE of the mean) over seeds.

    The SE is the larger of the spread over seeds and the pooled per-run binomial error, so a
    run whose seeds all agree (every seed at 1.0) still carries its test-set error.
    """
    from scipy import stats

    v = np.asarray(values, dtype=float)
    se_runs = np.asarray(per_run_se, dtype=float)
    k = len(v)
    if k == 0 or not np.isfinite(v).all():
        return math.nan, math.nan, math.nan, math.nan
    m = float(v.mean())
    spread = float(v.std(ddof=1) / math.sqrt(k)) if k > 1 else math.nan
    pooled = float(math.sqrt(np.nanmean(se_runs**2) / k)) if np.isfinite(se_runs).any() else 0.0
    se = max(spread if math.isfinite(spread) else 0.0, pooled)
    half = float(stats.t.ppf(0.975, k - 1)) * se if k > 1 else 1.96 * se
    return m, max(m - half, 0.0), min(m + half, 1.0), se


def _reweighting(learner: str) -> bool:
    from .algorithms import ALGORITHMS

    entry = ALGORITHMS.get(learner)
    return entry is not None and entry.statistic is not None


def _short(v) -> str:
    if isinstance(v, dict):
        return v.get("name", json.dumps(v, sort_keys=True)) + (
            "(" + ",".join(f"{k}={_short(x)}" for k, x in v.get("params", {}).items() if k in
                           ("upweight", "beta", "rho", "q", "eta_q")) + ")" if v.get("params") else "")
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, list):
        return "[" + ",".join(_short(x) for x in v) + "]"
    return str(v)


def _col(part: pd.DataFrame, name: str, default=math.nan) -> pd.Series:
    return pd.to_numeric(part[name], errors="coerce") if name in part else pd.Series([default] * len(part), index=part.index)


def assess_experiment(exp: Experiment, frame: pd.DataFrame, *, quick: bool = False) -> pd.DataFrame:
    """The assessed table of one experiment: a row per (grid point, swept value, collective).

    ``frame`` holds stored result rows (any superset: rows of other experiments or cells are
    ignored). The experiment's ``assess:`` section (defaults where it has none) says what each
    group is held against.
    """
    spec = exp.spec.assess or AssessSpec()
    cells = exp.cells(quick=quick)
    _, axes, seeds = exp.grid(quick=quick)
    point_axes = [(path, values) for path, values in axes if path != spec.over]
    over_index = [i for i, (path, _) in enumerate(axes) if path == spec.over]
    combos = list(itertools.product(*[values for _, values in axes]))
    where: dict[str, tuple[str, float]] = {}
    points: dict[str, dict] = {}
    for k, cell in enumerate(cells):
        combo = combos[k // len(seeds)]
        values = {path: value for (path, _), value in zip(axes, combo) if path != spec.over}
        key = json.dumps(values, sort_keys=True, default=str)
        points.setdefault(key, values)
        swept = float(combo[over_index[0]]) if over_index else math.nan
        where[cell.cell_id] = (key, swept)
    rows = frame[frame["cell_id"].isin(where)].copy()
    if rows.empty:
        return pd.DataFrame()
    rows["_point"] = [where[c][0] for c in rows["cell_id"]]
    rows["_swept"] = [where[c][1] for c in rows["cell_id"]]
    if "collective" not in rows:
        rows["collective"] = 0
    rows["collective"] = pd.to_numeric(rows["collective"], errors="coerce").fillna(0).astype(int)
    table = []
    for key, values in points.items():
        point = ", ".join(f"{k.split('.')[-1]}={_short(v)}" for k, v in values.items()) or "base"
        here = rows[rows["_point"] == key]
        for (swept, j), part in here.groupby(["_swept", "collective"], sort=True, dropna=False):
            table.append(_assess_group(exp, spec, point, swept, int(j), part))
    return pd.DataFrame(table)


def _assess_group(exp: Experiment, spec: AssessSpec, point: str, swept: float, j: int, part: pd.DataFrame) -> dict:
    first = part.iloc[0]
    learner = str(first["learner"])
    s, lo, hi, se = mean_se(part["success"], _col(part, "success_se"))
    c, c_lo, c_hi, _ = mean_se(_col(part, "clean_accuracy"), np.zeros(len(part)))
    bound, bound_se = float(_col(part, "success_bound").mean()), float(_col(part, "success_bound_se", 0.0).mean())
    exact, exact_se = float(_col(part, "success_theory").mean()), float(_col(part, "success_theory_se", 0.0).mean())
    eff_p, eff_m = float(_col(part, "alpha_eff_predicted").mean()), float(_col(part, "alpha_eff_measured").mean())
    converged = part["converged"].astype(bool) if "converged" in part else pd.Series(True, index=part.index)
    nc = float(1.0 - converged.astype(float).mean())
    against = spec.against
    if against == "auto":
        against = "alpha_eff" if _reweighting(learner) else "bound"
    expected = {"bound": ("success", "bound"), "exact": ("success", "exact"),
                "alpha_eff": ("success", "alpha_eff_measured")}[against]
    exact_applies = against == "exact" or bool(first.get("exact_applies", False))
    exact_label = str(first.get("success_theory_kind", "theory's exact success"))
    a = assess_row(success=s, success_se=se, bound=bound, bound_se=bound_se, exact=exact, exact_se=exact_se,
                   exact_applies=exact_applies, exact_label=exact_label, assumption=str(first.get("assumption", "")),
                   alpha_eff_predicted=eff_p, alpha_eff_measured=eff_m, not_converged_share=nc,
                   convergence_note=str(first.get("convergence_note", "") or ""), expected=expected,
                   z=spec.z, alpha_eff_tolerance=spec.alpha_eff_tolerance, loose_below=spec.loose_below)
    lam_c, lam = float(_col(part, "jtt_lambda_c").mean()), float(_col(part, "jtt_upweight").mean())
    collapse_pred = collapsed = math.nan
    if math.isfinite(lam_c) and math.isfinite(c):
        # docs/theory.md §5: the second stage flips a binary classifier exactly when lambda > lambda_c;
        # flipped, clean accuracy falls to about the stage-1 error (below 1/2)
        collapse_pred, collapsed = float(lam > lam_c), float(c < 0.5)
        if collapse_pred != collapsed:
            if VIOLATION not in a.flags:
                a.flags.append(VIOLATION)
            a.causes.append(f"JTT collapse: theory's lambda_c = {lam_c:.4g} predicts "
                            f"{'a collapse' if collapse_pred else 'no collapse'} at lambda = {lam:g}, "
                            f"measured clean accuracy {c:.3f} (stage 1 not at the Bayes boundary, finite n)")
    raised = [f for f in a.flags if f in spec.flags]
    config = json.loads(first["config"]) if isinstance(first["config"], str) else dict(first["config"])
    return {
        "scenario": exp.name, "family": config.get("family", ""), "stresses": exp.spec.description.strip(),
        "point": point, "series": str(first.get("series", learner)), "learner": learner, "collective": j,
        "alpha": float(first["alpha"]), "alpha_collective0": swept,
        "alpha_realised": float(_col(part, "alpha_realised").mean()),
        "alpha_effective": float(_col(part, "alpha_effective").mean()) if "alpha_effective" in part
        else float(_col(part, "alpha_realised").mean()),
        "seeds": int(len(part)),
        "prediction": against,
        "bound_name": ("not evaluated: reweighting learner (Bayes-optimal at best for P_w; check alpha_eff)"
                       if against == "alpha_eff" else str(first.get("bound_name", ""))),
        "success_bound": bound, "success_bound_se": bound_se,
        "vacuous": bool(math.isfinite(bound) and bound <= 0),
        "population_bound": float(_col(part, "population_bound").mean()),
        "success_theory": exact, "success_theory_se": exact_se, "success_theory_kind": exact_label,
        "success": s, "success_lo": lo, "success_hi": hi, "success_se": se,
        "clean_accuracy": c, "clean_lo": c_lo, "clean_hi": c_hi,
        "tightness": tightness(eff_p, eff_m) if against == "alpha_eff" else tightness(
            exact if against == "exact" else bound, s),
        "critical_mass": float(_col(part, "critical_mass").mean()),
        "alpha_eff_predicted": eff_p, "alpha_eff_measured": eff_m,
        "jtt_lambda_c": lam_c, "jtt_collapse_predicted": collapse_pred, "jtt_collapsed": collapsed,
        "not_converged_share": nc,
        "flags": ";".join(raised), "violation_cause": a.cause_text,
        "n_train": int(first.get("n_train", 0) or 0), "n_test": int(first.get("n_test", 0) or 0),
        "backend": str(first.get("backend", "")), "device": str(first.get("device", "")),
        "config": json.dumps({k: v for k, v in config.items()}, sort_keys=True),
    }


def flag_counts(table: pd.DataFrame) -> dict:
    """How many rows of an assessed table carry each flag."""
    flags = (table["flags"].astype(object).where(table["flags"].notna(), "").astype(str)
             if len(table) else pd.Series([], dtype=str))
    return {name: int(flags.str.contains(name).sum()) for name in FLAGS}


def scenario_summary(table: pd.DataFrame, timings: dict | None = None) -> pd.DataFrame:
    """One line per scenario: rows, tightness of informative bounds, vacuous share, flags, time."""
    out = []
    for name, part in table.groupby("scenario", sort=False):
        t = pd.to_numeric(part["tightness"], errors="coerce")
        bound_rows = part["prediction"] == "bound"
        informative = t[bound_rows & (t > 0)]
        counts = flag_counts(part)
        out.append({
            "scenario": name, "rows": len(part), "stresses": part["stresses"].iloc[0],
            "tightness_min": float(informative.min()) if len(informative) else math.nan,
            "tightness_median": float(informative.median()) if len(informative) else math.nan,
            "tightness_max": float(informative.max()) if len(informative) else math.nan,
            "vacuous_share": float(part.loc[bound_rows, "vacuous"].mean()) if bound_rows.any() else math.nan,
            **{k.lower(): v for k, v in counts.items()},
            "seconds": float((timings or {}).get(name, math.nan)),
        })
    return pd.DataFrame(out)
