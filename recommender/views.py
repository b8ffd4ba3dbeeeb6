"""Small conversions from core objects to the dictionaries every adapter shows (no computation of their own),
and the one rule that keeps this machine's paths out of them."""

from __future__ import annotations

import hashlib
import re
from pathlib import PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

from recommender.ranking.index import RankingIndex

ABSOLUTE_PATH = re.compile(r"(?<![\w.:/])(?:/[\w.@+\-]+){2,}/?")


def without_paths(value: Any) -> Any:
    """``value`` with every absolute path of this machine cut to its last component: a reader learns which
    file is at fault, never where the server keeps its data."""
    if isinstance(value, str):
        return ABSOLUTE_PATH.sub(lambda m: PurePosixPath(m.group(0)).name or "/", value)
    if isinstance(value, dict):
        return {k: without_paths(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [without_paths(v) for v in value]
    return value


def plain(value: object) -> object:
    """A JSON-ready scalar: pandas NA/NaN become None, NumPy scalars Python ones."""
    if value is None:
        return None
    if not isinstance(value, (list, tuple, np.ndarray)) and pd.isna(value):  # type: ignore[call-overload]
        return None
    return value.item() if hasattr(value, "item") else value


def organisation_record(index: RankingIndex, row: int) -> dict:
    org = index.catalogue.organisations.iloc[row]
    return {k: plain(v) for k, v in org.items()}


def text_sha256(text: str) -> str:
    """The hash that identifies a free-text query in feedback: sha256 of the whitespace-normalised text."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()


def model_info(manifest: dict) -> dict[str, Any]:
    """The model fields of a manifest, with the learned ranker's metrics per task and their primary mean."""
    metrics = manifest.get("metrics") or {}
    primary = manifest.get("primary_metric")
    summary = {
        task: dict(result.get("rankers", {}).get("learned", {}))
        for task, result in metrics.items()
        if isinstance(result, dict)
    }
    values = [m[primary] for m in summary.values() if primary in m]
    keys = (
        "model_version", "kind", "created_at", "train_year", "eval_year", "primary_metric", "encoder_model",
        "encoder_fingerprint", "taxonomy_version", "rules_version", "data_fingerprint",
    )
    return {
        **{k: without_paths(manifest.get(k)) for k in keys},
        "encoder_model": encoder_name(manifest.get("encoder_model")),
        "primary_score": round(float(np.mean(values)), 6) if values else None,
        "summary": summary,
        "metrics": metrics,
    }


def encoder_name(value: str | None) -> str | None:
    """The encoder's name without the directory it was loaded from (a model folder or a package's ``model``)."""
    if not value or not PurePosixPath(value).is_absolute():
        return value
    parts = [p for p in PurePosixPath(value).parts if p not in ("/", "model", "models")]
    return parts[-1] if parts else None
