"""A query's sparse scores (graph neighbourhoods, lexical matches) read as the dense arrays they stand for."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

from recommender import row_scores
from recommender.ranking.lexical import build_lexical_index
from recommender.ranking.rankers import top_k
from recommender.row_scores import RowScores, neighbourhood

WORDS = ["radar", "sonar", "drone", "swarm", "gallium", "nitride", "cyber", "range", "satellite", "munition",
         "hypersonic", "composite", "battery", "quantum", "sensor", "maritime"]


def random_graph(rng: np.random.Generator, n: int, density: float) -> sparse.csr_matrix:
    upper = sparse.random(n, n, density=density, random_state=rng, format="csr")
    adjacency = ((upper + upper.T) > 0).astype(np.float32).tocsr()
    adjacency.setdiag(0)
    adjacency.eliminate_zeros()
    return adjacency


def dense_neighbourhood(adjacency: sparse.csr_matrix, weight: np.ndarray, row: int) -> tuple[np.ndarray, np.ndarray]:
    nb = adjacency[row].indices
    cn = np.asarray(adjacency[nb].sum(axis=0)).ravel().astype(np.float64)
    aa = np.asarray(adjacency[nb].T @ weight[nb]).ravel()
    cn[row] = aa[row] = 0.0
    return cn, aa


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), density=st.sampled_from([0.002, 0.02, 0.2]),
       dense_share=st.sampled_from([0.0, 1e9]))
def test_neighbourhood_equals_the_dense_sums(seed, density, dense_share):
    rng = np.random.default_rng(seed)
    adjacency = random_graph(rng, 300, density)
    degree = np.diff(adjacency.indptr)
    weight = np.where(degree > 1, 1 / np.log(np.maximum(degree, 2)), 0.0)
    old = row_scores.DENSE_SHARE
    row_scores.DENSE_SHARE = dense_share  # both the hub (dense) and the sparse path
    try:
        for row in rng.choice(300, 5, replace=False):
            common, adamic_adar = neighbourhood(adjacency, weight, int(row))
            cn, aa = dense_neighbourhood(adjacency, weight, int(row))
            np.testing.assert_allclose(common.dense(), cn)
            np.testing.assert_allclose(adamic_adar.dense(), aa, atol=1e-12)
            np.testing.assert_array_equal(common.rows, np.flatnonzero(cn))
            probe = rng.integers(0, 300, 50)
            np.testing.assert_allclose(adamic_adar.at(probe), aa[probe], atol=1e-12)
    finally:
        row_scores.DENSE_SHARE = old


@given(dense=st.lists(st.sampled_from([0.0, 0.0, 0.5, 1.5, 3.0]), min_size=1, max_size=60),
       probe=st.lists(st.integers(0, 59), max_size=80))
def test_row_scores_read_as_their_dense_array(dense, probe):
    values = np.array(dense)
    scores = RowScores.from_dense(values)
    probe = np.array([p for p in probe if p < len(values)], dtype=np.int64)
    np.testing.assert_array_equal(scores.at(probe), values[probe])
    np.testing.assert_array_equal(scores.dense(), values)
    assert scores.max() == values.max()


def lexical_world(seed: int, n_orgs: int = 40, n_docs: int = 120):
    rng = np.random.default_rng(seed)
    texts = [" ".join(rng.choice(WORDS, rng.integers(3, 12))) for _ in range(n_docs)]
    owners = [(int(o), d) for d in range(n_docs) for o in rng.choice(n_orgs, rng.integers(0, 5), replace=False)]
    rows, cols = zip(*owners, strict=True) if owners else ((), ())
    owner = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_orgs, n_docs))
    return rng, build_lexical_index(texts, owner)


def brute_force(index, terms: np.ndarray) -> np.ndarray:
    """Each organisation's best document BM25, from bm25s's own scoring of every document."""
    docs = np.asarray(index.bm25.get_scores_from_ids(list(map(int, terms))), dtype=np.float64)
    owner = index.owner.toarray() > 0
    return np.where(owner, docs[None, :], 0.0).max(axis=1)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 30), block=st.sampled_from([1, 3, 256]))
def test_lexical_matches_equal_brute_force_bm25(seed, k, block):
    rng, index = lexical_world(seed)
    terms = np.unique([index.vocab[w] for w in rng.choice(WORDS, 3) if w in index.vocab]).astype(np.int64)
    matches = index.scores(terms)
    expected = brute_force(index, terms)
    np.testing.assert_allclose(matches.dense(), expected, rtol=1e-6)
    probe = rng.integers(0, index.owner.shape[0], 25)
    np.testing.assert_allclose(matches.at(probe), expected[probe], rtol=1e-6)
    assert matches.max() == pytest.approx(expected.max(), rel=1e-6)
    mask = rng.random(index.owner.shape[0]) < 0.7
    allowed = np.flatnonzero(mask & (expected > 0))
    want = top_k(allowed, matches.dense()[allowed], k)[0]
    got = top_k(*matches.best_within(mask, k, block), k)[0]
    np.testing.assert_array_equal(got, want)  # ties at the k-th place included, then broken by row as ever
