"""Features of (query, candidate) pairs, vectorised over candidates.

Groups: semantic and lexical similarity; priority alignment and demonstrated capability in the requested
priority (own projects tagged with it, their share, a declared area); complementarity (industry with
research, capabilities the query lacks); kind of organisation (company, research, university, public,
funding body); the past collaboration graph (common neighbours and Adamic-Adar in the whole graph, in
the graph of R&D-type actions and in the defence graph; two-hop reach); programme-aware history per
family (participations, coordinations, recent activity, distinct partners: EDF, security research,
Horizon Europe Cluster 3, other Horizon Europe, other H2020), experience in the requested instrument's
programme and the share of coordination/co-fund work; geography; size and SME mix; eligibility.
Graph features of a free-text query are zero: it has no node.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recommender.catalogue.kinds import KINDS
from recommender.history import DEFENCE_FAMILIES, FAMILIES, FAMILY_LABELS
from recommender.ranking.index import ACTIVITY_CODES, RankingIndex, ResolvedQuery
from recommender.ranking.lexical import LexicalMatches
from recommender.row_scores import RowScores

HISTORY_FIELDS = ("participations", "coordinations", "recent", "partners")

FEATURES: tuple[str, ...] = (
    "semantic_similarity",
    "lexical_similarity",
    "candidate_has_profile",
    "priority_alignment",
    "candidate_priority_strength",
    "query_priority_strength",
    "candidate_priority_projects",
    "candidate_priority_share",
    "candidate_priority_declared",
    "query_priority_projects",
    "priority_requested",
    "capability_gap_filled",
    "industry_research_complement",
    "same_activity_type",
    *(f"candidate_is_{a}" for a in ACTIVITY_CODES),
    *(f"candidate_kind_{k}" for k in KINDS),
    "common_neighbours",
    "adamic_adar",
    "two_hop_reach",
    "rd_common_neighbours",
    "rd_adamic_adar",
    "defence_common_neighbours",
    "defence_adamic_adar",
    "candidate_experience",
    "candidate_partners",
    "candidate_coordination",
    "candidate_years_since_last_project",
    "candidate_coordination_share",
    *(f"candidate_{f}_{field}" for f in FAMILIES for field in HISTORY_FIELDS),
    *(f"candidate_defence_{field}" for field in HISTORY_FIELDS),
    *(f"query_{f}_participations" for f in FAMILIES),
    "query_defence_participations",
    "candidate_defence_percentile",
    "candidate_experience_percentile",
    "candidate_instrument_programme_experience",
    "instrument_requested",
    "query_experience",
    "candidate_international_partners",
    "query_outside_europe",
    "same_country",
    "country_pair_links",
    "candidate_partners_in_query_country",
    "candidate_sme",
    "both_sme",
    "candidate_large",
    "eligibility",
)
COLUMN = {name: i for i, name in enumerate(FEATURES)}

_FIELD_LABELS = {
    "participations": "projects in",
    "coordinations": "coordinations in",
    "recent": "recent activity in",
    "partners": "partners met in",
}

# Human-readable names used in explanations.
LABELS: dict[str, str] = {
    "semantic_similarity": "capability profiles are similar",
    "lexical_similarity": "their texts share distinctive terms",
    "candidate_has_profile": "candidate has a capability profile",
    "priority_alignment": "technology priorities align",
    "candidate_priority_strength": "candidate is strong in the priority",
    "query_priority_strength": "query is strong in the priority",
    "candidate_priority_projects": "candidate's own projects in the priority",
    "candidate_priority_share": "candidate specialises in the priority",
    "candidate_priority_declared": "candidate declares the priority",
    "query_priority_projects": "query's own projects in the priority",
    "priority_requested": "a priority was requested",
    "capability_gap_filled": "candidate brings capabilities the query lacks",
    "industry_research_complement": "industry-research complementarity",
    "same_activity_type": "same kind of organisation",
    "common_neighbours": "shared past partners",
    "adamic_adar": "close in the collaboration network (Adamic-Adar)",
    "two_hop_reach": "within two hops in the collaboration network",
    "rd_common_neighbours": "shared partners in R&D projects",
    "rd_adamic_adar": "close in the R&D collaboration network",
    "defence_common_neighbours": "shared partners in defence and security projects",
    "defence_adamic_adar": "close in the defence collaboration network",
    "candidate_experience": "candidate's project experience",
    "candidate_partners": "candidate's network size",
    "candidate_coordination": "candidate's coordination record",
    "candidate_years_since_last_project": "how recently the candidate was active",
    "candidate_coordination_share": "share of the candidate's work in coordination and co-fund actions",
    "candidate_defence_percentile": "candidate is among the most defence-experienced (EDF, security research)",
    "candidate_experience_percentile": "candidate is among the most experienced",
    "candidate_instrument_programme_experience": "candidate's experience in the instrument's programme",
    "instrument_requested": "an instrument was requested",
    "query_experience": "query's project experience",
    "candidate_international_partners": "candidate often works with partners from outside Europe",
    "query_outside_europe": "query is from outside Europe",
    "same_country": "same country",
    "country_pair_links": "the two countries collaborate often",
    "candidate_partners_in_query_country": "candidate has worked with organisations of the query's country",
    "candidate_sme": "candidate is an SME",
    "both_sme": "both are SMEs",
    "candidate_large": "candidate is a large company",
    "eligibility": "eligible under the instrument",
    **{
        f"candidate_is_{a}": f"candidate is {label}"
        for a, label in zip(
            ACTIVITY_CODES,
            ("a company", "a research organisation", "a university", "a public body", "another body"),
            strict=True,
        )
    },
    **{f"candidate_kind_{k}": f"candidate's kind: {k}" for k in KINDS},
    **{
        f"candidate_{f}_{field}": f"candidate's {_FIELD_LABELS[field]} {FAMILY_LABELS[f]}"
        for f in FAMILIES
        for field in HISTORY_FIELDS
    },
    **{f"query_{f}_participations": f"query's projects in {FAMILY_LABELS[f]}" for f in FAMILIES},
    **{
        f"candidate_defence_{field}": f"candidate's {_FIELD_LABELS[field]} defence programmes (EDF, security research)"
        for field in HISTORY_FIELDS
    },
    "query_defence_participations": "query's projects in defence programmes (EDF, security research)",
}


@dataclass(frozen=True)
class QueryContext:
    """What every candidate of one query is compared with: the query, its graph neighbourhoods as (common
    neighbours, Adamic-Adar) (None for free text) and the lexical closeness of the organisations that share
    any of its terms, all kept for the rows that score only."""

    rq: ResolvedQuery
    graph: tuple[RowScores, RowScores] | None
    rd_graph: tuple[RowScores, RowScores] | None
    defence_graph: tuple[RowScores, RowScores] | None
    lexical: LexicalMatches  # BM25 of each organisation's best document


def query_context(index: RankingIndex, rq: ResolvedQuery) -> QueryContext:
    assert index.lexical is not None and index.history is not None
    terms = np.zeros(0, dtype=np.int64)
    if rq.row is not None:
        terms = index.lexical.organisation_terms(rq.row)
    if rq.query.text and rq.query.text.strip():
        terms = np.union1d(terms, index.lexical.text_terms(rq.query.text))
    lexical = index.lexical.scores(terms)
    if rq.row is None or not rq.has_graph:
        return QueryContext(rq, None, None, None, lexical)
    return QueryContext(
        rq,
        index.graph.neighbour_scores(rq.row),
        index.history.neighbour_scores("rd", rq.row),
        index.history.neighbour_scores("defence", rq.row),
        lexical,
    )


def requested_priority(index: RankingIndex, rq: ResolvedQuery) -> tuple[int, bool]:
    """(priority column, whether it was requested): the requested one, else the query's strongest."""
    p = index.priority_index(rq.query.priority)
    if p is not None:
        return p, True
    return (int(np.argmax(rq.scores)) if np.linalg.norm(rq.scores) > 0 else 0), False


