"""Feedback on recommendations, stored for retraining."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ServingDep, StoreDep, WriteKey
from api.errors import responses
from api.schemas import FeedbackIn, FeedbackOut
from api.views import text_sha256

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
def feedback(body: FeedbackIn, serving: ServingDep, store: StoreDep, key: WriteKey) -> dict:
    index = serving.index
    if body.query_org_id is not None:
        index.row(body.query_org_id)  # unknown ids: 404
    index.row(body.candidate_org_id)
    text_hash = text_sha256(body.query_text) if body.query_text is not None else body.query_text_sha256
    record = {
        "query_org_id": body.query_org_id,
        "query_text_sha256": text_hash,
        "candidate_org_id": body.candidate_org_id,
        "verdict": body.verdict,
        "model_version": body.model_version or serving.model_version,
    }
    feedback_id, created = store.add_feedback(**record, comment=body.comment, api_key_id=key.id)
    return {"id": feedback_id, "created_at": created, **record}
