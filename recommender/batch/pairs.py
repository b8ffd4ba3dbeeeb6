"""All-pairs scoring of Korean x European organisations for one technology priority, in bounded memory.

Each Korean organisation is a query ``Query(org_id=kr, region="EU", priority=P, instrument=I)`` paired with
*every* allowed European organisation (not only generated candidates), in two stages: a vectorised linear
surrogate of the model scores every pair (:mod:`recommender.batch.first_stage`), and the learned ranker
re-scores the best ``rerank`` of each Korean organisation. The best pairs and partners are therefore always
model scores; the other pairs carry the first stage's estimate (capped below the re-ranked ones) in the
distributions. Exhaustive scoring (every pair by the model, in blocks of ``block`` candidates) is kept for
audits, and is what ``auto`` does on maps too small for the first stage to pay off. Work is split into
chunks of Korean organisations; a chunk returns only summaries, never its score matrix:

- the chunk's best ``top`` pairs (a bounded top-M, merged across chunks under one total order: score
  descending, then Korean row, then European row);
- a fixed-bin histogram of all pair scores (integer counts);
- per Korean organisation (final within its chunk): best ``per_org`` partners, mean score, and best /
  sum / count of scores per European country;
- per European organisation: best score and the Korean organisation that reached it;
- per European country: count, sum and best of all pair scores.

Memory is therefore O(index + workers x (block x (vector dim + features) + n_european)) whatever the number
of pairs: on a synthetic 200,000 x 10,000 index (384-dim vectors) the local engine's two workers add about
150 MiB to the driver's 1.2 GiB, flat from 1.6 to 6.4 million pairs (benchmarks/batch_throughput.py).
Chunk boundaries depend only on the number of Korean organisations, and chunk results are merged in chunk
order, so every engine (and every worker count) produces bit-identical results.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from recommender.batch.context import portable_index
from recommender.batch.engines import Engine, InlineEngine
from recommender.batch.first_stage import FirstStage, fit_first_stage
from recommender.batch.progress import NULL_PROGRESS, ProgressSink
from recommender.errors import CorridorError
from recommender.ranking.contract import top_k
from recommender.ranking.features import query_context
from recommender.ranking.index import Query, RankingIndex
from recommender.ranking.rankers import LearnedRanker

RERANK_HEADROOM = 3
SCORING_MODES = ("auto", "two-stage", "exhaustive")
AUTO_TWO_STAGE_PAIRS = 2_000_000


class ScanConfigError(CorridorError, ValueError):
    """Impossible scan parameters (unknown scoring mode ...)."""


class EmptyScopeError(CorridorError):
    """No Korean or no European organisation to pair."""


@dataclass(frozen=True)
class ScanConfig:
    top: int = 1000  # pairs kept overall
    per_org: int = 3  # best partners kept per Korean organisation
    block: int = 16_384  # European candidates scored per model call
    bins: int = 50  # histogram bins over [0, 1]
    max_chunk: int = 32  # Korean organisations per chunk, at most
    target_chunks: int = 64  # aim for this many chunks (load balance), independent of the engine
    rerank: int = 500  # two-stage: European candidates per Korean organisation re-ranked by the model, at least
    scoring: str = "auto"  # two-stage, exhaustive (every pair by the model: audits) or auto (see two_stage)

    def __post_init__(self) -> None:
        if self.scoring not in SCORING_MODES:
            raise ScanConfigError(f"scoring must be one of {', '.join(SCORING_MODES)}, got {self.scoring!r}")
        if self.rerank < 1:
            raise ScanConfigError(f"rerank must be at least 1, got {self.rerank}")

    def two_stage(self, n_pairs: int) -> bool:
        """Auto: two stages above ``AUTO_TWO_STAGE_PAIRS`` pairs, where they pay for fitting the first stage."""
        if self.scoring == "auto":
            return n_pairs > AUTO_TWO_STAGE_PAIRS
        return self.scoring == "two-stage"

    def chunk_size(self, n_korean: int) -> int:
        return max(1, min(self.max_chunk, math.ceil(n_korean / self.target_chunks)))

    def rerank_per_korean(self, n_korean: int) -> int:
        """How many first-stage candidates each Korean organisation's model re-ranks: ``rerank``, or more when
        few Korean organisations must fill the ``top`` pairs (three times their share of them)."""
        return max(self.rerank, math.ceil(RERANK_HEADROOM * self.top / max(n_korean, 1)))


@dataclass(frozen=True)
class ScanJob:
    """What every worker needs: shipped once per worker by the engine."""

    index: RankingIndex
    ranker: LearnedRanker
    priority: str
    instrument: str | None
    keep_ineligible: bool
    include_known: bool
    kind: str | None
    eu_rows: np.ndarray  # European rows in scope, ascending
    eu_country: np.ndarray  # per European position: country code (index into countries)
    n_countries: int
    config: ScanConfig
    first_stage: FirstStage | None = None  # None: exhaustive
    rerank: int = 0  # first-stage candidates re-ranked per Korean organisation (two-stage only)

    def query(self, kr_row: int) -> Query:
        """The query a Korean organisation's row of the map answers."""
        return korean_query(str(self.index.ids[kr_row]), self.priority, self.instrument, self.keep_ineligible,
                            self.include_known, self.kind)


