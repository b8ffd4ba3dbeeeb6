"""Features of (query, candidate) pairs, vectorised over candidates.

Groups: semantic similarity; priority alignment (with each other and with the requested priority);
complementarity (industry with research, capabilities the query lacks); the past collaboration graph
(common neighbours, Adamic-Adar, two-hop reach, experience, coordination record, recency); geography;
size and SME mix; instrument eligibility. Graph features of a free-text query are zero: it has no node.
"""

from __future__ import annotations

import numpy as np

from recommender.ranking.index import ACTIVITY_CODES, RankingIndex, ResolvedQuery

FEATURES: tuple[str, ...] = (
    "semantic_similarity",
    "candidate_has_profile",
    "priority_alignment",
    "candidate_priority_strength",
    "query_priority_strength",
    "capability_gap_filled",
    "industry_research_complement",
    "same_activity_type",
    *(f"candidate_is_{a}" for a in ACTIVITY_CODES),
    "common_neighbours",
    "adamic_adar",
    "two_hop_reach",
    "candidate_experience",
    "candidate_partners",
    "candidate_coordination",
    "candidate_years_since_last_project",
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

# Human-readable names used in explanations.
LABELS: dict[str, str] = {
    "semantic_similarity": "capability profiles are similar",
    "candidate_has_profile": "candidate has a capability profile",
    "priority_alignment": "technology priorities align",
    "candidate_priority_strength": "candidate is strong in the priority",
    "query_priority_strength": "query is strong in the priority",
    "capability_gap_filled": "candidate brings capabilities the query lacks",
    "industry_research_complement": "industry-research complementarity",
    "same_activity_type": "same kind of organisation",
    "common_neighbours": "shared past partners",
    "adamic_adar": "close in the collaboration network (Adamic-Adar)",
    "two_hop_reach": "within two hops in the collaboration network",
    "candidate_experience": "candidate's project experience",
    "candidate_partners": "candidate's network size",
    "candidate_coordination": "candidate's coordination record",
    "candidate_years_since_last_project": "how recently the candidate was active",
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
}


def graph_vectors(index: RankingIndex, rq: ResolvedQuery) -> tuple[np.ndarray, np.ndarray] | None:
    """(common neighbours, Adamic-Adar) of the query organisation with everyone; None for text queries."""
    if rq.row is None or not rq.has_graph:
        return None
    return index.graph.neighbour_scores(rq.row)


def pair_features(
    index: RankingIndex, rq: ResolvedQuery, cand: np.ndarray, graph: tuple[np.ndarray, np.ndarray] | None = None
) -> np.ndarray:
    """(len(cand), len(FEATURES)) float32 feature matrix for one query and candidate rows ``cand``."""
    n = len(cand)
    out = np.zeros((n, len(FEATURES)), dtype=np.float32)
    col = {name: i for i, name in enumerate(FEATURES)}
    c_scores = index.scores[cand]
    has_profile = index.has_profile[cand]
    if rq.has_profile:
        out[:, col["semantic_similarity"]] = np.where(has_profile, index.vectors[cand] @ rq.vector, 0.0)
    out[:, col["candidate_has_profile"]] = has_profile
    q_norm = np.linalg.norm(rq.scores)
    c_norm = np.linalg.norm(c_scores, axis=1)
    denom = np.where(c_norm > 0, c_norm * max(q_norm, 1e-9), 1.0)
    out[:, col["priority_alignment"]] = (c_scores @ rq.scores) / denom
    p = index.priority_index(rq.query.priority)
    if p is None:
        p = int(np.argmax(rq.scores)) if q_norm > 0 else 0
    out[:, col["candidate_priority_strength"]] = c_scores[:, p]
    out[:, col["query_priority_strength"]] = rq.scores[p]
    out[:, col["capability_gap_filled"]] = np.clip(c_scores - rq.scores, 0, None).mean(axis=1)
    if rq.activity:
        q_industry = rq.activity == "PRC"
        q_academic = rq.activity in ("REC", "HES")
        out[:, col["industry_research_complement"]] = (q_industry & index.academic[cand]) | (
            q_academic & index.industry[cand]
        )
        out[:, col["same_activity_type"]] = index.activity[cand] == rq.activity
    first = col[f"candidate_is_{ACTIVITY_CODES[0]}"]
    out[:, first : first + len(ACTIVITY_CODES)] = index.activity_onehot[cand]
    if graph is None:
        graph = graph_vectors(index, rq)
    if graph is not None:
        cn, aa = graph
        out[:, col["common_neighbours"]] = np.log1p(cn[cand])
        out[:, col["adamic_adar"]] = aa[cand]
        out[:, col["two_hop_reach"]] = cn[cand] > 0
        out[:, col["query_experience"]] = index.experience[rq.row]
    out[:, col["candidate_experience"]] = index.experience[cand]
    out[:, col["candidate_partners"]] = index.degree[cand]
    out[:, col["candidate_coordination"]] = index.coordination[cand]
    out[:, col["candidate_years_since_last_project"]] = index.recency[cand]
    out[:, col["candidate_international_partners"]] = index.international[cand]
    out[:, col["query_outside_europe"]] = rq.outside_europe
    if rq.country_code >= 0:
        c_codes = index.graph.country_codes[cand]
        out[:, col["same_country"]] = c_codes == rq.country_code
        out[:, col["country_pair_links"]] = index.graph.country_links[rq.country_code, c_codes]
        out[:, col["candidate_partners_in_query_country"]] = np.log1p(index.partners_in_country(rq.country_code, cand))
    out[:, col["candidate_sme"]] = index.sme[cand]
    out[:, col["both_sme"]] = index.sme[cand] & rq.sme
    out[:, col["candidate_large"]] = index.large[cand]
    out[:, col["eligibility"]] = index.eligibility(rq.query.instrument)[0][cand]
    return out
