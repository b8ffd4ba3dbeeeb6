"""User-provided organisations: validate every row of a CSV or JSON file, store the valid ones.

Nothing is lost: each invalid row comes back as a :class:`RowError` naming the row and every wrong field
with its reason, and the caller decides the exit status. Adding the same row twice stores it once (rows are
keyed by id); the valid rows go into the one SQL store (recommender/store.py) in a single transaction, so an
interrupted or concurrent write never loses another writer's rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from recommender.catalogue.countries import is_known_country, normalise_country, region_of
from recommender.catalogue.schema import ACTIVITY_TYPES, SIZE_CLASSES
from recommender.errors import InputFileError
from recommender.userfiles import FIELD_LIMIT, RowError, csv_records, json_document

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
STRING_FIELDS = (
    "id",
    "name",
    "short_name",
    "country",
    "control_country",
    "activity_type",
    "size_class",
    "city",
    "description",
)
REQUIRED_COLUMNS = ("id", "name", "country", "description")
KNOWN_FIELDS = frozenset(STRING_FIELDS) | {"sme", "technology_areas"}
TRUE_WORDS = {"true", "yes", "1", "y"}
FALSE_WORDS = {"false", "no", "0", "n"}


@dataclass
class AddReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    rejected: list[RowError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.rejected


def read_rows(path: Path) -> tuple[list[tuple[int, object]], list[RowError]]:
    """(row number, record) pairs from a CSV or JSON file (a list of objects, or {"organisations": [...]}),
    and the CSV rows the reader rejects itself (over-long fields, too many values)."""
    suffix = path.suffix.lower()
    if suffix == ".json":
        data = json_document(path)
        if isinstance(data, dict) and isinstance(data.get("organisations"), list):
            data = data["organisations"]
        if not isinstance(data, list):
            raise InputFileError(f"{path.name}: expected a JSON array of organisations")
        return list(enumerate(data, start=1)), []
    if suffix == ".csv":
        records, rejected = csv_records(path, REQUIRED_COLUMNS, STRING_FIELDS + ("sme", "technology_areas"))
        rows: list[tuple[int, object]] = list(records)
        return rows, rejected
    if not path.exists():
        raise InputFileError(f"cannot read {path}: No such file or directory")
    raise InputFileError(f"{path.name}: unsupported file type {suffix!r} (use .csv or .json)")


def validate_row(rec: object, row: int, priority_ids: frozenset[str] | None) -> tuple[dict | None, RowError | None]:
    """Check one record; return the normalised organisation row, or a RowError listing every problem."""
    if not isinstance(rec, dict):
        return None, RowError.of(row, "(row)", f"wrong type: expected an object, got {type(rec).__name__}")
    problems: list[tuple[str, str]] = []
    for key in STRING_FIELDS:
        value = rec.get(key)
        if value is not None and not isinstance(value, str):
            problems.append((key, f"wrong type: expected text, got {type(value).__name__}"))
        elif isinstance(value, str) and len(value) > FIELD_LIMIT:
            problems.append((key, f"longer than {FIELD_LIMIT:,} characters"))
    bad = {key for key, _ in problems}
    clean = {k: "" if k in bad else (rec.get(k) or "").strip() for k in STRING_FIELDS}
    if "id" not in bad:
        if not clean["id"]:
            problems.append(("id", "missing id"))
        elif not ID_PATTERN.match(clean["id"]):
            problems.append(("id", "invalid id: use letters, digits, '.', '_' or '-' (at most 80)"))
    if "name" not in bad and not clean["name"]:
        problems.append(("name", "missing name"))
    country = normalise_country(clean["country"])
    if "country" not in bad:
        if not country:
            problems.append(("country", "missing country code"))
        elif not is_known_country(country):
            problems.append(("country", f"unknown country code {clean['country']!r}"))
    control = normalise_country(clean["control_country"])
    if control is not None and not is_known_country(control):
        problems.append(("control_country", f"unknown country code {clean['control_country']!r}"))
    if "description" not in bad and not clean["description"]:
        problems.append(("description", "empty description"))
    activity = clean["activity_type"].upper() or None
    if activity is not None and activity not in ACTIVITY_TYPES:
        problems.append(("activity_type", f"wrong type: expected one of {', '.join(ACTIVITY_TYPES)}"))
    size = clean["size_class"].lower() or None
    if size is not None and size not in SIZE_CLASSES:
        problems.append(("size_class", f"wrong type: expected one of {', '.join(SIZE_CLASSES)}"))
    sme = rec.get("sme")
    if isinstance(sme, str):
        word = sme.strip().lower()
        sme = True if word in TRUE_WORDS else False if word in FALSE_WORDS else sme if word else None
    if sme is not None and not isinstance(sme, bool):
        problems.append(("sme", f"wrong type: expected true or false, got {_short(sme)}"))
    areas = rec.get("technology_areas")
    if isinstance(areas, str):
        areas = [a.strip() for a in areas.replace(",", ";").split(";") if a.strip()]
    if areas is None:
        areas = []
    if not isinstance(areas, list) or not all(isinstance(a, str) for a in areas):
        problems.append(("technology_areas", "wrong type: expected a list of priority ids"))
    elif priority_ids is not None and (unknown := sorted(set(areas) - priority_ids)):
        problems.append(("technology_areas", f"unknown priority ids {unknown}"))
    if problems:
        return None, RowError(row, tuple(problems))
    assert isinstance(areas, list)
    return {
        "id": clean["id"],
        "name": clean["name"],
        "short_name": clean["short_name"] or None,
        "country": country,
        "region": region_of(country),
        "activity_type": activity,
        "sme": sme if sme is not None else (True if size == "sme" else None),
        "control_country": control,
        "size_class": size,
        "city": clean["city"] or None,
        "description": " ".join(clean["description"].split()),
        "technology_areas": ";".join(areas) or None,
        "sources": "user",
    }, None


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def validate_rows(
    rows: list[tuple[int, object]], priority_ids: frozenset[str] | None = None
) -> tuple[list[dict], list[RowError]]:
    """Validate every row; a repeated id within the file rejects the later occurrences."""
    good: list[dict] = []
    errors: list[RowError] = []
    first_row: dict[str, int] = {}
    for row, rec in rows:
        org, err = validate_row(rec, row, priority_ids)
        if err is not None:
            errors.append(err)
            continue
        assert org is not None
        if org["id"] in first_row:
            errors.append(
                RowError.of(row, "id", f"duplicate id {org['id']!r} in the file (first at row {first_row[org['id']]})")
            )
            continue
        first_row[org["id"]] = row
        good.append(org)
    return good, errors


class OrganisationStore(Protocol):
    """Where user organisations are kept (recommender.store.Store): one transaction per merge."""

    def merge_organisations(
        self, orgs: list[dict], actor: Any = ..., catalogue_ids: frozenset[str] = ...
    ) -> tuple[list[str], list[str], list[str]]: ...


def add_organisations(
    path: Path,
    store: OrganisationStore,
    priority_ids: frozenset[str] | None = None,
    catalogue_ids: frozenset[str] = frozenset(),
) -> AddReport:
    """Validate ``path`` and merge its valid rows into ``store`` in one transaction, on the command line's
    authority: rows with a catalogue organisation's id (``catalogue_ids``) are stored as revertible overlays."""
    rows, unreadable = read_rows(path)
    report = AddReport()
    if rows:
        report.ignored_columns = sorted(
            {str(k) for _, rec in rows if isinstance(rec, dict) for k in rec} - KNOWN_FIELDS
        )
    good, invalid = validate_rows(rows, priority_ids)
    report.rejected = sorted(unreadable + invalid, key=lambda e: e.row)
    report.added, report.updated, report.unchanged = store.merge_organisations(good, catalogue_ids=catalogue_ids)
    return report
