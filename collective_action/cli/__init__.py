"""The `collective-action` command line. Subcommands live in collective_action.cli.commands."""
