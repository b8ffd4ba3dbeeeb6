"""`corridor report`: the whole European-Korean map for one technology priority.

Scores every Korean x European pair (or the pairs among a user's list of organisations) with the learned
ranker (see :mod:`recommender.batch.pairs`), then assembles plain tables: the best pairings with
explanations and per-instrument eligibility of both sides, each Korean organisation's best partners,
European organisations by their best Korean match, European countries, the score distribution and each
side's strength per priority. :func:`write_report` writes them as Parquet/CSV plus a self-contained HTML
report (:mod:`recommender.batch.html`).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from recommender.batch.engines import Engine, InlineEngine
from recommender.batch.pairs import PairScan, ScanConfig, TopPairs, country_labels, korean_query, scan_pairs
from recommender.batch.progress import NULL_PROGRESS, ProgressSink
from recommender.catalogue import RowError
from recommender.csvout import write_csv
from recommender.errors import CorridorError
from recommender.ranking.features import FEATURES, LABELS, query_context
from recommender.ranking.index import Query, RankingIndex
from recommender.ranking.pairings import DEFAULT_SPREAD, TOP_BLOCK, TOP_PER_KOREAN, partner_cap, spread_pairs
from recommender.ranking.rankers import LearnedRanker
from recommender.ranking.service import Recommender
from recommender.userfiles import csv_records

USABLE = ("ELIGIBLE", "CONDITIONAL")


class ReportRequestError(CorridorError, ValueError):
    """A report request with impossible parameters (top < 1 ...)."""


@dataclass(frozen=True)
class ReportRequest:
    priority: str
    instrument: str | None = None  # ineligible European organisations are left out (unless kept)
    keep_ineligible: bool = False
    org_ids: tuple[str, ...] | None = None  # restrict to pairs among these organisations
    top: int = 1000  # pairings written
    explain: int = 200  # of which explained (contributions are the expensive part)
    per_org: int = 3  # best partners listed per Korean organisation
    block: int = 16_384  # European candidates per model call
    include_known: bool = False  # also pair organisations that have already worked together
    spread: float = DEFAULT_SPREAD  # one European organisation is proposed to at most this share of Korean ones
    kind: str | None = None  # kind of European partner; None: every kind but funding bodies
    scoring: str = "auto"  # two-stage, exhaustive (every pair by the model) or auto (see ScanConfig)

    def __post_init__(self) -> None:
        from recommender.batch.pairs import SCORING_MODES
        from recommender.catalogue.kinds import KIND_FILTERS

        if self.scoring not in SCORING_MODES:
            raise ReportRequestError(f"scoring must be one of {', '.join(SCORING_MODES)}, got {self.scoring!r}")

        if self.kind is not None and self.kind not in KIND_FILTERS:
            raise ReportRequestError(f"unknown kind {self.kind!r}; known kinds: {', '.join(KIND_FILTERS)}")
        if self.top < 1 or self.explain < 0 or self.per_org < 1:
            raise ReportRequestError("top and per_org must be at least 1 and explain at least 0")
        if not 0 < self.spread <= 1:
            raise ReportRequestError(f"spread must be in (0, 1], got {self.spread}")

    def query_for(self, korean_id: str) -> Query:
        """The query each Korean organisation's row of the map answers (as `corridor recommend` would)."""
        return korean_query(korean_id, self.priority, self.instrument, self.keep_ineligible, self.include_known,
                            self.kind)


@dataclass
class PairingReport:
    request: ReportRequest
    meta: dict
    pairings: pd.DataFrame
    korean: pd.DataFrame
    european: pd.DataFrame
    countries: pd.DataFrame
    heatmap: pd.DataFrame  # European country x Korean organisation: best pair score
    histogram: pd.DataFrame  # all pair scores, fixed bins
    priorities: pd.DataFrame  # each side's mean strength per priority, with its strongest organisations
    instruments: list[str] = field(default_factory=list)
    rejected: list[RowError] = field(default_factory=list)


# ---- input -----------------------------------------------------------------------------------------------------


