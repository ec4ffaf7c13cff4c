"""Benchmark: what a CLI training run costs outside training, against a plain PyTorch script.

The toolkit side is ``collective-action train`` on a one-cell experiment (an MLP on scikit-learn's
digits, 10 epochs, a 4x4 patch collective at alpha = 0.1), each repeat into a fresh results folder,
so it pays everything a user's run pays: the interpreter, imports, validating the file, loading the
data, the alpha_eff prediction, writing the store, exporting results.parquet and printing the
summary. Its start-up is the process's wall time minus the training time the run itself records
(``train_seconds``); it trains on one torch thread, as the baseline does. The baseline is the script a researcher writes for the same training (import
torch and scikit-learn, load digits, plant the patch, train with torch.optim.SGD, print the
accuracy), its start-up measured the same way (wall time minus its own timed training loop); the
floor is ``python -c "import torch"``. Both sides run after one warm-up (the toolkit's data and
formula caches are filled, the operating system's file cache is warm for both). Medians of
``--repeats`` interleaved repeats. Goal (issue: empirical start-up): the toolkit's start-up under 2 s.

    python benchmarks/startup_bench.py [--repeats 5] [--write]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from results_log import append_run

EXPERIMENT = """\
name: startup-bench
pillar: empirical
seeds: 1
config:
  data: {name: digits, val_size: 200}
  collective: {alpha: 0.1, strategy: feature-label, target: 8}
  signal: {kind: patch, place: center, size: 4}
  learner: {name: erm}
  train: {model: mlp, width: 64, epochs: 10, batch_size: 64, lr: 0.05, momentum: 0.9}
  selection: {validation: clean, metric: last}
"""

PLAIN_SCRIPT = """\
import time
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from sklearn.datasets import load_digits

torch.set_num_threads(1)
d = load_digits()
x = torch.tensor(d.images / 16.0, dtype=torch.float32)[:, None]
y = torch.tensor(d.target)
rng = np.random.default_rng(0)
order = torch.tensor(rng.permutation(len(y)))
test, train = order[:400], order[600:]  # 400 test, 200 validation (unused), the rest train
xt, yt = x[train].clone(), y[train].clone()
members = torch.tensor(rng.random(len(train)) < 0.1)
xt[members, :, 2:6, 2:6] = torch.tensor([[1.0, 0, 1, 0], [0, 1, 0, 1]] * 2)  # a 4x4 checkerboard
yt[members] = 8
torch.manual_seed(0)
model = nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
start = time.perf_counter()
for epoch in range(10):
    for idx in torch.split(torch.randperm(len(yt)), 64):
        loss = F.cross_entropy(model(xt[idx]), yt[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
trained = time.perf_counter() - start
with torch.no_grad():
    acc = (model(x[test]).argmax(1) == y[test]).float().mean().item()
print(f"TRAIN_SECONDS {trained} ACCURACY {acc}")
"""


def _cli() -> list[str]:
    exe = shutil.which("collective-action")
    return [exe] if exe else [sys.executable, "-m", "collective_action.cli.main"]


def toolkit_run(folder: Path) -> tuple[float, float]:
    out = folder / "out"
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    args = ["train", str(folder / "startup.yaml"), "--out", str(out), "--no-progress", "--threads", "1"]
    subprocess.run(_cli() + args, check=True, capture_output=True, cwd=folder)
    wall = time.perf_counter() - start
    trained = float(pd.read_parquet(out / "results.parquet")["train_seconds"].sum())
    return wall, trained


def plain_run(folder: Path) -> tuple[float, float]:
    start = time.perf_counter()
    out = subprocess.run([sys.executable, str(folder / "plain.py")], check=True, capture_output=True, text=True,
                         cwd=folder).stdout
    wall = time.perf_counter() - start
    return wall, float(out.split("TRAIN_SECONDS")[1].split()[0])


def import_torch(folder: Path) -> tuple[float, float]:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch"], check=True, cwd=folder)
    return time.perf_counter() - start, 0.0


def measure(repeats: int) -> dict:
    sides = {"toolkit": toolkit_run, "plain": plain_run, "import torch": import_torch}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "startup.yaml").write_text(EXPERIMENT)
        (folder / "plain.py").write_text(PLAIN_SCRIPT)
        for run in sides.values():  # warm-up: fills the toolkit's caches and the file cache
            run(folder)
        walls = {k: [] for k in sides}
        trains = {k: [] for k in sides}
        for _ in range(repeats):  # interleaved, so a slow moment of the machine hits every side
            for name, run in sides.items():
                wall, trained = run(folder)
                walls[name].append(wall)
                trains[name].append(trained)
    med = {k: statistics.median(v) for k, v in walls.items()}
    startup = {k: statistics.median([w - t for w, t in zip(walls[k], trains[k])]) for k in sides}
    return {"wall": med, "startup": startup, "train": {k: statistics.median(v) for k, v in trains.items()},
            "load": os.getloadavg()}


def table(r: dict) -> str:
    rows = ["| side | wall (s) | training (s) | start-up = wall - training (s) |", "|---|---|---|---|"]
    for name in ("toolkit", "plain", "import torch"):
        label = {"toolkit": "`collective-action train` (one cell)", "plain": "plain PyTorch script, same training",
                 "import torch": '`python -c "import torch"` (floor)'}[name]
        rows.append(f"| {label} | {r['wall'][name]:.2f} | {r['train'][name]:.2f} | {r['startup'][name]:.2f} |")
    ratio = r["startup"]["plain"] / r["startup"]["toolkit"]
    goal = "met" if r["startup"]["toolkit"] < 2.0 else "missed"
    rows.append("")
    rows.append(f"Toolkit start-up **{r['startup']['toolkit']:.2f} s** (goal < 2 s: {goal}); plain script / toolkit "
                f"start-up: **{ratio:.2f}x**; load average at the end {[round(v, 2) for v in r['load']]}.")
    return "\n".join(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5, help="interleaved repeats (median reported)")
    ap.add_argument("--write", action="store_true", help="append the table to benchmarks/RESULTS.md")
    args = ap.parse_args()
    if args.repeats < 1:
        ap.error("--repeats must be at least 1")
    out = table(measure(args.repeats))
    print(out)
    if args.write:
        append_run("Empirical start-up: one-cell `train` vs a plain PyTorch script", "python benchmarks/startup_bench.py",
                   f"medians of {args.repeats} interleaved repeats", out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
