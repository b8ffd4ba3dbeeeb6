"""Every error leaves the API as ``{"error": {"code", "message", "details"}}``; never a stack trace.

Core exceptions are mapped to HTTP status codes here and only here.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from api.schemas import NON_BLANK
from recommender.artifacts import ModelIntegrityError
from recommender.catalogue.useradd import ID_PATTERN as ORG_ID_PATTERN
from recommender.errors import (
    ConsortiumFormatError,
    CorridorError,
    ForbiddenError,
    InvalidOrganisationError,
    NotReadyError,
    OrganisationExistsError,
    StoreUnavailableError,
    UnauthorizedError,
    UnknownInstrumentError,
    UnknownOrganisationError,
)
from recommender.profiles.taxonomy import UnknownPriorityError
from recommender.ranking.index import InvalidQueryError
from recommender.service import ModelRefusedError
from recommender.store import ChangeRefusedError
from recommender.views import without_paths

log = logging.getLogger("corridor.api")


class ErrorBody(BaseModel):
    code: str = Field(description="Stable machine-readable error code.", examples=["unknown_organisation"])
    message: str = Field(description="What went wrong, for a human.", examples=["unknown organisation id: 'x'"])
    details: Any = Field(default=None, description="Structured context (field errors, known ids ...).")


class ErrorResponse(BaseModel):
    error: ErrorBody


class ApiError(Exception):
    """An error raised by the API layer itself (authentication, conflicts, limits)."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


def error_response(status: int, code: str, message: str, details: Any = None, headers=None) -> JSONResponse:
    details = without_paths(jsonable_encoder(details))
    body = {"error": {"code": code, "message": without_paths(message), "details": details}}
    return JSONResponse(body, status_code=status, headers=headers)


HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    503: "unavailable",
}


def core_error(exc: CorridorError) -> tuple[int, str, Any]:
    if isinstance(exc, UnknownOrganisationError):
        return 404, "unknown_organisation", {"id": exc.org_id}
    if isinstance(exc, UnknownInstrumentError):
        return 404, "unknown_instrument", {"instrument": exc.instrument, "known": exc.known}
    if isinstance(exc, UnknownPriorityError):
        return 422, "unknown_priority", {"priority": exc.priority, "known": exc.known, "suggestions": exc.suggestions}
    if isinstance(exc, InvalidQueryError):
        return 422, "invalid_query", None
    if isinstance(exc, ConsortiumFormatError):
        return 422, "invalid_consortium", None
    if isinstance(exc, InvalidOrganisationError):
        problems = [{"field": name, "reason": reason} for name, reason in exc.problems]
        return 422, "invalid_organisation", {"field": problems[0]["field"], "reason": problems[0]["reason"],
                                             "problems": problems}
    if isinstance(exc, OrganisationExistsError):
        return 409, "organisation_exists", {"id": exc.org_id}
    if isinstance(exc, UnauthorizedError):
        return 401, "unauthorized", None
    if isinstance(exc, ForbiddenError):
        return 403, "forbidden", {"key_scope": exc.key_scope, "required_scope": exc.required_scope}
    if isinstance(exc, NotReadyError):
        return 503, "not_ready", None if exc.reason is None else {"reason": exc.reason}
    if isinstance(exc, ModelRefusedError):
        return 409, "model_refused", {"serving_version": exc.serving_version}
    if isinstance(exc, ModelIntegrityError):
        return 503, "model_unavailable", None
    if isinstance(exc, StoreUnavailableError):
        return 503, "database_unavailable", None
    if isinstance(exc, ChangeRefusedError):
        return 403, "change_refused", None
    return 400, "bad_request", None


PATTERN_MESSAGES = {
    NON_BLANK: "must contain text, not only spaces",
    ORG_ID_PATTERN.pattern: "invalid id: use letters, digits, '.', '_' or '-' (at most 80)",
}


def _message(err: dict) -> str:
    if err.get("type") == "string_pattern_mismatch":
        pattern = (err.get("ctx") or {}).get("pattern")
        return PATTERN_MESSAGES.get(str(pattern), str(err.get("msg", "")))
    return str(err.get("msg", ""))


def _validation_details(exc: RequestValidationError) -> list[dict]:
    return [{"loc": [str(p) for p in err.get("loc", ())], "msg": _message(err), "type": err.get("type")}
            for err in exc.errors()]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "ApiKey"} if exc.status == 401 else None
        return error_response(exc.status, exc.code, exc.message, exc.details, headers)

    @app.exception_handler(CorridorError)
    async def _corridor_error(request: Request, exc: CorridorError) -> JSONResponse:
        status, code, details = core_error(exc)
        headers = None
        if isinstance(exc, StoreUnavailableError):
            headers = {"Retry-After": str(exc.retry_after_seconds)}
        elif isinstance(exc, UnauthorizedError):
            headers = {"WWW-Authenticate": "ApiKey"}
        return error_response(status, code, str(exc), details, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = _validation_details(exc)
        first = details[0] if details else {"loc": [], "msg": "invalid request"}
        where = ".".join(p for p in first["loc"] if p not in ("body", "query", "path", "header"))
        message = f"{where}: {first['msg']}" if where else str(first["msg"])
        return error_response(422, "validation_error", message, details)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:  # Starlette names only the first matching route's methods
            headers = {**(headers or {}), "Allow": ", ".join(_allowed_methods(request))}
        return error_response(exc.status_code, code, message, None, headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal_error", "internal server error; the incident was logged")


HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (RFC 9110: a 405 lists them all in Allow), found by asking
    each route whether it would fully match the same request with another method."""
    methods = []
    for method in HTTP_METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes):
            methods.append(method)
    return methods


# Documented on every route that can return them (OpenAPI "responses").
def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    descriptions = {
        400: "Unreadable request body (not UTF-8 JSON).",
        401: "Missing or unknown API key (X-API-Key header).",
        403: "The API key lacks the scope this route needs.",
        404: "Unknown organisation, instrument or route.",
        409: "Conflict with the current state.",
        413: "Request body larger than the configured limit.",
        422: "Invalid request (body, query or path parameters, or a query parameter the route does not take).",
        503: "No ranking model is loaded, or the database is unavailable (Retry-After says when to retry).",
    }
    # every route refuses query parameters it does not take (api.deps.known_query_parameters): 422
    return {s: {"model": ErrorResponse, "description": descriptions[s]} for s in sorted({*statuses, 422})}
