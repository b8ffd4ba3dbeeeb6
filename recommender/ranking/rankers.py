"""Rankers behind one small contract: ``fit(training=None) -> self``, ``rank(query, k) -> (ids, scores)``,
``rank_batch(queries, k)``, ``save(dir)`` and ``load(dir, index)``.

Baselines (popularity, TF-IDF cosine, embedding cosine, Adamic-Adar) score every allowed candidate. The
learned ranker generates candidates (semantic neighbours, graph neighbours, experienced organisations)
and re-ranks them with scikit-learn gradient boosting, one head for organisation queries and one for
free-text queries (which have no place in the collaboration graph).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import NotFittedError
from sklearn.feature_extraction.text import TfidfVectorizer

from recommender.artifacts import read_verified_manifest, write_model_dir
from recommender.ranking.features import FEATURES, graph_vectors, pair_features
from recommender.ranking.index import Query, RankingIndex, ResolvedQuery

Ranking = tuple[np.ndarray, np.ndarray]  # (organisation ids, scores), best first

_CONTROLLER = None


def single_openmp_thread():
    """Limit OpenMP to one thread while predicting: for a few hundred rows per query, gradient boosting's
    per-tree OpenMP start-up costs more than it saves (measured: 13x less time in tree prediction)."""
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=1, user_api="openmp")


def top_k(rows: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best (rows, scores): score descending, ties broken by row ascending (deterministic)."""
    if len(rows) == 0 or k <= 0:
        return rows[:0], scores[:0]
    if len(rows) > k:
        part = np.argpartition(-scores, k - 1)[:k]
        kth = scores[part].min()
        part = np.flatnonzero(scores >= kth)  # keep every tie at the boundary, then sort
        rows, scores = rows[part], scores[part]
    order = np.lexsort((rows, -scores))[:k]
    return rows[order], scores[order]


