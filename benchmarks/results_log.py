"""Appending one benchmark run to benchmarks/RESULTS.md: a heading that says when, where and how, then its table."""

from __future__ import annotations

import datetime as dt
import os
import platform
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")


def append_run(title: str, command: str, how: str, body: str, path: Path = RESULTS) -> None:
    """Append ``### title (when, machine, cores, `command`, how; load average at the end)`` and ``body``."""
    when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load = [round(v, 2) for v in os.getloadavg()]
    with open(path, "a") as f:
        f.write(f"\n### {title} ({when}, {platform.machine()}, {os.cpu_count()} cores, `{command}`, {how}; "
                f"load average at the end {load})\n\n{body}\n")
