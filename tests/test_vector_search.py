"""Nearest-profile search: exact below the size limit, projected then re-scored above it."""

from __future__ import annotations

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
    search = build_vector_search(vectors, exact_limit=1000, dims=8)
    assert search.exact
    rows = np.arange(0, 500, 2)
    near, sims = search.shortlist(vectors[3], rows, 10)
    np.testing.assert_array_equal(near, rows)
    np.testing.assert_array_equal(top_k(near, sims, 10)[0], exact_top(vectors, vectors[3], rows, 10))


def test_projection_loses_nothing_when_the_vectors_span_fewer_dimensions_than_it_keeps():
    rng = np.random.default_rng(1)
    vectors = unit_rows(rng, 3000, 64, rank=12)
    search = build_vector_search(vectors, exact_limit=100, dims=16, oversample=2)
    assert not search.exact
    rows = np.arange(3000)
    for q in (0, 17, 2999):
        near, sims = search.shortlist(vectors[q], rows, 25)
        assert len(near) == 50
        np.testing.assert_array_equal(top_k(near, sims, 25)[0], exact_top(vectors, vectors[q], rows, 25))


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    k=st.integers(1, 40),
    keep=st.floats(0.05, 1.0),
)
def test_shortlist_returns_allowed_rows_with_exact_similarities(seed, k, keep):
    rng = np.random.default_rng(seed)
    vectors = unit_rows(rng, 400, 24)
    search = build_vector_search(vectors, exact_limit=50, dims=6, oversample=3)
    rows = np.flatnonzero(rng.random(400) < keep)
    query = vectors[int(rng.integers(0, 400))]
    near, sims = search.shortlist(query, rows, k)
    assert set(near.tolist()) <= set(rows.tolist())
    assert len(near) == min(len(rows), 3 * k)
    np.testing.assert_allclose(sims, vectors[near] @ query, rtol=1e-5, atol=1e-6)