def read_org_ids(path: Path, index: RankingIndex) -> tuple[list[str], list[RowError]]:
    """Organisation ids of a CSV file with an ``org_id`` column: the known Korean or European ones, and one
    RowError per other row (unknown, duplicate, or neither side), with line numbers (header = 1)."""
    records, problems = csv_records(path, ["org_id"])
    ids: list[str] = []
    seen: set[str] = set()
    for start, rec in records:
        oid = (rec.get("org_id") or "").strip()
        row = index.row_of.get(oid)
        if not oid:
            problems.append(RowError.of(start, "org_id", "missing org_id"))
        elif oid in seen:
            problems.append(RowError.of(start, "org_id", f"duplicate org_id {oid!r}"))
        elif row is None:
            problems.append(RowError.of(start, "org_id", f"unknown organisation id {oid!r}"))
        elif not (index.side_masks["KR"][row] or index.side_masks["EU"][row]):
            problems.append(RowError.of(start, "org_id", f"{oid!r} is neither a Korean nor a European organisation"))
        else:
            seen.add(oid)
            ids.append(oid)
    return ids, sorted(problems, key=lambda e: e.row)


# ---- building --------------------------------------------------------------------------------------------------


def build_report(
    recommender: Recommender,
    request: ReportRequest,
    engine: Engine | None = None,
    progress: ProgressSink = NULL_PROGRESS,
    rejected: list[RowError] | None = None,
) -> PairingReport:
    """Score the pairs of ``request`` on ``engine`` and assemble the report tables."""
    started = time.perf_counter()
    ranker = recommender.ranker
    if not isinstance(ranker, LearnedRanker):
        raise ReportRequestError(f"reports need the learned ranker, got {type(ranker).__name__}")
    index = recommender.index
    p = index.priority_index(request.priority)
    engine = engine or InlineEngine()
    kr_rows, eu_rows = _scope(index, request)
    instruments = list(index.rulebook.instrument_ids) if index.rulebook is not None else []
    if request.instrument and request.instrument not in instruments:
        index.eligibility(request.instrument)  # raises UnknownInstrumentError with the known list
    labels: dict[str, np.ndarray] = {}
    with progress.step("eligibility verdicts per instrument", len(instruments)) as advance:
        for inst in instruments:
            labels[inst] = index.eligibility(inst)[1]
            advance(1)
    scan_started = time.perf_counter()
    scan = scan_pairs(
        index,
        ranker,
        request.priority,
        kr_rows,
        eu_rows,
        instrument=request.instrument,
        keep_ineligible=request.keep_ineligible,
        include_known=request.include_known,
        kind=request.kind,
        engine=engine,
        config=ScanConfig(
            top=request.top * SPREAD_HEADROOM,
            per_org=request.per_org * SPREAD_HEADROOM,
            block=request.block,
            scoring=request.scoring,
        ),
        progress=progress,
    )
    spread_scan(scan, request)
    scored = time.perf_counter()
    pairings = _pairings(index, ranker, request, scan, labels, progress)
    countries = _countries(index, scan, pairings)
    report = PairingReport(
        request=request,
        meta={},
        pairings=pairings,
        korean=_korean(index, scan, p, labels),
        european=_european(index, scan, p),
        countries=countries,
        heatmap=_heatmap(index, scan),
        histogram=_histogram(scan),
        priorities=_priorities(index, kr_rows, eu_rows),
        instruments=instruments,
        rejected=list(rejected or []),
    )
    priority = index.profiles.taxonomy.get(request.priority)
    book = index.rulebook
    report.meta = {
        "priority": request.priority,
        "priority_label": priority.label,
        "instrument": request.instrument,
        "keep_ineligible": request.keep_ineligible,
        "include_known": request.include_known,
        "spread": request.spread,
        "partner_cap": partner_cap(len(kr_rows), request.spread),
        "kind": request.kind,
        "left_out": {
            "funding_bodies": int((index.funding_body & (index.side_masks["KR"] | index.side_masks["EU"])).sum())
            if request.kind is None
            else 0,
            "korean_without_priority_evidence": int(
                (index.side_masks["KR"] & ~index.evidence[:, p] & index.kind_allowed(request.kind)).sum()
            ),
            "known_partner_pairs": "left out" if not request.include_known else "kept",
        },
        "organisation_list": request.org_ids is not None,
        "korean_organisations": int(len(kr_rows)),
        "european_organisations": int(len(eu_rows)),
        "pairs_scored": int(scan.n_pairs),
        "scoring": _scoring(scan),
        "pairings_written": int(len(pairings)),
        "pairings_explained": int((pairings["explanation"] != "").sum()),
        "engine": engine.describe(),
        "scoring_seconds": round(scored - scan_started, 2),
        "total_seconds": round(time.perf_counter() - started, 2),
        "pairs_per_second": round(scan.n_pairs / max(scored - scan_started, 1e-9)),
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "taxonomy_version": index.profiles.taxonomy.version,
        "rules_version": getattr(book, "version", None),
        "rules_valid_as_of": str(getattr(book, "valid_as_of", "")) or None,
        "rejected_rows": len(report.rejected),
    }
    return report