def korean_query(org_id: str, priority: str, instrument: str | None, keep_ineligible: bool, include_known: bool,
                 kind: str | None) -> Query:
    """The query a Korean organisation's row of a partnership map answers: European partners under the map's
    filters, as `corridor recommend` would rank them."""
    return Query(org_id=org_id, region="EU", priority=priority, instrument=instrument,
                 keep_ineligible=keep_ineligible, include_known=include_known, kind=kind)


@dataclass
class TopPairs:
    """A bounded set of the best pairs (index rows), best first."""

    kr: np.ndarray
    eu: np.ndarray
    score: np.ndarray

    @staticmethod
    def empty() -> TopPairs:
        return TopPairs(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0))

    def merge(self, other: TopPairs, m: int) -> TopPairs:
        kr = np.concatenate([self.kr, other.kr])
        eu = np.concatenate([self.eu, other.eu])
        score = np.concatenate([self.score, other.score])
        order = np.lexsort((eu, kr, -score))[:m]
        return TopPairs(kr[order], eu[order], score[order])


@dataclass
class ChunkResult:
    top: TopPairs
    hist: np.ndarray  # (bins,) int64
    n_pairs: int
    model_pairs: int
    kr_rows: np.ndarray  # (c,)
    kr_n: np.ndarray  # (c,) candidates scored
    kr_mean: np.ndarray  # (c,)
    kr_best_rows: np.ndarray  # (c, per_org) European rows, -1 padded
    kr_best_scores: np.ndarray  # (c, per_org) NaN padded
    kr_country_best: np.ndarray  # (c, n_countries) NaN where no candidate
    kr_country_sum: np.ndarray  # (c, n_countries)
    kr_country_n: np.ndarray  # (c, n_countries)
    eu_best: np.ndarray  # (n_eu,) -inf where never scored
    eu_best_kr: np.ndarray  # (n_eu,) Korean row reaching eu_best, -1 where never scored


@dataclass
class PairScan:
    """The merged summaries of a whole scan (see the module docstring)."""

    job: ScanJob
    kr_rows: np.ndarray
    top: TopPairs
    hist: np.ndarray
    n_pairs: int = 0
    model_pairs: int = 0  # pairs the model scored (all of them when exhaustive)
    kr_n: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    kr_mean: np.ndarray = field(default_factory=lambda: np.zeros(0))
    kr_best_rows: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int64))
    kr_best_scores: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    kr_country_best: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    kr_country_sum: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    kr_country_n: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int64))
    eu_best: np.ndarray = field(default_factory=lambda: np.zeros(0))
    eu_best_kr: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    country_n: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    country_sum: np.ndarray = field(default_factory=lambda: np.zeros(0))
    country_best: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def bin_edges(self) -> np.ndarray:
        return np.linspace(0.0, 1.0, self.job.config.bins + 1)


# ---- the per-chunk work (runs in workers) ------------------------------------------------------------------


