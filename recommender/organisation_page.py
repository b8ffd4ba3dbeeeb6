"""What a person reads on an organisation's page, beyond its capability profile: its defence track record,
its known partners and its eligibility under every instrument, each verdict with its rules and citations."""

from __future__ import annotations

from recommender.ranking.index import RankingIndex

KNOWN_PARTNERS_SHOWN = 15


def track_record(index: RankingIndex, row: int) -> dict:
    history = index.history
    graph = index.graph
    record = {"projects": int(graph.projects[row]), "coordinated": int(graph.coordinated[row]),
              "partners": int(graph.degree[row]), "last_year": int(graph.last_year[row]) or None}
    if history is not None:
        record["edf"] = int(history.participations[row, history.family_index("edf")])
        record["security_research"] = int(history.participations[row, history.family_index("security")])
    return record


def known_partners(index: RankingIndex, row: int, top: int = KNOWN_PARTNERS_SHOWN) -> dict:
    """The organisations ``row`` has shared projects with, most shared first (at most ``top``)."""
    neighbours = index.graph.neighbours(row)
    shared = index.graph.shared_projects(row)[neighbours]
    order = sorted(range(len(neighbours)), key=lambda i: (-shared[i], str(index.names[neighbours[i]])))[:top]
    return {"total": len(neighbours), "items": [
        {"id": str(index.ids[neighbours[i]]), "name": str(index.names[neighbours[i]]),
         "country": str(index.countries[neighbours[i]]), "shared_projects": int(shared[i])} for i in order]}


def eligibility_by_instrument(index: RankingIndex, row: int) -> list[dict]:
    """The organisation judged as a funded participant under every instrument of the rulebook."""
    if index.rulebook is None:
        return []
    out = []
    for instrument in index.rulebook.instrument_ids:
        verdict = index.organisation_verdict(instrument, row)
        if verdict is None:
            out.append({"instrument": instrument, "verdict": "INELIGIBLE", "rules": [
                {"rule": "country", "statement": "a known country", "status": "FAIL", "reason": "country unknown",
                 "citation": None, "fix_hint": None}]})
            continue
        out.append({"instrument": instrument, "verdict": str(verdict.verdict), "rules": [
            {"rule": r.rule_id, "statement": r.statement, "status": str(r.status), "reason": r.reason,
             "citation": r.citation, "fix_hint": r.fix_hint} for r in verdict.results]})
    return out


def eligibility_badges(index: RankingIndex, org_ids: list[str]) -> dict[str, list[dict]]:
    """Per organisation, its verdict as a funded participant under every instrument (no reasons: a badge)."""
    if index.rulebook is None:
        return {}
    labels = {instrument: index.eligibility(instrument)[1] for instrument in index.rulebook.instrument_ids}
    rows = {org_id: index.row(org_id) for org_id in org_ids}
    return {org_id: [{"instrument": instrument, "verdict": str(verdicts[row])}
                     for instrument, verdicts in labels.items()] for org_id, row in rows.items()}
