"""The `collective-action` command line. Subcommands live in collective_action.cli.commands.

:func:`run` is the console script and `python -m collective_action.cli.main`;
:func:`collective_action.cli.main.main` is the same command line without the process-wide
settings, for calling in-process (tests, notebooks).
"""

from __future__ import annotations

import gc
import sys

from ..gc_settings import defer_full_collections


def run() -> None:
    """Run the CLI as a process: fewer full collections during start-up
    (:mod:`collective_action.gc_settings`) and none at exit.

    The exit freeze comes after main() has returned, when every result is written and every file
    closed: it only spares the interpreter a last walk over the heap before the operating system
    frees the process's memory.
    """
    defer_full_collections()
    from .main import main

    code = main()
    gc.freeze()  # the interpreter still flushes stdout and stderr at exit, as it always does
    sys.exit(code)
