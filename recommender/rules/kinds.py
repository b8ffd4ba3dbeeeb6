"""The rule kinds: generic, parameterised checks that the YAML composes into instruments.

Changing a threshold or adding an instrument is a YAML change; only a genuinely new *kind* of rule needs
code here. Each kind is a frozen dataclass built by ``from_params`` (strict, see :mod:`params`) and
evaluated by ``check``. Organisation kinds look at one organisation; consortium kinds look at a
:class:`ConsortiumContext`, where each member already carries its organisation verdict.

Count rules distinguish members that count unconditionally (ELIGIBLE) from members that count only
under a condition (e.g. an EU subsidiary controlled from Korea, pending Member State guarantees): a
minimum met only thanks to the latter is *conditional*, naming who must meet which condition.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from recommender.rules.model import (
    Component,
    Consortium,
    Finding,
    Organisation,
    OrganisationVerdict,
    Status,
    Verdict,
)
from recommender.rules.params import ParamReader

ORGANISATION = "organisation"
CONSORTIUM = "consortium"

SHARE_TOLERANCE = 1e-9  # relative: 35.0 of 100.0 is exactly 35%, whatever the float rounding


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word[:-1] + 'ies' if word.endswith('y') else word + 's'}"


def _names(orgs: Iterable[Organisation]) -> str:
    """Organisation labels, sorted so that reasons do not depend on member order."""
    return ", ".join(sorted(o.label for o in orgs))


# ------------------------------------------------------------------------------ organisation kinds


@dataclass(frozen=True)
class ConditionalCountries:
    """Countries whose entities may take part only under a stated condition."""

    countries: frozenset[str]
    condition: str
    counts: bool
    citation: str | None
    confidence: str | None


@dataclass(frozen=True)
class EntityEstablishment:
    """Where the organisation is established decides whether it may be a (funded) participant.

    ``outside`` says what happens elsewhere: ``failed``, or ``conditional`` for cooperation without
    eligible costs. With ``conditional``, members in a ``recipient_roles`` role still fail, because that
    role is precisely the one they cannot hold.
    """

    kind: ClassVar[str] = "entity_establishment"
    level: ClassVar[str] = ORGANISATION

    countries: frozenset[str]
    label: str
    conditional: tuple[ConditionalCountries, ...]
    outside_status: Status
    outside_reason: str
    recipient_roles: frozenset[str]
    outside_citation: str | None
    outside_confidence: str | None

    @classmethod
    def from_params(cls, r: ParamReader) -> EntityEstablishment:
        countries, label = r.countries("countries", None) or (r.eligible, r.eligible_label)
        conditional = []
        for sub in r.nested_list("conditional"):
            codes, _ = sub.countries("countries")  # type: ignore[misc]
            citation, confidence = sub.citation_override()
            conditional.append(
                ConditionalCountries(codes, sub.text("condition"), sub.boolean("counts", True), citation, confidence)
            )
            sub.done()
        outside = r.nested("outside")
        assert outside is not None
        status = outside.status("status", allowed=(Status.FAILED, Status.CONDITIONAL))
        reason = outside.text("reason")
        roles = outside.roles("recipient_roles", frozenset())
        citation, confidence = outside.citation_override()
        outside.done()
        return cls(countries, label, tuple(conditional), status, reason, roles or frozenset(), citation, confidence)

    def check(self, org: Organisation) -> Finding:
        c = org.country
        if c in self.countries:
            return Finding(Status.PASSED, f"established in {c} ({self.label})")
        for cond in self.conditional:
            if c in cond.countries:
                return Finding(
                    Status.CONDITIONAL,
                    f"established in {c}: {cond.condition.replace('{country}', c)}",
                    counts=cond.counts,
                    citation=cond.citation,
                    confidence=cond.confidence,
                    fix_hint=f"check that the condition holds for {org.label}, or replace it with an entity "
                    f"established in {self.label}",
                )
        where = f"established in {c}, outside {self.label}"
        if self.outside_status is Status.CONDITIONAL and org.role not in self.recipient_roles:
            return Finding(
                Status.CONDITIONAL,
                f"{where}: {self.outside_reason}",
                counts=False,
                citation=self.outside_citation,
                confidence=self.outside_confidence,
            )
        if self.outside_status is Status.CONDITIONAL:
            reason = f"{where}: cannot take part as {org.role}; {self.outside_reason}"
            hint = (
                f"give {org.label} a role without funding (e.g. associated partner) "
                f"or replace it with an entity established in {self.label}"
            )
        else:
            reason = f"{where}: {self.outside_reason}"
            hint = f"replace {org.label} with an entity established in {self.label}"
        return Finding(Status.FAILED, reason, counts=False, fix_hint=hint)


@dataclass(frozen=True)
class EntityControl:
    """Who controls the organisation: control from outside ``allowed`` fails, or is conditional where a
    ``derogation`` (e.g. Member State guarantees) exists. Concerns only entities established in
    ``applies_to`` (default: ``allowed``); roles in ``exempt_roles`` are exempt.

    An unknown control country is taken to be the country of establishment, and the finding says so.
    """

    kind: ClassVar[str] = "entity_control"
    level: ClassVar[str] = ORGANISATION

    allowed: frozenset[str]
    label: str
    applies_to: frozenset[str]
    derogation: str | None
    derogation_citation: str | None
    derogation_confidence: str | None
    exempt_roles: frozenset[str]

    @classmethod
    def from_params(cls, r: ParamReader) -> EntityControl:
        allowed, label = r.countries("allowed")  # type: ignore[misc]
        applies = r.countries("applies_to", None)
        derogation = r.nested("derogation", None)
        condition = citation = confidence = None
        if derogation is not None:
            condition = derogation.text("condition")
            citation, confidence = derogation.citation_override()
            derogation.done()
        exempt = r.roles("exempt_roles", frozenset())
        return cls(
            allowed, label, applies[0] if applies else allowed, condition, citation, confidence, exempt or frozenset()
        )

    def check(self, org: Organisation) -> Finding | None:
        if org.country not in self.applies_to:
            return None  # the establishment rule already decides about such entities
        if org.role in self.exempt_roles:
            return Finding(Status.PASSED, f"exempt from the control rule as {org.role}")
        assumption = None
        control = org.control_country
        if control is None:
            control = org.country
            assumption = f"control_country unknown: assumed controlled from its own country ({org.country})"
        how = f"controlled from {control}" + (" (assumed: control_country unknown)" if assumption else "")
        if control in self.allowed:
            return Finding(Status.PASSED, how, assumption=assumption)
        if self.derogation is not None:
            return Finding(
                Status.CONDITIONAL,
                f"{how}, outside {self.label}: {self.derogation}",
                citation=self.derogation_citation,
                confidence=self.derogation_confidence,
                assumption=assumption,
                fix_hint=f"obtain the guarantees for {org.label}, or replace it with an entity controlled "
                f"from {self.label}",
            )
        return Finding(
            Status.FAILED,
            f"{how}, outside {self.label}",
            counts=False,
            assumption=assumption,
            fix_hint=f"replace {org.label} with an entity controlled from {self.label}",
        )


@dataclass(frozen=True)
class EntityNote:
    """A requirement the engine cannot verify (e.g. KOITA accreditation): passes, carrying the note.

    Concerns organisations in ``countries`` (default: all) whose activity type is in ``activity_types``
    (default: all; an unknown activity type is concerned too, since it might be one of them).
    """

    kind: ClassVar[str] = "entity_note"
    level: ClassVar[str] = ORGANISATION

    note: str
    countries: frozenset[str] | None
    activity_types: frozenset[str] | None

    @classmethod
    def from_params(cls, r: ParamReader) -> EntityNote:
        countries = r.countries("countries", None)
        types = r.strings("activity_types", None)
        return cls(
            r.text("note"),
            countries[0] if countries else None,
            frozenset(t.upper() for t in types) if types else None,
        )

    def check(self, org: Organisation) -> Finding | None:
        if self.countries is not None and org.country not in self.countries:
            return None
        if self.activity_types is not None and org.activity_type not in (None, *self.activity_types):
            return None
        return Finding(Status.PASSED, f"note (not verified): {self.note}")


# -------------------------------------------------------------------------------- consortium kinds


@dataclass(frozen=True)
class Member:
    """A consortium member with its organisation verdict."""

    org: Organisation
    verdict: OrganisationVerdict
    counting_role: bool  # False for roles that never count toward composition (e.g. thirdParty)

    @property
    def sure(self) -> bool:
        """Counts as eligible without any condition."""
        return self.verdict.verdict is Verdict.ELIGIBLE

    @property
    def maybe(self) -> bool:
        """Counts as eligible, possibly under a condition it must still meet."""
        return self.verdict.counts


@dataclass(frozen=True)
class ConsortiumContext:
    consortium: Consortium
    members: tuple[Member, ...]
    eligible_label: str


@dataclass(frozen=True)
class RoleFilter:
    """Optional restriction of a count rule to members with certain roles (e.g. contracting authorities).

    When no member has such a role, the rule takes status ``if_none`` (failed unless set).
    """

    roles: frozenset[str] | None
    if_none: Status

    @classmethod
    def read(cls, r: ParamReader) -> RoleFilter:
        return cls(r.roles("roles", None), r.status("if_none", Status.FAILED))

    def select(self, ctx: ConsortiumContext) -> list[Member]:
        """The members a count rule looks at: those in counting roles, or those with the given roles."""
        if self.roles is None:
            return [m for m in ctx.members if m.counting_role]
        return [m for m in ctx.members if m.org.role in self.roles]

    def describe(self) -> str:
        return "" if self.roles is None else f" with role {' or '.join(sorted(self.roles))}"

    def none_finding(self, statement_hint: str) -> Finding | None:
        if self.roles is None:
            return None
        return Finding(
            self.if_none,
            f"no member{self.describe()} declared ({statement_hint})",
            fix_hint=f"declare the members{self.describe()}",
        )


def _threshold(
    ctx: ConsortiumContext,
    roles: RoleFilter,
    measure: Callable[[list[Organisation]], int],
    need: int,
    what: str,
    hint: Callable[[int], str],
) -> Finding:
    """At least ``need`` of ``measure`` over the eligible members; conditional if met only thanks to
    members that count under a condition."""
    pool = roles.select(ctx)
    if not pool:
        absent = roles.none_finding(f"needs {what}: at least {need}")
        if absent is not None:
            return absent
    sure = measure([m.org for m in pool if m.sure])
    if sure >= need:
        return Finding(Status.PASSED, f"{what}{roles.describe()}: {sure} (at least {need} required)")
    maybe_members = [m for m in pool if m.maybe]
    maybe = measure([m.org for m in maybe_members])
    if maybe >= need:
        pending = [m.org for m in maybe_members if not m.sure]
        return Finding(
            Status.CONDITIONAL,
            f"{what}{roles.describe()}: {maybe} (at least {need} required) only if the conditions on "
            f"{_names(pending)} are met; {sure} without them",
            fix_hint=f"meet the conditions for {_names(pending)}, or {hint(need - sure)}",
        )
    return Finding(
        Status.FAILED,
        f"{what}{roles.describe()}: only {maybe} (at least {need} required)",
        fix_hint=hint(need - maybe),
    )


@dataclass(frozen=True)
class MinEntities:
    """At least ``min`` eligible entities (thirdParty-like roles excluded unless ``roles`` says)."""

    kind: ClassVar[str] = "min_entities"
    level: ClassVar[str] = CONSORTIUM

    min: int
    roles: RoleFilter

    @classmethod
    def from_params(cls, r: ParamReader) -> MinEntities:
        return cls(r.integer("min", minimum=1), RoleFilter.read(r))

    def check(self, ctx: ConsortiumContext) -> Finding:
        return _threshold(
            ctx,
            self.roles,
            len,
            self.min,
            "eligible entities",
            lambda short: f"add {_plural(short, 'eligible entity')}{self.roles.describe()} "
            f"established in {ctx.eligible_label}",
        )


@dataclass(frozen=True)
class MinDistinctCountries:
    """Eligible entities established in at least ``min`` different countries of ``countries``."""

    kind: ClassVar[str] = "min_distinct_countries"
    level: ClassVar[str] = CONSORTIUM

    min: int
    countries: frozenset[str]
    label: str
    roles: RoleFilter

    @classmethod
    def from_params(cls, r: ParamReader) -> MinDistinctCountries:
        countries, label = r.countries("countries", None) or (r.eligible, r.eligible_label)
        return cls(r.integer("min", minimum=1), countries, label, RoleFilter.read(r))

    def check(self, ctx: ConsortiumContext) -> Finding:
        def measure(orgs: list[Organisation]) -> int:
            return len({o.country for o in orgs if o.country in self.countries})

        return _threshold(
            ctx,
            self.roles,
            measure,
            self.min,
            f"distinct countries in {self.label}",
            lambda short: f"add an eligible entity{self.roles.describe()} from "
            f"{_plural(short, 'more country')} in {self.label}",
        )


@dataclass(frozen=True)
class MinEntitiesFrom:
    """At least ``min`` eligible entities established in ``countries`` (e.g. one in a Member State)."""

    kind: ClassVar[str] = "min_entities_from"
    level: ClassVar[str] = CONSORTIUM

    min: int
    countries: frozenset[str]
    label: str
    roles: RoleFilter

    @classmethod
    def from_params(cls, r: ParamReader) -> MinEntitiesFrom:
        countries, label = r.countries("countries")  # type: ignore[misc]
        return cls(r.integer("min", minimum=1), countries, label, RoleFilter.read(r))

    def check(self, ctx: ConsortiumContext) -> Finding:
        return _threshold(
            ctx,
            self.roles,
            lambda orgs: sum(o.country in self.countries for o in orgs),
            self.min,
            f"eligible entities established in {self.label}",
            lambda short: f"add {_plural(short, 'eligible entity')}{self.roles.describe()} "
            f"established in {self.label}",
        )


def max_distinct_countries(groups: Sequence[frozenset[str]]) -> int:
    """The most distinct countries obtainable by picking one country per group (bipartite matching).

    Used for "at least N independent entities in at least K countries": each control group contributes
    one representative, and the representatives should cover as many countries as possible.
    """
    owner: dict[str, int] = {}

    def assign(g: int, seen: set[str]) -> bool:
        for country in sorted(groups[g]):
            if country in seen:
                continue
            seen.add(country)
            if country not in owner or assign(owner[country], seen):
                owner[country] = g
                return True
        return False

    return sum(assign(g, set()) for g in range(len(groups)))


@dataclass(frozen=True)
class MinIndependent:
    """At least ``min`` mutually independent eligible entities, in at least ``min_countries`` countries.

    Members with the same non-null ``control_group`` are controlled by the same group and count once.
    """

    kind: ClassVar[str] = "min_independent"
    level: ClassVar[str] = CONSORTIUM

    min: int
    min_countries: int
    roles: RoleFilter

    @classmethod
    def from_params(cls, r: ParamReader) -> MinIndependent:
        return cls(r.integer("min", minimum=1), r.integer("min_countries", minimum=1, default=1), RoleFilter.read(r))

    @staticmethod
    def groups(orgs: list[Organisation]) -> list[frozenset[str]]:
        by_group: dict[object, set[str]] = {}
        for i, o in enumerate(orgs):
            by_group.setdefault(o.control_group if o.control_group is not None else ("own", i), set()).add(o.country)
        return [frozenset(c) for c in by_group.values()]

    def check(self, ctx: ConsortiumContext) -> Finding:
        pool = self.roles.select(ctx)
        if not pool:
            absent = self.roles.none_finding(f"needs at least {self.min} independent entities")
            if absent is not None:
                return absent
        required = f"at least {self.min}" + (f" in {self.min_countries} countries" if self.min_countries > 1 else "")

        def measure(orgs: list[Organisation]) -> tuple[bool, str]:
            groups = self.groups(orgs)
            n, k = len(groups), max_distinct_countries(groups)
            text = (
                f"independent eligible entities{self.roles.describe()}: {n}, in {k} "
                f"{'country' if k == 1 else 'countries'} ({required} required)"
            )
            return n >= self.min and k >= self.min_countries, text

        met, text = measure([m.org for m in pool if m.sure])
        if met:
            return Finding(Status.PASSED, text)
        met, text = measure([m.org for m in pool if m.maybe])
        hint = (
            f"add an eligible entity{self.roles.describe()} not controlled by the same group as another member"
            + (", from a country not yet represented" if self.min_countries > 1 else "")
        )
        if met:
            pending = [m.org for m in pool if m.maybe and not m.sure]
            return Finding(
                Status.CONDITIONAL,
                f"{text} only if the conditions on {_names(pending)} are met",
                fix_hint=f"meet the conditions for {_names(pending)}, or {hint}",
            )
        return Finding(Status.FAILED, text, fix_hint=hint)


@dataclass(frozen=True)
class MaxEntities:
    """At most ``max`` members in counting roles, eligible or not."""

    kind: ClassVar[str] = "max_entities"
    level: ClassVar[str] = CONSORTIUM

    max: int

    @classmethod
    def from_params(cls, r: ParamReader) -> MaxEntities:
        return cls(r.integer("max", minimum=1))

    def check(self, ctx: ConsortiumContext) -> Finding:
        n = sum(m.counting_role for m in ctx.members)
        if n <= self.max:
            return Finding(Status.PASSED, f"{n} entities (at most {self.max} allowed)")
        return Finding(
            Status.FAILED,
            f"{n} entities (at most {self.max} allowed)",
            fix_hint=f"remove {n - self.max} entities, or split the work into separate actions",
        )


def outside_share(components: Iterable[Component], inside: frozenset[str]) -> float | None:
    """Share of component cost originating outside ``inside``; None without a positive total cost."""
    total = outside = 0.0
    for c in components:
        total += c.cost
        if c.origin_country not in inside:
            outside += c.cost
    return outside / total if total > 0 else None


@dataclass(frozen=True)
class ComponentOriginShare:
    """At most ``max_share`` of the end product's component cost may originate outside ``inside``.

    Without a bill of components the rule cannot be checked and takes status ``if_missing``.
    """

    kind: ClassVar[str] = "component_origin_share"
    level: ClassVar[str] = CONSORTIUM

    max_share: float
    inside: frozenset[str]
    label: str
    if_missing: Status

    @classmethod
    def from_params(cls, r: ParamReader) -> ComponentOriginShare:
        inside, label = r.countries("inside")  # type: ignore[misc]
        return cls(r.share("max_share"), inside, label, r.status("if_missing", Status.CONDITIONAL))

    def check(self, ctx: ConsortiumContext) -> Finding:
        components = ctx.consortium.components
        share = outside_share(components, self.inside)
        limit = f"at most {self.max_share * 100:g}% allowed"
        if share is None:
            return Finding(
                self.if_missing,
                f"no bill of components with a positive total cost: cannot check that at most "
                f"{self.max_share * 100:g}% of component cost is from outside {self.label}",
                fix_hint="declare the components (origin_country, cost) of the end product",
            )
        if share <= self.max_share * (1 + SHARE_TOLERANCE):
            return Finding(Status.PASSED, f"{share:.1%} of component cost from outside {self.label} ({limit})")
        origins = sorted({c.origin_country for c in components if c.origin_country not in self.inside})
        return Finding(
            Status.FAILED,
            f"{share:.1%} of component cost from outside {self.label} ({limit})",
            fix_hint=f"replace components from {', '.join(origins)} with ones from {self.label} until at most "
            f"{self.max_share * 100:g}% of component cost is from outside",
        )


@dataclass(frozen=True)
class DesignAuthority:
    """For products in ``categories`` (default: every product) the recipients must hold design authority,
    free of restrictions from non-associated third countries.

    Declared ``design_authority: false`` fails; undeclared is conditional. A product whose category is not
    declared is conditional unless design authority is declared anyway.
    """

    kind: ClassVar[str] = "design_authority"
    level: ClassVar[str] = CONSORTIUM

    categories: frozenset[str] | None

    @classmethod
    def from_params(cls, r: ParamReader) -> DesignAuthority:
        return cls(r.product_categories("categories", None))

    def check(self, ctx: ConsortiumContext) -> Finding:
        category = ctx.consortium.product_category
        declared = ctx.consortium.design_authority
        hint = "secure design authority free of third-country restrictions and declare design_authority: true"
        if self.categories is not None and category is not None and category not in self.categories:
            return Finding(Status.PASSED, f"not required for product category {category}")
        if declared is True:
            return Finding(Status.PASSED, "design authority declared")
        scope = "this product" if self.categories is None else f"product category {category}"
        if self.categories is not None and category is None:
            return Finding(
                Status.CONDITIONAL,
                f"product category not declared; design authority is required for "
                f"{', '.join(sorted(self.categories))}",
                fix_hint="declare product_category (and design_authority if it is one of those)",
            )
        if declared is False:
            return Finding(
                Status.FAILED, f"design authority is required for {scope} but declared absent", fix_hint=hint
            )
        return Finding(Status.CONDITIONAL, f"design authority is required for {scope} and not declared", fix_hint=hint)


@dataclass(frozen=True)
class Condition:
    """A consortium-level condition the engine cannot verify from the inputs: always conditional."""

    kind: ClassVar[str] = "condition"
    level: ClassVar[str] = CONSORTIUM

    condition: str

    @classmethod
    def from_params(cls, r: ParamReader) -> Condition:
        return cls(r.text("condition"))

    def check(self, ctx: ConsortiumContext) -> Finding:
        return Finding(Status.CONDITIONAL, self.condition)


@dataclass(frozen=True)
class Note:
    """A consortium-level remark that does not change the verdict (e.g. a scope restriction)."""

    kind: ClassVar[str] = "note"
    level: ClassVar[str] = CONSORTIUM

    note: str

    @classmethod
    def from_params(cls, r: ParamReader) -> Note:
        return cls(r.text("note"))

    def check(self, ctx: ConsortiumContext) -> Finding:
        return Finding(Status.PASSED, f"note (not verified): {self.note}")


KINDS: dict[str, type] = {
    k.kind: k
    for k in (
        EntityEstablishment,
        EntityControl,
        EntityNote,
        MinEntities,
        MinDistinctCountries,
        MinEntitiesFrom,
        MinIndependent,
        MaxEntities,
        ComponentOriginShare,
        DesignAuthority,
        Condition,
        Note,
    )
}
"""Every rule kind the YAML may use, by name."""