# Columns that depend on both sides of a pair; every other column depends on the candidate alone (given the
# query's requested priority and instrument) or on the query alone. The batch map's first stage scores whole
# rows of pairs from these columns plus per-candidate and per-query constants (see recommender.batch.first_stage).
PAIR_FEATURES: tuple[str, ...] = (
    "semantic_similarity",
    "lexical_similarity",
    "priority_alignment",
    "capability_gap_filled",
    "industry_research_complement",
    "same_activity_type",
    "common_neighbours",
    "adamic_adar",
    "two_hop_reach",
    "rd_common_neighbours",
    "rd_adamic_adar",
    "defence_common_neighbours",
    "defence_adamic_adar",
    "same_country",
    "country_pair_links",
    "candidate_partners_in_query_country",
    "both_sme",
)
QUERY_FEATURES: tuple[str, ...] = (
    "query_priority_strength",
    "query_priority_projects",
    "priority_requested",
    *(f"query_{f}_participations" for f in FAMILIES),
    "query_defence_participations",
    "instrument_requested",
    "query_experience",
    "query_outside_europe",
)
CANDIDATE_FEATURES: tuple[str, ...] = tuple(f for f in FEATURES if f not in PAIR_FEATURES + QUERY_FEATURES)
PAIR_COLUMN = {name: i for i, name in enumerate(PAIR_FEATURES)}
PAIR_INDICES = np.array([COLUMN[name] for name in PAIR_FEATURES])
QUERY_INDICES = np.array([COLUMN[name] for name in QUERY_FEATURES])
CANDIDATE_INDICES = np.array([COLUMN[name] for name in CANDIDATE_FEATURES])


