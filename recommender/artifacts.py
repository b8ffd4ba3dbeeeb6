"""Model directories with a manifest: versions, config, metrics and the sha256 of every file.

joblib files are pickles: a directory is only loaded after every file's hash matches its manifest, and
a new directory is written beside the old one and swapped in, so a failed write never replaces a
working model.
"""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from recommender import __version__
from recommender.atomic import replaced_directory
from recommender.errors import CorridorError

MANIFEST = "manifest.json"
SCHEMA_VERSION = 1
LIBRARIES = ("scikit-learn", "numpy", "pandas", "sentence-transformers", "torch", "joblib")


class ModelIntegrityError(CorridorError):
    """A model directory is missing, altered, or does not match what is asked of it."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "corridor": __version__}
    for lib in LIBRARIES:
        try:
            out[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            out[lib] = "not installed"
    return out


def write_model_dir(target: Path, writers: Mapping[str, Callable[[Path], object]], manifest: dict) -> dict:
    """Write files with ``writers`` (name -> function writing that path) plus a manifest, atomically."""
    with replaced_directory(target) as staging:
        for name, write in writers.items():
            write(staging / name)
        full = {
            "schema_version": SCHEMA_VERSION,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "versions": library_versions(),
            **manifest,
            "files": {name: sha256_file(staging / name) for name in sorted(writers)},
        }
        (staging / MANIFEST).write_text(json.dumps(full, indent=2, sort_keys=True, default=str) + "\n")
    return full


def read_verified_manifest(directory: Path, expect: dict | None = None) -> dict:
    """The manifest of ``directory`` after checking every listed file's sha256 and the ``expect`` fields."""
    path = directory / MANIFEST
    if not path.exists():
        raise ModelIntegrityError(f"no model at {directory} (missing {MANIFEST})")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ModelIntegrityError(f"{path}: unreadable manifest ({exc.msg})") from exc
    if manifest.get("schema_version") != SCHEMA_VERSION:
        raise ModelIntegrityError(f"{directory}: manifest schema {manifest.get('schema_version')} != {SCHEMA_VERSION}")
    for name, digest in (manifest.get("files") or {}).items():
        file = directory / name
        if not file.exists():
            raise ModelIntegrityError(f"{directory}: file {name} listed in the manifest is missing")
        if sha256_file(file) != digest:
            raise ModelIntegrityError(f"{directory}: file {name} was altered (sha256 does not match the manifest)")
    for key, wanted in (expect or {}).items():
        if manifest.get(key) != wanted:
            raise ModelIntegrityError(
                f"{directory}: {key} is {manifest.get(key)!r} but {wanted!r} is in use; retrain the model"
            )
    return manifest
