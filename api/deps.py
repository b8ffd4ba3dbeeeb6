"""FastAPI dependencies as ``Annotated`` aliases: the application object and API-key scopes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader

from api.errors import ApiError
from recommender.errors import NotReadyError
from recommender.service import Corridor
from recommender.store import ApiKey

api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False,
    description="API key from `corridor keys create --scope read|write|admin`.",
)


def corridor_of(request: Request) -> Corridor:
    corridor = getattr(request.app.state, "corridor", None)
    if corridor is None:
        raise NotReadyError("the service is starting; retry shortly")
    return corridor


async def get_corridor(request: Request) -> Corridor:
    """Async because it never blocks: FastAPI runs a plain ``def`` dependency in the thread pool, one hand-off
    between threads per request for an attribute read."""
    return corridor_of(request)


# The key checks run on the event loop: one indexed lookup (about 0.2 ms on SQLite) costs less than handing it
# to the thread pool, and a request that queued there for its key would queue again for its route, behind the
# requests that arrived meanwhile (under load, the main source of uneven latency).
async def require_read(request: Request, secret: Annotated[str | None, Security(api_key_header)] = None) -> ApiKey:
    return corridor_of(request).authenticate(secret, "read")


async def require_write(request: Request, secret: Annotated[str | None, Security(api_key_header)] = None) -> ApiKey:
    return corridor_of(request).authenticate(secret, "write")


async def require_admin(request: Request, secret: Annotated[str | None, Security(api_key_header)] = None) -> ApiKey:
    return corridor_of(request).authenticate(secret, "admin")


async def known_query_parameters(request: Request) -> None:
    """Refuse query parameters the route does not take: a misspelt filter (``prority=drones``) must not quietly
    return unfiltered results. Async, as it never blocks (see get_corridor)."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    unknown = sorted(set(request.query_params) - _query_names(route))
    if unknown:
        known = sorted(_query_names(route))
        raise ApiError(422, "unknown_parameter",
                       f"unknown query parameter {unknown[0]!r}; this route takes: {', '.join(known) or 'none'}",
                       {"unknown": unknown, "known": known})


_QUERY_NAMES: dict[int, frozenset[str]] = {}


def _query_names(route: APIRoute) -> frozenset[str]:
    names = _QUERY_NAMES.get(id(route))
    if names is None:
        names = frozenset(_query_aliases(route.dependant))
        _QUERY_NAMES[id(route)] = names
    return names


def _query_aliases(dependant: Dependant) -> list[str]:
    names = [p.alias for p in dependant.query_params]
    for sub in dependant.dependencies:
        names += _query_aliases(sub)
    return names


CorridorDep = Annotated[Corridor, Depends(get_corridor)]
ReadKey = Annotated[ApiKey, Depends(require_read)]
WriteKey = Annotated[ApiKey, Depends(require_write)]
AdminKey = Annotated[ApiKey, Depends(require_admin)]
