"""Value types of the rules engine: inputs (organisations, consortia), rules, and verdicts.

Everything here is a frozen dataclass so a loaded rulebook and a computed verdict can be shared and cached
without defensive copies. Country codes are normalised (EL -> GR, UK -> GB) on construction, so every path
into the engine, parsed JSON or hand-built objects, compares like with like.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Protocol

from recommender.catalogue.countries import normalise_country
from recommender.errors import UnknownInstrumentError


class Status(StrEnum):
    """Outcome of one rule: passed, conditional (possible under a stated condition) or failed."""

    PASSED = "passed"
    CONDITIONAL = "conditional"
    FAILED = "failed"


class Verdict(StrEnum):
    """Overall outcome for an organisation or a consortium."""

    ELIGIBLE = "ELIGIBLE"
    CONDITIONAL = "CONDITIONAL"
    INELIGIBLE = "INELIGIBLE"


CONFIDENCE_TAGS: frozenset[str] = frozenset({"T", "S", "M"})
"""T: read in the legal text; S: secondary source; M: from memory, uncertain (see instrument-rules.md)."""


def combine(statuses: Iterable[Status]) -> Verdict:
    """INELIGIBLE if any rule failed, else CONDITIONAL if any is conditional, else ELIGIBLE."""
    seen = set(statuses)
    if Status.FAILED in seen:
        return Verdict.INELIGIBLE
    if Status.CONDITIONAL in seen:
        return Verdict.CONDITIONAL
    return Verdict.ELIGIBLE


def normalise_role(role: object) -> str | None:
    """Roles compare case-insensitively ('thirdParty' == 'thirdparty'); empty means unspecified."""
    if role is None:
        return None
    text = str(role).strip().casefold()
    return text or None


# --------------------------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Organisation:
    """One organisation, alone or as a consortium member.

    ``control_country`` None means unknown: the engine then assumes control from ``country`` and says so.
    Members sharing a non-null ``control_group`` are controlled by the same group and count once for
    independence rules.
    """

    country: str
    id: str | None = None
    name: str | None = None
    control_country: str | None = None
    role: str | None = None
    activity_type: str | None = None
    sme: bool | None = None
    control_group: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "country", normalise_country(self.country))
        object.__setattr__(self, "control_country", normalise_country(self.control_country))
        object.__setattr__(self, "role", normalise_role(self.role))
        if self.activity_type is not None:
            object.__setattr__(self, "activity_type", str(self.activity_type).strip().upper() or None)

    @property
    def label(self) -> str:
        """How reasons name this organisation: its id, else its name, else its country."""
        return self.id or self.name or f"an entity in {self.country}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "country": self.country,
            "control_country": self.control_country,
            "role": self.role,
            "activity_type": self.activity_type,
            "sme": self.sme,
            "control_group": self.control_group,
        }


@dataclass(frozen=True)
class Component:
    """One line of a bill of components: where it originates and what it costs."""

    origin_country: str
    cost: float
    name: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "origin_country", normalise_country(self.origin_country))


@dataclass(frozen=True)
class Consortium:
    """A proposed consortium for one instrument (see :func:`recommender.rules.parse_consortium`)."""

    instrument: str
    members: tuple[Organisation, ...]
    components: tuple[Component, ...] = ()
    product_category: str | None = None
    design_authority: bool | None = None
    action_type: str | None = None
    name: str | None = None


# ---------------------------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class Finding:
    """What one check concludes. ``counts`` says whether an organisation may still count as an eligible
    participant (False for cooperation without eligible costs). ``citation`` / ``confidence`` override the
    rule's own when a specific provision (a derogation, a third-country agreement) decided the outcome."""

    status: Status
    reason: str
    counts: bool = True
    citation: str | None = None
    confidence: str | None = None
    fix_hint: str | None = None
    assumption: str | None = None


class OrganisationCheck(Protocol):
    """A rule kind evaluated on one organisation; None means the rule does not concern it."""

    def check(self, org: Organisation) -> Finding | None: ...


class ConsortiumCheck(Protocol):
    """A rule kind evaluated on a whole consortium (see :class:`recommender.rules.kinds.ConsortiumContext`)."""

    def check(self, ctx: Any) -> Finding | None: ...


@dataclass(frozen=True)
class CountrySet:
    """A named set of ISO-2 codes from the rules file, with where it comes from."""

    name: str
    members: frozenset[str]
    source: str
    confidence: str