class Ranker:
    """Base class: subclasses implement ``_score(rq, rows)`` (higher is better) or override ranking."""

    name = "ranker"

    def __init__(self, index: RankingIndex) -> None:
        self.index = index

    def fit(self, training: object | None = None) -> Ranker:
        self.fitted_ = True
        return self

    def _check_fitted(self) -> None:
        if not getattr(self, "fitted_", False):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() or load()")

    def _check_k(self, k: int) -> None:
        if not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")

    def rank(self, query: Query, k: int = 10) -> Ranking:
        self._check_k(k)
        return self.rank_resolved(self.index.resolve(query), k)

    def rank_batch(self, queries: list[Query], k: int = 10) -> list[Ranking]:
        self._check_k(k)
        return [self.rank_resolved(rq, k) for rq in self.index.resolve_many(list(queries))]

    def rank_resolved(self, rq: ResolvedQuery, k: int) -> Ranking:
        self._check_fitted()
        rows = np.flatnonzero(self.index.allowed(rq))
        best, scores = top_k(rows, self._score(rq, rows).astype(np.float64), k)
        return self.index.ids[best], scores

    def _score(self, rq: ResolvedQuery, rows: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def save(self, directory: Path, manifest: dict | None = None) -> dict:
        return write_model_dir(
            directory, {"params.json": lambda p: p.write_text(json.dumps({}))}, {"kind": self.name, **(manifest or {})}
        )

    @classmethod
    def load(cls, directory: Path, index: RankingIndex) -> Ranker:
        manifest = read_verified_manifest(directory)
        if manifest.get("kind") != cls.name:
            from recommender.artifacts import ModelIntegrityError

            raise ModelIntegrityError(f"{directory} holds a {manifest.get('kind')!r} model, not {cls.name!r}")
        return cls(index).fit()


class PopularityRanker(Ranker):
    """The most experienced organisations (projects taken part in), whatever the query."""

    name = "popularity"

    def _score(self, rq, rows):
        return self.index.graph.projects[rows]


class EmbeddingRanker(Ranker):
    """Cosine similarity of capability-profile vectors."""

    name = "embedding-cosine"

    def _score(self, rq, rows):
        sims = (self.index.vectors @ rq.vector)[rows]
        return np.where(self.index.has_profile[rows], sims, -1.0)


class AdamicAdarRanker(Ranker):
    """Adamic-Adar index in the past collaboration graph (zero for free-text queries: no node)."""

    name = "adamic-adar"

    def _score(self, rq, rows):
        graph = graph_vectors(self.index, rq)
        return np.zeros(len(rows)) if graph is None else graph[1][rows]


class TfidfRanker(Ranker):
    """TF-IDF cosine between the query's text and each organisation's text (description + project texts)."""

    name = "tfidf-cosine"
    max_projects = 25

    def _documents(self) -> list[str]:
        prof = self.index.profiles
        weights = prof.org_weights
        docs = []
        for row, oid in enumerate(self.index.ids):
            start, end = weights.indptr[row], weights.indptr[row + 1]
            cols = weights.indices[start:end][np.argsort(-weights.data[start:end], kind="stable")][: self.max_projects]
            parts = [prof.org_description_texts.get(oid, "")] + [prof.project_texts[c] for c in cols]
            docs.append(" ".join(p for p in parts if p))
        return docs

    def fit(self, training: object | None = None) -> TfidfRanker:
        docs = self._documents()
        self.vectorizer_ = TfidfVectorizer(
            sublinear_tf=True, min_df=2, max_df=0.5, stop_words="english", max_features=100_000, dtype=np.float32
        )
        self.vectorizer_.fit(docs)
        self.matrix_ = self.vectorizer_.transform(docs).tocsr()  # the same path as load(): identical scores
        self.fitted_ = True
        return self

    def _query_vector(self, rq):
        if rq.query.text and rq.query.text.strip():
            return self.vectorizer_.transform([rq.query.text])
        return self.matrix_[rq.row]

    def _score(self, rq, rows):
        q = self._query_vector(rq)
        return (self.matrix_ @ q.T).toarray().ravel()[rows]

    def save(self, directory: Path, manifest: dict | None = None) -> dict:
        return write_model_dir(
            directory,
            {"vectorizer.joblib": lambda p: joblib.dump(self.vectorizer_, p)},
            {"kind": self.name, **(manifest or {})},
        )

    @classmethod
    def load(cls, directory: Path, index: RankingIndex) -> TfidfRanker:
        read_verified_manifest(directory, expect={"kind": cls.name})
        ranker = cls(index)
        ranker.vectorizer_ = joblib.load(directory / "vectorizer.joblib")
        ranker.matrix_ = ranker.vectorizer_.transform(ranker._documents()).tocsr()
        ranker.fitted_ = True
        return ranker


BASELINES: dict[str, type[Ranker]] = {
    cls.name: cls for cls in (PopularityRanker, TfidfRanker, EmbeddingRanker, AdamicAdarRanker)
}


# --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CandidateConfig:
    semantic: int = 300
    graph: int = 300
    popular: int = 100


def generate_candidates(
    index: RankingIndex,
    rq: ResolvedQuery,
    mask: np.ndarray,
    cfg: CandidateConfig,
    graph: tuple[np.ndarray, np.ndarray] | None,
) -> np.ndarray:
    """Union of semantic neighbours, graph neighbours and experienced organisations, within ``mask``."""
    allowed = np.flatnonzero(mask)
    parts = []
    if rq.has_profile and len(allowed):
        profiled = allowed[index.has_profile[allowed]]
        sims = (index.vectors @ rq.vector)[profiled]  # one pass over the matrix, no row copy
        parts.append(top_k(profiled, sims.astype(np.float64), cfg.semantic)[0])
    if graph is not None:
        aa = graph[1]
        linked = allowed[aa[allowed] > 0]
        parts.append(top_k(linked, aa[linked], cfg.graph)[0])
    # With neither a profile nor a history, experience is all there is to go on: widen that pool.
    n_popular = cfg.popular if rq.has_profile or graph is not None else cfg.popular + cfg.semantic
    popular = index.popular(rq.query.region, n_popular + len(rq.query.exclude) + 1)
    parts.append(popular[mask[popular]][:n_popular])
    return np.unique(np.concatenate(parts)) if parts else allowed[:0]


@dataclass
class TrainingSet:
    """Feature rows with binary labels for each head ('org' and 'text')."""

    X: dict[str, np.ndarray]
    y: dict[str, np.ndarray]


class LearnedRanker(Ranker):
    """Candidate generation plus gradient-boosted re-ranking (scikit-learn), explained by ablation."""

    name = "learned"
    # org: organisation queries, European or not (the feature query_outside_europe tells them apart);
    # text: free-text queries, which have no country and no place in the graph.
    # A separate head for organisations from outside Europe was tried and dropped: chosen on an inner time
    # split (train on pairs of 2021, validate on 2022, never on the 2023 report year), one shared head
    # ranked better for the 2,409 outside-Europe queries (Recall@20 0.066 vs 0.055; popularity 0.064)
    # and for the 18 Korean ones (0.053 vs 0.046): the separate head had too few positives (984).
    HEADS = ("org", "text")

    def __init__(
        self,
        index: RankingIndex,
        candidates: CandidateConfig | None = None,
        max_iter: int = 300,
        learning_rate: float = 0.05,
        max_leaf_nodes: int = 31,
        l2_regularization: float = 1.0,
        random_state: int = 0,
    ) -> None:
        super().__init__(index)
        self.candidates = candidates or CandidateConfig()
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.l2_regularization = l2_regularization
        self.random_state = random_state

    def get_params(self) -> dict:
        return {
            "candidates": vars(self.candidates),
            "max_iter": self.max_iter,
            "learning_rate": self.learning_rate,
            "max_leaf_nodes": self.max_leaf_nodes,
            "l2_regularization": self.l2_regularization,
            "random_state": self.random_state,
        }

    def _head(self) -> HistGradientBoostingClassifier:
        return HistGradientBoostingClassifier(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            l2_regularization=self.l2_regularization,
            early_stopping=False,
            random_state=self.random_state,
        )

    def fit(self, training: TrainingSet | None = None) -> LearnedRanker:
        if training is None:
            raise ValueError("LearnedRanker.fit needs a TrainingSet (see training/ranker.py)")
        self.heads_ = {}
        self.baseline_ = {}
        for head in self.HEADS:
            if head not in training.X:
                continue
            X, y = training.X[head], training.y[head]
            if X.shape[1] != len(FEATURES):
                raise ValueError(f"{head} head: expected {len(FEATURES)} features, got {X.shape[1]}")
            if len(np.unique(y)) < 2:
                raise ValueError(f"{head} head: training labels need positives and negatives")
            self.heads_[head] = self._head().fit(X, y)
            self.baseline_[head] = np.median(X, axis=0).astype(np.float32)
        if "org" not in self.heads_ or "text" not in self.heads_:
            raise ValueError("LearnedRanker.fit needs training rows for the org and text heads")
        self.fitted_ = True
        return self

    @staticmethod
    def head_for(rq: ResolvedQuery) -> str:
        """Organisations (with or without history) use the org head, trained on newcomers too."""
        return "text" if rq.row is None else "org"

    def candidate_rows(self, rq: ResolvedQuery, graph=None) -> np.ndarray:
        return generate_candidates(self.index, rq, self.index.allowed(rq), self.candidates, graph)

    def score_rows(self, rq: ResolvedQuery, rows: np.ndarray, graph=None) -> np.ndarray:
        X = pair_features(self.index, rq, rows, graph)
        with single_openmp_thread():
            return self.heads_[self.head_for(rq)].predict_proba(X)[:, 1]

    def rank_resolved(self, rq: ResolvedQuery, k: int) -> Ranking:
        self._check_fitted()
        graph = graph_vectors(self.index, rq)
        rows = self.candidate_rows(rq, graph)
        if len(rows) == 0:
            return self.index.ids[:0], np.zeros(0)
        best, scores = top_k(rows, self.score_rows(rq, rows, graph), k)
        return self.index.ids[best], scores

    def contributions(self, rq: ResolvedQuery, rows: np.ndarray) -> np.ndarray:
        """(len(rows), n_features): score drop when each feature is reset to its training median."""
        head = self.heads_[self.head_for(rq)]
        X = pair_features(self.index, rq, rows)
        base = head.predict_proba(X)[:, 1]
        n, f = X.shape
        ablated = np.repeat(X[None, :, :], f, axis=0)  # (f, n, f)
        for j in range(f):
            ablated[j, :, j] = self.baseline_[self.head_for(rq)][j]
        with single_openmp_thread():
            scores = head.predict_proba(ablated.reshape(f * n, f))[:, 1].reshape(f, n)
        return (base[None, :] - scores).T

    def save(self, directory: Path, manifest: dict | None = None, extra_files: dict[str, str] | None = None) -> dict:
        """Write heads, parameters and any ``extra_files`` (name -> text, e.g. reports) under one manifest."""

        def write_heads(path: Path) -> None:
            joblib.dump({"heads": self.heads_, "baseline": self.baseline_, "features": FEATURES}, path)

        writers = {
            "heads.joblib": write_heads,
            "params.json": lambda p: p.write_text(json.dumps(self.get_params(), sort_keys=True)),
        }
        for name, text in (extra_files or {}).items():
            writers[name] = lambda p, t=text: p.write_text(t)
        return write_model_dir(
            directory,
            writers,
            {"kind": self.name, "features": list(FEATURES), "config": self.get_params(), **(manifest or {})},
        )

    @classmethod
    def load(cls, directory: Path, index: RankingIndex, expect: dict | None = None) -> LearnedRanker:
        """Load after checking every file's sha256, the kind, the feature list and ``expect`` fields."""
        read_verified_manifest(directory, expect={"kind": cls.name, "features": list(FEATURES), **(expect or {})})
        params = json.loads((directory / "params.json").read_text())
        ranker = cls(index, candidates=CandidateConfig(**params.pop("candidates")), **params)
        state = joblib.load(directory / "heads.joblib")
        ranker.heads_, ranker.baseline_ = state["heads"], state["baseline"]
        ranker.fitted_ = True
        return ranker
