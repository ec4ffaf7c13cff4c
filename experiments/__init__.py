"""Named experiment files (YAML), shipped with the package as collective_action.experiments.

Files are named after the claim they serve (c1_*.yaml ... c5_*.yaml) so that
``collective-action reproduce C1`` can find them.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def experiment_dir() -> Path:
    """The folder holding the shipped experiment files."""
    return Path(str(resources.files(__name__)))


def experiment_files(claim: str | None = None) -> list[Path]:
    """Shipped experiment files, all or those of one claim ('C1' ... 'C7'), sorted by name."""
    files = sorted(experiment_dir().glob("*.yaml"))
    if claim is None:
        return files
    prefix = claim.lower() + "_"
    return [f for f in files if f.name.lower().startswith(prefix)]
