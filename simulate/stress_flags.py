"""Flags of the stress battery: VIOLATION (with a suspected cause), NOT_CONVERGED, NAN.

A row of the stress table compares theory with a measurement over seeds. The checks:

* **bound**: a lower bound on success must not sit above the measured mean beyond Monte Carlo
  error: bound - mean > Z * SE (SE combines the spread over seeds, the binomial error of the
  test points and the prediction's own Monte Carlo error). The suspected cause is named from
  what else theory knows about the row: if the bound even exceeds theory's *exact* success for
  the learner class it assumes, the formula is wrong or applied outside its assumptions (a bug,
  or e.g. the contamination bound used for a TV-suboptimal learner); if the measurement falls
  below that exact success, the learner is not the one theory assumes (not Bayes-optimal on
  P_alpha, a finite sample); otherwise the gap is a Monte Carlo or finite-sample effect.
* **exact**: where theory's value is exact for the learner that ran (the Bayes oracle, the exact
  worst-case adversary), |exact - mean| > Z * SE is a bug in one of the two.
* **alpha_eff**: theory's alpha_eff formula fed with the measured shares must equal the measured
  weight share within ``ALPHA_EFF_TOL`` (the tolerance of claim C5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Standard errors a gap must exceed before it counts (about 0.3% false alarms per Gaussian check).
Z = 3.0
#: Absolute slack for floating-point ties (a bound equal to the measurement is not a violation).
ATOL = 1e-9
#: Largest |alpha_eff predicted - measured| that counts as agreement (claim C5's tolerance).
ALPHA_EFF_TOL = 0.02

VIOLATION, NOT_CONVERGED, NAN = "VIOLATION", "NOT_CONVERGED", "NAN"


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


def assess(*, success: float, success_se: float, bound: float = math.nan, bound_se: float = 0.0,
           exact: float = math.nan, exact_se: float = 0.0, exact_applies: bool = False,
           exact_label: str = "theory's exact success", assumption: str = "",
           alpha_eff_predicted: float = math.nan, alpha_eff_measured: float = math.nan,
           not_converged_share: float = 0.0, convergence_note: str = "",
           expected: tuple = ("success",), values: dict | None = None) -> Assessment:
    """Flags and suspected causes of one stress-table row (see the module docstring).

    ``expected`` names the quantities this row must have (a NaN among them raises the NAN flag);
    ``values`` maps those names to their values (success, bound, exact, ... by default).
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
    if _finite(bound, success, se) and bound - success > Z * se + ATOL:
        flags.append(VIOLATION)
        if _finite(exact) and bound > exact + Z * max(exact_se, 0.0) + ATOL:
            causes.append(f"bug or wrong formula: the bound {bound:.4g} exceeds {exact_label} {exact:.4g} "
                          f"of the learner class it assumes ({assumption})")
        elif _finite(exact) and success < exact - Z * math.sqrt(se**2 + max(exact_se, 0.0) ** 2) - ATOL:
            causes.append(f"wrong assumption: the learner is not the one the bound assumes ({assumption}); "
                          f"measured {success:.4g} < {exact_label} {exact:.4g}")
        else:
            causes.append(f"bound {bound:.4g} above measured {success:.4g} beyond {Z:g} SE "
                          f"(Monte Carlo or finite-sample effect; assumes {assumption})")
    if exact_applies and _finite(exact, success, se):
        se_e = math.sqrt(se**2 + max(exact_se, 0.0) ** 2)
        if abs(exact - success) > Z * se_e + ATOL:
            flags.append(VIOLATION)
            causes.append(f"bug: measured {success:.4g} differs from {exact_label} {exact:.4g} by more than {Z:g} SE")
    if _finite(alpha_eff_predicted, alpha_eff_measured) and abs(alpha_eff_predicted - alpha_eff_measured) > ALPHA_EFF_TOL:
        flags.append(VIOLATION)
        causes.append(f"bug: alpha_eff predicted {alpha_eff_predicted:.4g} vs measured {alpha_eff_measured:.4g}")
    if _finite(not_converged_share) and not_converged_share > 0:
        flags.append(NOT_CONVERGED)
        causes.append(f"not converged in {not_converged_share:.0%} of seeds{': ' + convergence_note if convergence_note else ''}")
    # one VIOLATION flag per row, however many checks fired
    seen, unique = set(), []
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
