"""The rules file: shipped content, strict validation, and YAML-only changes honoured without code."""

from __future__ import annotations

from datetime import date

import pytest

from recommender.errors import RuleConfigError
from recommender.rules import (
    DEFAULT_RULES_PATH,
    KINDS,
    Consortium,
    Organisation,
    Status,
    Verdict,
    evaluate_consortium,
    evaluate_organisation,
    load_rulebook,
)
from tests.rules_support import consortium, members, rule_raw, shipped_raw, shipped_rulebook, write_rules

EXPECTED_INSTRUMENTS = ["edf-research", "edf-development", "edip", "safe", "horizon-europe", "diana", "nif", "kiat"]


def test_default_path_is_the_shipped_file():
    assert DEFAULT_RULES_PATH.parts[-3:] == ("data", "rules", "instruments.yaml")
    assert DEFAULT_RULES_PATH.is_file()


def test_shipped_rulebook_has_every_instrument_and_sourced_rules():
    book = shipped_rulebook()
    assert book.instrument_ids == EXPECTED_INSTRUMENTS
    assert book.version and isinstance(book.valid_as_of, date)
    for instrument in book.instruments.values():
        assert instrument.rules, instrument.id
        assert instrument.organisation_rules, f"{instrument.id} has no organisation rule"
        for rule in instrument.rules:
            assert rule.statement and rule.citation, (instrument.id, rule.id)
            assert rule.confidence in {"T", "S", "M"}
            assert isinstance(rule.effective, date)


def test_shipped_country_sets_are_normalised():
    sets = shipped_rulebook().country_sets
    assert len(sets["EU27"].members) == 27 and "GR" in sets["EU27"].members and "EL" not in sets["EU27"].members
    assert "GB" in sets["NIF-PARTICIPANTS"].members  # written UK in the file
    assert sets["EDF-ASSOCIATED"].members == {"IS", "LI", "NO", "UA"}
    assert sets["EDIP-ASSOCIATED"].members == {"IS", "LI", "NO"}
    assert "KR" in sets["HE-ASSOCIATED-PILLAR2"].members and "KR" not in sets["NATO-ALLIES"].members
    assert sets["IP4"].members == {"AU", "JP", "KR", "NZ"}
    assert "KR" in sets["SDP-PARTNERS"].members
    assert len(sets["NATO-ALLIES"].members) == 32
    assert {"FR", "US", "CA"}.isdisjoint(sets["NIF-PARTICIPANTS"].members)
    from recommender.catalogue.countries import EEA_EFTA
    from recommender.catalogue.countries import EU27 as CODE_EU27

    assert sets["EU27"].members == CODE_EU27 and sets["EEA-EFTA"].members == EEA_EFTA


def test_every_shipped_kind_is_known_and_used():
    used = {rule.kind for i in shipped_rulebook().instruments.values() for rule in i.rules}
    assert used <= set(KINDS)
    assert {"min_entities", "min_distinct_countries", "min_independent", "max_entities", "min_entities_from",
            "component_origin_share", "design_authority", "entity_establishment", "entity_control"} <= used


