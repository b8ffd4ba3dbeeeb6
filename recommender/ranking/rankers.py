"""The rankers of the registry :data:`RANKERS`, all under the contract of :mod:`recommender.ranking.contract`.

Baselines (popularity, defence experience, TF-IDF cosine, BM25, embedding cosine, Adamic-Adar) score every
allowed candidate. The learned ranker generates candidates (semantic, lexical, collaboration-graph and
defence-graph neighbours, the most experienced and the most defence-experienced organisations, the
specialists of a requested priority) and re-ranks them with LightGBM LambdaMART, one head for
organisation queries and one for free-text queries (which have no place in the collaboration graph); it is
also an :class:`~recommender.ranking.contract.Explainer` (TreeSHAP contributions).

Rankers hold fitted state only; whatever they derive from an index (the TF-IDF matrix of its organisation
texts) lives in that index's ``cache``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Self

import joblib
import numpy as np

from recommender.artifacts import read_verified_manifest, write_model_dir
from recommender.history import INSTRUMENT_FAMILIES
from recommender.ranking.contract import Ranker, RankerBase, Ranking, relevance, top_k
from recommender.ranking.features import (
    FEATURES,
    QueryContext,
    pair_features,
    query_context,
    requested_priority,
    static_candidate_columns,
)
from recommender.ranking.index import RankingIndex, ResolvedQuery


class PopularityRanker(RankerBase):
    """The most experienced organisations (projects taken part in), past partners left out (as every ranker
    does by default)."""

    name = "popularity"
    description = "most projects first, past partners left out"

    def _score(self, index: RankingIndex, rq: ResolvedQuery, rows: np.ndarray) -> np.ndarray:
        return index.graph.projects[rows]


class DefenceExperienceRanker(RankerBase):
    """EDF participations first, then security research, then all participations; past partners left out."""

    name = "defence-experience"
    description = "most EDF, then security-research, then all participations first, past partners left out"

    def _score(self, index: RankingIndex, rq: ResolvedQuery, rows: np.ndarray) -> np.ndarray:
        return index.defence_experience_score()[rows]


class EmbeddingRanker(RankerBase):
    """Cosine similarity of capability-profile vectors."""

    name = "embedding-cosine"
    description = "capability-profile vector cosine"

    def _score(self, index: RankingIndex, rq: ResolvedQuery, rows: np.ndarray) -> np.ndarray:
        sims = (index.vectors @ rq.vector)[rows]
        return np.where(index.has_profile[rows], sims, -1.0)


class Bm25Ranker(RankerBase):
    """BM25 between the query's terms and each organisation's best-matching own text."""

    name = "bm25"
    description = "BM25 of the query's distinctive terms against each organisation's own texts"

    def _score(self, index: RankingIndex, rq: ResolvedQuery, rows: np.ndarray) -> np.ndarray:
        return query_context(index, rq).lexical.at(rows)


class AdamicAdarRanker(RankerBase):
    """Adamic-Adar index in the past collaboration graph (zero for free-text queries: no node)."""

    name = "adamic-adar"
    description = "Adamic-Adar in the past collaboration graph"

    def _score(self, index: RankingIndex, rq: ResolvedQuery, rows: np.ndarray) -> np.ndarray:
        if rq.row is None or not rq.has_graph:
            return np.zeros(len(rows))
        return index.graph.neighbour_scores(rq.row)[1].at(rows)


class TfidfRanker(RankerBase):
    """TF-IDF cosine between the query's text and each organisation's text (description + project texts).

    The vocabulary is fitted on one index; the document matrix of any index it ranks over is built once per
    index, in that index's cache."""

    name = "tfidf-cosine"
    description = "TF-IDF cosine of organisation texts"
    max_projects = 25
    vectorizer_: Any  # a fitted scikit-learn TfidfVectorizer

    def _documents(self, index: RankingIndex) -> list[str]:
        prof = index.profiles
        weights = prof.org_weights
        docs = []
        for row, oid in enumerate(index.ids):
            start, end = weights.indptr[row], weights.indptr[row + 1]
            cols = weights.indices[start:end][np.argsort(-weights.data[start:end], kind="stable")][: self.max_projects]
            parts = [prof.org_description_texts.get(oid, "")] + [prof.project_texts[c] for c in cols]
            docs.append(" ".join(p for p in parts if p))
        return docs

    def _matrix(self, index: RankingIndex) -> Any:
        key = (self.name, self.vectorizer_)
        if key not in index.cache:
            index.cache[key] = self.vectorizer_.transform(self._documents(index)).tocsr()
        return index.cache[key]

    def fit(self, index: RankingIndex, training: Any = None) -> Self:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.vectorizer_ = TfidfVectorizer(
            sublinear_tf=True, min_df=2, max_df=0.5, stop_words="english", max_features=100_000, dtype=np.float32
        )
        self.vectorizer_.fit(self._documents(index))
        self.fitted_ = True
        return self

    def _score(self, index: RankingIndex, rq: ResolvedQuery, rows: np.ndarray) -> np.ndarray:
        matrix = self._matrix(index)
        if rq.query.text and rq.query.text.strip():
            q = self.vectorizer_.transform([rq.query.text])
        else:
            q = matrix[rq.row]
        return (matrix @ q.T).toarray().ravel()[rows]

    def save(self, directory: Path, manifest: dict | None = None) -> dict:
        return write_model_dir(
            directory,
            {"vectorizer.joblib": lambda p: joblib.dump(self.vectorizer_, p)},
            {"kind": self.name, **(manifest or {})},
        )

    @classmethod
    def load(cls, directory: Path, expect: dict | None = None) -> Self:
        read_verified_manifest(directory, expect={"kind": cls.name, **(expect or {})})
        ranker = cls()
        ranker.vectorizer_ = joblib.load(directory / "vectorizer.joblib")
        ranker.fitted_ = True
        return ranker


