"""Request and response models of the HTTP API (boundary types: the core never sees them)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, model_validator

from recommender.catalogue.useradd import ID_PATTERN as ORG_ID_PATTERN


def _integral_float_to_int(value: Any) -> Any:
    """JSON has one number type: 68.0 is the integer 68 (JSON Schema agrees); 68.5 stays a float and is refused."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


WholeNumber = Annotated[int, BeforeValidator(_integral_float_to_int)]
PriorityIdText = Annotated[str, StringConstraints(min_length=1, max_length=64)]

Region = Literal["EU", "KR", "ANY"]
Kind = Literal["company", "research", "university", "public", "any"]
KIND_DESCRIPTION = (
    "Kind of partner. Default (absent): every kind except bodies that fund or administer research (agencies, "
    "ministries, research councils); 'public' and 'any' include them."
)
INCLUDE_KNOWN_DESCRIPTION = "Also rank organisations the query has already worked with (flagged, with joint projects)."
ActivityType = Literal["PRC", "REC", "HES", "PUB", "OTH"]
SizeClass = Literal["large", "mid-cap", "sme"]
OrgRegion = Literal["EU27", "EEA-EFTA", "UA", "KR", "OTHER", "EUROPE"]
FeedbackVerdict = Literal["contacted", "accepted", "declined", "irrelevant"]


ID_PATTERN = ORG_ID_PATTERN.pattern
NON_BLANK = r"[^\s\x1c-\x1f\x85]"  # at least one character that is not white space in Python or JSON Schema
SHA256_PATTERN = r"^[0-9a-f]{64}$"

EXAMPLE_ORG: dict[str, Any] = {
    "id": "kr-example-drones",
    "name": "Example Drone Systems Co.",
    "short_name": "EDS",
    "country": "KR",
    "control_country": "KR",
    "activity_type": "PRC",
    "sme": True,
    "size_class": "sme",
    "city": "Daejeon",
    "description": "Designs autonomous unmanned aerial vehicles and drone swarm control software for "
    "surveillance and inspection.",
    "technology_areas": ["unmanned", "ai"],
}


# ---- response examples (shown in /docs) ---------------------------------------------------------------------
_ORG_RECORD: dict[str, Any] = {**{k: v for k, v in EXAMPLE_ORG.items() if k != "technology_areas"}, "region": "KR",
               "technology_areas": "unmanned;ai", "sources": "user"}
EXAMPLE_PAGE: dict[str, Any] = {"total": 1, "limit": 20, "offset": 0,
                "items": [{**_ORG_RECORD, "has_profile": True, "priority_score": 0.81}]}
EXAMPLE_PROFILE: dict[str, Any] = {
    "organisation": _ORG_RECORD,
    "has_profile": True,
    "profile_basis": "own capability description",
    "priorities": [{"priority": "unmanned", "score": 0.81, "declared": True, "terms": ["drone swarm", "unmanned"],
                    "projects": []}],
    "characteristic_projects": [],
    "taxonomy_version": "1.0.0",
}
_RECOMMENDATION: dict[str, Any] = {
    "rank": 1, "org_id": "999993953", "name": "THALES", "country": "FR", "region": "EU27", "activity_type": "PRC",
    "score": 0.71,
    "contributions": [{"feature": "semantic_similarity", "label": "capability profiles are similar", "value": 0.12}],
    "relevant_projects": [{"id": "101121234", "title": "Autonomous swarms for maritime surveillance",
                           "similarity": 0.64}],
    "shared_partners": [{"id": "999984059", "name": "FRAUNHOFER GESELLSCHAFT"}],
    "prior_joint_projects": 0,
    "eligibility": {"instrument": "edf-research", "verdict": "ELIGIBLE", "reasons": ["established in FR"],
                    "citations": ["Regulation (EU) 2021/697, Art 9(1)-(3)"]},
}
EXAMPLE_RECOMMENDATIONS: dict[str, Any] = {
    "query": {"org_id": "kr-hanwha-aerospace", "text_sha256": None, "region": "EU", "instrument": "edf-research",
              "priority": "unmanned", "k": 10, "keep_ineligible": False, "include_known": False, "kind": None},
    "model_version": "ranker-2022-3f2a9c1b0d",
    "results": [_RECOMMENDATION],
    "left_out": {"known_partners": 0, "funding_bodies": 41, "without_priority_evidence": 30212},
}
EXAMPLE_PAIRINGS: dict[str, Any] = {
    "priority": "unmanned", "instrument": None, "k": 20, "model_version": "ranker-2022-3f2a9c1b0d", "cached": False,
    "pairings": [{"rank": 1, "korean": {"id": "kr-hanwha-aerospace", "name": "Hanwha Aerospace", "country": None},
                  "european": {"id": "999993953", "name": "THALES", "country": "FR"}, "score": 0.74,
                  "eligibility": None}],
}
_RULE_RESULT: dict[str, Any] = {"id": "edf-min-entities", "kind": "min_entities",
                "statement": "An action is carried out by at least 3 eligible entities.", "status": "passed",
                "reason": "3 eligible entities (at least 3 needed)",
                "citation": "Regulation (EU) 2021/697, Art 10(4)", "confidence": "M", "effective": "2021-01-01",
                "fix_hint": None}
