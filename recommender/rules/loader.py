"""Load and strictly validate the rules file (data/rules/instruments.yaml) into a :class:`RuleBook`.

The rules are data because they change (EDIP went from provisional agreement to law within two months):
every rule must carry an id, a statement, a legal citation, a confidence tag and an effective date, and
the file a version and a ``valid_as_of`` date. Anything malformed raises RuleConfigError naming the
instrument and the rule, so a bad edit fails at load time rather than on some user's consortium.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from recommender.catalogue.countries import ALIASES, ISO_COUNTRIES
from recommender.errors import RuleConfigError
from recommender.rules.kinds import KINDS
from recommender.rules.model import CONFIDENCE_TAGS, CountrySet, Instrument, Rule, RuleBook, normalise_role
from recommender.rules.params import ELIGIBLE_TOKEN, ParamReader, resolve_countries

_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available: same safe subset, faster

DEFAULT_RULES_PATH = Path(__file__).resolve().parents[2] / "data" / "rules" / "instruments.yaml"

TOP_REQUIRED = ("version", "valid_as_of", "country_sets", "instruments")
TOP_OPTIONAL = ("description", "sources", "product_categories", "non_counting_roles")
SET_KEYS = ("members", "source", "confidence")
INSTRUMENT_REQUIRED = ("name", "citation", "eligible_countries", "rules")
INSTRUMENT_OPTIONAL = ("summary", "action_types", "default_action_type", "non_counting_roles")
RULE_REQUIRED = ("id", "kind", "statement", "citation", "confidence", "effective")
RULE_OPTIONAL = ("params", "action_types", "fix_hint")


def load_rulebook(path: str | Path | None = None) -> RuleBook:
    """Read and validate a rules file; by default the one shipped in data/rules/instruments.yaml."""
    path = Path(path) if path is not None else DEFAULT_RULES_PATH
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)
    except (OSError, yaml.YAMLError) as exc:
        raise RuleConfigError(f"cannot read rules file {path}: {exc}") from exc
    return parse_rulebook(raw, source=path.name)


def parse_rulebook(raw: object, source: str = "rules") -> RuleBook:
    """Validate an already-parsed rules document (a dict as produced by yaml.safe_load)."""
    if not isinstance(raw, Mapping):
        raise RuleConfigError(f"{source}: expected a mapping at the top level")
    _keys(raw, TOP_REQUIRED, TOP_OPTIONAL, source)
    version = _text(raw["version"], f"{source}: version")
    valid_as_of = _date(raw["valid_as_of"], f"{source}: valid_as_of")
    country_sets = _country_sets(raw["country_sets"], source)
    codes = MappingProxyType({name: s.members for name, s in country_sets.items()})
    categories = _product_categories(raw.get("product_categories"), source)
    default_roles = _roles(raw.get("non_counting_roles"), f"{source}: non_counting_roles")
    instruments_raw = raw["instruments"]
    if not isinstance(instruments_raw, Mapping) or not instruments_raw:
        raise RuleConfigError(f"{source}: instruments must be a non-empty mapping of id -> instrument")
    instruments = {
        str(iid): _instrument(str(iid), body, codes, categories, default_roles, source)
        for iid, body in instruments_raw.items()
    }
    return RuleBook(
        version=version,
        valid_as_of=valid_as_of,
        country_sets=MappingProxyType(country_sets),
        instruments=MappingProxyType(instruments),
        product_categories=MappingProxyType(categories),
        non_counting_roles=default_roles,
    )


def _keys(raw: Mapping, required: tuple[str, ...], optional: tuple[str, ...], where: str) -> None:
    missing = [k for k in required if raw.get(k) in (None, "", [], {})]
    if missing:
        raise RuleConfigError(f"{where}: missing {', '.join(missing)}")
    unknown = sorted(set(map(str, raw)) - set(required) - set(optional))
    if unknown:
        raise RuleConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")


def _text(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RuleConfigError(f"{where}: must be a non-empty string (quote numbers such as versions), got {value!r}")
    return " ".join(value.split())


def _date(value: object, where: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise RuleConfigError(f"{where}: must be an ISO date (YYYY-MM-DD), got {value!r}") from None


def _confidence(value: object, where: str) -> str:
    if value not in CONFIDENCE_TAGS:
        raise RuleConfigError(f"{where}: confidence must be one of T, S, M, got {value!r}")
    return str(value)


def _roles(value: object, where: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise RuleConfigError(f"{where}: must be a list of role names")
    return frozenset(normalise_role(v) for v in value)  # type: ignore[misc]


def _country_sets(raw: object, source: str) -> dict[str, CountrySet]:
    """Country sets in file order; a set may include sets defined above it (so no cycles are possible)."""
    if not isinstance(raw, Mapping) or not raw:
        raise RuleConfigError(f"{source}: country_sets must be a non-empty mapping")
    sets: dict[str, CountrySet] = {}
    for name, body in raw.items():
        name = str(name)
        where = f"{source}: country set {name!r}"
        if name.upper() in ISO_COUNTRIES or name.upper() in ALIASES or name == ELIGIBLE_TOKEN:
            raise RuleConfigError(f"{where}: a set name must not be a country code or {ELIGIBLE_TOKEN!r}")
        if not isinstance(body, Mapping):
            raise RuleConfigError(f"{where}: must be a mapping with members, source, confidence")
        _keys(body, SET_KEYS, (), where)
        members, _ = resolve_countries(body["members"], f"{where}: members", {n: s.members for n, s in sets.items()})
        sets[name] = CountrySet(
            name, members, _text(body["source"], f"{where}: source"), _confidence(body["confidence"], where)
        )
    return sets


def _product_categories(raw: object, source: str) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise RuleConfigError(f"{source}: product_categories must be a mapping of id -> description")
    return {str(k): _text(v, f"{source}: product_categories.{k}") for k, v in raw.items()}


def _instrument(
    iid: str,
    body: object,
    sets: Mapping[str, frozenset[str]],
    categories: Mapping[str, str],
    default_roles: frozenset[str],
    source: str,
) -> Instrument:
    where = f"{source}: instrument {iid!r}"
    if not isinstance(body, Mapping):
        raise RuleConfigError(f"{where}: must be a mapping")
    _keys(body, INSTRUMENT_REQUIRED, INSTRUMENT_OPTIONAL, where)
    eligible, eligible_label = resolve_countries(body["eligible_countries"], f"{where}: eligible_countries", sets)
    action_types_raw = body.get("action_types") or {}
    if not isinstance(action_types_raw, Mapping):
        raise RuleConfigError(f"{where}: action_types must be a mapping of id -> description")
    action_types = {str(k): _text(v, f"{where}: action_types.{k}") for k, v in action_types_raw.items()}
    default_action = body.get("default_action_type")
    if action_types and default_action not in action_types:
        raise RuleConfigError(f"{where}: default_action_type must be one of {', '.join(action_types)}")
    if not action_types and default_action is not None:
        raise RuleConfigError(f"{where}: default_action_type given but no action_types declared")
    if not isinstance(body["rules"], list):
        raise RuleConfigError(f"{where}: rules must be a list")
    rules: list[Rule] = []
    for i, rule_raw in enumerate(body["rules"]):
        rule = _rule(rule_raw, f"{where}, rules[{i}]", where, sets, eligible, eligible_label, categories, action_types)
        if any(r.id == rule.id for r in rules):
            raise RuleConfigError(f"{where}, rule {rule.id!r}: duplicate rule id")
        rules.append(rule)
    roles = body.get("non_counting_roles")
    return Instrument(
        id=iid,
        name=_text(body["name"], f"{where}: name"),
        summary=_text(body.get("summary") or body["name"], f"{where}: summary"),
        citation=_text(body["citation"], f"{where}: citation"),
        eligible_countries=eligible,
        eligible_label=eligible_label,
        rules=tuple(rules),
        action_types=MappingProxyType(action_types),
        default_action_type=default_action,
        non_counting_roles=default_roles if roles is None else _roles(roles, f"{where}: non_counting_roles"),
    )


def _rule(
    raw: object,
    position: str,
    instrument_where: str,
    sets: Mapping[str, frozenset[str]],
    eligible: frozenset[str],
    eligible_label: str,
    categories: Mapping[str, str],
    action_types: Mapping[str, str],
) -> Rule:
    if not isinstance(raw, Mapping):
        raise RuleConfigError(f"{position}: must be a mapping")
    rid = raw.get("id")
    where = f"{instrument_where}, rule {rid!r}" if isinstance(rid, str) and rid.strip() else position
    _keys(raw, RULE_REQUIRED, RULE_OPTIONAL, where)
    rid = _text(rid, f"{where}: id")
    kind_name = raw["kind"]
    kind: Any = KINDS.get(kind_name) if isinstance(kind_name, str) else None
    if kind is None:
        raise RuleConfigError(f"{where}: unknown rule kind {kind_name!r}; known kinds: {', '.join(sorted(KINDS))}")
    params_raw = raw.get("params") or {}
    reader = ParamReader(
        params_raw, f"{where}: params", sets, eligible, eligible_label, frozenset(categories) if categories else None
    )
    check = kind.from_params(reader)
    reader.done()
    rule_actions = raw.get("action_types")
    actions: frozenset[str] | None = None
    if rule_actions is not None:
        if kind.level != "consortium":
            raise RuleConfigError(f"{where}: action_types apply to consortium rules only")
        if not isinstance(rule_actions, list) or not rule_actions:
            raise RuleConfigError(f"{where}: action_types must be a non-empty list")
        unknown = sorted(set(map(str, rule_actions)) - set(action_types))
        if unknown:
            raise RuleConfigError(f"{where}: action_types {', '.join(unknown)} not declared by the instrument")
        actions = frozenset(map(str, rule_actions))
    return Rule(
        id=rid,
        kind=kind_name,
        level=kind.level,
        statement=_text(raw["statement"], f"{where}: statement"),
        citation=_text(raw["citation"], f"{where}: citation"),
        confidence=_confidence(raw["confidence"], where),
        effective=_date(raw["effective"], f"{where}: effective"),
        params=MappingProxyType(dict(params_raw)) if isinstance(params_raw, Mapping) else MappingProxyType({}),
        check=check,
        action_types=actions,
        fix_hint=_text(raw["fix_hint"], f"{where}: fix_hint") if raw.get("fix_hint") is not None else None,
    )
