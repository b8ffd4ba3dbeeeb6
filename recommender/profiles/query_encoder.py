"""Vectors and priority scores of free-text queries, for serving.

The workspace's encoder persists every new text (right for catalogue texts, wrong for arbitrary queries:
the on-disk cache would grow with every request); this keeps a bounded in-memory LRU instead.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import numpy as np


class QueryTextEncoder:
    """``encoder(texts) -> (vectors, priority scores)``, each text clipped like a project text."""

    def __init__(self, workspace, max_entries: int = 2048) -> None:
        from recommender.profiles.taxonomy import TermMatcher

        self.ws = workspace
        self.matcher = TermMatcher(workspace.taxonomy)
        self.description_vectors = workspace.encoder.encode([p.description for p in workspace.taxonomy.priorities])
        self.max_entries = max_entries
        self.cache: OrderedDict[str, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self.lock = threading.Lock()

    def _vectors(self, texts: list[str]) -> np.ndarray:
        encoder = self.ws.encoder
        model = getattr(encoder, "model", None)
        cached: list = [encoder.cache.get(_key(t)) for t in texts] if hasattr(encoder, "cache") else [None] * len(texts)
        missing = [i for i, v in enumerate(cached) if v is None]
        if missing and model is not None:
            fresh = model.encode(
                [texts[i] for i in missing], show_progress_bar=False, convert_to_numpy=True, normalize_embeddings=True
            )
            for i, v in zip(missing, fresh, strict=True):
                cached[i] = v
        elif missing:
            fresh = encoder.encode([texts[i] for i in missing])
            for i, v in zip(missing, fresh, strict=True):
                cached[i] = v
        return np.stack(cached).astype(np.float32)

    def __call__(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        from recommender.profiles.profiles import score_texts
        from recommender.profiles.text import clip

        clipped = [clip(" ".join(t.split()))[0] for t in texts]
        out: list[tuple[np.ndarray, np.ndarray] | None] = []
        with self.lock:
            for t in clipped:
                hit = self.cache.get(t)
                if hit is not None:
                    self.cache.move_to_end(t)
                out.append(hit)
        todo = [i for i, hit in enumerate(out) if hit is None]
        if todo:
            texts_todo = [clipped[i] for i in todo]
            vectors = self._vectors(texts_todo)
            scores = score_texts(texts_todo, vectors, self.description_vectors, self.matcher, self.ws.tagger)
            with self.lock:
                for j, i in enumerate(todo):
                    encoded = (vectors[j], scores[j])
                    out[i] = encoded
                    self.cache[clipped[i]] = encoded
                while len(self.cache) > self.max_entries:
                    self.cache.popitem(last=False)
        done = [o for o in out if o is not None]
        return np.stack([o[0] for o in done]), np.stack([o[1] for o in done])


def _key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
