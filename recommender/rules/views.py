"""Plain-data views of the rulebook (instruments and their sourced rules) for the adapters."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from recommender.rules.model import Instrument, Rule, RuleBook

CONFIDENCE_LABELS = {
    "T": "read in the legal text",
    "S": "secondary source",
    "M": "from memory, uncertain: check before relying on it",
}


def plain(value: Any) -> Any:
    """JSON-ready copy of rule parameters: mappings and sequences recursively, sets sorted, dates ISO."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted(plain(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


def instrument_summary(book: RuleBook, instrument: Instrument) -> dict:
    return {
        "id": instrument.id,
        "name": instrument.name,
        "summary": instrument.summary,
        "citation": instrument.citation,
        "eligible_label": instrument.eligible_label,
        "action_types": dict(instrument.action_types),
        "default_action_type": instrument.default_action_type,
        "rule_count": len(instrument.rules),
        "rules_version": book.version,
        "valid_as_of": book.valid_as_of.isoformat(),
    }


def rule_view(rule: Rule) -> dict:
    return {
        "id": rule.id,
        "kind": rule.kind,
        "level": rule.level,
        "statement": rule.statement,
        "citation": rule.citation,
        "confidence": rule.confidence,
        "confidence_label": CONFIDENCE_LABELS.get(rule.confidence, rule.confidence),
        "effective": rule.effective.isoformat(),
        "action_types": sorted(rule.action_types) if rule.action_types is not None else None,
        "params": plain(rule.params),
        "fix_hint": rule.fix_hint,
    }


def instruments_view(book: RuleBook) -> dict:
    """Every instrument of the rulebook, with the rulebook's version and date."""
    return {
        "rules_version": book.version,
        "valid_as_of": book.valid_as_of.isoformat(),
        "instruments": [instrument_summary(book, i) for i in book.instruments.values()],
    }


def instrument_view(book: RuleBook, instrument_id: str) -> dict:
    """One instrument and its rules (UnknownInstrumentError lists the known ids)."""
    instrument = book.instrument(instrument_id)
    return {
        **instrument_summary(book, instrument),
        "eligible_countries": sorted(instrument.eligible_countries),
        "non_counting_roles": sorted(instrument.non_counting_roles),
        "rules": [rule_view(r) for r in instrument.rules],
    }