@dataclass(frozen=True)
class Rule:
    """One sourced rule: a kind with validated parameters plus its statement, citation and confidence."""

    id: str
    kind: str
    level: str  # "organisation" or "consortium"
    statement: str
    citation: str
    confidence: str
    effective: date
    params: Mapping[str, Any]  # as written in the YAML, for display
    check: Any  # the kind's frozen dataclass (OrganisationCheck or ConsortiumCheck)
    action_types: frozenset[str] | None = None  # None: applies to every action type
    fix_hint: str | None = None

    def applies_to(self, action_type: str | None) -> bool:
        return self.action_types is None or action_type in self.action_types


@dataclass(frozen=True)
class Instrument:
    """A funding instrument: where its participants may be established, its action types and rules."""

    id: str
    name: str
    summary: str
    citation: str
    eligible_countries: frozenset[str]
    eligible_label: str
    rules: tuple[Rule, ...]
    action_types: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    default_action_type: str | None = None
    non_counting_roles: frozenset[str] = frozenset()

    @property
    def organisation_rules(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.level == "organisation")

    @property
    def consortium_rules(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.level == "consortium")


@dataclass(frozen=True)
class RuleBook:
    """The loaded rules file: its version and date, the country sets and the instruments."""

    version: str
    valid_as_of: date
    country_sets: Mapping[str, CountrySet]
    instruments: Mapping[str, Instrument]
    product_categories: Mapping[str, str]
    non_counting_roles: frozenset[str]

    @property
    def instrument_ids(self) -> list[str]:
        return list(self.instruments)

    def instrument(self, instrument_id: str) -> Instrument:
        """The instrument with this id; UnknownInstrumentError lists the known ones otherwise."""
        try:
            return self.instruments[instrument_id]
        except KeyError:
            raise UnknownInstrumentError(instrument_id, self.instrument_ids) from None


# ------------------------------------------------------------------------------------------- verdicts


@dataclass(frozen=True)
class RuleResult:
    """One rule applied: its status and a one-line reason, with the citation that decided it."""

    rule_id: str
    kind: str
    statement: str
    status: Status
    reason: str
    citation: str
    confidence: str
    effective: date
    fix_hint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.rule_id,
            "kind": self.kind,
            "statement": self.statement,
            "status": str(self.status),
            "reason": self.reason,
            "citation": self.citation,
            "confidence": self.confidence,
            "effective": self.effective.isoformat(),
            "fix_hint": self.fix_hint,
        }


@dataclass(frozen=True)
class OrganisationVerdict:
    """Whether one organisation can take part in an instrument, and why.

    ``counts`` says whether it counts as an eligible participant for consortium minima (possibly under a
    condition); an organisation that may only cooperate without eligible costs does not count.
    """

    instrument: str
    organisation: Organisation
    verdict: Verdict
    results: tuple[RuleResult, ...]
    counts: bool
    assumptions: tuple[str, ...]
    rules_version: str
    valid_as_of: date

    @property
    def reasons(self) -> list[str]:
        return [r.reason for r in self.results]

    def to_dict(self) -> dict[str, Any]:
        return {
            "instrument": self.instrument,
            **self.organisation.to_dict(),
            "verdict": str(self.verdict),
            "counts_toward_consortium": self.counts,
            "assumptions": list(self.assumptions),
            "rules": [r.to_dict() for r in self.results],
            "rules_version": self.rules_version,
            "valid_as_of": self.valid_as_of.isoformat(),
        }


@dataclass(frozen=True)
class ConsortiumVerdict:
    """A consortium checked against an instrument: per-rule results, per-member verdicts, overall verdict."""

    instrument: str
    action_type: str | None
    verdict: Verdict
    results: tuple[RuleResult, ...]
    members: tuple[OrganisationVerdict, ...]
    rules_version: str
    valid_as_of: date

    @property
    def failed(self) -> tuple[RuleResult, ...]:
        return tuple(r for r in self.results if r.status is Status.FAILED)

    @property
    def conditional(self) -> tuple[RuleResult, ...]:
        return tuple(r for r in self.results if r.status is Status.CONDITIONAL)

    def result(self, rule_id: str) -> RuleResult:
        """The result of one rule by id (KeyError if that rule was not applied)."""
        for r in self.results:
            if r.rule_id == rule_id:
                return r
        raise KeyError(rule_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "instrument": self.instrument,
            "action_type": self.action_type,
            "verdict": str(self.verdict),
            "rules": [r.to_dict() for r in self.results],
            "members": [m.to_dict() for m in self.members],
            "rules_version": self.rules_version,
            "valid_as_of": self.valid_as_of.isoformat(),
        }
