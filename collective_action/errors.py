"""The one exception type for bad user input.

Everything a user can get wrong (a value out of range, an unknown name, a malformed experiment
file) raises :class:`InputError` with a message that fits on one line and names the problem.
The CLI turns it into exit code 2 and that line on stderr; Python users get a ValueError.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad input from the user: a one-line message, no traceback in the CLI."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


def run_script(main) -> None:
    """Run a script's ``main()`` the way the CLI runs a command: an InputError becomes one line
    on stderr and exit code 2 instead of a traceback (used by benchmarks/*.py)."""
    import sys

    try:
        main()
    except InputError as err:
        sys.stderr.write(f"error: {err}\n")
        sys.exit(2)


def check_open_unit(name: str, value: float) -> float:
    """Return ``value`` if it lies in the open interval (0, 1), else raise InputError."""
    v = float(value)
    if not (0.0 < v < 1.0):
        raise InputError(f"{name} must lie in (0, 1), got {value!r}")
    return v


def check_closed_unit(name: str, value: float) -> float:
    """Return ``value`` if it lies in [0, 1], else raise InputError."""
    v = float(value)
    if not (0.0 <= v <= 1.0):
        raise InputError(f"{name} must lie in [0, 1], got {value!r}")
    return v


def check_epsilon(value: float, name: str = "epsilon") -> float:
    """Suboptimality eps must lie in [0, 1): eps = 1 lets the learner ignore the data."""
    v = float(value)
    if not (0.0 <= v < 1.0):
        raise InputError(f"{name} must lie in [0, 1), got {value!r}")
    return v


def check_positive_whole(name: str, value) -> int:
    """Return ``value`` as an int if it is a whole number >= 1 (not a bool), else raise InputError."""
    try:
        ok = not isinstance(value, bool) and int(value) == value and value >= 1
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise InputError(f"{name} must be a positive whole number, got {value!r}")
    return int(value)


def check_choice(name: str, value: str, choices) -> str:
    """Return ``value`` if it is one of ``choices``, else raise InputError listing them."""
    if value not in choices:
        raise InputError(f"unknown {name} {value!r}; choose one of: {', '.join(sorted(choices))}")
    return value


def check_choices(name: str, values, choices, strip: str = "") -> tuple[str, ...]:
    """``values`` lower-cased (and stripped of leading ``strip`` characters), each once, in the order
    given; InputError for one not in ``choices`` (listed in their order) or for none at all."""
    out: list[str] = []
    for value in values:
        key = str(value).strip().lower().lstrip(strip)
        if key not in choices:
            raise InputError(f"unknown {name} {value!r}; choose one of: {', '.join(choices)}")
        if key not in out:
            out.append(key)
    if not out:
        raise InputError(f"no {name} given; choose from: {', '.join(choices)}")
    return tuple(out)