SPREAD_HEADROOM = 8  # the scan keeps this many times more pairs than shown, for the spread to choose from


def spread_scan(scan: PairScan, request: ReportRequest) -> None:
    """Keep the pairs the map shows (see :func:`recommender.ranking.pairings.spread_pairs`): in the top
    pairings and in each Korean organisation's best partners, no European organisation is proposed to more
    than a ``request.spread`` share of the Korean organisations; in each block of 50 top pairings no Korean
    organisation takes more than 5 while others have pairs to show; pairs whose sides show the priority in their
    own texts (not only as a declared area) come first."""
    cap = partner_cap(len(scan.kr_rows), request.spread)
    index = scan.job.index
    p = index.priority_index(request.priority)

    def tier(kr: np.ndarray, eu: np.ndarray) -> np.ndarray:
        return index.evidence_in_text[kr, p].astype(int) + index.evidence_in_text[eu, p].astype(int)

    rows, scores = scan.kr_best_rows, scan.kr_best_scores
    present = rows >= 0
    kr = np.repeat(scan.kr_rows, rows.shape[1]).reshape(rows.shape)[present]
    # The top pairings choose among the scan's best pairs and every Korean organisation's best partners,
    # so that Korean organisations below the very top still have pairs to offer.
    pool_kr = np.concatenate([scan.top.kr, kr])
    pool_eu = np.concatenate([scan.top.eu, rows[present]])
    pool_score = np.concatenate([scan.top.score, scores[present]])
    _, first = np.unique(np.stack([pool_kr, pool_eu]), axis=1, return_index=True)
    pool_kr, pool_eu, pool_score = pool_kr[first], pool_eu[first], pool_score[first]
    keep = spread_pairs(
        pool_kr, pool_eu, pool_score, cap, TOP_PER_KOREAN, request.top, tier(pool_kr, pool_eu), block=TOP_BLOCK
    )
    scan.top = TopPairs(pool_kr[keep], pool_eu[keep], pool_score[keep])
    chosen = spread_pairs(
        kr, rows[present], scores[present], cap, per_korean=request.per_org, tier=tier(kr, rows[present])
    )
    best_rows = np.full((len(scan.kr_rows), request.per_org), -1, dtype=np.int64)
    best_scores = np.full((len(scan.kr_rows), request.per_org), np.nan)
    position = {int(k): i for i, k in enumerate(scan.kr_rows)}
    filled = np.zeros(len(scan.kr_rows), dtype=np.int64)
    for i in chosen:  # already best first
        k = position[int(kr[i])]
        best_rows[k, filled[k]] = rows[present][i]
        best_scores[k, filled[k]] = scores[present][i]
        filled[k] += 1
    scan.kr_best_rows, scan.kr_best_scores = best_rows, best_scores


