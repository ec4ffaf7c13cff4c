"""Family ``discrete-several``: several collectives, with noisy members, on one discrete problem.

Section ``several:`` holds the problem (n_points, n_labels, concentration, problem_seed: P0 and
collective 0's signal map are family 1's :func:`~collective_action.simulate.discrete.random_problem`)
and a list ``collectives:`` in the shared vocabulary (:mod:`collective_action.several`)::

    collectives:
      - {signal: {size: 2}, noise: {share: 0.2, kind: corrupted-signal}}     # alpha, target: collective:
      - {alpha: 0.1, target: 2, signal: {same_as: 0}}                         # a tug of war

Entry 0 is the file's ``collective:`` (its alpha and target come from there, so
``collective.alpha`` is the swept share); entries 1.. give their own ``alpha`` and ``target``.
A signal (:class:`DiscreteSignal`) is ``size`` random signal points (``points: disjoint`` keeps
them off earlier collectives' signal points, ``any`` does not), ``same_as: j`` (a tug of war), or
an explicit map ``g``. The earlier flat entries (``signal_size``, ``signal: disjoint | any``,
``same_signal_as``, ``g``, ``noise``, ``noise_kind``: :class:`SeveralCollective`) still read the
same; one list is written one way.

Grid paths cannot index lists (collective_action.experiment.set_dotted), so ``several.shares`` maps a
collective's index (>= 1) to its share (given there or in the entry, not both) and ``several.noise``
an index (>= 0) to its noise share (overriding the entry): the grid axes ``several.shares.1`` and
``several.noise.0`` sweep them (the file writes ``shares: {}`` / ``noise: {}``, whose keys the grid
fills in). A whole list can be a grid axis too (``several.collectives``: one list per layout).

Training is multinomial counts (n = 10^7 costs one draw per collective) and the plug-in learner:
the argmax of the counts under theory.several's tie rule (tol = 0). With one collective and no
noise the draws, in order, are those of family 1's ``sample_counts`` and ``run_plug_in``, so the
numbers equal the ``discrete-counts`` plug-in path for the same problem and seed. A collective
with corrupted-signal deviators is drawn member by member (x ~ P0, deviate with probability
eta, a uniform point other than g(x)), not from theory's table, so the family checks that table.

One cell gives one row per collective (extra column ``collective`` = its index): measured success
and its standard error, exact Bayes success of the training law at the realised shares
(``success_theory``), the trained classifier's exact population success (``success_population``),
the base-law Hardt bound (``success_bound``) and the two other bounds of theory.several
(``success_bound_integrated``, ``success_bound_shares``).
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Literal, Optional, Union

import numpy as np
from pydantic import Discriminator, Field, Tag, field_validator

from collective_action.errors import InputError
from collective_action.experiment import StrictModel
from collective_action.several import CollectiveItem, Noise, Resolved, resolve
from collective_action.results import ResultRow
from collective_action.simulate import discrete as fam1
from collective_action.simulate.backend import Backend
from collective_action.theory import several as sev

_TRAIN_STREAM, _TEST_STREAM, _SIGNAL_STREAM = 0, 1, 8


class DiscreteSignal(StrictModel):
    """A collective's signal map g on the discrete problem."""

    size: int = Field(2, ge=1, description="number of random signal points")
    points: Literal["disjoint", "any"] = Field("disjoint", description="off earlier collectives' signal points, or anywhere")
    same_as: Optional[int] = Field(None, ge=0, description="reuse an earlier collective's signal map (a tug of war)")
    g: Optional[list[int]] = Field(None, description="explicit signal map (length n_points)")


