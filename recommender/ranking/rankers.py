"""Rankers behind one small contract: ``fit(training=None) -> self``, ``rank(query, k) -> (ids, scores)``,
``rank_batch(queries, k)``, ``save(dir)`` and ``load(dir, index)``.

Every ranker ranks only what the index allows for the query: the requested side, minus the query's
known partners (unless included), funding bodies (unless asked for) and, with a priority, organisations
without demonstrated capability in it. Ties are broken by relevance (profile similarity), then by row.

Baselines (popularity, defence experience, TF-IDF cosine, BM25, embedding cosine, Adamic-Adar) score every
allowed candidate. The learned ranker generates candidates (semantic, lexical, collaboration-graph and
defence-graph neighbours, the most experienced and the most defence-experienced organisations, the
specialists of a requested priority) and re-ranks them with LightGBM LambdaMART, one head for
organisation queries and one for free-text queries (which have no place in the collaboration graph).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import joblib
import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.feature_extraction.text import TfidfVectorizer

from recommender.artifacts import read_verified_manifest, write_model_dir
from recommender.history import INSTRUMENT_FAMILIES
from recommender.ranking.features import FEATURES, QueryContext, pair_features, query_context, requested_priority
from recommender.ranking.index import Query, RankingIndex, ResolvedQuery

Ranking = tuple[np.ndarray, np.ndarray]  # (organisation ids, scores), best first


def top_k(
    rows: np.ndarray, scores: np.ndarray, k: int, tiebreak: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The k best (rows, scores): score descending, ties broken by ``tiebreak`` descending (relevance),
    then by row ascending (deterministic)."""
    if len(rows) == 0 or k <= 0:
        return rows[:0], scores[:0]
    if tiebreak is None:
        tiebreak = np.zeros(len(rows))
    if len(rows) > k:
        part = np.argpartition(-scores, k - 1)[:k]
        kth = scores[part].min()
        part = np.flatnonzero(scores >= kth)  # keep every tie at the boundary, then sort
        rows, scores, tiebreak = rows[part], scores[part], tiebreak[part]
    order = np.lexsort((rows, -tiebreak, -scores))[:k]
    return rows[order], scores[order]


def relevance(index: RankingIndex, rq: ResolvedQuery, rows: np.ndarray) -> np.ndarray:
    """Profile similarity of ``rows`` to the query: the tie-breaker of every ranker."""
    if not rq.has_profile:
        return np.zeros(len(rows))
    return np.where(index.has_profile[rows], index.vectors[rows] @ rq.vector, -1.0).astype(np.float64)


class Ranker:
    """Base class: subclasses implement ``_score(rq, rows)`` (higher is better) or override ranking."""

    name = "ranker"
    description = ""

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
        scores = self._score(rq, rows).astype(np.float64)
        best, scores = top_k(rows, scores, k, relevance(self.index, rq, rows))
        return self.index.ids[best], scores

    def score_rows(self, rq: ResolvedQuery, rows: np.ndarray, ctx: QueryContext | None = None) -> np.ndarray:
        """Scores of the given candidate rows (the same numbers ``rank_resolved`` sorts by)."""
        self._check_fitted()
        return self._score(rq, rows).astype(np.float64)

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
    """The most experienced organisations (projects taken part in), past partners left out (as every ranker
    does by default)."""

    name = "popularity"
    description = "most projects first, past partners left out"

    def _score(self, rq, rows):
        return self.index.graph.projects[rows]


class DefenceExperienceRanker(Ranker):
    """EDF participations first, then security research, then all participations; past partners left out."""

    name = "defence-experience"
    description = "most EDF, then security-research, then all participations first, past partners left out"

    def _score(self, rq, rows):
        return self.index.defence_experience_score()[rows]


class EmbeddingRanker(Ranker):
    """Cosine similarity of capability-profile vectors."""

    name = "embedding-cosine"
    description = "capability-profile vector cosine"

    def _score(self, rq, rows):
        sims = (self.index.vectors @ rq.vector)[rows]
        return np.where(self.index.has_profile[rows], sims, -1.0)


