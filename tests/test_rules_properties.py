"""Hypothesis properties of the rules engine: order invariance and monotonicity."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.catalogue.countries import EU27
from recommender.rules import Component, Consortium, Organisation, Status, evaluate_consortium, outside_share
from tests.rules_support import shipped_rulebook

BOOK = shipped_rulebook()
INSTRUMENTS = sorted(BOOK.instruments)
# A pool mixing Member States, associated countries, Korea, other Allies and the EL/UK aliases.
COUNTRIES = ["FR", "DE", "IT", "EL", "GR", "PL", "NO", "IS", "UA", "KR", "JP", "US", "UK", "CH", "TR", "CN"]
ROLES = [None, "coordinator", "participant", "thirdParty", "associatedPartner", "contracting_authority"]
INSIDE_EDIP = BOOK.instrument("edip").eligible_countries
COUNT_KINDS = {"min_entities", "min_distinct_countries", "min_entities_from", "min_independent"}

fast = settings(max_examples=150, deadline=None)


@st.composite
def member_lists(draw, max_size: int = 8, roles: list | None = None) -> list[Organisation]:
    n = draw(st.integers(min_value=1, max_value=max_size))
    out = []
    for i in range(n):
        out.append(
            Organisation(
                country=draw(st.sampled_from(COUNTRIES)),
                id=f"m{i}",
                control_country=draw(st.one_of(st.none(), st.sampled_from(COUNTRIES))),
                role=draw(st.sampled_from(roles if roles is not None else ROLES)),
                control_group=draw(st.one_of(st.none(), st.sampled_from(["g1", "g2"]))),
                activity_type=draw(st.sampled_from([None, "PRC", "REC"])),
            )
        )
    return out


components = st.lists(
    st.builds(
        Component,
        origin_country=st.sampled_from(COUNTRIES),
        cost=st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False),
    ),
    max_size=6,
)


@fast
@given(
    instrument=st.sampled_from(INSTRUMENTS),
    members=member_lists(),
    parts=components,
    category=st.sampled_from([None, "ai", "ammunition-missiles"]),
    design=st.sampled_from([None, True, False]),
    data=st.data(),
)
def test_verdict_does_not_depend_on_member_order(instrument, members, parts, category, design, data):
    shuffled = data.draw(st.permutations(members))
    base = Consortium(instrument, tuple(members), tuple(parts), category, design)
    a = evaluate_consortium(BOOK, base)
    b = evaluate_consortium(BOOK, replace(base, members=tuple(shuffled)))
    assert a.verdict == b.verdict
    assert [r.to_dict() for r in a.results] == [r.to_dict() for r in b.results]
    by_id_a = {m.organisation.id: m.to_dict() for m in a.members}
    by_id_b = {m.organisation.id: m.to_dict() for m in b.members}
    assert by_id_a == by_id_b


@fast
@given(
    parts=components,
    extra_origin=st.sampled_from([c for c in COUNTRIES if c not in {"FR", "DE", "IT", "EL", "GR", "PL", "NO", "IS"}]),
    extra_cost=st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False),
)
def test_adding_a_non_eu_component_never_lowers_the_non_eu_share(parts, extra_origin, extra_cost):
    before = outside_share(parts, INSIDE_EDIP)
    after_parts = [*parts, Component(extra_origin, extra_cost)]
    after = outside_share(after_parts, INSIDE_EDIP)
    if before is not None:
        assert after is not None and after >= before - 1e-12
    # and the engine's rule never improves because of it
    c = Consortium("edip", (Organisation(country="FR", id="a"),), tuple(parts))
    order = {Status.PASSED: 0, Status.CONDITIONAL: 1, Status.FAILED: 2}
    rule = "edip-component-origin"
    s_before = evaluate_consortium(BOOK, c).result(rule).status
    s_after = evaluate_consortium(BOOK, replace(c, components=tuple(after_parts))).result(rule).status
    if s_before is not Status.CONDITIONAL:  # conditional = no bill of components yet
        assert order[s_after] >= order[s_before]


@fast
@given(
    instrument=st.sampled_from(["edf-research", "edf-development", "edip", "horizon-europe", "safe"]),
    members=member_lists(max_size=10, roles=[None, "participant", "thirdParty", "contracting_authority"]),
    data=st.data(),
)
def test_adding_an_independent_member_from_a_new_member_state_never_breaks_a_passing_count_rule(
    instrument, members, data
):
    """Minimum-count rules are monotone. (max_entities is deliberately not a minimum: 15 -> 16 may fail.)"""
    used = {m.country for m in members}
    new_country = data.draw(st.sampled_from(sorted(EU27 - used)))
    role = data.draw(st.sampled_from([None, "participant", "contracting_authority"]))
    newcomer = Organisation(country=new_country, id="newcomer", control_country=new_country, role=role)
    before = evaluate_consortium(BOOK, Consortium(instrument, tuple(members)))
    after = evaluate_consortium(BOOK, Consortium(instrument, (*members, newcomer)))
    for result in before.results:
        if result.kind in COUNT_KINDS and result.status is Status.PASSED:
            assert after.result(result.rule_id).status is Status.PASSED, (result.rule_id, after.result(result.rule_id))