class SeveralCollective(StrictModel):
    """One collective of family ``discrete-several`` in the earlier flat form (entry 0: alpha and
    target from ``collective:``); :func:`as_item` writes it in the shared vocabulary."""

    alpha: Optional[float] = Field(None, gt=0.0, lt=1.0, description="share (entries >= 1)")
    target: Optional[int] = Field(None, ge=0, description="target label (entries >= 1)")
    signal_size: int = Field(2, ge=1, description="number of random signal points")
    signal: Literal["disjoint", "any"] = Field("disjoint", description="random signal points off earlier ones, or anywhere")
    same_signal_as: Optional[int] = Field(None, ge=0, description="reuse an earlier collective's signal map")
    g: Optional[list[int]] = Field(None, description="explicit signal map (length n_points)")
    noise: float = Field(0.0, ge=0.0, lt=1.0, description="share of members who deviate")
    noise_kind: str = Field("keep-label", description="how they deviate (theory.several.NOISE_KINDS)")

    @field_validator("noise_kind")
    @classmethod
    def _known_kind(cls, v: str) -> str:
        if v not in sev.NOISE_KINDS:
            raise ValueError(f"unknown noise_kind {v!r}; choose one of {sorted(sev.NOISE_KINDS)}")
        return v


class DiscreteCollectiveItem(CollectiveItem[DiscreteSignal]):
    """An item of ``collectives:`` with a discrete signal (a named class, so that it pickles to workers)."""


def as_item(e: SeveralCollective) -> DiscreteCollectiveItem:
    """A flat entry in the shared vocabulary (the same collective)."""
    return DiscreteCollectiveItem(
        alpha=e.alpha, target=e.target,
        signal=DiscreteSignal(size=e.signal_size, points=e.signal, same_as=e.same_signal_as, g=e.g),
        noise=Noise(share=e.noise, kind=e.noise_kind))


def _entry_form(v) -> str:
    """'item' for an entry in the shared vocabulary (its signal a mapping), 'flat' for the earlier form."""
    if isinstance(v, dict):
        return "item" if isinstance(v.get("signal"), dict) else "flat"
    return "item" if isinstance(v, CollectiveItem) else "flat"


Entry = Annotated[Union[Annotated[DiscreteCollectiveItem, Tag("item")],
                        Annotated[SeveralCollective, Tag("flat")]], Discriminator(_entry_form)]


class SeveralSection(StrictModel):
    """Family ``discrete-several``: a random discrete problem and its collectives."""

    n_points: int = Field(8, ge=2, le=100_000)
    n_labels: int = Field(3, ge=2, le=1000)
    concentration: float = Field(1.0, gt=0.0)
    problem_seed: int = Field(0, ge=0)
    collectives: list[Entry] = Field(default_factory=lambda: [SeveralCollective()], min_length=1)
    shares: dict[int, float] = Field(default_factory=dict, description="index -> share (given once: here or in the entry)")
    noise: dict[int, float] = Field(default_factory=dict, description="index -> noise share; overrides the entry")

    @property
    def flat(self) -> bool:
        """Whether the entries are written in the earlier flat form."""
        return isinstance(self.collectives[0], SeveralCollective)


def collectives_of(cfg) -> list[Resolved]:
    """Every collective with its alpha, target, signal (a DiscreteSignal) and noise settled."""
    s = cfg.several
    items = [as_item(e) if isinstance(e, SeveralCollective) else e for e in s.collectives]
    return resolve(cfg.collective, items, s.shares, s.noise)


def shares_of(cfg) -> list[float]:
    """The nominal share of every collective."""
    return [c.alpha for c in collectives_of(cfg)]


def noises_of(cfg) -> list[float]:
    """The noise share of every collective (``several.noise`` overrides the entry)."""
    return [c.noise for c in collectives_of(cfg)]


def layout_of(cfg) -> str:
    """A short description of the signals, e.g. '0:own 1:same-as-0' (for tables and figures)."""
    parts = []
    for c in collectives_of(cfg):
        sig = c.signal
        what = ("explicit" if sig.g is not None else f"same-as-{sig.same_as}" if sig.same_as is not None
                else "own" if c.index == 0 else sig.points)
        parts.append(f"{c.index}:{what}")
    return " ".join(parts)


def targets_of(cfg) -> list[int]:
    return [c.target for c in collectives_of(cfg)]


