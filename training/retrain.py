"""`corridor retrain`: the whole retraining loop in one command, for an operator or a scheduler.

1. refresh the catalogue from new release files, if given (a new catalogue version);
2. embed what changed (the content-hash cache encodes only new or changed texts);
3. retrain the priority tagger when its weak labels changed (new projects with EuroSciVoc paths or call
   topics), evaluated on the newest year;
4. turn feedback into training signal (training/feedback.py) and train the ranker with the newest labelled
   year (the shipped fit) and without it (the honest out-of-time evaluation);
5. evaluate on the newest year against every baseline and, when it can be compared fairly (same tagger, it
   never saw that year), the model being served;
6. promote only through the gate: the learned ranker leads the best baseline on every required task and is
   not worse than the served model (the 95% interval of the difference is not all below zero);
7. promote atomically: the ranker directory, with the tagger it was trained with bundled inside, replaces the
   served one in one rename; running servers poll it and hot-swap (their world too, when the catalogue
   version or the tagger changed).

One report per run, in Markdown and self-contained HTML: data changes, embedding, tagger, feedback, metric
deltas with intervals, the gate's decision, and for each Korean organisation the partners that entered or
left its top 10. Idempotent: when the catalogue, tagger, feedback, encoder, taxonomy, rules and training
configuration are those the served model was trained on, nothing is trained and the run says "kept".
An interrupted or failed run rolls back a catalogue version it created, never touches the served model
(promotion is the last step) and says so. Exit codes: 0 promoted, 3 kept, 2 failed.
"""

from __future__ import annotations

import hashlib
import html
import json
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from recommender.artifacts import ModelIntegrityError, read_verified_manifest
from recommender.batch.engines import Engine
from recommender.evaluation.metrics import PRIMARY_METRIC
from recommender.profiles.tagger_store import tagger_directory
from recommender.ranking.features import FEATURES
from recommender.ranking.index import Query
from recommender.ranking.rankers import EVALUATED_PREFIX, LearnedRanker
from recommender.workspace import Workspace, WorkspacePaths
from training.feedback import FeedbackLabels, feedback_labels
from training.ranker import CURRENT, TrainConfig, fit_ranker, gate, render_report, train_and_evaluate

EXIT_PROMOTED, EXIT_KEPT, EXIT_FAILED = 0, 3, 2
FIRST_LABEL_YEAR = 2022  # EDF history starts in 2022: every labelled year from there counts
TOP = 10
REPORTED = 200  # new projects listed in a run's report (all of them are in the catalogue version's changes.json)


@dataclass
class RetrainResult:
    status: str  # promoted, kept or failed
    reason: str
    run_dir: Path
    model_version: str | None = None
    report: dict = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return {"promoted": EXIT_PROMOTED, "kept": EXIT_KEPT}.get(self.status, EXIT_FAILED)


def run_retrain(
    paths: WorkspacePaths,
    feedback_records: list[dict],
    releases: list[Path],
    run_root: Path,
    progress: Callable[[str], None] = lambda _: None,
    force: bool = False,
    config: TrainConfig | None = None,
    engine: Engine | None = None,
) -> RetrainResult:
    """Run the loop (see the module docstring); the report is written into a new folder under ``run_root``.
    ``engine`` builds the training groups on its workers (local processes or Ray tasks: the same training
    set either way) and, when it is Ray, encodes the new texts there too; None: this process."""
    started = datetime.now(UTC)
    run_dir = run_root / f"{started:%Y%m%dT%H%M%SZ}"
    run_dir.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"started": started.isoformat(timespec="seconds"), "timings": {}, "steps": []}
    versions = Workspace(paths).catalogue_versions
    previous_version = versions.current_name()
    created_version: str | None = None
    try:
        if releases:
            from recommender.catalogue.refresh import refresh_catalogue

            progress("refreshing the catalogue")
            began = time.perf_counter()
            refreshed = refresh_catalogue(versions, releases)
            report["timings"]["refresh_seconds"] = round(time.perf_counter() - began, 1)
            report["refresh"] = {**refreshed.to_dict(), "new_projects": refreshed.diff.new_projects[:REPORTED],
                                 "new_organisations": refreshed.diff.new_organisations[:50],
                                 "disappeared_organisations": refreshed.diff.disappeared_organisations[:50]}
            if refreshed.created:
                created_version = refreshed.version
        report["catalogue_version"] = versions.current_name()
        report["engine"] = engine.describe() if engine is not None else "this process"
        result = _retrain(paths, feedback_records, run_dir, report, progress, force, config, engine)
    except BaseException as exc:  # noqa: BLE001 - an interrupted run must undo its catalogue version, then say so
        if created_version is not None and versions.current_name() == created_version:
            versions.rollback(previous_version)
            report["rolled_back_catalogue_to"] = previous_version
        report["error"] = f"{type(exc).__name__}: {exc}"
        report["traceback"] = traceback.format_exc(limit=8)
        kept = "the catalogue version and the served model are as they were"
        result = RetrainResult("failed", f"{report['error']}; {kept}", run_dir, None, report)
        _write_report(result)
        if not isinstance(exc, Exception):
            raise
        return result
    _write_report(result)
    return result