def score_korean_org(job: ScanJob, kr_row: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(European positions in ``job.eu_rows``, scores, whether the model scored each) of one Korean
    organisation against every allowed European organisation.

    Exhaustive: the model scores every pair, block by block. Two-stage: the first stage scores every pair,
    the model re-scores its best ``job.rerank``; the other pairs keep the first stage's estimate, capped at
    the lowest model score of the re-ranked ones, so no estimated pair ever outranks a re-ranked one."""
    ranker, index = job.ranker, job.index
    rq = index.resolve(job.query(kr_row))
    positions = np.flatnonzero(index.allowed(rq)[job.eu_rows])
    scores = np.empty(len(positions))
    if len(positions) == 0:
        return positions, scores, np.zeros(0, dtype=bool)
    ctx = query_context(index, rq)
    if job.first_stage is not None and len(positions) > job.rerank:
        estimate = job.first_stage.margins(index, ctx, job.eu_rows[positions], positions)
        best = np.sort(np.argpartition(-estimate, job.rerank - 1)[: job.rerank])
        exact = ranker.score(index, rq, job.eu_rows[positions[best]], ctx)
        scores[:] = np.minimum(1.0 / (1.0 + np.exp(-estimate)), exact.min())
        scores[best] = exact
        scored = np.zeros(len(positions), dtype=bool)
        scored[best] = True
        return positions, scores, scored
    block = job.config.block
    for start in range(0, len(positions), block):
        rows = job.eu_rows[positions[start : start + block]]
        scores[start : start + block] = ranker.score(index, rq, rows, ctx)
    return positions, scores, np.ones(len(positions), dtype=bool)


def scan_chunk(job: ScanJob, kr_rows: np.ndarray) -> ChunkResult:
    """Score every (Korean in ``kr_rows``) x (allowed European) pair; return only the summaries."""
    cfg = job.config
    c, n_eu, n_c = len(kr_rows), len(job.eu_rows), job.n_countries
    top = TopPairs.empty()
    hist = np.zeros(cfg.bins, dtype=np.int64)
    kr_n = np.zeros(c, dtype=np.int64)
    kr_mean = np.full(c, np.nan)
    best_rows = np.full((c, cfg.per_org), -1, dtype=np.int64)
    best_scores = np.full((c, cfg.per_org), np.nan)
    c_best = np.full((c, n_c), np.nan)
    c_sum = np.zeros((c, n_c))
    c_n = np.zeros((c, n_c), dtype=np.int64)
    eu_best = np.full(n_eu, -np.inf)
    eu_best_kr = np.full(n_eu, -1, dtype=np.int64)
    n_pairs = model_pairs = 0
    for i, kr in enumerate(kr_rows):
        positions, scores, scored = score_korean_org(job, int(kr))
        n = len(positions)
        if n == 0:
            continue
        n_pairs += n
        model_pairs += int(scored.sum())
        kr_n[i] = n
        kr_mean[i] = scores.mean()
        hist += np.bincount(np.minimum((scores * cfg.bins).astype(np.int64), cfg.bins - 1), minlength=cfg.bins)
        eu = job.eu_rows[positions]
        # Best partners and top pairs come from model scores only (every pair when exhaustive).
        b_rows, b_scores = top_k(eu[scored], scores[scored], cfg.per_org)
        best_rows[i, : len(b_rows)], best_scores[i, : len(b_rows)] = b_rows, b_scores
        t_rows, t_scores = top_k(eu[scored], scores[scored], cfg.top)
        top = top.merge(TopPairs(np.full(len(t_rows), kr, dtype=np.int64), t_rows, t_scores), cfg.top)
        codes = job.eu_country[positions]
        c_n[i] = np.bincount(codes, minlength=n_c)
        c_sum[i] = np.bincount(codes, weights=scores, minlength=n_c)
        best = np.full(n_c, -np.inf)
        np.maximum.at(best, codes, scores)
        c_best[i] = np.where(c_n[i] > 0, best, np.nan)
        better = scores > eu_best[positions]  # rows ascend within a chunk: ties keep the smaller Korean row
        eu_best[positions[better]] = scores[better]
        eu_best_kr[positions[better]] = kr
    return ChunkResult(
        top, hist, n_pairs, model_pairs, np.asarray(kr_rows, dtype=np.int64), kr_n, kr_mean, best_rows, best_scores,
        c_best, c_sum, c_n, eu_best, eu_best_kr,
    )  # fmt: skip


# ---- driver side ---------------------------------------------------------------------------------------------


_PER_KOREAN = (
    "kr_n", "kr_mean", "kr_best_rows", "kr_best_scores", "kr_country_best", "kr_country_sum", "kr_country_n"
)  # fmt: skip


def _merge(scan: PairScan, part: ChunkResult, parts: dict[str, list]) -> None:
    scan.top = scan.top.merge(part.top, scan.job.config.top)
    scan.hist += part.hist
    scan.n_pairs += part.n_pairs
    scan.model_pairs += part.model_pairs
    for name in _PER_KOREAN:
        parts[name].append(getattr(part, name))
    # Strictly better, or equal from a smaller Korean row: the same winner whatever the chunking.
    better = (part.eu_best > scan.eu_best) | ((part.eu_best == scan.eu_best) & (part.eu_best_kr < scan.eu_best_kr))
    better &= part.eu_best_kr >= 0
    scan.eu_best[better] = part.eu_best[better]
    scan.eu_best_kr[better] = part.eu_best_kr[better]
    scan.country_n += part.kr_country_n.sum(axis=0)
    scan.country_sum += part.kr_country_sum.sum(axis=0)
    scan.country_best = np.fmax(scan.country_best, np.fmax.reduce(part.kr_country_best, axis=0, initial=-np.inf))


def scan_pairs(
    index: RankingIndex,
    ranker: LearnedRanker,
    priority: str,
    kr_rows: np.ndarray,
    eu_rows: np.ndarray,
    *,
    instrument: str | None = None,
    keep_ineligible: bool = False,
    include_known: bool = False,
    kind: str | None = None,
    engine: Engine | None = None,
    config: ScanConfig | None = None,
    progress: ProgressSink = NULL_PROGRESS,
) -> PairScan:
    """Score all ``kr_rows`` x ``eu_rows`` pairs (index rows) for ``priority`` on ``engine``; see the module
    docstring for what is kept. European rows are further filtered per query exactly as the ranker would
    (side, and instrument eligibility unless ``keep_ineligible``)."""
    if not isinstance(ranker, LearnedRanker):
        raise TypeError(f"pair scans need the learned ranker, got {type(ranker).__name__}")
    ranker._check_fitted()
    index.priority_index(priority)  # unknown priorities raise before any work
    index.eligibility(instrument)  # unknown instruments too; and the verdicts are cached before workers fork
    cfg = config or ScanConfig()
    engine = engine or InlineEngine()
    kr_rows = np.unique(np.asarray(kr_rows, dtype=np.int64))  # sorted: results do not depend on input order
    eu_rows = np.unique(np.asarray(eu_rows, dtype=np.int64))
    if len(kr_rows) == 0 or len(eu_rows) == 0:
        raise EmptyScopeError(f"nothing to pair: {len(kr_rows)} Korean and {len(eu_rows)} European organisations")
    codes = index.graph.country_codes[eu_rows]
    uniq, eu_country = np.unique(codes, return_inverse=True)
    job = ScanJob(
        portable_index(index), ranker, priority, instrument, keep_ineligible, include_known, kind, eu_rows,
        eu_country.astype(np.int64), len(uniq), cfg,
    )
    if cfg.two_stage(len(kr_rows) * len(eu_rows)):
        with progress.step("fitting the first stage", 1) as adv:
            job = replace(job, first_stage=fit_first_stage(job, kr_rows), rerank=cfg.rerank_per_korean(len(kr_rows)))
            adv(1)
    n_c = len(uniq)
    scan = PairScan(
        job=job,
        kr_rows=kr_rows,
        top=TopPairs.empty(),
        hist=np.zeros(cfg.bins, dtype=np.int64),
        eu_best=np.full(len(eu_rows), -np.inf),
        eu_best_kr=np.full(len(eu_rows), -1, dtype=np.int64),
        country_n=np.zeros(n_c, dtype=np.int64),
        country_sum=np.zeros(n_c),
        country_best=np.full(n_c, -np.inf),
    )
    size = cfg.chunk_size(len(kr_rows))
    chunks = [kr_rows[i : i + size] for i in range(0, len(kr_rows), size)]
    parts: dict[str, list] = {name: [] for name in _PER_KOREAN}
    title = f"scoring {len(kr_rows):,} x {len(eu_rows):,} pairs on {engine.describe()}"
    with progress.step(title, len(kr_rows)) as adv:
        for part in engine.map(scan_chunk, job, chunks):
            _merge(scan, part, parts)
            adv(len(part.kr_rows))
    for name, arrays in parts.items():
        setattr(scan, name, np.concatenate(arrays))
    scan.country_best = np.where(scan.country_n > 0, scan.country_best, np.nan)
    scan.eu_best = np.where(scan.eu_best_kr >= 0, scan.eu_best, np.nan)
    return scan


def country_labels(index: RankingIndex, scan: PairScan) -> np.ndarray:
    """Country code (ISO-2) of each country column of ``scan``."""
    eu = scan.job.eu_rows
    labels = np.empty(scan.job.n_countries, dtype=object)
    labels[scan.job.eu_country] = index.countries[eu]
    return labels
