"""The served OpenAPI schema states what the server accepts: priority, instrument and action-type ids are enums
built from the taxonomy and rules files the server loads (settings), not hard-coded; a consortium's action
type is one of its instrument's; country fields list the known country codes. A request the schema calls
valid names things the server knows.

Pydantic models cannot know these ids (they are data), so the generated schema is completed here once, when
it is first served.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from recommender.catalogue.countries import ALIASES, ISO_COUNTRIES
from recommender.errors import CorridorError
from recommender.profiles.taxonomy import load_taxonomy
from recommender.rules import load_rulebook
from recommender.settings import Settings

REQUEST_MODELS = ("MatchRequest", "ConsortiumRequest", "ConsortiumIn", "OrganisationIn", "OrganisationUpdate",
                  "MemberIn", "ComponentIn")
COUNTRY_FIELDS = ("country", "control_country", "origin_country")
COUNTRY_CODES = sorted(ISO_COUNTRIES | set(ALIASES))
PRIORITY_NOTE = " The enum lists the ids."


def known_ids(settings: Settings) -> dict[str, list[str]]:
    """The priority and instrument ids of the data files, by field name; a file that cannot be read (the
    server will refuse to start on it) contributes none."""
    ids: dict[str, list[str]] = {}
    try:
        ids["priority"] = load_taxonomy(settings.taxonomy_file).ids
    except (CorridorError, OSError):
        pass
    try:
        rulebook = load_rulebook(settings.rules_file)
        ids["instrument"] = rulebook.instrument_ids
        ids["action_type"] = sorted({a for i in rulebook.instruments.values() for a in i.action_types})
        ids.update({f"action_type:{i}": sorted(x.action_types) for i, x in rulebook.instruments.items()})
        ids["product_category"] = sorted(rulebook.product_categories)
    except (CorridorError, OSError):
        pass
    return ids


def _enum(schema: dict[str, Any], ids: list[str]) -> dict[str, Any]:
    """``schema`` (a string or a nullable string) restricted to ``ids``."""
    kept = {k: v for k, v in schema.items() if k not in ("type", "minLength", "maxLength", "pattern", "anyOf")}
    if "anyOf" in schema:
        alternatives = [{"type": "string", "enum": ids} if alt.get("type") == "string" else alt
                        for alt in schema["anyOf"]]
        return {**kept, "anyOf": alternatives}
    return {**kept, "type": "string", "enum": ids}


def _describe_priority(schema: dict[str, Any]) -> None:
    schema["description"] = schema.get("description", "Technology priority.") + PRIORITY_NOTE


def complete_schema(spec: dict[str, Any], ids: dict[str, list[str]]) -> dict[str, Any]:
    """``spec`` with the priority, instrument and technology-area fields of requests restricted to ``ids``."""
    priorities, instruments = ids.get("priority"), ids.get("instrument")
    path_ids = {"priority": priorities, "instrument": instruments, "instrument_id": instruments}
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                allowed = path_ids.get(parameter["name"])
                if allowed:
                    parameter["schema"] = _enum(parameter["schema"], allowed)
                    if parameter["name"] == "priority":
                        _describe_priority(parameter)
    components = spec.get("components", {}).get("schemas", {})
    for name in REQUEST_MODELS:
        properties = components.get(name, {}).get("properties", {})
        if priorities and "priority" in properties:
            properties["priority"] = _enum(properties["priority"], priorities)
            _describe_priority(properties["priority"])
        if instruments and "instrument" in properties:
            properties["instrument"] = _enum(properties["instrument"], instruments)
        if ids.get("action_type") and "action_type" in properties:
            properties["action_type"] = _enum(properties["action_type"], ids["action_type"])
            properties["action_type"]["description"] = "An action type of the instrument (GET /v1/instruments/{id})."
        if ids.get("product_category") and "product_category" in properties:
            properties["product_category"] = _enum(properties["product_category"], ids["product_category"])
        for field in COUNTRY_FIELDS:
            if field in properties:
                properties[field] = _enum(properties[field], COUNTRY_CODES)
        if priorities and "technology_areas" in properties:
            properties["technology_areas"]["items"] = {"type": "string", "enum": priorities}
    if instruments and "ConsortiumIn" in components:
        components["ConsortiumIn"]["anyOf"] = _action_types_per_instrument(instruments, ids)
    return spec


def _action_types_per_instrument(instruments: list[str], ids: dict[str, list[str]]) -> list[dict[str, Any]]:
    """One alternative per instrument: its id and the action types it defines (none: no action type)."""
    alternatives = []
    for instrument in instruments:
        actions = ids.get(f"action_type:{instrument}", [])
        action: dict[str, Any] = {"anyOf": [{"type": "string", "enum": actions}, {"type": "null"}]} if actions \
            else {"type": "null"}
        alternatives.append({"properties": {"instrument": {"const": instrument}, "action_type": action}})
    return alternatives


def schema_builder(app: FastAPI, settings: Settings) -> Callable[[], dict[str, Any]]:
    """The ``app.openapi`` of the application: FastAPI's schema completed with the ids, built once."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(title=app.title, version=app.version, description=app.description,
                               routes=app.routes, tags=app.openapi_tags)
            app.openapi_schema = complete_schema(spec, known_ids(settings))
        return app.openapi_schema

    return openapi