def _retrain(paths: WorkspacePaths, feedback_records: list[dict], run_dir: Path, report: dict,
             progress: Callable[[str], None], force: bool, config: TrainConfig | None,
             engine: Engine | None = None) -> RetrainResult:
    ws = Workspace(paths)
    model_dir = paths.model_dir
    assert model_dir is not None, "retraining needs a model directory to promote into"
    served = _served_manifest(model_dir)
    report["served_model"] = served.get("model_version")

    progress("embedding new and changed texts")
    began = time.perf_counter()
    encoder = ws.encoder
    if engine is not None and engine.name == "ray" and hasattr(encoder, "engine"):
        encoder.engine = engine  # Ray workers are fresh processes: they load the model themselves
    before = getattr(encoder, "encoded_count", 0)
    ws.profiles = ws.build_profiles(show_progress=True)
    report["embedding"] = {"texts_encoded": int(getattr(encoder, "encoded_count", 0) - before),
                           "projects": int(len(ws.profiles.project_ids))}
    report["timings"]["embed_seconds"] = round(time.perf_counter() - began, 1)

    from training.priority_tagger import weak_labels_sha256

    weak_sha = weak_labels_sha256(ws.catalogue, ws.taxonomy)
    tagger_manifest = _tagger_manifest(paths)
    newest = _newest_label_year(ws)
    train_ws = ws
    if tagger_manifest.get("weak_labels_sha256") != weak_sha:
        progress("weak labels changed: retraining the priority tagger")
        train_ws = _retrain_tagger(ws, paths, run_dir, newest, weak_sha, report)
    else:
        report["tagger"] = {"retrained": False, "reason": "weak labels unchanged"}

    labels = feedback_labels(feedback_records, frozenset(map(str, train_ws.catalogue.organisations["id"])))
    report["feedback"] = labels.summary
    cfg = config or TrainConfig()
    shipped_cfg = replace(cfg, label_years=tuple(range(FIRST_LABEL_YEAR, newest + 1)), eval_year=newest)
    eval_cfg = replace(shipped_cfg, label_years=tuple(y for y in shipped_cfg.label_years if y < newest))
    inputs = _training_inputs(train_ws, shipped_cfg, labels, report["catalogue_version"])
    inputs_sha = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()
    report["training_inputs"] = inputs
    if served.get("training_inputs_sha256") == inputs_sha and not force:
        return RetrainResult("kept", f"nothing new since model {served.get('model_version')}: same data, tagger, "
                             "feedback and configuration", run_dir, served.get("model_version"), report)

    from training.cli import _manifest, _profiles_at, tagger_bundle

    thresholds = train_ws.priority_thresholds
    current, comparable = _comparable_current(model_dir, served, train_ws, newest)
    report["current_model_comparison"] = comparable
    progress(f"training on label years {list(eval_cfg.label_years)} and evaluating on {newest}")
    began = time.perf_counter()
    evaluated, results, meta = train_and_evaluate(train_ws.catalogue, _profiles_at(train_ws), train_ws.encode_texts,
                                                  train_ws.rulebook, eval_cfg, thresholds, progress, current, engine)
    report["timings"]["evaluate_seconds"] = meta["timings"]["evaluate_seconds"]
    progress(f"training the shipped model on label years {list(shipped_cfg.label_years)}")
    ranker, shipped_meta = fit_ranker(train_ws.catalogue, _profiles_at(train_ws), train_ws.encode_texts,
                                      train_ws.rulebook, shipped_cfg, thresholds, progress, feedback=labels,
                                      engine=engine)
    meta["shipped_model"] = shipped_meta
    report["timings"]["train_seconds"] = round(meta["timings"]["train_seconds"] + shipped_meta["train_seconds"], 1)
    if labels.labels:
        report["feedback_effect"] = _feedback_effect(train_ws, shipped_cfg, thresholds, labels, ranker, progress,
                                                     engine)
    report["metrics"] = _metric_summary(results)

    passed, failing = gate(results)
    worse = [t for t, r in results.items() if r.get("required", True) and "learned_minus_current" in r
             and r["learned_minus_current"]["ci95"][1] < 0]
    report["gate"] = {"baselines_passed": passed, "failing_tasks": failing, "worse_than_current": worse,
                      "forced": force}
    promote = (passed and not worse) or force
    manifest = _manifest(train_ws, shipped_cfg, results, meta)
    manifest.update({"training_inputs_sha256": inputs_sha, "catalogue_version": report["catalogue_version"],
                     "weak_labels_sha256": weak_sha, "feedback": labels.summary})
    files = {"evaluation.md": render_report(results, manifest), "evaluation.json": json.dumps(results, indent=2)}
    files.update(evaluated.head_files(EVALUATED_PREFIX))
    bundle = tagger_bundle(train_ws)
    version = manifest["model_version"]
    report["new_model"] = version
    report["korean_top10_changes"] = _korean_changes(paths, model_dir, served, train_ws, ranker, progress)
    if not promote:
        ranker.save(run_dir / "candidate", manifest, files, bundle)
        reasons = ([f"does not lead the best baseline on {', '.join(failing)}"] if failing else []) + (
            [f"is worse than the served model on {', '.join(worse)}"] if worse else [])
        return RetrainResult("kept", f"model {version} not promoted: it {'; it '.join(reasons)}; saved to "
                             f"{run_dir / 'candidate'}", run_dir, version, report)
    if paths.snapshot_dir is not None:
        progress("saving the serving snapshot of the new world (servers load it when they swap)")
        began = time.perf_counter()
        train_ws.serving_index()
        report["timings"]["snapshot_seconds"] = round(time.perf_counter() - began, 1)
    progress(f"promoting model {version}")
    ranker.save(model_dir, manifest, files, bundle)
    return RetrainResult("promoted", f"model {version} promoted into {model_dir}; servers polling that folder "
                         "swap it in (with the new catalogue version and tagger)", run_dir, version, report)


