"""Limits on what an input may ask for, checked when a file is loaded, before anything runs.

Each limit has a default a normal study stays far below and an environment variable that raises
it deliberately (``COLLECTIVE_ACTION_MAX_CELLS=5000000 collective-action sweep ...``). Exceeding
one is a one-line InputError that names the limit and the variable. docs/reliability.md lists them.
"""

from __future__ import annotations

import os

from .errors import InputError

#: name -> (environment variable, default, what it bounds)
LIMITS = {
    "file_mb": ("COLLECTIVE_ACTION_MAX_FILE_MB", 10, "size of an experiment or problem file, in MB"),
    "yaml_nodes": ("COLLECTIVE_ACTION_MAX_YAML_NODES", 200_000, "values in a file once its aliases are expanded"),
    "yaml_depth": ("COLLECTIVE_ACTION_MAX_YAML_DEPTH", 64, "nesting depth of a file"),
    "cells": ("COLLECTIVE_ACTION_MAX_CELLS", 1_000_000, "cells of one experiment (grid points x seeds)"),
    "seeds": ("COLLECTIVE_ACTION_MAX_SEEDS", 100_000, "seeds of one experiment"),
    "points": ("COLLECTIVE_ACTION_MAX_POINTS", 50_000_000, "training and test points one cell holds in memory"),
    "memory_mb": ("COLLECTIVE_ACTION_MAX_MEMORY_MB", None, "estimated memory of one cell, in MB"),
}


def _physical_memory_mb() -> int:
    """Most of the machine's memory: the default bound on one cell (16 GB where it cannot be read)."""
    try:
        return int(0.8 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20)
    except (ValueError, OSError, AttributeError):
        return 16_384


def limit(name: str) -> int:
    """The current value of limit ``name`` (its environment variable, else the default)."""
    env, default, _ = LIMITS[name]
    text = os.environ.get(env)
    if text is None:
        return default if default is not None else _physical_memory_mb()
    try:
        value = int(text)
    except ValueError:
        raise InputError(f"{env} must be a positive whole number, got {text!r}") from None
    if value < 1:
        raise InputError(f"{env} must be a positive whole number, got {text!r}")
    return value


def check(name: str, value: int, where: str = "") -> None:
    """InputError when ``value`` exceeds limit ``name``."""
    bound = limit(name)
    if value > bound:
        env, _, what = LIMITS[name]
        prefix = f"{where}: " if where else ""
        raise InputError(f"{prefix}{value:,} exceeds the limit on {what} ({bound:,}); set {env} to raise it")


def check_tree(obj, where: str = "") -> None:
    """Walk a parsed YAML document without recursion, counting values and depth, and stop as soon
    as either limit is passed (an alias bomb is refused after a few hundred thousand steps)."""
    max_nodes, max_depth = limit("yaml_nodes"), limit("yaml_depth")
    stack = [(obj, 1)]
    count = 0
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > max_nodes:
            check("yaml_nodes", count, where)
        if depth > max_depth:
            check("yaml_depth", depth, where)
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
            count += len(node)  # the keys
        elif isinstance(node, (list, tuple)):
            stack.extend((v, depth + 1) for v in node)
