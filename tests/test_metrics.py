from __future__ import annotations

import math

import pandas as pd
import pytest

from recommender.evaluation.metrics import mrr, ndcg_at_k, ranking_report, recall_at_k

# q1: relevant a, b, c; recommended a(1) x(2) b(3) y(4)   -> recall@2 1/3, recall@3 2/3, first hit rank 1
# q2: relevant d;       recommended z(1) w(2) d(3)        -> recall@2 0,   recall@3 1,   first hit rank 3
# q3: relevant e;       no recommendations                -> 0 everywhere
RECS = pd.DataFrame(
    [
        ("q1", "a", 1),
        ("q1", "x", 2),
        ("q1", "b", 3),
        ("q1", "y", 4),
        ("q2", "z", 1),
        ("q2", "w", 2),
        ("q2", "d", 3),
        ("q9", "a", 1),
    ],  # a query without truth is ignored
    columns=["query_id", "item_id", "rank"],
)
TRUTH = pd.DataFrame([("q1", "a"), ("q1", "b"), ("q1", "c"), ("q2", "d"), ("q3", "e")], columns=["query_id", "item_id"])


@pytest.mark.parametrize(
    "k, expected", [(1, (1 / 3) / 3), (2, (1 / 3) / 3), (3, (2 / 3 + 1) / 3), (10, (2 / 3 + 1) / 3)]
)
def test_recall_at_k(k, expected):
    assert recall_at_k(RECS, TRUTH, k) == pytest.approx(expected)


def test_mrr():
    assert mrr(RECS, TRUTH) == pytest.approx((1 + 1 / 3 + 0) / 3)


def test_ndcg():
    q1 = (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3) + 1 / math.log2(4))
    q2 = (1 / math.log2(4)) / 1.0
    assert ndcg_at_k(RECS, TRUTH, 20) == pytest.approx((q1 + q2 + 0) / 3)
    assert ndcg_at_k(RECS, TRUTH, 2) == pytest.approx((1 / (1 + 1 / math.log2(3)) + 0 + 0) / 3)


def test_perfect_ranking_scores_one():
    truth = pd.DataFrame({"query_id": ["q"] * 3, "item_id": ["a", "b", "c"]})
    recs = truth.assign(rank=[1, 2, 3])
    report = ranking_report(recs, truth)
    assert report["recall@10"] == report["ndcg@20"] == report["mrr"] == 1.0 and report["queries"] == 1


def test_duplicate_recommendations_count_once():
    truth = pd.DataFrame({"query_id": ["q"], "item_id": ["a"]})
    recs = pd.DataFrame({"query_id": ["q", "q"], "item_id": ["a", "a"], "rank": [1, 2]})
    assert recall_at_k(recs, truth, 10) == 1.0


def test_recall_per_query_and_paired_bootstrap():
    from recommender.evaluation.metrics import paired_bootstrap, recall_per_query

    per = recall_per_query(RECS, TRUTH, 20)
    assert per.mean() == pytest.approx(recall_at_k(RECS, TRUTH, 20)) and len(per) == TRUTH["query_id"].nunique()
    a = pd.Series([0.5, 0.5, 0.5], index=["x", "y", "z"])
    same = paired_bootstrap(a, a)
    assert same["mean"] == 0 and same["ci95"] == [0.0, 0.0]
    b = pd.Series([0.0, 0.25, 0.0], index=["z", "y", "x"])  # aligned by query id, not by position
    diff = paired_bootstrap(a, b, n=500)
    assert diff["mean"] == pytest.approx((0.5 + 0.25 + 0.5) / 3)
    assert 0.25 <= diff["ci95"][0] <= diff["mean"] <= diff["ci95"][1] <= 0.5
