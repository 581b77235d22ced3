"""Subcommands of the `preanalysis` CLI (see preanalysis.cli.COMMANDS)."""
