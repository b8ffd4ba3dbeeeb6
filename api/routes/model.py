"""The serving model: its manifest, and a reload after a new model is promoted."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from api.deps import ReadKey, ServingDep, StateDep, WriteKey
from api.errors import ApiError, responses
from api.schemas import ModelInfo, ReloadResult
from api.views import model_info
from recommender.artifacts import ModelIntegrityError

router = APIRouter(prefix="/v1", tags=["model"])


@router.get(
    "/model",
    response_model=ModelInfo,
    summary="The serving model: version, training date, evaluation metrics",
    responses=responses(401, 403, 503),
)
def model(serving: ServingDep, _key: ReadKey) -> dict:
    serving.require_recommender()
    return {**model_info(serving.manifest), "loaded_at": serving.loaded_at}


@router.post(
    "/admin/reload",
    response_model=ReloadResult,
    summary="Load the model now in the model directory",
    description="Verifies the manifest and every file's sha256 and the encoder/taxonomy it expects; a refused "
    "model leaves the current one serving (409, or 503 if none is loaded). Write scope. The server also polls "
    "the model directory every CORRIDOR_MODEL_POLL_SECONDS.",
    responses=responses(401, 403, 409, 503),
)
async def reload_model(state: StateDep, _key: WriteKey) -> dict:
    try:
        result = await run_in_threadpool(state.load_model)
    except ModelIntegrityError as exc:
        serving = state.serving.model_version
        if serving is None:
            raise
        raise ApiError(409, "model_refused", f"model refused, still serving {serving}: {exc}",
                       {"serving_version": serving}) from None
    return vars(result)
