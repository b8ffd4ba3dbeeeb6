"""The top European-Korean pairings for a technology priority, and organisation search over an index."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process
from rapidfuzz import utils as fuzz_utils

from recommender.catalogue.countries import normalise_country
from recommender.catalogue.kinds import kind_mask
from recommender.ranking.index import EUROPE_REGIONS, Query, RankingIndex
from recommender.ranking.service import Recommender

PARTNERS_PER_KOREAN_ORG = 10
PRIORITY_THRESHOLD = 0.5
DEFAULT_SPREAD = 0.2  # in a map, one European organisation is proposed to at most this share of Korean ones


@dataclass(frozen=True)
class Pairing:
    rank: int
    korean_id: str
    korean_name: str
    korean_country: str
    european_id: str
    european_name: str
    european_country: str
    score: float
    eligibility: str | None  # the European partner's verdict under the instrument, when one is given

    def to_dict(self) -> dict:
        return {
            "rank": self.rank,
            "korean": {"id": self.korean_id, "name": self.korean_name, "country": self.korean_country},
            "european": {"id": self.european_id, "name": self.european_name, "country": self.european_country},
            "score": self.score,
            "eligibility": self.eligibility,
        }


def top_pairings(
    recommender: Recommender,
    priority: str,
    instrument: str | None = None,
    k: int = 20,
    per_org: int = PARTNERS_PER_KOREAN_ORG,
    include_known: bool = False,
    kind: str | None = None,
    spread: float = DEFAULT_SPREAD,
) -> list[Pairing]:
    """For each Korean organisation with demonstrated capability in ``priority`` (of the requested kind;
    funding bodies out by default), its ``per_org`` best European partners for ``priority`` (and
    ``instrument``); then the ``k`` best pairs overall, each European organisation proposed to at most a
    ``spread`` share of the Korean organisations (see :func:`spread_pairs`)."""
    index = recommender.index
    p = index.priority_index(priority)  # unknown priorities raise before any ranking
    if instrument:
        index.eligibility(instrument)  # unknown instruments too
    korean_mask = index.side_masks["KR"] & index.has_profile & index.evidence[:, p] & index.kind_allowed(kind)
    korean = index.ids[korean_mask]
    queries = [
        Query(org_id=str(oid), region="EU", priority=priority, instrument=instrument, include_known=include_known,
              kind=kind)
        for oid in korean
    ]
    results = recommender.recommend_batch(queries, k=per_org, explain=False)
    flat = [(r.score, str(q.org_id), r) for q, recs in zip(queries, results, strict=True) for r in recs]
    kr_rows = np.array([index.row_of[kr_id] for _, kr_id, _ in flat], dtype=np.int64)
    eu_rows = np.array([index.row_of[r.org_id] for _, _, r in flat], dtype=np.int64)
    scores = np.array([s for s, _, _ in flat], dtype=np.float64)
    tier = index.evidence_in_text[kr_rows, p].astype(int) + index.evidence_in_text[eu_rows, p].astype(int)
    keep = spread_pairs(
        kr_rows, eu_rows, scores, partner_cap(len(queries), spread), TOP_PER_KOREAN, k, tier, block=TOP_BLOCK
    )
    pairs = [flat[i] for i in keep]
    out = []
    for rank, (score, kr_id, rec) in enumerate(pairs, start=1):
        out.append(
            Pairing(
                rank=rank,
                korean_id=kr_id,
                korean_name=str(index.names[index.row_of[kr_id]]),
                korean_country=str(index.countries[index.row_of[kr_id]]),
                european_id=rec.org_id,
                european_name=rec.name,
                european_country=rec.country,
                score=round(float(score), 6),
                eligibility=rec.eligibility_label or None,
            )
        )
    return out


# ---------------------------------------------------------------------------------------------------------
REGION_FILTERS = ("EU27", "EEA-EFTA", "UA", "KR", "OTHER", "EUROPE")
NAME_MATCH_FLOOR = 80.0  # below this a fuzzy name match is noise ("etri" against every long name)
DESCRIPTION_MATCH = 60.0


@dataclass(frozen=True)
class SearchResult:
    total: int
    rows: np.ndarray  # index rows of the requested page
    priority_scores: np.ndarray | None  # their score in the requested priority


class OrganisationSearch:
    """Filter named organisations by text, country, region, activity type and priority strength.

    Built once per index (it lower-cases every name and description once); ``search`` is vectorised.
    """

    def __init__(self, index: RankingIndex) -> None:
        self.index = index
        self.named, self.haystack, self.region, self.names_folded, self.short_folded = self._columns(
            index.catalogue.organisations)
        self._name_rank: np.ndarray | None = None

    @staticmethod
    def _columns(orgs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str], list[str]]:
        """Per organisation: named or not, lower-cased name + short name + description, region, and the
        folded name and short name the fuzzy match compares."""
        named = orgs["name"].notna().to_numpy()
        text = (
            orgs["name"].fillna("") + "\n" + orgs["short_name"].fillna("") + "\n" + orgs["description"].fillna("")
        )
        haystack = text.str.lower().to_numpy(dtype=object)
        region = orgs["region"].fillna("OTHER").to_numpy(dtype=object)
        names_folded = [fuzz_utils.default_process(n) for n in orgs["name"].fillna("")]
        short_folded = [fuzz_utils.default_process(n) for n in orgs["short_name"].fillna("")]
        return named, haystack, region, names_folded, short_folded

    def with_index(self, index: RankingIndex, rows: np.ndarray) -> OrganisationSearch:
        """The search over ``index``, which is this one's index with ``rows`` changed or appended: only those
        rows are read again (a live addition must not lower-case and fold every name again)."""
        rows = np.asarray(rows, dtype=np.int64)
        n = len(index.ids)
        named, haystack, region, names, shorts = self._columns(index.catalogue.organisations.iloc[rows])

        def patched(old: np.ndarray, fill: object, values: np.ndarray) -> np.ndarray:
            out = np.concatenate([old, np.full(n - len(old), fill, dtype=old.dtype)])
            out[rows] = values
            return out

        new = object.__new__(OrganisationSearch)
        new.index = index
        new.named = patched(self.named, False, named)
        new.haystack = patched(self.haystack, "", haystack)
        new.region = patched(self.region, "OTHER", region)
        new.names_folded = self.names_folded + [""] * (n - len(self.names_folded))
        new.short_folded = self.short_folded + [""] * (n - len(self.short_folded))
        for row, name, short in zip(rows.tolist(), names, shorts, strict=True):
            new.names_folded[row], new.short_folded[row] = name, short
        new._name_rank = None
        return new

    @property
    def name_rank(self) -> np.ndarray:
        """Each row's place in name order (lower-cased name, then row): built on first use."""
        if self._name_rank is None:
            orgs = self.index.catalogue.organisations
            by_name = np.lexsort((np.arange(len(orgs)), orgs["name"].fillna("").str.lower().to_numpy(dtype=str)))
            rank = np.empty(len(orgs), dtype=np.int64)
            rank[by_name] = np.arange(len(orgs))
            self._name_rank = rank
        return self._name_rank

    def relevance(self, text: str) -> np.ndarray:
        """How well each organisation's name answers ``text``, 0-110, tolerant of case, punctuation, typos
        and acronyms: the best of a weighted fuzzy ratio on the name and a plain ratio on the short name, +10
        for an exact name or acronym, +5 for a name that starts with it; a description that contains the text
        counts as 60 (below any good name match). 0 for no match."""
        query = fuzz_utils.default_process(text)
        if not query:
            return np.zeros(len(self.names_folded), dtype=np.float32)
        name = process.cdist([query], self.names_folded, scorer=fuzz.WRatio, dtype=np.float32, workers=1)[0]
        short = process.cdist([query], self.short_folded, scorer=fuzz.ratio, dtype=np.float32, workers=1)[0]
        score = np.maximum(name, short)
        score[score < NAME_MATCH_FLOOR] = 0.0
        exact = (np.asarray(self.names_folded, dtype=object) == query) | (np.asarray(self.short_folded, dtype=object)
                                                                           == query)
        starts = np.fromiter((n.startswith(query) for n in self.names_folded), bool, len(self.names_folded))
        score += np.where(exact, 10.0, np.where(starts, 5.0, 0.0)).astype(np.float32) * (score > 0)
        in_text = pd.Series(self.haystack).str.contains(text.strip().lower(), regex=False).to_numpy()
        return np.where((score == 0) & in_text, DESCRIPTION_MATCH, score).astype(np.float32)

    def search(
        self,
        text: str | None = None,
        country: str | None = None,
        region: str | None = None,
        activity_type: str | None = None,
        priority: str | None = None,
        limit: int = 20,
        offset: int = 0,
        kind: str | None = None,
        edf_experience: bool = False,
    ) -> SearchResult:
        """A page of matching rows: by name relevance when there is a text (ties: more projects first), else by
        priority score (descending) when a priority is given, else by name. ``kind`` keeps one kind (every kind,
        funders included, when None: a search by name should find a funder); ``edf_experience`` keeps only
        organisations with at least one European Defence Fund participation."""
        index = self.index
        mask = self.named.copy()
        relevance = None
        if text and text.strip():
            relevance = self.relevance(text)
            mask &= relevance > 0
        if country:
            mask &= index.countries == normalise_country(country)
        if region:
            allowed = EUROPE_REGIONS if region == "EUROPE" else {region}
            mask &= np.isin(self.region, list(allowed))
        if activity_type:
            mask &= index.activity == activity_type.upper()
        if kind is not None:
            mask &= kind_mask(index.kinds, kind)
        if edf_experience:
            history = index.history
            assert history is not None
            mask &= history.participations[:, history.family_index("edf")] > 0
        rows = np.flatnonzero(mask)
        scores = None
        if priority is not None:
            p = index.priority_index(priority)
            column = index.scores[rows, p]
            keep = column >= PRIORITY_THRESHOLD
            rows, column = rows[keep], column[keep]
            order = np.lexsort((rows, -column))
            rows, scores = rows[order], column[order]
        if relevance is not None:
            order = np.lexsort((self.name_rank[rows], -index.experience[rows], -np.round(relevance[rows], 1)))
            rows = rows[order]
            scores = None if scores is None else scores[order]
        elif priority is None:
            rows = rows[np.argsort(self.name_rank[rows], kind="stable")]
        page = slice(offset, offset + limit)
        return SearchResult(len(rows), rows[page], None if scores is None else scores[page])


