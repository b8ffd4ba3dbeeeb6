"""Funding-instrument rules engine: sourced participation rules as versioned YAML, verdicts as code.

Typical use::

    from recommender.rules import load_rulebook, evaluate_consortium, parse_consortium
    book = load_rulebook()
    verdict = evaluate_consortium(book, parse_consortium(json.load(f), book))
    print(verdict.verdict, verdict.to_dict())
"""

from recommender.rules.engine import evaluate_consortium, evaluate_organisation
from recommender.rules.kinds import KINDS, outside_share
from recommender.rules.loader import DEFAULT_RULES_PATH, load_rulebook, parse_rulebook
from recommender.rules.model import (
    Component,
    Consortium,
    ConsortiumVerdict,
    CountrySet,
    Instrument,
    Organisation,
    OrganisationVerdict,
    Rule,
    RuleBook,
    RuleResult,
    Status,
    Verdict,
)
from recommender.rules.parse import parse_consortium, parse_organisation

__all__ = [
    "DEFAULT_RULES_PATH",
    "KINDS",
    "Component",
    "Consortium",
    "ConsortiumVerdict",
    "CountrySet",
    "Instrument",
    "Organisation",
    "OrganisationVerdict",
    "Rule",
    "RuleBook",
    "RuleResult",
    "Status",
    "Verdict",
    "evaluate_consortium",
    "evaluate_organisation",
    "load_rulebook",
    "outside_share",
    "parse_consortium",
    "parse_organisation",
    "parse_rulebook",
]
