"""The ranker contract every caller relies on, and nothing more.

A ranker is fitted state only: the index it ranks over is passed to every call, so one fitted model serves
any index (a newer cut-off year, an index with live additions, a slim copy in a batch worker) without
copies of the model for each index.

- :class:`Ranker`: ``fit(index, training)``, ``score(index, rq, rows)``, ``rank(index, query, k)``,
  ``rank_batch(index, queries, k)``, ``save(directory)`` and ``load(directory, expect)``;
- :class:`Explainer`: rankers that can say, per candidate, how much each feature contributed to its score.
  Callers explain only what passes ``isinstance(ranker, Explainer)``.

Every ranker ranks only what the index allows for the query: the requested side, minus the query itself,
its known partners (unless included), funding bodies (unless asked for) and, with a priority, organisations
without demonstrated capability in it. :class:`RankerBase` implements ranking on top of ``score`` with one
order: score descending, ties broken by relevance (profile similarity), then by row.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol, Self, runtime_checkable

import numpy as np

from recommender.artifacts import read_verified_manifest, write_model_dir
from recommender.ranking.index import Query, RankingIndex, ResolvedQuery

Ranking = tuple[np.ndarray, np.ndarray]  # (organisation ids, scores), best first
QueryLike = Query | ResolvedQuery


class NotFittedError(ValueError, AttributeError):
    """A ranker asked to rank before fit() or load() (the bases of scikit-learn's, which serving does not import)."""


@runtime_checkable
class Ranker(Protocol):
    """What every ranker offers; ``score`` and ``rank`` agree (``rank`` sorts by ``score``)."""

    name: ClassVar[str]
    description: ClassVar[str]

    def fit(self, index: RankingIndex, training: Any = None) -> Self: ...

    def score(self, index: RankingIndex, rq: ResolvedQuery, rows: np.ndarray) -> np.ndarray:
        """Scores (float64, higher is better) of the candidate ``rows`` for ``rq``."""
        ...

    def rank(self, index: RankingIndex, query: QueryLike, k: int = 10) -> Ranking: ...

    def rank_batch(self, index: RankingIndex, queries: Sequence[QueryLike], k: int = 10) -> list[Ranking]: ...

    def save(self, directory: Path, manifest: dict | None = None) -> dict: ...

    @classmethod
    def load(cls, directory: Path, expect: dict | None = None) -> Self: ...


@runtime_checkable
class Explainer(Protocol):
    """A ranker whose scores decompose into per-feature contributions (``FEATURES`` order)."""

    def contributions(self, index: RankingIndex, rq: ResolvedQuery, rows: np.ndarray) -> np.ndarray:
        """(len(rows), n_features): each feature's contribution to the score of each of ``rows``."""
        ...

    def rank_explained(self, index: RankingIndex, rq: ResolvedQuery, k: int) -> tuple[np.ndarray, np.ndarray,
                                                                                       np.ndarray]:
        """``rank(index, rq, k)`` and the ``contributions`` of the ranked rows, in one pass over the features."""
        ...


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


def resolve_all(index: RankingIndex, queries: Sequence[QueryLike]) -> list[ResolvedQuery]:
    """Queries resolved against ``index`` (free texts in one encoder call); resolved ones pass through."""
    pending = iter(index.resolve_many([q for q in queries if isinstance(q, Query)]))
    return [next(pending) if isinstance(q, Query) else q for q in queries]


def check_k(k: object) -> None:
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")


class RankerBase:
    """Ranking on top of scoring: subclasses implement ``_score(index, rq, rows)`` (higher is better) over
    the rows the index allows, and may override ``fit``, ``save`` and ``load`` when they hold fitted state."""

    name: ClassVar[str] = "ranker"
    description: ClassVar[str] = ""
    fitted_: bool = False

    def fit(self, index: RankingIndex, training: Any = None) -> Self:
        self.fitted_ = True
        return self

    def _check_fitted(self) -> None:
        if not self.fitted_:
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() or load()")

    def _score(self, index: RankingIndex, rq: ResolvedQuery, rows: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def score(self, index: RankingIndex, rq: ResolvedQuery, rows: np.ndarray) -> np.ndarray:
        self._check_fitted()
        return np.asarray(self._score(index, rq, rows)).astype(np.float64)

    def _rank(self, index: RankingIndex, rq: ResolvedQuery, k: int) -> Ranking:
        rows = np.flatnonzero(index.allowed(rq))
        best, scores = top_k(rows, self.score(index, rq, rows), k, relevance(index, rq, rows))
        return index.ids[best], scores

    def rank(self, index: RankingIndex, query: QueryLike, k: int = 10) -> Ranking:
        check_k(k)
        rq = index.resolve(query) if isinstance(query, Query) else query
        self._check_fitted()
        return self._rank(index, rq, k)

    def rank_batch(self, index: RankingIndex, queries: Sequence[QueryLike], k: int = 10) -> list[Ranking]:
        check_k(k)
        resolved = resolve_all(index, queries)
        self._check_fitted()
        return [self._rank(index, rq, k) for rq in resolved]

    def save(self, directory: Path, manifest: dict | None = None) -> dict:
        return write_model_dir(
            directory, {"params.json": lambda p: p.write_text("{}")}, {"kind": self.name, **(manifest or {})}
        )

    @classmethod
    def load(cls, directory: Path, expect: dict | None = None) -> Self:
        read_verified_manifest(directory, expect={"kind": cls.name, **(expect or {})})
        ranker = cls()
        ranker.fitted_ = True
        return ranker
