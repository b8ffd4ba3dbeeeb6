"""A synthetic RankingIndex built from random organisations, consortia and texts (no encoder), and a learned
ranker fitted on it, for benchmarks at sizes the real catalogue does not reach (200,000 x 10,000).

Shapes and dtypes follow the real index: 384-dimensional unit vectors (all-MiniLM-L6-v2), one priority
score per taxonomy priority, consortia of 3 to 8 members across Horizon, EDF and security programmes (so the
collaboration graph, programme history and BM25 index come from the production builders), real country codes
(so the shipped rules give real eligibility verdicts).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse

from recommender.catalogue import Catalogue
from recommender.catalogue.build import conform
from recommender.catalogue.schema import ORGANISATIONS, PARTICIPATIONS, PROJECTS
from recommender.graph import build_graph
from recommender.profiles.profiles import Profiles
from recommender.profiles.taxonomy import Priority, Taxonomy
from recommender.ranking.features import pair_features, query_context
from recommender.ranking.index import Query, RankingIndex
from recommender.ranking.rankers import LearnedRanker, TrainingSet
from recommender.rules import load_rulebook

EU_COUNTRIES = (
    "FR", "DE", "IT", "ES", "NL", "BE", "PL", "SE", "FI", "AT", "PT", "GR", "CZ", "DK", "IE", "RO", "HU", "SK",
    "SI", "HR", "BG", "LT", "LV", "EE", "LU", "CY", "MT", "NO", "IS", "UA",
)  # fmt: skip
REGION = {"NO": "EEA-EFTA", "IS": "EEA-EFTA", "UA": "UA"}
ACTIVITIES = np.array(["PRC", "REC", "HES", "PUB", "OTH"], dtype=object)


def synthetic_taxonomy(n: int = 20) -> Taxonomy:
    return Taxonomy(
        "synthetic-1",
        "2026-01-01",
        tuple(Priority(f"p{i:02d}", f"Priority {i}", True, f"priority {i}", (f"t{i}",), (), (), ()) for i in range(n)),
    )


def synthetic_texts(rng: np.random.Generator, n: int, vocabulary: int = 20_000, words: int = 120) -> list[str]:
    """``n`` project texts of ``words`` Zipf-distributed words from a ``vocabulary``-word lexicon, so BM25 sees
    postings of realistic shape (a few very common words, a long tail)."""
    lexicon = np.array([f"w{i}" for i in range(vocabulary)], dtype=object)
    draws = np.minimum(rng.zipf(1.3, (n, words)) - 1, vocabulary - 1)
    return [" ".join(lexicon[row]) for row in draws]


def synthetic_catalogue(
    rng: np.random.Generator, ids: np.ndarray, countries: np.ndarray, partners: int = 4
) -> Catalogue:
    """Organisations in projects of 3 to 8 members (each organisation in about ``partners`` / 4 projects), with
    programmes, actions and years drawn like the shared data's: mostly Horizon, some EDF and security."""
    n = len(ids)
    regions = np.array([REGION.get(c, "KR" if c == "KR" else "EU27") for c in countries], dtype=object)
    orgs = pd.DataFrame(
        {
            "id": ids,
            "name": np.char.add(np.where(countries == "KR", "Korean org ", "European org "), np.arange(n).astype(str)),
            "short_name": None,
            "country": countries,
            "region": regions,
            "activity_type": rng.choice(ACTIVITIES, n, p=[0.45, 0.2, 0.2, 0.1, 0.05]),
            "sme": rng.random(n) < 0.3,
            "control_country": None,
            "size_class": np.where(rng.random(n) < 0.1, "large", None),
            "city": None,
            "description": None,
            "technology_areas": None,
            "sources": "synthetic",
        }
    )
    orgs["name"] = orgs["name"].astype(object)
    n_projects = max(1, n * partners // 22)
    sizes = rng.integers(3, 9, n_projects)
    members = rng.integers(0, n, int(sizes.sum()))
    project_of = np.repeat(np.arange(n_projects), sizes)
    project_ids = np.array([f"proj-{p:07d}" for p in range(n_projects)], dtype=object)
    programme = rng.choice(np.array(["horizon-europe", "h2020", "edf", "security"], dtype=object), n_projects,
                           p=[0.55, 0.4, 0.03, 0.02])
    projects = pd.DataFrame(
        {name: None for name in PROJECTS.names} | {
            "id": project_ids,
            "programme": programme,
            "type_of_action": rng.choice(np.array(["RIA", "IA", "CSA", "MSCA-DN"], dtype=object), n_projects,
                                         p=[0.6, 0.2, 0.1, 0.1]),
            "title": project_ids,
            "year": rng.integers(2014, 2024, n_projects),
        }
    )
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    role = np.full(len(members), "participant", dtype=object)
    role[starts] = "coordinator"
    links = pd.DataFrame(
        {"org_id": ids[members], "project_id": project_ids[project_of], "role": role, "contribution": 1.0,
         "country": countries[members]}
    ).drop_duplicates(["org_id", "project_id"])
    return Catalogue(
        conform(orgs, ORGANISATIONS), conform(projects, PROJECTS), conform(links, PARTICIPATIONS)
    )


def synthetic_index(
    n_eu: int,
    n_kr: int,
    dim: int = 384,
    n_priorities: int = 20,
    seed: int = 0,
    taxonomy: Taxonomy | None = None,
    description_vectors: np.ndarray | None = None,
    vector_pool: np.ndarray | None = None,
    text_pool: list[str] | None = None,
) -> RankingIndex:
    """``n_eu`` European and ``n_kr`` Korean organisations with random profiles, random project consortia (so
    the graph, the programme history and the BM25 index are built by the production code), and synthetic
    project texts. With ``vector_pool`` (real profile vectors), each profile is a pool vector plus noise, so
    the vectors have the structure of real embeddings rather than being isotropic. With ``text_pool`` (real
    project texts), each project's text is drawn from it, so BM25 sees the real corpus's vocabulary and term
    frequencies, its postings growing with the number of projects as a larger real catalogue's would; without
    it the texts are Zipf words from a small lexicon, whose common words make every query's postings many
    times longer than real ones."""
    rng = np.random.default_rng(seed)
    n = n_eu + n_kr
    weights = np.linspace(3, 1, len(EU_COUNTRIES))  # big countries first, as in CORDIS
    countries = np.concatenate(
        [rng.choice(np.array(EU_COUNTRIES, dtype=object), n_eu, p=weights / weights.sum()), np.full(n_kr, "KR")]
    ).astype(object)
    ids = np.concatenate([[f"eu-{i:07d}" for i in range(n_eu)], [f"kr-{i:06d}" for i in range(n_kr)]]).astype(object)
    catalogue = synthetic_catalogue(rng, ids, countries)
    taxonomy = taxonomy or synthetic_taxonomy(n_priorities)
    n_priorities = len(taxonomy.ids)
    if description_vectors is None:
        description_vectors = rng.standard_normal((n_priorities, dim), dtype=np.float32)
    graph = build_graph(catalogue)
    project_ids = catalogue.projects["id"].to_numpy(dtype=object)
    n_projects = len(project_ids)
    project_row = pd.Series(np.arange(n_projects), index=project_ids)
    links = catalogue.participations
    org_rows = pd.Series(np.arange(n), index=ids).loc[links["org_id"].to_numpy()].to_numpy()
    proj_rows = project_row.loc[links["project_id"].to_numpy()].to_numpy()
    org_weights = sparse.csr_matrix(
        (np.ones(len(org_rows), dtype=np.float32), (org_rows, proj_rows)), shape=(n, n_projects)
    )
    vectors = rng.standard_normal((n, dim), dtype=np.float32)
    if vector_pool is not None:
        pool = vector_pool[np.linalg.norm(vector_pool, axis=1) > 0]
        vectors = pool[rng.integers(0, len(pool), n)] + 0.03 * vectors
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    scores = rng.beta(0.6, 3.0, (n, n_priorities)).astype(np.float32)
    scores[n_eu:, : n_priorities // 4] *= 1.6  # Korean organisations stronger in a few priorities
    np.clip(scores, 0, 1, out=scores)
    project_vectors = rng.standard_normal((n_projects, dim), dtype=np.float32)
    project_vectors /= np.linalg.norm(project_vectors, axis=1, keepdims=True)
    profiles = Profiles(
        taxonomy=taxonomy,
        description_vectors=description_vectors,
        project_ids=project_ids,
        project_vectors=project_vectors,
        project_scores=rng.beta(0.6, 3.0, (n_projects, n_priorities)).astype(np.float32),
        project_truncated=np.zeros(n_projects, dtype=bool),
        project_texts=(synthetic_texts(rng, n_projects) if not text_pool else
                       [text_pool[i] for i in rng.integers(0, len(text_pool), n_projects)]),
        org_ids=ids,
        org_vectors=vectors,
        org_scores=scores,
        org_has_profile=rng.random(n) < 0.9,
        org_weights=org_weights,
        reference_year=2024,
    )
    return RankingIndex(catalogue, profiles, graph, None, load_rulebook())


def synthetic_ranker(index: RankingIndex, queries: int = 150, per_query: int = 60, seed: int = 0, **params):
    """A LearnedRanker (default hyper-parameters) fitted on real pair features of random pairs, labelled by a
    hidden rule (similar, aligned, connected pairs are positive); one query group per Korean organisation."""
    rng = np.random.default_rng(seed)
    kr = np.flatnonzero(index.side_masks["KR"])
    eu = np.flatnonzero(index.side_masks["EU"])
    X, y = [], []
    for row in rng.choice(kr, min(queries, len(kr)), replace=False):
        rq = index.resolve(Query(org_id=index.ids[row], region="EU", priority="p00"))
        cand = rng.choice(eu, per_query, replace=False)
        feats = pair_features(index, query_context(index, rq), cand)
        logit = 8 * feats[:, 0] + 4 * feats[:, 2] + 3 * feats[:, 3] + rng.normal(0, 0.5, len(cand)) - 2.5
        X.append(feats)
        y.append((logit > 0).astype(np.int32))
    groups = np.full(len(X), per_query)
    features, labels = np.concatenate(X), np.concatenate(y)
    data = TrainingSet({"org": features, "text": features}, {"org": labels, "text": labels},
                       groups={"org": groups, "text": groups})
    return LearnedRanker(**params).fit(index, data)
