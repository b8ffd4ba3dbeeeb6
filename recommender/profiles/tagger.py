"""The priority tagger: a score in [0, 1] per technology priority for any text with a vector.

Three signals are combined by a supervised, calibrated scikit-learn classifier over an encoder body:
  1. embedding similarity: the cosine of the text's vector to each priority description (P dims),
  2. curated term evidence: log(1 + occurrences) and presence of each priority's indicative terms (2P dims),
  3. learned term evidence: TF-IDF of the text's words and word pairs, so the classifier learns the
     vocabulary of each priority from the weak labels beyond the curated term lists,
trained on weak labels derived from CORDIS metadata (EuroSciVoc paths, policy priorities, call topics).
Every priority's model sees the signals of all priorities (e.g. "radar" terms help tell sensors from
air systems). Each priority has its own L2 logistic regression; its out-of-fold decision values give a
Platt calibrator and the F1-optimal decision threshold, so nothing is tuned on the rows it is scored on.

Design chosen by cross-validation inside the training years only (projects signed up to 2022), never on
the 2023 hold-out (training/priority_tagger.py). Random 5-fold CV first favoured TF-IDF strongly (macro-F1
0.551 vs 0.493 for curated terms alone, 0.481 without TF-IDF), but it leaks: projects of one call topic share
words and topic-code labels across folds, while a new year brings new topics (62 of 789 topics of 2023 were
seen before). Folds grouped by call topic remove that leak (`corridor tagger select`,
reports/priority_tagger_selection.md): curated terms 0.520, TF-IDF with C=4 0.520, C=1 0.524, C=0.25 0.530,
so the shipped C is 0.25, the strongest regularisation tried. The raw 384-d embedding as extra features
added nothing and is left out.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from recommender.profiles.priorities import best_f1_threshold


class PriorityTagger(BaseEstimator):
    """One logistic regression per priority over TF-IDF of the text plus :func:`priority_features`.

    For each priority: 5-fold out-of-fold decision values give (a) a Platt calibrator (sigmoid of the
    decision value, fit on out-of-fold values so it is not fooled by training fit) and (b) the F1-optimal
    decision threshold. The head is then refit on all rows. ``dense_weight`` scales the standardised dense
    signals against the unit-norm TF-IDF rows (the two live on different scales).
    """

    def __init__(
        self,
        C: float = 0.25,
        dense_weight: float = 0.3,
        max_features: int = 50_000,
        cv: int = 5,
        random_state: int = 0,
    ) -> None:
        self.C = C
        self.dense_weight = dense_weight
        self.max_features = max_features
        self.cv = cv
        self.random_state = random_state

    def _design(self, X: np.ndarray, texts: Sequence[str]) -> sparse.csr_matrix:
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(f"expected {self.n_features_in_} features, got shape {X.shape}")
        if len(texts) != len(X):
            raise ValueError(f"expected one text per feature row, got {len(texts)} texts for {len(X)} rows")
        dense = self.scaler_.transform(X) * self.dense_weight
        return sparse.hstack([self.vectorizer_.transform(texts), sparse.csr_matrix(dense)]).tocsr()

    def fit(self, X: np.ndarray, Y: np.ndarray, texts: Sequence[str]) -> PriorityTagger:
        self.__dict__.pop("_vocabulary_words", None)
        X = np.asarray(X, dtype=np.float32)
        Y = np.asarray(Y, dtype=bool)
        if X.ndim != 2 or Y.ndim != 2 or len(X) != len(Y):
            raise ValueError(f"X and Y must be 2-D with the same rows, got {X.shape} and {Y.shape}")
        self.n_features_in_ = X.shape[1]
        self.n_outputs_ = Y.shape[1]
        self.vectorizer_ = TfidfVectorizer(
            sublinear_tf=True, min_df=2, ngram_range=(1, 2), max_features=self.max_features, stop_words="english"
        ).fit(texts)
        self.scaler_ = StandardScaler().fit(X)
        design = self._design(X, texts)
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
            oof = cross_val_predict(self._head(), design, y, cv=folds, method="decision_function")
            calibrator = LogisticRegression(C=1e4, max_iter=1000).fit(oof[:, None], y)
            probs = calibrator.predict_proba(oof[:, None])[:, 1]
            self.thresholds_[j] = best_f1_threshold(y, probs)
            self.models_.append(self._head().fit(design, y))
            self.calibrators_.append(calibrator)
        return self

    def _head(self) -> LogisticRegression:
        return LogisticRegression(
            C=self.C, max_iter=3000, class_weight="balanced", random_state=self.random_state
        )

    def predict_proba(self, X: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        """(n, P) calibrated probabilities in [0, 1]."""
        check_is_fitted(self, "models_")
        design = self._design(X, texts)
        out = np.zeros((design.shape[0], self.n_outputs_))
        for j, (model, calibrator) in enumerate(zip(self.models_, self.calibrators_, strict=True)):
            if model is None:
                out[:, j] = self.prevalence_[j]
            else:
                out[:, j] = calibrator.predict_proba(model.decision_function(design)[:, None])[:, 1]
        return np.clip(out, 0.0, 1.0)

    def predict(self, X: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        return self.predict_proba(X, texts) >= self.thresholds_

    def _vocabulary(self) -> np.ndarray:
        """The vectorizer's words by column (sklearn rebuilds this array on every call: kept once read)."""
        words = self.__dict__.get("_vocabulary_words")
        if words is None:
            words = self.vectorizer_.get_feature_names_out()
            self.__dict__["_vocabulary_words"] = words
        return words

    def learned_terms(self, texts: Sequence[str], top: int = 5) -> list[list[list[str]]]:
        """Per text and priority, the words whose learned weight pushed the score up most (evidence)."""
        check_is_fitted(self, "models_")
        tfidf = self.vectorizer_.transform(texts).tocsr()
        vocab = self._vocabulary()
        n_words = len(vocab)
        # (P, words) learned weights; a priority without a model pushes nothing.
        coef = np.stack([np.zeros(n_words) if m is None else m.coef_[0, :n_words] for m in self.models_])
        push = tfidf.data[:, None] * coef[:, tfidf.indices].T  # (stored entries, P), one pass for all texts
        out = []
        for lo, hi in zip(tfidf.indptr[:-1], tfidf.indptr[1:], strict=True):
            words = tfidf.indices[lo:hi]
            per = []
            for j in range(len(self.models_)):
                row = push[lo:hi, j]
                order = np.argsort(-row, kind="stable")[:top]
                per.append([str(vocab[words[o]]) for o in order if row[o] > 0])
            out.append(per)
        return out
