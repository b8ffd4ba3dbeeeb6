"""Consortium-level checks on both sides of every threshold, the JSON format and the verdict JSON."""

from __future__ import annotations

import json

import pytest

from recommender.errors import ConsortiumFormatError, UnknownInstrumentError
from recommender.rules import (
    Component,
    Consortium,
    Organisation,
    Status,
    Verdict,
    evaluate_consortium,
    parse_consortium,
)
from tests.rules_support import consortium, shipped_rulebook

P, C, F = Status.PASSED, Status.CONDITIONAL, Status.FAILED


def status_of(c: Consortium, rule_id: str) -> Status:
    return evaluate_consortium(shipped_rulebook(), c).result(rule_id).status


def grouped(country: str, id: str, group: str | None) -> Organisation:
    return Organisation(country=country, id=id, control_group=group)


def g(*specs: str) -> tuple[Organisation, ...]:
    """Members from 'FR:g1'-style specs (country, optional control group), ids a, b, c, ..."""
    out = []
    for i, spec in enumerate(specs):
        country, _, group = spec.partition(":")
        out.append(grouped(country, "abcdefgh"[i], group or None))
    return tuple(out)


# (instrument, members, rule id, expected status): each threshold from both sides
THRESHOLDS = [
    # EDF: at least 3 eligible entities
    ("edf-research", ("FR", "DE"), "edf-min-entities", F),
    ("edf-research", ("FR", "DE", "IT"), "edf-min-entities", P),
    # EDF: at least 3 distinct Member States / associated countries (NO and UA count)
    ("edf-research", ("FR", "FR", "DE"), "edf-min-countries", F),
    ("edf-research", ("FR", "DE", "IT"), "edf-min-countries", P),
    ("edf-development", ("FR", "DE", "NO"), "edf-min-countries", P),
    ("edf-development", ("FR", "DE", "UA"), "edf-min-countries", P),
    ("edf-research", ("FR", "DE", Organisation(country="KR", id="k", role="associatedPartner")),
     "edf-min-countries", F),
    # EDF: at least 3 independent entities in at least 2 countries
    ("edf-research", g("FR:g1", "DE:g1", "IT"), "edf-independence", F),
    ("edf-research", g("FR:g1", "DE:g2", "IT"), "edf-independence", P),
    ("edf-research", g("FR", "FR", "FR"), "edf-independence", F),
    ("edf-research", g("FR", "FR", "DE"), "edf-independence", P),
    # independence needs one representative per group covering 2 countries (matching, not a naive count)
    ("edf-research", g("FR:g", "DE:g", "FR", "FR"), "edf-independence", P),
    # EDIP industrial consortium: 3 entities, 2 Member States (NO does not count as a Member State), 15 max
    ("edip", ("FR", "DE"), "edip-min-entities", F),
    ("edip", ("FR", "DE", "IT"), "edip-min-entities", P),
    ("edip", ("FR", "NO", "NO"), "edip-min-member-states", F),
    ("edip", ("FR", "DE", "NO"), "edip-min-member-states", P),
    ("edip", ("FR",) * 15, "edip-max-entities", P),
    ("edip", ("FR",) * 16, "edip-max-entities", F),
    ("edip", g("FR:g", "DE:g", "IT"), "edip-independence", F),
    # Horizon Europe: 3 independent entities in 3 different MS/AC, at least one in a Member State
    ("horizon-europe", ("FR", "DE", "IT"), "he-consortium", P),
    ("horizon-europe", ("FR", "FR", "IT"), "he-consortium", F),
    ("horizon-europe", ("FR", "KR", "NO"), "he-consortium", P),  # KR counts as an associated country ...
    ("horizon-europe", ("FR", "KR", "NO"), "he-member-state", P),
    ("horizon-europe", ("KR", "NO", "GB"), "he-consortium", P),
    ("horizon-europe", ("KR", "NO", "GB"), "he-member-state", F),  # ... but is not the Member State entity
    ("horizon-europe", ("FR", "KR", "US"), "he-consortium", F),  # US takes part without funding: not counted
    # KIAT: at least one Korean entity
    ("kiat", ("FR", "DE"), "kiat-korean-lead", F),
    ("kiat", ("KR", "DE"), "kiat-korean-lead", P),
]