def pair_terms(index: RankingIndex, ctx: QueryContext, cand: np.ndarray) -> np.ndarray:
    """(len(cand), len(PAIR_FEATURES)) float32: the columns of :func:`pair_features` that depend on both the
    query and the candidate, in ``PAIR_FEATURES`` order."""
    rq = ctx.rq
    n = len(cand)
    out = np.zeros((n, len(PAIR_FEATURES)), dtype=np.float32)
    col = PAIR_COLUMN
    if rq.has_profile:
        out[:, col["semantic_similarity"]] = np.where(index.has_profile[cand], index.vectors[cand] @ rq.vector, 0.0)
    top = ctx.lexical.max()
    if top > 0:  # relative to the closest organisation of the whole index, so it never depends on the batch
        out[:, col["lexical_similarity"]] = ctx.lexical.at(cand) / top
    c_scores = index.scores[cand]
    q_norm = np.linalg.norm(rq.scores)
    c_norm = np.linalg.norm(c_scores, axis=1)
    denom = np.where(c_norm > 0, c_norm * max(q_norm, 1e-9), 1.0)
    out[:, col["priority_alignment"]] = (c_scores @ rq.scores) / denom
    out[:, col["capability_gap_filled"]] = np.clip(c_scores - rq.scores, 0, None).mean(axis=1)
    if rq.activity:
        q_industry = rq.activity == "PRC"
        q_academic = rq.activity in ("REC", "HES")
        out[:, col["industry_research_complement"]] = (q_industry & index.academic[cand]) | (
            q_academic & index.industry[cand]
        )
        out[:, col["same_activity_type"]] = index.activity[cand] == rq.activity
    if ctx.graph is not None:
        cn = ctx.graph[0].at(cand)
        out[:, col["common_neighbours"]] = np.log1p(cn)
        out[:, col["adamic_adar"]] = ctx.graph[1].at(cand)
        out[:, col["two_hop_reach"]] = cn > 0
    if ctx.rd_graph is not None:
        out[:, col["rd_common_neighbours"]] = np.log1p(ctx.rd_graph[0].at(cand))
        out[:, col["rd_adamic_adar"]] = ctx.rd_graph[1].at(cand)
    if ctx.defence_graph is not None:
        out[:, col["defence_common_neighbours"]] = np.log1p(ctx.defence_graph[0].at(cand))
        out[:, col["defence_adamic_adar"]] = ctx.defence_graph[1].at(cand)
    if rq.country_code >= 0:
        c_codes = index.graph.country_codes[cand]
        out[:, col["same_country"]] = c_codes == rq.country_code
        out[:, col["country_pair_links"]] = index.graph.country_links[rq.country_code, c_codes]
        out[:, col["candidate_partners_in_query_country"]] = np.log1p(index.partners_in_country(rq.country_code, cand))
    out[:, col["both_sme"]] = index.sme[cand] & rq.sme
    return out


# Candidate columns that depend on nothing but the candidate (not on the query's priority or instrument): read
# for every organisation once per index (static_candidate_columns) and gathered per query in one step.
STATIC_CANDIDATE_FEATURES: tuple[str, ...] = tuple(
    f for f in CANDIDATE_FEATURES
    if not f.startswith("candidate_priority_")
    and f not in ("candidate_instrument_programme_experience", "eligibility")
)
STATIC_CANDIDATE_INDICES = np.array([COLUMN[name] for name in STATIC_CANDIDATE_FEATURES])


def static_candidate_columns(index: RankingIndex) -> np.ndarray:
    """(n organisations, len(STATIC_CANDIDATE_FEATURES)) float32: the query-independent candidate columns of
    every organisation, computed once per index (tens of milliseconds on the shipped catalogue)."""
    cached = index.cache.get("static_candidate_columns")
    if cached is None:
        cached = _static_candidate_block(index, np.arange(len(index.ids)))
        index.cache["static_candidate_columns"] = cached
    return cached