def _scope(index: RankingIndex, request: ReportRequest) -> tuple[np.ndarray, np.ndarray]:
    """Korean and European rows of the map: of the requested kind (funding bodies out by default), and on
    the Korean side only organisations with demonstrated capability in the priority. The European side is
    filtered per query as `corridor recommend` would (priority evidence, known partners, eligibility)."""
    kind = index.kind_allowed(request.kind)
    p = index.priority_index(request.priority)
    kr = index.side_masks["KR"] & kind & index.evidence[:, p]
    eu = index.side_masks["EU"] & kind
    if request.org_ids is not None:
        keep = np.zeros(len(index.ids), dtype=bool)
        keep[[index.row(o) for o in request.org_ids]] = True
        kr, eu = kr & keep, eu & keep
    return np.flatnonzero(kr), np.flatnonzero(eu)


def _scoring(scan: PairScan) -> dict:
    """How the pairs were scored: every pair by the model, or two stages (and how many the model saw)."""
    first = scan.job.first_stage
    if first is None:
        return {"mode": "exhaustive", "model_pairs": int(scan.model_pairs)}
    return {
        "mode": "two-stage",
        "model_pairs": int(scan.model_pairs),
        "reranked_per_korean": int(scan.job.rerank),
        "first_stage_fit_pairs": int(first.fit_rows),
        "first_stage_rank_correlation": first.fit_correlation,
    }


def _summary(values: np.ndarray, top: int = 3) -> str:
    order = np.argsort(-values, kind="stable")[:top]
    return "; ".join(f"{LABELS[FEATURES[j]]} (+{values[j]:.3f})" for j in order if values[j] > 0)


def _pairings(
    index: RankingIndex,
    ranker: LearnedRanker,
    request: ReportRequest,
    scan: PairScan,
    labels: dict[str, np.ndarray],
    progress: ProgressSink,
) -> pd.DataFrame:
    kr, eu, score = scan.top.kr, scan.top.eu, scan.top.score
    p = index.priority_index(request.priority)
    n = len(score)
    explanation = np.full(n, "", dtype=object)
    shared = np.zeros(n, dtype=np.int64)
    n_explain = min(request.explain, n)
    groups = pd.Series(np.arange(n)).groupby(kr)
    # Many small model calls: one thread avoids OpenMP start/stop costs (and stalls on a busy machine).
    with progress.step(f"explaining the top {n_explain} pairings", n) as advance, threadpool_limits(1):
        for kr_row, where in cast(dict[int, np.ndarray], groups.indices).items():
            rq = index.resolve(request.query_for(str(index.ids[kr_row])))
            ctx = query_context(index, rq)
            if ctx.graph is not None:
                shared[where] = ctx.graph[0].at(eu[where])
            explained = where[where < n_explain]
            if len(explained):
                contrib = ranker.contributions(index, rq, eu[explained], ctx)
                explanation[explained] = [_summary(c) for c in contrib]
            advance(len(where))
    adjacency = index.graph.adjacency
    frame = pd.DataFrame(
        {
            "rank": np.arange(1, n + 1),
            "kr_id": index.ids[kr],
            "kr_name": index.names[kr],
            "kr_activity": index.activity[kr],
            "eu_id": index.ids[eu],
            "eu_name": index.names[eu],
            "eu_country": index.countries[eu],
            "eu_activity": index.activity[eu],
            "score": score,
            "kr_priority_evidence": np.where(index.evidence_in_text[kr, p], "own texts", "declared"),
            "eu_priority_evidence": np.where(index.evidence_in_text[eu, p], "own texts", "declared"),
            "prior_joint_projects": np.asarray(adjacency[kr, eu]).ravel().astype(np.int64) if n else np.zeros(0),
            "shared_partners": shared,
            "explanation": explanation,
        }
    )
    usable = []
    for inst, lab in labels.items():
        frame[f"elig_kr_{inst}"] = lab[kr]
        frame[f"elig_eu_{inst}"] = lab[eu]
        usable.append(np.isin(lab[kr], USABLE) & np.isin(lab[eu], USABLE))
    insts = list(labels)
    frame["both_eligible_under"] = [
        ";".join(inst for inst, ok in zip(insts, flags, strict=True) if ok)
        for flags in (zip(*usable, strict=True) if usable else [()] * n)
    ]
    return frame.astype({"rank": "int64", "score": "float64", "prior_joint_projects": "int64"})


