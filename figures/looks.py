"""One colour and marker per learning algorithm and per strategy, taken from their registries.

The style's cycles (Okabe-Ito colours, eight markers) give 56 distinct (colour, marker) pairs.
The k-th entry of the algorithm registry (``collective_action.algorithms.ALGORITHMS``, in its
order) is drawn with the k-th pair; the k-th strategy of ``collective_action.collective.STRATEGIES``
with the k-th pair from the end, so an algorithm and a strategy never look alike. Both
registries are read when a figure is drawn: a new entry gets its look without editing this
module. Every other curve (a name no registry knows, a second curve of one algorithm, a theory
line) takes one of the pairs in between, which no registry entry uses, so a look always means
the same algorithm or strategy: ERM is a black circle in every figure.

Curves of one figure get their looks from :class:`CurveLooks`: a curve whose rows all come from
one registered algorithm is drawn in that algorithm's look; where several curves share one
algorithm (C3's two validation sets, C4's placements), the first keeps it and the others take
free pairs, colours not yet used in the figure first.
"""

from __future__ import annotations

import zlib
from typing import NamedTuple

from .style import CURVE_COLOURS, MARKERS

#: Distinct (colour, marker) pairs: the two cycles' lengths are coprime.
N_LOOKS = len(CURVE_COLOURS) * len(MARKERS)


class Look(NamedTuple):
    colour: str
    marker: str


def palette_look(i: int) -> Look:
    """The i-th pair of the style's colour and marker cycles."""
    return Look(CURVE_COLOURS[i % len(CURVE_COLOURS)], MARKERS[i % len(MARKERS)])


def algorithm_names() -> tuple[str, ...]:
    from collective_action.algorithms import ALGORITHMS

    return tuple(ALGORITHMS)


def strategy_names() -> tuple[str, ...]:
    from collective_action.collective import STRATEGIES

    return tuple(STRATEGIES)


def free_indices() -> range:
    """Indices of the pairs no registry entry uses (between the algorithms' and the strategies')."""
    return range(len(algorithm_names()), N_LOOKS - len(strategy_names()))


def _unregistered(name: str) -> Look:
    """A free pair picked by a checksum of ``name``: the same in every run."""
    free = free_indices()
    return palette_look(free[zlib.crc32(name.encode()) % len(free)])


def algorithm_look(name: str) -> Look:
    """The look of the registry's algorithm ``name`` (a checksum-picked free pair for an unknown name)."""
    names = algorithm_names()
    return palette_look(names.index(name)) if name in names else _unregistered(name)


def strategy_look(name: str) -> Look:
    """The look of the strategy ``name`` (a checksum-picked free pair for one the registry lacks)."""
    names = strategy_names()
    return palette_look(N_LOOKS - 1 - names.index(name)) if name in names else _unregistered(name)


class CurveLooks(dict):
    """Curve label -> Look for the curves of one figure (or one experiment's rows of panels).

    ``assign(label, algorithm, strategy)`` gives a new label the look of its algorithm when the
    registry has it and no other curve has taken that look (its strategy's first, when the
    figure's curves differ in strategy: ``by_strategy``), else a free pair (see the module
    doc), of a colour no curve uses yet while there is one. ``assign_all`` does
    so for many curves, those of registered algorithms first, so that no other curve takes their
    look before them."""

    def __init__(self, by_strategy: bool = False):
        super().__init__()
        self.by_strategy = by_strategy

    def assign(self, label: str, algorithm: str | None = None, strategy: str | None = None) -> Look:
        if label in self:
            return self[label]
        taken = set(self.values())
        candidates = []
        if self.by_strategy and strategy:  # the strategy is what tells these curves apart
            candidates.append(strategy_look(strategy))
        if algorithm and algorithm in algorithm_names():
            candidates.append(algorithm_look(algorithm))
        look = next((c for c in candidates if c not in taken), None) or self._free(taken)
        self[label] = look
        return look

    def assign_all(self, curves) -> "CurveLooks":
        """Assign (label, algorithm, strategy) triples: registered algorithms first, then by label."""
        curves = list(curves)
        self.by_strategy = self.by_strategy or len({c[2] for c in curves if c[2]}) > 1
        registered = set(algorithm_names())
        for label, algorithm, strategy in sorted(curves, key=lambda c: (c[1] not in registered, c[0])):
            self.assign(label, algorithm, strategy)
        return self

    @staticmethod
    def _free(taken: set) -> Look:
        """The first free pair whose colour no curve uses yet, else the first pair not taken."""
        colours = {look.colour for look in taken}
        free = [palette_look(i) for i in free_indices()]
        return next((look for look in free if look.colour not in colours), None) or \
            next((look for look in free if look not in taken), free[len(taken) % len(free)])
