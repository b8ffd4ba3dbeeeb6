"""Benchmark: per-query ranking latency and batch throughput of the learned ranker.

1. Default catalogue with the shipped model: organisation queries (Korean -> EU and European -> any),
   p50/p99 latency per query (free-text encoding excluded: organisation queries need none), against a
   baseline measured in the same run (the embedding-cosine baseline over the same queries), and batch
   throughput (queries/s through rank_batch).
2. A synthetic catalogue of 200,000 organisations (random profiles, a random collaboration graph with the
   shipped model's heads): the same figures, to show how latency scales (target p99 <= 50 ms).
3. Training time on the default data, as recorded by `corridor train` in the model manifest.
Usage: python benchmarks/ranking_latency.py [--queries 200] [--synthetic-orgs 200000]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd
from scipy import sparse

from recommender.catalogue import Catalogue
from recommender.catalogue.build import conform
from recommender.catalogue.schema import ORGANISATIONS, PARTICIPATIONS, PROJECTS
from recommender.graph import build_graph
from recommender.profiles.profiles import Profiles
from recommender.ranking.index import Query, RankingIndex
from recommender.ranking.rankers import EmbeddingRanker, LearnedRanker
from recommender.settings import Settings
from recommender.workspace import Workspace


def latencies(index, ranker, queries, k=20) -> np.ndarray:
    out = []
    for q in queries:
        start = time.perf_counter()
        ranker.rank(index, q, k)
        out.append(time.perf_counter() - start)
    return np.array(out) * 1000


def report(name: str, ms: np.ndarray, base: np.ndarray | None = None) -> None:
    line = f"{name:48s} p50 {np.percentile(ms, 50):7.1f} ms   p99 {np.percentile(ms, 99):7.1f} ms"
    if base is not None:
        line += f"   (p50 ratio to embedding-cosine baseline: {np.percentile(ms, 50) / np.percentile(base, 50):.2f})"
    print(line)


def synthetic_index(n_orgs: int, heads_from: LearnedRanker, seed: int = 0) -> RankingIndex:
    """A RankingIndex over n_orgs random organisations (10% Korean) with a random sparse graph."""
    rng = np.random.default_rng(seed)
    taxonomy = heads_from.index.profiles.taxonomy
    dim = heads_from.index.vectors.shape[1]
    countries = np.array(["FR", "DE", "IT", "ES", "PL", "NL", "SE", "KR"])
    country = countries[rng.integers(0, len(countries), n_orgs)]
    ids = np.array([f"syn-{i}" for i in range(n_orgs)], dtype=object)
    orgs = pd.DataFrame({"id": ids, "name": ids, "short_name": None, "country": country,
                         "region": np.where(country == "KR", "KR", "EU27"),
                         "activity_type": rng.choice(["PRC", "REC", "HES", "PUB", "OTH"], n_orgs),
                         "sme": rng.random(n_orgs) < 0.3, "control_country": None, "size_class": None,
                         "city": None, "description": None, "technology_areas": None, "sources": "synthetic"})
    n_projects = n_orgs
    sizes = rng.integers(3, 9, n_projects)
    members = rng.integers(0, n_orgs, sizes.sum())
    project_of = np.repeat(np.arange(n_projects), sizes)
    links = pd.DataFrame({"org_id": ids[members], "project_id": [f"p{p}" for p in project_of], "role": "participant",
                          "contribution": 1.0, "country": country[members]}).drop_duplicates(["org_id", "project_id"])
    projects = pd.DataFrame({"id": [f"p{p}" for p in range(n_projects)], "programme": "horizon-europe",
                             "year": rng.integers(2015, 2023, n_projects)})
    for col in PROJECTS.names:
        if col not in projects:
            projects[col] = None
    catalogue = Catalogue(conform(orgs, ORGANISATIONS), conform(projects, PROJECTS), conform(links, PARTICIPATIONS))
    vectors = rng.normal(size=(n_orgs, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    profiles = Profiles(
        taxonomy=taxonomy, description_vectors=heads_from.index.profiles.description_vectors,
        project_ids=np.array([], dtype=object), project_vectors=np.zeros((0, dim), np.float32),
        project_scores=np.zeros((0, len(taxonomy.ids))), project_truncated=np.zeros(0, bool), project_texts=[],
        org_ids=ids, org_vectors=vectors, org_scores=rng.random((n_orgs, len(taxonomy.ids))) ** 3,
        org_has_profile=np.ones(n_orgs, bool), org_weights=sparse.csr_matrix((n_orgs, 0)),
    )
    index = RankingIndex(catalogue, profiles, build_graph(catalogue), None, heads_from.index.rulebook)
    return index


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--synthetic-orgs", type=int, default=200_000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    ws = Workspace(Settings().workspace_paths())
    start = time.perf_counter()
    recommender = ws.recommender
    print(f"default catalogue: {len(ws.catalogue.organisations):,} organisations; index + model loaded in "
          f"{time.perf_counter() - start:.1f} s")
    learned = recommender.ranker
    index = recommender.index
    kr = [i for i in index.ids[index.side_masks["KR"]] if index.has_profile[index.row_of[i]]]
    eu = index.ids[index.side_masks["EU"] & index.has_profile & (index.graph.degree > 0)]
    picks = list(rng.choice(kr, size=min(len(kr), args.queries // 2), replace=False)) + list(
        rng.choice(eu, size=args.queries // 2, replace=False))
    queries = [Query(org_id=o, region="EU" if o in set(kr) else "ANY") for o in picks]
    learned.rank(index, queries[0], 20)  # warm-up
    base = latencies(index, EmbeddingRanker().fit(index), queries)
    ours = latencies(index, learned, queries)
    report("embedding-cosine baseline (default data)", base)
    report("learned ranker, organisation query (default)", ours, base)
    start = time.perf_counter()
    learned.rank_batch(index, queries, 20)
    elapsed = time.perf_counter() - start
    print(f"batch throughput (default data): {len(queries) / elapsed:.1f} queries/s")

    start = time.perf_counter()
    syn = synthetic_index(args.synthetic_orgs, learned)
    print(f"synthetic catalogue: {args.synthetic_orgs:,} organisations, {syn.graph.adjacency.nnz:,} graph edges, "
          f"built in {time.perf_counter() - start:.1f} s")
    syn_queries = [Query(org_id=o, region="EU") for o in rng.choice(syn.ids, size=args.queries, replace=False)]
    learned.rank(syn, syn_queries[0], 20)
    syn_base = latencies(syn, EmbeddingRanker().fit(syn), syn_queries)
    syn_ours = latencies(syn, learned, syn_queries)
    report("embedding-cosine baseline (synthetic)", syn_base)
    report("learned ranker, organisation query (synthetic)", syn_ours, syn_base)
    print(f"p99 target 50 ms: {'met' if np.percentile(syn_ours, 99) <= 50 else 'NOT met'} at "
          f"{args.synthetic_orgs:,} organisations")
    start = time.perf_counter()
    learned.rank_batch(syn, syn_queries, 20)
    print(f"batch throughput (synthetic): {len(syn_queries) / (time.perf_counter() - start):.1f} queries/s")

    manifest = json.loads((ws.paths.model_dir / "manifest.json").read_text())
    timings = manifest.get("training", {}).get("timings", {})
    print(f"training time on the default data (recorded by `corridor train`): {timings.get('train_seconds')} s "
          f"(+ {timings.get('evaluate_seconds')} s evaluation); target under 600 s")


if __name__ == "__main__":
    main()