class Bm25Ranker(Ranker):
    """BM25 between the query's terms and each organisation's best-matching own text."""

    name = "bm25"
    description = "BM25 of the query's distinctive terms against each organisation's own texts"

    def _score(self, rq, rows):
        return query_context(self.index, rq).lexical[rows]


class AdamicAdarRanker(Ranker):
    """Adamic-Adar index in the past collaboration graph (zero for free-text queries: no node)."""

    name = "adamic-adar"
    description = "Adamic-Adar in the past collaboration graph"

    def _score(self, rq, rows):
        if rq.row is None or not rq.has_graph:
            return np.zeros(len(rows))
        return self.index.graph.neighbour_scores(rq.row)[1][rows]


class TfidfRanker(Ranker):
    """TF-IDF cosine between the query's text and each organisation's text (description + project texts)."""

    name = "tfidf-cosine"
    description = "TF-IDF cosine of organisation texts"
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
    cls.name: cls
    for cls in (PopularityRanker, DefenceExperienceRanker, TfidfRanker, Bm25Ranker, EmbeddingRanker, AdamicAdarRanker)
}


# --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CandidateConfig:
    semantic: int = 300
    lexical: int = 200
    graph: int = 300
    defence_graph: int = 100
    popular: int = 100
    defence: int = 150
    specialists: int = 150


EVALUATED_PREFIX = "evaluated-"
DEFENCE_INSTRUMENTS = frozenset(i for i, fams in INSTRUMENT_FAMILIES.items() if "edf" in fams)
GENERATORS = ("semantic", "lexical", "graph", "defence_graph", "popular", "defence", "specialists")


def generate_candidates(
    index: RankingIndex, ctx: QueryContext, mask: np.ndarray, cfg: CandidateConfig
) -> dict[str, np.ndarray]:
    """Each generator's candidate rows within ``mask`` (see ``GENERATORS``); the pool is their union."""
    rq = ctx.rq
    allowed = np.flatnonzero(mask)
    out: dict[str, np.ndarray] = {name: allowed[:0] for name in GENERATORS}
    if len(allowed) == 0:
        return out
    if rq.has_profile:
        profiled = allowed[index.has_profile[allowed]]
        near, sims = index.vector_search.shortlist(rq.vector, profiled, cfg.semantic)
        out["semantic"] = top_k(near, sims, cfg.semantic)[0]
    lexical = ctx.lexical[allowed]
    matched = lexical > 0
    out["lexical"] = top_k(allowed[matched], lexical[matched], cfg.lexical)[0]
    if ctx.rd_graph is not None:
        aa = ctx.graph[1] if ctx.graph is not None else ctx.rd_graph[1]
        linked = allowed[aa[allowed] > 0]
        out["graph"] = top_k(linked, aa[linked], cfg.graph)[0]
    if ctx.defence_graph is not None:
        aa = ctx.defence_graph[1]
        linked = allowed[aa[allowed] > 0]
        out["defence_graph"] = top_k(linked, aa[linked], cfg.defence_graph)[0]
    # With neither a profile nor a history, experience is all there is to go on: widen that pool.
    n_popular = cfg.popular if rq.has_profile or ctx.graph is not None else cfg.popular + cfg.semantic
    out["popular"] = top_k(allowed, index.graph.projects[allowed].astype(np.float64), n_popular)[0]
    defence = index.defence_experience_score()[allowed]
    experienced = defence >= 1e3  # at least one EDF or security-research participation
    n_defence = cfg.defence * (3 if rq.query.instrument in DEFENCE_INSTRUMENTS else 1)
    out["defence"] = top_k(allowed[experienced], defence[experienced], n_defence)[0]
    p, _ = requested_priority(index, rq)
    strength = index.evidence_projects[allowed, p] + index.declared[allowed, p]
    shown = strength > 0
    out["specialists"] = top_k(allowed[shown], strength[shown].astype(np.float64), cfg.specialists)[0]
    return out


@dataclass
class TrainingSet:
    """Feature rows per head ('org' and 'text'), with graded labels, query groups (consecutive rows of one
    query, sizes in ``groups``) and one weight per group."""

    X: dict[str, np.ndarray]
    y: dict[str, np.ndarray]
    groups: dict[str, np.ndarray] = field(default_factory=dict)
    weights: dict[str, np.ndarray] = field(default_factory=dict)


