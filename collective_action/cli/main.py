"""Entry point of the `collective-action` command.

Bad input never shows a traceback: InputError, pydantic validation errors and click usage
errors become one line on stderr and exit code 2.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import typer
from pydantic import ValidationError

from .. import __version__
from ..errors import InputError
from ..experiment import format_validation_error
from . import commands

try:  # typer >= 0.17 vendors click as typer._click; older typer uses click itself
    from typer._click import exceptions as _clickx
except ImportError:  # pragma: no cover
    import click.exceptions as _clickx

app = typer.Typer(
    name="collective-action",
    help=(
        "Algorithmic collective action against real learning algorithms: theory bounds, "
        "batched simulation, real SGD/DRO training, sweeps and figures."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version_callback(value: bool):
    if value:
        typer.echo(f"collective-action {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version and exit."
    ),
):
    """Study how a collective controlling a fraction alpha of the training data steers a learner."""


def _register_commands() -> None:
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(app)


_register_commands()


def _fail(message: str) -> int:
    sys.stderr.write("error: " + " ".join(str(message).split()) + "\n")
    return 2


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 2 bad input, 1 unexpected failure)."""
    command = typer.main.get_command(app)
    try:
        result = command.main(args=argv, prog_name="collective-action", standalone_mode=False)
    except _clickx.NoArgsIsHelpError as err:  # pragma: no cover - click >= 8.2
        typer.echo(err.ctx.get_help() if err.ctx else "")
        return 0
    except typer.Exit as err:
        return err.exit_code
    except typer.Abort:
        return _fail("aborted")
    except _clickx.UsageError as err:
        return _fail(err.format_message())
    except _clickx.ClickException as err:
        return _fail(err.format_message())
    except InputError as err:
        return _fail(str(err))
    except ValidationError as err:
        return _fail(format_validation_error(err))
    return result if isinstance(result, int) else 0


if __name__ == "__main__":  # pragma: no cover - `python -m` runs as the console script does
    from . import run

    run()
