"""JTT's stage-1 model, trained once and reused for every upweight (the habit of SubpopBench).

A stage-1 model is plain ERM for T epochs; what JTT keeps of it is the error set. Every JTT
candidate or cell that trains on the same data, from the same random state, with the same model,
SGD settings, augmentation and T gets the same error set, whatever its upweight. So the error set
is cached under a fingerprint of all of that, together with the random state stage 1 leaves
behind (torch's global generator, which initialises models, and the run's generator, which draws
batches). A hit restores both states, so the main model trains exactly as it would have after
training stage 1 itself: reuse changes no number (tests/empirical/test_stage1_cache.py).

The cache lives in the process (cells trained by the same worker share it) and keeps the most
recent entries only: an error set is one bool per training point.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

import torch

#: how many error sets one process keeps (each is n bools plus two generator states)
MAX_ENTRIES = 64


@dataclass
class _Entry:
    errors: torch.Tensor
    global_state: torch.Tensor
    generator_state: torch.Tensor


_cache: "OrderedDict[str, _Entry]" = OrderedDict()
stats = {"hits": 0, "misses": 0}


def fingerprint(x: torch.Tensor, y: torch.Tensor, generator: torch.Generator, *settings) -> str:
    """A key for everything stage 1's result depends on: the data, both random states, the settings."""
    h = hashlib.blake2b(digest_size=20)
    for t in (x, y):
        c = t.detach().to("cpu").contiguous()
        h.update(str((tuple(c.shape), str(c.dtype))).encode())
        h.update(c.numpy().tobytes())
    h.update(torch.get_rng_state().numpy().tobytes())
    h.update(generator.get_state().numpy().tobytes())
    h.update(repr(settings).encode())
    return h.hexdigest()


def stage1_errors(key: str, generator: torch.Generator, train: Callable[[], torch.Tensor]) -> torch.Tensor:
    """The error set stored under ``key``, or ``train()``'s (which trains stage 1 and returns it)."""
    entry = _cache.get(key)
    if entry is not None:
        _cache.move_to_end(key)
        stats["hits"] += 1
        torch.set_rng_state(entry.global_state)
        generator.set_state(entry.generator_state)
        return entry.errors.clone()
    stats["misses"] += 1
    errors = train()
    _cache[key] = _Entry(errors.clone(), torch.get_rng_state(), generator.get_state())
    while len(_cache) > MAX_ENTRIES:
        _cache.popitem(last=False)
    return errors


def clear() -> None:
    _cache.clear()
    stats.update(hits=0, misses=0)
