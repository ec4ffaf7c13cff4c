"""Parsed data sets kept on disk as .npy files and memory-mapped back on the next run.

Parsing Fashion-MNIST's gzip files, importing scikit-learn for its digits and generating MNIST-1D
each take one to several seconds, which every CLI run and every pool worker paid again. The first
run stores the parsed arrays under a key of everything they depend on (the source file's path,
size and modification time; the generator's version and arguments); later runs map them read-only
(no copy, the operating system shares the pages between workers). The arrays are the same numbers
(.npy stores float32 and int64 exactly).

Where: ``data/`` under the toolkit's cache folder (collective_action/disk_cache.py;
``COLLECTIVE_ACTION_CACHE=off`` disables it). A cache that cannot be written is skipped (the
arrays are built as before); an entry is written to a private folder and renamed into place in one
step, so a killed run never leaves a half-written entry behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

from collective_action.disk_cache import cache_root

_COMPLETE = "complete.json"  # written last: its presence says every array is there


def entry_dir(name: str, key: dict) -> Path | None:
    root = cache_root()
    if root is None:
        return None
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:20]
    return root / "data" / f"{name}-{digest}"


def cached_arrays(name: str, key: dict, build: Callable[[], tuple[np.ndarray, ...]]) -> tuple[np.ndarray, ...]:
    """``build()``'s arrays, read-only: memory-mapped from the cache when present, else built and stored."""
    folder = entry_dir(name, key)
    if folder is not None:
        stored = _read(folder)
        if stored is not None:
            return stored
    arrays = tuple(np.ascontiguousarray(a) for a in build())
    if folder is not None:
        _write(folder, key, arrays)
    for a in arrays:
        a.setflags(write=False)  # shared by every caller: nobody may write into it
    return arrays


def _read(folder: Path) -> tuple[np.ndarray, ...] | None:
    try:
        meta = json.loads((folder / _COMPLETE).read_text())
        # np.asarray drops the memmap subclass (a plain read-only ndarray over the mapped pages)
        return tuple(np.asarray(np.load(folder / f"{i}.npy", mmap_mode="r")) for i in range(int(meta["arrays"])))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # absent, incomplete or unreadable: build instead


def _write(folder: Path, key: dict, arrays: tuple[np.ndarray, ...]) -> None:
    tmp = None
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
        for i, a in enumerate(arrays):
            np.save(tmp / f"{i}.npy", a, allow_pickle=False)
        (tmp / _COMPLETE).write_text(json.dumps({"arrays": len(arrays), "key": key}, default=str))
        os.replace(tmp, folder)  # atomic; fails harmlessly when another process got there first
        tmp = None
    except OSError:
        pass  # an unwritable or full cache costs speed only
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