def check_several(cfg) -> None:
    """ValueError for a discrete-several configuration that cannot run."""
    c, s = cfg.collective, cfg.several
    if c.strategy != "feature-label":
        raise ValueError("family 'discrete-several' plants with the feature-label strategy only")
    if len({isinstance(e, SeveralCollective) for e in s.collectives}) > 1:
        raise ValueError("several.collectives: write every entry the same way (signal: {...} and noise: {share, "
                         "kind}, or the flat signal_size / noise / noise_kind)")
    if not s.flat:
        _check_items(cfg)
        return
    first = s.collectives[0]
    if first.alpha is not None or first.target is not None:
        raise ValueError("several.collectives.0 takes its alpha and target from 'collective:'; remove them")
    if first.same_signal_as is not None:
        raise ValueError("several.collectives.0 cannot reuse a signal (it is the first)")
    bad = sorted(k for k in s.shares if not (1 <= k < len(s.collectives)))
    if bad:
        raise ValueError(f"several.shares: no collective {bad[0]} (indices 1..{len(s.collectives) - 1})")
    for k, e in enumerate(s.collectives):
        if k == 0:
            continue
        if e.target is None:
            raise ValueError(f"several.collectives.{k} needs a target")
        if (e.alpha is None) == (k not in s.shares):
            raise ValueError(f"collective {k}: give its share once, in several.collectives.{k}.alpha "
                             f"or several.shares.{k}")
        if e.same_signal_as is not None and e.same_signal_as >= k:
            raise ValueError(f"several.collectives.{k}.same_signal_as must name an earlier collective")
    for v in s.shares.values():
        if not (0.0 < v < 1.0):
            raise ValueError(f"several.shares values must lie in (0, 1), got {v}")
    bad = sorted(k for k in s.noise if not (0 <= k < len(s.collectives)))
    if bad:
        raise ValueError(f"several.noise: no collective {bad[0]} (indices 0..{len(s.collectives) - 1})")
    for v in s.noise.values():
        if not (0.0 <= v < 1.0):
            raise ValueError(f"several.noise values must lie in [0, 1), got {v}")
    for k, t in enumerate(targets_of(cfg)):
        if t >= s.n_labels:
            raise ValueError(f"collective {k}: target must be a label in [0, {s.n_labels - 1}], got {t}")
    for k, e in enumerate(s.collectives):
        if e.signal_size > s.n_points:
            raise ValueError(f"several.collectives.{k}.signal_size must be <= n_points = {s.n_points}")
    total = sum(shares_of(cfg))
    if not total < 1.0:
        raise ValueError(f"the collectives' shares must sum to less than 1, got {total:g}")
    problem_of(cfg)  # raises InputError on an impossible map or table


def _check_items(cfg) -> None:
    """check_several for entries in the shared vocabulary."""
    s = cfg.several
    cols = collectives_of(cfg)  # alphas, targets and overrides, each given once; shares below 1
    for c in cols:
        if c.strategy != "feature-label":
            raise ValueError(f"several.collectives.{c.index}: family 'discrete-several' plants with the "
                             "feature-label strategy only")
        if c.target >= s.n_labels:
            raise ValueError(f"collective {c.index}: target must be a label in [0, {s.n_labels - 1}], got {c.target}")
        sig = c.signal
        if sig.same_as is not None and (c.index == 0 or sig.same_as >= c.index):
            raise ValueError(f"several.collectives.{c.index}.signal.same_as must name an earlier collective")
        if sig.size > s.n_points:
            raise ValueError(f"several.collectives.{c.index}.signal.size must be <= n_points = {s.n_points}")
    problem_of(cfg)  # raises InputError on an impossible map or table


