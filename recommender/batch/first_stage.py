"""The first stage of the two-stage partnership map: a linear surrogate of the learned ranker's margin.

Scoring a pair with the trees costs about 10 microseconds, so scoring every Korean x European pair of a large
catalogue would take a day. The map therefore scores every pair with a linear function of the pair
features, in vectorised form, and asks the trees only about the best ``M`` European organisations of each
Korean one. The linear function is split by what each feature depends on (see
:data:`recommender.ranking.features.PAIR_FEATURES`):

- the candidate-only columns give one number per European organisation, computed once per scan;
- the query-only columns give one number per Korean organisation;
- the pair columns (vector similarity, lexical closeness, graph neighbourhoods, countries ...) are computed
  for the whole row of European organisations with the same code the ranker uses (``pair_terms``).

It is fitted per scan by ridge regression on exact margins of the scan's own pairs: for a sample of its
Korean organisations, the learned ranker's own candidate pool (where the best pairs are) plus a random
sample of the rest. Fitting on the scan itself keeps it true to whatever model and head the scan uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from recommender.ranking.features import (
    CANDIDATE_INDICES,
    FEATURES,
    PAIR_INDICES,
    QUERY_INDICES,
    QueryContext,
    pair_features,
    pair_terms,
    query_context,
)
from recommender.ranking.index import RankingIndex

if TYPE_CHECKING:
    from recommender.batch.pairs import ScanJob

FIT_QUERIES = 16  # Korean organisations whose pairs the surrogate is fitted on, at most
FIT_RANDOM = 2000  # random European candidates per fitted query, besides the ranker's own pool
RIDGE = 1e-2  # ridge penalty on standardised features, per fitted row
CANDIDATE_BLOCK = 16_384


@dataclass(frozen=True)
class FirstStage:
    """The fitted surrogate over one scan's European rows: ``margin = candidate_part[position] +
    x_query . query_weights + x_pair . pair_weights``, in the model's margin units."""

    candidate_part: np.ndarray  # (n_eu,) per European position, intercept included
    weights: np.ndarray  # (len(FEATURES),) over pair_features' columns
    intercept: float
    fit_rows: int
    fit_correlation: float  # Spearman correlation of surrogate and exact margins on the fitted pairs

    def margins(self, index: RankingIndex, ctx: QueryContext, rows: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Surrogate margins of the pairs (query of ``ctx``, European ``rows``), ``positions`` being those
        rows' places in the scan's European rows."""
        query_part = float(pair_features(index, ctx, rows[:1])[0, QUERY_INDICES] @ self.weights[QUERY_INDICES])
        pair_part = pair_terms(index, ctx, rows).astype(np.float64) @ self.weights[PAIR_INDICES]
        return self.candidate_part[positions] + query_part + pair_part


def fit_first_stage(job: ScanJob, kr_rows: np.ndarray, seed: int = 0) -> FirstStage:
    """Fit the surrogate on exact margins of (up to ``FIT_QUERIES`` evenly spread of ``kr_rows``) x (the
    ranker's candidate pool within the job's European rows plus ``FIT_RANDOM`` random allowed ones)."""
    index, ranker, eu_rows = job.index, job.ranker, job.eu_rows
    picked = kr_rows[np.unique(np.linspace(0, len(kr_rows) - 1, min(FIT_QUERIES, len(kr_rows))).astype(int))]
    rng = np.random.default_rng(seed)
    in_scope = np.zeros(len(index.ids), dtype=bool)
    in_scope[eu_rows] = True
    features, margins = [], []
    for kr in picked:
        rq = index.resolve(job.query(int(kr)))
        allowed = np.flatnonzero(index.allowed(rq) & in_scope)
        if len(allowed) == 0:
            continue
        ctx = query_context(index, rq)
        pool = ranker.candidate_rows(index, rq, ctx)
        pool = pool[in_scope[pool]]
        extra = rng.choice(allowed, min(FIT_RANDOM, len(allowed)), replace=False)
        rows = np.union1d(pool, extra)
        X = pair_features(index, ctx, rows)
        features.append(X)
        margins.append(ranker.raw_scores(index, rq, rows, ctx))
    n_eu = len(eu_rows)
    if not features:
        return FirstStage(np.zeros(n_eu), np.zeros(len(FEATURES)), 0.0, 0, 1.0)
    X = np.concatenate(features).astype(np.float64)
    y = np.concatenate(margins)
    mean, scale = X.mean(axis=0), X.std(axis=0)
    scale[scale == 0] = 1.0
    Z = np.hstack([(X - mean) / scale, np.ones((len(X), 1))])
    penalty = RIDGE * len(X) * np.eye(Z.shape[1])
    penalty[-1, -1] = 0.0  # the intercept is not shrunk
    coef = np.linalg.solve(Z.T @ Z + penalty, Z.T @ y)
    weights = coef[:-1] / scale
    intercept = coef[-1] - float(mean @ weights)
    fitted = X @ weights + intercept
    correlation = float(np.corrcoef(_ranks(fitted), _ranks(y))[0, 1]) if len(y) > 1 else 1.0
    # The candidate-only columns do not depend on the query (the scan's priority and instrument are fixed),
    # so one query's context computes them for every European row.
    ctx = query_context(index, index.resolve(job.query(int(picked[0]))))
    candidate_part = np.empty(n_eu)
    for start in range(0, n_eu, CANDIDATE_BLOCK):
        block = pair_features(index, ctx, eu_rows[start : start + CANDIDATE_BLOCK])[:, CANDIDATE_INDICES]
        candidate_part[start : start + CANDIDATE_BLOCK] = block.astype(np.float64) @ weights[CANDIDATE_INDICES]
    return FirstStage(candidate_part + intercept, weights, intercept, len(y), round(correlation, 4))


def _ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values))
    return ranks
