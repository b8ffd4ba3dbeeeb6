"""Priority signals shared by the tagger (tagger.py), its baseline and the profiles' evidence.

These need numpy only: serving reads priority scores from the snapshot and imports scikit-learn (about 0.9 s,
most of it scipy.stats) only when a tagger is trained or loaded, for a free text or a new profile.
``PriorityTagger`` is still reachable here, loaded on first use, because taggers saved before it moved to
tagger.py name this module in their pickles.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from recommender.profiles.taxonomy import TermMatcher


def priority_features(vectors: np.ndarray, term_counts: np.ndarray, description_vectors: np.ndarray) -> np.ndarray:
    """Feature matrix [cosine to each priority description, log1p term counts, term presence]."""
    sims = vectors @ description_vectors.T
    return np.hstack([sims, np.log1p(term_counts), term_counts > 0]).astype(np.float32)


def best_f1_threshold(y: np.ndarray, scores: np.ndarray) -> float:
    """The score threshold maximising F1 (ties: the higher threshold); 0.5 when y has no positive."""
    if y.sum() == 0:
        return 0.5
    order = np.argsort(-scores, kind="stable")
    s, t = scores[order], y[order].astype(np.int64)
    tp = np.cumsum(t)
    fp = np.cumsum(1 - t)
    f1 = 2 * tp / (tp + fp + t.sum())
    # only cut between distinct scores
    distinct = np.r_[s[1:] != s[:-1], True]
    best = int(np.argmax(np.where(distinct, f1, -1)))
    return float(s[best])


class ThresholdBaseline:
    """A one-signal tagger for comparison: positive when a score passes a threshold tuned on training data."""

    def fit(self, scores: np.ndarray, Y: np.ndarray) -> ThresholdBaseline:
        self.thresholds_ = np.array([best_f1_threshold(Y[:, j], scores[:, j]) for j in range(Y.shape[1])])
        return self

    def predict(self, scores: np.ndarray) -> np.ndarray:
        return scores >= self.thresholds_


def term_evidence(matcher: TermMatcher, text: str, top: int = 5) -> list[list[str]]:
    """Per priority, the most frequent matched terms in ``text`` (most frequent first)."""
    out = []
    for found in matcher.find(text):
        counts: dict[str, int] = {}
        for term in found:
            counts[term] = counts.get(term, 0) + 1
        out.append([t for t, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]])
    return out


def __getattr__(name: str) -> Any:
    if name == "PriorityTagger":
        from recommender.profiles.tagger import PriorityTagger

        return PriorityTagger
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
