"""Helpers shared by the test_rules_* files: the shipped rulebook (loaded once) and tiny builders."""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from recommender.rules import DEFAULT_RULES_PATH, Consortium, Organisation, RuleBook, load_rulebook


@lru_cache(maxsize=1)
def shipped_rulebook() -> RuleBook:
    return load_rulebook()


@lru_cache(maxsize=1)
def _shipped_raw() -> dict[str, Any]:
    return yaml.safe_load(DEFAULT_RULES_PATH.read_text(encoding="utf-8"))


def shipped_raw() -> dict[str, Any]:
    """A fresh, mutable copy of the shipped YAML document."""
    return copy.deepcopy(_shipped_raw())


def write_rules(tmp_path: Path, raw: dict[str, Any], name: str = "instruments.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def rule_raw(raw: dict[str, Any], instrument: str, rule_id: str) -> dict[str, Any]:
    """The mutable YAML mapping of one rule in a raw document."""
    for rule in raw["instruments"][instrument]["rules"]:
        if rule["id"] == rule_id:
            return rule
    raise KeyError(rule_id)


def org(country: str, id: str | None = None, **kw: Any) -> Organisation:
    return Organisation(country=country, id=id or f"org-{country}", **kw)


def members(*countries: str, **kw: Any) -> tuple[Organisation, ...]:
    """One member per country code, ids m0, m1, ... (so repeated countries stay distinct)."""
    return tuple(Organisation(country=c, id=f"m{i}", **kw) for i, c in enumerate(countries))


def consortium(instrument: str, *items: Organisation | str, **kw: Any) -> Consortium:
    """A consortium from organisations and/or bare country codes (given ids c0, c1, ...)."""
    built = tuple(
        Organisation(country=x, id=f"c{i}") if isinstance(x, str) else x for i, x in enumerate(items)
    )
    return Consortium(instrument=instrument, members=built, **kw)
