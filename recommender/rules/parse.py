"""Parse the consortium JSON format (and single organisations) into engine inputs, naming the bad field.

Format::

    {"instrument": "edip",
     "action_type": "industrial-reinforcement",                  # optional, instrument-specific
     "members": [{"id" or "name", "country", "control_country"?, "role"?, "control_group"?,
                  "activity_type"?, "sme"?}],
     "components": [{"origin_country", "cost", "name"?}],        # optional bill of components
     "product_category": "air-missile-defence",                  # optional
     "design_authority": true}                                   # optional

Errors read like ``members[2].country: unknown country code 'XX'`` so a user can fix the file directly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from recommender.catalogue.countries import is_known_country, normalise_country
from recommender.errors import ConsortiumFormatError
from recommender.rules.model import Component, Consortium, Instrument, Organisation, RuleBook

CONSORTIUM_FIELDS = ("instrument", "members", "components", "product_category", "design_authority", "action_type",
                     "name")
MEMBER_FIELDS = ("id", "name", "country", "control_country", "role", "control_group", "activity_type", "sme")
COMPONENT_FIELDS = ("origin_country", "cost", "name")


def parse_consortium(data: object, rulebook: RuleBook | None = None) -> Consortium:
    """Validate a consortium description (parsed JSON) and build a :class:`Consortium`.

    With a rulebook, the instrument (UnknownInstrumentError), action type and product category are checked
    too; :func:`recommender.rules.evaluate_consortium` performs the same checks in any case.
    """
    if not isinstance(data, Mapping):
        raise ConsortiumFormatError("consortium: must be a JSON object")
    _unknown_fields(data, CONSORTIUM_FIELDS, "")
    instrument = data.get("instrument")
    if instrument is None:
        raise ConsortiumFormatError("instrument: missing")
    if not isinstance(instrument, str) or not instrument.strip():
        raise ConsortiumFormatError(f"instrument: must be a non-empty string, got {instrument!r}")
    members_raw = data.get("members")
    if members_raw is None:
        raise ConsortiumFormatError("members: missing")
    if not isinstance(members_raw, list) or not members_raw:
        raise ConsortiumFormatError("members: must be a non-empty list")
    members = tuple(parse_organisation(m, f"members[{i}]") for i, m in enumerate(members_raw))
    seen: dict[str, int] = {}
    for i, m in enumerate(members):
        if m.id is not None:
            if m.id in seen:
                raise ConsortiumFormatError(f"members[{i}].id: duplicate id {m.id!r} (also members[{seen[m.id]}])")
            seen[m.id] = i
    components_raw = data.get("components", [])
    if components_raw is None:
        components_raw = []
    if not isinstance(components_raw, list):
        raise ConsortiumFormatError("components: must be a list")
    components = tuple(_component(c, f"components[{i}]") for i, c in enumerate(components_raw))
    design_authority = data.get("design_authority")
    if design_authority is not None and not isinstance(design_authority, bool):
        raise ConsortiumFormatError(f"design_authority: must be true or false, got {design_authority!r}")
    consortium = Consortium(
        instrument=instrument.strip(),
        members=members,
        components=components,
        product_category=_optional_text(data, "product_category", ""),
        design_authority=design_authority,
        action_type=_optional_text(data, "action_type", ""),
        name=_optional_text(data, "name", ""),
    )
    if rulebook is not None:
        check_against_rulebook(rulebook, consortium)
    return consortium


def parse_organisation(data: object, where: str = "organisation") -> Organisation:
    """Validate one organisation (or consortium member) mapping; ``where`` prefixes error messages."""
    if not isinstance(data, Mapping):
        raise ConsortiumFormatError(f"{where}: must be an object")
    _unknown_fields(data, MEMBER_FIELDS, where)
    org_id = _identifier(data, "id", where)
    name = _optional_text(data, "name", where)
    if org_id is None and name is None:
        raise ConsortiumFormatError(f"{where}: needs an id or a name")
    sme = data.get("sme")
    if sme is not None and not isinstance(sme, bool):
        raise ConsortiumFormatError(f"{where}.sme: must be true or false, got {sme!r}")
    return Organisation(
        country=_country(data, "country", where, required=True),  # type: ignore[arg-type]
        id=org_id,
        name=name,
        control_country=_country(data, "control_country", where, required=False),
        role=_optional_text(data, "role", where),
        activity_type=_optional_text(data, "activity_type", where),
        sme=sme,
        control_group=_identifier(data, "control_group", where),
    )


def check_against_rulebook(rulebook: RuleBook, consortium: Consortium) -> Instrument:
    """The consortium's instrument, after checking its action type and product category exist there."""
    instrument = rulebook.instrument(consortium.instrument)
    action = consortium.action_type
    if action is not None and action not in instrument.action_types:
        known = ", ".join(instrument.action_types) or "none"
        raise ConsortiumFormatError(
            f"action_type: unknown action type {action!r} for {instrument.id}; known: {known}"
        )
    category = consortium.product_category
    if category is not None and rulebook.product_categories and category not in rulebook.product_categories:
        raise ConsortiumFormatError(
            f"product_category: unknown product category {category!r}; known: "
            f"{', '.join(rulebook.product_categories)}"
        )
    for i, m in enumerate(consortium.members):
        validate_organisation(m, f"members[{i}]")
    for i, c in enumerate(consortium.components):
        if not is_known_country(c.origin_country):
            raise ConsortiumFormatError(f"components[{i}].origin_country: unknown country code {c.origin_country!r}")
    return instrument


