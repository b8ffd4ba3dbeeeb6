"""Recommendations with explanations: what the CLI, the API and batch reports ask of the ranker."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, cast

import numpy as np

from recommender.ranking.contract import Explainer, Ranker, check_k
from recommender.ranking.features import FEATURES, LABELS
from recommender.ranking.index import Query, RankingIndex, ResolvedQuery


@dataclass(frozen=True)
class Contribution:
    feature: str
    label: str
    value: float  # score drop when the feature is reset to its typical value (positive = helps)


@dataclass(frozen=True)
class Eligibility:
    instrument: str
    verdict: str  # ELIGIBLE, CONDITIONAL, INELIGIBLE
    reasons: list[str]
    citations: list[str]


@dataclass(frozen=True)
class Recommendation:
    rank: int
    org_id: str
    name: str
    country: str
    region: str
    activity_type: str | None
    score: float
    contributions: list[Contribution] = field(default_factory=list)
    relevant_projects: list[dict] = field(default_factory=list)
    shared_partners: list[dict] = field(default_factory=list)
    prior_joint_projects: int = 0
    eligibility: Eligibility | None = None
    known_partner: bool = False  # worked with the query before (only ranked with include_known)
    joint_projects: list[dict] = field(default_factory=list)  # those past joint projects, newest first
    kind: str = ""  # company, research, university, public, funding
    priority_evidence: dict | None = None  # with a priority: the candidate's own projects in it, declared or not

    def to_dict(self) -> dict:
        """The fields as plain data (what ``dataclasses.asdict`` gives, built directly: asdict deep-copies
        every value and cost more than the ranking's feature pass)."""
        out = {name: getattr(self, name) for name in _RECOMMENDATION_FIELDS}
        out["contributions"] = [{"feature": c.feature, "label": c.label, "value": c.value} for c in self.contributions]
        for name in ("relevant_projects", "shared_partners", "joint_projects"):
            out[name] = [dict(item) for item in out[name]]
        if self.eligibility is not None:
            e = self.eligibility
            out["eligibility"] = {"instrument": e.instrument, "verdict": e.verdict, "reasons": list(e.reasons),
                                  "citations": list(e.citations)}
        if self.priority_evidence is not None:
            evidence = dict(self.priority_evidence)
            evidence["projects"] = [dict(item) for item in evidence.get("projects", [])]
            out["priority_evidence"] = evidence
        return out

    @property
    def eligibility_label(self) -> str:
        return self.eligibility.verdict if self.eligibility else ""


_RECOMMENDATION_FIELDS = tuple(f.name for f in fields(Recommendation))


class Recommender:
    """Ranks with a ranker over an index and explains each result: the pair a request reads together. The
    ranker holds no index, so a new index (a live addition) pairs with the same ranker."""

    def __init__(self, index: RankingIndex, ranker: Ranker) -> None:
        self.index = index
        self.ranker = ranker

    def recommend(self, query: Query, k: int = 10, explain: bool = True) -> list[Recommendation]:
        rq = self.index.resolve(query)
        if explain and isinstance(self.ranker, Explainer):
            check_k(k)
            ids, scores, contrib = self.ranker.rank_explained(self.index, rq, k)
            return self._build(rq, ids, scores, explain, contrib)
        ids, scores = self.ranker.rank(self.index, rq, k)
        return self._build(rq, ids, scores, explain)

    def left_out(self, query: Query) -> dict[str, int]:
        """What the default filters left out for ``query`` (known partners, funding bodies, organisations
        without evidence of the priority), so every output can say so."""
        return self.index.left_out(self.index.resolve(query))

    def recommend_batch(self, queries: list[Query], k: int = 10, explain: bool = False) -> list[list[Recommendation]]:
        resolved = self.index.resolve_many(queries)
        rankings = self.ranker.rank_batch(self.index, resolved, k)
        return [self._build(rq, ids, scores, explain) for rq, (ids, scores) in zip(resolved, rankings, strict=True)]

    # ---------------------------------------------------------------------------------------------------
    def _build(
        self, rq: ResolvedQuery, ids: np.ndarray, scores: np.ndarray, explain: bool, contrib: np.ndarray | None = None
    ) -> list[Recommendation]:
        index = self.index
        rows = np.array([index.row_of[i] for i in ids], dtype=int)
        regions, activity_types = index.column("region"), index.column("activity_type")
        if contrib is None and explain and isinstance(self.ranker, Explainer) and len(rows):
            contrib = self.ranker.contributions(index, rq, rows)
        partners, joint_counts = self._query_partners(rq)
        known = set(index.known_partners(rq).tolist())
        out = []
        for i, (row, score) in enumerate(zip(rows, scores, strict=True)):
            activity = activity_types[row]
            rec = Recommendation(
                rank=i + 1,
                org_id=str(index.ids[row]),
                name=str(index.names[row]),
                country=str(index.countries[row]),
                region=str(regions[row]),
                activity_type=None if _missing(activity) else str(activity),
                score=round(float(score), 6),
                contributions=self._contributions(contrib[i]) if contrib is not None else [],
                relevant_projects=self._relevant_projects(rq, row) if explain else [],
                shared_partners=self._shared_partners(row, partners) if explain else [],
                prior_joint_projects=_joint_count(partners, joint_counts, row),
                eligibility=self._eligibility(rq, row),
                known_partner=row in known,
                joint_projects=self._joint_projects(rq, row) if row in known else [],
                kind=str(index.kinds[row]),
                priority_evidence=self._priority_evidence(rq, row),
            )
            out.append(rec)
        return out

    @staticmethod
    def _contributions(values: np.ndarray, top: int = 3) -> list[Contribution]:
        order = np.argsort(-values, kind="stable")[:top]
        return [
            Contribution(FEATURES[j], LABELS[FEATURES[j]], round(float(values[j]), 4)) for j in order if values[j] > 0
        ]

    def _relevant_projects(self, rq: ResolvedQuery, row: int, top: int = 3) -> list[dict]:
        prof = self.index.profiles
        weights = prof.org_weights
        cols = weights.indices[weights.indptr[row] : weights.indptr[row + 1]]
        if len(cols) == 0 or not rq.has_profile:
            return []
        sims = prof.project_vectors[cols] @ rq.vector
        titles = self.index.project_titles
        best = np.argsort(-sims, kind="stable")[:top]
        return [
            {
                "id": str(prof.project_ids[cols[b]]),
                "title": str(titles.get(prof.project_ids[cols[b]], "")),
                "similarity": round(float(sims[b]), 4),
            }
            for b in best
        ]

    def _priority_evidence(self, rq: ResolvedQuery, row: int, top: int = 3) -> dict | None:
        """Why the candidate counts as capable in the requested priority: its own projects scored in it
        (best first), whether its description shows it, and whether the area is declared."""
        p = self.index.priority_index(rq.query.priority)
        if p is None:
            return None
        index, prof = self.index, self.index.profiles
        weights = prof.org_weights
        cols = weights.indices[weights.indptr[row] : weights.indptr[row + 1]]
        scores = prof.project_scores[cols, p] if len(cols) else np.zeros(0)
        shown = np.flatnonzero(scores >= index.evidence_thresholds[p])
        best = shown[np.argsort(-scores[shown], kind="stable")][:top]
        titles = index.project_titles
        return {
            "priority": prof.taxonomy.ids[p],
            "projects_in_priority": int(index.evidence_projects[row, p]),
            "projects": [
                {
                    "id": str(prof.project_ids[cols[b]]),
                    "title": str(titles.get(prof.project_ids[cols[b]], "")),
                    "score": round(float(scores[b]), 3),
                }
                for b in best
            ],
            "in_own_texts": bool(index.evidence_in_text[row, p]),
            "declared": bool(index.declared[row, p]),
        }

    def _joint_projects(self, rq: ResolvedQuery, row: int, top: int = 5) -> list[dict]:
        """The query's past projects with ``row``, newest first."""
        if rq.row is None:
            return []
        incidence = self.index.graph.incidence
        cols = np.intersect1d(
            incidence.indices[incidence.indptr[rq.row] : incidence.indptr[rq.row + 1]],
            incidence.indices[incidence.indptr[row] : incidence.indptr[row + 1]],
        )
        if len(cols) == 0:
            return []
        ids = self.index.graph_project_ids[cols]
        years = self.index.project_years
        titles = self.index.project_titles
        order = sorted(ids, key=lambda pid: (-years.get(pid, 0), str(pid)))[:top]
        return [{"id": str(pid), "title": str(titles.get(pid, "")), "year": int(years.get(pid, 0))} for pid in order]

    def _query_partners(self, rq: ResolvedQuery) -> tuple[np.ndarray, np.ndarray]:
        """The query organisation's partners in the graph (rows, ascending) and the projects shared with each;
        none for a free text."""
        if rq.row is None:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        adjacency = self.index.graph.adjacency
        entries = slice(adjacency.indptr[rq.row], adjacency.indptr[rq.row + 1])
        order = np.argsort(adjacency.indices[entries], kind="stable")
        return adjacency.indices[entries][order], adjacency.data[entries][order]

    def _shared_partners(self, row: int, partners: np.ndarray, top: int = 5) -> list[dict]:
        """The candidate's partners that are also the query's (``partners``, ascending), most projects first."""
        graph = self.index.graph
        candidate_partners = graph.neighbours(row)
        common = np.sort(candidate_partners[_in_sorted(partners, candidate_partners)])
        common = common[np.argsort(-graph.projects[common], kind="stable")][:top]
        return [
            {"id": str(self.index.ids[c]), "name": str(self.index.names[c]) or f"PIC {self.index.ids[c]}"}
            for c in common
        ]

    def _eligibility(self, rq: ResolvedQuery, row: int) -> Eligibility | None:
        instrument = rq.query.instrument
        if not instrument:
            return None
        verdict = self.index.organisation_verdict(instrument, row)
        if verdict is None:
            return Eligibility(instrument, "INELIGIBLE", ["country unknown"], [])
        return Eligibility(
            instrument,
            str(verdict.verdict),
            [r.reason for r in verdict.results if r.reason],
            sorted({r.citation for r in verdict.results if getattr(r, "citation", None)}),
        )


def _in_sorted(sorted_rows: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Whether each of ``rows`` is in ``sorted_rows`` (ascending): binary searches, no pass over the index."""
    at = np.minimum(np.searchsorted(sorted_rows, rows), max(len(sorted_rows) - 1, 0))
    return sorted_rows[at] == rows if len(sorted_rows) else np.zeros(len(rows), dtype=bool)


def _joint_count(partners: np.ndarray, joint_counts: np.ndarray, row: int) -> int:
    """The projects the query shares with ``row``, from its partners (ascending) and their counts."""
    at = int(np.searchsorted(partners, row))
    return int(joint_counts[at]) if at < len(partners) and partners[at] == row else 0


def _missing(value: object) -> bool:
    try:
        import pandas as pd

        return bool(pd.isna(cast(Any, value)))
    except (TypeError, ValueError):
        return value is None
