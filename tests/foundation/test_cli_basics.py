"""The CLI front door: help, version, one-line errors with exit code 2."""

import subprocess
import sys

from collective_action import __version__


def test_version_and_help(cli):
    res = cli("--version")
    assert res.exit_code == 0 and __version__ in res.stdout
    res = cli("--help")
    assert res.exit_code == 0 and "collective" in res.stdout.lower()


def test_unknown_command_is_one_line_exit_2(cli):
    res = cli("no-such-command")
    assert res.exit_code == 2
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("error:")


def test_console_script_exit_code_is_propagated(tmp_path):
    # cwd outside the source tree so that the installed package is the one imported
    proc = subprocess.run(
        [sys.executable, "-m", "collective_action.cli.main", "no-such-command"],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and proc.stderr.strip().count("\n") == 0
