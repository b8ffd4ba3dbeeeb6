"""A synthetic RankingIndex built straight from random arrays (no catalogue build, no encoder), and a learned
ranker fitted on it, for batch benchmarks at sizes the real catalogue does not reach (200,000 x 10,000).

Shapes and dtypes follow the real index: 384-dimensional unit vectors (all-MiniLM-L6-v2), one priority
score per taxonomy priority, a sparse collaboration graph with a handful of partners per organisation,
real country codes (so the shipped rules give real eligibility verdicts).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse

from recommender.catalogue import Catalogue
from recommender.graph import CollaborationGraph
from recommender.profiles.profiles import Profiles
from recommender.profiles.taxonomy import Priority, Taxonomy
from recommender.ranking.features import pair_features
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


def synthetic_index(n_eu: int, n_kr: int, dim: int = 384, n_priorities: int = 20, seed: int = 0) -> RankingIndex:
    """``n_eu`` European and ``n_kr`` Korean organisations with random profiles and a random sparse graph."""
    rng = np.random.default_rng(seed)
    n = n_eu + n_kr
    weights = np.linspace(3, 1, len(EU_COUNTRIES))  # big countries first, as in CORDIS
    countries = np.concatenate(
        [rng.choice(np.array(EU_COUNTRIES, dtype=object), n_eu, p=weights / weights.sum()), np.full(n_kr, "KR")]
    )
    regions = np.array([REGION.get(c, "KR" if c == "KR" else "EU27") for c in countries], dtype=object)
    ids = np.concatenate([[f"eu-{i:07d}" for i in range(n_eu)], [f"kr-{i:06d}" for i in range(n_kr)]]).astype(object)
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
    taxonomy = synthetic_taxonomy(n_priorities)
    vectors = rng.standard_normal((n, dim), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    scores = rng.beta(0.6, 3.0, (n, n_priorities)).astype(np.float32)
    scores[n_eu:, : n_priorities // 4] *= 1.6  # Korean organisations stronger in a few priorities
    np.clip(scores, 0, 1, out=scores)
    profiles = Profiles(
        taxonomy=taxonomy,
        description_vectors=rng.standard_normal((n_priorities, dim), dtype=np.float32),
        project_ids=np.zeros(0, dtype=object),
        project_vectors=np.zeros((0, dim), dtype=np.float32),
        project_scores=np.zeros((0, n_priorities), dtype=np.float32),
        project_truncated=np.zeros(0, dtype=bool),
        project_texts=[],
        org_ids=ids,
        org_vectors=vectors,
        org_scores=scores,
        org_has_profile=rng.random(n) < 0.9,
        org_weights=sparse.csr_matrix((n, 0), dtype=np.float32),
        reference_year=2024,
    )
    catalogue = Catalogue(orgs, pd.DataFrame(), pd.DataFrame())
    return RankingIndex(catalogue, profiles, synthetic_graph(rng, countries), None, load_rulebook())


def synthetic_graph(rng: np.random.Generator, countries: np.ndarray, partners: int = 4) -> CollaborationGraph:
    n = len(countries)
    m = n * partners // 2
    a, b = rng.integers(0, n, m), rng.integers(0, n, m)
    keep = a != b
    a, b = a[keep], b[keep]
    w = rng.integers(1, 4, len(a)).astype(np.float32)
    adjacency = sparse.coo_matrix((np.concatenate([w, w]), (np.concatenate([a, b]), np.concatenate([b, a]))), (n, n))
    adjacency = adjacency.tocsr()
    adjacency.sum_duplicates()
    degree = np.diff(adjacency.indptr).astype(np.float64)
    codes, uniques = pd.factorize(pd.Series(countries))
    links = rng.poisson(20, (len(uniques), len(uniques))).astype(np.float64)
    return CollaborationGraph(
        cutoff_year=None,
        incidence=sparse.csr_matrix((n, 0), dtype=np.float32),
        coordinated=rng.poisson(0.5, n).astype(np.float64),
        adjacency=adjacency,
        degree=degree,
        projects=np.maximum(degree, rng.poisson(3, n)).astype(np.float64),
        last_year=np.where(degree > 0, rng.integers(2014, 2025, n), 0).astype(np.float64),
        aa_weight=np.where(degree > 1, 1.0 / np.log(np.maximum(degree, 2)), 0.0),
        country_codes=codes,
        country_links=np.log1p(links + links.T),
    )


def synthetic_ranker(index: RankingIndex, queries: int = 150, per_query: int = 60, seed: int = 0, **params):
    """A LearnedRanker (default hyper-parameters: 300 trees) fitted on real pair features of random pairs,
    labelled by a hidden rule (similar, aligned, connected pairs are positive)."""
    rng = np.random.default_rng(seed)
    kr = np.flatnonzero(index.side_masks["KR"])
    eu = np.flatnonzero(index.side_masks["EU"])
    X, y = [], []
    for row in rng.choice(kr, min(queries, len(kr)), replace=False):
        rq = index.resolve(Query(org_id=index.ids[row], region="EU", priority="p00"))
        cand = rng.choice(eu, per_query, replace=False)
        feats = pair_features(index, rq, cand)
        logit = 8 * feats[:, 0] + 4 * feats[:, 2] + 3 * feats[:, 3] + rng.normal(0, 0.5, len(cand)) - 2.5
        X.append(feats)
        y.append(logit > 0)
    X, y = np.concatenate(X), np.concatenate(y)
    data = TrainingSet({"org": X, "text": X}, {"org": y, "text": y})
    return LearnedRanker(**params).fit(index, data)
