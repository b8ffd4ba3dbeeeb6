"""Saving and loading the priority tagger as a model directory with a verified manifest."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import joblib

from recommender.artifacts import read_verified_manifest, write_model_dir

if TYPE_CHECKING:
    from recommender.profiles.tagger import PriorityTagger

TAGGER_FILE = "tagger.joblib"


def save_tagger(
    tagger: PriorityTagger,
    directory: Path,
    *,
    encoder_fingerprint: str,
    taxonomy_version: str,
    priorities: list[str],
    metrics: dict,
    config: dict,
    weak_labels_sha256: str | None = None,
) -> dict:
    return write_model_dir(
        directory,
        {TAGGER_FILE: lambda p: joblib.dump(tagger, p)},
        {
            "kind": "priority-tagger",
            "encoder_fingerprint": encoder_fingerprint,
            "taxonomy_version": taxonomy_version,
            "priorities": priorities,
            "metrics": metrics,
            "config": config,
            "weak_labels_sha256": weak_labels_sha256,
        },
    )


def verify_tagger(directory: Path, *, encoder_fingerprint: str, taxonomy_version: str, priorities: list[str]) -> str:
    """Verify the tagger's file hashes, encoder and taxonomy without loading it (raises ModelIntegrityError);
    its fingerprint: the first 16 hex digits of the verified sha256 of its file."""
    manifest = read_verified_manifest(
        directory,
        expect={
            "encoder_fingerprint": encoder_fingerprint,
            "taxonomy_version": taxonomy_version,
            "priorities": priorities,
        },
    )
    return manifest["files"][TAGGER_FILE][:16]


def load_tagger(
    directory: Path, *, encoder_fingerprint: str, taxonomy_version: str, priorities: list[str]
) -> tuple[PriorityTagger, str]:
    """Load after verifying (see :func:`verify_tagger`); the tagger and its fingerprint."""
    sha = verify_tagger(directory, encoder_fingerprint=encoder_fingerprint, taxonomy_version=taxonomy_version,
                        priorities=priorities)
    return joblib.load(directory / TAGGER_FILE), sha


def tagger_directory(tagger_dir: Path, model_dir: Path | None) -> Path:
    """Where the tagger in use lives: bundled in the promoted ranker's directory when the ranker carries
    the tagger it was trained with (so the two are promoted together, atomically), else its own directory."""
    if model_dir is not None and (model_dir / TAGGER_FILE).exists():
        return model_dir
    return tagger_dir
