"""Nearest profiles to a query vector, for the semantic candidate generator.

An exact scan of every profile vector reads the whole matrix per query (384 float32 per organisation:
77 MB at 50,000 organisations, 307 MB at 200,000), which is memory-bound and dominates the latency of
an organisation query on large catalogues. Above ``exact_limit`` organisations the scan runs on a
principal-component projection of the vectors (``dims`` components, a quarter of the bytes), keeps
``oversample`` times the requested number of rows, and re-scores those exactly with the full vectors, so
the returned similarities are always exact and only the shortlist is approximate. Catalogues up to the
limit (the shipped one has about 50,000 organisations) are scanned exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_EXACT_LIMIT = 100_000
DEFAULT_DIMS = 96
DEFAULT_OVERSAMPLE = 4
FIT_SAMPLE = 20_000


@dataclass(frozen=True)
class VectorSearch:
    """Top-k inner-product search over ``vectors`` (unit rows), exact or projected then re-scored."""

    vectors: np.ndarray  # (n, d) float32
    projection: np.ndarray | None = None  # (d, dims): principal axes, None for exact search
    projected: np.ndarray | None = None  # (n, dims) float32, C-contiguous
    oversample: int = DEFAULT_OVERSAMPLE

    @property
    def exact(self) -> bool:
        return self.projection is None

    def shortlist(self, query: np.ndarray, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows of ``rows`` that may be among the ``k`` most similar to ``query``, with their exact
        similarities: every row when exact, else the ``k * oversample`` best by the projection."""
        if len(rows) == 0 or k <= 0:
            return rows[:0], np.zeros(0)
        if self.projection is None or self.projected is None:
            return rows, (self.vectors @ query)[rows].astype(np.float64)
        approx = (self.projected @ (query @ self.projection))[rows]
        keep = min(len(rows), k * self.oversample)
        if keep < len(rows):
            rows = np.sort(rows[np.argpartition(-approx, keep - 1)[:keep]])
        return rows, (self.vectors[rows] @ query).astype(np.float64)


def build_vector_search(
    vectors: np.ndarray,
    exact_limit: int = DEFAULT_EXACT_LIMIT,
    dims: int = DEFAULT_DIMS,
    oversample: int = DEFAULT_OVERSAMPLE,
    seed: int = 0,
) -> VectorSearch:
    """Exact search up to ``exact_limit`` rows; above it, a ``dims``-component projection fitted on a sample."""
    if len(vectors) <= exact_limit or vectors.shape[1] <= dims:
        return VectorSearch(vectors)
    rng = np.random.default_rng(seed)
    sample = vectors[rng.choice(len(vectors), min(FIT_SAMPLE, len(vectors)), replace=False)].astype(np.float64)
    sample = sample[np.linalg.norm(sample, axis=1) > 0]
    # Uncentred axes: inner products, not distances to the mean, are what is ranked.
    _, _, vt = np.linalg.svd(sample, full_matrices=False)
    projection = np.ascontiguousarray(vt[:dims].T, dtype=np.float32)
    projected = np.ascontiguousarray(vectors @ projection, dtype=np.float32)
    return VectorSearch(vectors, projection, projected, oversample)
