"""Lexical neighbours: BM25 (the bm25s library) over the texts an organisation is made of.

Embeddings blur the exact vocabulary a defence business developer searches by ("loitering munition",
"GaN", "sonar"); BM25 keeps it. Documents are project texts and organisation descriptions; an organisation
is as lexically close to a query as its best-matching own document. An organisation query is its own
documents' most distinctive terms (tf-idf, at most ``QUERY_TERMS``); a text query is all of its terms.
"""

from __future__ import annotations

from dataclasses import dataclass

import bm25s
import numpy as np
from scipy import sparse

QUERY_TERMS = 48


@dataclass(frozen=True)
class LexicalIndex:
    """BM25 over ``n_docs`` documents and the (n_orgs, n_docs) map of which documents are whose."""

    bm25: bm25s.BM25
    vocab: dict[str, int]
    doc_terms: list[np.ndarray]  # token ids of each document
    idf: np.ndarray  # (vocabulary,)
    owner: sparse.csr_matrix  # (n_orgs, n_docs) 1 where the document is the organisation's

    @property
    def n_docs(self) -> int:
        return len(self.doc_terms)

    def text_terms(self, text: str) -> np.ndarray:
        """Vocabulary ids of the known terms of a free text."""
        tokens = bm25s.tokenize([text], stopwords="en", show_progress=False, return_ids=False)[0]
        return np.unique([self.vocab[t] for t in tokens if t in self.vocab]).astype(np.int64)

    def organisation_terms(self, row: int) -> np.ndarray:
        """The ``QUERY_TERMS`` most distinctive terms (tf-idf) of an organisation's own documents."""
        docs = self.owner.indices[self.owner.indptr[row] : self.owner.indptr[row + 1]]
        if len(docs) == 0:
            return np.zeros(0, dtype=np.int64)
        terms = np.concatenate([self.doc_terms[d] for d in docs])
        ids, counts = np.unique(terms, return_counts=True)
        weight = np.log1p(counts) * self.idf[ids]
        best = np.argsort(-weight, kind="stable")[:QUERY_TERMS]
        return np.sort(ids[best])

    def scores(self, terms: np.ndarray) -> np.ndarray:
        """(n_orgs,) BM25 of each organisation's best-matching document for the query ``terms``."""
        n_orgs = self.owner.shape[0]
        if len(terms) == 0 or self.n_docs == 0:
            return np.zeros(n_orgs)
        doc_scores = np.asarray(self.bm25.get_scores_from_ids(list(map(int, terms))), dtype=np.float64)
        # Only documents containing a query term score: each updates its owners' best (no pass over every
        # organisation's documents).
        matched = np.flatnonzero(doc_scores > 0)
        best = np.zeros(n_orgs)
        if len(matched):
            owners = self.owners_of_documents
            starts, ends = owners.indptr[matched], owners.indptr[matched + 1]
            lengths = ends - starts
            take = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
            np.maximum.at(best, owners.indices[take], np.repeat(doc_scores[matched], lengths))
        return best

    @property
    def owners_of_documents(self) -> sparse.csc_matrix:
        """``owner`` by columns: the organisations of each document (built once)."""
        cached = self.__dict__.get("_owners_of_documents")
        if cached is None:
            cached = self.owner.tocsc()
            cached.sort_indices()
            object.__setattr__(self, "_owners_of_documents", cached)
        return cached


def build_lexical_index(texts: list[str], owner: sparse.csr_matrix) -> LexicalIndex:
    """Index ``texts`` (documents) owned by organisations per ``owner`` (n_orgs, len(texts))."""
    if owner.shape[1] != len(texts):
        raise ValueError(f"owner has {owner.shape[1]} document columns for {len(texts)} texts")
    tokenized = bm25s.tokenize(texts or [""], stopwords="en", show_progress=False)
    bm25 = bm25s.BM25()
    bm25.index(tokenized, show_progress=False)
    doc_terms = [np.asarray(ids, dtype=np.int64) for ids in tokenized.ids[: len(texts)]]
    n_vocab = max(tokenized.vocab.values(), default=-1) + 1
    df = np.zeros(n_vocab)
    for ids in doc_terms:
        df[np.unique(ids)] += 1
    idf = np.log((1 + len(texts)) / (1 + df)) + 1.0
    binary = owner.tocsr().astype(np.float64)
    binary.data[:] = 1.0
    return LexicalIndex(bm25, dict(tokenized.vocab), doc_terms, idf, binary)
