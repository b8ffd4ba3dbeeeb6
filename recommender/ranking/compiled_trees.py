"""Tree ensembles compiled to native code: LightGBM's margins, several times faster per query.

LightGBM's own predict walks each tree as data; on the 700-odd candidate rows of one query it takes about 3 ms,
the largest single cost of a query. lleaves compiles the same model text through LLVM into a function per
forest that takes the rows and writes the margins (to within float64 rounding of the sum: the trees, thresholds
and leaf values are LightGBM's own). Compiling takes one to two seconds per head, so the object code is cached
on disk under a key of the model text, the compiler's versions and the host CPU (object code built for one CPU
may not run on another); a cached head loads in milliseconds. A load marks the file used, and
:func:`prune_cache` keeps the most recently used files of the folder (heads and the TreeSHAP tables saved beside
them), so models retired long ago do not pile up.

The compiled heads are an accelerator, never a requirement: without lleaves, or when compiling fails, the
ranker keeps LightGBM's predict, which gives the same rankings.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

Margins = Callable[[np.ndarray], np.ndarray]

CACHE_FILES_KEPT = 12  # of each kind: the three heads of the served model and of three models before it
CACHED_KINDS = ("*.o", "*.shap.npz")  # compiled heads; TreeSHAP tables (path_shap.py)


def _compiler_identity() -> str | None:
    """The compiler's versions and the host CPU, which the object code depends on; None without lleaves."""
    try:
        import llvmlite
        import llvmlite.binding as llvm

        compiler_version = version("lleaves")
    except (ImportError, PackageNotFoundError):
        return None
    llvm.initialize_native_target()
    try:
        features = llvm.get_host_cpu_features().flatten()
    except RuntimeError:
        features = ""
    return "|".join([compiler_version, llvmlite.__version__, llvm.get_process_triple(),
                     llvm.get_host_cpu_name(), features])


def cache_key(model_text: str) -> str | None:
    """The cache file stem of ``model_text`` compiled on this host; None when lleaves is not installed."""
    identity = _compiler_identity()
    if identity is None:
        return None
    return hashlib.sha256(f"{identity}\n{model_text}".encode()).hexdigest()[:32]


def compiled_margins(model_text: str, cache_dir: Path, build: bool) -> Margins | None:
    """A function from feature rows to the margins of the LightGBM model ``model_text``, compiled natively.

    A head compiled before on this host is loaded from ``cache_dir``; otherwise it is compiled when ``build``
    and left to LightGBM when not. None when lleaves is missing or the compilation fails (logged)."""
    key = cache_key(model_text)
    if key is None:
        return None
    import lleaves

    cached = cache_dir / f"{key}.o"
    if not cached.exists() and not build:
        return None
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache_dir) as scratch:
            model_file = Path(scratch) / "model.txt"
            model_file.write_text(model_text)
            model = lleaves.Model(model_file=str(model_file))
            if cached.exists():
                model.compile(cache=str(cached), raw_score=True)
                mark_used(cached)
            else:
                # compiled beside, then renamed: a process reading the cache never sees half an object file
                fresh = Path(scratch) / "model.o"
                model.compile(cache=str(fresh), raw_score=True)
                os.replace(fresh, cached)
    except Exception:  # noqa: BLE001 - LightGBM's predict serves instead
        log.exception("compiling a ranking head failed; LightGBM's predict serves it")
        return None
    n_features = model.num_feature()

    def margins(X: np.ndarray) -> np.ndarray:
        if X.ndim != 2 or X.shape[1] != n_features:
            raise ValueError(f"expected (rows, {n_features}) features, got {X.shape}")
        return model.predict(np.ascontiguousarray(X, dtype=np.float64), n_jobs=1)

    return margins


def mark_used(path: Path) -> None:
    """Record that a cached file was read now (its modification time), which :func:`prune_cache` ranks by;
    a read-only cache is left as it is."""
    try:
        os.utime(path)
    except OSError:
        pass


def prune_cache(cache_dir: Path, keep: int = CACHE_FILES_KEPT) -> list[Path]:
    """Remove all but the ``keep`` most recently used files of each kind in ``cache_dir``: the files removed.
    A process that loaded a removed head keeps it in memory; a later one compiles it again."""
    removed = []
    for pattern in CACHED_KINDS:
        files = []
        for path in cache_dir.glob(pattern):
            try:
                files.append((path.stat().st_mtime, path))
            except FileNotFoundError:  # removed meanwhile by another process
                continue
        for _, path in sorted(files, reverse=True)[keep:]:
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            except OSError as exc:  # a cache this process may not change: leave it to its owner
                log.warning("could not remove %s from the compiled-trees cache: %s", path, exc)
                continue
            removed.append(path)
    if removed:
        log.info("removed %d cached ranking heads and tables of models not used lately from %s",
                 len(removed), cache_dir)
    return removed
