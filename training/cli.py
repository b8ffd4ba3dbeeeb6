"""`corridor train` and `corridor evaluate`: thin drivers over training/ranker.py.

`corridor train` fits the design twice: once on the label years before the evaluation year (the honest,
out-of-time evaluation written into the report) and once on every labelled year including the latest (the
model that is shipped and served). Promotion gate: the new model replaces the current one only if, in its
evaluation, the learned ranker leads the best of all baselines on the primary metric (Recall@20) of every
required task, unless --force. Otherwise it is kept under candidates/ for inspection. Writes are atomic,
so a failed retrain never replaces a working model.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from recommender.artifacts import read_verified_manifest
from recommender.evaluation.metrics import PRIMARY_METRIC
from recommender.profiles.tagger_store import TAGGER_FILE, tagger_directory
from recommender.ranking.features import FEATURES
from recommender.ranking.rankers import BASELINES, EVALUATED_PREFIX, LearnedRanker
from recommender.workspace import Workspace
from training.ranker import (
    TrainConfig,
    evaluate,
    fit_ranker,
    gate,
    newest_year_cv,
    render_report,
    train_and_evaluate,
)

REPORT_MD = "evaluation.md"
REPORT_JSON = "evaluation.json"


def _profiles_at(ws: Workspace):
    cache: dict = {}

    def at(cutoff: int | None):
        if cutoff not in cache:
            cache[cutoff] = ws.profiles if cutoff is None else ws.build_profiles(until_year=cutoff)
        return cache[cutoff]

    return at


def tagger_bundle(ws: Workspace) -> dict:
    """The tagger the model was trained with, as a file written into the model's directory: the two are then
    promoted together, in one rename, and served together (empty without a tagger)."""
    if ws.tagger is None:
        return {}
    source = tagger_directory(ws.paths.tagger_dir, ws.paths.model_dir) / TAGGER_FILE
    data = source.read_bytes()
    return {TAGGER_FILE: lambda target: target.write_bytes(data)}


def mean_primary(results: dict, tasks: list[str] | None = None) -> float:
    """Mean of the learned ranker's primary metric over ``tasks`` (default: every task in ``results``)."""
    names = list(results) if tasks is None else tasks
    return float(np.mean([results[t]["rankers"]["learned"][PRIMARY_METRIC] for t in names]))


def _model_directory(ws: Workspace, given: Path | None) -> Path:
    """``given``, else the workspace's model directory; a workspace without one needs ``given``."""
    directory = given or ws.paths.model_dir
    if directory is None:
        raise ValueError("no model directory: the workspace has none and none was given")
    return directory


def _thresholds(ws: Workspace):
    tagger = ws.tagger
    return None if tagger is None else np.asarray(tagger.thresholds_, dtype=np.float64)


def _manifest(ws: Workspace, cfg: TrainConfig, results: dict, meta: dict) -> dict:
    data_fp = ws.data_fingerprint()
    version_seed = json.dumps(
        [data_fp, ws.encoder.fingerprint, ws.tagger_fingerprint, vars(cfg), list(FEATURES), LearnedRanker.HEADS],
        sort_keys=True,
    )
    return {
        "model_version": f"ranker-{cfg.train_year}-{hashlib.sha256(version_seed.encode()).hexdigest()[:10]}",
        "encoder_fingerprint": ws.encoder.fingerprint,
        "tagger_fingerprint": ws.tagger_fingerprint,
        "encoder_model": getattr(ws.encoder, "model_name", "?"),
        "taxonomy_version": ws.taxonomy.version,
        "priorities": list(ws.taxonomy.ids),
        "rules_version": ws.rulebook.version,
        "data_fingerprint": data_fp,
        "train_year": cfg.train_year,
        "label_years": list(cfg.label_years),
        "evaluation_label_years": [y for y in cfg.label_years if y < cfg.eval_year],
        "eval_year": cfg.eval_year,
        "primary_metric": PRIMARY_METRIC,
        "metrics": results,
        "training": meta,
        "train_config": {k: list(v) if isinstance(v, tuple) else v for k, v in vars(cfg).items()},
    }


