"""Store the quick results of every shipped experiment file as sorted CSVs, for before/after checks.

    python scripts/quick_snapshot.py OUT_DIR          # run every experiments/*.yaml and stress/*.yaml --quick
    python scripts/quick_snapshot.py --compare A B    # compare two snapshots column by column

Each file runs in its own results folder (serial executor, so the order of work cannot matter);
rows are keyed by (experiment, cell_id, seed, series) and written with every column. The compare
mode prints, per file, the columns whose values differ and the largest difference.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
KEY = ["experiment", "cell_id", "seed"]
VOLATILE = {"train_seconds", "wall_s", "seconds", "started", "finished", "created", "elapsed_s", "started_at",
            "finished_at"}
#: names the algorithm registry changed, applied to the 'before' side so that rows line up
RENAMED_LEARNERS = {"logistic": "erm"}


def snapshot(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    files = sorted((ROOT / "experiments").glob("*.yaml")) + sorted((ROOT / "experiments" / "stress").glob("*.yaml"))
    for path in files:
        stress = path.parent.name == "stress"
        name = f"stress_{path.stem}" if stress else path.stem
        store = out / name
        if (out / f"{name}.csv").exists():
            continue
        if stress:
            cmd = ["collective-action", "stress", "--quick", "--file", str(path), "--out", str(store)]
        else:
            cmd = ["collective-action", "sweep", str(path), "--quick", "--backend", "serial", "--no-progress",
                   "--out", str(store)]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            print(f"{name}: exit {r.returncode}: {r.stderr.strip()[-400:]}")
            continue
        export(store, out / f"{name}.csv")
        print(f"{name}: ok")


def export(store: Path, csv: Path) -> None:
    if (store / "stress_raw.parquet").exists():  # the stress battery: every row and the assessed table
        raw = pd.read_parquet(store / "stress_raw.parquet").assign(table="raw")
        table = pd.read_csv(store / "stress_table.csv").assign(table="assessed")
        pd.concat([raw, table]).to_csv(csv, index=False)
        return
    r = subprocess.run(["collective-action", "results", str(store), "--format", "csv", "--output", str(csv)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        # stress folders hold their own tables
        tables = sorted(store.rglob("*.csv"))
        frames = [pd.read_csv(t).assign(table=t.name) for t in tables]
        pd.concat(frames).to_csv(csv, index=False)


def _series_key(series) -> str:
    """The numbers of a curve label, sorted: the same curve before and after a relabelling."""
    text = re.sub(r"ema=0\b", "", str(series))
    return ",".join(sorted(re.findall(r"-?[0-9]+(?:\.[0-9]+)?(?:e-?[0-9]+)?", text)))


def _sorted(df: pd.DataFrame, before: bool = False) -> pd.DataFrame:
    cols = [c for c in df.columns if c not in VOLATILE]
    df = df[cols].copy()
    if before and "learner" in df.columns:
        df["learner"] = df["learner"].replace(RENAMED_LEARNERS)
    if "series" in df.columns:
        df["series_key"] = df["series"].map(_series_key)
    key = [c for c in ["table", "scenario", "experiment", "seed", "alpha", "learner", "series_key", "validation",
                       "placement", "pattern", "sign", "mode", "strength", "point"] if c in df.columns]
    return df.sort_values(key, kind="stable").reset_index(drop=True)


def compare(a: Path, b: Path) -> int:
    bad = 0
    for fa in sorted(a.glob("*.csv")):
        fb = b / fa.name
        if not fb.exists():
            print(f"{fa.stem}: missing in {b}")
            bad += 1
            continue
        da, db = _sorted(pd.read_csv(fa), before=True), _sorted(pd.read_csv(fb))
        if len(da) != len(db):
            print(f"{fa.stem}: {len(da)} rows vs {len(db)}")
            bad += 1
            continue
        diffs = []
        notes = []
        if ("attack_success" in db.columns and "attack_success" not in da.columns and "pillar" in da.columns
                and (da["pillar"] == "empirical").all()):
            # the empirical pillar's success was the attack success: compare it with its new column
            x, y = da["success"].to_numpy(float), db["attack_success"].to_numpy(float)
            same = (x == y) | (np.isnan(x) & np.isnan(y))
            notes.append("old success == attack_success" if same.all() else
                         f"old success vs attack_success: max |d| {np.nanmax(np.abs(x - y)):.3g}, "
                         f"{int((~same).sum())} rows")
        for c in sorted(set(da.columns) | set(db.columns)):
            if c not in da.columns or c not in db.columns:
                diffs.append(f"{c} (only in {'before' if c in da.columns else 'after'})")
                continue
            x, y = da[c], db[c]
            if pd.api.types.is_numeric_dtype(x) and pd.api.types.is_numeric_dtype(y):
                xv, yv = x.to_numpy(float), y.to_numpy(float)
                same = (xv == yv) | (np.isnan(xv) & np.isnan(yv))
                if not same.all():
                    diffs.append(f"{c} (max |d| {np.nanmax(np.abs(xv - yv)):.3g}, {int((~same).sum())} rows)")
            else:
                xs, ys = (v.astype(object).where(v.notna(), "").astype(str) for v in (x, y))
                if not (xs == ys).all():
                    diffs.append(f"{c} ({int((xs != ys).sum())} rows)")
        text = 'identical' if not diffs else 'differs: ' + '; '.join(diffs)
        print(f"{fa.stem}: {text}" + (f" [{'; '.join(notes)}]" if notes else ""))
        bad += bool(diffs)
    return bad


if __name__ == "__main__":
    if sys.argv[1] == "--compare":
        sys.exit(1 if compare(Path(sys.argv[2]), Path(sys.argv[3])) else 0)
    snapshot(Path(sys.argv[1]))
