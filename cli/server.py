"""`corridor serve`, `corridor keys ...` and `corridor feedback export`: typer commands for cli/commands.py
to mount. Light at import time: FastAPI, SQLAlchemy and the core load inside the commands."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from cli import common
from cli.common import EXIT_ERROR, handles_errors

keys_app = typer.Typer(help="Create, list and revoke API keys (stored hashed; a secret is shown once).",
                       no_args_is_help=True)


@handles_errors
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind (0.0.0.0 for all).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    log_level: Annotated[str, typer.Option(help="Log level: debug, info, warning, error.")] = "info",
    workers: Annotated[int, typer.Option(help="Server processes on the port, each with its own socket (the kernel "
                                              "spreads connections over them); they share the serving "
                                              "snapshot's memory-mapped arrays.", min=1)] = 1,
) -> None:
    """Run the HTTP API (OpenAPI docs at /docs); loads the index and the model before accepting requests."""
    import logging

    import uvicorn

    from cli.environment import settings_from_environment

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = settings_from_environment()
    if workers > 1:  # each worker process builds its app from the settings (the snapshot is mapped, not copied)
        from api.workers import WorkersError, serve_workers

        try:
            serve_workers(host, port, workers, log_level.lower(), settings)
        except WorkersError as exc:
            common.err.print(f"[red]error:[/red] {exc}", highlight=False)
            raise typer.Exit(EXIT_ERROR) from None
        return
    from api.app import create_app

    uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level.lower(), workers=1)


@keys_app.command("create")
@handles_errors
def keys_create(
    scope: Annotated[str, typer.Option(help="read (GET and computing POSTs), write (also stores data it then "
                                            "owns) or admin (also changes catalogue organisations, reverts).")],
    name: Annotated[str | None, typer.Option(help="A label: who or what uses the key.")] = None,
) -> None:
    """Create an API key and print its secret (only now: it is stored as a sha256 hash)."""
    if scope not in ("read", "write", "admin"):
        typer.echo(f"error: --scope must be read, write or admin, got {scope!r}", err=True)
        raise typer.Exit(EXIT_ERROR)
    with common.open_corridor() as corridor:
        key, secret = corridor.create_key(scope, name)
    typer.echo(f"created API key {key.id} (scope {key.scope}{', ' + name if name else ''}); secret, shown once:",
               err=True)
    sys.stdout.write(secret + "\n")


@keys_app.command("list")
@handles_errors
def keys_list() -> None:
    """Every key: id, scope, name, secret prefix, created, revoked."""
    with common.open_corridor() as corridor:
        keys = corridor.keys()
    for key in keys:
        state = "revoked" if key.revoked else "active"
        typer.echo(f"{key.id}\t{key.scope}\t{state}\t{key.prefix}...\t{key.created_at:%Y-%m-%d %H:%M}\t"
                   f"{key.name or ''}")


@keys_app.command("revoke")
@handles_errors
def keys_revoke(key_id: Annotated[int, typer.Argument(help="Key id (see `corridor keys list`).")]) -> None:
    """Revoke a key: requests with it get 401 from now on."""
    with common.open_corridor() as corridor:
        revoked = corridor.revoke_key(key_id)
    if not revoked:
        typer.echo(f"error: no API key with id {key_id}", err=True)
        raise typer.Exit(EXIT_ERROR)
    typer.echo(f"revoked API key {key_id}")


feedback_app = typer.Typer(help="Feedback on recommendations collected by the API.", no_args_is_help=True)


@feedback_app.command("export")
@handles_errors
def feedback_export(
    out: Annotated[Path, typer.Option("--out", help="File to write: .csv or .parquet.")],
) -> None:
    """Write every feedback record (the retraining input): query org or text hash, candidate, verdict, model."""
    import pandas as pd

    from recommender.csvout import write_csv

    with common.open_corridor() as corridor:
        frame = pd.DataFrame(corridor.feedback_records(), columns=FEEDBACK_COLUMNS)
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
