"""Atomic writes: a file renamed over its target from a temporary file beside it, a whole directory swapped in
from a sibling staging folder, and temporary files that a killed process leaves behind cleaned up by the next
writer.

Every temporary name carries the writing process's id (``.<name>.<pid>.<random>``), so a later writer
can tell a dead writer's leftovers (removed) from a live writer's work in progress (left alone).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it over ``path``.

    os.replace is atomic on POSIX: readers see the old file or the new one, never a half-written one,
    and a failure inside ``write`` leaves the old file untouched.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    fd, tmp_name = tempfile.mkstemp(prefix=temporary_prefix(path), suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def replaced_directory(target: Path) -> Iterator[Path]:
    """Yield an empty staging folder beside ``target``; on normal exit it replaces ``target`` as a whole.

    An exception inside the block leaves ``target`` untouched and removes the staging folder, so a failed
    write (a crashed build, a failed retrain) never replaces working files.
    """
    target = target.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    recover_directory(target)
    staging = Path(tempfile.mkdtemp(prefix=temporary_prefix(target), dir=target.parent))
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


def temporary_prefix(target: Path) -> str:
    """The prefix of this process's temporary files and folders for ``target``."""
    return f".{target.name}.{os.getpid()}."


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(target: Path) -> list[Path]:
    """Remove the temporary files and staging folders of ``target`` left by processes that no longer run."""
    removed: list[Path] = []
    if not target.parent.is_dir():
        return removed
    prefix = f".{target.name}."
    for entry in target.parent.iterdir():
        parts = entry.name[len(prefix):].split(".", 1) if entry.name.startswith(prefix) else []
        if len(parts) < 2 or not parts[0].isdigit() or _alive(int(parts[0])):
            continue
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


def recover_directory(target: Path) -> None:
    """Finish or undo a swap a killed process left halfway: the previous version comes back if the new one
    never arrived; dead writers' staging folders are removed."""
    old = target.with_name(f".{target.name}.old")
    if old.exists():
        if target.exists():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.rename(target)
    remove_stale_temporaries(target)
