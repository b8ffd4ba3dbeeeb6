"""Propose a consortium around a lead organisation: satisfy the instrument's rules, maximise pair scores.

Greedy with a repair pass, over a pool of candidates (the lead's ranked partners under the instrument):

1. start with the lead; while the consortium is smaller than ``size``, add the candidate that, in order,
   leaves the fewest failed rules, adds the fewest conditional ones, brings a country the consortium lacks
   (while some rule still fails: most composition rules ask for entities from more countries), and has the
   largest sum of pair scores with the current members;
2. repair: while rules still fail, swap a non-lead member for a pool candidate if that lowers the number of
   failed rules (the best such swap by total pair score), so a rule that greedy order could not see coming
   (e.g. "at least one Korean partner") still gets met when the pool allows it.

A pair score is the ranker's score of one organisation as the other's partner, averaged over both
directions when both are known (a member's scores of the pool are computed when it joins, a candidate's
only once it is a member, so a proposal costs a few partner scorings, not one per candidate); the lead's view
of each candidate is its rank score.
:func:`greedy_consortium` is the algorithm on plain inputs; :func:`propose_consortium` feeds it from a
recommender and the rulebook. Members given only by id in a consortium description are completed from the
catalogue by :func:`complete_members`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from recommender.errors import ConsortiumFormatError
from recommender.ranking.index import Query, RankingIndex
from recommender.ranking.service import Recommender
from recommender.rules import ConsortiumVerdict, RuleBook, Status, evaluate_consortium

MAX_SWAP_ROUNDS = 5


@dataclass(frozen=True)
class Selection:
    """The pool indices chosen (in order of addition), why each was chosen, and the final verdict."""

    chosen: list[int]
    reasons: list[str]
    verdict: ConsortiumVerdict
    total_score: float


def _counts(verdict: ConsortiumVerdict) -> tuple[int, int]:
    return len(verdict.failed), len(verdict.conditional)


def greedy_consortium(
    lead: dict,
    pool: list[dict],
    lead_scores: np.ndarray,
    partner_scores: Callable[[int], np.ndarray],
    evaluate: Callable[[list[dict]], ConsortiumVerdict],
    size: int,
) -> Selection:
    """Choose ``size - 1`` members from ``pool`` (member records in the consortium format) to join ``lead``.

    ``lead_scores[i]`` is candidate i's score as the lead's partner; ``partner_scores(i)`` gives the scores
    of every pool candidate as partners of candidate i (called lazily, at most once per candidate);
    ``evaluate(members)`` is the rules engine's verdict of a member list (lead first).
    """
    if size < 1:
        raise ValueError(f"size must be at least 1, got {size}")
    n = len(pool)
    lead_scores = np.asarray(lead_scores, dtype=np.float64)
    rows: dict[int, np.ndarray] = {}

    def row(i: int) -> np.ndarray:
        if i not in rows:
            rows[i] = np.asarray(partner_scores(i), dtype=np.float64)
        return rows[i]

    def pair(a: int, b: int) -> float:
        """``b`` as ``a``'s partner (``a`` a member: its row is computed), averaged with ``a`` as ``b``'s
        partner when ``b``'s row is known already; a candidate's own row is computed only once it joins."""
        there = row(a)[b]
        return float(0.5 * (there + rows[b][a])) if b in rows else float(there)

    def gain(members: list[int], c: int) -> float:
        return float(lead_scores[c] + sum(pair(m, c) for m in members))

    def total(members: list[int]) -> float:
        return float(
            sum(lead_scores[m] for m in members)
            + sum(pair(a, b) for k, a in enumerate(members) for b in members[k + 1 :])
        )

    def records(members: list[int]) -> list[dict]:
        return [lead, *(pool[m] for m in members)]

    chosen: list[int] = []
    reasons: list[str] = []
    verdict = evaluate(records(chosen))
    while len(chosen) + 1 < size and len(chosen) < n:
        failed_now, _ = _counts(verdict)
        countries = {lead.get("country")} | {pool[m].get("country") for m in chosen}
        best_key: tuple | None = None
        best, best_verdict = -1, verdict
        for c in range(n):
            if c in chosen:
                continue
            v = evaluate(records([*chosen, c]))
            failed, conditional = _counts(v)
            new_country = failed_now > 0 and pool[c].get("country") not in countries
            key = (-failed, -conditional, new_country, gain(chosen, c), -c)
            if best_key is None or key > best_key:
                best_key, best, best_verdict = key, c, v
        failed_after = _counts(best_verdict)[0]
        if failed_after < failed_now:
            reasons.append(f"meets {failed_now - failed_after} more rule(s) of the instrument")
        elif best_key is not None and best_key[2]:
            reasons.append(f"brings a new country ({pool[best].get('country')}) toward the composition rules")
        else:
            reasons.append("highest pair scores with the members so far")
        chosen.append(best)
        verdict = best_verdict

    for _ in range(MAX_SWAP_ROUNDS):
        failed_now, conditional_now = _counts(verdict)
        if failed_now == 0:
            break
        best_swap = None
        for k in range(len(chosen)):
            for c in range(n):
                if c in chosen:
                    continue
                trial = [*chosen[:k], c, *chosen[k + 1 :]]
                v = evaluate(records(trial))
                failed, conditional = _counts(v)
                if failed < failed_now:
                    swap_key = (-failed, -conditional, total(trial), -c)
                    if best_swap is None or swap_key > best_swap[0]:
                        best_swap = (swap_key, k, c, v)
        if best_swap is None:
            break
        _, k, c, v = best_swap
        fixed = failed_now - _counts(v)[0]
        chosen[k] = c
        reasons[k] = f"swapped in to meet {fixed} more rule(s) of the instrument"
        verdict = v
    return Selection(chosen, reasons, verdict, total(chosen))


# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProposedMember:
    org_id: str
    name: str
    country: str
    activity_type: str | None
    role: str
    lead_score: float | None  # the ranker's score as the lead's partner (None for the lead itself)
    reason: str


@dataclass(frozen=True)
class ConsortiumProposal:
    lead: str
    instrument: str
    priority: str | None
    size: int
    pool_size: int
    members: list[ProposedMember]
    verdict: ConsortiumVerdict
    total_score: float
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        results = self.verdict.results
        return {
            "lead": self.lead,
            "instrument": self.instrument,
            "priority": self.priority,
            "size": self.size,
            "pool_size": self.pool_size,
            "members": [vars(m) for m in self.members],
            "total_score": round(self.total_score, 6),
            "verdict": self.verdict.to_dict(),
            "rules_met": [r.rule_id for r in results if r.status is Status.PASSED],
            "rules_conditional": [r.rule_id for r in results if r.status is Status.CONDITIONAL],
            "rules_failed": [r.rule_id for r in results if r.status is Status.FAILED],
            "notes": list(self.notes),
        }


def member_from_index(index: RankingIndex, org_id: str, role: str | None = None) -> dict:
    """A consortium member record (rules-engine format) for a catalogue organisation."""
    org = index.catalogue.organisations.iloc[index.row(org_id)]
    record: dict = {"id": org_id, "country": None if pd.isna(org["country"]) else str(org["country"])}
    for key in ("name", "control_country", "activity_type"):
        if not pd.isna(org[key]):
            record[key] = str(org[key])
    if not pd.isna(org["sme"]):
        record["sme"] = bool(org["sme"])
    if role:
        record["role"] = role
    return record


def needs_completion(consortium: object) -> bool:
    """Whether some member is given by ``id`` alone (without a country), to be completed from the catalogue."""
    members = consortium.get("members") if isinstance(consortium, Mapping) else None
    return isinstance(members, list) and any(
        isinstance(m, Mapping) and m.get("id") is not None and m.get("country") is None for m in members
    )


def complete_members(index: RankingIndex, consortium: Mapping) -> dict:
    """The consortium description with members given by ``id`` alone completed from the catalogue.

    A member with an id but no country takes the catalogue's country, name, control country, activity type
    and SME flag; fields the caller gave always win. Members with a country are left as they are.
    """
    if not isinstance(consortium, Mapping):
        raise ConsortiumFormatError("consortium: must be a JSON object")
    members = consortium.get("members")
    if not isinstance(members, list):
        return dict(consortium)
    completed = []
    for m in members:
        if isinstance(m, Mapping) and m.get("id") is not None and m.get("country") is None:
            known = member_from_index(index, str(m["id"]))
            completed.append({**known, **{k: v for k, v in m.items() if v is not None}})
        else:
            completed.append(m)
    return {**consortium, "members": completed}


def propose_consortium(
    recommender: Recommender,
    rulebook: RuleBook,
    lead_id: str,
    instrument: str,
    size: int = 4,
    priority: str | None = None,
    region: str = "ANY",
    pool_size: int = 40,
) -> ConsortiumProposal:
    """A consortium of ``size`` around ``lead_id`` for ``instrument`` (see the module docstring)."""
    index = recommender.index
    rulebook.instrument(instrument)  # unknown instruments raise with the known list
    lead_row = index.row(lead_id)
    recs = recommender.recommend(
        Query(org_id=lead_id, region=region, instrument=instrument, priority=priority, include_known=True),
        k=pool_size,
        explain=False,
    )
    pool_ids = [r.org_id for r in recs]
    pool_rows = np.array([index.row_of[i] for i in pool_ids], dtype=int)
    lead_scores = np.array([r.score for r in recs])
    ranker = recommender.ranker

    def partner_scores(i: int) -> np.ndarray:
        rq = index.resolve(Query(org_id=pool_ids[i], instrument=instrument, priority=priority, include_known=True))
        return ranker.score(index, rq, pool_rows)

    def evaluate(members: list[dict]) -> ConsortiumVerdict:
        return evaluate_consortium(rulebook, {"instrument": instrument, "members": members})

    lead = member_from_index(index, lead_id, role="coordinator")
    pool = [member_from_index(index, i, role="participant") for i in pool_ids]
    selection = greedy_consortium(lead, pool, lead_scores, partner_scores, evaluate, size)
    members = [
        ProposedMember(
            lead_id, str(index.names[lead_row]), str(index.countries[lead_row]),
            _text(index.activity[lead_row]), "coordinator", None, "lead organisation",
        )
    ]
    for i, reason in zip(selection.chosen, selection.reasons, strict=True):
        row = pool_rows[i]
        members.append(
            ProposedMember(
                pool_ids[i], str(index.names[row]), str(index.countries[row]), _text(index.activity[row]),
                "participant", round(float(lead_scores[i]), 6), reason,
            )
        )
    notes = []
    if len(members) < size:
        notes.append(f"only {len(members) - 1} candidate partner(s) found under {instrument}; consortium is smaller")
    if selection.verdict.failed:
        notes.append("no consortium from the candidate pool meets every rule; see rules_failed and their fix hints")
    return ConsortiumProposal(
        lead_id, instrument, priority, size, len(pool_ids), members, selection.verdict, selection.total_score, notes
    )


def _text(value: object) -> str | None:
    return str(value) if value else None