# ---------------------------------------------------------------------------------------------------------
def partner_cap(n_korean: int, share: float) -> int:
    """How many Korean organisations one European organisation may be proposed to in a map: at most
    ``share`` of them (never fewer than one)."""
    return max(1, int(np.floor(share * n_korean + 1e-9)))


TOP_BLOCK = 50
TOP_PER_KOREAN = 5


def spread_pairs(
    kr: np.ndarray,
    eu: np.ndarray,
    score: np.ndarray,
    cap: int,
    per_korean: int | None = None,
    limit: int | None = None,
    tier: np.ndarray | None = None,
    block: int | None = None,
) -> np.ndarray:
    """Positions of the pairs a partnership map shows: higher ``tier`` first (when given: how many sides show
    the priority in their own texts), then best score (ties: Korean row, then European row), each European
    organisation at most ``cap`` times and each Korean one at most ``per_korean`` times.

    With ``block``, the Korean limit holds within each block of ``block`` consecutive pairs (ranks 1-50,
    51-100, ...) and yields when too few Korean organisations are left to fill a block; so any top 50
    names at least ten Korean organisations when ten have pairs to show.

    One European hub cannot co-develop with every Korean organisation, and a map that hands the same three
    research giants to everybody tells its reader nothing; the scores themselves are left as they are."""
    order = np.lexsort((eu, kr, -score, -(tier if tier is not None else np.zeros(len(score)))))
    position = np.empty(len(order), dtype=np.int64)
    position[order] = np.arange(len(order))
    used_eu: dict[int, int] = {}
    keep: list[int] = []
    remaining = [int(i) for i in order]
    while remaining and (limit is None or len(keep) < limit):
        room = (limit - len(keep)) if limit is not None else len(remaining)
        if block is not None:
            room = min(room, block)
        used_kr: dict[int, int] = {}
        taken: list[int] = []
        held: list[int] = []
        rest: list[int] = []
        for n, i in enumerate(remaining):
            if len(taken) >= room:
                rest = remaining[n:]
                break
            e, k = int(eu[i]), int(kr[i])
            if used_eu.get(e, 0) >= cap:
                continue  # the European cap holds over the whole map: this pair can never be shown
            if per_korean is not None and used_kr.get(k, 0) >= per_korean:
                held.append(i)
                continue
            used_eu[e] = used_eu.get(e, 0) + 1
            used_kr[k] = used_kr.get(k, 0) + 1
            taken.append(i)
        if block is None:
            keep.extend(taken)
            break
        unused: list[int] = []
        for i in held:
            e = int(eu[i])
            if len(taken) < room and used_eu.get(e, 0) < cap:
                used_eu[e] = used_eu.get(e, 0) + 1
                taken.append(i)
            else:
                unused.append(i)
        if not taken:
            break
        keep.extend(sorted(taken, key=lambda i: position[i]))
        remaining = sorted(unused + rest, key=lambda i: position[i])
    return np.asarray(keep, dtype=np.int64)


