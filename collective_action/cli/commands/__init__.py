"""One module per subcommand (or subcommand group).

Each module defines ``register(app: typer.Typer) -> None``; :mod:`collective_action.cli.main`
discovers every module here, so adding a command never means editing a shared list.
"""