def _static_candidate_block(index: RankingIndex, cand: np.ndarray) -> np.ndarray:
    history = index.history
    assert history is not None
    n = len(cand)
    out = np.zeros((n, len(FEATURES)), dtype=np.float32)
    col = COLUMN
    out[:, col["candidate_has_profile"]] = index.has_profile[cand]
    first = col[f"candidate_is_{ACTIVITY_CODES[0]}"]
    out[:, first : first + len(ACTIVITY_CODES)] = index.activity_onehot[cand]
    first = col[f"candidate_kind_{KINDS[0]}"]
    out[:, first : first + len(KINDS)] = index.kind_onehot[cand]
    out[:, col["candidate_experience"]] = index.experience[cand]
    out[:, col["candidate_partners"]] = index.degree[cand]
    out[:, col["candidate_coordination"]] = index.coordination[cand]
    out[:, col["candidate_years_since_last_project"]] = index.recency[cand]
    out[:, col["candidate_coordination_share"]] = history.coordination_share[cand]
    first = col[f"candidate_{FAMILIES[0]}_{HISTORY_FIELDS[0]}"]
    block = np.stack(
        [getattr(history, field)[cand] for field in HISTORY_FIELDS], axis=2
    )  # (n, F, fields): flattened family-major to match FEATURES
    out[:, first : first + len(FAMILIES) * len(HISTORY_FIELDS)] = np.log1p(block.reshape(n, -1))
    # EDF and its precursor, security research, together: the signal that carries across the years in which
    # EDF did not exist yet.
    defence = [FAMILIES.index(f) for f in DEFENCE_FAMILIES]
    first = col[f"candidate_defence_{HISTORY_FIELDS[0]}"]
    out[:, first : first + len(HISTORY_FIELDS)] = np.log1p(block[:, defence, :].sum(axis=1))
    defence_pct, experience_pct = index.experience_percentiles()
    out[:, col["candidate_defence_percentile"]] = defence_pct[cand]
    out[:, col["candidate_experience_percentile"]] = experience_pct[cand]
    out[:, col["candidate_international_partners"]] = index.international[cand]
    out[:, col["candidate_sme"]] = index.sme[cand]
    out[:, col["candidate_large"]] = index.large[cand]
    return np.ascontiguousarray(out[:, STATIC_CANDIDATE_INDICES])


def pair_features(index: RankingIndex, ctx: QueryContext, cand: np.ndarray) -> np.ndarray:
    """(len(cand), len(FEATURES)) float32 feature matrix for one query and candidate rows ``cand``."""
    rq = ctx.rq
    history = index.history
    assert history is not None
    n = len(cand)
    out = np.zeros((n, len(FEATURES)), dtype=np.float32)
    col = COLUMN
    out[:, PAIR_INDICES] = pair_terms(index, ctx, cand)
    out[:, STATIC_CANDIDATE_INDICES] = static_candidate_columns(index)[cand]
    p, requested = requested_priority(index, rq)
    out[:, col["candidate_priority_strength"]] = index.scores[cand, p]
    out[:, col["query_priority_strength"]] = rq.scores[p]
    out[:, col["candidate_priority_projects"]] = np.log1p(index.evidence_projects[cand, p])
    out[:, col["candidate_priority_share"]] = index.evidence_share[cand, p]
    out[:, col["candidate_priority_declared"]] = index.declared[cand, p]
    if rq.row is not None:
        out[:, col["query_priority_projects"]] = np.log1p(index.evidence_projects[rq.row, p])
    out[:, col["priority_requested"]] = requested
    if rq.row is not None:
        defence = [FAMILIES.index(f) for f in DEFENCE_FAMILIES]
        first = col[f"query_{FAMILIES[0]}_participations"]
        out[:, first : first + len(FAMILIES)] = np.log1p(history.participations[rq.row])
        out[:, col["query_defence_participations"]] = np.log1p(history.participations[rq.row, defence].sum())
        out[:, col["query_experience"]] = index.experience[rq.row]
    programme = history.instrument_experience(rq.query.instrument)
    if programme is not None:
        out[:, col["candidate_instrument_programme_experience"]] = np.log1p(programme[cand])
    out[:, col["instrument_requested"]] = bool(rq.query.instrument)
    out[:, col["query_outside_europe"]] = rq.outside_europe
    out[:, col["eligibility"]] = index.eligibility(rq.query.instrument)[0][cand]
    return out
