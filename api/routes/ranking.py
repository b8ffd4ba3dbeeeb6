"""Free-text matching, European-Korean pairings and consortium proposals."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query

from api.deps import ReadKey, ServingDep, priority_id
from api.errors import responses
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
from api.views import text_sha256
from recommender.ranking.consortium import propose_consortium
from recommender.ranking.index import Query as RankQuery
from recommender.ranking.pairings import top_pairings

router = APIRouter(prefix="/v1", tags=["ranking"])

MAX_PAIRINGS = 100


@router.post(
    "/match",
    response_model=RecommendationList,
    summary="Ranked partners for a project or call description",
    responses=responses(400, 401, 403, 404, 413, 422, 503),
)
def match(body: MatchRequest, serving: ServingDep, _key: ReadKey) -> dict:
    priority = priority_id(serving, body.priority)
    query = RankQuery(text=body.text, region=body.region, instrument=body.instrument, priority=priority,
                      keep_ineligible=body.keep_ineligible, include_known=body.include_known, kind=body.kind)
    recommender = serving.require_recommender()
    recs = recommender.recommend(query, body.k)
    echo = {"text_sha256": text_sha256(body.text), **body.model_dump(exclude={"text"}), "priority": priority}
    return {"query": echo, "model_version": serving.model_version, "results": [r.to_dict() for r in recs],
            "left_out": recommender.left_out(query)}


@router.get(
    "/pairings",
    response_model=PairingList,
    summary="Top European-Korean pairings for a priority",
    description="For every Korean organisation with a profile, its best European partners for the priority "
    "(and instrument); then the k best pairs overall. Cached per (priority, instrument) until the model or "
    "the organisations change.",
    responses=responses(401, 403, 404, 422, 503),
)
def pairings(
    serving: ServingDep,
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
    recommender = serving.require_recommender()
    priority = priority_id(serving, priority)
    key = (priority, instrument, include_known, kind)
    with serving.pairings_lock:
        cached = key in serving.pairings
        if not cached:
            serving.pairings[key] = [
                p.to_dict()
                for p in top_pairings(recommender, priority, instrument, MAX_PAIRINGS, include_known=include_known,
                                      kind=kind)
            ]
    return {"priority": priority, "instrument": instrument, "k": k, "model_version": serving.model_version,
            "cached": cached, "include_known": include_known, "kind": kind, "pairings": serving.pairings[key][:k]}


@router.post(
    "/consortia",
    response_model=ConsortiumProposal,
    summary="Propose a consortium around a lead organisation",
    description="Greedy: from the lead's ranked partners under the instrument, add members that fix failing "
    "rules first (e.g. a new country), then maximise pairwise scores; a repair pass swaps members when that "
    "meets more rules. Returns members and the rules engine's verdict.",
    responses=responses(400, 401, 403, 404, 413, 422, 503),
)
def consortia(
    body: Annotated[ConsortiumRequest, Body()], serving: ServingDep, _key: ReadKey
) -> dict:
    recommender = serving.require_recommender()
    proposal = propose_consortium(recommender, serving.index.rulebook, body.lead, body.instrument, body.size,
                                  priority_id(serving, body.priority), body.region, body.pool)
    return {**proposal.to_dict(), "model_version": serving.model_version}