# ---- steps -------------------------------------------------------------------------------------------------
def _served_manifest(model_dir: Path) -> dict:
    try:
        return read_verified_manifest(model_dir)
    except ModelIntegrityError:
        return {}


def _tagger_manifest(paths: WorkspacePaths) -> dict:
    directory = tagger_directory(paths.tagger_dir, paths.model_dir)
    try:
        return json.loads((directory / "manifest.json").read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def _newest_label_year(ws: Workspace) -> int:
    """The newest year with European Defence Fund or Horizon Europe projects signed in it."""
    projects = ws.catalogue.projects
    years = projects.loc[projects["programme"].isin(["edf", "horizon-europe"]), "year"].dropna()
    return int(years.max())


def _retrain_tagger(ws: Workspace, paths: WorkspacePaths, run_dir: Path, newest: int, weak_sha: str,
                    report: dict) -> Workspace:
    from training.priority_tagger import train_and_save_tagger

    began = time.perf_counter()
    target = run_dir / "priority-tagger"
    evaluation = train_and_save_tagger(ws.catalogue, ws.encoder, ws.taxonomy, target, newest, weak_sha)
    report["tagger"] = {"retrained": True, "reason": "weak labels changed",
                        "held_out_year": newest,
                        "macro_f1": {m: round(v["macro_f1"], 3) for m, v in evaluation["methods"].items()},
                        "seconds": round(time.perf_counter() - began, 1)}
    trained = Workspace(replace(paths, tagger_dir=target, model_dir=None), encoder_override=ws.encoder)
    trained.catalogue = ws.catalogue
    return trained


def _training_inputs(ws: Workspace, cfg: TrainConfig, labels: FeedbackLabels, catalogue_version: str) -> dict:
    return {
        "catalogue": ws.data_fingerprint(),
        "catalogue_version": catalogue_version,
        "encoder": ws.encoder.fingerprint,
        "tagger": ws.tagger_fingerprint,
        "taxonomy": ws.taxonomy.version,
        "rules": ws.rulebook.version,
        "features": hashlib.sha256(json.dumps(list(FEATURES)).encode()).hexdigest()[:16],
        "config": {k: list(v) if isinstance(v, tuple) else v for k, v in vars(cfg).items()},
        "feedback": hashlib.sha256(json.dumps(labels.labels, sort_keys=True).encode()).hexdigest()[:16],
    }


def _comparable_current(model_dir: Path, served: dict, ws: Workspace, eval_year: int):
    """(the served model's ranker to evaluate beside the new one, or None; why)."""
    if not served:
        return None, "no model is served"
    if served.get("tagger_fingerprint") != ws.tagger_fingerprint:
        return None, "not compared: the tagger was retrained (the served model's features would differ)"
    expect = ws.model_expectations()
    try:
        if max(served.get("label_years") or [eval_year]) < eval_year:
            return LearnedRanker.load(model_dir, expect=expect), f"the served model (never saw {eval_year})"
        if served.get("eval_year") == eval_year:
            return (LearnedRanker.load(model_dir, expect=expect, prefix=EVALUATED_PREFIX),
                    f"the served model's out-of-time fit (trained before {eval_year}, as the new one)")
    except ModelIntegrityError as exc:
        return None, f"not compared: the served model cannot be loaded ({exc})"
    return None, f"not compared: the served model saw {eval_year} and has no fit that did not"


def _metric_summary(results: dict) -> dict:
    out = {}
    for task, r in results.items():
        rankers = r["rankers"]
        out[task] = {
            "required": r.get("required", True),
            "new": rankers["learned"][PRIMARY_METRIC],
            "best_baseline": r.get("best_baseline"),
            "best_baseline_value": rankers.get(r.get("best_baseline"), {}).get(PRIMARY_METRIC),
            "new_minus_best_baseline": r.get("learned_minus_best_baseline"),
            "current": rankers.get(CURRENT, {}).get(PRIMARY_METRIC),
            "new_minus_current": r.get("learned_minus_current"),
        }
    return out


def _feedback_effect(ws: Workspace, cfg: TrainConfig, thresholds, labels: FeedbackLabels, with_feedback,
                     progress: Callable[[str], None], engine: Engine | None = None) -> list[dict]:
    """Rank of every feedback pair's candidate for its query organisation, by the model trained without the
    feedback and by the one trained with it (both on the same data)."""
    from training.cli import _profiles_at

    progress("training without the feedback, to show what it changed")
    without, _ = fit_ranker(ws.catalogue, _profiles_at(ws), ws.encode_texts, ws.rulebook, cfg, thresholds, progress,
                            engine=engine)
    index = ws.ranking_index()
    rows = []
    for query, candidates in sorted(labels.labels.items()):
        ranks = {}
        for name, model in (("without", without), ("with", with_feedback)):
            ids, _ = model.rank(index, Query(org_id=query, include_known=True), 100)
            ranks[name] = {str(i): r for r, i in enumerate(ids, start=1)}
        for candidate, label in sorted(candidates.items()):
            rows.append({"query": query, "candidate": candidate, "label": "positive" if label else "negative",
                         "rank_without": ranks["without"].get(candidate), "rank_with": ranks["with"].get(candidate)})
    return rows


def _korean_changes(paths: WorkspacePaths, model_dir: Path, served: dict, ws: Workspace, ranker: LearnedRanker,
                    progress: Callable[[str], None]) -> dict:
    """For each Korean organisation with a profile: the European partners that entered or left its top 10,
    the served model over the world it serves vs the new model over the new world."""
    progress("comparing the Korean organisations' top 10")
    new_index = ws.ranking_index()
    old_ranker, old_index = None, None
    if served:
        try:
            old_ws = Workspace(paths)
            old_ranker = LearnedRanker.load(model_dir, expect=old_ws.model_expectations())
            old_index = old_ws.ranking_index() if old_ws.tagger_fingerprint != ws.tagger_fingerprint else new_index
        except ModelIntegrityError:
            old_ranker = None
    names = dict(zip(map(str, new_index.ids), map(str, new_index.names), strict=True))
    korean = [str(i) for i, row in new_index.row_of.items()
              if new_index.countries[row] == "KR" and new_index.has_profile[row]]
    how = ("the served model over the served tagger's scores vs the new model, both over the current catalogue"
           if old_ranker is not None else "no model was served: every partner of the new top 10 entered")
    out = []
    for org in sorted(korean):
        query = Query(org_id=org, region="EU")
        new_ids = [str(i) for i in ranker.rank(new_index, query, TOP)[0]]
        old_ids: list[str] = []
        if old_ranker is not None and old_index is not None and org in old_index.row_of:
            old_ids = [str(i) for i in old_ranker.rank(old_index, query, TOP)[0]]
        entered = [i for i in new_ids if i not in old_ids]
        left = [i for i in old_ids if i not in new_ids]
        if entered or left:
            out.append({"organisation": org, "name": names.get(org, org),
                        "entered": [{"id": i, "name": names.get(i, i)} for i in entered],
                        "left": [{"id": i, "name": names.get(i, i)} for i in left]})
    return {"compared": len(korean), "how": how, "changed": out}


# ---- the report --------------------------------------------------------------------------------------------
def _write_report(result: RetrainResult) -> None:
    report = {**result.report, "status": result.status, "reason": result.reason, "model_version": result.model_version,
              "finished": datetime.now(UTC).isoformat(timespec="seconds")}
    result.report = report
    (result.run_dir / "report.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    sections = report_sections(report)
    (result.run_dir / "report.md").write_text(render_markdown(sections))
    (result.run_dir / "report.html").write_text(render_html(sections))


Section = tuple[str, list[str], list[list[Any]], list[str]]  # title, table columns, rows, paragraphs


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, dict) and "mean" in value and "ci95" in value:
        low, high = value["ci95"]
        return f"{value['mean']:+.3f} [{low:+.3f}, {high:+.3f}]"
    if isinstance(value, list):
        return ", ".join(_fmt(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_fmt(v)}" for k, v in value.items())
    return str(value)


def report_sections(report: dict) -> list[Section]:
    """The report as titled tables and paragraphs, rendered alike into Markdown and HTML."""
    status = report.get("status", "?")
    sections: list[Section] = [(
        f"Retraining run of {report.get('started')}: {status.upper()}", [], [],
        [report.get("reason", ""),
         f"Catalogue version: {report.get('catalogue_version')}; served model before the run: "
         f"{report.get('served_model')}; new model: {report.get('new_model')}.",
         "Sources: CORDIS (cordis.europa.eu) and the EU Funding & Tenders portal, (c) European Union, CC BY 4.0."],
    )]
    if report.get("error"):
        undone = report.get("rolled_back_catalogue_to", "none created")
        sections.append(("What failed", [], [], [report["error"], "The run rolled back the catalogue version it had "
                                                 f"created: {undone}."]))
    timings = report.get("timings", {})
    if timings:
        sections.append(("Timings", ["step", "seconds"], [[k.removesuffix("_seconds"), v] for k, v in timings.items()],
                         []))
    refresh = report.get("refresh")
    if refresh:
        counts = refresh.get("counts", {})
        sections.append(("Data changes", ["change", "count"], [[k.replace("_", " "), v] for k, v in counts.items()],
                         [f"Catalogue version {refresh['version']} (parent {refresh['parent']}); "
                          f"{'written by this run' if refresh['created'] else 'nothing changed'}."]))
        if refresh.get("new_projects"):
            rows = [[p.get("id"), p.get("programme"), p.get("acronym"), p.get("title"), p.get("year")]
                    for p in refresh["new_projects"]]
            sections.append((f"New projects ({counts.get('new_projects', len(rows)):,}; first {len(rows)} listed, "
                             "European Defence Fund first; all in the catalogue version's changes.json)",
                             ["id", "programme", "acronym", "title", "year"], rows, []))
    if "embedding" in report:
        sections.append(("Embedding", [], [], [f"{report['embedding']['texts_encoded']:,} new or changed texts encoded "
                                               f"(the rest came from the content-hash cache); "
                                               f"{report['embedding']['projects']:,} projects profiled."]))
    if "tagger" in report:
        sections.append(("Priority tagger", [], [], [_fmt(report["tagger"])]))
    if "feedback" in report:
        fb = report["feedback"]
        sections.append(("Feedback", ["", ""], [["records", fb.get("records")], ["pairs used", fb.get("pairs_used")],
                                               ["positive / negative", f"{fb.get('positive_pairs')} / "
                                                                       f"{fb.get('negative_pairs')}"],
                                               ["keys", fb.get("keys")], ["not used", _fmt(fb.get("not_used"))],
                                               ["capped by key", _fmt(fb.get("capped_by_key"))]],
                         ["Policy: " + _fmt(fb.get("policy"))]))
    if report.get("feedback_effect"):
        sections.append(("What the feedback changed (rank among the top 100)", ["query", "candidate", "label",
                                                                                "without", "with"],
                         [[r["query"], r["candidate"], r["label"], r["rank_without"], r["rank_with"]]
                          for r in report["feedback_effect"]], []))
    if report.get("metrics"):
        rows = [[task, "yes" if m["required"] else "no", m["new"],
                 f"{m['best_baseline']} {_fmt(m['best_baseline_value'])}",
                 m["new_minus_best_baseline"], m["current"], m["new_minus_current"]]
                for task, m in report["metrics"].items()]
        sections.append((f"Metrics ({PRIMARY_METRIC}, hold-out year; differences with 95% bootstrap intervals)",
                         ["task", "required", "new", "best baseline", "new - best baseline", "served model",
                          "new - served"], rows,
                         [f"Served model compared as: {report.get('current_model_comparison')}."]))
    if report.get("gate"):
        g = report["gate"]
        worse = _fmt(g["worse_than_current"]) or "none"
        sections.append(("Gate", [], [], [f"Leads every baseline on every required task: {g['baselines_passed']} "
                                          f"(failing: {_fmt(g['failing_tasks']) or 'none'}); worse than the served "
                                          f"model on: {worse}; forced: {g['forced']}."]))
    changes = report.get("korean_top10_changes")
    if changes is not None:
        rows = [[c["name"], ", ".join(e["name"] for e in c["entered"]), ", ".join(e["name"] for e in c["left"])]
                for c in changes["changed"]]
        sections.append((f"Korean organisations whose European top {TOP} changed ({len(rows)} of "
                         f"{changes['compared']} compared)", ["Korean organisation", "entered the top 10",
                                                               "left the top 10"], rows, [changes["how"]]))
    return sections


def render_markdown(sections: list[Section]) -> str:
    lines: list[str] = []
    for i, (title, columns, rows, paragraphs) in enumerate(sections):
        lines += [("# " if i == 0 else "## ") + title, ""]
        for p in paragraphs:
            lines += [p, ""]
        if columns:
            lines.append("| " + " | ".join(columns) + " |")
            lines.append("|" + "---|" * len(columns))
            for row in rows:
                lines.append("| " + " | ".join(_fmt(v).replace("|", "\\|") for v in row) + " |")
            lines.append("")
    return "\n".join(lines)


def render_html(sections: list[Section]) -> str:
    """Self-contained HTML (inline style, no external asset)."""
    body: list[str] = []
    for i, (title, columns, rows, paragraphs) in enumerate(sections):
        body.append(f"<h{1 if i == 0 else 2}>{html.escape(title)}</h{1 if i == 0 else 2}>")
        body += [f"<p>{html.escape(p)}</p>" for p in paragraphs]
        if columns:
            head = "".join(f"<th scope=\"col\">{html.escape(c)}</th>" for c in columns)
            cells = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in row) + "</tr>" for row in rows)
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{cells}</tbody></table>")
    style = ("body{font:15px/1.45 system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;color:#1b2430}"
             "table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{border-bottom:1px solid #d8dee6;"
             "padding:.25rem .6rem;text-align:left;vertical-align:top}th{background:#f3f5f8}")
    return (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Corridor retraining report</title>"
            f"<style>{style}</style></head><body>{''.join(body)}</body></html>\n")