def run_training(
    ws: Workspace,
    out_dir: Path | None,
    train_year: int,
    eval_year: int,
    force: bool,
    console: Console,
    cv_folds: int = 0,
) -> dict:
    """Evaluate the design trained up to ``eval_year - 1``, fit the shipped model on every year up to
    ``train_year``, and promote it through the gate."""
    first = 2022  # EDF history starts in 2022: every labelled year from there counts
    shipped_cfg = TrainConfig(label_years=tuple(range(first, train_year + 1)), eval_year=eval_year)
    eval_cfg = TrainConfig(label_years=tuple(y for y in shipped_cfg.label_years if y < eval_year), eval_year=eval_year)
    thresholds = _thresholds(ws)
    target = _model_directory(ws, out_dir)
    with console.status("training and evaluating") as status:
        progress = lambda msg: status.update(msg)  # noqa: E731
        evaluated, results, meta = train_and_evaluate(
            ws.catalogue, _profiles_at(ws), ws.encode_texts, ws.rulebook, eval_cfg, thresholds, progress
        )
        if cv_folds > 1 and eval_year in shipped_cfg.label_years:
            meta["newest_year_cv"] = newest_year_cv(
                ws.catalogue, _profiles_at(ws), ws.encode_texts, ws.rulebook, shipped_cfg, cv_folds, thresholds,
                progress,
            )
        if shipped_cfg.label_years != eval_cfg.label_years:
            ranker, shipped_meta = fit_ranker(
                ws.catalogue, _profiles_at(ws), ws.encode_texts, ws.rulebook, shipped_cfg, thresholds, progress
            )
            meta["shipped_model"] = shipped_meta
        else:
            ranker, _ = fit_ranker(
                ws.catalogue, _profiles_at(ws), ws.encode_texts, ws.rulebook, shipped_cfg, thresholds, progress
            )
    manifest = _manifest(ws, shipped_cfg, results, meta)
    report = render_report(results, manifest)
    files = {REPORT_MD: report, REPORT_JSON: json.dumps(results, indent=2) + "\n"}
    files.update(evaluated.head_files(EVALUATED_PREFIX))

    passed, failing = gate(results)
    if not passed and not force:
        target = target.parent / "candidates" / manifest["model_version"]
        console.print(
            f"[yellow]not promoted[/yellow]: the learned ranker does not lead the best baseline on "
            f"{', '.join(failing)}; saved to {target} (use --force to promote)"
        )
    ranker.save(target, manifest, files, tagger_bundle(ws))
    console.print(report, highlight=False)
    console.print(
        f"model {manifest['model_version']} written to {target} "
        f"(training {meta['timings']['train_seconds']} s, evaluation {meta['timings']['evaluate_seconds']} s)"
    )
    return manifest


def run_evaluation(ws: Workspace, model_dir: Path | None, console: Console) -> dict:
    directory = _model_directory(ws, model_dir)
    manifest = read_verified_manifest(directory, expect=ws.model_expectations())
    eval_year = int(manifest["eval_year"])
    from recommender.evaluation.tasks import build_tasks
    from training.ranker import index_at

    with console.status("evaluating") as status:
        thresholds = _thresholds(ws)
        index = index_at(ws.catalogue, _profiles_at(ws), eval_year - 1, ws.encode_texts, ws.rulebook, thresholds)
        learned = LearnedRanker.load(directory, expect=ws.model_expectations(), prefix=EVALUATED_PREFIX)
        rankers = {"learned": learned, **{name: cls().fit(index) for name, cls in BASELINES.items()}}
        config: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v
                                  for k, v in manifest.get("train_config", {}).items()}
        cfg = TrainConfig(**config)
        tasks = build_tasks(index, ws.catalogue, eval_year, cfg.max_eval_text_queries, cfg.max_eval_priority_queries)
        results = evaluate(index, rankers, tasks, progress=lambda msg: status.update(msg))
    manifest["metrics"] = results
    report = render_report(results, manifest)
    keep = {
        k: v
        for k, v in manifest.items()
        if k not in ("files", "schema_version", "created_at", "versions", "kind", "features", "config")
    }
    shipped = LearnedRanker.load(directory, expect=ws.model_expectations())
    files = {REPORT_MD: report, REPORT_JSON: json.dumps(results, indent=2) + "\n"}
    files.update(learned.head_files(EVALUATED_PREFIX))
    shipped.save(directory, keep, files)
    console.print(report, highlight=False)
    console.print(f"report written to {directory / REPORT_MD} and {directory / REPORT_JSON}")
    return results
