"""Lexical neighbours: BM25 (the bm25s library) over the texts an organisation is made of.

Embeddings blur the exact vocabulary a defence business developer searches by ("loitering munition",
"GaN", "sonar"); BM25 keeps it. Documents are project texts and organisation descriptions; an organisation
is as lexically close to a query as its best-matching own document. An organisation query is its own
documents' most distinctive terms (tf-idf, at most ``QUERY_TERMS``); a text query is all of its terms.

Descriptions that users add or change after the index is built are appended as extra documents, scored
with the built corpus's statistics (document frequencies, average length), so that a live addition is
searchable at once without re-indexing every text (:meth:`LexicalIndex.with_descriptions`); the next full
build folds them into the corpus.
"""

from __future__ import annotations

from dataclasses import dataclass

import bm25s
import numpy as np
from scipy import sparse

from recommender.row_scores import DENSE_SHARE, RowScores, csr_row_ranges

QUERY_TERMS = 48


@dataclass(frozen=True)
class LexicalIndex:
    """BM25 over ``n_docs`` documents and the (n_orgs, n_docs) map of which documents are whose."""

    bm25: bm25s.BM25
    vocab: dict[str, int]
    doc_terms: list[np.ndarray]  # token ids of each document (indexed ones, then extra ones)
    idf: np.ndarray  # (vocabulary,)
    owner: sparse.csr_matrix  # (n_orgs, n_docs) 1 where the document is the organisation's
    doc_freq: np.ndarray | None = None  # (vocabulary,) indexed documents containing each term
    avg_doc_len: float = 1.0  # of the indexed documents
    first_description: int = 0  # documents from this one on are organisation descriptions
    extra: sparse.csr_matrix | None = None  # (n_extra, vocabulary) BM25 term scores of documents added later

    @property
    def n_docs(self) -> int:
        return len(self.doc_terms)

    @property
    def n_indexed(self) -> int:
        return self.n_docs - (0 if self.extra is None else self.extra.shape[0])

    def term_scores(self, texts: list[str]) -> tuple[sparse.csr_matrix, list[np.ndarray]]:
        """(len(texts), vocabulary) BM25 term scores of new documents under this corpus's statistics, as
        the indexed documents' own (Lucene BM25, the bm25s default), and their known terms."""
        if self.doc_freq is None:
            raise ValueError("this lexical index does not record its document frequencies; rebuild it")
        tokens = bm25s.tokenize(texts, stopwords="en", show_progress=False, return_ids=False)
        n_indexed, k1, b = self.n_indexed, self.bm25.k1, self.bm25.b
        rows, cols, values, terms = [], [], [], []
        for i, doc in enumerate(tokens):
            known = np.array([self.vocab[t] for t in doc if t in self.vocab], dtype=np.int64)
            terms.append(known)
            ids, tf = np.unique(known, return_counts=True)
            df = self.doc_freq[ids]
            idf = np.log(1 + (n_indexed - df + 0.5) / (df + 0.5))
            tfc = tf / (k1 * ((1 - b) + b * len(doc) / self.avg_doc_len) + tf)
            rows += [i] * len(ids)
            cols += ids.tolist()
            values += (idf * tfc).tolist()
        shape = (len(texts), len(self.doc_freq))
        return sparse.csr_matrix((np.asarray(values, dtype=np.float64), (rows, cols)), shape=shape), terms

    def with_descriptions(self, n_orgs: int, descriptions: dict[int, str | None]) -> LexicalIndex:
        """This index for ``n_orgs`` organisations (rows beyond the current ones are new) where each
        organisation row of ``descriptions`` has that description (None: none) instead of its current one."""
        owner = self.owner.copy()
        for row in descriptions:
            if row < owner.shape[0]:
                start, end = owner.indptr[row], owner.indptr[row + 1]
                owner.data[start:end][owner.indices[start:end] >= self.first_description] = 0.0
        if n_orgs > owner.shape[0]:
            owner = sparse.vstack([owner, sparse.csr_matrix((n_orgs - owner.shape[0], self.n_docs))]).tocsr()
        texts = {row: text for row, text in descriptions.items() if text}
        added, terms = self.term_scores(list(texts.values())) if texts else (None, [])
        new_owner = sparse.csr_matrix(
            (np.ones(len(texts)), (list(texts), np.arange(len(texts)))), shape=(n_orgs, len(texts))
        )
        owner_csr = sparse.hstack([owner, new_owner]).tocsr()
        owner_csr.eliminate_zeros()
        extra = self.extra
        if added is not None:
            extra = added if extra is None else sparse.vstack([extra, added]).tocsr()
        return LexicalIndex(self.bm25, self.vocab, self.doc_terms + terms, self.idf, owner_csr, self.doc_freq,
                            self.avg_doc_len, self.first_description, extra)

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

    def document_scores(self, terms: np.ndarray) -> RowScores:
        """BM25 of the documents that hold any of the query ``terms``, summed from the index's term postings
        (bm25s's precomputed per-term document scores; Lucene BM25 has no score for absent terms) and the
        extra documents' term scores."""
        postings = self.bm25.scores
        take, _ = csr_row_ranges(postings["indptr"], np.asarray(terms, dtype=np.int64))
        dense = np.bincount(postings["indices"][take], weights=postings["data"][take], minlength=self.n_indexed)
        if self.extra is not None:
            added = np.asarray(self.extra[:, terms].sum(axis=1), dtype=np.float32).ravel().astype(np.float64)
            dense = np.concatenate([dense, added])
        return RowScores.from_dense(dense)

    def scores(self, terms: np.ndarray) -> LexicalMatches:
        """The query ``terms``' matches: each organisation scores its best-matching own document's BM25."""
        if len(terms) == 0 or self.n_docs == 0:
            return LexicalMatches(self, RowScores.empty(self.n_docs))
        return LexicalMatches(self, self.document_scores(terms))

    @property
    def owners_of_documents(self) -> sparse.csc_matrix:
        """``owner`` by columns: the organisations of each document (built once)."""
        cached = self.__dict__.get("_owners_of_documents")
        if cached is None:
            cached = self.owner.tocsc()
            cached.sort_indices()
            object.__setattr__(self, "_owners_of_documents", cached)
        return cached