@pytest.mark.parametrize(("instrument", "items", "rule_id", "expected"), THRESHOLDS)
def test_thresholds(instrument, items, rule_id, expected):
    c = consortium(instrument, *items)
    result = evaluate_consortium(shipped_rulebook(), c).result(rule_id)
    assert result.status is expected, result.reason
    assert result.reason
    if expected is F:
        assert result.fix_hint, f"{rule_id} failed without a fix hint"


def test_missing_member_state_hint():
    result = evaluate_consortium(shipped_rulebook(), consortium("horizon-europe", "KR", "NO", "GB"))
    assert result.verdict is Verdict.INELIGIBLE
    assert "Member State" in result.result("he-member-state").fix_hint


def test_failing_country_rule_suggests_a_third_country():
    result = evaluate_consortium(shipped_rulebook(), consortium("edf-research", "FR", "DE"))
    hint = result.result("edf-min-countries").fix_hint
    assert hint == "add an eligible entity from 1 more country in EU27 + EDF-ASSOCIATED"


# ---------------------------------------------------------------------------------- component origin


def with_components(instrument: str, parts: list[tuple[str, float]], **kw) -> Consortium:
    return consortium(
        instrument, "FR", "DE", "IT", components=tuple(Component(o, c) for o, c in parts), **kw
    )


@pytest.mark.parametrize(
    ("instrument", "parts", "expected"),
    [
        ("edip", [("FR", 65.0), ("US", 35.0)], P),  # exactly 35%
        ("edip", [("FR", 64.99), ("US", 35.01)], F),  # just over
        ("safe", [("FR", 65.0), ("KR", 35.0)], P),
        ("safe", [("FR", 64.0), ("KR", 36.0)], F),  # Korean content counts outside until an agreement exists
        ("safe", [("FR", 10.0), ("UA", 50.0), ("NO", 40.0)], P),  # UA and EEA-EFTA count inside for SAFE
        ("edip", [("FR", 60.0), ("UA", 40.0)], F),  # ... but UA is outside for EDIP
        ("edip", [("FR", 60.0), ("NO", 40.0)], P),
        ("edip", [("FR", 0.1), ("EL", 0.2), ("US", 0.15)], P),  # 0.15 / 0.45 = 33.3%
        ("edip", [("FR", 1.0), ("CN", 1.0), ("US", 1.0)], F),
        ("edip", [("FR", 0.35 * 3), ("US", 0.35 * 3 * 35 / 65)], P),  # float rounding near the limit
    ],
)
def test_component_origin_share(instrument, parts, expected):
    rule_id = f"{instrument}-component-origin"
    assert status_of(with_components(instrument, parts), rule_id) is expected


def test_no_bill_of_components_is_conditional():
    c = consortium("edip", "FR", "DE", "IT")
    result = evaluate_consortium(shipped_rulebook(), c).result("edip-component-origin")
    assert result.status is C and "no bill of components" in result.reason
    zero = with_components("edip", [("US", 0.0)])
    assert status_of(zero, "edip-component-origin") is C


# ---------------------------------------------------------------------------------- design authority


@pytest.mark.parametrize(
    ("category", "declared", "expected"),
    [
        ("air-missile-defence", True, P),
        ("air-missile-defence", None, C),
        ("air-missile-defence", False, F),
        ("drones-class-2-3", None, C),
        ("ai", False, F),
        ("ammunition-missiles", None, P),  # category 1: not required by SAFE
        ("small-drones", False, P),
        (None, None, C),  # category unknown: cannot tell
        (None, True, P),
    ],
)
def test_safe_design_authority(category, declared, expected):
    c = consortium("safe", "FR", "DE", product_category=category, design_authority=declared)
    assert status_of(c, "safe-design-authority") is expected


