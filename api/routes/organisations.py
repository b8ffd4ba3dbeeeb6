"""Organisations: search, profile, add/update (embedded on write), ranked partners."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from api.deps import AdminKey, ReadKey, ServingDep, StateDep, StoreDep, WriteKey, priority_id
from api.errors import ApiError, responses
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
from api.state import ServiceState, Serving
from api.views import organisation_record
from recommender.catalogue.useradd import validate_row
from recommender.profiles.views import organisation_profile
from recommender.ranking.index import Query as RankQuery
from recommender.store import ApiKey, Store

router = APIRouter(prefix="/v1/organisations", tags=["organisations"])

OrgId = Annotated[
    str,
    Path(
        min_length=1, max_length=80, description="Organisation id (PIC or curated id).",
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


def _profile(serving: Serving, org_id: str) -> dict:
    return organisation_profile(serving.index.catalogue, serving.index.profiles, org_id, tagger=serving.tagger)


@router.get(
    "",
    response_model=OrganisationPage,
    summary="Search organisations",
    description="Named organisations filtered by text (substring of name, short name or description), country, "
    "region, activity type and priority (score >= 0.5, sorted by it; otherwise sorted by name).",
    responses=responses(401, 403, 422),
)
def search_organisations(
    serving: ServingDep,
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
) -> dict:
    found = serving.search.search(q, country, region, activity_type, priority_id(serving, priority), limit, offset)
    index = serving.index
    items = [
        {
            **organisation_record(index, int(row)),
            "has_profile": bool(index.has_profile[row]),
            "priority_score": None if found.priority_scores is None else round(float(found.priority_scores[i]), 4),
        }
        for i, row in enumerate(found.rows)
    ]
    return {"total": found.total, "limit": limit, "offset": offset, "items": items}


@router.get(
    "/{org_id}",
    response_model=OrganisationProfile,
    summary="An organisation's capability profile",
    description="Record, what the profile is built from, top priorities with evidence (terms, projects) and "
    "the most characteristic projects.",
    responses=responses(401, 403, 404, 422),
)
def get_organisation(org_id: OrgId, serving: ServingDep, _key: ReadKey) -> dict:
    return _profile(serving, org_id)


def _validated(record: dict, state: ServiceState) -> dict:
    org, error = validate_row(record, 1, state.priority_ids)
    if error is not None:
        message = "; ".join(f"{name}: {reason}" for name, reason in error.problems)
        problems = [{"field": name, "reason": reason} for name, reason in error.problems]
        raise ApiError(422, "invalid_organisation", message,
                       {"field": problems[0]["field"], "reason": problems[0]["reason"], "problems": problems})
    return org


def _write(state: ServiceState, store: Store, org: dict, key: ApiKey) -> bool:
    return bool(
        state.upsert_organisations([org], lambda: store.upsert_organisation(org, key.actor, state.catalogue_ids))
    )


@router.post(
    "",
    status_code=201,
    response_model=OrganisationProfile,
    summary="Add an organisation",
    description="Validated like `corridor data add`, embedded on write and rankable at once (write scope).",
    responses=responses(400, 401, 403, 409, 413, 422),
)
def create_organisation(body: OrganisationIn, state: StateDep, store: StoreDep, key: WriteKey) -> dict:
    org = _validated(body.model_dump(), state)
    with state.lock:
        if org["id"] in state.serving.index.row_of or store.has_organisation(org["id"]):
            raise ApiError(409, "organisation_exists", f"organisation {org['id']!r} exists; PUT to update it",
                           {"id": org["id"]})
        _write(state, store, org, key)
    return _profile(state.serving, org["id"])


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
def put_organisation(
    org_id: OrgId, body: OrganisationUpdate, response: Response, state: StateDep, store: StoreDep, key: WriteKey
) -> dict:
    if body.id is not None and body.id != org_id:
        raise ApiError(422, "invalid_organisation", f"id: body id {body.id!r} differs from the path's {org_id!r}",
                       {"field": "id"})
    org = _validated({**body.model_dump(), "id": org_id}, state)
    with state.lock:
        existed = org["id"] in state.serving.index.row_of
        _write(state, store, org, key)
    response.status_code = 200 if existed else 201
    return _profile(state.serving, org["id"])


@router.get(
    "/{org_id}/partners",
    response_model=RecommendationList,
    summary="Ranked partners for an organisation",
    description="Partners ranked by the learned model, with explanations (feature contributions, relevant "
    "projects, shared partners) and, with an instrument, eligibility (ineligible ones dropped unless kept).",
    responses=responses(401, 403, 404, 422, 503),
)
def partners(
    org_id: OrgId,
    serving: ServingDep,
    _key: ReadKey,
    k: Annotated[int, Query(ge=1, le=100, openapi_examples={"ten": {"value": 10}})] = 10,
    priority: PriorityParam = None,
    instrument: InstrumentParam = None,
    region: Annotated[Region, Query(description="Side the partners come from.")] = "ANY",
    keep_ineligible: Annotated[bool, Query(description="Keep ineligible partners, flagged.")] = False,
    include_known: Annotated[bool, Query(description=INCLUDE_KNOWN_DESCRIPTION)] = False,
    kind: Annotated[Kind | None, Query(description=KIND_DESCRIPTION)] = None,
) -> dict:
    priority = priority_id(serving, priority)
    query = RankQuery(org_id=org_id, region=region, instrument=instrument, priority=priority,
                      keep_ineligible=keep_ineligible, include_known=include_known, kind=kind)
    recommender = serving.require_recommender()
    recs = recommender.recommend(query, k)
    echo = {"org_id": org_id, "region": region, "instrument": instrument, "priority": priority, "k": k,
            "keep_ineligible": keep_ineligible, "include_known": include_known, "kind": kind}
    return {"query": echo, "model_version": serving.model_version, "results": [r.to_dict() for r in recs],
            "left_out": recommender.left_out(query)}


@router.delete(
    "/{org_id}",
    response_model=OrganisationProfile,
    summary="Revert a change to a catalogue organisation",
    description="Removes the overlay an admin key or the command line stored over a catalogue organisation; "
    "the catalogue's own record is served again at once. Admin scope; the revert is audited.",
    responses=responses(401, 403, 404, 503),
)
def revert_organisation(org_id: OrgId, state: StateDep, store: StoreDep, key: AdminKey) -> dict:
    state.revert_organisation(org_id, lambda: store.revert_organisation(org_id, key.actor, state.catalogue_ids))
    return _profile(state.serving, org_id)


@router.get(
    "/{org_id}/changes",
    response_model=OrganisationChanges,
    summary="The audit trail of an organisation",
    description="Every change users made to it (added, updated, overlaid, reverted): who, when, before and after.",
    responses=responses(401, 403, 404),
)
def organisation_changes(org_id: OrgId, serving: ServingDep, store: StoreDep, _key: ReadKey) -> dict:
    serving.index.row(org_id)  # unknown organisations are 404
    return {"org_id": org_id, "changes": store.changes(org_id)}
