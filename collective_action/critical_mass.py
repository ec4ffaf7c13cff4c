"""The adaptive search for a critical mass alpha*(target): the smallest alpha whose success reaches the target.

The search only decides which alphas to train next from what it has measured, so it can run on any
executor and resume from a store: given the same measurements it makes the same choices.

**The interval** is a confidence set by test inversion. At every evaluated alpha the mean success
over seeds gets a two-sided ``level`` Student-t interval (its SE the larger of the spread over seeds
and the pooled per-run binomial error, :func:`collective_action.assess.mean_se`). An alpha is
*below* when the interval's upper end is under the target (success there is confidently short of
it), *above* when its lower end reaches the target, otherwise *undecided*. Success grows with alpha
(the monotonicity the theory of collective action gives for Bayes and near-Bayes learners), so

    alpha*_lo = the largest *below* alpha under the smallest *above* one,
    alpha*_hi = the smallest *above* alpha over alpha*_lo,

bracket alpha* unless one of those two tests erred (each errs with probability (1 - level) / 2).
**The point estimate** is where the monotone (isotonic) fit of the mean success over log alpha
crosses the target, interpolated linearly in log alpha on the logit scale (success curves are
sigmoids in log alpha), inside the bracket.

**The search** starts from the ends and the geometric middle of the alpha range. Each round then
trains a pair of alphas a factor ratio^0.45 either side of the point estimate (if both come out
decided, the bracket closes below the ratio at once). Once undecided alphas lie inside the bracket
it probes the geometric midpoints of the gaps between alpha*_lo, the undecided alphas and alpha*_hi,
until alpha*_hi / alpha*_lo <= ``ratio`` (status ``found``), no gap is worth probing or
``max_undecided`` undecided alphas map the zone where the seeds cannot decide (status
``limited-by-seeds``: more seeds narrow it), or the round budget is spent (``budget``). A range
whose top is *below* gives ``above-range`` (alpha* > top); one whose bottom is already *above*
gives ``below-range``; an undecided end gives ``undecided-at-range-end`` (widen the range).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

#: Statuses of a finished search.
STATUSES = ("found", "limited-by-seeds", "budget", "above-range", "below-range", "undecided-at-range-end")


@dataclass
class Point:
    """The measurements at one alpha: success per seed (and its per-run SE), clean accuracy per seed."""

    alpha: float
    success: np.ndarray
    success_se: np.ndarray
    clean: np.ndarray = field(default_factory=lambda: np.array([]))

    def interval(self, level: float) -> tuple[float, float, float]:
        """(mean, low, high) of the mean success at confidence ``level``."""
        from scipy import stats

        from .assess import mean_se

        m, _, _, se = mean_se(self.success, self.success_se)
        k = len(self.success)
        q = float(stats.t.ppf(0.5 + level / 2, k - 1)) if k > 1 else float(stats.norm.ppf(0.5 + level / 2))
        return m, m - q * se, m + q * se


@dataclass
class Estimate:
    alpha_star: float
    lo: float
    hi: float
    status: str
    rounds: int = 0

    @property
    def ratio(self) -> float:
        return self.hi / self.lo if self.lo > 0 and math.isfinite(self.hi) else math.inf


@dataclass
class Search:
    """One group's search over [alpha_min, alpha_max] for the smallest alpha with success >= target."""

    target: float
    alpha_min: float
    alpha_max: float
    ratio: float = 1.5
    level: float = 0.95
    max_rounds: int = 16
    n_seeds: int = 5
    initial_seeds: int = 2
    max_undecided: int = 3
    points: dict = field(default_factory=dict)   # alpha -> Point
    rounds: int = 0

    def __post_init__(self):
        if not (0 < self.alpha_min < self.alpha_max < 1):
            raise ValueError(f"alpha range must satisfy 0 < min < max < 1, got [{self.alpha_min}, {self.alpha_max}]")
        if not (0 < self.target <= 1):
            raise ValueError(f"target must lie in (0, 1], got {self.target}")
        if not self.ratio > 1:
            raise ValueError(f"ratio must exceed 1, got {self.ratio}")
        if self.n_seeds < 2:
            raise ValueError("the search needs at least two seeds (intervals over seeds)")

    # ------------------------------------------------------------------ measurements
    def add(self, point: Point) -> None:
        self.points[_key(point.alpha)] = point

    def _classified(self) -> list[tuple[float, str, float]]:
        out = []
        for a in sorted(self.points):
            m, lo, hi = self.points[a].interval(self.level)
            kind = "above" if lo >= self.target else ("below" if hi < self.target else "undecided")
            out.append((a, kind, m))
        return out

    # ------------------------------------------------------------------ decisions
    def next_requests(self) -> list[tuple[float, int]]:
        """(alpha, number of seeds) to train next, the first seeds of the file's list; [] when over.

        A new alpha starts with ``initial_seeds`` seeds (extreme alphas are decided by two); an
        undecided alpha inside the bracket gets every seed before new alphas are placed.
        """
        first = min(self.initial_seeds, self.n_seeds)
        if not self.points:
            return [(_key(a), first) for a in (self.alpha_min, math.sqrt(self.alpha_min * self.alpha_max), self.alpha_max)]
        if self.rounds >= self.max_rounds:
            return []
        est = self.estimate()
        lo = est.lo if math.isfinite(est.lo) else 0.0
        hi = est.hi if math.isfinite(est.hi) else 1.0
        top_up = [(a, self.n_seeds) for a, kind, _ in self._classified()
                  if kind == "undecided" and len(self.points[a].success) < self.n_seeds and lo <= a <= hi]
        if top_up:
            return top_up
        return [(a, first) for a in self.next_alphas(est)]

    def next_alphas(self, est: "Estimate | None" = None) -> list[float]:
        """New alphas to place (the bracket's next probes); [] when the bracket cannot or need not narrow."""
        est = est or self.estimate()
        if est.status != "found-so-far":
            return []
        lo, hi = est.lo, est.hi
        if hi / lo <= self.ratio:
            return []
        undecided = [a for a, kind, _ in self._classified() if kind == "undecided" and lo < a < hi]
        if len(undecided) >= self.max_undecided:
            return []  # the undecided zone is mapped: only more seeds would narrow the bracket
        if not undecided:
            # close the bracket at once if the estimate is good: a pair just inside ratio around it
            half = self.ratio ** 0.45
            near = min(self.ratio ** 0.1, 1.02)
            pair = [_key(est.alpha_star / half), _key(est.alpha_star * half)]
            pair = [a for a in pair if lo * near < a < hi / near and all(max(a / b, b / a) > near for b in self.points)]
            return pair or [_key(math.sqrt(lo * hi))]
        # probe the outer gaps (they decide the bracket); a gap narrower than ratio^(1/4) cannot matter much
        edges = [lo] + undecided + [hi]
        out = []
        for a, b in ((edges[0], edges[1]), (edges[-2], edges[-1])):
            if b / a > self.ratio ** 0.25:
                mid = _key(math.sqrt(a * b))
                if mid not in self.points and mid not in out:
                    out.append(mid)
        return out

    def estimate(self) -> Estimate:
        """The current estimate; status 'found-so-far' while the bracket is inside the range."""
        cls = self._classified()
        if not cls:
            return Estimate(math.nan, math.nan, math.nan, "budget", self.rounds)
        alphas = [a for a, _, _ in cls]
        above = [a for a, kind, _ in cls if kind == "above"]
        if cls[0][1] == "above":
            return Estimate(alphas[0], 0.0, alphas[0], "below-range", self.rounds)
        if not above:
            lo = _largest_below(cls, math.inf)
            status = "above-range" if cls[-1][1] == "below" else "undecided-at-range-end"
            return Estimate(math.nan, lo if lo is not None else math.nan, math.inf, status, self.rounds)
        first_above = above[0]
        lo = _largest_below(cls, first_above)
        if lo is None:  # nothing below under the first above: the bottom of the range is undecided
            return Estimate(first_above, 0.0, first_above, "undecided-at-range-end", self.rounds)
        hi = min(a for a in above if a > lo)
        point = _crossing(cls, self.target, lo, hi)
        return Estimate(point, lo, hi, "found-so-far", self.rounds)

    def result(self) -> Estimate:
        """The final estimate with its status (see the module docstring)."""
        est = self.estimate()
        if est.status == "found-so-far":
            if est.ratio <= self.ratio:
                est.status = "found"
            elif self.rounds >= self.max_rounds:
                est.status = "budget"
            else:
                est.status = "limited-by-seeds"
        return est


