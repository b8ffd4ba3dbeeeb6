"""`corridor rank`: rank every row of a query file; bad rows are reported and skipped, never lost.

Input CSV columns: query_id (required), org_id, text (one of the two required), region (EU, KR or ANY;
default ANY), instrument, priority (id, label or synonym of the taxonomy: 'Drones' is ranked as 'unmanned').
Output columns: query_id, rank (1..K), org_id, score, eligibility.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from recommender.catalogue import RowError
from recommender.catalogue.kinds import KIND_FILTERS
from recommender.csvout import write_csv
from recommender.errors import CorridorError, InputFileError
from recommender.ranking.index import SIDES, Query
from recommender.ranking.service import Recommender
from recommender.userfiles import csv_records, row_errors

OUTPUT_COLUMNS = ["query_id", "rank", "org_id", "score", "eligibility", "known_partner"]
QUERY_COLUMNS = ("query_id", "org_id", "text", "region", "instrument", "priority", "kind", "include_known")
TRUE, FALSE = ("true", "yes", "1"), ("false", "no", "0", "")


@dataclass
class BatchResult:
    ranked: int = 0
    rows: int = 0
    rejected: list[RowError] = field(default_factory=list)


def read_queries(path: Path, recommender: Recommender) -> tuple[list[Query], list[RowError]]:
    """Validated queries of a query file, and one RowError per rejected row listing all its problems (line
    numbers, header = 1)."""
    records, problems = csv_records(path, ["query_id"], QUERY_COLUMNS)
    index = recommender.index
    taxonomy = index.profiles.taxonomy
    queries, seen = [], set()
    for start, rec in records:
        field_of = {key: (rec.get(key) or "").strip() for key in QUERY_COLUMNS}
        kind = field_of["kind"].lower() or None
        include_known = field_of["include_known"].lower()
        qid, org, body = field_of["query_id"], field_of["org_id"], " ".join(field_of["text"].split())
        region = field_of["region"].upper() or "ANY"
        instrument, priority = field_of["instrument"] or None, field_of["priority"] or None
        found: list[tuple[str, str]] = []
        if not qid:
            found.append(("query_id", "missing query_id"))
        elif qid in seen:
            found.append(("query_id", f"duplicate query_id {qid!r}"))
        if not org and not body:
            found.append(("org_id", "neither org_id nor text given"))
        elif org and org not in index.row_of:
            found.append(("org_id", f"unknown organisation id {org!r}"))
        if region not in SIDES:
            found.append(("region", f"must be one of {', '.join(SIDES)}, got {region!r}"))
        if kind is not None and kind not in KIND_FILTERS:
            found.append(("kind", f"must be one of {', '.join(KIND_FILTERS)}, got {kind!r}"))
        if include_known not in TRUE + FALSE:
            found.append(("include_known", f"must be true or false, got {include_known!r}"))
        if instrument:
            try:
                index.eligibility(instrument)
            except CorridorError as exc:
                found.append(("instrument", str(exc)))
        try:  # a label or synonym ('Drones', 'UAV') is stored as the priority's id
            priority = taxonomy.resolve(priority) if priority else None
        except CorridorError as exc:
            found.append(("priority", str(exc)))
        if found:
            problems.extend(row_errors(start, found))
            continue
        seen.add(qid)
        queries.append(
            Query(
                org_id=org or None,
                text=body or None,
                region=region,
                instrument=instrument,
                priority=priority,
                query_id=qid,
                kind=kind,
                include_known=include_known in TRUE,
            )
        )
    return queries, sorted(problems, key=lambda e: e.row)


def rankings_frame(queries: list[Query], results: list[list]) -> pd.DataFrame:
    rows = [
        (q.query_id, r.rank, r.org_id, r.score, r.eligibility_label, r.known_partner)
        for q, recs in zip(queries, results, strict=True)
        for r in recs
    ]
    frame = pd.DataFrame(rows, columns=OUTPUT_COLUMNS)
    return frame.astype({"rank": "int64", "score": "float64"})


def write_rankings(frame: pd.DataFrame, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".parquet":
        frame.to_parquet(out, index=False)
    elif out.suffix.lower() == ".csv":
        write_csv(frame, out)
    else:
        raise InputFileError(f"--out must end in .csv or .parquet, got {out.name}")


def rank_query_file(recommender: Recommender, path: Path, k: int, out: Path) -> BatchResult:
    if k < 1:
        raise InputFileError(f"k must be at least 1, got {k}")
    if out.suffix.lower() not in (".csv", ".parquet"):
        raise InputFileError(f"--out must end in .csv or .parquet, got {out.name}")
    queries, problems = read_queries(path, recommender)
    results = recommender.recommend_batch(queries, k, explain=False)
    frame = rankings_frame(queries, results)
    write_rankings(frame, out)
    return BatchResult(ranked=len(queries), rows=len(frame), rejected=problems)
