"""Atomic replacement of a whole directory: write into a sibling staging folder, then swap it in."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def replaced_directory(target: Path) -> Iterator[Path]:
    """Yield an empty staging folder beside ``target``; on normal exit it replaces ``target`` as a whole.

    An exception inside the block leaves ``target`` untouched and removes the staging folder, so a failed
    write (a crashed build, a failed retrain) never replaces working files.
    """
    target = target.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    staging.chmod(0o755)
    try:
        yield staging
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        if target.exists():
            target.rename(old)
        staging.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
