"""Nearest profiles to a query vector, for the semantic candidate generator.

An exact scan of every profile vector reads the whole matrix per query (384 float32 per organisation:
77 MB at 50,000 organisations, 307 MB at 200,000), which is memory-bound and grows linearly with the
catalogue. Up to ``exact_limit`` organisations (the shipped catalogue has about 50,000) the search is exact.
Over many allowed rows it first scans a half-precision copy, once :meth:`VectorSearch.prepare` built it (half
the memory read; a faiss flat index that a server builds in the background): every row whose half-precision
score is within twice the largest rounding error of the k-th is re-scored exactly, which provably holds the
exact top k and its ties; when the shortlist cannot prove it (many rows tied at the k-th), the full scan runs.
Above it, a faiss HNSW graph over the vectors (inner product) finds the candidates among the allowed rows
(a bitmap filter, so the side, kind and priority filters apply inside the search), searching ``ef_search``
entries deep; the returned similarities are always recomputed exactly from the vectors, so only the
shortlist is approximate. benchmarks/ranking_latency.py reports its recall against an exact scan.

The graph is built once per catalogue version and saved in the serving snapshot. Organisations added or
changed later (users' rows) are not in the graph: they are scanned exactly beside it, so they are found at
once; the next snapshot puts them in the graph.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

DEFAULT_EXACT_LIMIT = 100_000
HNSW_LINKS = 32  # neighbours per node
HNSW_EF_CONSTRUCTION = 80
HALF_MIN_ROWS = 5_000
HALF_SLACK = 1e-4  # float32 summation error of a 384-dimensional inner product, with room to spare
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
    half_min_rows: int = HALF_MIN_ROWS  # exact search over more allowed rows than this shortlists in half precision

    @property
    def exact(self) -> bool:
        return self.graph is None

    def shortlist(self, query: np.ndarray, rows: np.ndarray, k: int,
                  mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Rows of ``rows`` (ascending) that may be among the ``k`` most similar to ``query``, with their exact
        similarities: when exact, the ``k`` best rows and every row tied with the k-th; else the graph's ``k``
        best allowed rows and the allowed rows outside the graph. ``mask``, when the caller has it, is
        ``rows`` as a boolean mask over every row (the same result, without building it again)."""
        if len(rows) == 0 or k <= 0:
            return rows[:0], np.zeros(0)
        if self.graph is None:
            return self._exact(query, rows, k, mask)
        import faiss

        bitmap = np.packbits(self._held(rows, self.indexed, mask), bitorder="little")
        params = faiss.SearchParametersHNSW(  # type: ignore[attr-defined]
            sel=faiss.IDSelectorBitmap(self.indexed, faiss.swig_ptr(bitmap)), efSearch=max(self.ef_search, k)
        )
        with one_faiss_thread():
            _, found = self.graph.search(np.ascontiguousarray(query[None, :], dtype=np.float32), k, params=params)
        near = self._with_outside(np.sort(found[0][found[0] >= 0]), rows, mask)
        return near, (self.vectors[near] @ query).astype(np.float64)

    def _held(self, rows: np.ndarray, covered: int, mask: np.ndarray | None) -> np.ndarray:
        """(covered,) bool: the rows of ``rows`` (or ``mask``) that an index over the first ``covered`` rows
        holds as they are now (rows changed or added since it was built are read exactly beside it, see
        _with_outside)."""
        if mask is not None:
            held = mask[:covered].copy()
        else:
            held = np.zeros(covered, dtype=bool)
            held[rows[rows < covered]] = True
        held[self.outside[self.outside < covered]] = False
        return held

    def _with_outside(self, near: np.ndarray, rows: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        """``near`` (ascending) with the rows of ``rows`` (or ``mask``) that no index holds as they are now."""
        if len(self.outside):
            allowed = mask[self.outside] if mask is not None else np.isin(self.outside, rows)
            near = np.union1d(near, self.outside[allowed])
        return near

    def _exact(self, query: np.ndarray, rows: np.ndarray, k: int,
               mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` rows of ``rows`` most similar to ``query`` and every row tied with the k-th, exactly. On
        large catalogues a half-precision scan (half the memory read) shortlists first: every row within
        twice the half-precision error bound of its k-th score is re-scored exactly, so the result is the
        exact one; when the shortlist cannot prove that, the full scan runs."""
        q = query.astype(self.vectors.dtype, copy=False)
        near = self._half_shortlist(query, rows, k, mask) if len(rows) > max(self.half_min_rows, 4 * k) else None
        if near is not None:
            rows, sims = near, self.vectors[near] @ q
        elif 8 * len(rows) < len(self.vectors):  # a few rows: read only those
            sims = self.vectors[rows] @ q
        else:
            sims = (self.vectors @ q)[rows]
        if len(rows) > k:  # the k best, and every row tied with the k-th
            kth = np.partition(sims, len(sims) - k)[len(sims) - k]
            keep = np.flatnonzero(sims >= kth)
            rows, sims = rows[keep], sims[keep]
        return rows, sims.astype(np.float64)

    def _half_shortlist(self, query: np.ndarray, rows: np.ndarray, k: int,
                        mask: np.ndarray | None = None) -> np.ndarray | None:
        """Rows (ascending) that hold the exact top ``k`` of ``rows``, from the half-precision scan, or None."""
        import faiss

        prepared = self.__dict__.get("_half_index")
        if prepared is None:  # not built (yet): see prepare()
            return None
        half, covered, bound = prepared
        held = self._held(rows, covered, mask)
        if np.count_nonzero(held) <= 2 * k:
            return None
        bitmap = np.packbits(held, bitorder="little")
        params = faiss.SearchParameters(  # type: ignore[call-arg]
            sel=faiss.IDSelectorBitmap(covered, faiss.swig_ptr(bitmap)))
        depth = 2 * k + 64
        q = np.ascontiguousarray(query[None, :], dtype=np.float32)
        with one_faiss_thread():
            scores, found = half.search(q, depth, params=params)
        scores, found = scores[0], found[0]
        # |half . q - exact . q| <= bound * |q| per row (plus float32 summation slack): a row of the exact top k
        # scores at least the k-th half-precision score minus twice that.
        margin = 2 * bound * float(np.linalg.norm(query)) + HALF_SLACK
        if found[-1] >= 0 and scores[-1] >= scores[k - 1] - margin:
            return None  # rows beyond the shortlist could still tie the k-th: scan exactly
        return self._with_outside(np.sort(found[(found >= 0) & (scores >= scores[k - 1] - margin)]), rows, mask)

    def prepare(self) -> None:
        """Build the half-precision scan of a large exact search now (about half a second on the shipped
        catalogue, so a server does it in the background; a one-shot command never needs it)."""
        if self.graph is None and len(self.vectors) > self.half_min_rows:
            self._half()

    def _half(self) -> tuple[Any, int, float]:
        """(a faiss half-precision flat index over the rows present when first asked, how many rows it covers,
        the largest distance of a row from its half-precision copy), built once per process."""
        cached = self.__dict__.get("_half_index")
        if cached is None:
            import faiss

            vectors = np.ascontiguousarray(self.vectors, dtype=np.float32)
            half = faiss.IndexScalarQuantizer(vectors.shape[1], faiss.ScalarQuantizer.QT_fp16,
                                              faiss.METRIC_INNER_PRODUCT)
            half.add(vectors)
            rounded = vectors.astype(np.float16).astype(np.float32)
            bound = float(np.sqrt(((rounded - vectors) ** 2).sum(axis=1)).max()) if len(vectors) else 0.0
            cached = (half, len(vectors), bound)
            object.__setattr__(self, "_half_index", cached)
        return cached

    def with_vectors(self, vectors: np.ndarray, changed: np.ndarray) -> VectorSearch:
        """The same search over ``vectors`` (the old rows, some ``changed``, plus new rows at the end): an HNSW
        graph or a built half-precision scan is kept, and the changed and new rows are read exactly beside it;
        a plain exact scan reads every row as it is."""
        half = self.__dict__.get("_half_index")
        if self.graph is None and half is None:
            return replace(self, vectors=vectors)
        new_rows = np.arange(len(self.vectors), len(vectors), dtype=np.int64)
        outside = np.union1d(np.union1d(self.outside, np.asarray(changed, dtype=np.int64)), new_rows)
        grown = replace(self, vectors=vectors, outside=outside)
        if half is not None:
            object.__setattr__(grown, "_half_index", half)
        return grown

    def __getstate__(self) -> dict:
        state = {key: value for key, value in self.__dict__.items() if key != "_half_index"}  # rebuilt on use
        if self.graph is not None:
            import faiss

            state["graph"] = faiss.serialize_index(self.graph)  # a uint8 array: saved raw in a snapshot
        return state

    def __setstate__(self, state: dict) -> None:
        if state.get("graph") is not None:
            import faiss

            state = {**state, "graph": faiss.deserialize_index(np.asarray(state["graph"]))}
        self.__dict__.update(state)


@contextmanager
def one_faiss_thread() -> Iterator[None]:
    """One OpenMP thread for a search in the calling thread: a single query would otherwise be split over every
    core, and concurrent requests would oversubscribe them (faiss's OpenMP runtime is loaded on first use,
    after the request threads were limited; see recommender/ranking/threads.py)."""
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


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