def seeds_to_decide(search: "Search", power: float = 0.9) -> float:
    """For a search ``limited-by-seeds``: about how many seeds per alpha would let it close its
    bracket to ``ratio``; NaN for any other status or when the measurements give no estimate.

    The search closes the bracket when the pair it places a factor ratio^0.45 either side of alpha*
    comes out decided: success there must differ from the target by more than the interval's
    half-width q * sd / sqrt(n). Near alpha* success moves by ``slope`` per unit of log alpha (the
    rise across the current bracket [alpha*_lo, alpha*_hi], whose ends are decided), so the pair
    sits about gap = slope * 0.45 * ln(ratio) from the target; ``sd`` is the per-seed spread the
    search's own intervals use (their SE times sqrt(seeds)), pooled over the evaluated alphas in the
    bracket. With n seeds each of the pair is decided with probability ``power`` when
    gap = (q + z_power) * sd / sqrt(n) (the usual sample-size rule; q the Student-t quantile at
    n - 1 degrees of freedom), which is solved for n."""
    from scipy import stats

    est = search.result()
    if est.status != "limited-by-seeds":
        return math.nan
    from .assess import mean_se

    zone = [p for a, p in search.points.items() if est.lo <= a <= est.hi and len(p.success) > 1]
    m_lo = float(np.mean(search.points[_key(est.lo)].success))
    m_hi = float(np.mean(search.points[_key(est.hi)].success))
    slope = (m_hi - m_lo) / math.log(est.hi / est.lo)
    spreads = [mean_se(p.success, p.success_se)[3] ** 2 * len(p.success) for p in zone]
    if not (slope > 0 and spreads):
        return math.nan
    sd = math.sqrt(float(np.mean(spreads)))
    gap = slope * 0.45 * math.log(search.ratio)
    z = float(stats.norm.ppf(power))
    n = float(search.n_seeds)
    for _ in range(50):  # the quantile depends on n: iterate to the fixed point
        q = float(stats.t.ppf(0.5 + search.level / 2, max(n - 1.0, 1.0)))
        n_next = max(2.0, ((q + z) * sd / gap) ** 2)
        if abs(n_next - n) < 0.5:
            break
        n = n_next
    return float(math.ceil(n_next))


