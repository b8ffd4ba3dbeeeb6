"""`corridor serve` and `corridor keys ...`: typer commands for cli/commands.py to mount.

Kept light at import time (FastAPI, SQLAlchemy and the core load inside the commands), so mounting them
does not slow down the other CLI commands.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

EXIT_ERROR = 2

keys_app = typer.Typer(help="Create, list and revoke API keys (stored hashed; a secret is shown once).",
                       no_args_is_help=True)


def serve(
    host: Annotated[str, typer.Option(help="Interface to bind (0.0.0.0 for all).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    log_level: Annotated[str, typer.Option(help="Log level: debug, info, warning, error.")] = "info",
) -> None:
    """Run the HTTP API (OpenAPI docs at /docs); loads the index and the model before accepting requests."""
    import logging

    import uvicorn

    from api.app import create_app
    from recommender.errors import CorridorError

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        app = create_app()
    except CorridorError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_ERROR) from None
    uvicorn.run(app, host=host, port=port, log_level=log_level.lower(), workers=1)


def _one_line_errors(func):
    """The core's errors (an unavailable database ...) as one line on stderr and exit code 2."""
    import functools

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from recommender.errors import CorridorError

        try:
            return func(*args, **kwargs)
        except CorridorError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(EXIT_ERROR) from None

    return wrapper


def _store():
    from recommender.settings import get_settings
    from recommender.store import Store

    settings = get_settings()
    return Store(settings.database_url, settings.database_busy_seconds)


@keys_app.command("create")
@_one_line_errors
def keys_create(
    scope: Annotated[str, typer.Option(help="read (GET and computing POSTs), write (also stores data it then "
                                            "owns) or admin (also changes catalogue organisations, reverts).")],
    name: Annotated[str | None, typer.Option(help="A label: who or what uses the key.")] = None,
) -> None:
    """Create an API key and print its secret (only now: it is stored as a sha256 hash)."""
    if scope not in ("read", "write", "admin"):
        typer.echo(f"error: --scope must be read, write or admin, got {scope!r}", err=True)
        raise typer.Exit(EXIT_ERROR)
    store = _store()
    try:
        key, secret = store.create_key(scope, name)
    finally:
        store.close()
    typer.echo(f"created API key {key.id} (scope {key.scope}{', ' + name if name else ''}); secret, shown once:",
               err=True)
    sys.stdout.write(secret + "\n")


@keys_app.command("list")
@_one_line_errors
def keys_list() -> None:
    """Every key: id, scope, name, secret prefix, created, revoked."""
    store = _store()
    try:
        for key in store.keys():
            state = "revoked" if key.revoked else "active"
            typer.echo(f"{key.id}\t{key.scope}\t{state}\t{key.prefix}...\t{key.created_at:%Y-%m-%d %H:%M}\t"
                       f"{key.name or ''}")
    finally:
        store.close()


@keys_app.command("revoke")
@_one_line_errors
def keys_revoke(key_id: Annotated[int, typer.Argument(help="Key id (see `corridor keys list`).")]) -> None:
    """Revoke a key: requests with it get 401 from now on."""
    store = _store()
    try:
        if not store.revoke_key(key_id):
            typer.echo(f"error: no API key with id {key_id}", err=True)
            raise typer.Exit(EXIT_ERROR)
    finally:
        store.close()
    typer.echo(f"revoked API key {key_id}")


feedback_app = typer.Typer(help="Feedback on recommendations collected by the API.", no_args_is_help=True)


@feedback_app.command("export")
@_one_line_errors
def feedback_export(
    out: Annotated[Path, typer.Option("--out", help="File to write: .csv or .parquet.")],
) -> None:
    """Write every feedback record (the retraining input): query org or text hash, candidate, verdict, model."""
    import pandas as pd

    from recommender.csvout import write_csv

    store = _store()
    try:
        frame = pd.DataFrame(store.feedback(), columns=FEEDBACK_COLUMNS)
    finally:
        store.close()
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        typer.echo(f"error: --out must end in .csv or .parquet, got {out.name}", err=True)
        raise typer.Exit(EXIT_ERROR)
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        write_csv(frame, out)
    else:
        frame.to_parquet(out, index=False)
    typer.echo(f"{len(frame)} feedback records -> {out}")


FEEDBACK_COLUMNS = [
    "id", "created_at", "query_org_id", "query_text_sha256", "candidate_org_id", "verdict", "comment",
    "model_version", "api_key_id",
]

# `python -m api serve|keys|feedback ...` runs the same commands before they are mounted in `corridor`.
cli = typer.Typer(help="Corridor HTTP API.", no_args_is_help=True, add_completion=False)
cli.command("serve")(serve)
cli.add_typer(keys_app, name="keys")
cli.add_typer(feedback_app, name="feedback")
