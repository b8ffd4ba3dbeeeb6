"""Shallow copies of the model and index that can travel to worker processes.

The serving index holds the text encoder (a bound method of the Workspace, hence the whole sentence-
transformers model): batch workers never encode (queries are resolved in the driver, in one encoder call),
so the copy drops it. Arrays, frames and the cached eligibility verdicts are shared, not copied.
"""

from __future__ import annotations

import copy

from recommender.ranking.index import RankingIndex
from recommender.ranking.rankers import Ranker
from recommender.ranking.service import Recommender


def portable_index(index: RankingIndex) -> RankingIndex:
    if index.encode_texts is None:
        return index
    slim = copy.copy(index)
    slim.encode_texts = None
    return slim


def portable_ranker(ranker: Ranker, index: RankingIndex | None = None) -> Ranker:
    slim_index = index or portable_index(ranker.index)
    if slim_index is ranker.index:
        return ranker
    slim = copy.copy(ranker)
    slim.index = slim_index
    return slim


def portable_recommender(recommender: Recommender) -> Recommender:
    index = portable_index(recommender.index)
    ranker_index = index if recommender.ranker.index is recommender.index else portable_index(recommender.ranker.index)
    return Recommender(index, portable_ranker(recommender.ranker, ranker_index))