PAIRING_SORTS = {
    "score": lambda p: (-p["score"], p["rank"]),
    "korean": lambda p: (p["korean"]["name"].lower(), -p["score"]),
    "european": lambda p: (p["european"]["name"].lower(), -p["score"]),
    "country": lambda p: (p["european"]["country"], -p["score"]),
}


def sorted_pairings(pairs: list[dict], sort: str) -> list[dict]:
    """Pairings (as dicts) ordered by one of PAIRING_SORTS; an unknown key raises InvalidQueryError."""
    from recommender.ranking.index import InvalidQueryError

    if sort not in PAIRING_SORTS:
        raise InvalidQueryError(f"sort must be one of {', '.join(PAIRING_SORTS)}, got {sort!r}")
    return sorted(pairs, key=PAIRING_SORTS[sort])


def pairing_heatmap(pairs: list[dict]) -> dict:
    """Best pairing score per (Korean organisation, European country): rows, columns and cells (None: no pair)."""
    koreans = sorted({(p["korean"]["id"], p["korean"]["name"]) for p in pairs}, key=lambda k: k[1].lower())
    countries = sorted({p["european"]["country"] for p in pairs})
    best: dict[tuple[str, str], float] = {}
    for p in pairs:
        key = (p["korean"]["id"], p["european"]["country"])
        best[key] = max(best.get(key, 0.0), float(p["score"]))
    return {"countries": countries,
            "rows": [{"id": kid, "name": name, "cells": [best.get((kid, c)) for c in countries]}
                     for kid, name in koreans]}
