"""Offline batch jobs over the whole catalogue: all-pairs partnership reports and large query files,
on a local process pool or on Ray, in bounded memory."""

from recommender.batch.engines import ENGINES, Engine, EngineError, InlineEngine, LocalEngine, RayEngine, make_engine
from recommender.batch.pairs import EmptyScopeError, PairScan, ScanConfig, scan_pairs
from recommender.batch.progress import NULL_PROGRESS, ProgressSink
from recommender.batch.queries import rank_queries, rank_query_file_on
from recommender.batch.report import (
    PairingReport,
    ReportRequest,
    ReportRequestError,
    build_report,
    read_org_ids,
    write_report,
)

__all__ = [
    "ENGINES",
    "NULL_PROGRESS",
    "EmptyScopeError",
    "Engine",
    "EngineError",
    "InlineEngine",
    "LocalEngine",
    "PairScan",
    "PairingReport",
    "ProgressSink",
    "RayEngine",
    "ReportRequest",
    "ReportRequestError",
    "ScanConfig",
    "build_report",
    "make_engine",
    "rank_queries",
    "rank_query_file_on",
    "read_org_ids",
    "scan_pairs",
    "write_report",
]