class LearnedRanker(Ranker):
    """Candidate generation plus LightGBM LambdaMART re-ranking, explained by TreeSHAP contributions."""

    name = "learned"
    description = "candidate generators + LightGBM LambdaMART over pair features"
    # org: organisation queries, European or not (the feature query_outside_europe tells them apart);
    # defence: organisation queries under a defence instrument (EDF, EDIP, SAFE), trained on EDF consortia
    #   only, so that defence rows are not outweighed by the Horizon Europe majority;
    # text: free-text queries, which have no country and no place in the graph.
    HEADS = ("org", "defence", "text")

    def __init__(
        self,
        index: RankingIndex,
        candidates: CandidateConfig | None = None,
        n_estimators: int = 150,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 50,
        reg_lambda: float = 1.0,
        colsample_bytree: float = 0.8,
        random_state: int = 0,
    ) -> None:
        super().__init__(index)
        self.candidates = candidates or CandidateConfig()
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.reg_lambda = reg_lambda
        self.colsample_bytree = colsample_bytree
        self.random_state = random_state

    def get_params(self) -> dict:
        return {
            "candidates": vars(self.candidates),
            "n_estimators": self.n_estimators,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "reg_lambda": self.reg_lambda,
            "colsample_bytree": self.colsample_bytree,
            "random_state": self.random_state,
        }

    def _head(self):
        import lightgbm as lgb

        return lgb.LGBMRanker(
            objective="lambdarank",
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples,
            reg_lambda=self.reg_lambda,
            colsample_bytree=self.colsample_bytree,
            subsample=0.8,
            subsample_freq=1,
            lambdarank_truncation_level=40,
            random_state=self.random_state,
            n_jobs=1,
            deterministic=True,
            force_row_wise=True,
            verbose=-1,
        )

    def fit(self, training: TrainingSet | None = None) -> LearnedRanker:
        if training is None:
            raise ValueError("LearnedRanker.fit needs a TrainingSet (see training/ranker.py)")
        self.heads_ = {}
        for head in self.HEADS:
            if head not in training.X:
                continue
            X, y = training.X[head], training.y[head]
            groups = training.groups.get(head)
            if X.shape[1] != len(FEATURES):
                raise ValueError(f"{head} head: expected {len(FEATURES)} features, got {X.shape[1]}")
            if groups is None or int(np.sum(groups)) != len(y):
                raise ValueError(f"{head} head: query groups must cover the {len(y)} training rows")
            if len(np.unique(y)) < 2:
                raise ValueError(f"{head} head: training labels need positives and negatives")
            weights = training.weights.get(head)
            row_weights = None if weights is None else np.repeat(weights, groups)
            model = self._head().fit(X, y, group=groups, sample_weight=row_weights)
            self.heads_[head] = model.booster_
        if "org" not in self.heads_ or "text" not in self.heads_:
            raise ValueError("LearnedRanker.fit needs training rows for the org and text heads")
        if "defence" not in self.heads_:  # no EDF consortia to learn from: the org head serves them
            self.heads_["defence"] = self.heads_["org"]
        self.fitted_ = True
        return self

    @staticmethod
    def head_for(rq: ResolvedQuery) -> str:
        """Free text uses the text head; organisations (newcomers too) the org head, or the defence head
        when they ask under a defence instrument."""
        if rq.row is None:
            return "text"
        return "defence" if rq.query.instrument in DEFENCE_INSTRUMENTS else "org"

    def context(self, rq: ResolvedQuery) -> QueryContext:
        return query_context(self.index, rq)

    def generator_rows(self, rq: ResolvedQuery, ctx: QueryContext | None = None) -> dict[str, np.ndarray]:
        ctx = ctx or self.context(rq)
        return generate_candidates(self.index, ctx, self.index.allowed(rq), self.candidates)

    def candidate_rows(self, rq: ResolvedQuery, ctx: QueryContext | None = None) -> np.ndarray:
        parts = list(self.generator_rows(rq, ctx).values())
        return np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)

    def raw_scores(self, rq: ResolvedQuery, rows: np.ndarray, ctx: QueryContext | None = None) -> np.ndarray:
        X = pair_features(self.index, ctx or self.context(rq), rows)
        return self.heads_[self.head_for(rq)].predict(X, num_threads=1)

    def score_rows(self, rq: ResolvedQuery, rows: np.ndarray, ctx: QueryContext | None = None) -> np.ndarray:
        """Scores in (0, 1): the logistic of the LambdaMART margin (same order, comparable bins)."""
        self._check_fitted()
        if len(rows) == 0:
            return np.zeros(0)
        return 1.0 / (1.0 + np.exp(-self.raw_scores(rq, rows, ctx)))

    def rank_resolved(self, rq: ResolvedQuery, k: int) -> Ranking:
        self._check_fitted()
        ctx = self.context(rq)
        rows = self.candidate_rows(rq, ctx)
        if len(rows) == 0:
            return self.index.ids[:0], np.zeros(0)
        best, scores = top_k(rows, self.score_rows(rq, rows, ctx), k, relevance(self.index, rq, rows))
        return self.index.ids[best], scores

    def contributions(self, rq: ResolvedQuery, rows: np.ndarray, ctx: QueryContext | None = None) -> np.ndarray:
        """(len(rows), n_features): each feature's TreeSHAP contribution to the ranking margin."""
        self._check_fitted()
        if len(rows) == 0:
            return np.zeros((0, len(FEATURES)))
        X = pair_features(self.index, ctx or self.context(rq), rows)
        contrib = self.heads_[self.head_for(rq)].predict(X, pred_contrib=True, num_threads=1)
        return np.asarray(contrib)[:, : len(FEATURES)]

    def head_files(self, prefix: str = "") -> dict[str, str]:
        """The heads as LightGBM text models, by file name."""
        return {f"{prefix}head-{head}.txt": booster.model_to_string() for head, booster in self.heads_.items()}

    def save(self, directory: Path, manifest: dict | None = None, extra_files: dict[str, str] | None = None) -> dict:
        """Write heads (LightGBM text models), parameters and any ``extra_files`` under one manifest."""
        writers = {
            f"head-{head}.txt": (lambda p, b=booster: p.write_text(b.model_to_string()))
            for head, booster in self.heads_.items()
        }
        writers["params.json"] = lambda p: p.write_text(json.dumps(self.get_params(), sort_keys=True))
        for name, text in (extra_files or {}).items():
            writers[name] = lambda p, t=text: p.write_text(t)
        return write_model_dir(
            directory,
            writers,
            {"kind": self.name, "features": list(FEATURES), "config": self.get_params(), **(manifest or {})},
        )

    @classmethod
    def load(
        cls, directory: Path, index: RankingIndex, expect: dict | None = None, prefix: str = ""
    ) -> LearnedRanker:
        """Load after checking every file's sha256, the kind, the feature list and ``expect`` fields.

        ``prefix`` selects another set of heads in the same folder: ``EVALUATED_PREFIX`` is the same design
        trained one year earlier, whose out-of-time evaluation the folder's report shows."""
        import lightgbm as lgb

        read_verified_manifest(directory, expect={"kind": cls.name, "features": list(FEATURES), **(expect or {})})
        params = json.loads((directory / "params.json").read_text())
        ranker = cls(index, candidates=CandidateConfig(**params.pop("candidates")), **params)
        ranker.heads_ = {
            head: lgb.Booster(model_str=(directory / f"{prefix}head-{head}.txt").read_text()) for head in cls.HEADS
        }
        ranker.fitted_ = True
        return ranker

    def bound_to(self, index: RankingIndex) -> LearnedRanker:
        """The same fitted model serving another index (fitted state is shared, read-only)."""
        params = {k: v for k, v in self.get_params().items() if k != "candidates"}
        ranker = LearnedRanker(index, self.candidates, **params)
        if hasattr(self, "heads_"):
            ranker.heads_ = self.heads_
            ranker.fitted_ = getattr(self, "fitted_", False)
        return ranker
