"""Writing a stress run: the table (CSV + Parquet), the raw per-seed rows, the figure, a Markdown summary."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from collective_action.simulate.stress import StressResult


def flag_counts(table: pd.DataFrame) -> dict:
    flags = (table["flags"].astype(object).where(table["flags"].notna(), "").astype(str)
             if len(table) else pd.Series([], dtype=str))
    return {name: int(flags.str.contains(name).sum()) for name in ("VIOLATION", "NOT_CONVERGED", "NAN")}


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


def _fmt(v, digits=3) -> str:
    if isinstance(v, (float, np.floating)):
        return "-" if not math.isfinite(v) else f"{v:.{digits}g}"
    return str(v)


def markdown_summary(result: StressResult, *, battery: str, quick: bool, backend: str, device: str) -> str:
    table = result.table
    counts = flag_counts(table)
    per = scenario_summary(table, result.timings)
    lines = [f"# Stress battery `{battery}` ({'quick' if quick else 'full'})", "",
             f"{len(table)} rows from {len(per)} scenarios on {backend} ({device}), "
             f"{sum(result.timings.values()):.0f} s. Flags: {counts['VIOLATION']} VIOLATION, "
             f"{counts['NOT_CONVERGED']} NOT_CONVERGED, {counts['NAN']} NAN.", "",
             "Tightness = bound / measured mean success over seeds (1 = tight; informative bounds only); "
             "reweighting learners are checked by alpha_eff (predicted / measured) instead.", "",
             "| scenario | stresses | rows | tightness min / median / max | vacuous | VIOL | NOT_CONV | NAN | s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for _, r in per.iterrows():
        lines.append(f"| {r['scenario']} | {r['stresses']} | {r['rows']} | {_fmt(r['tightness_min'])} / "
                     f"{_fmt(r['tightness_median'])} / {_fmt(r['tightness_max'])} | {_fmt(r['vacuous_share'], 2)} | "
                     f"{r['violation']} | {r['not_converged']} | {r['nan']} | {_fmt(r['seconds'], 2)} |")
    flagged = table[table["flags"].fillna("") != ""]
    lines += ["", "## Flagged rows", ""]
    if flagged.empty:
        lines.append("None.")
    for _, r in flagged.iterrows():
        lines.append(f"- **{r['scenario']}** ({r['point']}, alpha={_fmt(r['alpha'])}, collective {r['collective']}): "
                     f"{r['flags']} - {r['violation_cause']}")
    lines += ["", "Columns: see docs/stress.md. Files: stress_table.csv/.parquet (one row per scenario, grid "
              "point, alpha and collective), stress_raw.parquet (one ResultRow per seed), stress_tightness.png/.pdf."]
    return "\n".join(lines) + "\n"


def write_outputs(result: StressResult, out: Path, *, battery: str, quick: bool, backend: str,
                  device: str) -> dict:
    """Write every output under ``out``; returns {kind: path}."""
    from collective_action.figures.stress import draw_tightness

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"table_csv": out / "stress_table.csv", "table_parquet": out / "stress_table.parquet",
             "raw_parquet": out / "stress_raw.parquet", "summary": out / "stress_summary.md"}
    result.table.to_csv(paths["table_csv"], index=False)
    result.table.to_parquet(paths["table_parquet"], index=False)
    result.raw.to_parquet(paths["raw_parquet"], index=False)
    paths["summary"].write_text(markdown_summary(result, battery=battery, quick=quick, backend=backend, device=device))
    png, pdf = draw_tightness(result.table, out / "stress_tightness",
                              title=f"Stress battery {battery}{' (quick)' if quick else ''}: tightness per scenario")
    paths["figure_png"], paths["figure_pdf"] = png, pdf
    return {k: str(v) for k, v in paths.items()}
