"""Liveness and readiness (no API key)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CorridorDep
from api.errors import responses
from api.offload import in_thread
from api.schemas import Health, Ready

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, summary="Liveness: the process answers", responses=responses())
async def health() -> dict:  # on the event loop: a liveness probe never waits behind ranking requests
    return {"status": "ok"}


@router.get(
    "/ready",
    response_model=Ready,
    summary="Readiness: index built and a ranking model loaded",
    responses=responses(503),
)
@in_thread
def ready(corridor: CorridorDep) -> dict:
    return corridor.readiness()
