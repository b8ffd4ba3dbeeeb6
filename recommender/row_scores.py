"""Scores that only some rows have: a query's graph neighbourhood, the documents that hold its terms.

A query reaches a small part of the catalogue through its past partners (two steps in the graph) or through
its distinctive terms (the documents that hold them). Keeping such scores as a dense array over every
organisation makes each query cost O(catalogue) in allocation, gathers and masks; :class:`RowScores` keeps
only the rows that score, so a query's work follows its neighbourhood, and looking up a few hundred
candidates is a binary search.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

# Above this share of the catalogue, summing into a dense array and keeping its nonzero rows is cheaper than
# sorting the contributions.
DENSE_SHARE = 0.125


@dataclass(frozen=True)
class RowScores:
    """Scores of ``rows`` (ascending, unique) out of ``n_rows`` rows; every other row scores 0."""

    rows: np.ndarray  # int64, ascending
    values: np.ndarray  # float64, one per row
    n_rows: int

    @classmethod
    def empty(cls, n_rows: int) -> RowScores:
        return cls(np.zeros(0, dtype=np.int64), np.zeros(0), n_rows)

    @classmethod
    def from_dense(cls, dense: np.ndarray) -> RowScores:
        rows = np.flatnonzero(dense)
        return cls(rows.astype(np.int64, copy=False), np.asarray(dense[rows], dtype=np.float64), len(dense))

    def __len__(self) -> int:
        return len(self.rows)

    def at(self, rows: np.ndarray) -> np.ndarray:
        """The scores of ``rows`` (0 for rows that do not score)."""
        rows = np.asarray(rows)
        if len(self.rows) == 0 or len(rows) == 0:
            return np.zeros(len(rows))
        if len(rows) > DENSE_SHARE * self.n_rows:  # most of the catalogue (a batch map): one scatter, one gather
            return self.dense()[rows]
        pos = np.minimum(np.searchsorted(self.rows, rows), len(self.rows) - 1)
        return np.where(self.rows[pos] == rows, self.values[pos], 0.0)

    def max(self) -> float:
        return float(self.values.max()) if len(self.values) else 0.0

    def dense(self) -> np.ndarray:
        out = np.zeros(self.n_rows)
        out[self.rows] = self.values
        return out

    def positive_within(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The rows that score above 0 and that ``mask`` (one bool per row) allows, with their scores."""
        keep = (self.values > 0) & mask[self.rows]
        return self.rows[keep], self.values[keep]


def csr_row_ranges(indptr: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The positions of ``rows``' entries in a CSR (or CSC) matrix's ``indices``, concatenated, and each
    row's entry count."""
    starts, ends = indptr[rows], indptr[np.asarray(rows) + 1]
    lengths = (ends - starts).astype(np.int64)
    take = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
    return take, lengths


def neighbourhood(adjacency: sparse.csr_matrix, aa_weight: np.ndarray, row: int) -> tuple[RowScores, RowScores]:
    """(common neighbours, Adamic-Adar) of ``row`` with every organisation two steps away in the graph of
    ``adjacency`` (binary: every stored entry 1), ``row`` itself left out."""
    n_rows = adjacency.shape[0]
    nb = adjacency.indices[adjacency.indptr[row] : adjacency.indptr[row + 1]]
    if len(nb) == 0:
        return RowScores.empty(n_rows), RowScores.empty(n_rows)
    two_steps = adjacency[nb]
    if two_steps.nnz > DENSE_SHARE * n_rows:  # a hub's neighbourhood: both sums in one sparse product
        sums = two_steps.T @ np.stack([np.ones(len(nb)), aa_weight[nb]], axis=1)
        sums[row] = 0.0
        rows = np.flatnonzero(sums[:, 0])
        return RowScores(rows, sums[rows, 0], n_rows), RowScores(rows, sums[rows, 1], n_rows)
    rows, inverse = np.unique(two_steps.indices, return_inverse=True)
    common = np.bincount(inverse, minlength=len(rows)).astype(np.float64)
    adamic_adar = np.bincount(inverse, weights=np.repeat(aa_weight[nb], np.diff(two_steps.indptr)),
                              minlength=len(rows))
    keep = rows != row
    return (RowScores(rows[keep].astype(np.int64), common[keep], n_rows),
            RowScores(rows[keep].astype(np.int64), adamic_adar[keep], n_rows))
