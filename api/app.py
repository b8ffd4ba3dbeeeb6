"""The FastAPI application factory: the HTTP adapter over the core's application object.

``create_app(settings=..., corridor=...)`` accepts a prebuilt :class:`recommender.service.Corridor` (tests
build one on a synthetic world); without one it opens the Corridor of the settings, and the lifespan builds
its index and loads the promoted model before the server accepts requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import anyio.to_thread
from fastapi import Depends, FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.middleware.cors import CORSMiddleware

from api.deps import known_query_parameters
from api.docs import install_docs
from api.errors import install_error_handlers
from api.limits import BodySizeLimit
from api.openapi import schema_builder
from api.routes import feedback, health, model, organisations, ranking, rules
from api.timing import ServerTiming
from recommender import __version__
from recommender.errors import CorridorError
from recommender.service import Corridor, open_corridor
from recommender.settings import Settings
from web.pages import install_web

log = logging.getLogger("corridor.api")
API_BUSY_SECONDS = 5  # a request waits at most this long for another writer, then gets 503 with Retry-After

DESCRIPTION = """\
European-Korean defence and dual-use partnership recommender: capability profiles, funding-rule
eligibility and learned partner ranking over the Corridor catalogue.

**Authentication.** Every `/v1` route needs an API key in the `X-API-Key` header; create one with
`corridor keys create --scope read` (or `--scope write` for routes that store data: adding organisations,
feedback, model reload). A write key can also read. `/health`, `/ready` and these docs need no key.

**Errors** are always `{"error": {"code", "message", "details"}}`: 401 missing/unknown key, 403 wrong scope,
404 unknown organisation/instrument (the known instruments are listed), 413 body over the limit,
422 invalid input, 503 no model loaded.
"""


async def _poll(corridor: Corridor, seconds: float) -> None:
    """Pick up, without a restart, a new world (a refreshed catalogue version; a tagger promoted with its
    model), a newly promoted model (a refused one is logged once and skipped) and the organisations the CLI
    or another server process stored."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await run_in_threadpool(corridor.poll_world)
        except Exception:  # noqa: BLE001 - the poller must never die; the error is logged
            log.exception("world poll failed")
        try:
            if corridor.model_changed():
                await run_in_threadpool(corridor.poll_model)
        except Exception:  # noqa: BLE001 - the poller must never die; the error is logged
            log.exception("model poll failed")
        try:
            await run_in_threadpool(corridor.poll_organisations)
        except Exception:  # noqa: BLE001
            log.exception("organisation poll failed")


def create_app(settings: Settings, corridor: Corridor | None = None) -> FastAPI:
    corridor = corridor or open_corridor(settings, API_BUSY_SECONDS)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.request_threads
        try:
            await run_in_threadpool(corridor.start, settings.warm_caches)
        except CorridorError as exc:  # missing catalogue, bad rules file ...: one clear line, then stop
            log.error("cannot start the API: %s", exc)
            corridor.close()
            raise
        poller = None
        if settings.model_poll_seconds > 0:
            poller = asyncio.create_task(_poll(corridor, settings.model_poll_seconds))
        try:
            yield
        finally:
            if poller is not None:
                poller.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await poller
            corridor.close()

    app = FastAPI(
        title="Corridor API",
        dependencies=[Depends(known_query_parameters)],
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_tags=[
            {"name": "health", "description": "Liveness and readiness (no key)."},
            {"name": "organisations", "description": "Search, profiles, additions, ranked partners."},
            {"name": "ranking", "description": "Free-text matching, pairings, consortium proposals."},
            {"name": "rules", "description": "Instruments, rules and consortium eligibility."},
            {"name": "feedback", "description": "Verdicts on recommendations, kept for retraining."},
            {"name": "model", "description": "The serving model and its reload."},
        ],
    )
    app.state.settings = settings
    app.state.corridor = corridor
    install_error_handlers(app)
    app.openapi = schema_builder(app, settings)  # type: ignore[method-assign]
    for module in (health, organisations, ranking, rules, feedback, model):
        app.include_router(module.router)
    install_docs(app)
    install_web(app, settings.session_secret, settings.session_hours)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(ServerTiming)
    if settings.cors_origins:  # added last: outermost, so even a 413 carries the CORS headers
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT"],
            allow_headers=["X-API-Key", "Content-Type"],
        )
    return app
