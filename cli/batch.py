"""The batch jobs on the command line: the `corridor report` command, rich progress bars, and engine
selection (RAY_ADDRESS comes from the Settings object); mounted by cli/commands.py."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from cli import common
from cli.common import EXIT_REJECTED_ROWS, err

if TYPE_CHECKING:  # the core loads inside the commands, not at CLI start-up
    from recommender.batch.engines import Engine
    from recommender.batch.progress import Advance
    from recommender.batch.report import PairingReport

out = Console()


class RichProgress:
    """A rich progress bar per long step (on stderr, so stdout stays clean for pipes)."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or err

    @contextmanager
    def step(self, description: str, total: int | None = None) -> Iterator[Advance]:
        columns = (
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=self.console) as bar:
            task = bar.add_task(description, total=total)

            def advance(n: int = 1) -> None:
                bar.advance(task, n)

            yield advance


def ray_address() -> str | None:
    """The Ray cluster to join (Settings: RAY_ADDRESS or CORRIDOR_RAY_ADDRESS), or None for a private local Ray."""
    from cli.environment import settings_from_environment

    return settings_from_environment().ray_address or None


def open_engine(name: str, workers: int | None = None) -> Engine:
    """The engine for ``--engine``/``--workers`` (use as a context manager: it owns its workers)."""
    from recommender.batch.engines import make_engine

    return make_engine(name, workers=workers, address=ray_address() if name == "ray" else None)


def report_command(
    priority: Annotated[
        str, typer.Option("--priority", help="Technology priority: id, label or synonym (unmanned, drones, UAV ...).")
    ],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the tables, summary.json and report.html.")],
    instrument: Annotated[
        str | None, typer.Option(help="Instrument id: European organisations ineligible under it are left out.")
    ] = None,
    orgs: Annotated[
        Path | None, typer.Option("--orgs", help="CSV with an org_id column: only pairs among these organisations.")
    ] = None,
    engine: Annotated[
        str, typer.Option(help="local (process pool) or ray (local Ray; RAY_ADDRESS joins a cluster).")
    ] = "local",
    workers: Annotated[int | None, typer.Option(help="Worker processes or local Ray CPUs (default: all).")] = None,
    top: Annotated[int, typer.Option(help="Pairings written (the best ones).")] = 1000,
    explain: Annotated[int, typer.Option(help="Pairings explained (the best ones; explanations are costly).")] = 200,
    per_org: Annotated[int, typer.Option(help="Best European partners listed per Korean organisation.")] = 3,
    keep_ineligible: Annotated[
        bool, typer.Option(help="With --instrument: keep ineligible European organisations (flagged).")
    ] = False,
    include_known: Annotated[
        bool, typer.Option("--include-known", help="Also pair organisations that have already worked together.")
    ] = False,
    spread: Annotated[
        float,
        typer.Option(help="Largest share of the Korean organisations one European organisation is proposed to "
                     "in the map (1 = no limit)."),
    ] = 0.2,
    kind: Annotated[
        str | None,
        typer.Option(help="Kind of organisation: company, research, university, public or any (default: every kind "
                     "except bodies that fund or administer research)."),
    ] = None,
    scoring: Annotated[
        str,
        typer.Option(help="two-stage (a fast first stage over every pair, the model re-ranks each Korean "
                     "organisation's best), exhaustive (the model scores every pair: audits) or auto (two-stage "
                     "above 2 million pairs)."),
    ] = "auto",
) -> None:
    """Score every Korean x European pairing for a priority: ranked pairings with explanations and
    eligibility per instrument (Parquet, CSV) and a self-contained HTML report."""
    from recommender.batch.report import ReportRequest

    request = ReportRequest(
        priority=priority,
        instrument=instrument,
        keep_ineligible=keep_ineligible,
        include_known=include_known,
        kind=None if kind is None else kind.strip().lower(),
        spread=spread,
        top=top,
        explain=explain,
        per_org=per_org,
        scoring=scoring.strip().lower(),
    )
    with common.open_corridor() as corridor, open_engine(engine, workers) as runner:
        report, written, rejected = corridor.pairing_report(request, out_dir, orgs, runner, RichProgress())
    print_written(report, written)
    for problem in rejected:
        err.print(f"[red]rejected[/red] {problem}", highlight=False)
    if rejected:
        raise typer.Exit(EXIT_REJECTED_ROWS)


def scoring_line(scoring: dict) -> str:
    if scoring["mode"] == "exhaustive":
        return "the model scored every pair"
    return (f"two stages: the model re-ranked the best {scoring['reranked_per_korean']:,} of each Korean "
            f"organisation ({scoring['model_pairs']:,} pairs), a first stage estimated the rest")


def print_written(report: PairingReport, written: dict[str, Path]) -> None:
    meta = report.meta
    out.print(
        f"scored {meta['pairs_scored']:,} pairs ({meta['korean_organisations']:,} Korean x "
        f"{meta['european_organisations']:,} European organisations) for {meta['priority']} on {meta['engine']} "
        f"in {meta['scoring_seconds']:.1f} s ({meta['pairs_per_second']:,} pairs/s); {scoring_line(meta['scoring'])}",
        highlight=False,
    )
    left = meta.get("left_out", {})
    out.print(
        f"left out: {left.get('funding_bodies', 0):,} funding or programme bodies (--kind public or any keeps them), "
        f"{left.get('korean_without_priority_evidence', 0):,} Korean organisations without evidence of the priority, "
        f"known-partner pairs {left.get('known_partner_pairs', 'left out')} (--include-known keeps them); European "
        "partners need evidence of the priority in their own projects or description",
        highlight=False,
    )
    contents = {
        "pairings": f"{len(report.pairings):,} best pairings ({meta['pairings_explained']} explained), "
        "eligibility per instrument",
        "korean_organisations": f"{len(report.korean):,} Korean organisations with their best partners",
        "european_organisations": f"{len(report.european):,} European organisations with their best Korean match",
        "countries": f"{len(report.countries):,} European countries",
        "priorities": f"{len(report.priorities):,} priorities: each side's strength",
        "score_histogram": "distribution of all pair scores",
        "report": "self-contained HTML report (open in a browser)",
        "summary": "parameters, counts and timings",
    }
    table = Table(title=f"Written to {next(iter(written.values())).parent}")
    for col in ("file", "contents", "size"):
        table.add_column(col)
    for name, path in written.items():
        size = path.stat().st_size
        table.add_row(path.name, contents.get(name.rsplit(".", 1)[0], ""), f"{size / 1024:,.0f} KiB")
    out.print(table)
