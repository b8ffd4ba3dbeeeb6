"""The `corridor` command line: a thin typer adapter over the core.

Exit codes: 0 success; 1 the command ran but some input rows were rejected; 2 a Corridor error (bad
input file, missing catalogue, unknown id ...), printed as one line on stderr.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from recommender import __version__
from recommender.catalogue import (
    add_organisations,
    build_catalogue,
    catalogue_stats,
    load_catalogue,
    load_curated,
    save_catalogue,
)
from recommender.catalogue.build import SOURCE_FILES
from recommender.errors import CorridorError
from recommender.settings import Settings, get_settings

EXIT_REJECTED_ROWS = 1
EXIT_ERROR = 2

app = typer.Typer(
    help="Corridor: European-Korean defence and dual-use partnership recommender.",
    no_args_is_help=True,
    add_completion=False,
)
data_app = typer.Typer(help="Build, inspect and extend the organisation catalogue.", no_args_is_help=True)
app.add_typer(data_app, name="data")

out = Console()
err = Console(stderr=True)


def handles_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Map the core's exceptions to a one-line message and exit code 2."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except CorridorError as exc:
            err.print(f"[red]error:[/red] {exc}", highlight=False)
            raise typer.Exit(EXIT_ERROR) from None

    return wrapper


def _priority_ids(settings: Settings) -> frozenset[str] | None:
    if not settings.taxonomy_file.exists():
        return None
    import yaml

    data = yaml.safe_load(settings.taxonomy_file.read_text(encoding="utf-8"))
    return frozenset(p["id"] for p in data.get("priorities", []))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@data_app.command("build")
@handles_errors
def data_build(
    source: Annotated[Path, typer.Option(help="Folder with the public source files (see data/README).")],
    out_dir: Annotated[Path | None, typer.Option("--out", help="Catalogue folder (default: the settings').")] = None,
) -> None:
    """Build the normalised catalogue from the CORDIS / Funding & Tenders source files."""
    settings = get_settings()
    target = out_dir or settings.catalogue_dir
    curated = load_curated(settings.curated_file, _priority_ids(settings))
    with out.status("building catalogue from sources"):
        catalogue = build_catalogue(source, curated.organisations)
    manifest = {
        "corridor_version": __version__,
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "sources": {name: _sha256(source / name) for name in SOURCE_FILES.values()},
        "curated_file": {"sha256": _sha256(settings.curated_file), "review_date": curated.meta.get("review_date")},
        "counts": {name: len(getattr(catalogue, name)) for name in ("organisations", "projects", "participations")},
    }
    save_catalogue(catalogue, target, manifest)
    out.print(f"catalogue written to {target}: " + ", ".join(f"{v:,} {k}" for k, v in manifest["counts"].items()))


def _print_stats(stats: dict) -> None:
    out.print(
        f"[bold]Corridor catalogue[/bold]: {stats['organisations']:,} organisations "
        f"({stats['named_organisations']:,} named), {stats['projects']:,} projects, "
        f"{stats['participations']:,} participations; {stats['korean_organisations']} Korean organisations; "
        f"curated: {stats['curated_by_region'].get('KR', 0)} Korean, "
        f"{stats['curated_eu27_and_norway']} EU27 and Norway"
    )
    for key, title in (
        ("by_region", "region"),
        ("by_activity_type", "activity type"),
        ("by_source", "source"),
        ("curated_by_region", "curated entries by region"),
        ("projects_by_programme", "projects by programme"),
    ):
        table = Table(title=f"Organisations by {title}" if key.startswith("by_") else title.capitalize())
        table.add_column(title)
        table.add_column("count", justify="right")
        for name, count in stats[key].items():
            table.add_row(name, f"{count:,}")
        out.print(table)


@data_app.command("stats")
@handles_errors
def data_stats(json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Counts of organisations by region, activity type and source."""
    settings = get_settings()
    stats = catalogue_stats(load_catalogue(settings.catalogue_dir, settings.user_organisations_file))
    if json_out:
        sys.stdout.write(json.dumps(stats, indent=2) + "\n")
    else:
        _print_stats(stats)


@data_app.command("add")
@handles_errors
def data_add(file: Annotated[Path, typer.Option("--file", help="CSV or JSON file of organisations.")]) -> None:
    """Validate and store user-provided organisations; every rejected row is reported."""
    settings = get_settings()
    report = add_organisations(file, settings.user_organisations_file, _priority_ids(settings))
    out.print(
        f"added {len(report.added)}, updated {len(report.updated)}, unchanged {len(report.unchanged)}, "
        f"rejected {len(report.rejected)} (store: {settings.user_organisations_file})"
    )
    if report.ignored_columns:
        err.print(f"[yellow]warning:[/yellow] ignored unknown columns: {', '.join(report.ignored_columns)}")
    for problem in report.rejected:
        err.print(f"[red]rejected[/red] {problem}", highlight=False)
    if not report.ok:
        raise typer.Exit(EXIT_REJECTED_ROWS)


def main() -> None:  # pragma: no cover - console-script entry point
    app()
