"""Run the CLI with the test-only `toy` pillar registered (used as a subprocess by the tests)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from collective_action import experiment as _experiment  # noqa: E402

_experiment.PILLAR_MODULES["toy"] = "toy_pillar"
import toy_pillar  # noqa: E402,F401  (registers the pillar)

from collective_action.cli.main import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
