"""Theory against real training: JTT on scikit-learn digits with an MLP (claim C5, C2's mechanism).

A 2x2 checkerboard in the image corner, target class 0, MLP (64 hidden units), momentum SGD,
8 epochs, JTT with a 3-epoch stage 1 and lambda = 20; two seeds per alpha. Tolerances:

* theory's alpha_eff (``theory.alpha_eff_jtt`` fed with the run's measured e*, e0 and the
  realised alpha) vs the training-weight share the run measured: 0.02 absolute;
* direction: alpha_eff > alpha exactly when e* > e0 (every row), amplification below the
  crossover and dilution above it, and theory's crossover (``theory.jtt_crossover`` on the
  seed-mean e*, e0 curves) between the last amplified and the first diluted alpha.

(A 1-epoch stage 1 is not used: on digits its base error is 34-90%, the JTT-collapse regime of
docs/RESULTS.md, C5.)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from collective_action import theory
from collective_action.empirical.config import EmpiricalConfig
from collective_action.empirical.runner import train_once

ALPHAS = [0.01, 0.03, 0.3]
SEEDS = [0, 1]


def _config(alpha: float) -> EmpiricalConfig:
    return EmpiricalConfig.model_validate({
        "data": {"name": "digits", "val_size": 200},
        "collective": {"alpha": alpha, "target": 0},
        "signal": {"kind": "patch", "place": "corner", "size": 2},
        "learner": {"name": "jtt", "hparams": {"T": 3, "upweight": 20}},
        "train": {"model": "mlp", "width": 64, "epochs": 8, "batch_size": 64, "lr": 0.05, "momentum": 0.9},
    })


@pytest.fixture(scope="module")
def jtt_rows() -> pd.DataFrame:
    rows = []
    for alpha in ALPHAS:
        for seed in SEEDS:
            r = train_once(_config(alpha), seed)
            rows.append({"alpha": alpha, "seed": seed, "alpha_realised": r.extra["alpha_realised"],
                         "e_star": r.extra["e_star"], "e0": r.extra["e0"], "measured": r.alpha_eff_measured,
                         "success": r.success, "clean": r.clean_accuracy})
    return pd.DataFrame(rows)


def test_predicted_alpha_eff_from_measured_errors_matches_training_weight(jtt_rows):
    for _, r in jtt_rows.iterrows():
        predicted = float(theory.alpha_eff_jtt(r["alpha_realised"], 20.0, r["e_star"], r["e0"]))
        assert abs(predicted - r["measured"]) <= 0.02, (
            f"alpha={r['alpha']} seed={r['seed']}: theory's alpha_eff {predicted:.4f} (e*={r['e_star']:.3f}, "
            f"e0={r['e0']:.3f}) vs measured weight share {r['measured']:.4f}")


def test_direction_of_the_dro_effect_matches_the_crossover(jtt_rows):
    for _, r in jtt_rows.iterrows():
        if abs(r["e_star"] - r["e0"]) > 1e-6:
            assert (r["measured"] > r["alpha_realised"]) == (r["e_star"] > r["e0"]), (
                f"alpha={r['alpha']} seed={r['seed']}: e*={r['e_star']:.3f} vs e0={r['e0']:.3f} but measured "
                f"alpha_eff {r['measured']:.4f} vs alpha {r['alpha_realised']:.4f}")
    m = jtt_rows.groupby("alpha")[["alpha_realised", "measured", "e_star", "e0"]].mean()
    amplified = [a for a in ALPHAS if m.loc[a, "measured"] > m.loc[a, "alpha_realised"]]
    diluted = [a for a in ALPHAS if m.loc[a, "measured"] < m.loc[a, "alpha_realised"]]
    assert amplified and diluted, f"need both regimes on this grid; measured alpha_eff by alpha: {m['measured'].to_dict()}"
    assert max(amplified) < min(diluted), f"amplified at {amplified} but diluted at {diluted}: not a single crossover"
    crossover = theory.jtt_crossover(np.asarray(ALPHAS), m["e_star"].to_numpy(), m["e0"].to_numpy())
    assert max(amplified) <= crossover <= min(diluted), (
        f"theory's crossover (e* = e0) at alpha {crossover:.4f}, measured amplification up to {max(amplified)} "
        f"and dilution from {min(diluted)}")
