"""What every command shares: the application object, and where the core's exceptions become one line on
stderr and an exit code, never a traceback.

Exit codes: 0 success; 1 the command ran but some input rows were rejected; 2 a Corridor error (bad input
file, missing catalogue, unknown id, unavailable database ...).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

import typer
from rich.console import Console

EXIT_REJECTED_ROWS = 1
EXIT_ERROR = 2

err = Console(stderr=True)


def handles_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Map the core's exceptions to a one-line message and exit code 2."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from recommender.errors import CorridorError

        try:
            return func(*args, **kwargs)
        except CorridorError as exc:
            err.print(f"[red]error:[/red] {exc}", highlight=False)
            raise typer.Exit(EXIT_ERROR) from None

    return wrapper


def open_corridor():
    """The application object of the settings, for one command (use it in a ``with`` block: it closes the
    database); nothing heavy loads until a command asks for it."""
    from cli.environment import settings_from_environment
    from recommender.service import open_corridor as open_settings_corridor

    return open_settings_corridor(settings_from_environment())
