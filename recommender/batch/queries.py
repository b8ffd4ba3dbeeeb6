"""Large query files on an engine: the parallel path behind `corridor rank --engine`.

Queries are resolved in the driver (free texts encoded in one encoder call, as ``recommend_batch`` does),
then chunks of resolved queries go to the engine's workers, which rank them with the same ranker and
build the same :class:`Recommendation` objects. Results equal ``recommender.recommend_batch(queries, k,
explain=False)`` whatever the engine.
"""

from __future__ import annotations

from pathlib import Path

from recommender.batch.context import portable_recommender
from recommender.batch.engines import Engine, InlineEngine, make_engine
from recommender.batch.progress import NULL_PROGRESS, ProgressSink
from recommender.errors import InputFileError
from recommender.ranking.batch import BatchResult, rankings_frame, read_queries, write_rankings
from recommender.ranking.index import Query, ResolvedQuery
from recommender.ranking.service import Recommendation, Recommender


def _rank_chunk(context: tuple[Recommender, int], chunk: list[ResolvedQuery]) -> list[list[Recommendation]]:
    recommender, k = context
    out = []
    for rq in chunk:
        ids, scores = recommender.ranker.rank(recommender.index, rq, k)
        out.append(recommender._build(rq, ids, scores, explain=False))
    return out


def rank_queries(
    recommender: Recommender,
    queries: list[Query],
    k: int = 10,
    engine: Engine | str | None = None,
    progress: ProgressSink = NULL_PROGRESS,
    chunk_size: int = 32,
) -> list[list[Recommendation]]:
    """Top-``k`` recommendations (without explanations) of every query, computed on ``engine`` (an Engine,
    ``"local"``, ``"ray"``, or None for in-process); one list per query, in query order."""
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    owned = isinstance(engine, str)
    runner = make_engine(engine) if isinstance(engine, str) else (engine or InlineEngine())
    try:
        index = recommender.index
        for instrument in {q.instrument for q in queries if q.instrument}:
            index.eligibility(instrument)  # verdicts computed once here, shared with the workers
        with progress.step("resolving queries", len(queries)) as advance:
            resolved = index.resolve_many(list(queries))
            advance(len(queries))
        chunks = [resolved[i : i + chunk_size] for i in range(0, len(resolved), chunk_size)]
        context = (portable_recommender(recommender), k)
        results: list[list[Recommendation]] = []
        with progress.step(f"ranking {len(queries):,} queries on {runner.describe()}", len(queries)) as advance:
            for part in runner.map(_rank_chunk, context, chunks):
                results.extend(part)
                advance(len(part))
        return results
    finally:
        if owned:
            runner.close()


def check_rank_request(k: int, out: Path) -> None:
    """Refuse a batch ranking that cannot succeed before anything heavy loads."""
    if k < 1:
        raise InputFileError(f"k must be at least 1, got {k}")
    if out.suffix.lower() not in (".csv", ".parquet"):
        raise InputFileError(f"--out must end in .csv or .parquet, got {out.name}")


def rank_query_file_on(
    recommender: Recommender,
    path: Path,
    k: int,
    out: Path,
    engine: Engine | str | None = None,
    progress: ProgressSink = NULL_PROGRESS,
) -> BatchResult:
    """``recommender.ranking.batch.rank_query_file`` on an engine: same validation, same output file."""
    check_rank_request(k, out)
    queries, problems = read_queries(path, recommender)
    results = rank_queries(recommender, queries, k, engine, progress)
    frame = rankings_frame(queries, results)
    write_rankings(frame, out)
    return BatchResult(ranked=len(queries), rows=len(frame), rejected=problems)
