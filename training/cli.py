"""`corridor train` and `corridor evaluate`: thin drivers over training/ranker.py.

Promotion rule: a newly trained model replaces the current one only if its primary metric (Recall@20,
averaged over the evaluation tasks both reports have) is not worse than the current model's on the same
evaluation year, unless --force. Otherwise it is kept beside it under candidates/ for inspection. Writes
are atomic, so a failed retrain never replaces a working model.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
from rich.console import Console

from recommender.artifacts import ModelIntegrityError, read_verified_manifest
from recommender.evaluation.metrics import PRIMARY_METRIC
from recommender.ranking.features import FEATURES
from recommender.ranking.rankers import BASELINES, LearnedRanker
from recommender.workspace import Workspace
from training.ranker import TrainConfig, evaluate, render_report, train_and_evaluate

REPORT_MD = "evaluation.md"
REPORT_JSON = "evaluation.json"


def _profiles_at(ws: Workspace):
    cache: dict = {}

    def at(cutoff: int | None):
        if cutoff not in cache:
            cache[cutoff] = ws.profiles if cutoff is None else ws.build_profiles(until_year=cutoff)
        return cache[cutoff]

    return at


def mean_primary(results: dict, tasks: list[str] | None = None) -> float:
    """Mean of the learned ranker's primary metric over ``tasks`` (default: every task in ``results``)."""
    names = list(results) if tasks is None else tasks
    return float(np.mean([results[t]["rankers"]["learned"][PRIMARY_METRIC] for t in names]))


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
        "rules_version": ws.rulebook.version,
        "data_fingerprint": data_fp,
        "train_year": cfg.train_year,
        "eval_year": cfg.eval_year,
        "primary_metric": PRIMARY_METRIC,
        "metrics": results,
        "training": meta,
        "train_config": vars(cfg),
    }


def run_training(
    ws: Workspace, out_dir: Path | None, train_year: int, eval_year: int, force: bool, console: Console
) -> dict:
    cfg = TrainConfig(train_year=train_year, eval_year=eval_year)
    target = out_dir or ws.paths.model_dir
    with console.status("training and evaluating") as status:
        ranker, results, meta = train_and_evaluate(
            ws.catalogue, _profiles_at(ws), ws.encode_texts, ws.rulebook, cfg, progress=lambda msg: status.update(msg)
        )
    manifest = _manifest(ws, cfg, results, meta)
    report = render_report(results, manifest)
    files = {REPORT_MD: report, REPORT_JSON: json.dumps(results, indent=2) + "\n"}

    current = None
    try:
        current = read_verified_manifest(target)
    except ModelIntegrityError:
        pass
    # Compared on the tasks both reports have (a report may predate a task).
    shared = [t for t in results if current and t in (current.get("metrics") or {})]
    if (
        current is not None
        and not force
        and current.get("eval_year") == eval_year
        and shared
        and mean_primary(results, shared) < mean_primary(current["metrics"], shared)
    ):
        target = target.parent / "candidates" / manifest["model_version"]
        console.print(
            f"[yellow]not promoted[/yellow]: mean {PRIMARY_METRIC} {mean_primary(results, shared):.4f} < current "
            f"{mean_primary(current['metrics'], shared):.4f}; saved to {target} (use --force to promote)"
        )
    ranker.save(target, manifest, files)
    console.print(report, highlight=False)
    console.print(
        f"model {manifest['model_version']} written to {target} "
        f"(training {meta['timings']['train_seconds']} s, evaluation {meta['timings']['evaluate_seconds']} s)"
    )
    return manifest


def run_evaluation(ws: Workspace, model_dir: Path | None, console: Console) -> dict:
    directory = model_dir or ws.paths.model_dir
    manifest = read_verified_manifest(directory, expect=ws.model_expectations())
    eval_year = int(manifest["eval_year"])
    from recommender.evaluation.tasks import build_tasks
    from training.ranker import index_at

    with console.status("evaluating") as status:
        index = index_at(ws.catalogue, _profiles_at(ws), eval_year - 1, ws.encode_texts, ws.rulebook)
        learned = LearnedRanker.load(directory, index, expect=ws.model_expectations())
        rankers = {"learned": learned, **{name: cls(index).fit() for name, cls in BASELINES.items()}}
        cfg = TrainConfig(**manifest.get("train_config", {}))
        tasks = build_tasks(index, ws.catalogue, eval_year, cfg.max_eval_text_queries)
        results = evaluate(rankers, tasks, progress=lambda msg: status.update(msg))
    manifest["metrics"] = results
    report = render_report(results, manifest)
    keep = {
        k: v
        for k, v in manifest.items()
        if k not in ("files", "schema_version", "created_at", "versions", "kind", "features", "config")
    }
    learned.save(directory, keep, {REPORT_MD: report, REPORT_JSON: json.dumps(results, indent=2) + "\n"})
    console.print(report, highlight=False)
    console.print(f"report written to {directory / REPORT_MD} and {directory / REPORT_JSON}")
    return results