def test_edip_design_authority_applies_to_every_product():
    assert status_of(consortium("edip", "FR", "DE", "IT", product_category="ammunition-missiles"),
                     "edip-design-authority") is C
    assert status_of(consortium("edip", "FR", "DE", "IT", design_authority=False), "edip-design-authority") is F
    assert status_of(consortium("edip", "FR", "DE", "IT", design_authority=True), "edip-design-authority") is P


# ----------------------------------------------------------------------------- member-driven verdicts


def test_korean_recipient_makes_edf_consortium_ineligible_with_hint():
    c = consortium("edf-research", "FR", "DE", "IT", Organisation(country="KR", id="kr", role="participant"))
    verdict = evaluate_consortium(shipped_rulebook(), c)
    assert verdict.verdict is Verdict.INELIGIBLE
    result = verdict.result("edf-establishment")
    assert result.status is F and result.reason.startswith("kr: established in KR")
    assert "associated partner" in result.fix_hint


def test_korean_cooperation_partner_makes_edf_consortium_conditional():
    c = consortium("edf-research", "FR", "DE", "IT", Organisation(country="KR", id="kr", role="associatedPartner"))
    verdict = evaluate_consortium(shipped_rulebook(), c)
    assert verdict.verdict is Verdict.CONDITIONAL
    assert verdict.result("edf-establishment").status is C
    assert verdict.result("edf-min-entities").status is P  # the three EU members suffice


def test_korean_controlled_subsidiary_needed_for_minimum_is_conditional_under_art_9_4():
    sub = Organisation(country="DE", id="kr-sub", control_country="KR")
    verdict = evaluate_consortium(shipped_rulebook(), consortium("edf-research", "FR", "IT", sub))
    assert verdict.verdict is Verdict.CONDITIONAL
    assert verdict.result("edf-control").citation == "Regulation (EU) 2021/697, Art 9(4)"
    for rule_id in ("edf-min-entities", "edf-min-countries", "edf-independence"):
        result = verdict.result(rule_id)
        assert result.status is C and "kr-sub" in result.reason and "kr-sub" in result.fix_hint


def test_third_party_rows_are_checked_but_do_not_count():
    affiliated = Organisation(country="ES", id="aff", role="thirdParty")
    verdict = evaluate_consortium(shipped_rulebook(), consortium("edf-research", "FR", "DE", affiliated))
    assert verdict.result("edf-min-entities").status is F
    assert verdict.result("edf-establishment").status is P
    korean_affiliate = Organisation(country="KR", id="kaff", role="thirdParty")
    verdict = evaluate_consortium(shipped_rulebook(), consortium("edf-research", "FR", "DE", "IT", korean_affiliate))
    assert verdict.result("edf-establishment").status is F


def test_ukraine_counts_for_edf_but_not_for_edip():
    edf = evaluate_consortium(shipped_rulebook(), consortium("edf-research", "FR", "DE", "UA"))
    assert edf.verdict is Verdict.ELIGIBLE
    edip = evaluate_consortium(shipped_rulebook(), consortium("edip", "FR", "DE", "UA", design_authority=True))
    assert edip.result("edip-min-entities").status is F  # UA is only eligible under the Ukraine instrument


def test_disruptive_call_waives_composition_minima():
    single = consortium("edf-research", "FR", action_type="disruptive")
    verdict = evaluate_consortium(shipped_rulebook(), single)
    assert verdict.verdict is Verdict.ELIGIBLE
    assert verdict.action_type == "disruptive"
    assert evaluate_consortium(shipped_rulebook(), consortium("edf-research", "FR")).verdict is Verdict.INELIGIBLE


def test_edf_prototyping_needs_procurement_intent():
    verdict = evaluate_consortium(shipped_rulebook(), consortium("edf-development", "FR", "DE", "IT",
                                                                 action_type="prototyping"))
    assert verdict.verdict is Verdict.CONDITIONAL
    assert verdict.result("edf-procurement-intent").citation == "Regulation (EU) 2021/697, Art 21"


