"""Ranking metrics as pure functions over DataFrames with named columns.

``recommendations``: columns query_id, item_id, rank (1 = best). ``truth``: columns query_id, item_id.
Every query in ``truth`` counts (a query with no recommendations scores 0); queries only in
``recommendations`` are ignored. Recall@k divides by the number of relevant items; nDCG@k uses binary
gains and the ideal ordering of min(k, relevant) hits; MRR is the reciprocal rank of the first hit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PRIMARY_K = 20
PRIMARY_METRIC = f"recall@{PRIMARY_K}"


def _hits(recommendations: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    truth = truth[["query_id", "item_id"]].drop_duplicates()
    recs = recommendations[["query_id", "item_id", "rank"]].drop_duplicates(["query_id", "item_id"])
    recs = recs[recs["query_id"].isin(truth["query_id"])]
    merged = recs.merge(truth.assign(relevant=True), on=["query_id", "item_id"], how="left")
    merged["relevant"] = merged["relevant"].fillna(False).astype(bool)
    return merged


def recall_per_query(recommendations: pd.DataFrame, truth: pd.DataFrame, k: int) -> pd.Series:
    """Recall@k of every query in ``truth`` (indexed by query_id)."""
    hits = _hits(recommendations, truth)
    found = hits[(hits["rank"] <= k) & hits["relevant"]].groupby("query_id").size()
    n_relevant = truth.drop_duplicates(["query_id", "item_id"]).groupby("query_id").size()
    return found.reindex(n_relevant.index, fill_value=0) / n_relevant


def recall_at_k(recommendations: pd.DataFrame, truth: pd.DataFrame, k: int) -> float:
    return float(recall_per_query(recommendations, truth, k).mean())


def paired_bootstrap(a: pd.Series, b: pd.Series, n: int = 1000, seed: int = 0) -> dict:
    """Mean of per-query ``a - b`` with a 95% interval from resampling queries (same index on both)."""
    diff = (a - b.reindex(a.index)).to_numpy(dtype=np.float64)
    if len(diff) == 0:
        return {"mean": 0.0, "ci95": [0.0, 0.0], "resamples": n}
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), size=(n, len(diff)))].mean(axis=1)
    low, high = np.quantile(means, [0.025, 0.975])
    return {"mean": float(diff.mean()), "ci95": [float(low), float(high)], "resamples": n}


def ndcg_at_k(recommendations: pd.DataFrame, truth: pd.DataFrame, k: int) -> float:
    hits = _hits(recommendations, truth)
    top = hits[(hits["rank"] <= k) & hits["relevant"]]
    dcg = (1.0 / np.log2(top["rank"] + 1)).groupby(top["query_id"]).sum()
    n_relevant = truth.drop_duplicates(["query_id", "item_id"]).groupby("query_id").size()
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    idcg = n_relevant.map(lambda n: discounts[: min(n, k)].sum())
    return float((dcg.reindex(n_relevant.index, fill_value=0.0) / idcg).mean())


def mrr(recommendations: pd.DataFrame, truth: pd.DataFrame) -> float:
    hits = _hits(recommendations, truth)
    first = hits[hits["relevant"]].groupby("query_id")["rank"].min()
    n_queries = truth["query_id"].drop_duplicates()
    return float((1.0 / first).reindex(n_queries, fill_value=0.0).mean())


def ranking_report(recommendations: pd.DataFrame, truth: pd.DataFrame, ks: tuple[int, ...] = (10, 20, 100)) -> dict:
    """Recall@k for each k, nDCG@20 and MRR."""
    out = {f"recall@{k}": recall_at_k(recommendations, truth, k) for k in ks}
    out["ndcg@20"] = ndcg_at_k(recommendations, truth, 20)
    out["mrr"] = mrr(recommendations, truth)
    out["queries"] = int(truth["query_id"].nunique())
    return out
