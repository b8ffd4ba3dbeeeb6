"""Capability profiles of projects and organisations: vectors, priority scores and their evidence.

An organisation's profile describes what it does, from its own description (curated or user-given) and
the content of its projects; never from whom it worked with. Its vector pools the vectors of its
description and of each of its projects (see :mod:`recommender.profiles.text` for why we pool rather
than concatenate), weighting recent projects and coordinated ones more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pandas as pd
from scipy import sparse

from recommender.catalogue.build import Catalogue
from recommender.errors import UnknownOrganisationError
from recommender.profiles.priorities import priority_features, term_evidence
from recommender.profiles.taxonomy import Taxonomy, TermMatcher
from recommender.profiles.text import description_text, project_text

if TYPE_CHECKING:
    from recommender.profiles.tagger import PriorityTagger

HALF_LIFE_YEARS = 4.0  # a project signed 4 years before the reference year weighs half as much
COORDINATOR_WEIGHT = 1.5
DESCRIPTION_SHARE = 0.5  # an own description is half of the profile when there are projects too
DECLARED_FLOOR = 0.6  # a technology area declared by a curator or user scores at least this
TOP_PROJECTS = 3
EVIDENCE_MIN_SCORE = 0.2  # a project is shown as evidence for a priority only if it scores at least this


class TextEncoder(Protocol):
    fingerprint: str

    def encode(self, texts: list[str], show_progress: bool = False) -> np.ndarray: ...


@dataclass
class Profiles:
    """Vectors and priority scores of every organisation and every project with text."""

    taxonomy: Taxonomy
    description_vectors: np.ndarray  # (P, d)
    project_ids: np.ndarray
    project_vectors: np.ndarray  # (n_projects, d)
    project_scores: np.ndarray  # (n_projects, P)
    project_truncated: np.ndarray  # (n_projects,) bool: the text was clipped to the encoder budget
    project_texts: list[str]
    org_ids: np.ndarray
    org_vectors: np.ndarray  # (n_orgs, d); zero rows for organisations with no text at all
    org_scores: np.ndarray  # (n_orgs, P)
    org_has_profile: np.ndarray  # (n_orgs,) bool
    org_weights: sparse.csr_matrix  # (n_orgs, n_projects) pooling weights
    org_description_texts: dict[str, str] = field(default_factory=dict)
    reference_year: int = 0
    _org_row: dict[str, int] = field(default_factory=dict, repr=False)
    _project_row: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._org_row = {oid: i for i, oid in enumerate(self.org_ids)}
        self._project_row = {pid: i for i, pid in enumerate(self.project_ids)}

    def org_row(self, org_id: str) -> int:
        try:
            return self._org_row[org_id]
        except KeyError:
            raise UnknownOrganisationError(org_id) from None

    def project_row(self, project_id: str) -> int | None:
        return self._project_row.get(project_id)

    def org_vector(self, org_id: str) -> np.ndarray:
        return self.org_vectors[self.org_row(org_id)]

    def org_priority_scores(self, org_id: str) -> dict[str, float]:
        row = self.org_scores[self.org_row(org_id)]
        return {pid: float(s) for pid, s in zip(self.taxonomy.ids, row, strict=True)}


def recency_weight(years: np.ndarray, reference_year: int) -> np.ndarray:
    age = np.clip(reference_year - years, 0, None)
    return 0.5 ** (age / HALF_LIFE_YEARS)


def _text_projects(projects: pd.DataFrame) -> pd.DataFrame:
    return projects[projects["title"].notna() | projects["objective"].notna()].reset_index(drop=True)


def build_profiles(
    catalogue: Catalogue,
    encoder: TextEncoder,
    taxonomy: Taxonomy,
    tagger: PriorityTagger | None,
    until_year: int | None = None,
    show_progress: bool = False,
) -> Profiles:
    """Profiles of every project with text and every organisation.

    ``until_year`` keeps only projects of that year or earlier in organisation profiles (for temporal
    training without leakage); project vectors of later projects are still computed. Without a fitted
    ``tagger`` the priority scores are the cosine similarity to the priority descriptions, clipped to [0, 1].
    """
    matcher = TermMatcher(taxonomy)
    desc_vectors = encoder.encode([p.description for p in taxonomy.priorities])
    projects = _text_projects(catalogue.projects)
    clipped = [project_text(r.title, r.topic_title, r.objective) for r in projects.itertuples(index=False)]
    texts = [t for t, _ in clipped]
    p_vectors = encoder.encode(texts, show_progress=show_progress)
    p_scores = score_texts(texts, p_vectors, desc_vectors, matcher, tagger)

    orgs = catalogue.organisations
    org_ids = orgs["id"].to_numpy(dtype=object)
    org_index = {oid: i for i, oid in enumerate(org_ids)}
    years = projects["year"].astype("float").fillna(0).to_numpy()
    reference_year = int(until_year if until_year is not None else np.nanmax(years))

    links = catalogue.participations
    proj_index = pd.Series(np.arange(len(projects)), index=projects["id"].to_numpy())
    links = links[links["project_id"].isin(proj_index.index) & links["org_id"].isin(org_index)]
    cols = proj_index.loc[links["project_id"].to_numpy()].to_numpy()
    if until_year is not None:
        keep = years[cols] <= until_year
        links, cols = links[keep], cols[keep]
    rows = links["org_id"].map(org_index).to_numpy()
    w = recency_weight(years[cols], reference_year) * np.where(
        links["role"].to_numpy() == "coordinator", COORDINATOR_WEIGHT, 1.0
    )
    weights = sparse.csr_matrix((w, (rows, cols)), shape=(len(orgs), len(projects)))
    weight_sum = np.asarray(weights.sum(axis=1)).ravel()
    has_projects = weight_sum > 0
    pooled = np.asarray(weights @ p_vectors) / np.where(has_projects, weight_sum, 1.0)[:, None]

    # Projects part of the priority score: half weighted mean, half mean of the top-3 project scores,
    # so that a large multi-topic organisation is not diluted out of a priority it really works in.
    weighted_mean = np.asarray(weights @ p_scores) / np.where(has_projects, weight_sum, 1.0)[:, None]
    top_mean = _top_k_mean(weights, p_scores, TOP_PROJECTS)
    project_part = 0.5 * weighted_mean + 0.5 * top_mean

    descs = orgs["description"].fillna("")
    has_desc = (descs.str.len() > 0).to_numpy()
    desc_idx = np.flatnonzero(has_desc)
    desc_texts = {org_ids[i]: description_text(None, descs.iloc[i])[0] for i in desc_idx}
    d_vectors = encoder.encode([desc_texts[org_ids[i]] for i in desc_idx]) if len(desc_idx) else None

    dim = p_vectors.shape[1] if len(p_vectors) else desc_vectors.shape[1]
    org_vectors = np.zeros((len(orgs), dim), dtype=np.float32)
    org_scores = np.zeros((len(orgs), len(taxonomy.priorities)))
    org_vectors[has_projects] = pooled[has_projects]
    org_scores[has_projects] = project_part[has_projects]
    if d_vectors is not None:
        d_scores = score_texts(list(desc_texts.values()), d_vectors, desc_vectors, matcher, tagger)
        share = np.where(has_projects[desc_idx], DESCRIPTION_SHARE, 1.0)[:, None]
        org_vectors[desc_idx] = share * d_vectors + (1 - share) * org_vectors[desc_idx]
        org_scores[desc_idx] = share * d_scores + (1 - share) * org_scores[desc_idx]
    norms = np.linalg.norm(org_vectors, axis=1, keepdims=True)
    org_vectors = np.divide(org_vectors, norms, out=np.zeros_like(org_vectors), where=norms > 0)

    declared = orgs["technology_areas"].fillna("").str.split(";")
    for j, pid in enumerate(taxonomy.ids):
        mask = declared.map(lambda areas, p=pid: p in areas).to_numpy()
        org_scores[mask, j] = np.maximum(org_scores[mask, j], DECLARED_FLOOR)

    return Profiles(
        taxonomy=taxonomy,
        description_vectors=desc_vectors,
        project_ids=projects["id"].to_numpy(dtype=object),
        project_vectors=p_vectors,
        project_scores=p_scores,
        project_truncated=np.array([c for _, c in clipped], dtype=bool),
        project_texts=texts,
        org_ids=org_ids,
        org_vectors=org_vectors,
        org_scores=np.clip(org_scores, 0.0, 1.0),
        org_has_profile=has_projects | has_desc,
        org_weights=weights,
        org_description_texts=desc_texts,
        reference_year=reference_year,
    )


def score_texts(
    texts: list[str],
    vectors: np.ndarray,
    description_vectors: np.ndarray,
    matcher: TermMatcher,
    tagger: PriorityTagger | None,
) -> np.ndarray:
    """(n, P) priority scores of texts whose vectors are given."""
    if len(texts) == 0:
        return np.zeros((0, len(description_vectors)))
    if tagger is None:
        return np.clip(vectors @ description_vectors.T, 0.0, 1.0)
    return tagger.predict_proba(priority_features(vectors, matcher.counts(texts), description_vectors), texts)


def _top_k_mean(weights: sparse.csr_matrix, scores: np.ndarray, k: int) -> np.ndarray:
    """Per organisation (row) and priority, the mean of its k highest project scores."""
    out = np.zeros((weights.shape[0], scores.shape[1]))
    indptr, indices = weights.indptr, weights.indices
    counts = np.diff(indptr)
    for row in np.flatnonzero(counts):
        block = scores[indices[indptr[row] : indptr[row + 1]]]
        if len(block) <= k:
            out[row] = block.mean(axis=0)
        else:
            out[row] = np.sort(block, axis=0)[-k:].mean(axis=0)
    return out


@dataclass(frozen=True)
class PriorityEvidence:
    priority: str
    score: float
    terms: list[str]
    projects: list[tuple[str, str, float]]  # (project id, title, project score)
    declared: bool


def explain_org_priorities(
    profiles: Profiles, catalogue: Catalogue, org_id: str, top: int = 3, tagger: PriorityTagger | None = None
) -> list[PriorityEvidence]:
    """Every priority of an organisation, best first, with the terms and projects that drove it.

    Terms are the curated indicative terms found in its texts, then (with a tagger) the words the tagger
    learned to weigh for that priority."""
    row = profiles.org_row(org_id)
    org = catalogue.organisations.iloc[row]  # profiles are built row-aligned with the catalogue
    matcher = TermMatcher(profiles.taxonomy)
    weights = profiles.org_weights.getrow(row)
    proj_cols, proj_w = weights.indices, weights.data
    texts = [profiles.org_description_texts.get(org_id, "")] + [profiles.project_texts[c] for c in proj_cols]
    found = [term_evidence(matcher, t) for t in texts]
    if tagger is not None:
        found += tagger.learned_terms(texts, top=3)
    areas = org.get("technology_areas")
    declared = set(areas.split(";")) if isinstance(areas, str) else set()
    titles = catalogue.projects.set_index("id")["title"]
    out = []
    for j, pid in enumerate(profiles.taxonomy.ids):
        terms: list[str] = []
        for per_text in found:
            terms.extend(t for t in per_text[j] if t not in terms)
        contrib = proj_w * profiles.project_scores[proj_cols, j]
        best = np.argsort(-contrib, kind="stable")[:top]
        projects = [
            (
                str(profiles.project_ids[proj_cols[b]]),
                str(titles.get(profiles.project_ids[proj_cols[b]], "")),
                float(profiles.project_scores[proj_cols[b], j]),
            )
            for b in best
            if contrib[b] > 0 and profiles.project_scores[proj_cols[b], j] >= EVIDENCE_MIN_SCORE
        ]
        out.append(PriorityEvidence(pid, float(profiles.org_scores[row, j]), terms[:8], projects, pid in declared))
    return sorted(out, key=lambda e: -e.score)


def characteristic_projects(profiles: Profiles, org_id: str, top: int = 5) -> list[tuple[str, float]]:
    """The organisation's projects closest to its own pooled profile (id, cosine)."""
    row = profiles.org_row(org_id)
    cols = profiles.org_weights.getrow(row).indices
    if len(cols) == 0:
        return []
    sims = profiles.project_vectors[cols] @ profiles.org_vectors[row]
    order = np.argsort(-sims, kind="stable")[:top]
    return [(str(profiles.project_ids[cols[i]]), float(sims[i])) for i in order]
