"""The command-line adapter (`corridor ...`): typer commands whose bodies are one call into the core, with the
core's exceptions turned into one-line errors and exit codes here and only here."""

from cli.commands import app, main

__all__ = ["app", "main"]