EXAMPLE_VERDICT: dict[str, Any] = {
    "instrument": "edf-research", "action_type": "standard", "verdict": "ELIGIBLE", "rules": [_RULE_RESULT],
    "members": [{"instrument": "edf-research", "id": None, "name": "Lead SA", "country": "FR",
                 "control_country": None, "role": "coordinator", "activity_type": None, "sme": None,
                 "control_group": None, "verdict": "ELIGIBLE", "counts_toward_consortium": True,
                 "assumptions": ["control assumed from the country of establishment"], "rules": [],
                 "rules_version": "1.0.0", "valid_as_of": "2026-01-01"}],
    "rules_version": "1.0.0", "valid_as_of": "2026-01-01",
}
EXAMPLE_PROPOSAL: dict[str, Any] = {
    "lead": "kr-hanwha-aerospace", "instrument": "horizon-europe", "priority": "unmanned", "size": 4, "pool_size": 40,
    "members": [{"org_id": "kr-hanwha-aerospace", "name": "Hanwha Aerospace", "country": "KR",
                 "activity_type": "PRC", "role": "coordinator", "lead_score": None, "reason": "lead organisation"},
                {"org_id": "999993953", "name": "THALES", "country": "FR", "activity_type": "PRC",
                 "role": "participant", "lead_score": 0.71, "reason": "highest pair scores with the members so far"}],
    "total_score": 2.9, "verdict": EXAMPLE_VERDICT, "rules_met": ["edf-min-entities"], "rules_conditional": [],
    "rules_failed": [], "notes": [], "model_version": "ranker-2022-3f2a9c1b0d",
}
_INSTRUMENT: dict[str, Any] = {"id": "edf-research", "name": "European Defence Fund, research actions",
               "summary": "EU grants for collaborative defence research.", "citation": "Regulation (EU) 2021/697",
               "eligible_label": "EU27 or EDF-ASSOCIATED",
               "action_types": {"standard": "collaborative research action (the usual case)"},
               "default_action_type": "standard", "rule_count": 5, "rules_version": "1.0.0",
               "valid_as_of": "2026-01-01"}
EXAMPLE_INSTRUMENTS: dict[str, Any] = {"rules_version": "1.0.0", "valid_as_of": "2026-01-01",
                                      "instruments": [_INSTRUMENT]}
