"""Test doubles: a keyword encoder with exact, predictable vectors."""

from __future__ import annotations

import re

import numpy as np

VOCAB = (
    "drone",
    "swarm",
    "unmanned",
    "chip",
    "semiconductor",
    "radar",
    "sonar",
    "naval",
    "cyber",
    "missile",
    "satellite",
    "quantum",
    "software",
)


class KeywordEncoder:
    """One dimension per vocabulary keyword (prefix match on words) plus a small constant dimension."""

    fingerprint = "keyword-fake"

    def __init__(self, vocab: tuple[str, ...] = VOCAB) -> None:
        self.vocab = vocab
        self.calls: list[int] = []

    def encode(self, texts, show_progress: bool = False) -> np.ndarray:
        self.calls.append(len(texts))
        out = np.zeros((len(texts), len(self.vocab) + 1), dtype=np.float32)
        for i, text in enumerate(texts):
            words = re.findall(r"[a-z]+", text.lower())
            for j, key in enumerate(self.vocab):
                out[i, j] = sum(w.startswith(key) for w in words)
            out[i, -1] = 0.1
        return out / np.linalg.norm(out, axis=1, keepdims=True)
