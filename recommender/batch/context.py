"""Slim copies of the index and recommender that can travel to worker processes.

The serving index holds the text encoder (a bound method of the Workspace, hence the whole sentence-
transformers model): batch workers never encode (queries are resolved in the driver, in one encoder call),
so the copy drops it. Arrays, frames and the cached eligibility verdicts are shared, not copied. Rankers
hold no index, so they travel as they are.
"""

from __future__ import annotations

from recommender.ranking.index import RankingIndex
from recommender.ranking.service import Recommender


def portable_index(index: RankingIndex) -> RankingIndex:
    return index if index.encode_texts is None else index.with_encoder(None)


def portable_recommender(recommender: Recommender) -> Recommender:
    return Recommender(portable_index(recommender.index), recommender.ranker)