EXAMPLE_INSTRUMENT: dict[str, Any] = {
    **_INSTRUMENT, "eligible_countries": ["AT", "BE", "FR"], "non_counting_roles": ["thirdParty"],
    "rules": [{"id": "edf-min-entities", "kind": "min_entities", "level": "consortium",
               "statement": "An action is carried out by at least 3 eligible entities.",
               "citation": "Regulation (EU) 2021/697, Art 10(4)", "confidence": "M",
               "confidence_label": "from memory, uncertain: check before relying on it",
               "effective": "2021-01-01", "action_types": ["standard"], "params": {"min": 3}, "fix_hint": None}],
}
EXAMPLE_FEEDBACK_OUT: dict[str, Any] = {
    "id": 1, "created_at": "2026-11-26T16:00:00Z", "query_org_id": "kr-hanwha-aerospace", "query_text_sha256": None,
    "candidate_org_id": "999993953", "verdict": "contacted", "model_version": "ranker-2022-3f2a9c1b0d",
}
EXAMPLE_MODEL: dict[str, Any] = {
    "model_version": "ranker-2022-3f2a9c1b0d", "kind": "learned", "created_at": "2026-11-26T15:00:00+00:00",
    "loaded_at": "2026-11-26T16:00:00Z", "train_year": 2022, "eval_year": 2023, "primary_metric": "recall@20",
    "primary_score": 0.31, "encoder_model": "all-MiniLM-L6-v2", "encoder_fingerprint": "4819ac1a242796cd",
    "taxonomy_version": "1.0.0", "rules_version": "1.0.0", "data_fingerprint": "0f1e2d3c4b5a6978",
    "summary": {"new-partners": {"recall@20": 0.31, "ndcg@10": 0.18}},
    "metrics": {"new-partners": {"rankers": {"learned": {"recall@20": 0.31}}}},
}


# ---- organisations -----------------------------------------------------------------------------------------
class Organisation(BaseModel):
    """A catalogue organisation as stored (curated, CORDIS-derived or added by a user)."""

    id: str = Field(examples=["kr-hanwha-aerospace"])
    name: str | None = Field(None, examples=["Hanwha Aerospace"])
    short_name: str | None = None
    country: str | None = Field(None, description="ISO 3166-1 alpha-2 (GR, GB).", examples=["KR"])
    region: str | None = Field(None, description="EU27, EEA-EFTA, UA, KR or OTHER.", examples=["KR"])
    activity_type: str | None = Field(None, description="PRC, REC, HES, PUB or OTH.", examples=["PRC"])
    sme: bool | None = None
    control_country: str | None = None
    size_class: str | None = None
    city: str | None = None
    description: str | None = None
    technology_areas: str | None = Field(None, description="';'-separated priority ids.", examples=["unmanned;ai"])
    sources: str | None = Field(None, examples=["curated"])


class OrganisationSummary(Organisation):
    has_profile: bool
    priority_score: float | None = Field(None, description="Score in the requested priority (0-1), if any.")
    kind: str = Field(..., description="company, research, university, public or funding", examples=["company"])
    edf_participations: int = Field(..., ge=0, description="European Defence Fund participations on record.")


class OrganisationPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_PAGE]})

    total: int = Field(description="Matching organisations before pagination.", examples=[42])
    limit: int = Field(examples=[20])
    offset: int = Field(examples=[0])
    items: list[OrganisationSummary]


class EvidenceProject(BaseModel):
    id: str
    title: str
    score: float


class PriorityEvidence(BaseModel):
    priority: str = Field(examples=["unmanned"])
    score: float = Field(examples=[0.83])
    declared: bool = Field(description="Declared by a curator or the user (floored at 0.6).")
    terms: list[str] = Field(examples=[["drone", "swarm"]])
    projects: list[EvidenceProject]


class CharacteristicProject(BaseModel):
    id: str
    programme: str | None = None
    year: int | None = None
    title: str | None = None
    similarity: float


class OrganisationProfile(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_PROFILE]})

    organisation: Organisation
    has_profile: bool
    profile_basis: str = Field(examples=["own capability description; 12 projects with text"])
    priorities: list[PriorityEvidence]
    characteristic_projects: list[CharacteristicProject]
    taxonomy_version: str