def signal_maps(cfg) -> tuple[np.ndarray, list[np.ndarray]]:
    """P0 and every collective's signal map (collective 0's is family 1's random problem's)."""
    s = cfg.several
    cols = collectives_of(cfg)
    base = fam1.random_problem(s.n_points, s.n_labels, s.concentration, cols[0].signal.size,
                               cfg.collective.target, s.problem_seed)
    maps: list[np.ndarray] = []
    used: set[int] = set()
    for k, c in enumerate(cols):
        sig = c.signal
        if sig.g is not None:
            g = np.asarray(sig.g, dtype=np.int64)
            if g.shape != (s.n_points,) or (g < 0).any() or (g >= s.n_points).any():
                raise InputError(f"several.collectives.{k}.g must map the {s.n_points} points into [0, {s.n_points - 1}]")
        elif sig.same_as is not None:
            g = maps[sig.same_as]
        elif k == 0:
            g = np.asarray(base.g)
        else:
            rng = np.random.default_rng([s.problem_seed, _SIGNAL_STREAM, k])
            pool = np.array([x for x in range(s.n_points) if sig.points == "any" or x not in used])
            if len(pool) < sig.size:
                raise InputError(f"several.collectives.{k}: {sig.size} disjoint signal points needed, "
                                 f"only {len(pool)} left")
            points = rng.choice(pool, size=sig.size, replace=False)
            g = points[rng.integers(0, sig.size, size=s.n_points)].astype(np.int64)
        used.update(int(x) for x in np.unique(g))
        maps.append(g)
    return np.asarray(base.p0), maps


def problem_of(cfg, alphas=None) -> sev.SeveralProblem:
    """The theory problem of a configuration, at ``alphas`` (default: the nominal shares)."""
    p0, maps = signal_maps(cfg)
    cols = collectives_of(cfg)
    alphas = [c.alpha for c in cols] if alphas is None else alphas
    return sev.SeveralProblem(p0, tuple(sev.Collective(float(a), g, c.target, c.noise, c.kind)
                                        for a, g, c in zip(alphas, maps, cols)))


def _corrupted_members(problem: sev.SeveralProblem, k: int, m: int, rng: np.random.Generator) -> np.ndarray:
    """Counts of what m members of collective k report when deviators plant a corrupted signal.

    Member by member: x ~ P0; a follower reports (g(x), y*); a deviator (probability eta) reports
    a point drawn uniformly from the points other than g(x), with y*.
    """
    c = problem.collectives[k]
    X = problem.n_points
    own = rng.multinomial(m, problem.p0.sum(axis=1))  # the members' own points
    deviators = rng.binomial(own, c.noise)
    out = np.zeros(problem.p0.shape, dtype=np.int64)
    np.add.at(out[:, c.target], c.g, own - deviators)
    by_signal = np.bincount(c.g, weights=deviators, minlength=X).astype(np.int64)  # deviators per g(x)
    for point in np.flatnonzero(by_signal):
        others = np.full(X, 1.0 / (X - 1))
        others[point] = 0.0
        out[:, c.target] += rng.multinomial(by_signal[point], others)
    return out


def train_counts(problem: sev.SeveralProblem, members: list[int], seed: int, n_train: int) -> np.ndarray:
    """Training counts (|X|, |Y|): n - sum m_k draws of P0, then m_k draws of P*_k for every k.

    Corrupted-signal collectives are drawn member by member (:func:`_corrupted_members`).
    """
    rng = np.random.default_rng([int(seed), _TRAIN_STREAM])
    counts = rng.multinomial(n_train - sum(members), problem.p0.ravel())
    for k, m in enumerate(members):
        c = problem.collectives[k]
        if c.kind == "corrupted-signal" and c.noise > 0:
            counts = counts + _corrupted_members(problem, k, m, rng).ravel()
            continue
        # a signal point can carry all of P0's mass and sum to 1 + 1 ulp; numpy rejects pvals > 1
        counts = counts + rng.multinomial(m, np.minimum(problem.pstar(k).ravel(), 1.0))
    return counts.reshape(problem.p0.shape)


def measure(problem: sev.SeveralProblem, labels: np.ndarray, seed: int, n_test: int) -> tuple[np.ndarray, float]:
    """Measured success of every collective and clean accuracy on fresh points.

    The test stream draws collective 0's signal points, then the clean points, then the other
    collectives' signal points (so one collective draws what family 1 draws).
    """
    rng = np.random.default_rng([int(seed), _TEST_STREAM])
    K = len(problem.collectives)
    succ = np.empty(K)

    def one(k):
        c = problem.collectives[k]
        law = np.minimum(problem.signal_law(k), 1.0)  # 1 + 1 ulp on a one-point signal (see train_counts)
        return rng.multinomial(n_test, law)[labels == c.target].sum() / n_test

    succ[0] = one(0)
    clean_counts = rng.multinomial(n_test, problem.p0.ravel()).reshape(problem.p0.shape)
    clean = clean_counts[np.arange(problem.n_points), labels].sum() / n_test
    for k in range(1, K):
        succ[k] = one(k)
    return succ, float(clean)