def test_edip_common_procurement_rules_apply_to_contracting_authorities():
    def ca(country: str, i: int) -> Organisation:
        return Organisation(country=country, id=f"ca{i}", role="contracting_authority")

    ok = consortium("edip", ca("FR", 0), ca("DE", 1), ca("NO", 2), action_type="common-procurement")
    verdict = evaluate_consortium(shipped_rulebook(), ok)
    assert {r.rule_id: r.status for r in verdict.results if r.rule_id.startswith("edip-cp")} == {
        "edip-cp-authorities": P, "edip-cp-countries": P, "edip-cp-member-states": P,
    }
    assert "edip-max-entities" not in {r.rule_id for r in verdict.results}  # industrial rules do not apply
    one_ms = consortium("edip", ca("FR", 0), ca("NO", 1), ca("IS", 2), action_type="common-procurement")
    assert status_of(one_ms, "edip-cp-member-states") is F
    none = consortium("edip", "FR", "DE", "IT", action_type="common-procurement")
    result = evaluate_consortium(shipped_rulebook(), none).result("edip-cp-authorities")
    assert result.status is F and "contracting_authority" in result.reason


def test_safe_without_contracting_authorities_is_conditional():
    verdict = evaluate_consortium(shipped_rulebook(), consortium("safe", "FR", "DE"))
    assert verdict.result("safe-procurement-member-state").status is C
    ca = [Organisation(country=c, id=c, role="contracting_authority") for c in ("PL", "NO")]
    verdict = evaluate_consortium(shipped_rulebook(), consortium("safe", *ca, "FR"))
    assert verdict.result("safe-procurement-member-state").status is P
    assert verdict.result("safe-procurement-partner").status is P


def test_safe_korean_contractor_is_conditional_on_an_agreement():
    c = consortium(
        "safe",
        Organisation(country="PL", id="pl-mod", role="contracting_authority"),
        Organisation(country="EE", id="ee-mod", role="contracting_authority"),
        Organisation(country="KR", id="hanwha-like", role="contractor"),
        components=(Component("PL", 70.0), Component("KR", 30.0)),
        product_category="artillery",
    )
    verdict = evaluate_consortium(shipped_rulebook(), c)
    assert verdict.verdict is Verdict.CONDITIONAL
    result = verdict.result("safe-establishment")
    assert result.status is C and "Art 17" in result.reason
    assert result.citation == "Council Regulation (EU) 2025/1106, Art 17"


def test_fully_declared_edip_consortium_is_eligible():
    c = consortium("edip", "FR", "DE", "IT", components=(Component("FR", 80.0), Component("KR", 20.0)),
                   design_authority=True)
    verdict = evaluate_consortium(shipped_rulebook(), c)
    assert verdict.verdict is Verdict.ELIGIBLE, [(r.rule_id, r.reason) for r in verdict.results]


def test_kiat_joint_project_with_european_partner_is_conditional():
    c = consortium("kiat", Organisation(country="KR", id="kr", activity_type="PRC"), "FR")
    verdict = evaluate_consortium(shipped_rulebook(), c)
    assert verdict.verdict is Verdict.CONDITIONAL
    assert "without KIAT funding" in verdict.result("kiat-korean-applicant").reason


def test_verdict_is_worst_rule_status():
    for c in (consortium("edf-research", "FR", "DE", "IT"), consortium("edf-research", "FR"),
              consortium("safe", "FR", "DE")):
        verdict = evaluate_consortium(shipped_rulebook(), c)
        statuses = {r.status for r in verdict.results}
        expected = Verdict.INELIGIBLE if F in statuses else Verdict.CONDITIONAL if C in statuses else Verdict.ELIGIBLE
        assert verdict.verdict is expected


# --------------------------------------------------------------------------------------- JSON formats


EXAMPLE = {
    "instrument": "edip",
    "members": [
        {"id": "thales-like", "country": "FR", "role": "coordinator"},
        {"name": "Athena RC", "country": "EL"},
        {"id": 999999999, "country": "DE", "control_country": "KR", "control_group": "kr-group"},
    ],
    "components": [{"origin_country": "FR", "cost": 70}, {"origin_country": "KR", "cost": 30.5}],
    "product_category": "maritime",
    "design_authority": True,
}


