"""Add or replace organisations in a ranking index without rebuilding every profile.

A full rebuild of the profiles of the default catalogue takes seconds to minutes; an organisation added
through the API must be rankable at once. :func:`with_organisations` returns a *new* index (the old one is
left untouched, so readers holding it keep a consistent view; rankers take the index per call, so the same
fitted ranker serves the new index as it is) in which each given organisation:

- replaces the catalogue row with the same id in place (its projects, graph position and pooled project
  vector stay), or is appended as a new row with no projects and no collaborations;
- gets the profile :func:`recommender.profiles.profiles.build_profiles` would give it: its own description
  vector and priority scores (computed by the caller with the workspace's encoder, exactly as for a
  catalogue description) blended with its pooled projects, normalised, with declared technology areas
  floored.

The result equals a full rebuild organisation by organisation (row order aside: a rebuild appends
user rows at the end); tests/test_ranking_incremental.py checks it.
"""

from __future__ import annotations

from dataclasses import fields, replace

import numpy as np
import pandas as pd
from scipy import sparse

from recommender.catalogue import Catalogue
from recommender.catalogue.build import conform
from recommender.catalogue.kinds import classify_organisations
from recommender.catalogue.schema import ORGANISATIONS
from recommender.errors import CorridorError
from recommender.graph import CollaborationGraph
from recommender.history import ProgrammeHistory
from recommender.profiles.profiles import (
    DECLARED_FLOOR,
    DESCRIPTION_SHARE,
    TOP_PROJECTS,
    Profiles,
)
from recommender.profiles.text import description_text
from recommender.ranking.index import RankingIndex


def description_texts(rows: list[dict]) -> list[str]:
    """The texts to encode for ``rows`` (the same clipping as a catalogue description)."""
    return [description_text(None, row.get("description"))[0] for row in rows]


def with_organisations(
    index: RankingIndex, rows: list[dict], vectors: np.ndarray, scores: np.ndarray
) -> RankingIndex:
    """A new index with ``rows`` (validated organisation records) added or replacing rows with the same id.

    ``vectors`` (n, d) and ``scores`` (n, P) are the encoder vectors and priority scores of
    :func:`description_texts` of ``rows``, in the same order.
    """
    if not rows:
        return index
    ids = [str(r["id"]) for r in rows]
    if len(set(ids)) != len(ids):
        raise CorridorError("with_organisations: duplicate ids in one call")
    vectors = np.asarray(vectors, dtype=np.float32)
    scores = np.asarray(scores, dtype=np.float64)
    prof = index.profiles
    if vectors.shape != (len(rows), prof.org_vectors.shape[1]) or scores.shape != (len(rows), prof.org_scores.shape[1]):
        raise CorridorError(
            f"with_organisations: expected vectors {(len(rows), prof.org_vectors.shape[1])} and scores "
            f"{(len(rows), prof.org_scores.shape[1])}, got {vectors.shape} and {scores.shape}"
        )
    existing = [index.row_of.get(i) for i in ids]
    n_old = len(index.ids)
    new_ids = [i for i, r in zip(ids, existing, strict=True) if r is None]
    n_new = len(new_ids)
    target_rows = []
    next_row = n_old
    for r in existing:
        if r is None:
            target_rows.append(next_row)
            next_row += 1
        else:
            target_rows.append(r)

    catalogue = _catalogue(index.catalogue, rows, existing)
    graph = _graph(index, rows, existing, n_new)
    weights = prof.org_weights
    if n_new:
        weights = sparse.vstack([weights, sparse.csr_matrix((n_new, weights.shape[1]))]).tocsr()
    org_vectors = np.vstack([prof.org_vectors, np.zeros((n_new, prof.org_vectors.shape[1]), dtype=np.float32)])
    org_scores = np.vstack([prof.org_scores, np.zeros((n_new, prof.org_scores.shape[1]))])
    has_profile = np.concatenate([prof.org_has_profile, np.zeros(n_new, dtype=bool)])
    desc_texts = dict(prof.org_description_texts)
    taxonomy_ids = prof.taxonomy.ids
    for k, (row, rec) in enumerate(zip(target_rows, rows, strict=True)):
        text = description_texts([rec])[0]
        vector, score = organisation_profile_vectors(
            prof, weights, row, vectors[k] if text else None, scores[k] if text else None
        )
        declared = set(filter(None, (rec.get("technology_areas") or "").split(";")))
        for j, pid in enumerate(taxonomy_ids):
            if pid in declared:
                score[j] = max(score[j], DECLARED_FLOOR)
        org_vectors[row] = vector
        org_scores[row] = np.clip(score, 0.0, 1.0)
        has_profile[row] = bool(text) or weights.getrow(row).sum() > 0
        if text:
            desc_texts[ids[k]] = text
        else:
            desc_texts.pop(ids[k], None)
    changes = {
        "org_ids": catalogue.organisations["id"].to_numpy(dtype=object),
        "org_vectors": org_vectors,
        "org_scores": org_scores,
        "org_has_profile": has_profile,
        "org_weights": weights,
        "org_description_texts": desc_texts,
    }
    unknown = [f.name for f in fields(prof) if f.name.startswith("org_") and f.name not in changes]
    if unknown:
        raise CorridorError(f"with_organisations: profile fields {unknown} are not supported; extend it")
    profiles = replace(prof, **changes)
    # Programme history comes from participations alone, which users' rows do not change: carried over, with
    # empty rows for the new organisations. The lexical index gains the rows' descriptions as extra documents.
    history = _history(index.history, n_new) if index.history is not None else None
    kinds = _kinds(index, catalogue, target_rows)
    lexical = None
    if index.lexical is not None and index.lexical.doc_freq is not None:
        texts = description_texts(rows)
        lexical = index.lexical.with_descriptions(
            len(catalogue.organisations), {row: text or None for row, text in zip(target_rows, texts, strict=True)}
        )
    # The search keeps its HNSW graph or half-precision scan and reads the changed and new rows exactly.
    search = index.vector_search.with_vectors(org_vectors, np.asarray(target_rows, dtype=np.int64))
    return replace(index, catalogue=catalogue, profiles=profiles, graph=graph, history=history, lexical=lexical,
                   organisation_kinds=kinds, search=search)


