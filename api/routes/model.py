"""The serving model: its manifest, and a reload after a new model is promoted."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from api.deps import CorridorDep, ReadKey, WriteKey
from api.errors import responses
from api.offload import in_thread
from api.schemas import ModelInfo, ReloadResult

router = APIRouter(prefix="/v1", tags=["model"])


@router.get(
    "/model",
    response_model=ModelInfo,
    summary="The serving model: version, training date, evaluation metrics",
    responses=responses(401, 403, 503),
)
@in_thread
def model(corridor: CorridorDep, _key: ReadKey) -> dict:
    return corridor.model_info()


@router.post(
    "/admin/reload",
    response_model=ReloadResult,
    summary="Load the model now in the model directory",
    description="Verifies the manifest and every file's sha256 and the encoder/taxonomy it expects; a refused "
    "model leaves the current one serving (409, or 503 if none is loaded). Write scope. The server also polls "
    "the model directory every CORRIDOR_MODEL_POLL_SECONDS.",
    responses=responses(401, 403, 409, 503),
)
async def reload_model(corridor: CorridorDep, _key: WriteKey) -> dict:
    return vars(await run_in_threadpool(corridor.reload_model))