class OrganisationIn(BaseModel):
    """A new organisation. Validated like `corridor data add` rows; embedded on write and rankable at once."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [EXAMPLE_ORG]})

    id: str = Field(pattern=ID_PATTERN, description="Letters, digits, '.', '_' or '-' (at most 80).")
    name: str = Field(min_length=1, max_length=300, pattern=NON_BLANK)
    country: str = Field(min_length=2, max_length=2, description="ISO 3166-1 alpha-2; EL and UK accepted.")
    description: str = Field(
        min_length=1, max_length=5000, pattern=NON_BLANK,
        description="What the organisation makes and does (never whom it works with).",
    )
    short_name: str | None = Field(None, max_length=100)
    control_country: str | None = Field(None, min_length=2, max_length=2)
    activity_type: ActivityType | None = None
    sme: bool | None = None
    size_class: SizeClass | None = None
    city: str | None = Field(None, max_length=200)
    technology_areas: list[PriorityIdText] = Field(default_factory=list, max_length=20, description="Priority ids.")


class OrganisationUpdate(BaseModel):
    """The full new record of an organisation (PUT replaces it); the path names the organisation."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{k: v for k, v in EXAMPLE_ORG.items() if k != "id"}]},
    )

    name: str = Field(min_length=1, max_length=300, pattern=NON_BLANK)
    country: str = Field(min_length=2, max_length=2)
    description: str = Field(min_length=1, max_length=5000, pattern=NON_BLANK)
    short_name: str | None = Field(None, max_length=100)
    control_country: str | None = Field(None, min_length=2, max_length=2)
    activity_type: ActivityType | None = None
    sme: bool | None = None
    size_class: SizeClass | None = None
    city: str | None = Field(None, max_length=200)
    technology_areas: list[PriorityIdText] = Field(default_factory=list, max_length=20, description="Priority ids.")


# ---- recommendations ---------------------------------------------------------------------------------------
class Contribution(BaseModel):
    feature: str = Field(examples=["semantic_similarity"])
    label: str = Field(examples=["capability profiles are similar"])
    value: float = Field(description="Score drop when the feature is reset to its typical value.", examples=[0.12])


class RelevantProject(BaseModel):
    id: str
    title: str
    similarity: float


class SharedPartner(BaseModel):
    id: str
    name: str


class Eligibility(BaseModel):
    instrument: str = Field(examples=["edf-research"])
    verdict: Literal["ELIGIBLE", "CONDITIONAL", "INELIGIBLE"]
    reasons: list[str]
    citations: list[str]


class JointProject(BaseModel):
    id: str
    title: str
    year: int


class Recommendation(BaseModel):
    rank: int = Field(examples=[1])
    org_id: str = Field(examples=["999993953"])
    name: str = Field(examples=["THALES"])
    country: str = Field(examples=["FR"])
    region: str = Field(examples=["EU27"])
    activity_type: str | None = Field(None, examples=["PRC"])
    score: float = Field(description="Probability-like ranking score (0-1).", examples=[0.71])
    contributions: list[Contribution]
    relevant_projects: list[RelevantProject]
    shared_partners: list[SharedPartner]
    prior_joint_projects: int
    eligibility: Eligibility | None = None
    known_partner: bool = Field(False, description="Worked with the query before (ranked only with include_known).")
    joint_projects: list[JointProject] = Field(
        default_factory=list, description="The past joint projects, newest first."
    )
    kind: str = Field("", description="company, research, university, public or funding", examples=["company"])
    priority_evidence: dict | None = Field(
        None,
        description="With a priority: the candidate's own projects in it (projects_in_priority, best projects), "
        "whether its own texts show it (in_own_texts) and whether the area is declared.",
    )


class QueryEcho(BaseModel):
    org_id: str | None = None
    text_sha256: str | None = Field(None, description="sha256 of the whitespace-normalised text (for feedback).")
    region: Region
    instrument: str | None = None
    priority: str | None = None
    k: int
    keep_ineligible: bool
    include_known: bool = False
    kind: Kind | None = None


class RecommendationList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_RECOMMENDATIONS]})

    query: QueryEcho
    model_version: str | None
    results: list[Recommendation]
    left_out: dict[str, int] = Field(
        default_factory=dict,
        description="Organisations the default filters left out: known_partners, funding_bodies, "
        "without_priority_evidence (with a priority).",
    )


class MatchRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", strict=True,
        json_schema_extra={
            "examples": [
                {
                    "text": "Counter-drone detection combining radar and RF sensing for naval platforms.",
                    "k": 10,
                    "region": "EU",
                    "instrument": "edf-research",
                    "priority": "unmanned",
                }
            ]
        },
    )

    text: str = Field(
        min_length=1, max_length=20000, pattern=r"\S", description="Project or call description (not blank)."
    )
    k: WholeNumber = Field(10, ge=1, le=100)
    region: Region = Field("ANY", description="Side the partners come from.")
    instrument: str | None = Field(None, max_length=64, description="Drop partners ineligible under it.")
    priority: str | None = Field(
        None, max_length=64, description="Technology priority: id, label or synonym ('drones', 'UAV'), any case."
    )
    keep_ineligible: bool = False
    include_known: bool = Field(False, description=INCLUDE_KNOWN_DESCRIPTION)
    kind: Kind | None = Field(None, description=KIND_DESCRIPTION)

    @model_validator(mode="after")
    def _text_not_blank(self) -> MatchRequest:
        if not self.text.strip():
            raise ValueError("text must not be blank")
        return self


class PairingOrg(BaseModel):
    id: str
    name: str
    country: str | None = None


class Pairing(BaseModel):
    rank: int
    korean: PairingOrg
    european: PairingOrg
    score: float
    eligibility: str | None = Field(None, description="The European partner's verdict under the instrument.")


class PairingList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_PAIRINGS]})

    priority: str = Field(examples=["unmanned"])
    instrument: str | None = None
    k: int
    model_version: str | None
    cached: bool = Field(description="Served from the per-(priority, instrument) cache.")
    include_known: bool = False
    kind: Kind | None = None
    pairings: list[Pairing]


# ---- rules ---------------------------------------------------------------------------------------------
class MemberIn(BaseModel):
    """A consortium member. Give ``id`` alone to take country, name etc. from the catalogue; otherwise ``name``
    and ``country`` are required."""

    model_config = ConfigDict(
        extra="forbid", strict=True,
        json_schema_extra={
            "description": "A consortium member: a catalogue `id` (the rest completed from the catalogue) or a "
            "`name` and `country` (ISO 3166-1 alpha-2) at least.",
            "anyOf": [
                {"required": ["id"], "properties": {"id": {"anyOf": [{"type": "string", "pattern": NON_BLANK},
                                                                     {"type": "integer"}]}}},
                {"required": ["name", "country"],
                 "properties": {"name": {"type": "string"}, "country": {"type": "string"}}},
            ],
        },
    )

    id: str | int | None = Field(None, examples=["kr-hanwha-aerospace"])
    name: str | None = Field(None, max_length=300, pattern=NON_BLANK)
    country: str | None = Field(None, max_length=8, examples=["FR"])
    control_country: str | None = Field(None, max_length=8)
    role: str | None = Field(None, max_length=64, examples=["coordinator"])
    control_group: str | int | None = None
    activity_type: str | None = Field(None, max_length=8)
    sme: bool | None = None


class ComponentIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    origin_country: str = Field(max_length=8, examples=["KR"])
    cost: float = Field(ge=0, examples=[1_200_000.0])
    name: str | None = Field(None, max_length=300)


class ConsortiumIn(BaseModel):
    """The consortium file format of `corridor eligibility --consortium`."""

    model_config = ConfigDict(
        extra="forbid", strict=True,
        json_schema_extra={
            "examples": [
                {
                    "instrument": "edf-research",
                    "members": [
                        {"name": "Lead SA", "country": "FR", "role": "coordinator"},
                        {"name": "Partner GmbH", "country": "DE"},
                        {"name": "Partner Oy", "country": "FI", "control_country": "FI"},
                        {"name": "Korean Partner Co.", "country": "KR", "role": "participant"},
                    ],
                    "components": [{"origin_country": "FR", "cost": 800000}, {"origin_country": "KR", "cost": 200000}],
                }
            ]
        },
    )

    instrument: str = Field(min_length=1, max_length=64)
    members: list[MemberIn] = Field(min_length=1, max_length=100)
    components: list[ComponentIn] | None = Field(None, max_length=1000)
    product_category: str | None = Field(None, max_length=64)
    design_authority: bool | None = None
    action_type: str | None = Field(None, max_length=64)
    name: str | None = Field(None, max_length=300)


