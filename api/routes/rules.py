"""Eligibility of consortia and the instruments' rules (no model needed)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from api.deps import CorridorDep, ReadKey
from api.errors import responses
from api.offload import in_thread
from api.schemas import ConsortiumIn, ConsortiumVerdict, InstrumentDetail, InstrumentList

router = APIRouter(prefix="/v1", tags=["rules"])


@router.post(
    "/eligibility",
    response_model=ConsortiumVerdict,
    summary="Check a consortium against an instrument's rules",
    description="Same JSON as the consortium file of `corridor eligibility`. Members given only by `id` are "
    "completed from the catalogue (country, name, control country, activity type, SME).",
    responses=responses(400, 401, 403, 404, 413, 422),
)
@in_thread
def eligibility(body: ConsortiumIn, corridor: CorridorDep, _key: ReadKey) -> dict:
    return corridor.check_consortium(body.model_dump(exclude_none=True))


@router.get(
    "/instruments",
    response_model=InstrumentList,
    summary="Funding instruments",
    responses=responses(401, 403),
)
@in_thread
def instruments(corridor: CorridorDep, _key: ReadKey) -> dict:
    return corridor.instruments()


@router.get(
    "/instruments/{instrument_id}",
    response_model=InstrumentDetail,
    summary="One instrument and its sourced rules",
    description="Every rule with its statement, parameters, legal citation, confidence (T/S/M) and effective "
    "date; the rulebook's version and valid-as-of date.",
    responses=responses(401, 403, 404),
)
@in_thread
def instrument(
    instrument_id: Annotated[
        str, Path(max_length=64, openapi_examples={"edf": {"value": "edf-research"}, "kiat": {"value": "kiat"}})
    ],
    corridor: CorridorDep,
    _key: ReadKey,
) -> dict:
    return corridor.instrument(instrument_id)
