"""Nearest-profile search: exact below the size limit, an HNSW graph (re-scored exactly) above it."""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.ranking.rankers import top_k
from recommender.ranking.vector_search import build_vector_search


def unit_rows(rng: np.random.Generator, n: int, d: int, rank: int | None = None) -> np.ndarray:
    if rank is None:
        v = rng.standard_normal((n, d))
    else:  # every vector in a rank-dimensional subspace: a projection onto it loses nothing
        v = rng.standard_normal((n, rank)) @ rng.standard_normal((rank, d))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def exact_top(vectors: np.ndarray, query: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
    return top_k(rows, (vectors @ query)[rows].astype(np.float64), k)[0]


def test_small_catalogues_are_searched_exactly():
    rng = np.random.default_rng(0)
    vectors = unit_rows(rng, 500, 32)
    search = build_vector_search(vectors, exact_limit=1000)
    assert search.exact
    rows = np.arange(0, 500, 2)
    near, sims = search.shortlist(vectors[3], rows, 10)
    assert len(near) == 10 and set(near.tolist()) <= set(rows.tolist())
    np.testing.assert_array_equal(top_k(near, sims, 10)[0], exact_top(vectors, vectors[3], rows, 10))


def test_exact_search_keeps_every_row_tied_with_the_kth():
    rng = np.random.default_rng(1)
    vectors = unit_rows(rng, 50, 16)
    vectors[20:30] = vectors[7]  # ten copies of one profile
    search = build_vector_search(vectors, exact_limit=1000)
    rows = np.arange(8, 50)  # row 7 itself left out: its copies are the best, all tied
    near, sims = search.shortlist(vectors[7], rows, 4)
    assert set(range(20, 30)) <= set(near.tolist())
    np.testing.assert_array_equal(top_k(near, sims, 4)[0], exact_top(vectors, vectors[7], rows, 4))


def clustered_rows(rng: np.random.Generator, n: int, d: int, centres: int = 40) -> np.ndarray:
    """Unit vectors around a few centres, as profile embeddings are (not isotropic noise)."""
    v = rng.standard_normal((centres, d))[rng.integers(0, centres, n)] + 0.6 * rng.standard_normal((n, d))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def test_the_graph_finds_nearly_every_exact_neighbour_among_the_allowed_rows():
    rng = np.random.default_rng(1)
    vectors = clustered_rows(rng, 4000, 48)
    search = build_vector_search(vectors, exact_limit=100)
    assert not search.exact
    rows = np.flatnonzero(rng.random(4000) < 0.6)
    recalls = []
    for q in rng.integers(0, 4000, 20):
        near, sims = search.shortlist(vectors[q], rows, 50)
        assert set(near.tolist()) <= set(rows.tolist()) and len(near) == 50
        np.testing.assert_allclose(sims, vectors[near] @ vectors[q], rtol=1e-6)
        recalls.append(len(np.intersect1d(near, exact_top(vectors, vectors[q], rows, 50))) / 50)
    assert np.mean(recalls) >= 0.99


def test_rows_added_or_changed_after_the_graph_are_scanned_exactly():
    rng = np.random.default_rng(2)
    vectors = clustered_rows(rng, 2000, 32)
    search = build_vector_search(vectors, exact_limit=100)
    query = vectors[7]
    grown = np.vstack([vectors, query[None, :], -query[None, :]])  # a new row equal to the query, one opposite
    grown[11] = query  # and an old row changed to equal it
    later = search.with_vectors(grown, np.array([11]))
    assert later.graph is search.graph and later.outside.tolist() == [11, 2000, 2001]
    near, sims = later.shortlist(query, np.arange(len(grown)), 5)
    assert {7, 11, 2000} <= set(near.tolist()) and 2001 in near  # outside rows always come, re-scored
    np.testing.assert_allclose(sims, grown[near] @ query, rtol=1e-6)
    top = near[np.argsort(-sims)][:3]
    assert set(top.tolist()) == {7, 11, 2000}
    near, _ = later.shortlist(query, np.array([5, 2001]), 5)  # outside rows obey the allowed rows too
    assert set(near.tolist()) <= {5, 2001}


def test_a_pickled_search_answers_the_same():
    import pickle

    rng = np.random.default_rng(3)
    vectors = clustered_rows(rng, 1500, 32)
    search = build_vector_search(vectors, exact_limit=100)
    copy = pickle.loads(pickle.dumps(search, protocol=5))
    rows = np.arange(0, 1500, 3)
    for q in (0, 99, 1499):
        a, b = search.shortlist(vectors[q], rows, 20), copy.shortlist(vectors[q], rows, 20)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    k=st.integers(1, 40),
    keep=st.floats(0.05, 1.0),
)
def test_shortlist_returns_allowed_rows_with_exact_similarities(seed, k, keep):
    rng = np.random.default_rng(seed)
    vectors = unit_rows(rng, 400, 24)
    search = build_vector_search(vectors, exact_limit=50)
    rows = np.flatnonzero(rng.random(400) < keep)
    query = vectors[int(rng.integers(0, 400))]
    near, sims = search.shortlist(query, rows, k)
    assert set(near.tolist()) <= set(rows.tolist())
    assert len(near) == min(len(rows), k)
    np.testing.assert_allclose(sims, vectors[near] @ query, rtol=1e-5, atol=1e-6)