class RuleResult(BaseModel):
    id: str
    kind: str
    statement: str
    status: Literal["passed", "conditional", "failed"]
    reason: str
    citation: str
    confidence: str = Field(description="T: legal text; S: secondary source; M: from memory, uncertain.")
    effective: str
    fix_hint: str | None = None


class MemberVerdict(BaseModel):
    instrument: str
    id: str | None = None
    name: str | None = None
    country: str
    control_country: str | None = None
    role: str | None = None
    activity_type: str | None = None
    sme: bool | None = None
    control_group: str | None = None
    verdict: Literal["ELIGIBLE", "CONDITIONAL", "INELIGIBLE"]
    counts_toward_consortium: bool
    assumptions: list[str]
    rules: list[RuleResult]
    rules_version: str
    valid_as_of: str


class ConsortiumVerdict(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_VERDICT]})

    instrument: str = Field(examples=["edf-research"])
    action_type: str | None = None
    verdict: Literal["ELIGIBLE", "CONDITIONAL", "INELIGIBLE"]
    rules: list[RuleResult]
    members: list[MemberVerdict]
    rules_version: str
    valid_as_of: str


class ConsortiumRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", strict=True,
        json_schema_extra={
            "examples": [{"lead": "kr-hanwha-aerospace", "instrument": "horizon-europe", "priority": "unmanned",
                          "size": 4}]
        },
    )

    lead: str = Field(min_length=1, max_length=80, description="Lead organisation id.")
    instrument: str = Field(min_length=1, max_length=64)
    priority: str | None = Field(
        None, max_length=64, description="Technology priority: id, label or synonym ('drones', 'UAV'), any case."
    )
    size: WholeNumber = Field(4, ge=2, le=8, description="Members including the lead.")
    region: Region = Field("ANY", description="Side the other members come from.")
    pool: WholeNumber = Field(40, ge=5, le=100, description="Candidates considered: the lead's top ranked partners.")


class ProposedMember(BaseModel):
    org_id: str
    name: str
    country: str
    activity_type: str | None = None
    role: str
    lead_score: float | None = Field(None, description="Score as the lead's partner (null for the lead).")
    reason: str


class ConsortiumProposal(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_PROPOSAL]})

    lead: str
    instrument: str
    priority: str | None = None
    size: int
    pool_size: int
    members: list[ProposedMember]
    total_score: float = Field(description="Sum of pairwise scores between members.")
    verdict: ConsortiumVerdict
    rules_met: list[str]
    rules_conditional: list[str]
    rules_failed: list[str]
    notes: list[str]
    model_version: str | None = None


class InstrumentSummary(BaseModel):
    id: str = Field(examples=["edf-research"])
    name: str = Field(examples=["European Defence Fund, research actions"])
    summary: str
    citation: str = Field(examples=["Regulation (EU) 2021/697"])
    eligible_label: str
    action_types: dict[str, str]
    default_action_type: str | None = None
    rule_count: int
    rules_version: str = Field(examples=["1.0.0"])
    valid_as_of: str = Field(examples=["2026-01-01"])


class InstrumentList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_INSTRUMENTS]})

    rules_version: str
    valid_as_of: str
    instruments: list[InstrumentSummary]


class RuleOut(BaseModel):
    id: str
    kind: str
    level: Literal["organisation", "consortium"]
    statement: str
    citation: str
    confidence: str
    confidence_label: str
    effective: str
    action_types: list[str] | None = None
    params: dict[str, Any]
    fix_hint: str | None = None


class InstrumentDetail(InstrumentSummary):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_INSTRUMENT]})

    eligible_countries: list[str]
    non_counting_roles: list[str]
    rules: list[RuleOut]


