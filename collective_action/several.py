"""Several collectives in one experiment: the vocabulary every pillar shares (docs/several.md).

An experiment's ``collectives:`` is a list, one item per collective, in order::

    collective: {alpha: 0.05, target: 1}            # collective 0's alpha, target, strategy (optional)
    collectives:
      - signal: {...}                                # collective 0 (alpha and target from `collective:`)
        noise: {share: 0.2, kind: keep-label}
      - {alpha: 0.1, target: 2, strategy: feature-label, signal: {...}, noise: {share: 0.0}}
    shares: {}                                       # grid-able: index -> alpha   (axis shares.1)
    noise: {}                                        # grid-able: index -> noise share (axis noise.0)

Each item has its own share ``alpha``, target ``target``, ``strategy``, ``signal`` (the pillar's
own signal model) and ``noise``: a share of its members who deviate, and how (:data:`NOISE_KINDS`).
Collective 0 takes alpha, target and strategy from the file's ``collective:`` where there is one
(the swept share stays the grid axis ``collective.alpha``); every value is given once. Grid paths
cannot index lists, so ``shares`` (an alpha given there instead of in its item) and ``noise`` (a
noise share overriding its item's) are the grid-able way to sweep one collective.

One collective without noise is the plain case: a pillar runs it exactly as the file without
``collectives:`` (same draws, same numbers). A pillar config that does not use ``collectives:``
serialises as before, so its cells keep their ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, Literal, Optional, TypeVar

from pydantic import Field, field_validator

from .experiment import CollectiveSpec, StrictModel

#: How a deviating member breaks the plan, each kind breaking one part of it.
NOISE_KINDS: dict[str, str] = {
    "keep-label": "does not take part: reports its own (x, y)",
    "random-label": "plants the collective's signal with a label drawn uniformly from all labels",
    "corrupted-signal": "plants a corrupted signal (the pillar says which) with the collective's label",
}

NoiseKind = Literal["keep-label", "random-label", "corrupted-signal"]
SignalT = TypeVar("SignalT")


class Noise(StrictModel):
    """The share of a collective's members who deviate, and how they do."""

    share: float = Field(0.0, ge=0.0, lt=1.0, description="share of the members who deviate")
    kind: NoiseKind = Field("keep-label", description="how they deviate: " + "; ".join(
        f"{k}: {v}" for k, v in NOISE_KINDS.items()))


class CollectiveItem(StrictModel, Generic[SignalT]):
    """One item of ``collectives:``; ``signal`` is the pillar's signal model."""

    alpha: Optional[float] = Field(None, gt=0.0, lt=1.0, description="share of the training data")
    target: Optional[int] = Field(None, ge=0, description="target label y*")
    strategy: Optional[str] = Field(None, description="feature-label | feature-only (default feature-label)")
    signal: SignalT
    noise: Noise = Field(default_factory=Noise)

    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, v):
        from .collective import STRATEGIES

        if v is not None and v not in STRATEGIES:
            raise ValueError(f"unknown strategy {v!r}; choose one of {sorted(STRATEGIES)}")
        return v


@dataclass(frozen=True)
class Resolved:
    """One collective with every value settled: what the pillars compute with."""

    index: int
    alpha: float
    target: int
    strategy: str
    signal: Any
    noise: float
    kind: str

    @property
    def effective(self) -> float:
        """a = alpha (1 - eta): the share of training points that carry the plan."""
        return self.alpha * (1.0 - self.noise)


def resolve(first: Optional[CollectiveSpec], items: list, shares: dict[int, float],
            noise: dict[int, float]) -> list[Resolved]:
    """The collectives of ``collectives:`` with every value settled; ValueError naming what is wrong.

    ``first`` is the file's ``collective:`` (collective 0's alpha, target and strategy, or None);
    ``shares`` and ``noise`` are the grid-able overrides (index -> alpha, index -> noise share).
    """
    if not items:
        raise ValueError("collectives must list at least one collective")
    K = len(items)
    for name, table in (("shares", shares), ("noise", noise)):
        bad = sorted(k for k in table if not (0 <= k < K))
        if bad:
            raise ValueError(f"{name}: no collective {bad[0]} (indices 0..{K - 1})")
    for k, v in shares.items():
        if not (0.0 < v < 1.0):
            raise ValueError(f"shares.{k} must lie in (0, 1), got {v}")
    for k, v in noise.items():
        if not (0.0 <= v < 1.0):
            raise ValueError(f"noise.{k} must lie in [0, 1), got {v}")
    out = []
    for k, item in enumerate(items):
        given = {"alpha": [], "target": [], "strategy": []}
        if k == 0 and first is not None:
            for field in given:
                given[field].append((f"collective.{field}", getattr(first, field)))
        for field in given:
            value = getattr(item, field)
            if value is not None:
                given[field].append((f"collectives.{k}.{field}", value))
        if k in shares:
            given["alpha"].append((f"shares.{k}", shares[k]))
        for field, places in given.items():
            if len(places) > 1:
                raise ValueError(f"collective {k}: give its {field} once, not in {' and '.join(p for p, _ in places)}")
        if not given["alpha"]:
            raise ValueError(f"collective {k} needs an alpha (collectives.{k}.alpha or shares.{k})")
        if not given["target"]:
            raise ValueError(f"collective {k} needs a target (collectives.{k}.target)")
        strategy = given["strategy"][0][1] if given["strategy"] else "feature-label"
        out.append(Resolved(k, float(given["alpha"][0][1]), int(given["target"][0][1]), strategy, item.signal,
                            float(noise.get(k, item.noise.share)), item.noise.kind))
    total = sum(c.alpha for c in out)
    if not total < 1.0:
        raise ValueError(f"the collectives' shares must sum to less than 1, got {total:g}")
    return out


def is_plain(collectives: list[Resolved]) -> bool:
    """One collective whose members all follow the plan: the case without ``collectives:``."""
    return len(collectives) == 1 and collectives[0].noise == 0.0


#: The fields a pillar model adds for several collectives, with their values when a file does not use them.
UNUSED = {"collectives": None, "shares": {}, "noise": {}}


def without_unused(data: Any) -> Any:
    """A serialised pillar model without the several-collectives fields it does not use.

    Pillar models serialise through this, so that a file without ``collectives:`` dumps (and
    hashes into cell ids) exactly as it did before the fields existed.
    """
    if not isinstance(data, dict):
        return data
    return {k: v for k, v in data.items() if not (k in UNUSED and v == UNUSED[k])}
