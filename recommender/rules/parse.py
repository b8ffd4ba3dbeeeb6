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
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from recommender.catalogue.countries import is_known_country, normalise_country
from recommender.errors import ConsortiumFormatError
from recommender.rules.model import Component, Consortium, Instrument, Organisation, RuleBook

CONSORTIUM_FIELDS = ("instrument", "members", "components", "product_category", "design_authority", "action_type",
                     "name")
MEMBER_FIELDS = ("id", "name", "country", "control_country", "role", "control_group", "activity_type", "sme")
COMPONENT_FIELDS = ("origin_country", "cost", "name")
T = TypeVar("T")


def parse_consortium(data: object, rulebook: RuleBook | None = None) -> Consortium:
    """Validate a consortium description (parsed JSON) and build a :class:`Consortium`.

    Every format problem is reported at once, joined by '; ' in one ConsortiumFormatError. With a rulebook,
    the instrument (UnknownInstrumentError), action type and product category are checked too;
    :func:`recommender.rules.evaluate_consortium` performs the same checks in any case.
    """
    if not isinstance(data, Mapping):
        raise ConsortiumFormatError("consortium: must be a JSON object")
    problems: list[str] = []
    _collect(problems, _unknown_fields, data, CONSORTIUM_FIELDS, "")
    instrument = data.get("instrument")
    if instrument is None:
        problems.append("instrument: missing")
    elif not isinstance(instrument, str) or not instrument.strip():
        problems.append(f"instrument: must be a non-empty string, got {instrument!r}")
    members_raw = data.get("members")
    members: list[Organisation] = []
    if members_raw is None:
        problems.append("members: missing")
    elif not isinstance(members_raw, list) or not members_raw:
        problems.append("members: must be a non-empty list")
    else:
        parsed = [_collect(problems, parse_organisation, m, f"members[{i}]") for i, m in enumerate(members_raw)]
        members = [m for m in parsed if m is not None]
        seen: dict[str, int] = {}
        for i, m in enumerate(parsed):
            if m is not None and m.id is not None:
                if m.id in seen:
                    problems.append(f"members[{i}].id: duplicate id {m.id!r} (also members[{seen[m.id]}])")
                else:
                    seen[m.id] = i
    components_raw = data.get("components", [])
    if components_raw is None:
        components_raw = []
    components: list[Component] = []
    if not isinstance(components_raw, list):
        problems.append("components: must be a list")
    else:
        found = [_collect(problems, _component, c, f"components[{i}]") for i, c in enumerate(components_raw)]
        components = [c for c in found if c is not None]
    design_authority = data.get("design_authority")
    if design_authority is not None and not isinstance(design_authority, bool):
        problems.append(f"design_authority: must be true or false, got {design_authority!r}")
    texts = {key: _collect(problems, _optional_text, data, key, "") for key in ("product_category", "action_type",
                                                                                "name")}
    if problems:
        raise ConsortiumFormatError("; ".join(problems))
    assert isinstance(instrument, str)
    consortium = Consortium(
        instrument=instrument.strip(),
        members=tuple(members),
        components=tuple(components),
        product_category=texts["product_category"],
        design_authority=design_authority,
        action_type=texts["action_type"],
        name=texts["name"],
    )
    if rulebook is not None:
        check_against_rulebook(rulebook, consortium)
    return consortium


def parse_organisation(data: object, where: str = "organisation") -> Organisation:
    """Validate one organisation (or consortium member) mapping; ``where`` prefixes error messages, and every
    problem of the mapping is reported at once."""
    if not isinstance(data, Mapping):
        raise ConsortiumFormatError(f"{where}: must be an object")
    problems: list[str] = []
    _collect(problems, _unknown_fields, data, MEMBER_FIELDS, where)
    org_id = _collect(problems, _identifier, data, "id", where)
    name = _collect(problems, _optional_text, data, "name", where)
    if org_id is None and name is None and not any(p.startswith((f"{where}.id", f"{where}.name")) for p in problems):
        problems.append(f"{where}: needs an id or a name")
    sme = data.get("sme")
    if sme is not None and not isinstance(sme, bool):
        problems.append(f"{where}.sme: must be true or false, got {sme!r}")
    country = _collect(problems, _country, data, "country", where, required=True)
    control_country = _collect(problems, _country, data, "control_country", where, required=False)
    role = _collect(problems, _optional_text, data, "role", where)
    activity_type = _collect(problems, _optional_text, data, "activity_type", where)
    control_group = _collect(problems, _identifier, data, "control_group", where)
    if problems:
        raise ConsortiumFormatError("; ".join(problems))
    assert country is not None
    return Organisation(
        country=country,
        id=org_id,
        name=name,
        control_country=control_country,
        role=role,
        activity_type=activity_type,
        sme=sme,
        control_group=control_group,
    )


def _collect(problems: list[str], check: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """``check(*args)``, or None with its ConsortiumFormatError message added to ``problems``."""
    try:
        return check(*args, **kwargs)
    except ConsortiumFormatError as exc:
        problems.append(str(exc))
        return None


def check_against_rulebook(rulebook: RuleBook, consortium: Consortium) -> Instrument:
    """The consortium's instrument, after checking its action type, product category and countries (every
    problem at once)."""
    instrument = rulebook.instrument(consortium.instrument)
    problems: list[str] = []
    action = consortium.action_type
    if action is not None and action not in instrument.action_types:
        known = ", ".join(instrument.action_types) or "none"
        problems.append(f"action_type: unknown action type {action!r} for {instrument.id}; known: {known}")
    category = consortium.product_category
    if category is not None and rulebook.product_categories and category not in rulebook.product_categories:
        problems.append(
            f"product_category: unknown product category {category!r}; known: "
            f"{', '.join(rulebook.product_categories)}"
        )
    for i, m in enumerate(consortium.members):
        _collect(problems, validate_organisation, m, f"members[{i}]")
    for i, c in enumerate(consortium.components):
        if not is_known_country(c.origin_country):
            problems.append(f"components[{i}].origin_country: unknown country code {c.origin_country!r}")
    if problems:
        raise ConsortiumFormatError("; ".join(problems))
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
            "; ".join(f"{_field(where, name)}: unknown field" for name in unknown) + f" (allowed: {', '.join(allowed)})"
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
    problems: list[str] = []
    _collect(problems, _unknown_fields, data, COMPONENT_FIELDS, where)
    cost = data.get("cost")
    if cost is None:
        problems.append(f"{where}.cost: missing")
    elif isinstance(cost, bool) or not isinstance(cost, int | float) or not math.isfinite(cost) or cost < 0:
        problems.append(f"{where}.cost: must be a non-negative number, got {cost!r}")
    origin = _collect(problems, _country, data, "origin_country", where, required=True)
    name = _collect(problems, _optional_text, data, "name", where)
    if problems:
        raise ConsortiumFormatError("; ".join(problems))
    assert origin is not None and isinstance(cost, int | float)
    return Component(origin_country=origin, cost=float(cost), name=name)
