"""The curated defence-industry supplement: a reviewable YAML file of organisations thin in CORDIS."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from recommender.catalogue.countries import is_known_country, normalise_country
from recommender.catalogue.schema import ACTIVITY_TYPES, SIZE_CLASSES
from recommender.errors import CatalogueError

REQUIRED = ("id", "name", "country", "control_country", "activity_type", "size_class", "description")


@dataclass(frozen=True)
class CuratedOrganisation:
    id: str
    pic: str | None
    name: str
    short_name: str | None
    country: str
    control_country: str
    activity_type: str
    size_class: str
    technology_areas: tuple[str, ...]
    description: str


@dataclass(frozen=True)
class CuratedFile:
    meta: dict
    organisations: list[CuratedOrganisation]


def load_curated(path: Path, priority_ids: frozenset[str] | None = None) -> CuratedFile:
    """Parse and validate the curated file; any problem names the entry (index and id) and the field."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogueError(f"cannot read curated file {path}: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("organisations"), list):
        raise CatalogueError(f"{path}: expected a mapping with an 'organisations' list")
    meta = raw.get("meta") or {}
    if not meta.get("review_date"):
        raise CatalogueError(f"{path}: meta.review_date is required")
    seen: set[str] = set()
    out = []
    for i, entry in enumerate(raw["organisations"]):
        where = f"{path.name}: organisations[{i}]"
        if not isinstance(entry, dict):
            raise CatalogueError(f"{where}: expected a mapping")
        for field in REQUIRED:
            if not str(entry.get(field) or "").strip():
                raise CatalogueError(f"{where} ({entry.get('id')}): {field} is required")
        org_id = str(entry["id"]).strip()
        if org_id in seen:
            raise CatalogueError(f"{where}: duplicate id {org_id!r}")
        seen.add(org_id)
        country = normalise_country(entry["country"])
        control = normalise_country(entry["control_country"])
        for field, code in (("country", country), ("control_country", control)):
            if not is_known_country(code):
                raise CatalogueError(f"{where} ({org_id}): {field}: unknown country code {code!r}")
        if entry["activity_type"] not in ACTIVITY_TYPES:
            raise CatalogueError(f"{where} ({org_id}): activity_type must be one of {ACTIVITY_TYPES}")
        if entry["size_class"] not in SIZE_CLASSES:
            raise CatalogueError(f"{where} ({org_id}): size_class must be one of {SIZE_CLASSES}")
        areas = tuple(entry.get("technology_areas") or ())
        if priority_ids is not None and (unknown := set(areas) - priority_ids):
            raise CatalogueError(f"{where} ({org_id}): technology_areas: unknown {sorted(unknown)}")
        pic = entry.get("pic")
        out.append(
            CuratedOrganisation(
                id=org_id,
                pic=str(pic).strip() if pic not in (None, "") else None,
                name=str(entry["name"]).strip(),
                short_name=(str(entry["short_name"]).strip() or None) if entry.get("short_name") else None,
                country=country,  # type: ignore[arg-type]
                control_country=control,  # type: ignore[arg-type]
                activity_type=entry["activity_type"],
                size_class=entry["size_class"],
                technology_areas=areas,
                description=" ".join(str(entry["description"]).split()),
            )
        )
    return CuratedFile(meta=meta, organisations=out)
