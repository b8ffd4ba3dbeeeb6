"""Organisations: search, profile, add/update (embedded on write), ranked partners."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from api.deps import AdminKey, CorridorDep, ReadKey, WriteKey
from api.errors import responses
from api.offload import in_thread
from api.schemas import (
    INCLUDE_KNOWN_DESCRIPTION,
    KIND_DESCRIPTION,
    ActivityType,
    Kind,
    OrganisationChanges,
    OrganisationIn,
    OrganisationPage,
    OrganisationProfile,
    OrganisationUpdate,
    OrgRegion,
    RecommendationList,
    Region,
)
from recommender.catalogue.useradd import ID_PATTERN as ORG_ID_PATTERN
from recommender.ranking.index import Query as RankQuery

router = APIRouter(prefix="/v1/organisations", tags=["organisations"])

OrgId = Annotated[
    str,
    Path(
        min_length=1, max_length=80, pattern=ORG_ID_PATTERN.pattern, description="Organisation id (PIC or curated id).",
        openapi_examples={"curated": {"value": "kr-hanwha-aerospace"}, "pic": {"value": "999993953"}},
    ),
]
PriorityParam = Annotated[
    str | None,
    Query(
        max_length=64, description="Technology priority: id, label or synonym ('drones', 'UAV'), any case.",
        openapi_examples={"p": {"value": "unmanned"}},
    ),
]
InstrumentParam = Annotated[
    str | None,
    Query(max_length=64, description="Funding instrument id.", openapi_examples={"i": {"value": "edf-research"}}),
]


@router.get(
    "",
    response_model=OrganisationPage,
    summary="Search organisations",
    description="Named organisations by text, ranked by name relevance (tolerant of case, punctuation, typos "
    "and acronyms; a description containing the text ranks below name matches), filtered by country, region, "
    "activity type, kind, EDF experience and priority (score >= 0.5). Without a text: by priority score, or else "
    "by name.",
    responses=responses(401, 403, 422),
)
@in_thread
def search_organisations(
    corridor: CorridorDep,
    _key: ReadKey,
    q: Annotated[str | None, Query(max_length=200, openapi_examples={"text": {"value": "drone"}})] = None,
    country: Annotated[
        str | None, Query(min_length=2, max_length=2, openapi_examples={"kr": {"value": "KR"}})
    ] = None,
    region: Annotated[OrgRegion | None, Query(description="EUROPE = EU27, EEA-EFTA and UA.")] = None,
    activity_type: Annotated[ActivityType | None, Query(openapi_examples={"industry": {"value": "PRC"}})] = None,
    priority: PriorityParam = None,
    limit: Annotated[int, Query(ge=1, le=100, openapi_examples={"page": {"value": 20}})] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000, openapi_examples={"start": {"value": 0}})] = 0,
    kind: Annotated[Kind | None, Query(description="Only this kind of organisation (all kinds when absent).")] = None,
    edf_experience: Annotated[
        bool, Query(description="Only organisations with at least one European Defence Fund participation.")
    ] = False,
) -> dict:
    return corridor.search(q, country, region, activity_type, priority, limit, offset, kind, edf_experience)


@router.get(
    "/{org_id}",
    response_model=OrganisationProfile,
    summary="An organisation's capability profile",
    description="Record, what the profile is built from, top priorities with evidence (terms, projects) and "
    "the most characteristic projects.",
    responses=responses(401, 403, 404, 422),
)
@in_thread
def get_organisation(org_id: OrgId, corridor: CorridorDep, _key: ReadKey) -> dict:
    return corridor.profile(org_id)


@router.post(
    "",
    status_code=201,
    response_model=OrganisationProfile,
    summary="Add an organisation",
    description="Validated like `corridor data add`, embedded on write and rankable at once (write scope).",
    responses=responses(400, 401, 403, 409, 413, 422),
)
@in_thread
def create_organisation(body: OrganisationIn, corridor: CorridorDep, key: WriteKey) -> dict:
    return corridor.add_organisation(body.model_dump(), key.actor)


@router.put(
    "/{org_id}",
    response_model=OrganisationProfile,
    summary="Add or replace an organisation",
    description="Replaces the whole record (201 if it was new, 200 otherwise); re-embedded at once. A write key "
    "may change only organisations it added; a catalogue organisation needs an admin key, and the change is kept "
    "as an overlay, listed in its changes and reverted by DELETE.",
    responses={201: {"model": OrganisationProfile, "description": "Created."},
               **responses(400, 401, 403, 413, 422, 503)},
)
@in_thread
def put_organisation(
    org_id: OrgId, body: OrganisationUpdate, response: Response, corridor: CorridorDep, key: WriteKey
) -> dict:
    written = corridor.put_organisation(org_id, body.model_dump(), key.actor)
    response.status_code = 201 if written.created else 200
    return written.profile


@router.get(
    "/{org_id}/partners",
    response_model=RecommendationList,
    summary="Ranked partners for an organisation",
    description="Partners ranked by the learned model, with explanations (feature contributions, relevant "
    "projects, shared partners) and, with an instrument, eligibility (ineligible ones dropped unless kept).",
    responses=responses(401, 403, 404, 422, 503),
)
@in_thread
def partners(
    org_id: OrgId,
    corridor: CorridorDep,
    _key: ReadKey,
    k: Annotated[int, Query(ge=1, le=100, openapi_examples={"ten": {"value": 10}})] = 10,
    priority: PriorityParam = None,
    instrument: InstrumentParam = None,
    region: Annotated[Region, Query(description="Side the partners come from.")] = "ANY",
    keep_ineligible: Annotated[bool, Query(description="Keep ineligible partners, flagged.")] = False,
    include_known: Annotated[bool, Query(description=INCLUDE_KNOWN_DESCRIPTION)] = False,
    kind: Annotated[Kind | None, Query(description=KIND_DESCRIPTION)] = None,
) -> dict:
    query = RankQuery(org_id=org_id, region=region, instrument=instrument, priority=priority,
                      keep_ineligible=keep_ineligible, include_known=include_known, kind=kind)
    return corridor.recommend(query, k).to_dict()


@router.delete(
    "/{org_id}",
    response_model=OrganisationProfile,
    summary="Revert a change to a catalogue organisation",
    description="Removes the overlay an admin key or the command line stored over a catalogue organisation; "
    "the catalogue's own record is served again at once. Admin scope; the revert is audited.",
    responses=responses(401, 403, 404, 503),
)
@in_thread
def revert_organisation(org_id: OrgId, corridor: CorridorDep, key: AdminKey) -> dict | None:
    return corridor.revert_organisation(org_id, key.actor).profile


@router.get(
    "/{org_id}/changes",
    response_model=OrganisationChanges,
    summary="The audit trail of an organisation",
    description="Every change users made to it (added, updated, overlaid, reverted): who, when, before and after.",
    responses=responses(401, 403, 404),
)
@in_thread
def organisation_changes(org_id: OrgId, corridor: CorridorDep, _key: ReadKey) -> dict:
    return {"org_id": org_id, "changes": corridor.changes(org_id)}