def _korean(index: RankingIndex, scan: PairScan, p: int, labels: dict[str, np.ndarray]) -> pd.DataFrame:
    kr = scan.kr_rows
    best = scan.kr_best_rows
    partners = [
        "; ".join(
            f"{index.names[r]} ({index.countries[r]}) {s:.3f}" for r, s in zip(rows, scores, strict=True) if r >= 0
        )
        for rows, scores in zip(best, scan.kr_best_scores, strict=True)
    ]
    frame = pd.DataFrame(
        {
            "kr_id": index.ids[kr],
            "kr_name": index.names[kr],
            "kr_activity": index.activity[kr],
            "priority_score": index.scores[kr, p].astype(np.float64),
            "best_score": scan.kr_best_scores[:, 0],
            "mean_score": scan.kr_mean,
            "candidates": scan.kr_n,
            "best_partner_id": np.where(best[:, 0] >= 0, index.ids[np.maximum(best[:, 0], 0)], None),
            "best_partners": partners,
            "best_partner_ids": [";".join(str(index.ids[r]) for r in rows if r >= 0) for rows in best],
        }
    )
    for inst, lab in labels.items():
        frame[f"elig_kr_{inst}"] = lab[kr]
    return frame.sort_values(["best_score", "kr_id"], ascending=[False, True], na_position="last").reset_index(
        drop=True
    )


def _european(index: RankingIndex, scan: PairScan, p: int) -> pd.DataFrame:
    eu = scan.job.eu_rows
    best_kr = scan.eu_best_kr
    frame = pd.DataFrame(
        {
            "eu_id": index.ids[eu],
            "eu_name": index.names[eu],
            "eu_country": index.countries[eu],
            "eu_activity": index.activity[eu],
            "priority_score": index.scores[eu, p].astype(np.float64),
            "best_score": scan.eu_best,
            "best_kr_id": np.where(best_kr >= 0, index.ids[np.maximum(best_kr, 0)], None),
            "best_kr_name": np.where(best_kr >= 0, index.names[np.maximum(best_kr, 0)], None),
        }
    )
    return frame.sort_values(["best_score", "eu_id"], ascending=[False, True], na_position="last").reset_index(
        drop=True
    )


def _countries(index: RankingIndex, scan: PairScan, pairings: pd.DataFrame) -> pd.DataFrame:
    names = country_labels(index, scan)
    orgs = np.bincount(scan.job.eu_country, minlength=scan.job.n_countries)
    in_top = pairings["eu_country"].value_counts()
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(scan.country_n > 0, scan.country_sum / np.maximum(scan.country_n, 1), np.nan)
    frame = pd.DataFrame(
        {
            "eu_country": names,
            "european_orgs": orgs,
            "pairs_scored": scan.country_n,
            "mean_score": mean,
            "best_score": scan.country_best,
            "pairs_in_top": [int(in_top.get(c, 0)) for c in names],
        }
    )
    return frame.sort_values(["pairs_in_top", "best_score", "eu_country"], ascending=[False, False, True]).reset_index(
        drop=True
    )


def _heatmap(index: RankingIndex, scan: PairScan, max_kr: int = 20, max_countries: int = 25) -> pd.DataFrame:
    """Best pair score for each (European country, Korean organisation): the strongest Korean organisations
    (columns) against the countries with the best pairs (rows)."""
    best = scan.kr_country_best
    kr_best = np.fmax.reduce(best, axis=1, initial=-np.inf)
    kr_order = np.lexsort((scan.kr_rows, -kr_best))[:max_kr]
    country_best = np.nan_to_num(scan.country_best, nan=-np.inf)
    names = country_labels(index, scan)
    c_order = np.lexsort((names.astype(str), -country_best))[:max_countries]
    columns = [_short(index.names[scan.kr_rows[i]]) for i in kr_order]
    return pd.DataFrame(best[np.ix_(kr_order, c_order)].T, index=names[c_order], columns=_unique(columns))


def _histogram(scan: PairScan) -> pd.DataFrame:
    edges = scan.bin_edges
    return pd.DataFrame({"bin_start": edges[:-1], "bin_end": edges[1:], "pairs": scan.hist})


