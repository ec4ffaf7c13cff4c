"""A small but real pillar for the sweep tests: a majority-vote learner on a discrete problem.

X = {0..m-1} times a binary "mark" bit; P0 draws x from a random categorical distribution, the
label from a random P0(y | x), and the mark with a small natural rate. The collective (a share
alpha of n training points) reports (x, mark=1) with label y*. The learner predicts, in every
(x, mark) cell, the majority label of its training points (an unseen cell falls back to the
unmarked prediction). success = Pr_{x~P0}[f(x, 1) = y*] is computed exactly from P0 -- real
numbers that move with alpha and the seed, not a mock.

Test knobs (all off by default): ``sleep_s`` slows a cell (so a test can kill a sweep mid-way),
``fail`` makes a cell raise, ``crash_marker`` makes the worker process die (os._exit) the first
time the cell runs (the marker file records that it happened), ``fail_marker`` makes the cells
of seed 0 raise until the marker file exists (a transient failure that a rerun gets past).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
from pydantic import Field, field_validator

from collective_action.experiment import CollectiveSpec, Pillar, StrictModel, register_pillar
from collective_action.results import ResultRow


class ToyConfig(StrictModel):
    collective: CollectiveSpec
    n_points: int = Field(400, ge=10, description="training points")
    n_features: int = Field(8, ge=2, description="size of X")
    n_labels: int = Field(3, ge=2)
    mark_noise: float = Field(0.02, ge=0.0, lt=1.0, description="share of base points marked by nature")
    learner: str = Field("majority", description="majority | smoothed (add-1/2 counts)")
    dataset: str = Field("random-categorical", description="only random-categorical")
    sleep_s: float = Field(0.0, ge=0.0)
    fail: bool = False
    crash_marker: str = ""
    fail_marker: str = ""


    @field_validator("learner")
    @classmethod
    def _known_learner(cls, v: str) -> str:
        if v not in ("majority", "smoothed"):
            raise ValueError(f"unknown learner {v!r}; choose majority or smoothed")
        return v

    @field_validator("dataset")
    @classmethod
    def _known_dataset(cls, v: str) -> str:
        if v != "random-categorical":
            raise ValueError(f"unknown data set {v!r}; choose random-categorical")
        return v


def run_one(cfg: ToyConfig, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    m, k = cfg.n_features, cfg.n_labels
    p_x = rng.dirichlet(np.ones(m))
    p_y = rng.dirichlet(np.ones(k), size=m)
    n_col = int(round(cfg.collective.alpha * cfg.n_points))
    n_base = cfg.n_points - n_col
    counts = np.zeros((m, 2, k))
    xb = rng.choice(m, size=n_base, p=p_x)
    yb = np.array([rng.choice(k, p=p_y[x]) for x in xb], dtype=int)
    mb = (rng.random(n_base) < cfg.mark_noise).astype(int)
    np.add.at(counts, (xb, mb, yb), 1.0)
    xc = rng.choice(m, size=n_col, p=p_x)
    if cfg.collective.strategy == "feature-label":
        np.add.at(counts, (xc, np.ones(n_col, int), np.full(n_col, cfg.collective.target)), 1.0)
    else:  # feature-only: members whose own label is y* plant the mark, the others report x as is
        yc = np.array([rng.choice(k, p=p_y[x]) for x in xc], dtype=int)
        np.add.at(counts, (xc, (yc == cfg.collective.target).astype(int), yc), 1.0)
    if cfg.learner == "smoothed":
        counts = counts + 0.5
    f = counts.argmax(axis=2)
    unseen = counts[:, 1, :].sum(axis=1) == 0
    f[unseen, 1] = f[unseen, 0]
    success = float(p_x @ (f[:, 1] == cfg.collective.target))
    clean = float(p_x @ ((1 - cfg.mark_noise) * p_y[np.arange(m), f[:, 0]] + cfg.mark_noise * p_y[np.arange(m), f[:, 1]]))
    return {"success": success, "clean": clean, "n_col": n_col}


def run_cells(cells):
    results = []
    for cell in cells:
        cfg = ToyConfig.model_validate(cell.config)
        if cfg.crash_marker and not Path(cfg.crash_marker).exists():
            Path(cfg.crash_marker).write_text(str(os.getpid()))
            os._exit(17)  # the worker dies mid-task, as a killed machine would
        if cfg.fail:
            raise RuntimeError(f"cell with seed {cell.seed} was told to fail")
        if cfg.fail_marker and cell.seed == 0 and not Path(cfg.fail_marker).exists():
            raise RuntimeError("transient failure (the marker file did not exist yet)")
        if cfg.sleep_s:
            time.sleep(cfg.sleep_s)
        out = run_one(cfg, cell.seed)
        results.append([
            ResultRow(
                experiment=cell.experiment, pillar=cell.pillar, config=cell.config, seed=cell.seed,
                alpha=cfg.collective.alpha, learner=cfg.learner, success=out["success"],
                clean_accuracy=out["clean"], extra={"series": cfg.learner, "n_collective": out["n_col"]},
            )
        ])
    return results


PILLAR = Pillar("toy", ToyConfig, run_cells)
register_pillar(PILLAR)