def _key(alpha: float) -> float:
    """Alphas rounded to 12 significant digits: the same choice gives the same cell after a resume."""
    return float(f"{alpha:.12g}")


def _largest_below(cls, under: float):
    below = [a for a, kind, _ in cls if kind == "below" and a < under]
    return max(below) if below else None


def _crossing(cls, target: float, lo: float, hi: float) -> float:
    """Where the isotonic fit of mean success over log alpha reaches the target, inside [lo, hi]."""
    alphas = np.array([a for a, _, _ in cls])
    means = np.array([m for _, _, m in cls])
    fitted = _isotonic(means)
    logs = np.log(alphas)
    idx = np.nonzero(fitted >= target)[0]
    if len(idx) == 0:
        return hi
    j = int(idx[0])
    if j == 0:
        est = alphas[0]
    else:
        # success curves are sigmoids in log alpha: interpolate on the logit scale (clipped away from 0 and 1)
        f0, f1, ft = (_logit(v) for v in (fitted[j - 1], fitted[j], target))
        t = (ft - f0) / (f1 - f0) if f1 > f0 else 1.0
        est = math.exp(logs[j - 1] + t * (logs[j] - logs[j - 1]))
    return float(min(max(est, lo), hi))


def _logit(p: float, clip: float = 0.01) -> float:
    p = min(max(float(p), clip), 1 - clip)
    return math.log(p / (1 - p))


def _isotonic(y: np.ndarray) -> np.ndarray:
    """Pool-adjacent-violators: the non-decreasing sequence closest to ``y`` in least squares."""
    blocks: list[list[float]] = []  # [sum, count]
    for v in y:
        blocks.append([float(v), 1.0])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            s, c = blocks.pop()
            blocks[-1][0] += s
            blocks[-1][1] += c
    return np.concatenate([np.full(int(c), s / c) for s, c in blocks])