def _priorities(index: RankingIndex, kr_rows: np.ndarray, eu_rows: np.ndarray, top: int = 3) -> pd.DataFrame:
    """Each side's strength per priority: the mean score of its organisations that have a profile, its
    priority mix (each mean as a share of the side's summed means) and Korea's relative specialisation
    (Korean share / European share, a Balassa index: above 1, Korea is relatively stronger there). The mix
    compares the sides fairly although they are selected differently (a few curated Korean defence firms
    against every European project participant: raw means favour Korea, top-k means favour the larger side).
    """
    taxonomy = index.profiles.taxonomy
    n_p = len(taxonomy.ids)
    kr = kr_rows[index.has_profile[kr_rows]]
    eu = eu_rows[index.has_profile[eu_rows]]

    def mean(rows: np.ndarray) -> np.ndarray:
        return index.scores[rows].mean(axis=0).astype(np.float64) if len(rows) else np.full(n_p, np.nan)

    def strongest(rows: np.ndarray, j: int) -> str:
        if not len(rows):
            return ""
        s = index.scores[rows, j]
        order = np.lexsort((rows, -s))[:top]
        return "; ".join(f"{index.names[rows[o]]} {s[o]:.2f}" for o in order)

    kr_mean, eu_mean = mean(kr), mean(eu)
    with np.errstate(invalid="ignore", divide="ignore"):
        kr_share, eu_share = kr_mean / kr_mean.sum(), eu_mean / eu_mean.sum()
        specialisation = np.where(eu_share > 0, kr_share / eu_share, np.nan)
    return pd.DataFrame(
        {
            "priority": taxonomy.ids,
            "label": [pr.label for pr in taxonomy.priorities],
            "kr_mean": kr_mean,
            "eu_mean": eu_mean,
            "kr_minus_eu": kr_mean - eu_mean,
            "kr_share": kr_share,
            "eu_share": eu_share,
            "kr_specialisation": specialisation,
            "kr_profiled": len(kr),
            "eu_profiled": len(eu),
            "top_kr": [strongest(kr, j) for j in range(n_p)],
            "top_eu": [strongest(eu, j) for j in range(n_p)],
        }
    )


def _short(name: str, width: int = 28) -> str:
    name = str(name)
    return name if len(name) <= width else name[: width - 1] + "…"


def _unique(labels: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    return out


# ---- writing ---------------------------------------------------------------------------------------------------


def write_report(report: PairingReport, out_dir: Path, progress: ProgressSink = NULL_PROGRESS) -> dict[str, Path]:
    """Write the tables (Parquet and/or CSV), summary.json and report.html into ``out_dir``; return what was
    written where (name -> path)."""
    from recommender.batch.html import render_html

    out_dir.mkdir(parents=True, exist_ok=True)
    tables = {
        "pairings": (report.pairings, ("parquet", "csv")),
        "korean_organisations": (report.korean, ("parquet", "csv")),
        "european_organisations": (report.european, ("parquet", "csv")),
        "countries": (report.countries, ("csv",)),
        "priorities": (report.priorities, ("csv",)),
        "score_histogram": (report.histogram, ("csv",)),
    }
    written: dict[str, Path] = {}
    with progress.step("writing tables and report", len(tables) + 2) as advance:
        for name, (frame, formats) in tables.items():
            for fmt in formats:
                path = out_dir / f"{name}.{fmt}"
                if fmt == "parquet":
                    frame.to_parquet(path, index=False)
                else:
                    write_csv(frame, path)
                written[f"{name}.{fmt}"] = path
            advance(1)
        html_path = out_dir / "report.html"
        html_path.write_text(render_html(report), encoding="utf-8")
        written["report.html"] = html_path
        advance(1)
        summary = {
            **report.meta,
            "request": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(report.request).items()},
            "rejected": [str(r) for r in report.rejected],
            "files": {name: str(path) for name, path in written.items()},
        }
        summary["request"]["org_ids"] = len(report.request.org_ids) if report.request.org_ids is not None else None
        path = out_dir / "summary.json"
        path.write_text(json.dumps(summary, indent=2, default=str) + "\n")
        written["summary.json"] = path
        advance(1)
    return written
