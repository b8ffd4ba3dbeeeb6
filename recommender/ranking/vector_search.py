"""Nearest profiles to a query vector, for the semantic candidate generator.

An exact scan of every profile vector reads the whole matrix per query (384 float32 per organisation:
77 MB at 50,000 organisations, 307 MB at 200,000), which is memory-bound and grows linearly with the
catalogue. Up to ``exact_limit`` organisations (the shipped catalogue has about 50,000) the scan is exact.
Above it, a faiss HNSW graph over the vectors (inner product) finds the candidates among the allowed rows
(a bitmap filter, so the side, kind and priority filters apply inside the search), searching ``ef_search``
entries deep; the returned similarities are always recomputed exactly from the vectors, so only the
shortlist is approximate. benchmarks/ranking_latency.py reports its recall against an exact scan.

The graph is built once per catalogue version and saved in the serving snapshot. Organisations added or
changed later (users' rows) are not in the graph: they are scanned exactly beside it, so they are found at
once; the next snapshot puts them in the graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

DEFAULT_EXACT_LIMIT = 100_000
HNSW_LINKS = 32  # neighbours per node
HNSW_EF_CONSTRUCTION = 80
DEFAULT_EF_SEARCH = 800  # recall of the top 300 about 0.995 at 200,000 (benchmarks/ranking_latency.py)


@dataclass(frozen=True)
class VectorSearch:
    """Top-k inner-product search over ``vectors`` (unit rows): exact, or an HNSW graph over the first
    ``indexed`` rows plus an exact scan of ``outside`` (rows added or changed since the graph was built)."""

    vectors: np.ndarray  # (n, d) float32
    graph: Any = None  # faiss.IndexHNSWFlat over vectors[:indexed], None for exact search
    indexed: int = 0
    outside: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # rows not in the graph
    ef_search: int = DEFAULT_EF_SEARCH

    @property
    def exact(self) -> bool:
        return self.graph is None

    def shortlist(self, query: np.ndarray, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows of ``rows`` (ascending) that may be among the ``k`` most similar to ``query``, with their exact
        similarities: when exact, the ``k`` best rows and every row tied with the k-th; else the graph's ``k``
        best allowed rows and the allowed rows outside the graph."""
        if len(rows) == 0 or k <= 0:
            return rows[:0], np.zeros(0)
        if self.graph is None:
            sims = (self.vectors @ query.astype(self.vectors.dtype, copy=False))[rows]
            if len(rows) > k:  # the k best, and every row tied with the k-th
                kth = np.partition(sims, len(sims) - k)[len(sims) - k]
                keep = np.flatnonzero(sims >= kth)
                rows, sims = rows[keep], sims[keep]
            return rows, sims.astype(np.float64)
        import faiss

        allowed = np.zeros(self.indexed, dtype=bool)
        allowed[rows[rows < self.indexed] if len(self.outside) else rows] = True
        allowed[self.outside[self.outside < self.indexed]] = False  # changed since: scanned exactly below
        bitmap = np.packbits(allowed, bitorder="little")
        params = faiss.SearchParametersHNSW(  # type: ignore[attr-defined]
            sel=faiss.IDSelectorBitmap(self.indexed, faiss.swig_ptr(bitmap)), efSearch=max(self.ef_search, k)
        )
        _, found = self.graph.search(np.ascontiguousarray(query[None, :], dtype=np.float32), k, params=params)
        near = np.sort(found[0][found[0] >= 0])
        if len(self.outside):
            near = np.union1d(near, self.outside[np.isin(self.outside, rows)])
        return near, (self.vectors[near] @ query).astype(np.float64)

    def with_vectors(self, vectors: np.ndarray, changed: np.ndarray) -> VectorSearch:
        """The same search over ``vectors`` (the old rows, some ``changed``, plus new rows at the end): the
        graph is kept, and the changed and new rows are scanned exactly."""
        if self.graph is None:
            return replace(self, vectors=vectors)
        new_rows = np.arange(len(self.vectors), len(vectors), dtype=np.int64)
        outside = np.union1d(np.union1d(self.outside, np.asarray(changed, dtype=np.int64)), new_rows)
        return replace(self, vectors=vectors, outside=outside)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        if self.graph is not None:
            import faiss

            state["graph"] = faiss.serialize_index(self.graph)  # a uint8 array: saved raw in a snapshot
        return state

    def __setstate__(self, state: dict) -> None:
        if state.get("graph") is not None:
            import faiss

            state = {**state, "graph": faiss.deserialize_index(np.asarray(state["graph"]))}
        self.__dict__.update(state)


def build_vector_search(
    vectors: np.ndarray, exact_limit: int = DEFAULT_EXACT_LIMIT, ef_search: int = DEFAULT_EF_SEARCH
) -> VectorSearch:
    """Exact search up to ``exact_limit`` rows; above it, an HNSW graph over every row."""
    if len(vectors) <= exact_limit:
        return VectorSearch(vectors)
    import faiss

    graph = faiss.IndexHNSWFlat(vectors.shape[1], HNSW_LINKS, faiss.METRIC_INNER_PRODUCT)
    graph.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    graph.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return VectorSearch(vectors, graph, len(vectors), np.zeros(0, dtype=np.int64), ef_search)
