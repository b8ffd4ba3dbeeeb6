"""Apply a rulebook: organisation verdicts and consortium verdicts. Pure functions, no I/O.

An organisation verdict applies the instrument's organisation rules (establishment, control, notes).
A consortium verdict applies them to every member, reports each as one consortium-level line (the worst
member outcome, naming the members concerned), then applies the consortium rules (counts, size, component
origin, design authority) to the members that count. Overall: INELIGIBLE if any rule failed, else
CONDITIONAL if any is conditional, else ELIGIBLE.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from recommender.rules.kinds import ConsortiumContext, Member
from recommender.rules.model import (
    Consortium,
    ConsortiumVerdict,
    Finding,
    Instrument,
    Organisation,
    OrganisationVerdict,
    Rule,
    RuleBook,
    RuleResult,
    Status,
    combine,
)
from recommender.rules.parse import check_against_rulebook, parse_consortium, parse_organisation, validate_organisation

_SEVERITY = {Status.PASSED: 0, Status.CONDITIONAL: 1, Status.FAILED: 2}


def evaluate_organisation(
    rulebook: RuleBook, instrument_id: str, member: Organisation | Mapping[str, object]
) -> OrganisationVerdict:
    """Can this organisation take part in the instrument, and on what terms?

    ``member`` is an :class:`Organisation` or a mapping in the consortium member format. Its role matters:
    a third-country entity may cooperate without eligible costs but fails as a funded participant.
    """
    instrument = rulebook.instrument(instrument_id)
    org = member if isinstance(member, Organisation) else parse_organisation(member)
    validate_organisation(org)
    return _organisation_verdict(rulebook, instrument, org)


def evaluate_consortium(rulebook: RuleBook, consortium: Consortium | Mapping[str, object]) -> ConsortiumVerdict:
    """Check a consortium against its instrument's rules: per-rule results, member verdicts, overall verdict.

    Accepts a :class:`Consortium` or the consortium JSON (already parsed into a dict).
    """
    if not isinstance(consortium, Consortium):
        consortium = parse_consortium(consortium)
    instrument = check_against_rulebook(rulebook, consortium)
    action = consortium.action_type or instrument.default_action_type
    verdicts = tuple(_organisation_verdict(rulebook, instrument, m) for m in consortium.members)
    ctx = ConsortiumContext(
        consortium=consortium,
        members=tuple(
            Member(v.organisation, v, v.organisation.role not in instrument.non_counting_roles) for v in verdicts
        ),
        eligible_label=instrument.eligible_label,
    )
    results: list[RuleResult] = []
    for rule in instrument.organisation_rules:
        aggregated = _aggregate(rule, verdicts)
        if aggregated is not None:
            results.append(aggregated)
    for rule in instrument.consortium_rules:
        if rule.applies_to(action):
            finding = rule.check.check(ctx)
            if finding is not None:
                results.append(_result(rule, finding))
    return ConsortiumVerdict(
        instrument=instrument.id,
        action_type=action,
        verdict=combine(r.status for r in results),
        results=tuple(results),
        members=verdicts,
        rules_version=rulebook.version,
        valid_as_of=rulebook.valid_as_of,
    )


def _organisation_verdict(rulebook: RuleBook, instrument: Instrument, org: Organisation) -> OrganisationVerdict:
    results: list[RuleResult] = []
    assumptions: list[str] = []
    counts = True
    for rule in instrument.organisation_rules:
        finding = rule.check.check(org)
        if finding is None:
            continue
        results.append(_result(rule, finding))
        counts = counts and finding.counts and finding.status is not Status.FAILED
        if finding.assumption and finding.assumption not in assumptions:
            assumptions.append(finding.assumption)
    return OrganisationVerdict(
        instrument=instrument.id,
        organisation=org,
        verdict=combine(r.status for r in results),
        results=tuple(results),
        counts=counts,
        assumptions=tuple(assumptions),
        rules_version=rulebook.version,
        valid_as_of=rulebook.valid_as_of,
    )


def _result(rule: Rule, finding: Finding) -> RuleResult:
    return RuleResult(
        rule_id=rule.id,
        kind=rule.kind,
        statement=rule.statement,
        status=finding.status,
        reason=finding.reason,
        citation=finding.citation or rule.citation,
        confidence=finding.confidence or rule.confidence,
        effective=rule.effective,
        fix_hint=None if finding.status is Status.PASSED else (rule.fix_hint or finding.fix_hint),
    )


def _all_pass(n: int) -> str:
    return "passed by the only member concerned" if n == 1 else f"passed by all {n} members concerned"


def _aggregate(rule: Rule, verdicts: Sequence[OrganisationVerdict]) -> RuleResult | None:
    """One consortium line for an organisation rule: the worst member outcome, naming who is concerned."""
    concerned = [(v.organisation, r) for v in verdicts for r in v.results if r.rule_id == rule.id]
    if not concerned:
        return None
    status = max((r.status for _, r in concerned), key=_SEVERITY.__getitem__)
    if status is Status.PASSED:
        return RuleResult(
            rule.id, rule.kind, rule.statement, status, _all_pass(len(concerned)),
            rule.citation, rule.confidence, rule.effective,
        )
    issues = sorted(((o.label, r) for o, r in concerned if r.status is not Status.PASSED), key=lambda x: x[0])
    citations = {(r.citation, r.confidence) for _, r in issues}
    citation, confidence = citations.pop() if len(citations) == 1 else (rule.citation, rule.confidence)
    hints = sorted({r.fix_hint for _, r in issues if r.fix_hint})
    return RuleResult(
        rule_id=rule.id,
        kind=rule.kind,
        statement=rule.statement,
        status=status,
        reason="; ".join(f"{label}: {r.reason}" for label, r in issues),
        citation=citation,
        confidence=confidence,
        effective=rule.effective,
        fix_hint=rule.fix_hint or ("; ".join(hints) if hints else None),
    )
