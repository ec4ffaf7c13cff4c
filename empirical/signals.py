"""Image signals g(x) a collective plants: a small pixel pattern, or a faint global pattern.

A signal is a callable on a batch of features (numpy, ``(N, C, H, W)`` images or ``(N, D)``
vectors) that returns a planted copy; the input is never modified. Signals are deterministic:
the same parameters give the same pattern in every process.

* :class:`PatchSignal` overwrites a ``size x size`` checkerboard (values ``high``/``low``) at a
  place: a named place (``corner``: bottom-right, ``top-left``, ``center``), a named region of a
  derived set (dominoes' ``simple``, ``complex``, ``margin``: the patch sits at the region's
  centre) or explicit ``(row, col)`` of its top-left pixel. On vectors it overwrites ``size``
  consecutive coordinates starting at ``col``.
* :class:`GlobalSignal` adds ``amplitude`` times a fixed random +-1 pattern to every pixel (the
  default 8/255 is invisible to a person), clipped to [0, 1] for images.
* :class:`MapSignal` is a discrete problem's own signal map g on one-hot points (``data: discrete``):
  the one-hot vector of x becomes that of g(x).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from collective_action.errors import InputError


def checkerboard(size: int, high: float = 1.0, low: float = 0.0) -> np.ndarray:
    """A ``size x size`` checkerboard starting with ``high`` in the top-left pixel."""
    ii, jj = np.indices((size, size))
    return np.where((ii + jj) % 2 == 0, high, low).astype(np.float32)


@dataclass(frozen=True)
class PatchSignal:
    """Overwrite a checkerboard patch whose top-left pixel is at ``(row, col)``."""

    row: int
    col: int
    size: int = 3
    high: float = 1.0
    low: float = 0.0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        out = np.array(x, dtype=np.float32, copy=True)
        if out.ndim == 2:  # vectors: a 1-D alternating pattern
            pattern = checkerboard(self.size, self.high, self.low)[0]
            out[:, self.col: self.col + self.size] = pattern
        else:
            out[..., self.row: self.row + self.size, self.col: self.col + self.size] = checkerboard(
                self.size, self.high, self.low)
        return out


@dataclass(frozen=True)
class GlobalSignal:
    """Add ``amplitude * pattern`` (a fixed random +-1 array drawn from ``seed``) to every feature."""

    shape: tuple[int, ...]
    amplitude: float = 8.0 / 255.0
    seed: int = 0
    clip: bool = True

    @property
    def pattern(self) -> np.ndarray:
        rng = np.random.default_rng(self.seed)
        return rng.choice(np.array([-1.0, 1.0], dtype=np.float32), size=self.shape)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        out = np.asarray(x, dtype=np.float32) + np.float32(self.amplitude) * self.pattern
        return np.clip(out, 0.0, 1.0) if self.clip else out


@dataclass(frozen=True)
class MapSignal:
    """g on one-hot points: row e_x becomes e_{g(x)} (``signal_map[x]`` is the index of g(x))."""

    signal_map: tuple[int, ...]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != len(self.signal_map):
            raise InputError(f"signal kind 'map' acts on one-hot points of length {len(self.signal_map)}")
        return np.eye(x.shape[1], dtype=np.float32)[np.asarray(self.signal_map)[x.argmax(axis=1)]]


#: Named places for a patch on an image of height H and width W (top-left pixel of the patch).
def _named_place(place: str, size: int, height: int, width: int) -> tuple[int, int]:
    if place == "corner":  # bottom-right, one pixel in from the edge
        return height - size - 1, width - size - 1
    if place == "top-left":
        return 1, 1
    if place == "center":
        return (height - size) // 2, (width - size) // 2
    raise KeyError(place)


def make_signal(kind: str, input_shape: tuple[int, ...], *, place="corner", size: int = 3,
                high: float = 1.0, low: float = 0.0, amplitude: float = 8.0 / 255.0, seed: int = 0,
                regions: dict | None = None, clip: bool = True, signal_map=None):
    """Build the signal ``kind`` ("patch", "global" or "map") for inputs of ``input_shape``.

    ``regions`` maps region names of a derived set to ``(row0, row1, col0, col1)`` boxes;
    ``signal_map`` is a discrete data set's g (kind "map").
    """
    if kind == "map":
        if signal_map is None:
            raise InputError("signal kind 'map' needs a data set with a signal map (data: discrete)")
        return MapSignal(tuple(int(v) for v in signal_map))
    if kind == "global":
        if amplitude <= 0:
            raise InputError(f"signal.amplitude must be positive, got {amplitude}")
        return GlobalSignal(tuple(input_shape), float(amplitude), int(seed), clip)
    if kind != "patch":
        raise InputError(f"unknown signal kind {kind!r}; choose one of: global, map, patch")
    if size < 1:
        raise InputError(f"signal.size must be at least 1, got {size}")
    height, width = (1, input_shape[-1]) if len(input_shape) == 1 else input_shape[-2:]
    if size > width or (len(input_shape) > 1 and size > height):
        raise InputError(f"signal.size {size} does not fit inputs of shape {tuple(input_shape)}")
    regions = regions or {}
    if isinstance(place, (list, tuple)):
        if len(place) != 2:
            raise InputError(f"signal.place must be a name or [row, col], got {place!r}")
        row, col = int(place[0]), int(place[1])
    elif place in regions:
        r0, r1, c0, c1 = regions[place]
        if r1 - r0 < size or c1 - c0 < size:
            raise InputError(f"signal.place {place!r}: region too small for a {size}x{size} patch")
        row, col = r0 + (r1 - r0 - size) // 2, c0 + (c1 - c0 - size) // 2
    else:
        try:
            row, col = _named_place(str(place), size, height, width)
        except KeyError:
            names = sorted({"corner", "top-left", "center", *regions})
            raise InputError(f"unknown signal.place {place!r}; choose one of: {', '.join(names)} "
                             "or [row, col]") from None
    vector = len(input_shape) == 1
    if vector:
        row = 0
    if not (0 <= row <= (0 if vector else height - size) and 0 <= col <= width - size):
        raise InputError(f"signal.place {place!r} puts the patch outside inputs of shape {tuple(input_shape)}")
    return PatchSignal(row, col, int(size), float(high), float(low))


def corrupt(signal, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``x`` with a corrupted copy of ``signal`` planted on each row (a deviating member's mistake).

    A patch is planted with its top-left pixel drawn uniformly from every other place it fits in
    the input (vectors: every other start column), so most corrupted patches sit elsewhere and some
    overlap the true one; a global pattern is replaced by a fresh random +-1 pattern per row.
    """
    if isinstance(signal, GlobalSignal):
        noise = rng.choice(np.array([-1.0, 1.0], dtype=np.float32), size=np.shape(x))
        out = np.asarray(x, dtype=np.float32) + np.float32(signal.amplitude) * noise
        return np.clip(out, 0.0, 1.0) if signal.clip else out
    if not isinstance(signal, PatchSignal):
        raise InputError(f"no corrupted form of signal {signal!r}")
    out = np.array(x, dtype=np.float32, copy=True)
    vector = out.ndim == 2
    height, width = (1, out.shape[-1]) if vector else out.shape[-2:]
    rows, cols = height - signal.size + 1, width - signal.size + 1
    own = signal.row * cols + signal.col
    if rows * cols < 2:
        raise InputError(f"a {signal.size}-pixel patch has no other place in inputs of shape {out.shape[1:]}")
    draw = rng.integers(0, rows * cols - 1, size=len(out))
    draw = draw + (draw >= own)  # every place but the patch's own, uniformly
    for i, place in enumerate(draw):
        moved = PatchSignal(int(place // cols), int(place % cols), signal.size, signal.high, signal.low)
        out[i:i + 1] = moved(out[i:i + 1])
    return out