def test_unreadable_file(tmp_path):
    with pytest.raises(RuleConfigError, match="cannot read rules file"):
        load_rulebook(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: [unclosed", encoding="utf-8")
    with pytest.raises(RuleConfigError, match="cannot read rules file"):
        load_rulebook(broken)


# ------------------------------------------------------------------------------------ strict validation


def _set_rule(instrument: str, rule_id: str, key: str, value):
    def mutate(raw):
        rule = rule_raw(raw, instrument, rule_id)
        if value is ...:
            del rule[key]
        else:
            rule[key] = value

    return mutate


def _set_param(instrument: str, rule_id: str, key: str, value):
    def mutate(raw):
        rule_raw(raw, instrument, rule_id)["params"][key] = value

    return mutate


def _set_top(key: str, value):
    def mutate(raw):
        if value is ...:
            del raw[key]
        else:
            raw[key] = value

    return mutate


def _set_country_set(name: str, body):
    def mutate(raw):
        raw["country_sets"][name] = body

    return mutate


def _prepend_set(name: str, body):
    def mutate(raw):
        raw["country_sets"] = {name: body, **raw["country_sets"]}

    return mutate


R = "instrument 'edf-research', rule 'edf-min-entities'"
BAD_FILES = [
    (_set_rule("edf-research", "edf-min-entities", "kind", "min_entitys"), f"{R}: unknown rule kind 'min_entitys'"),
    (_set_rule("edf-research", "edf-min-entities", "citation", ...), f"{R}: missing citation"),
    (_set_rule("edf-research", "edf-min-entities", "confidence", ...), f"{R}: missing confidence"),
    (_set_rule("edf-research", "edf-min-entities", "confidence", "X"), f"{R}: confidence must be one of T, S, M"),
    (_set_rule("edf-research", "edf-min-entities", "statement", ""), f"{R}: missing statement"),
    (_set_rule("edf-research", "edf-min-entities", "effective", "soon"), f"{R}: effective: must be an ISO date"),
    (_set_rule("edf-research", "edf-min-entities", "id", ...), "instrument 'edf-research', rules[2]: missing id"),
    (_set_rule("edf-research", "edf-min-entities", "citaton", "x"), f"{R}: unknown key(s) citaton"),
    (_set_rule("edf-research", "edf-min-entities", "action_types", ["sometimes"]), f"{R}: action_types sometimes"),
    (_set_rule("edf-research", "edf-min-countries", "id", "edf-min-entities"), f"{R}: duplicate rule id"),
    (_set_param("edf-research", "edf-min-entities", "min", "three"), f"{R}: params: min: must be an integer"),
    (_set_param("edf-research", "edf-min-entities", "minimum", 3), f"{R}: params: unknown parameter(s) minimum"),
    (_set_param("edf-research", "edf-min-countries", "countries", ["EU27", "EU28"]),
     "instrument 'edf-research', rule 'edf-min-countries': params: countries: "
     "unknown country set or country code 'EU28'"),
    (_set_param("edf-research", "edf-min-countries", "countries", ["EU27", False]), 'quote "NO"'),
    (_set_param("edip", "edip-component-origin", "max_share", 35),
     "instrument 'edip', rule 'edip-component-origin': params: max_share: must be a number between 0 and 1"),
    (_set_param("safe", "safe-design-authority", "categories", ["lasers"]),
     "instrument 'safe', rule 'safe-design-authority': params: categories: unknown product categor"),
    (_set_param("edf-research", "edf-control", "derogation", {"condition": "x", "citation": "Art 9(4)"}),
     "citation and confidence must be given together"),
    (_set_top("version", ...), "missing version"),
    (_set_top("version", 1.0), "version: must be a non-empty string"),
    (_set_top("valid_as_of", "early 2026"), "valid_as_of: must be an ISO date"),
    (_set_top("extra", 1), "unknown key(s) extra"),
    (_set_country_set("BROKEN", {"members": ["FR", "XX"], "source": "s", "confidence": "T"}),
     "country set 'BROKEN': members: unknown country set or country code 'XX'"),
    (_set_country_set("FR", {"members": ["FR"], "source": "s", "confidence": "T"}), "must not be a country code"),
    (_set_country_set("NOSOURCE", {"members": ["FR"], "confidence": "T"}), "country set 'NOSOURCE': missing source"),
    (_set_country_set("BADTAG", {"members": ["FR"], "source": "s", "confidence": "high"}), "confidence must be one of"),
    (_prepend_set("EARLY", {"members": ["EU27"], "source": "s", "confidence": "T"}),
     "country set 'EARLY': members: unknown country set or country code 'EU27'"),
]


@pytest.mark.parametrize(("mutate", "message"), BAD_FILES)
def test_bad_rules_file_names_instrument_and_rule(tmp_path, mutate, message):
    raw = shipped_raw()
    mutate(raw)
    with pytest.raises(RuleConfigError) as err:
        load_rulebook(write_rules(tmp_path, raw))
    assert message in str(err.value)


def test_aliases_in_the_yaml_are_normalised_at_load(tmp_path):
    raw = shipped_raw()
    raw["country_sets"]["TEST-SET"] = {"members": ["el", "UK", " fr "], "source": "test", "confidence": "S"}
    book = load_rulebook(write_rules(tmp_path, raw))
    assert book.country_sets["TEST-SET"].members == {"GR", "GB", "FR"}


# ------------------------------------------------------------------------ YAML-only changes, no code


def test_changed_thresholds_are_honoured(tmp_path):
    raw = shipped_raw()
    rule_raw(raw, "edip", "edip-max-entities")["params"]["max"] = 10
    rule_raw(raw, "edf-research", "edf-min-entities")["params"]["min"] = 4
    rule_raw(raw, "edip", "edip-component-origin")["params"]["max_share"] = 0.2
    raw["version"] = "test-1"
    book = load_rulebook(write_rules(tmp_path, raw))
    shipped = shipped_rulebook()

    eleven = Consortium("edip", members("FR", "DE", "IT", "ES", "PL", "NL", "BE", "AT", "SE", "FI", "DK"))
    assert evaluate_consortium(shipped, eleven).result("edip-max-entities").status is Status.PASSED
    assert evaluate_consortium(book, eleven).result("edip-max-entities").status is Status.FAILED

    three = consortium("edf-research", "FR", "DE", "IT")
    assert evaluate_consortium(shipped, three).verdict is Verdict.ELIGIBLE
    changed = evaluate_consortium(book, three)
    assert changed.verdict is Verdict.INELIGIBLE and "at least 4 required" in changed.result("edf-min-entities").reason
    assert changed.rules_version == "test-1"

    from recommender.rules import Component

    quarter = consortium("edip", "FR", "DE", "IT", components=(Component("FR", 75.0), Component("US", 25.0)))
    assert evaluate_consortium(shipped, quarter).result("edip-component-origin").status is Status.PASSED
    assert evaluate_consortium(book, quarter).result("edip-component-origin").status is Status.FAILED


def test_new_country_and_instrument_are_honoured(tmp_path):
    raw = shipped_raw()
    raw["country_sets"]["EUREKA-LIKE"] = {"members": ["EU27", "KR", "CA"], "source": "test", "confidence": "S"}
    raw["instruments"]["eu-kr-pilot"] = {
        "name": "A fictional EU-Korea pilot call",
        "citation": "Test call text",
        "eligible_countries": ["EUREKA-LIKE"],
        "rules": [
            {
                "id": "pilot-establishment", "kind": "entity_establishment",
                "statement": "Participants are established in the EU, Korea or Canada.",
                "params": {"outside": {"status": "failed", "reason": "not a pilot country"}},
                "citation": "Test call, section 1", "confidence": "S", "effective": "2026-01-01",
            },
            {
                "id": "pilot-korean", "kind": "min_entities_from",
                "statement": "At least one Korean participant.",
                "params": {"min": 1, "countries": ["KR"]},
                "citation": "Test call, section 2", "confidence": "S", "effective": "2026-01-01",
            },
            {
                "id": "pilot-european", "kind": "min_entities_from",
                "statement": "At least two participants from Member States.",
                "params": {"min": 2, "countries": ["EU27"]},
                "citation": "Test call, section 2", "confidence": "S", "effective": "2026-01-01",
            },
            {
                "id": "pilot-origin", "kind": "component_origin_share",
                "statement": "At most half of component cost from outside the pilot countries.",
                "params": {"max_share": 0.5, "inside": ["eligible"], "if_missing": "passed"},
                "citation": "Test call, section 3", "confidence": "M", "effective": "2026-01-01",
            },
        ],
    }
    book = load_rulebook(write_rules(tmp_path, raw))
    assert "eu-kr-pilot" in book.instrument_ids
    assert evaluate_consortium(book, consortium("eu-kr-pilot", "FR", "DE", "KR")).verdict is Verdict.ELIGIBLE
    no_korea = evaluate_consortium(book, consortium("eu-kr-pilot", "FR", "DE", "IT"))
    assert no_korea.verdict is Verdict.INELIGIBLE
    assert no_korea.result("pilot-korean").fix_hint == "add 1 eligible entity established in KR"
    assert evaluate_organisation(book, "eu-kr-pilot", Organisation(country="US", id="u")).verdict is Verdict.INELIGIBLE
    assert evaluate_organisation(book, "eu-kr-pilot", Organisation(country="CA", id="c")).verdict is Verdict.ELIGIBLE