def _kinds(index: RankingIndex, catalogue: Catalogue, rows: list[int]) -> pd.DataFrame:
    """The kinds of ``catalogue``'s organisations: those of ``index`` with ``rows`` classified again (a row's
    kind depends only on its own names, activity type and projects)."""
    organisations = catalogue.organisations
    changed = organisations.iloc[rows]
    fresh = classify_organisations(changed, catalogue.projects, index._participations_until_cutoff(changed["id"]))
    kinds = np.concatenate([index.kinds, np.full(len(organisations) - len(index.ids), "", dtype=object)])
    reasons = np.concatenate([index.kind_reasons, np.full(len(kinds) - len(index.ids), "", dtype=object)])
    kinds[rows] = fresh["kind"].to_numpy(dtype=object)
    reasons[rows] = fresh["kind_reason"].to_numpy(dtype=object)
    return pd.DataFrame({"id": organisations["id"].to_numpy(dtype=object), "kind": kinds,
                         "funding_body": kinds == "funding", "kind_reason": reasons})


def _history(history: ProgrammeHistory, n_new: int) -> ProgrammeHistory:
    """``history`` with ``n_new`` organisations that have no participations appended."""
    if n_new == 0:
        return history

    def rows(a: np.ndarray) -> np.ndarray:
        return np.concatenate([a, np.zeros((n_new, *a.shape[1:]), dtype=a.dtype)])

    def square(m: sparse.csr_matrix) -> sparse.csr_matrix:
        n = m.shape[0] + n_new
        return sparse.csr_matrix((m.data, m.indices, np.concatenate([m.indptr, np.full(n_new, m.indptr[-1])])),
                                 shape=(n, n))

    rd, defence = square(history.rd_adjacency), square(history.defence_adjacency)
    return replace(
        history,
        participations=rows(history.participations),
        coordinations=rows(history.coordinations),
        recent=rows(history.recent),
        partners=rows(history.partners),
        coordination_share=rows(history.coordination_share),
        rd_adjacency=rd,
        defence_adjacency=defence,
        rd_aa_weight=rows(history.rd_aa_weight),
        defence_aa_weight=rows(history.defence_aa_weight),
    )