def several_records(cfg, seed: int) -> list[dict]:
    """One record per collective for one cell."""
    n, n_test = cfg.n_train, cfg.n_test
    nominal = shares_of(cfg)
    problem = problem_of(cfg)
    members = [int(round(a * n)) for a in nominal]
    counts = train_counts(problem, members, seed, n)
    labels = sev.classifier(counts, problem.targets, tol=0.0)  # integer counts: exact ties only
    succ, clean = measure(problem, labels, seed, n_test)
    pop = sev.success_of(problem, labels)
    realised = [m / n for m in members]
    K = len(nominal)
    ok = all(m > 0 for m in members) and sum(members) < n
    if ok:
        at = problem_of(cfg, realised)
        exact = sev.success(at)
        b = sev.bounds(at)
    else:  # a collective with no member: theory at this n says nothing about it
        exact = np.full(K, math.nan)
        b = {key: np.full(K, math.nan) for key in ("base", "integrated", "shares", "effective", "delta_base",
                                                     "xi_base", "rival")}
    recs = []
    for k, c in enumerate(collectives_of(cfg)):
        s, eta = float(succ[k]), c.noise
        recs.append({"collective": k, "alpha": nominal[k], "alpha_realised": realised[k],
                     "alpha_effective": realised[k] * (1 - eta), "target": problem.targets[k],
                     "noise": eta, "noise_kind": c.kind,
                     "success": s, "success_se": math.sqrt(s * (1 - s) / n_test), "clean": clean,
                     "success_population": float(pop[k]), "exact": float(exact[k]),
                     "bound": float(b["base"][k]), "bound_integrated": float(b["integrated"][k]),
                     "bound_shares": float(b["shares"][k]), "delta": float(b["delta_base"][k]),
                     "xi": float(b["xi_base"][k]), "rival_mass": float(b["rival"][k])})
    return recs


def run_several_cells(group, cfg, backend: Backend, bar) -> list[list[ResultRow]]:
    """One row per collective for every discrete-several cell (each cell is exact multinomial draws)."""
    out = []
    for cell in group:
        v = cell.validated_config()
        recs = several_records(v, cell.seed)
        shares = {f"alpha_{k}": r["alpha"] for k, r in enumerate(recs)}
        rows = []
        for r in recs:
            extra = {"family": v.family, "collective": r["collective"],
                     "series": f"plug-in ({len(recs)} collectives, problem {v.several.problem_seed}, n={v.n_train:g})",
                     "success_se": r["success_se"], "success_theory": r["exact"],
                     "success_theory_kind": "exact Bayes success (several collectives)",
                     "success_population": r["success_population"], "success_bound": r["bound"],
                     "bound_name": "Hardt bound with the others as base (several.base)",
                     "success_bound_integrated": r["bound_integrated"], "success_bound_shares": r["bound_shares"],
                     "alpha_realised": r["alpha_realised"], "alpha_effective": r["alpha_effective"],
                     "target": r["target"], "noise": r["noise"], "noise_kind": r["noise_kind"],
                     "signal_layout": layout_of(v),
                     "delta": r["delta"], "xi": r["xi"], "rival_mass": r["rival_mass"],
                     "alphas": json.dumps([x["alpha"] for x in recs]), **shares,
                     "backend": "numpy", "device": "cpu", "n_train": v.n_train, "n_test": v.n_test}
            rows.append(ResultRow(experiment=cell.experiment, pillar="simulate", config=cell.config, seed=cell.seed,
                                  alpha=float(r["alpha"]), learner=v.learner.name, success=r["success"],
                                  clean_accuracy=r["clean"], cell_id=cell.cell_id, extra=extra))
        out.append(rows)
        bar.update(1)
    return out
