"""Liveness and readiness (no API key)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.deps import get_state
from api.errors import ApiError, responses
from api.schemas import Health, Ready
from recommender.errors import StoreUnavailableError

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, summary="Liveness: the process answers")
def health() -> dict:
    return {"status": "ok"}


@router.get(
    "/ready",
    response_model=Ready,
    summary="Readiness: index built and a ranking model loaded",
    responses=responses(503),
)
def ready(request: Request) -> dict:
    serving = get_state(request).serving
    if serving.recommender is None:
        raise ApiError(503, "not_ready", "no ranking model is loaded", {"reason": get_state(request).last_error})
    try:
        request.app.state.store.ping()
    except StoreUnavailableError as exc:
        raise ApiError(503, "not_ready", "the database is unavailable", {"reason": str(exc)}) from None
    return {
        "status": "ready",
        "model_version": serving.model_version,
        "organisations": len(serving.index.ids),
        "loaded_at": serving.loaded_at,
        "database": request.app.state.store.backend,
    }