# ---- feedback, model, health -------------------------------------------------------------------------------
class FeedbackIn(BaseModel):
    """A user's verdict on one recommendation, stored for retraining. Give exactly one query field."""

    model_config = ConfigDict(
        extra="forbid", strict=True,
        json_schema_extra={
            "description": "A verdict on one recommendation. Exactly one of query_org_id, query_text_sha256 and "
            "query_text names the query.",
            "oneOf": [
                {"required": [field], "properties": {field: {"type": "string"}}}
                for field in ("query_org_id", "query_text_sha256", "query_text")
            ],
            "examples": [
                {"query_org_id": "kr-hanwha-aerospace", "candidate_org_id": "999993953", "verdict": "contacted",
                 "comment": "Introduced at a trade fair."}
            ]
        },
    )

    query_org_id: str | None = Field(None, min_length=1, max_length=80)
    query_text_sha256: str | None = Field(None, pattern=SHA256_PATTERN, description="From a /v1/match response.")
    query_text: str | None = Field(None, min_length=1, max_length=20000, description="Hashed; never stored.")
    candidate_org_id: str = Field(min_length=1, max_length=80)
    verdict: FeedbackVerdict
    comment: str | None = Field(None, max_length=2000)
    model_version: str | None = Field(None, max_length=128, description="Default: the model now serving.")

    @model_validator(mode="after")
    def _one_query(self) -> FeedbackIn:
        given = [f for f in ("query_org_id", "query_text_sha256", "query_text") if getattr(self, f) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of query_org_id, query_text_sha256, query_text")
        return self


class FeedbackOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_FEEDBACK_OUT]})

    id: int
    created_at: datetime
    query_org_id: str | None = None
    query_text_sha256: str | None = None
    candidate_org_id: str
    verdict: FeedbackVerdict
    model_version: str | None = None


class ModelInfo(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_MODEL]})

    model_version: str | None = Field(None, examples=["ranker-2022-3f2a9c1b0d"])
    kind: str | None = Field(None, examples=["learned"])
    created_at: str | None = Field(None, description="When the model was trained and saved.")
    loaded_at: datetime
    train_year: int | None = None
    eval_year: int | None = None
    primary_metric: str | None = Field(None, examples=["recall@20"])
    primary_score: float | None = Field(None, description="Learned ranker's primary metric, mean over tasks.")
    encoder_model: str | None = None
    encoder_fingerprint: str | None = None
    taxonomy_version: str | None = None
    rules_version: str | None = None
    data_fingerprint: str | None = None
    summary: dict[str, dict[str, Any]] = Field(description="Per evaluation task: the learned ranker's metrics.")
    metrics: dict[str, Any] = Field(description="The full evaluation: every ranker on every task.")


class ReloadResult(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"reloaded": True, "model_version": "ranker-2022-3f2a9c1b0d",
                 "previous_version": "ranker-2022-1a2b3c4d5e", "message": "model ranker-2022-3f2a9c1b0d loaded"}
            ]
        }
    )

    reloaded: bool
    model_version: str | None = None
    previous_version: str | None = None
    message: str


class Health(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ok"}]})

    status: Literal["ok"] = "ok"


class Ready(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"status": "ready", "model_version": "ranker-2022-3f2a9c1b0d", "organisations": 49412,
                 "loaded_at": "2026-11-26T16:00:00Z", "database": "sqlite"}
            ]
        }
    )

    status: Literal["ready"] = "ready"
    model_version: str | None = Field(examples=["ranker-2022-3f2a9c1b0d"])
    organisations: int
    loaded_at: datetime
    database: str = Field(examples=["sqlite"])


class OrganisationChange(BaseModel):
    """One entry of the audit trail of user organisations and catalogue overlays."""

    id: int
    org_id: str
    action: Literal["added", "updated", "overlaid", "reverted"]
    actor: str = Field(description="'cli' (the command line) or 'key:<id>' (an API key).")
    at: datetime
    before: dict | None = Field(description="The stored record before the change (null: none was stored).")
    after: dict | None = Field(description="The stored record after the change (null: reverted).")


class OrganisationChanges(BaseModel):
    org_id: str
    changes: list[OrganisationChange]
