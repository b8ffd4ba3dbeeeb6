"""Benchmark: per-query ranking latency of the learned ranker against an exact numpy top-k scan.

1. Default catalogue with the shipped model: organisation queries (Korean -> EU and European -> any),
   p50/p99 latency per query (free-text encoding excluded: organisation queries need none), against the
   anchor measured in the same run on the same queries: an exact numpy top-20 inner-product scan over every
   profile vector. Batch throughput (queries/s through rank_batch).
2. Synthetic catalogues of --sizes organisations (default 200,000 and 1,000,000; profile vectors resampled
   from the real ones, random consortia and texts; see batch_synthetic.py) scored by the shipped model's
   heads: the same figures against the same anchor at that size, the recall of the semantic generator's
   shortlist against an exact scan, and the memory the index takes (process RSS).
3. Training time on the default data, as recorded by `corridor train` in the model manifest.
Measured on --threads threads (default 1, as a server request runs; the exact semantic scan of the default
catalogue is prepared as a server's warming prepares it).
Usage: python benchmarks/ranking_latency.py [--queries 200] [--sizes 200000,1000000] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from batch_synthetic import synthetic_index
from threadpoolctl import threadpool_limits

from cli.environment import settings_from_environment
from recommender.ranking.index import Query, RankingIndex
from recommender.ranking.rankers import fill_query_caches, top_k
from recommender.service import open_corridor


def latencies(index, ranker, queries, k=20) -> np.ndarray:
    out = []
    for q in queries:
        start = time.perf_counter()
        ranker.rank(index, q, k)
        out.append(time.perf_counter() - start)
    return np.array(out) * 1000


def report(name: str, ms: np.ndarray, base: np.ndarray | None = None, anchor: str = "exact numpy top-20") -> None:
    line = f"{name:48s} p50 {np.percentile(ms, 50):7.2f} ms   p99 {np.percentile(ms, 99):7.2f} ms"
    if base is not None:
        line += (f"   (ratio to {anchor}: p50 {np.percentile(ms, 50) / np.percentile(base, 50):.2f}, "
                 f"p99 {np.percentile(ms, 99) / np.percentile(base, 99):.2f})")
    print(line)


def exact_scan(index: RankingIndex, queries: list[Query], k: int = 20) -> np.ndarray:
    """The anchor: an exact numpy top-k inner-product scan over every profile vector, per query."""
    vectors = index.vectors
    out = []
    for q in queries:
        vector = vectors[index.row_of[q.org_id]]
        start = time.perf_counter()
        sims = vectors @ vector
        best = np.argpartition(-sims, k)[:k]
        best[np.argsort(-sims[best])]
        out.append(time.perf_counter() - start)
    return np.array(out) * 1000


def rss_mib() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def synthetic_like(n_orgs: int, real: RankingIndex) -> RankingIndex:
    """A synthetic index of ``n_orgs`` organisations (10% Korean) with the shipped taxonomy and priority
    descriptions, profile vectors resampled from the real ones (with noise) and project texts drawn from the
    real ones, so the shipped model's heads score it as they score the real catalogue and BM25 reads postings
    of the real corpus's shape."""
    profiles = real.profiles
    n_kr = n_orgs // 10
    return synthetic_index(n_orgs - n_kr, n_kr, taxonomy=profiles.taxonomy,
                           description_vectors=profiles.description_vectors, vector_pool=profiles.org_vectors,
                           text_pool=[t for t in profiles.project_texts if t])


