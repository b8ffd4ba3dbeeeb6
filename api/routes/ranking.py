"""Free-text matching, European-Korean pairings and consortium proposals."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query

from api.deps import CorridorDep, ReadKey
from api.errors import responses
from api.offload import in_thread
from api.schemas import (
    INCLUDE_KNOWN_DESCRIPTION,
    KIND_DESCRIPTION,
    ConsortiumProposal,
    ConsortiumRequest,
    Kind,
    MatchRequest,
    PairingList,
    RecommendationList,
)
from recommender.ranking.index import Query as RankQuery
from recommender.service import MAX_PAIRINGS

router = APIRouter(prefix="/v1", tags=["ranking"])


@router.post(
    "/match",
    response_model=RecommendationList,
    summary="Ranked partners for a project or call description",
    responses=responses(400, 401, 403, 404, 413, 422, 503),
)
@in_thread
def match(body: MatchRequest, corridor: CorridorDep, _key: ReadKey) -> dict:
    query = RankQuery(text=body.text, region=body.region, instrument=body.instrument, priority=body.priority,
                      keep_ineligible=body.keep_ineligible, include_known=body.include_known, kind=body.kind)
    return corridor.recommend(query, body.k).to_dict()


@router.get(
    "/pairings",
    response_model=PairingList,
    summary="Top European-Korean pairings for a priority",
    description="For every Korean organisation with a profile, its best European partners for the priority "
    "(and instrument); then the k best pairs overall. Cached per (priority, instrument) until the model or "
    "the organisations change.",
    responses=responses(401, 403, 404, 422, 503),
)
@in_thread
def pairings(
    corridor: CorridorDep,
    _key: ReadKey,
    priority: Annotated[
        str,
        Query(min_length=1, max_length=64, description="Technology priority: id, label or synonym, any case.",
              openapi_examples={"p": {"value": "unmanned"}}),
    ],
    instrument: Annotated[
        str | None, Query(max_length=64, openapi_examples={"i": {"value": "horizon-europe"}})
    ] = None,
    k: Annotated[int, Query(ge=1, le=MAX_PAIRINGS, openapi_examples={"twenty": {"value": 20}})] = 20,
    include_known: Annotated[bool, Query(description=INCLUDE_KNOWN_DESCRIPTION)] = False,
    kind: Annotated[Kind | None, Query(description=KIND_DESCRIPTION)] = None,
) -> dict:
    return corridor.pairings(priority, instrument, k, include_known, kind)


@router.post(
    "/consortia",
    response_model=ConsortiumProposal,
    summary="Propose a consortium around a lead organisation",
    description="Greedy: from the lead's ranked partners under the instrument, add members that fix failing "
    "rules first (e.g. a new country), then maximise pairwise scores; a repair pass swaps members when that "
    "meets more rules. Returns members and the rules engine's verdict.",
    responses=responses(400, 401, 403, 404, 413, 422, 503),
)
@in_thread
def consortia(
    body: Annotated[ConsortiumRequest, Body()], corridor: CorridorDep, _key: ReadKey
) -> dict:
    return corridor.propose_consortium(body.lead, body.instrument, body.size, body.priority, body.region, body.pool)
