"""Feedback on recommendations, stored for retraining."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CorridorDep, WriteKey
from api.errors import responses
from api.offload import in_thread
from api.schemas import FeedbackIn, FeedbackOut

router = APIRouter(prefix="/v1", tags=["feedback"])


@router.post(
    "/feedback",
    status_code=201,
    response_model=FeedbackOut,
    summary="Record a user's verdict on a recommendation",
    description="contacted, accepted, declined or irrelevant; the query is an organisation id or the sha256 "
    "of a free text (a raw `query_text` is hashed and never stored). Write scope.",
    responses=responses(400, 401, 403, 404, 413, 422),
)
@in_thread
def feedback(body: FeedbackIn, corridor: CorridorDep, key: WriteKey) -> dict:
    return corridor.record_feedback(**body.model_dump(), key=key)
