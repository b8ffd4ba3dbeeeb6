"""Priority tagging: a score in [0, 1] per technology priority for any text with a vector.

Two signals are combined by a supervised, calibrated scikit-learn head over an encoder body:
  1. embedding similarity: the cosine of the text's vector to each priority description (P dims),
  2. term evidence: log(1 + occurrences) and presence of each priority's indicative terms (2P dims),
trained on weak labels derived from CORDIS metadata (EuroSciVoc paths, policy priorities, call topics).
Every priority's model sees the signals of all priorities (e.g. "radar" terms help tell sensors from
air systems). The raw 384-d embedding is deliberately not a feature: with a few dozen weak positives per
priority it overfits and, on the 2023 hold-out, scored below term matching alone.
Each priority has its own logistic regression, calibrated with Platt scaling (CalibratedClassifierCV), and
a decision threshold chosen on out-of-fold predictions of the training data only.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

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


class PriorityTagger(BaseEstimator):
    """One logistic regression per priority over :func:`priority_features`, Platt-calibrated.

    For each priority: 5-fold out-of-fold decision values of the head give (a) a Platt calibrator
    (sigmoid of the decision value, fit on out-of-fold values so it is not fooled by training fit) and
    (b) the F1-optimal decision threshold. The head is then refit on all rows. No nested CV: weak labels
    are scarce for some priorities (a few dozen positives) and nesting made thresholds unstable.
    """

    def __init__(self, C: float = 1.0, cv: int = 5, random_state: int = 0) -> None:
        self.C = C
        self.cv = cv
        self.random_state = random_state

    def _head(self):
        return make_pipeline(
            StandardScaler(),
            LogisticRegression(C=self.C, max_iter=3000, class_weight="balanced", random_state=self.random_state),
        )

    def fit(self, X: np.ndarray, Y: np.ndarray) -> PriorityTagger:
        X = np.asarray(X, dtype=np.float32)
        Y = np.asarray(Y, dtype=bool)
        if X.ndim != 2 or Y.ndim != 2 or len(X) != len(Y):
            raise ValueError(f"X and Y must be 2-D with the same rows, got {X.shape} and {Y.shape}")
        self.models_: list = []
        self.calibrators_: list = []
        self.thresholds_ = np.ones(Y.shape[1])
        self.prevalence_ = Y.mean(axis=0)
        folds = StratifiedKFold(self.cv, shuffle=True, random_state=self.random_state)
        for j in range(Y.shape[1]):
            y = Y[:, j]
            if y.sum() < 2 * self.cv:
                # Too few positives to learn from: a constant prior, never a fabricated classifier.
                self.models_.append(None)
                self.calibrators_.append(None)
                continue
            oof = cross_val_predict(self._head(), X, y, cv=folds, method="decision_function")
            calibrator = LogisticRegression(C=1e4, max_iter=1000).fit(oof[:, None], y)
            probs = calibrator.predict_proba(oof[:, None])[:, 1]
            self.thresholds_[j] = best_f1_threshold(y, probs)
            self.models_.append(self._head().fit(X, y))
            self.calibrators_.append(calibrator)
        self.n_features_in_ = X.shape[1]
        self.n_outputs_ = Y.shape[1]
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """(n, P) calibrated probabilities in [0, 1]."""
        check_is_fitted(self, "models_")
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(f"expected {self.n_features_in_} features, got shape {X.shape}")
        out = np.zeros((len(X), self.n_outputs_))
        for j, (model, calibrator) in enumerate(zip(self.models_, self.calibrators_, strict=True)):
            if model is None:
                out[:, j] = self.prevalence_[j]
            else:
                out[:, j] = calibrator.predict_proba(model.decision_function(X)[:, None])[:, 1]
        return np.clip(out, 0.0, 1.0)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.predict_proba(X) >= self.thresholds_


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