def build_lexical_index(texts: list[str], owner: sparse.csr_matrix, first_description: int = 0) -> LexicalIndex:
    """Index ``texts`` (documents) owned by organisations per ``owner`` (n_orgs, len(texts)); documents from
    ``first_description`` on are organisation descriptions."""
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
    avg_len = float(np.mean([len(ids) for ids in doc_terms])) if doc_terms else 1.0
    return LexicalIndex(bm25, dict(tokenized.vocab), doc_terms, idf, binary, df, avg_len, first_description)


@dataclass(frozen=True)
class LexicalMatches:
    """One query's BM25 matches. An organisation scores its best-matching own document; a query's terms reach
    a large share of organisations through the participants of shared projects, so organisation scores are
    read on demand (for the candidates, or the best few) from the few thousand matching documents instead of
    being spread over every organisation."""

    index: LexicalIndex
    documents: RowScores  # the documents with a positive score

    def dense(self) -> np.ndarray:
        """(n_orgs,) every organisation's score."""
        by_document = self.index.owners_of_documents
        best = np.zeros(self.index.owner.shape[0])
        take, lengths = csr_row_ranges(by_document.indptr, self.documents.rows)
        np.maximum.at(best, by_document.indices[take], np.repeat(self.documents.values, lengths))
        return best

    def at(self, rows: np.ndarray) -> np.ndarray:
        """The scores of organisation ``rows``."""
        rows = np.asarray(rows, dtype=np.int64)
        if len(self.documents) == 0 or len(rows) == 0:
            return np.zeros(len(rows))
        if len(rows) > DENSE_SHARE * self.index.owner.shape[0]:
            return self.dense()[rows]
        owner = self.index.owner
        take, lengths = csr_row_ranges(owner.indptr, rows)
        scores = self.documents.at(owner.indices[take])
        best = np.zeros(len(rows))
        owned = lengths > 0
        if owned.any():
            best[owned] = np.maximum.reduceat(scores, (np.cumsum(lengths) - lengths)[owned])
        return best

    def max(self) -> float:
        """The best organisation's score: the best document that has an owner."""
        by_document = self.index.owners_of_documents
        owned = np.diff(by_document.indptr)[self.documents.rows] > 0
        return float(self.documents.values[owned].max()) if owned.any() else 0.0

    def best_within(self, mask: np.ndarray, k: int, block: int = 256) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best-scoring organisations that ``mask`` allows (every one tied with the k-th too), with
        their scores: documents are read best first, in growing blocks, until the next document cannot
        change the set."""
        docs = self.documents
        by_document = self.index.owners_of_documents
        n_docs = len(docs)
        if n_docs == 0 or k <= 0:
            return docs.rows[:0], docs.values[:0]
        while True:
            block = min(block, n_docs)
            top = np.argpartition(-docs.values, block - 1)[:block] if block < n_docs else np.arange(n_docs)
            top = top[np.argsort(-docs.values[top], kind="stable")]
            take, lengths = csr_row_ranges(by_document.indptr, docs.rows[top])
            owners = by_document.indices[take].astype(np.int64)
            scores = np.repeat(docs.values[top], lengths)
            allowed = mask[owners]
            orgs, first = np.unique(owners[allowed], return_index=True)  # first seen = best document
            best = scores[allowed][first]
            if block == n_docs:
                return orgs, best
            if len(orgs) >= k:
                kth = np.partition(best, len(best) - k)[len(best) - k]
                if docs.values[top[-1]] < kth:  # no document left outside the block can tie or beat it
                    return orgs, best
            block *= 4
