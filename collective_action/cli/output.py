"""Printing numbers for people (a small table) or for programs (--json)."""

from __future__ import annotations

import json
import math
from typing import Any

import typer


def _clean(value: Any) -> Any:
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def emit(payload: dict[str, Any], as_json: bool, title: str | None = None) -> None:
    """Print ``payload`` as one JSON object (``as_json``) or as aligned ``key  value`` lines."""
    if as_json:
        typer.echo(json.dumps(_clean(payload), sort_keys=False))
        return
    if title:
        typer.echo(title)
    width = max((len(k) for k in payload), default=0)
    for key, value in payload.items():
        if isinstance(value, float):
            value = f"{value:.6g}"
        typer.echo(f"  {key.ljust(width)}  {value}")


JSON_OPTION = typer.Option(False, "--json", help="Print one JSON object instead of text.")
LATEX_OPTION = typer.Option(False, "--latex", help="Print the formula (LaTeX) instead of a number.")