def validate_organisation(org: Organisation, where: str = "organisation") -> None:
    """Reject hand-built organisations with a missing or unknown country code."""
    if org.country is None:
        raise ConsortiumFormatError(f"{where}.country: missing")
    if not is_known_country(org.country):
        raise ConsortiumFormatError(f"{where}.country: unknown country code {org.country!r}")
    if org.control_country is not None and not is_known_country(org.control_country):
        raise ConsortiumFormatError(f"{where}.control_country: unknown country code {org.control_country!r}")


def _field(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _unknown_fields(data: Mapping, allowed: tuple[str, ...], where: str) -> None:
    unknown = sorted(set(map(str, data)) - set(allowed))
    if unknown:
        raise ConsortiumFormatError(
            f"{_field(where, unknown[0])}: unknown field (allowed: {', '.join(allowed)})"
        )


def _optional_text(data: Mapping, key: str, where: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConsortiumFormatError(f"{_field(where, key)}: must be a string, got {value!r}")
    return value.strip() or None


def _identifier(data: Mapping, key: str, where: str) -> str | None:
    """Ids may arrive as JSON numbers (PICs); they are compared as text."""
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ConsortiumFormatError(f"{_field(where, key)}: must be a string, got {value!r}")
    return str(value).strip() or None


def _country(data: Mapping, key: str, where: str, *, required: bool) -> str | None:
    value: Any = data.get(key)
    code = normalise_country(value) if isinstance(value, str) else None
    if value is None or (isinstance(value, str) and code is None):
        if required:
            raise ConsortiumFormatError(f"{_field(where, key)}: missing")
        return None
    if not isinstance(value, str) or not is_known_country(code):
        raise ConsortiumFormatError(f"{_field(where, key)}: unknown country code {value!r}")
    return code


def _component(data: object, where: str) -> Component:
    if not isinstance(data, Mapping):
        raise ConsortiumFormatError(f"{where}: must be an object")
    _unknown_fields(data, COMPONENT_FIELDS, where)
    cost = data.get("cost")
    if cost is None:
        raise ConsortiumFormatError(f"{where}.cost: missing")
    if isinstance(cost, bool) or not isinstance(cost, int | float) or not math.isfinite(cost) or cost < 0:
        raise ConsortiumFormatError(f"{where}.cost: must be a non-negative number, got {cost!r}")
    return Component(
        origin_country=_country(data, "origin_country", where, required=True),  # type: ignore[arg-type]
        cost=float(cost),
        name=_optional_text(data, "name", where),
    )
