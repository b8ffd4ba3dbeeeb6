"""FastAPI dependencies as ``Annotated`` aliases: the service state, the store and API-key scopes; and the
one place request values are resolved against the served taxonomy (:func:`priority_id`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from api.errors import ApiError
from api.state import ServiceState, Serving
from recommender.store import ApiKey, Store

api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="API key from `corridor keys create --scope read|write`."
)


def get_state(request: Request) -> ServiceState:
    state = getattr(request.app.state, "service", None)
    if state is None:
        raise ApiError(503, "not_ready", "the service is starting; retry shortly")
    return state


def get_serving(request: Request) -> Serving:
    """The snapshot this request reads (taken once: a concurrent swap does not affect it)."""
    return get_state(request).serving


def priority_id(serving: Serving, name: str | None) -> str | None:
    """The id of a requested priority: its id, label or a synonym in any case ('Drones', 'UAV', 'sensors-ew'),
    resolved with the taxonomy of the snapshot the request reads; None stays None. An unknown name raises
    UnknownPriorityError: 422 ``unknown_priority``, the message naming the closest priorities."""
    return None if name is None else serving.index.profiles.taxonomy.resolve(name)


def get_store(request: Request) -> Store:
    return request.app.state.store


def _authenticate(request: Request, secret: str | None, scope: str) -> ApiKey:
    if not secret:
        raise ApiError(401, "unauthorized", "missing API key: send it in the X-API-Key header")
    key = get_store(request).find_key(secret)
    if key is None or key.revoked:
        raise ApiError(401, "unauthorized", "unknown or revoked API key")
    if not key.allows(scope):
        raise ApiError(403, "forbidden", f"this API key has the {key.scope!r} scope; this route needs {scope!r}",
                       {"key_scope": key.scope, "required_scope": scope})
    return key


def require_read(request: Request, secret: Annotated[str | None, Security(api_key_header)] = None) -> ApiKey:
    return _authenticate(request, secret, "read")


def require_write(request: Request, secret: Annotated[str | None, Security(api_key_header)] = None) -> ApiKey:
    return _authenticate(request, secret, "write")


def require_admin(request: Request, secret: Annotated[str | None, Security(api_key_header)] = None) -> ApiKey:
    return _authenticate(request, secret, "admin")


StateDep = Annotated[ServiceState, Depends(get_state)]
ServingDep = Annotated[Serving, Depends(get_serving)]
StoreDep = Annotated[Store, Depends(get_store)]
ReadKey = Annotated[ApiKey, Depends(require_read)]
WriteKey = Annotated[ApiKey, Depends(require_write)]
AdminKey = Annotated[ApiKey, Depends(require_admin)]