def half_precision_search(vectors: np.ndarray):
    """An exact search that shortlists in half precision from the first allowed row on."""
    search = dataclasses.replace(build_vector_search(vectors, exact_limit=10**9), half_min_rows=0)
    search.prepare()
    return search


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 60), keep=st.floats(0.1, 1.0),
       copies=st.integers(0, 30))
def test_the_half_precision_shortlist_gives_the_exact_top_k_and_its_ties(seed, k, keep, copies):
    rng = np.random.default_rng(seed)
    vectors = clustered_rows(rng, 3000, 32, centres=8)
    vectors[100 : 100 + copies] = vectors[99]  # ties at any place of the ranking
    search = half_precision_search(vectors)
    rows = np.flatnonzero(rng.random(3000) < keep)
    query = vectors[int(rng.integers(0, 3000))]
    near, sims = search.shortlist(query, rows, k)
    exact = (vectors[rows].astype(np.float64) @ query.astype(np.float64))
    kth = np.sort(exact)[::-1][min(k, len(rows)) - 1]
    slack = 1e-6  # float32 products summed in another order differ in the last bits
    assert set(rows[exact > kth + slack].tolist()) <= set(near.tolist()) <= set(rows[exact >= kth - slack].tolist())
    np.testing.assert_allclose(sims, vectors[near].astype(np.float64) @ query.astype(np.float64), atol=slack)
    assert len(near) >= min(k, len(rows))


def test_the_half_precision_shortlist_scans_exactly_when_it_cannot_prove_the_order():
    rng = np.random.default_rng(4)
    vectors = clustered_rows(rng, 1000, 16)
    vectors[:600] = vectors[0]  # 600 rows tie: no shortlist of 2k + 64 can hold every row tied with the k-th
    search = half_precision_search(vectors)
    assert search._half_shortlist(vectors[0], np.arange(1000), 10) is None
    near, _ = search.shortlist(vectors[0], np.arange(1000), 10)
    assert near.tolist() == list(range(600))
    assert search._half_shortlist(vectors[700], np.arange(600, 1000), 10) is not None


def test_rows_changed_after_the_half_precision_index_are_scanned_exactly():
    rng = np.random.default_rng(5)
    vectors = clustered_rows(rng, 2000, 32)
    search = half_precision_search(vectors)
    query = vectors[7]
    grown = np.vstack([vectors, query[None, :]])
    grown[11] = query
    later = search.with_vectors(grown, np.array([11]))
    assert later._half()[1] == 2000 and later.outside.tolist() == [11, 2000]
    near, sims = later.shortlist(query, np.arange(len(grown)), 3)
    assert near.tolist() == [7, 11, 2000]
    near, _ = later.shortlist(query, np.arange(12, 2000), 3)  # the changed row and the new one not allowed
    assert not {7, 11, 2000} & set(near.tolist())
    import pickle

    assert "_half_index" not in pickle.loads(pickle.dumps(later)).__dict__  # rebuilt on use, never saved


def test_the_half_precision_scan_serves_only_once_prepared_and_survives_additions():
    rng = np.random.default_rng(6)
    vectors = clustered_rows(rng, 1000, 16)
    search = dataclasses.replace(build_vector_search(vectors, exact_limit=10**9), half_min_rows=0)
    assert search._half_shortlist(vectors[0], np.arange(1000), 10) is None  # a one-shot command never builds it
    search.prepare()
    assert search._half_shortlist(vectors[0], np.arange(1000), 10) is not None
    grown = search.with_vectors(np.vstack([vectors, vectors[:1]]), np.zeros(0, dtype=np.int64))
    assert grown._half_shortlist(vectors[0], np.arange(1001), 10) is not None


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 30), keep=st.floats(0.05, 1.0),
       kind=st.sampled_from(["graph", "exact", "half"]))
def test_the_allowed_rows_as_a_mask_give_the_same_shortlist(seed, k, keep, kind):
    rng = np.random.default_rng(seed)
    vectors = clustered_rows(rng, 1200, 24)
    search = build_vector_search(vectors, exact_limit=100 if kind == "graph" else 10_000)
    if kind == "half":
        search = dataclasses.replace(search, half_min_rows=100)
        search.prepare()
    grown = np.vstack([vectors, unit_rows(rng, 3, 24)])
    grown[5] = grown[1200]
    later = search.with_vectors(grown, np.array([5]))  # rows outside the prepared index obey the mask too
    mask = rng.random(len(grown)) < keep
    rows = np.flatnonzero(mask)
    query = grown[int(rng.integers(0, len(grown)))]
    by_rows, by_mask = later.shortlist(query, rows, k), later.shortlist(query, rows, k, mask)
    np.testing.assert_array_equal(by_rows[0], by_mask[0])
    np.testing.assert_array_equal(by_rows[1], by_mask[1])
