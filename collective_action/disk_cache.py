"""Where the toolkit keeps what it can recompute but should not have to: parsed data sets
(empirical/data_cache.py) and compiled formulas (theory/compiled.py).

``$COLLECTIVE_ACTION_CACHE`` when set (``off`` turns every cache off), else
``$XDG_CACHE_HOME/collective-action`` or ``~/.cache/collective-action``. Deleting the folder is
always safe: everything in it is rebuilt on demand. Entries are written to a private name and
renamed into place, so a killed run never leaves a half-written entry that a later run trusts.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

CACHE_ENV = "COLLECTIVE_ACTION_CACHE"


def cache_root() -> Path | None:
    """The cache folder, or None when the user turned caching off."""
    chosen = os.environ.get(CACHE_ENV)
    if chosen is not None:
        return None if chosen.strip().lower() in {"", "off", "0", "none"} else Path(chosen).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "collective-action"


def write_text_atomically(path: Path, text: str) -> bool:
    """Write ``text`` to ``path`` through a private temporary file; False (nothing written) on OSError."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
        return True
    except OSError:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        return False
