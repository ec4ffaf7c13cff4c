"""Shared test helpers: running the CLI in-process and skipping GPU tests without a GPU."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass

import pytest


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    def json(self):
        return json.loads(self.stdout)


def _run_cli(*args: str) -> CliResult:
    from collective_action.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main([str(a) for a in args])
    return CliResult(code, out.getvalue(), err.getvalue())


@pytest.fixture
def cli():
    """Call the CLI in-process: cli("theory", "bound", ...) -> CliResult."""
    return _run_cli


def _gpu_available() -> bool:
    try:
        import cupy

        return bool(cupy.cuda.is_available())
    except Exception:
        return False


def pytest_configure(config):
    """Tests keep the data cache (empirical/data_cache.py) in a folder of their own, never the user's."""
    import os
    import tempfile

    from collective_action.disk_cache import CACHE_ENV

    os.environ[CACHE_ENV] = tempfile.mkdtemp(prefix="collective-action-test-cache-")


def pytest_collection_modifyitems(config, items):
    if _gpu_available():
        return
    skip = pytest.mark.skip(reason="needs a usable CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
