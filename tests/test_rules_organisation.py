"""Organisation-level verdicts per instrument: establishment, control, notes, aliases and assumptions."""

from __future__ import annotations

import pytest

from recommender.errors import ConsortiumFormatError, UnknownInstrumentError
from recommender.rules import Organisation, Status, Verdict, evaluate_organisation
from tests.rules_support import shipped_rulebook

E, C, X = Verdict.ELIGIBLE, Verdict.CONDITIONAL, Verdict.INELIGIBLE  # X: ineligible

# (instrument, country, control_country, role, activity_type, expected verdict, text expected in the reasons)
CASES = [
    # EDF: EU27 + IS/LI/NO + UA (since Regulation 2025/2653)
    ("edf-research", "FR", None, None, None, E, "established in FR"),
    ("edf-research", "NO", None, None, None, E, "established in NO"),
    ("edf-development", "UA", None, None, None, E, "established in UA"),
    ("edf-research", "EL", None, None, None, E, "established in GR"),
    # Korean entity in the EDF: not a recipient; cooperation without eligible costs otherwise
    ("edf-research", "KR", None, "participant", None, X, "cannot take part as participant"),
    ("edf-research", "KR", None, "coordinator", None, X, "cannot take part as coordinator"),
    ("edf-development", "KR", None, "thirdParty", None, X, "cannot take part as thirdparty"),
    ("edf-research", "KR", None, None, None, C, "cooperate without eligible costs"),
    ("edf-research", "KR", None, "associatedPartner", None, C, "cooperate without eligible costs"),
    # EU subsidiary controlled from a non-associated third country: Art 9(4) guarantees
    ("edf-research", "DE", "KR", None, None, C, "guarantees approved by its Member State"),
    ("edf-development", "DE", "US", "participant", None, C, "controlled from US"),
    ("edf-research", "DE", "NO", None, None, E, "controlled from NO"),
    ("edf-research", "DE", "UA", None, None, E, "controlled from UA"),
    # EDIP: UA is not an associated country (only the Ukraine Support Instrument); Art 9(6) derogation
    ("edip", "UA", None, None, None, C, "Ukraine Support Instrument"),
    ("edip", "NO", None, None, None, E, "established in NO"),
    ("edip", "KR", None, "participant", None, X, "cannot take part as participant"),
    ("edip", "KR", None, None, None, C, "costs are not eligible"),
    ("edip", "IT", "KR", None, None, C, "FDI screening"),
    ("edip", "IT", "KR", "contracting_authority", None, E, "exempt from the control rule"),
    # SAFE: EU + EEA-EFTA + UA; Korea only once an Art 17 agreement exists
    ("safe", "PL", None, None, None, E, "established in PL"),
    ("safe", "UA", None, None, None, E, "established in UA"),
    ("safe", "NO", None, None, None, E, "established in NO"),
    ("safe", "KR", None, None, None, C, "agreement between the EU and KR under Art 17"),
    ("safe", "US", None, None, None, X, "not an eligible contractor"),
    ("safe", "IT", "KR", None, None, C, "FDI screening"),
    # Horizon Europe: KR associated to Pillar II; non-associated third countries without funding
    ("horizon-europe", "KR", None, None, None, E, "Pillar II only"),
    ("horizon-europe", "GB", None, None, None, E, "established in GB"),
    ("horizon-europe", "UK", None, None, None, E, "established in GB"),
    ("horizon-europe", "US", None, None, None, C, "without EU funding"),
    # NATO DIANA: Allies only; IP4 partners are not Allies
    ("diana", "US", None, None, None, E, "established in US"),
    ("diana", "FR", None, None, None, E, "established in FR"),
    ("diana", "KR", None, None, None, X, "IP4"),
    ("diana", "JP", None, None, None, X, "IP4"),
    ("diana", "AU", None, None, None, X, "IP4"),
    # NIF: participating Allies only (not FR, US, ...); Greece via the EL alias; UK via the UK alias
    ("nif", "KR", None, None, None, X, "participating Allies"),
    ("nif", "FR", None, None, None, X, "participating Allies"),
    ("nif", "US", None, None, None, X, "participating Allies"),
    ("nif", "EL", None, None, None, E, "established in GR"),
    ("nif", "UK", None, None, None, E, "established in GB"),
    ("nif", "DE", None, None, None, E, "established in DE"),
    # KIAT: Korean firms (with the KOITA note) and institutes; foreign partners without KIAT funding
    ("kiat", "KR", None, None, "PRC", E, "KOITA"),
    ("kiat", "KR", None, None, None, E, "KOITA"),
    ("kiat", "FR", None, "participant", None, C, "without KIAT funding"),
]


