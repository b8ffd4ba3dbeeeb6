"""Consortium proposals (recommender/ranking/consortium.py): the greedy algorithm on hand-made inputs with
known answers, then end to end on the synthetic world with the real rulebook."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from recommender.errors import UnknownInstrumentError, UnknownOrganisationError
from recommender.ranking.consortium import complete_members, greedy_consortium, propose_consortium
from recommender.rules import evaluate_consortium


@dataclass
class FakeVerdict:
    failed: tuple = ()
    conditional: tuple = ()


def rule_needing(countries_min: int = 0, kr_min: int = 0):
    """A stub rules engine: one failed rule per unmet requirement."""

    def evaluate(members):
        failed = []
        if len({m["country"] for m in members}) < countries_min:
            failed.append("countries")
        if sum(m["country"] == "KR" for m in members) < kr_min:
            failed.append("korean")
        return FakeVerdict(tuple(failed))

    return evaluate


def no_pairs(n):
    return lambda i: np.zeros(n)


LEAD = {"id": "lead", "country": "FR"}


def pool_of(*countries):
    return [{"id": f"c{i}", "country": c} for i, c in enumerate(countries)]


def test_without_rules_the_best_scores_win():
    pool = pool_of("FR", "FR", "DE")
    sel = greedy_consortium(LEAD, pool, np.array([0.9, 0.8, 0.1]), no_pairs(3), rule_needing(), size=3)
    assert sel.chosen == [0, 1]
    assert sel.total_score == pytest.approx(1.7)


def test_new_countries_are_preferred_while_a_composition_rule_fails():
    pool = pool_of("DE", "FR", "FR", "IT")
    sel = greedy_consortium(LEAD, pool, np.array([0.9, 0.95, 0.93, 0.5]), no_pairs(4), rule_needing(3), size=3)
    assert sel.chosen == [0, 3]  # DE (a new country, best such score), then IT (meets the rule)
    assert not sel.verdict.failed
    assert "new country" in sel.reasons[0] and "meets 1 more rule" in sel.reasons[1]


def test_pair_scores_between_members_break_lead_score_ties():
    pool = pool_of("FR", "FR", "FR")
    pairs = {0: np.array([0.0, 0.1, 0.9]), 1: np.array([0.1, 0.0, 0.0]), 2: np.array([0.9, 0.0, 0.0])}
    sel = greedy_consortium(LEAD, pool, np.array([0.9, 0.5, 0.5]), pairs.__getitem__, rule_needing(), size=3)
    assert sel.chosen == [0, 2]
    assert sel.total_score == pytest.approx(0.9 + 0.5 + 0.9)


def test_repair_swaps_in_what_greedy_order_could_not_foresee():
    pool = pool_of("DE", "FR", "KR", "KR")
    sel = greedy_consortium(LEAD, pool, np.array([0.9, 0.8, 0.3, 0.2]), no_pairs(4), rule_needing(kr_min=2), size=3)
    assert sorted(sel.chosen) == [2, 3] and not sel.verdict.failed
    assert any("swapped in" in r for r in sel.reasons)


def test_sizes_at_the_edges():
    pool = pool_of("DE", "IT")
    assert greedy_consortium(LEAD, pool, np.array([0.5, 0.4]), no_pairs(2), rule_needing(), size=1).chosen == []
    assert greedy_consortium(LEAD, pool, np.array([0.5, 0.4]), no_pairs(2), rule_needing(), size=9).chosen == [0, 1]
    with pytest.raises(ValueError):
        greedy_consortium(LEAD, pool, np.array([0.5, 0.4]), no_pairs(2), rule_needing(), size=0)


def test_partner_scores_are_computed_lazily_and_once():
    calls = []

    def pairs(i):
        calls.append(i)
        return np.zeros(5)

    sel = greedy_consortium(LEAD, pool_of(*"ABCDE"), np.linspace(1, 0.5, 5), pairs, rule_needing(), size=3)
    assert len(calls) == len(set(calls))
    assert set(calls) <= set(sel.chosen)  # only members' scores are needed, not every candidate's


# ---- end to end on the synthetic world -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def recommender(tmp_path_factory):
    from tests.api_support import synthetic_corridor, train_model

    root = tmp_path_factory.mktemp("model")
    return synthetic_corridor(train_model(root / "m"), f"sqlite:///{root / 'corridor.db'}").serving.recommender


def test_edf_consortium_meets_the_composition_rules(recommender):
    book = recommender.index.rulebook
    proposal = propose_consortium(recommender, book, "drones-eu-0", "edf-research", size=4, priority="unmanned")
    out = proposal.to_dict()
    members = out["members"]
    assert len(members) == 4 and members[0]["org_id"] == "drones-eu-0" and members[0]["role"] == "coordinator"
    assert len({m["org_id"] for m in members}) == 4
    assert out["verdict"]["verdict"] in ("ELIGIBLE", "CONDITIONAL") and not out["rules_failed"]
    assert {"edf-min-entities", "edf-min-countries"} <= set(out["rules_met"])
    assert len({m["country"] for m in members}) >= 3
    # the verdict is the rules engine's own on the proposed members
    again = evaluate_consortium(book, {"instrument": "edf-research", "members": [
        {"id": m["org_id"], "country": m["country"]} for m in members]})
    assert str(again.verdict) == out["verdict"]["verdict"]


def test_unknown_lead_or_instrument(recommender):
    book = recommender.index.rulebook
    with pytest.raises(UnknownOrganisationError):
        propose_consortium(recommender, book, "nope", "edf-research")
    with pytest.raises(UnknownInstrumentError):
        propose_consortium(recommender, book, "drones-eu-0", "nope")


def test_complete_members_fills_ids_from_the_catalogue(recommender):
    data = complete_members(recommender.index, {
        "instrument": "edf-research",
        "members": [
            {"id": "kr-cold-drones"}, {"id": "drones-eu-0", "role": "coordinator"}, {"name": "X", "country": "DE"}
        ],
    })
    first, second, third = data["members"]
    assert first["country"] == "KR" and first["control_country"] == "KR" and first["name"] == "Cold Drones"
    assert second["role"] == "coordinator" and second["country"]
    assert third == {"name": "X", "country": "DE"}
    with pytest.raises(UnknownOrganisationError):
        complete_members(recommender.index, {"instrument": "edf-research", "members": [{"id": "nope"}]})