def test_parse_and_verdict_json():
    book = shipped_rulebook()
    c = parse_consortium(EXAMPLE, book)
    assert c.members[1].country == "GR" and c.members[2].id == "999999999"
    data = evaluate_consortium(book, c).to_dict()
    json.dumps(data)  # serialisable
    assert {"instrument", "verdict", "rules", "members", "rules_version", "valid_as_of"} <= set(data)
    assert data["verdict"] == "CONDITIONAL"  # the KR-controlled member needs Art 9(6) guarantees
    for rule in data["rules"]:
        assert {"id", "statement", "status", "reason", "citation", "confidence", "fix_hint"} <= set(rule)
        assert rule["status"] in {"passed", "failed", "conditional"}
    assert [m["verdict"] for m in data["members"]] == ["ELIGIBLE", "ELIGIBLE", "CONDITIONAL"]
    assert data["members"][0]["assumptions"]  # control assumed from own country
    assert evaluate_consortium(book, EXAMPLE).to_dict() == data  # a plain dict is accepted too


def bad(**changes) -> dict:
    data = json.loads(json.dumps(EXAMPLE))
    for key, value in changes.items():
        if value is ...:
            data.pop(key)
        else:
            data[key] = value
    return data


def bad_member(index: int, **changes) -> dict:
    data = bad()
    for key, value in changes.items():
        if value is ...:
            data["members"][index].pop(key)
        else:
            data["members"][index][key] = value
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "consortium: must be a JSON object"),
        (bad(instrument=...), "instrument: missing"),
        (bad(instrument=3), "instrument: must be a non-empty string"),
        (bad(members=...), "members: missing"),
        (bad(members=[]), "members: must be a non-empty list"),
        (bad(members=["FR"]), "members[0]: must be an object"),
        (bad_member(2, country="XX"), "members[2].country: unknown country code 'XX'"),
        (bad_member(1, country=...), "members[1].country: missing"),
        (bad_member(0, control_country="ZZ"), "members[0].control_country: unknown country code 'ZZ'"),
        (bad_member(1, name=...), "members[1]: needs an id or a name"),
        (bad_member(1, id="thales-like"), "members[1].id: duplicate id 'thales-like'"),
        (bad_member(0, contry="FR"), "members[0].contry: unknown field"),
        (bad_member(0, sme="yes"), "members[0].sme: must be true or false"),
        (bad(components={"origin_country": "FR"}), "components: must be a list"),
        (bad(components=[{"origin_country": "FR", "cost": -1}]), "components[0].cost: must be a non-negative number"),
        (bad(components=[{"origin_country": "FR", "cost": "10"}]), "components[0].cost: must be a non-negative number"),
        (bad(components=[{"origin_country": "FR", "cost": True}]), "components[0].cost: must be a non-negative number"),
        (bad(components=[{"origin_country": "FR"}]), "components[0].cost: missing"),
        (bad(components=[{"origin_country": "XX", "cost": 1}]), "components[0].origin_country: unknown country code"),
        (bad(design_authority="yes"), "design_authority: must be true or false"),
        (bad(colour="red"), "colour: unknown field"),
        (bad(action_type="procurement"), "action_type: unknown action type 'procurement' for edip"),
        (bad(product_category="tanks"), "product_category: unknown product category 'tanks'"),
    ],
)
def test_format_errors_name_the_field(data, message):
    with pytest.raises(ConsortiumFormatError) as err:
        parse_consortium(data, shipped_rulebook())
    assert str(err.value).startswith(message)


def test_nan_cost_is_rejected():
    with pytest.raises(ConsortiumFormatError, match=r"components\[0\].cost"):
        parse_consortium(bad(components=[{"origin_country": "FR", "cost": float("nan")}]))


def test_unknown_instrument():
    with pytest.raises(UnknownInstrumentError) as err:
        parse_consortium(bad(instrument="edf"), shipped_rulebook())
    assert err.value.known == list(shipped_rulebook().instruments)
    # without a rulebook, parsing succeeds and evaluation raises the same error
    with pytest.raises(UnknownInstrumentError, match="known instruments: edf-research"):
        evaluate_consortium(shipped_rulebook(), parse_consortium(bad(instrument="edf")))