@pytest.mark.parametrize(("instrument", "country", "control", "role", "activity", "expected", "text"), CASES)
def test_organisation_verdicts(instrument, country, control, role, activity, expected, text):
    org = Organisation(country=country, id="x", control_country=control, role=role, activity_type=activity)
    verdict = evaluate_organisation(shipped_rulebook(), instrument, org)
    reasons = " | ".join(verdict.reasons)
    assert verdict.verdict is expected, reasons
    assert text in reasons
    for result in verdict.results:
        assert result.citation and result.confidence in {"T", "S", "M"}


def test_korean_research_institute_gets_no_koita_note():
    org = Organisation(country="KR", id="kaist", activity_type="HES")
    verdict = evaluate_organisation(shipped_rulebook(), "kiat", org)
    assert verdict.verdict is Verdict.ELIGIBLE
    assert not any("KOITA" in r for r in verdict.reasons)


def test_control_derogation_cites_article_9_4_and_still_counts():
    org = Organisation(country="DE", id="kr-sub", control_country="KR")
    verdict = evaluate_organisation(shipped_rulebook(), "edf-research", org)
    control = next(r for r in verdict.results if r.rule_id == "edf-control")
    assert control.status is Status.CONDITIONAL
    assert control.citation == "Regulation (EU) 2021/697, Art 9(4)"
    assert control.confidence == "T"
    assert verdict.counts  # counts toward the consortium minimum, under the condition


def test_cooperation_without_eligible_costs_does_not_count():
    verdict = evaluate_organisation(shipped_rulebook(), "edf-research", Organisation(country="KR", id="k"))
    assert verdict.verdict is Verdict.CONDITIONAL
    assert not verdict.counts


def test_unknown_control_is_assumed_own_country_and_said():
    book = shipped_rulebook()
    unknown = evaluate_organisation(book, "edf-research", Organisation(country="FR", id="f"))
    assert unknown.assumptions == ("control_country unknown: assumed controlled from its own country (FR)",)
    assert any("assumed" in r for r in unknown.reasons)
    known = evaluate_organisation(book, "edf-research", Organisation(country="FR", id="f", control_country="FR"))
    assert known.assumptions == ()
    # DIANA has no control rule, so no assumption is needed or reported
    assert evaluate_organisation(book, "diana", Organisation(country="FR", id="f")).assumptions == ()


def test_korean_controlled_subsidiary_in_korea_is_judged_by_establishment_only():
    """The control rule concerns entities established in the eligible area; a KR entity is judged once."""
    verdict = evaluate_organisation(shipped_rulebook(), "edf-research", Organisation(country="KR", id="k"))
    assert [r.rule_id for r in verdict.results] == ["edf-establishment"]


def test_accepts_a_mapping_and_normalises_aliases():
    verdict = evaluate_organisation(shipped_rulebook(), "nif", {"name": "Athena", "country": "el"})
    assert verdict.organisation.country == "GR"
    assert verdict.verdict is Verdict.ELIGIBLE


def test_verdict_reports_version_and_date():
    book = shipped_rulebook()
    data = evaluate_organisation(book, "edf-research", Organisation(country="FR", id="f")).to_dict()
    assert data["rules_version"] == book.version
    assert data["valid_as_of"] == book.valid_as_of.isoformat()
    assert data["verdict"] == "ELIGIBLE"
    assert {"id", "statement", "status", "reason", "citation", "confidence", "fix_hint"} <= set(data["rules"][0])


def test_unknown_instrument_lists_known_ones():
    with pytest.raises(UnknownInstrumentError) as err:
        evaluate_organisation(shipped_rulebook(), "edf", Organisation(country="FR", id="f"))
    assert "edf-research" in str(err.value) and "kiat" in str(err.value)
    assert err.value.known == shipped_rulebook().instrument_ids


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"id": "x", "country": "XX"}, "organisation.country: unknown country code 'XX'"),
        ({"id": "x"}, "organisation.country: missing"),
        ({"id": "x", "country": "FR", "control_country": "ZZ"}, "organisation.control_country: unknown"),
        ({"country": "FR"}, "organisation: needs an id or a name"),
    ],
)
def test_bad_organisation_input_names_the_field(data, message):
    with pytest.raises(ConsortiumFormatError, match=message.replace("(", r"\(")):
        evaluate_organisation(shipped_rulebook(), "edf-research", data)


def test_hand_built_organisation_with_unknown_country_is_rejected():
    with pytest.raises(ConsortiumFormatError, match="unknown country code 'XX'"):
        evaluate_organisation(shipped_rulebook(), "edf-research", Organisation(country="XX", id="x"))
