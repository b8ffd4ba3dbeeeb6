"""The `corridor` command line: a thin typer adapter over the core.

Exit codes: 0 success; 1 the command ran but some input rows were rejected; 2 a Corridor error (bad
input file, missing catalogue, unknown id ...), printed as one line on stderr.
"""

from __future__ import annotations

import hashlib
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from cli import common
from cli.common import EXIT_REJECTED_ROWS, err, handles_errors
from recommender import __version__

if TYPE_CHECKING:  # the core loads inside the commands: `corridor --help` imports none of it
    from recommender.settings import Settings
    from recommender.workspace import Workspace

PRIORITY_HELP = "Technology priority: id, label or synonym (unmanned, drones, UAV ...; data/taxonomy/priorities.yaml)."

app = typer.Typer(
    help="Corridor: European-Korean defence and dual-use partnership recommender.",
    no_args_is_help=True,
    add_completion=False,
)
data_app = typer.Typer(help="Build, inspect and extend the organisation catalogue.", no_args_is_help=True)
app.add_typer(data_app, name="data")
tagger_app = typer.Typer(help="Train and evaluate the technology-priority tagger.", no_args_is_help=True)
app.add_typer(tagger_app, name="tagger")

# The server's commands (FastAPI and SQLAlchemy load inside them, not at CLI start-up).
from cli.server import feedback_app, keys_app, serve  # noqa: E402

app.command("serve")(serve)
app.add_typer(keys_app, name="keys")
app.add_typer(feedback_app, name="feedback")

out = Console()


def _priority_ids(settings: Settings) -> frozenset[str] | None:
    if not settings.taxonomy_file.exists():
        return None
    import yaml

    data = yaml.safe_load(settings.taxonomy_file.read_text(encoding="utf-8"))
    return frozenset(p["id"] for p in data.get("priorities", []))


def get_settings() -> Settings:
    from cli.environment import settings_from_environment

    return settings_from_environment()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@data_app.command("build")
