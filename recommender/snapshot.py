"""The serving snapshot: everything serving derives from a catalogue version, saved once and memory-mapped.

Building a ranking index means scoring every project text against the priorities, pooling profiles, the
collaboration graph, programme histories, the lexical index and the organisation kinds: seconds to tens of
seconds. None of it changes until the catalogue, the encoder, the taxonomy, the tagger or the code that
derives it changes, so it is built once (by `corridor embed`, by training, or by the first process that
needs it) and saved in one versioned folder per key:

    <root>/<key>/arrays.bin       every numeric array of the index, raw, 64-byte aligned: memory-mapped on
                                  load, so several server workers share one copy of the vectors, scores,
                                  graph and counters in the page cache
    <root>/<key>/objects.pickle   the rest of the index (ids, names, texts, frames' object columns), a
                                  pickle (protocol 5) whose arrays point into arrays.bin
    <root>/<key>/manifest.json    what the key was made of, where each array lies, sizes, build time

The key hashes the inputs' digests and the source of the modules that derive the index: a snapshot of
another catalogue version, tagger or code is never used, only rebuilt. A damaged snapshot is logged and
rebuilt, never served. Users' own organisations are not in the snapshot (they change at any time); they are
laid over the loaded index (recommender/ranking/incremental.py).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import logging
import mmap
import os
import pickle
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from recommender.ranking.index import RankingIndex

log = logging.getLogger(__name__)

SNAPSHOT_FORMAT = 1
ARRAYS_FILE = "arrays.bin"
OBJECTS_FILE = "objects.pickle"
ALIGN = 64
MANIFEST_FILE = "manifest.json"
KEEP = 3  # snapshots kept per root: the served one and the ones a rollback would go back to

# Modules whose code decides what an index holds: a change to any of them changes the key.
_DERIVING_MODULES = (
    "catalogue/kinds.py",
    "graph.py",
    "history.py",
    "profiles/priorities.py",
    "profiles/profiles.py",
    "profiles/taxonomy.py",
    "profiles/text.py",
    "ranking/index.py",
    "ranking/lexical.py",
    "ranking/vector_search.py",
)


@functools.cache
def code_digest() -> str:
    """sha256 over the source of the modules that derive an index."""
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for name in _DERIVING_MODULES:
        digest.update(name.encode())
        digest.update((root / name).read_bytes())
    return digest.hexdigest()[:16]


def snapshot_key(inputs: dict[str, str]) -> str:
    """The key of a snapshot of ``inputs`` (catalogue digest, encoder, taxonomy, tagger ...) built by this
    code."""
    parts = {**inputs, "format": str(SNAPSHOT_FORMAT), "code": code_digest()}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:20]


def load_snapshot(root: Path, key: str) -> RankingIndex | None:
    """The index saved under ``key`` (numeric arrays memory-mapped, read-only), or None when there is none
    or it cannot be read (logged)."""
    folder = root / key
    if not (folder / MANIFEST_FILE).exists():
        return None
    start = time.perf_counter()
    try:
        manifest = json.loads((folder / MANIFEST_FILE).read_text())
        if manifest.get("key") != key:
            raise ValueError(f"manifest key {manifest.get('key')!r}")
        with open(folder / ARRAYS_FILE, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size != manifest["arrays_bytes"]:
                raise ValueError(f"{ARRAYS_FILE} has {size} bytes, the manifest says {manifest['arrays_bytes']}")
            mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        view = memoryview(mapped)
        buffers = [view[offset : offset + length] for offset, length in manifest["arrays"]]
        index = pickle.loads((folder / OBJECTS_FILE).read_bytes(), buffers=buffers)
    except Exception as exc:  # noqa: BLE001 - any damage means: rebuild, never serve it
        log.warning("serving snapshot %s unreadable (%s: %s); rebuilding it", folder, type(exc).__name__, exc)
        return None
    log.info("serving snapshot %s loaded in %.2f s", key, time.perf_counter() - start)
    return index


def save_snapshot(index: RankingIndex, root: Path, key: str, inputs: dict[str, str]) -> Path | None:
    """Save ``index`` (without its encoder, rulebook and lazy caches) under ``key``: written beside, renamed
    into place, so a reader sees a whole snapshot or none. A root that cannot be written costs only the
    saving (logged). The folder, or None."""
    slim = with_serving_parts(index, None, None)
    object.__setattr__(slim, "search", index.vector_search)  # built now (an HNSW graph on large catalogues)
    folder = root / key
    tmp = root / f".{key}.{os.getpid()}.tmp"
    start = time.perf_counter()
    try:
        if folder.exists():
            return folder
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        buffers: list[pickle.PickleBuffer] = []
        objects = pickle.dumps(slim, protocol=5, buffer_callback=buffers.append)
        layout = []
        with open(tmp / ARRAYS_FILE, "wb") as fh:
            for buffer in buffers:
                raw = buffer.raw()
                fh.write(b"\0" * (-fh.tell() % ALIGN))
                layout.append((fh.tell(), raw.nbytes))
                fh.write(raw)
            arrays_bytes = fh.tell()
        (tmp / OBJECTS_FILE).write_bytes(objects)
        manifest = {
            "key": key,
            "format": SNAPSHOT_FORMAT,
            "inputs": inputs,
            "code": code_digest(),
            "organisations": len(index.ids),
            "arrays_bytes": arrays_bytes,
            "objects_bytes": len(objects),
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "arrays": layout,
        }
        (tmp / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
        os.replace(tmp, folder)
    except OSError as exc:
        if folder.exists():  # another process saved the same snapshot first
            return folder
        log.warning("serving snapshot not saved under %s (%s)", root, exc.strerror or exc)
        return None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("serving snapshot %s saved in %.1f s", key, time.perf_counter() - start)
    prune(root, keep=KEEP, protect=key)
    return folder


def prune(root: Path, keep: int, protect: str) -> None:
    """Remove all but the ``keep`` newest snapshots (never ``protect``)."""
    folders = sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
                     key=lambda p: p.stat().st_mtime, reverse=True)
    for old in folders[keep:]:
        if old.name != protect:
            shutil.rmtree(old, ignore_errors=True)


def with_serving_parts(index: RankingIndex, encode_texts, rulebook) -> RankingIndex:
    """``index`` with the parts a snapshot does not save set to these (None to save it): the text encoder and
    the rulebook; its lazy caches start empty. Arrays and frames are shared, not copied."""
    whole = copy.copy(index)
    object.__setattr__(whole, "encode_texts", encode_texts)
    object.__setattr__(whole, "rulebook", rulebook)
    object.__setattr__(whole, "cache", {})
    return whole