def organisation_profile_vectors(
    profiles: Profiles,
    weights: sparse.csr_matrix,
    row: int,
    description_vector: np.ndarray | None,
    description_scores: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """(unit vector, priority scores before the declared floor) of one organisation, as build_profiles does.

    The project part pools the projects in ``weights[row]`` (recency and coordinator weights already in);
    the description, when there is one, is half of the profile (all of it without projects).
    """
    start, end = weights.indptr[row], weights.indptr[row + 1]
    cols, w = weights.indices[start:end], weights.data[start:end]
    dim = profiles.org_vectors.shape[1]
    n_priorities = profiles.org_scores.shape[1]
    vector = np.zeros(dim, dtype=np.float64)
    score = np.zeros(n_priorities)
    total = float(w.sum())
    has_projects = total > 0
    if has_projects:
        vector = (w @ profiles.project_vectors[cols]) / total
        block = profiles.project_scores[cols]
        weighted_mean = (w @ block) / total
        top_mean = block.mean(axis=0) if len(block) <= TOP_PROJECTS else np.sort(block, axis=0)[-TOP_PROJECTS:].mean(0)
        score = 0.5 * weighted_mean + 0.5 * top_mean
    if description_vector is not None and description_scores is not None:
        share = DESCRIPTION_SHARE if has_projects else 1.0
        vector = share * description_vector + (1 - share) * vector
        score = share * np.asarray(description_scores, dtype=np.float64) + (1 - share) * score
    norm = np.linalg.norm(vector)
    vector = vector / norm if norm > 0 else np.zeros(dim)
    return vector.astype(np.float32), score


# ---------------------------------------------------------------------------------------------------------
def _catalogue(catalogue: Catalogue, rows: list[dict], existing: list[int | None]) -> Catalogue:
    orgs = catalogue.organisations
    frame = conform(pd.DataFrame([{f.name: r.get(f.name) for f in ORGANISATIONS} for r in rows]), ORGANISATIONS)
    replaced = [(k, r) for k, r in enumerate(existing) if r is not None]
    if replaced:
        orgs = orgs.copy()
        positions = [r for _, r in replaced]
        orgs.iloc[positions] = frame.iloc[[k for k, _ in replaced]].to_numpy()
    added = [k for k, r in enumerate(existing) if r is None]
    if added:
        orgs = pd.concat([orgs, frame.iloc[added]], ignore_index=True)
    return Catalogue(conform(orgs, ORGANISATIONS), catalogue.projects, catalogue.participations)


def _graph(index: RankingIndex, rows: list[dict], existing: list[int | None], n_new: int) -> CollaborationGraph:
    """The graph with ``n_new`` isolated rows appended and country codes set for every given row."""
    g = index.graph
    n_old = len(index.ids)
    n = n_old + n_new
    adjacency = g.adjacency
    if n_new:
        indptr = np.concatenate([adjacency.indptr, np.full(n_new, adjacency.indptr[-1])])
        adjacency = sparse.csr_matrix((adjacency.data, adjacency.indices, indptr), shape=(n, n))
        incidence = sparse.vstack([g.incidence, sparse.csr_matrix((n_new, g.incidence.shape[1]))]).tocsr()
    else:
        incidence = g.incidence
    codes = np.concatenate([g.country_codes, np.zeros(n_new, dtype=g.country_codes.dtype)])
    links = g.country_links
    code_of: dict[str, int] = {}
    for c, code in zip(index.countries, g.country_codes, strict=True):
        code_of.setdefault(c or "??", int(code))
    next_row = n_old
    for rec, row in zip(rows, existing, strict=True):
        if row is None:
            row, next_row = next_row, next_row + 1
        country = rec.get("country") or "??"
        if country not in code_of:
            code_of[country] = links.shape[0]
            links = np.pad(links, ((0, 1), (0, 1)))
        codes[row] = code_of[country]

    # Every other per-organisation array of the graph grows with zeros (an organisation with no projects);
    # a new kind of per-organisation field must be taught here rather than silently left misaligned.
    changes: dict = {
        "incidence": incidence,
        "adjacency": adjacency,
        "country_codes": codes,
        "country_links": links,
        "project_ids": g.project_ids,
    }
    for f in fields(g):
        if f.name in changes:
            continue
        value = getattr(g, f.name)
        if isinstance(value, np.ndarray) and value.ndim == 1 and len(value) == n_old:
            changes[f.name] = np.concatenate([value, np.zeros(n_new, dtype=value.dtype)])
        elif sparse.issparse(value) or (isinstance(value, np.ndarray) and value.shape[:1] == (n_old,)):
            raise CorridorError(f"with_organisations: graph field {f.name!r} is not supported; extend _graph")
    return replace(g, **changes)