@handles_errors
def data_build(
    source: Annotated[Path, typer.Option(help="Folder with the public source files (see data/README).")],
    out_dir: Annotated[Path | None, typer.Option("--out", help="Catalogue folder (default: the settings').")] = None,
) -> None:
    """Build the normalised catalogue from the CORDIS / Funding & Tenders source files."""
    from recommender.catalogue import build_catalogue, load_curated, save_catalogue
    from recommender.catalogue.build import SOURCE_FILES

    settings = get_settings()
    target = out_dir or settings.catalogue_dir
    curated = load_curated(settings.curated_file, _priority_ids(settings))
    with out.status("building catalogue from sources"):
        catalogue = build_catalogue(source, curated.organisations)
    manifest: dict[str, Any] = {
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


@data_app.command("refresh")
@handles_errors
def data_refresh(
    releases: Annotated[list[Path], typer.Option("--from", help="A release: a CORDIS export zip or folder "
                                                             "(Horizon Europe, Horizon 2020) or EDF results "
                                                             "(edf-projects.csv, edf-participants.csv). Repeat "
                                                             "for several.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Merge public releases into a new catalogue version (the previous one stays, for rollback)."""
    from recommender.catalogue.refresh import refresh_catalogue

    versions = _workspace().catalogue_versions
    with out.status("reading and merging the releases"):
        result = refresh_catalogue(versions, releases)
    if json_out:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2) + "\n")
        return
    counts = result.diff.counts
    summary = ", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in counts.items() if k != "participations_after")
    if not result.created:
        out.print(f"nothing changed: catalogue version {result.version} stays current ({summary})")
        return
    out.print(f"catalogue version {result.version} is current (previous: {result.parent}): {summary}")
    out.print(f"changes: {versions.directory(result.version) / 'changes.md'}; "
              "run `corridor embed` (only new texts are encoded) and `corridor train`, or `corridor retrain`")


@data_app.command("versions")
@handles_errors
def data_versions(json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """The catalogue versions written by refreshes, oldest first, and which is current."""
    versions = _workspace().catalogue_versions
    rows = versions.list()
    if json_out:
        sys.stdout.write(json.dumps({"current": versions.current_name(), "versions": rows}, indent=2) + "\n")
        return
    table = Table(title=f"Catalogue versions (current: {versions.current_name()})")
    for column in ("version", "parent", "created", "new projects", "new organisations", ""):
        table.add_column(column)
    for row in rows:
        counts = row.get("counts", {})
        table.add_row(row["version"], str(row.get("parent")), str(row.get("created")),
                      f"{counts.get('new_projects', 0):,}", f"{counts.get('new_organisations', 0):,}",
                      "current" if row["current"] else "")
    out.print(table)


@data_app.command("rollback")
@handles_errors
def data_rollback(
    version: Annotated[str | None, typer.Argument(help="Version to make current (default: the current one's "
                                                       "parent; 'shipped' for the shipped catalogue).")] = None,
) -> None:
    """Make an earlier catalogue version current again (nothing is deleted)."""
    name = _workspace().catalogue_versions.rollback(version)
    out.print(f"catalogue version {name} is current; restart or reload servers to serve it")


@data_app.command("stats")
@handles_errors
def data_stats(json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Counts of organisations by region, activity type and source."""
    from recommender.catalogue import catalogue_stats

    stats = catalogue_stats(_workspace().catalogue)
    if json_out:
        sys.stdout.write(json.dumps(stats, indent=2) + "\n")
    else:
        _print_stats(stats)


@data_app.command("changes")
@handles_errors
def data_changes(
    org: Annotated[str | None, typer.Option("--org", help="Only this organisation's changes.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The audit trail of organisations users added or changed (CLI and API alike), oldest first."""
    with common.open_corridor() as corridor:
        changes = corridor.changes(org)
    if json_out:
        sys.stdout.write(json.dumps(changes, indent=2, default=str) + "\n")
        return
    for change in changes:
        name = (change["after"] or change["before"] or {}).get("name", "")
        sys.stdout.write(f"{change['id']}\t{change['at']:%Y-%m-%d %H:%M:%S}\t{change['action']}\t"
                         f"{change['org_id']}\t{change['actor']}\t{name}\n")


@data_app.command("revert")
@handles_errors
def data_revert(org_id: Annotated[str, typer.Argument(help="A catalogue organisation with an overlay.")]) -> None:
    """Remove the change stored over a catalogue organisation: the catalogue's record is used again."""
    with common.open_corridor() as corridor:
        removed = corridor.revert_organisation(org_id).removed
    out.print(f"reverted {org_id}: {removed['name']!r} removed, the catalogue's record is used again")


@data_app.command("add")
@handles_errors
def data_add(file: Annotated[Path, typer.Option("--file", help="CSV or JSON file of organisations.")]) -> None:
    """Validate and store user-provided organisations; every rejected row is reported."""
    with common.open_corridor() as corridor:
        report = corridor.add_organisations_file(file)
    out.print(
        f"added {len(report.added)}, updated {len(report.updated)}, unchanged {len(report.unchanged)}, "
        f"rejected {len(report.rejected)} (stored in the {corridor.store.backend} database, seen by the API too)"
    )
    if report.ignored_columns:
        err.print(f"[yellow]warning:[/yellow] ignored unknown columns: {', '.join(report.ignored_columns)}")
    for problem in report.rejected:
        err.print(f"[red]rejected[/red] {problem}", highlight=False)
    if not report.ok:
        raise typer.Exit(EXIT_REJECTED_ROWS)


def _workspace() -> Workspace:
    from recommender.workspace import Workspace

    return Workspace(get_settings().workspace_paths())


@app.command("embed")
@handles_errors
def embed(
    shipped: Annotated[bool, typer.Option("--shipped", help="Maintainers: store new vectors in the shipped "
                                                            "data/vectors folder instead of the user cache.")] = False,
) -> None:
    """Build or refresh the vectors of every project, organisation description and priority, and the serving
    snapshot (what servers and commands load instead of rebuilding)."""
    from recommender.workspace import Workspace

    ws = _workspace()
    if shipped:
        from dataclasses import replace

        ws = Workspace(replace(ws.paths, cache_dir=ws.paths.shipped_vectors_dir))
    encoder = ws.encoder
    profiles = ws.build_profiles(show_progress=True)
    out.print(
        f"profiles: {len(profiles.project_ids):,} projects ({int(profiles.project_truncated.sum()):,} clipped to the "
        f"encoder budget), {int(profiles.org_has_profile.sum()):,} organisations with a profile; "
        f"{getattr(encoder, 'encoded_count', 0):,} texts newly encoded"
    )
    out.print(
        f"encoder: {getattr(encoder, 'model_name', '?')} (fingerprint {encoder.fingerprint}); "
        f"cache: {ws.paths.cache_dir}; tagger: {ws.tagger_status}"
    )
    if not shipped:
        ws.serving_index()
        out.print(f"serving snapshot: {ws.serving_snapshot_folder() or 'not saved (see the log)'}")
        _print_prepared_heads()
    unwritten = getattr(getattr(encoder, "cache", None), "write_errors", 0)
    if unwritten:
        err.print(f"[yellow]warning:[/yellow] {unwritten} batches of new vectors could not be written to "
                  f"{ws.paths.cache_dir} (see the log); they will be encoded again next time")


def _print_prepared_heads() -> None:
    """Prepare the served model's ranking heads for the next commands and servers, or say why not."""
    from recommender.artifacts import ModelIntegrityError

    try:
        with common.open_corridor() as corridor:
            prepared = corridor.prepare_heads()
    except ModelIntegrityError as exc:  # no model yet, or one that does not match: nothing to prepare
        out.print(f"ranking heads: not prepared ({exc})")
        return
    out.print(f"ranking heads of {prepared.model_version}: {prepared.compiled} of {prepared.heads} compiled to "
              f"native code, {prepared.tabled} explained from TreeSHAP tables (cache: {prepared.cache_dir})")


@app.command("profile")
@handles_errors
def profile(
    org_id: Annotated[str, typer.Argument(help="Organisation id (PIC or curated id).")],
    top: Annotated[int, typer.Option(help="Priorities to show.")] = 5,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """An organisation's capability profile: top priorities with evidence, characteristic projects."""
    with common.open_corridor() as corridor:
        view = corridor.profile(org_id, top)
    if json_out:
        sys.stdout.write(json.dumps(view, indent=2, default=str) + "\n")
        return
    org = view["organisation"]
    out.print(
        f"[bold]{org['name'] or 'PIC ' + org['id']}[/bold] ({org['id']}) {org['country']} "
        f"{org['region']} {org['activity_type'] or ''}; sources: {org['sources']}",
        highlight=False,
    )
    if org.get("description"):
        out.print(org["description"], highlight=False)
    out.print(f"profile from: {view['profile_basis']}")
    table = Table(title="Top priorities")
    for col in ("priority", "score", "terms", "projects that drove it"):
        table.add_column(col)
    for ev in view["priorities"]:
        table.add_row(
            ev["priority"] + (" (declared)" if ev["declared"] else ""),
            f"{ev['score']:.2f}",
            ", ".join(ev["terms"][:5]),
            "; ".join(f"{p['title'][:50]}" for p in ev["projects"]),
        )
    out.print(table)
    chars = Table(title="Most characteristic projects")
    for col in ("project", "programme", "year", "title", "similarity"):
        chars.add_column(col)
    for p in view["characteristic_projects"]:
        chars.add_row(p["id"], p["programme"], str(p["year"]), (p["title"] or "")[:70], f"{p['similarity']:.2f}")
    out.print(chars)


@app.command("priorities")
@handles_errors
def priorities(
    input_file: Annotated[Path, typer.Option("--input", help="CSV with columns id, text.")],
    out_file: Annotated[Path, typer.Option("--out", help="CSV to write: id, priority, score.")],
) -> None:
    """Score free texts against every technology priority (long format: one row per id and priority)."""
    from recommender.csvout import write_csv
    from recommender.profiles.views import priority_rows, read_text_rows

    rows, problems = read_text_rows(input_file)
    ws = _workspace()
    scores = ws.score_free_texts([text for _, _, text in rows])
    frame = priority_rows([rid for _, rid, _ in rows], scores, ws.taxonomy.ids)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    write_csv(frame, out_file)
    out.print(
        f"scored {len(rows)} texts x {len(ws.taxonomy.ids)} priorities -> {out_file} (tagger: {ws.tagger_status})"
    )
    for problem in problems:
        err.print(f"[red]rejected[/red] {problem}", highlight=False)
    if problems:
        raise typer.Exit(EXIT_REJECTED_ROWS)


@tagger_app.command("evaluate")
@handles_errors
def tagger_evaluate(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the report (Markdown and JSON).")] = Path(
        "reports"
    ),
    test_year: Annotated[int, typer.Option(help="Held-out year; training uses the years before.")] = 2023,
) -> None:
    """Evaluate priority tagging on a held-out year: term matching vs embedding similarity vs tagger."""
    from training.priority_tagger import evaluate_tagging, render_markdown, tagging_data

    ws = _workspace()
    data = tagging_data(ws.catalogue, ws.encoder, ws.taxonomy, show_progress=True)
    report = evaluate_tagging(data, ws.taxonomy, test_year)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "priority_tagging.json").write_text(json.dumps(report, indent=2) + "\n")
    markdown = render_markdown(report)
    (out_dir / "priority_tagging.md").write_text(markdown)
    out.print(markdown, highlight=False)
    out.print(f"written: {out_dir / 'priority_tagging.md'}, {out_dir / 'priority_tagging.json'}")


@tagger_app.command("select")
@handles_errors
def tagger_select(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the report (Markdown and JSON).")] = Path(
        "reports"
    ),
    test_year: Annotated[int, typer.Option(help="Held-out year: never read; CV uses the years before.")] = 2023,
    c: Annotated[list[float] | None, typer.Option("--c", help="Candidate C values (repeat the option).")] = None,
) -> None:
    """Choose the tagger's regularisation by topic-grouped CV inside the training years (slow: ~20 min)."""
    from training.priority_tagger import render_selection, select_regularisation, tagging_data

    ws = _workspace()
    data = tagging_data(ws.catalogue, ws.encoder, ws.taxonomy, show_progress=True)
    with out.status("cross-validating") as status:
        report = select_regularisation(data, test_year, tuple(c or (0.25, 1.0, 4.0)), progress=status.update)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "priority_tagger_selection.json").write_text(json.dumps(report, indent=2) + "\n")
    markdown = render_selection(report)
    (out_dir / "priority_tagger_selection.md").write_text(markdown)
    out.print(markdown, highlight=False)


@tagger_app.command("train")
@handles_errors
def tagger_train(
    out_dir: Annotated[Path | None, typer.Option("--out", help="Model folder (default: the settings').")] = None,
    test_year: Annotated[int, typer.Option(help="Held-out year for the recorded evaluation.")] = 2023,
) -> None:
    """Train the priority tagger on every labelled project and save it with its evaluation."""
    from training.priority_tagger import train_and_save_tagger

    ws = _workspace()
    target = out_dir or ws.paths.tagger_dir
    report = train_and_save_tagger(ws.catalogue, ws.encoder, ws.taxonomy, target, test_year, show_progress=True)
    macro = {m: round(v["macro_f1"], 3) for m, v in report["methods"].items()}
    out.print(f"tagger saved to {target}; held-out {test_year} macro-F1: {macro}")


def main() -> None:  # pragma: no cover - console-script entry point
    app()


# ---- eligibility (rules engine) ---------------------------------------------------------------------------


@app.command("eligibility")
@handles_errors
def eligibility(
    consortium: Annotated[Path | None, typer.Option("--consortium", help="Consortium JSON file.")] = None,
    instrument: Annotated[str | None, typer.Option(help="Instrument id (with --members).")] = None,
    members: Annotated[str | None, typer.Option(help="Comma-separated catalogue ids (with --instrument).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check a consortium against an instrument's rules: verdict, per-rule results, reasons, citations."""
    from recommender.eligibility import consortium_of, read_consortium_file

    if consortium is not None:
        data = read_consortium_file(consortium)
    elif instrument and members:
        data = consortium_of(instrument, [m.strip() for m in members.split(",") if m.strip()])
    else:
        raise typer.BadParameter("give --consortium FILE, or --instrument ID with --members ID1,ID2,...")
    with common.open_corridor() as corridor:
        verdict = corridor.check_consortium(data)
    if json_out:
        sys.stdout.write(json.dumps(verdict, indent=2, default=str) + "\n")
    else:
        _print_verdict(verdict)


def _print_verdict(verdict: dict) -> None:
    colour = {"ELIGIBLE": "green", "CONDITIONAL": "yellow", "INELIGIBLE": "red"}[verdict["verdict"]]
    out.print(
        f"[bold]{verdict['instrument']}[/bold]: [{colour}]{verdict['verdict']}[/{colour}]  "
        f"(rules {verdict['rules_version']}, valid as of {verdict['valid_as_of']})"
    )
    table = Table(title="Rules")
    for col in ("rule", "status", "reason", "citation", "conf."):
        table.add_column(col)
    for rule in verdict["rules"]:
        reason = rule["reason"] + (
            f"\nfix: {rule['fix_hint']}" if rule.get("fix_hint") and rule["status"] != "passed" else ""
        )
        table.add_row(rule["id"], rule["status"], reason, rule["citation"], rule["confidence"])
    out.print(table)
    members_table = Table(title="Members")
    for col in ("member", "country", "verdict", "reasons"):
        members_table.add_column(col)
    for m in verdict["members"]:
        label = m.get("name") or m.get("id") or "?"
        members_table.add_row(label, m.get("country", ""), m["verdict"], "; ".join(m.get("reasons", [])[:3]))
    out.print(members_table)


# ---- ranking ---------------------------------------------------------------------------------------------


@app.command("train")
@handles_errors
def train(
    out_dir: Annotated[Path | None, typer.Option("--out", help="Model folder to promote into.")] = None,
    train_year: Annotated[
        int, typer.Option(help="Newest label year of the shipped model (it trains on every year from 2022).")
    ] = 2023,
    eval_year: Annotated[int, typer.Option(help="Held-out year for evaluation.")] = 2023,
    force: Annotated[bool, typer.Option(help="Promote even if the gate fails.")] = False,
    cv: Annotated[
        int, typer.Option(help="Also cross-validate the shipped design inside the newest year (folds by project).")
    ] = 0,
) -> None:
    """Train the learned ranker on a temporal split, evaluate it with the baselines, promote if not worse."""
    from training.cli import run_training

    run_training(_workspace(), out_dir, train_year, eval_year, force, out, cv)


@app.command("retrain")
@handles_errors
def retrain(
    releases: Annotated[list[Path] | None, typer.Option("--from", help="New release files to refresh the catalogue "
                                                                    "with first (as `corridor data refresh`).")] = None,
    force: Annotated[bool, typer.Option(help="Train even if nothing changed, and promote even if the gate "
                                             "refuses.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")] = False,
    engine: Annotated[str, typer.Option(help="local (this machine's processes) or ray (Ray tasks: a local Ray, "
                                             "or the cluster of RAY_ADDRESS, as `corridor report`).")] = "local",
    workers: Annotated[int | None, typer.Option(help="Workers building the training groups (local default: 1, "
                                                     "this process; ray default: the cluster's CPUs).")] = None,
) -> None:
    """The whole loop: refresh, embed, retrain the tagger if its labels changed, train with feedback, evaluate,
    promote through the gate (servers hot-swap). Exit code 0 promoted, 3 kept, 2 failed; report in
    $CORRIDOR_STATE_DIR/retrain/<run>/report.md and report.html."""
    from training.retrain import run_retrain

    settings = get_settings()
    with common.open_corridor() as corridor:
        records = corridor.feedback_records()
    from cli.batch import open_engine

    with open_engine(engine, workers if workers is not None or engine == "ray" else 1) as chosen, \
            out.status("retraining") as status:
        result = run_retrain(settings.workspace_paths(), records, list(releases or []), settings.state_dir / "retrain",
                             progress=lambda msg: status.update(msg), force=force, engine=chosen)
    if json_out:
        sys.stdout.write(json.dumps({"status": result.status, "reason": result.reason,
                                     "model_version": result.model_version,
                                     "report": str(result.run_dir / "report.md")}, indent=2) + "\n")
    else:
        colour = {"promoted": "green", "kept": "yellow"}.get(result.status, "red")
        (out if result.status != "failed" else err).print(
            f"[{colour}]{result.status}[/{colour}]: {result.reason}", highlight=False)
        out.print(f"report: {result.run_dir / 'report.md'} and report.html")
    raise typer.Exit(result.exit_code)


@app.command("evaluate")
@handles_errors
def evaluate_cmd(
    model_dir: Annotated[Path | None, typer.Option("--model", help="Model folder (default: the promoted one).")] = None,
) -> None:
    """Re-run the evaluation of a saved model (all tasks, all baselines); write the report into its folder."""
    from training.cli import run_evaluation

    run_evaluation(_workspace(), model_dir, out)


KIND_HELP = (
    "Kind of partner: company, research, university, public or any. Default: every kind except bodies that "
    "fund or administer research (agencies, ministries, research councils), which 'public' and 'any' include."
)
INCLUDE_KNOWN_HELP = "Also rank organisations the query has already worked with (flagged, with the joint projects)."


def _query(org, text, region, instrument, priority, keep_ineligible, include_known, kind):
    """The ranking query of the command's options (checked before anything heavy loads: an unknown region or
    kind exits 2 naming the known ones)."""
    from recommender.ranking.index import Query

    return Query(org_id=org, text=text, region=region.upper(), instrument=instrument, priority=priority,
                 keep_ineligible=keep_ineligible, include_known=include_known,
                 kind=None if kind is None else kind.strip().lower())


LEFT_OUT_LABELS = {
    "known_partners": "known partners (use --include-known to rank them, flagged)",
    "funding_bodies": "funding or programme bodies (use --kind public or --kind any to see them)",
    "without_priority_evidence": "organisations with no evidence of the priority in their own projects or description",
}


def _print_recommendations(ranked, json_out: bool, title: str) -> None:
    if json_out:
        sys.stdout.write(json.dumps(ranked.to_dict(), indent=2, default=str) + "\n")
        return
    recs, left_out = ranked.results, ranked.left_out
    table = Table(title=title, show_lines=True)
    for col in ("#", "organisation", "country", "score", "eligibility", "why"):
        table.add_column(col)
    for r in recs:
        why = [f"+{c.value:.2f} {c.label}" for c in r.contributions]
        if r.relevant_projects:
            why.append("projects: " + "; ".join(p["title"][:45] for p in r.relevant_projects[:2]))
        if r.shared_partners:
            why.append("shared partners: " + ", ".join(p["name"][:30] for p in r.shared_partners[:3]))
        if r.priority_evidence:
            ev = r.priority_evidence
            shown = f"{ev['projects_in_priority']} own project(s) in {ev['priority']}"
            if ev["projects"]:
                shown += ": " + "; ".join(p["title"][:40] for p in ev["projects"][:2])
            if ev["declared"] and not ev["projects_in_priority"]:
                shown = f"declares {ev['priority']}" + ("" if ev["in_own_texts"] else " (not in its own texts)")
            why.append(shown)
        if r.known_partner:
            joint = "; ".join(f"{p['title'][:40]} ({p['year']})" for p in r.joint_projects[:2])
            why.append(f"KNOWN PARTNER: {r.prior_joint_projects} joint project(s): {joint}")
        elig = ""
        if r.eligibility:
            elig = r.eligibility.verdict
            if r.eligibility.verdict != "ELIGIBLE" and r.eligibility.reasons:
                elig += ": " + r.eligibility.reasons[0][:80]
        table.add_row(str(r.rank), f"{r.name} ({r.org_id})", r.country, f"{r.score:.3f}", elig, "\n".join(why))
    out.print(table)
    for key, n in left_out.items():
        if n:
            out.print(f"left out: {n:,} {LEFT_OUT_LABELS.get(key, key)}")


@app.command("recommend")
@handles_errors
def recommend(
    org: Annotated[str, typer.Option("--org", help="Organisation id (PIC or curated id).")],
    priority: Annotated[str | None, typer.Option(help=PRIORITY_HELP)] = None,
    instrument: Annotated[str | None, typer.Option(help="Instrument id: ineligible partners are left out.")] = None,
    region: Annotated[str, typer.Option(help="Side the partners come from: EU, KR or ANY.")] = "ANY",
    k: Annotated[int, typer.Option(help="How many partners.")] = 10,
    keep_ineligible: Annotated[bool, typer.Option(help="Keep ineligible partners, flagged.")] = False,
    include_known: Annotated[bool, typer.Option("--include-known", help=INCLUDE_KNOWN_HELP)] = False,
    kind: Annotated[str | None, typer.Option(help=KIND_HELP)] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Ranked partners for an organisation, with explanations and eligibility."""
    query = _query(org, None, region, instrument, priority, keep_ineligible, include_known, kind)
    with common.open_corridor() as corridor:
        _print_recommendations(corridor.recommend(query, k), json_out, f"Partners for {org}")


@app.command("match")
@handles_errors
def match(
    text: Annotated[str, typer.Option("--text", help="Project or call description.")],
    priority: Annotated[str | None, typer.Option(help=PRIORITY_HELP)] = None,
    instrument: Annotated[str | None, typer.Option(help="Instrument id: ineligible partners are left out.")] = None,
    region: Annotated[str, typer.Option(help="Side the partners come from: EU, KR or ANY.")] = "ANY",
    k: Annotated[int, typer.Option(help="How many partners.")] = 10,
    keep_ineligible: Annotated[bool, typer.Option(help="Keep ineligible partners, flagged.")] = False,
    include_known: Annotated[bool, typer.Option("--include-known", help=INCLUDE_KNOWN_HELP)] = False,
    kind: Annotated[str | None, typer.Option(help=KIND_HELP)] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Ranked partners for a free-text project or call description."""
    query = _query(None, text, region, instrument, priority, keep_ineligible, include_known, kind)
    with common.open_corridor() as corridor:
        _print_recommendations(corridor.recommend(query, k), json_out, "Partners for the text")


@app.command("rank")
@handles_errors
def rank(
    queries: Annotated[
        Path, typer.Option("--queries", help="CSV: query_id, org_id, text, region, instrument, priority.")
    ],
    k: Annotated[int, typer.Option(help="Results per query.")] = 10,
    out_file: Annotated[Path, typer.Option("--out", help="Output .csv or .parquet.")] = Path("rankings.csv"),
    engine: Annotated[
        str, typer.Option(help="local (process pool) or ray (local Ray; RAY_ADDRESS joins a cluster).")
    ] = "local",
    workers: Annotated[int | None, typer.Option(help="Worker processes or local Ray CPUs (default: all).")] = None,
) -> None:
    """Batch ranking of a query file (the contract of reports and outside tools; see README)."""
    from cli.batch import RichProgress, open_engine

    with common.open_corridor() as corridor, open_engine(engine, workers) as runner:
        result = corridor.rank_file(queries, k, out_file, runner, RichProgress(err))
    out.print(f"ranked {result.ranked} queries -> {out_file} ({result.rows} rows)")
    for problem in result.rejected:
        err.print(f"[red]rejected[/red] {problem}", highlight=False)
    if result.rejected:
        raise typer.Exit(EXIT_REJECTED_ROWS)


def _report_command():
    from cli.batch import report_command

    return report_command


app.command("report")(handles_errors(_report_command()))