def semantic_shortlist_recall(index: RankingIndex, queries: list[Query], k: int) -> np.ndarray:
    """Per query, the share of the exact top-k profiles the approximate search also returns."""
    rows = np.flatnonzero(index.has_profile)
    out = []
    for q in queries:
        vector = index.vectors[index.row(q.org_id)]
        exact = top_k(rows, (index.vectors @ vector)[rows].astype(np.float64), k)[0]
        near, sims = index.vector_search.shortlist(vector, rows, k)
        out.append(len(np.intersect1d(exact, top_k(near, sims, k)[0])) / k)
    return np.array(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--sizes", type=lambda v: [int(x) for x in v.split(",") if x], default=[200_000, 1_000_000],
                        help="synthetic catalogue sizes, comma-separated")
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS/OpenMP threads for the ranker and the anchor (a server request runs on one)")
    args = parser.parse_args()
    print(f"threads: {args.threads} (BLAS and OpenMP, the ranker and the anchor alike)")
    rng = np.random.default_rng(0)
    settings = settings_from_environment()
    start = time.perf_counter()
    recommender = open_corridor(settings).recommender()
    print(f"default catalogue: {len(recommender.index.ids):,} organisations; index + model loaded in "
          f"{time.perf_counter() - start:.1f} s")
    learned = recommender.ranker
    index = recommender.index
    # what a server's background warming builds before it serves: the half-precision scan, the heads compiled
    # to native code, the generators' orders and the query-independent candidate columns
    index.vector_search.prepare()
    compiled = learned.compile_heads(settings.compiled_trees_dir, build=True)
    print(f"ranking heads compiled to native code: {compiled} of {len(learned.head_models_)}")
    fill_query_caches(index)
    kr = [i for i in index.ids[index.side_masks["KR"]] if index.has_profile[index.row_of[i]]]
    eu = index.ids[index.side_masks["EU"] & index.has_profile & (index.graph.degree > 0)]
    picks = list(rng.choice(kr, size=min(len(kr), args.queries // 2), replace=False)) + list(
        rng.choice(eu, size=args.queries // 2, replace=False))
    queries = [Query(org_id=o, region="EU" if o in set(kr) else "ANY") for o in picks]
    learned.rank(index, queries[0], 20)  # warm-up
    with threadpool_limits(args.threads):
        anchor = exact_scan(index, queries)
        ours = latencies(index, learned, queries)
    report("anchor: exact numpy top-20 (default data)", anchor)
    report("learned ranker, organisation query (default)", ours, anchor)
    start = time.perf_counter()
    learned.rank_batch(index, queries, 20)
    elapsed = time.perf_counter() - start
    print(f"batch throughput (default data): {len(queries) / elapsed:.1f} queries/s")

    for size in args.sizes:
        synthetic(size, index, learned, rng, args.queries, args.threads)

    manifest = json.loads((settings.model_dir / "manifest.json").read_text())
    timings = manifest.get("training", {}).get("timings", {})
    print(f"training time on the default data (recorded by `corridor train`): {timings.get('train_seconds')} s "
          f"(+ {timings.get('evaluate_seconds')} s evaluation); target under 600 s")


def synthetic(size: int, index: RankingIndex, learned, rng: np.random.Generator, n_queries: int,
              threads: int) -> None:
    start = time.perf_counter()
    before = rss_mib()
    syn = synthetic_like(size, index)
    print(f"\nsynthetic catalogue: {size:,} organisations, {syn.graph.adjacency.nnz:,} graph edges, "
          f"built in {time.perf_counter() - start:.1f} s")
    syn_queries = [Query(org_id=o, region="EU") for o in rng.choice(syn.ids, size=n_queries, replace=False)]
    if not syn.vector_search.exact:
        shortlist_recall = semantic_shortlist_recall(syn, syn_queries, learned.candidates.semantic)
        print(f"semantic generator (HNSW graph): recall of the exact top {learned.candidates.semantic} "
              f"mean {np.mean(shortlist_recall):.4f}, median {np.median(shortlist_recall):.3f}, "
              f"min {np.min(shortlist_recall):.3f} over {len(shortlist_recall)} queries")
    learned.rank(syn, syn_queries[0], 20)  # the HNSW graph is built (on every core) before the measurement
    fill_query_caches(syn)  # as a server's background warming does
    with threadpool_limits(threads):
        syn_anchor = exact_scan(syn, syn_queries)
        syn_ours = latencies(syn, learned, syn_queries)
    report(f"anchor: exact numpy top-20 ({size:,})", syn_anchor)
    report(f"learned ranker, organisation query ({size:,})", syn_ours, syn_anchor)
    print(f"p99 target 10 ms at 200,000: {'met' if np.percentile(syn_ours, 99) <= 10 else 'NOT met'} at "
          f"{size:,} organisations; process RSS {rss_mib():,.0f} MiB ({rss_mib() - before:,.0f} MiB for this index)")
    del syn


if __name__ == "__main__":
    main()