BASELINES: dict[str, type[RankerBase]] = {
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
        profiled = mask & index.has_profile
        near, sims = index.vector_search.shortlist(rq.vector, np.flatnonzero(profiled), cfg.semantic, profiled)
        out["semantic"] = top_k(near, sims, cfg.semantic)[0]
    out["lexical"] = top_k(*ctx.lexical.best_within(mask, cfg.lexical), cfg.lexical)[0]
    if ctx.rd_graph is not None:
        aa = ctx.graph[1] if ctx.graph is not None else ctx.rd_graph[1]
        out["graph"] = top_k(*aa.positive_within(mask), cfg.graph)[0]
    if ctx.defence_graph is not None:
        out["defence_graph"] = top_k(*ctx.defence_graph[1].positive_within(mask), cfg.defence_graph)[0]
    # With neither a profile nor a history, experience is all there is to go on: widen that pool.
    n_popular = cfg.popular if rq.has_profile or ctx.graph is not None else cfg.popular + cfg.semantic
    out["popular"] = first_allowed(index.ranked_rows("popular"), mask, n_popular)
    n_defence = cfg.defence * (3 if rq.query.instrument in DEFENCE_INSTRUMENTS else 1)
    out["defence"] = first_allowed(index.ranked_rows("defence"), mask, n_defence)
    p, _ = requested_priority(index, rq)
    out["specialists"] = first_allowed(index.ranked_rows("specialists", p), mask, cfg.specialists)
    return out


def fill_query_caches(index: RankingIndex) -> None:
    """Compute now what queries would otherwise compute on first use, once per index: the generators' orders
    (every priority's specialists: a sort of every organisation each, some 3 ms at 200,000) and the
    query-independent candidate columns. A server does this in its background warming."""
    for generator in ("popular", "defence"):
        index.ranked_rows(generator)
    for p in range(len(index.profiles.taxonomy.ids)):
        index.ranked_rows("specialists", p)
    static_candidate_columns(index)


def first_allowed(order: np.ndarray, mask: np.ndarray, k: int) -> np.ndarray:
    """The first ``k`` rows of ``order`` that ``mask`` allows, read in growing blocks: a generator over a
    presorted list stops as soon as it has its ``k``, instead of sorting every allowed row per query."""
    found: list[np.ndarray] = []
    have, start, step = 0, 0, max(4 * k, 256)
    while have < k and start < len(order):
        block = order[start : start + step]
        kept = block[mask[block]]
        found.append(kept)
        have += len(kept)
        start += step
        step *= 2
    return np.concatenate(found)[:k] if found else order[:0]


@dataclass
class TrainingSet:
    """Feature rows per head ('org' and 'text'), with graded labels, query groups (consecutive rows of one
    query, sizes in ``groups``) and one weight per group."""

    X: dict[str, np.ndarray]
    y: dict[str, np.ndarray]
    groups: dict[str, np.ndarray] = field(default_factory=dict)
    weights: dict[str, np.ndarray] = field(default_factory=dict)


class LearnedRanker(RankerBase):
    """Candidate generation plus LightGBM LambdaMART re-ranking, explained by TreeSHAP contributions."""

    name = "learned"
    description = "candidate generators + LightGBM LambdaMART over pair features"
    # org: organisation queries, European or not (the feature query_outside_europe tells them apart);
    # defence: organisation queries under a defence instrument (EDF, EDIP, SAFE), trained on EDF consortia
    #   only, so that defence rows are not outweighed by the Horizon Europe majority;
    # text: free-text queries, which have no country and no place in the graph.
    HEADS = ("org", "defence", "text")

    head_models_: dict[str, str]  # head -> LightGBM text model; the defence head may share the org head's
    compiled_: dict[str, Any] = {}  # head -> margins function from native code (compile_heads); never pickled
    explainers_: dict[str, Any] = {}  # head -> PathExplainer (prepare_explainers); never pickled

    def __init__(
        self,
        candidates: CandidateConfig | None = None,
        n_estimators: int = 150,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 50,
        reg_lambda: float = 1.0,
        colsample_bytree: float = 0.8,
        random_state: int = 0,
    ) -> None:
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

    def fit(self, index: RankingIndex, training: TrainingSet | None = None) -> Self:
        """Fit the heads on ``training`` (feature rows built over ``index`` and others, see training/ranker.py)."""
        if training is None:
            raise ValueError("LearnedRanker.fit needs a TrainingSet (see training/ranker.py)")
        self.head_models_ = {}
        self.compiled_ = {}  # compiled from the heads being replaced
        self.explainers_ = {}
        boosters: dict[str, Any] = {}
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
            boosters[head] = model.booster_
            self.head_models_[head] = model.booster_.model_to_string()
        if "org" not in self.head_models_ or "text" not in self.head_models_:
            raise ValueError("LearnedRanker.fit needs training rows for the org and text heads")
        if "defence" not in self.head_models_:  # no EDF consortia to learn from: the org head serves them
            self.head_models_["defence"] = self.head_models_["org"]
            boosters["defence"] = boosters["org"]
        self.__dict__["boosters_"] = boosters
        self.fitted_ = True
        return self

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("compiled_", None)  # native functions: a copy or another process compiles or loads its own
        state.pop("explainers_", None)  # tables of some 4 MB a head, rebuilt where a copy needs them
        state.pop("boosters_", None)  # read again from the text models where a copy needs them
        return state

    def booster(self, head: str) -> Any:
        """``head`` as a LightGBM booster, read from its text model on first use. Importing LightGBM imports
        scikit-learn and scipy.stats (about 1 s), so serving asks for a booster only for a head that is
        neither compiled (:meth:`compile_heads`) nor tabled (:meth:`prepare_explainers`)."""
        boosters = self.__dict__.setdefault("boosters_", {})
        if head not in boosters:
            import lightgbm as lgb

            boosters[head] = lgb.Booster(model_str=self.head_models_[head])
        return boosters[head]

    @staticmethod
    def head_for(rq: ResolvedQuery) -> str:
        """Free text uses the text head; organisations (newcomers too) the org head, or the defence head
        when they ask under a defence instrument."""
        if rq.row is None:
            return "text"
        return "defence" if rq.query.instrument in DEFENCE_INSTRUMENTS else "org"

    def generator_rows(
        self, index: RankingIndex, rq: ResolvedQuery, ctx: QueryContext | None = None
    ) -> dict[str, np.ndarray]:
        ctx = ctx or query_context(index, rq)
        return generate_candidates(index, ctx, index.allowed(rq), self.candidates)

    def candidate_rows(self, index: RankingIndex, rq: ResolvedQuery, ctx: QueryContext | None = None) -> np.ndarray:
        parts = list(self.generator_rows(index, rq, ctx).values())
        return np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)

    def raw_scores(
        self, index: RankingIndex, rq: ResolvedQuery, rows: np.ndarray, ctx: QueryContext | None = None
    ) -> np.ndarray:
        """The LambdaMART margins of ``rows``."""
        return self.margins(self.head_for(rq), pair_features(index, ctx or query_context(index, rq), rows))

    def margins(self, head: str, X: np.ndarray) -> np.ndarray:
        """The LambdaMART margins of feature rows ``X`` under ``head``: from the head compiled to native code
        when :meth:`compile_heads` has it, else from LightGBM's predict (the same values to float64 rounding)."""
        compiled = self.compiled_.get(head)
        if compiled is not None:
            return compiled(X)
        return self.booster(head).predict(X, num_threads=1)

    def compile_heads(self, cache_dir: Path, build: bool) -> int:
        """Serve the heads' margins from native code (see compiled_trees.py): heads compiled before on this
        host are loaded from ``cache_dir``, the others compiled there when ``build``. The number of heads
        compiled; the rest stay with LightGBM's predict."""
        from recommender.ranking.compiled_trees import compiled_margins

        self.compiled_ = self._once_per_model(lambda _, text: compiled_margins(text, cache_dir, build))
        return len(self.compiled_)

    def prepare_explainers(self, cache_dir: Path | None = None, build: bool = True) -> int:
        """Explain from per-leaf TreeSHAP tables (see path_shap.py): LightGBM's contributions within float64
        rounding, about four times faster for the ten rows of a ranking. Tables saved in ``cache_dir`` before
        are read back (milliseconds); the others are built when ``build`` (a fraction of a second a head,
        which a server spends in its background warming and a one-off query does not) and saved there. The
        number of heads explained from tables; the rest keep LightGBM's TreeSHAP."""
        from recommender.ranking.path_shap import cached_path_explainer

        self.explainers_ = self._once_per_model(
            lambda head, text: cached_path_explainer(text, partial(self.booster, head), cache_dir, build))
        return len(self.explainers_)

    def _once_per_model(self, build: Callable[[str, str], Any]) -> dict[str, Any]:
        """``build(head, model text)`` once per distinct model among the heads (the defence head may be the
        org head), by head; heads whose build gave None are left out."""
        by_text: dict[str, Any] = {}
        built = {}
        for head, text in self.head_models_.items():
            if text not in by_text:
                by_text[text] = build(head, text)
            if by_text[text] is not None:
                built[head] = by_text[text]
        return built

    def explain_rows(self, head: str, X: np.ndarray) -> np.ndarray:
        """(len(X), n_features): each feature's TreeSHAP contribution to the margin of feature rows ``X``
        under ``head``, from the head's tables when :meth:`prepare_explainers` built them."""
        explainer = self.explainers_.get(head)
        if explainer is not None:
            return explainer.contributions(X)
        return np.asarray(self.booster(head).predict(X, pred_contrib=True, num_threads=1))[:, : len(FEATURES)]

    def score(
        self, index: RankingIndex, rq: ResolvedQuery, rows: np.ndarray, ctx: QueryContext | None = None
    ) -> np.ndarray:
        """Scores in (0, 1): the logistic of the LambdaMART margin (same order, comparable bins). ``ctx``, when
        given, is ``query_context(index, rq)``, computed once for many calls."""
        self._check_fitted()
        if len(rows) == 0:
            return np.zeros(0)
        return 1.0 / (1.0 + np.exp(-self.raw_scores(index, rq, rows, ctx)))

    def _ranked(self, index: RankingIndex, rq: ResolvedQuery, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The ``k`` best candidate rows, their scores and their feature rows: the candidates' features are
        computed once and the trees predict once for all of them."""
        ctx = query_context(index, rq)
        rows = self.candidate_rows(index, rq, ctx)
        if len(rows) == 0:
            return rows, np.zeros(0), np.zeros((0, len(FEATURES)), dtype=np.float32)
        X = pair_features(index, ctx, rows)
        scores = 1.0 / (1.0 + np.exp(-self.margins(self.head_for(rq), X)))
        best, best_scores = top_k(rows, scores, k, relevance(index, rq, rows))
        return best, best_scores, X[np.searchsorted(rows, best)]

    def _rank(self, index: RankingIndex, rq: ResolvedQuery, k: int) -> Ranking:
        best, scores, _ = self._ranked(index, rq, k)
        return index.ids[best], scores

    def rank_explained(self, index: RankingIndex, rq: ResolvedQuery, k: int) -> tuple[np.ndarray, np.ndarray,
                                                                                       np.ndarray]:
        """The ranking and its rows' TreeSHAP contributions, from one feature pass and one prediction over the
        candidates; TreeSHAP (some 70 times the cost of a prediction per row) runs only on the ranked rows."""
        self._check_fitted()
        best, scores, shown = self._ranked(index, rq, k)
        if len(best) == 0:
            return index.ids[:0], scores, np.zeros((0, len(FEATURES)))
        return index.ids[best], scores, self.explain_rows(self.head_for(rq), shown)

    def contributions(
        self, index: RankingIndex, rq: ResolvedQuery, rows: np.ndarray, ctx: QueryContext | None = None
    ) -> np.ndarray:
        """(len(rows), n_features): each feature's TreeSHAP contribution to the ranking margin."""
        self._check_fitted()
        if len(rows) == 0:
            return np.zeros((0, len(FEATURES)))
        return self.explain_rows(self.head_for(rq), pair_features(index, ctx or query_context(index, rq), rows))

    def head_files(self, prefix: str = "") -> dict[str, str]:
        """The heads as LightGBM text models, by file name."""
        return {f"{prefix}head-{head}.txt": text for head, text in self.head_models_.items()}

    def save(self, directory: Path, manifest: dict | None = None, extra_files: dict[str, str] | None = None,
             extra_writers: dict[str, Callable[[Path], object]] | None = None) -> dict:
        """Write heads (LightGBM text models), parameters, any ``extra_files`` (texts) and ``extra_writers``
        (name -> function writing that path, e.g. the bundled priority tagger) under one manifest."""
        texts = self.head_files()
        texts["params.json"] = json.dumps(self.get_params(), sort_keys=True)
        texts.update(extra_files or {})
        writers: dict[str, Callable[[Path], object]] = {
            name: partial(Path.write_text, data=text) for name, text in texts.items()
        }
        writers.update(extra_writers or {})
        return write_model_dir(
            directory,
            writers,
            {"kind": self.name, "features": list(FEATURES), "config": self.get_params(), **(manifest or {})},
        )

    @classmethod
    def load(cls, directory: Path, expect: dict | None = None, prefix: str = "") -> Self:
        """Load after checking every file's sha256, the kind, the feature list and ``expect`` fields.

        ``prefix`` selects another set of heads in the same folder: ``EVALUATED_PREFIX`` is the same design
        trained one year earlier, whose out-of-time evaluation the folder's report shows. LightGBM is not
        imported here (see :meth:`booster`)."""
        read_verified_manifest(directory, expect={"kind": cls.name, "features": list(FEATURES), **(expect or {})})
        params = json.loads((directory / "params.json").read_text())
        ranker = cls(candidates=CandidateConfig(**params.pop("candidates")), **params)
        ranker.head_models_ = {head: (directory / f"{prefix}head-{head}.txt").read_text() for head in cls.HEADS}
        ranker.fitted_ = True
        return ranker


RANKERS: dict[str, type[Ranker]] = {**BASELINES, LearnedRanker.name: LearnedRanker}
