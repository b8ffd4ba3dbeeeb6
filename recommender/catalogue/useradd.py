"""User-provided organisations: validate every row of a CSV or JSON file, store the valid ones.

Nothing is lost: each invalid row comes back as a :class:`RowError` naming the row, the field and the
reason, and the caller decides the exit status. Adding the same row twice stores it once (rows are keyed
by id); the valid rows go into the one SQL store (recommender/store.py) in a single transaction, so an
interrupted or concurrent write never loses another writer's rows.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from recommender.catalogue.countries import is_known_country, normalise_country, region_of
from recommender.catalogue.schema import ACTIVITY_TYPES, SIZE_CLASSES
from recommender.errors import InputFileError

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
KNOWN_FIELDS = frozenset(STRING_FIELDS) | {"sme", "technology_areas"}
TRUE_WORDS = {"true", "yes", "1", "y"}
FALSE_WORDS = {"false", "no", "0", "n"}


@dataclass(frozen=True)
class RowError:
    """One rejected row: ``row`` is the CSV line number (header = line 1) or the 1-based JSON position."""

    row: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.field}: {self.reason}"


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


def _decode(raw: bytes) -> str:
    """Decode as UTF-8 (BOM allowed); undecodable bytes survive as surrogates so their row can be named."""
    return raw.decode("utf-8-sig", errors="surrogateescape")


def _has_bad_bytes(value: object) -> bool:
    return isinstance(value, str) and any("\udc80" <= ch <= "\udcff" for ch in value)


def read_rows(path: Path) -> list[tuple[int, dict]]:
    """(row number, record) pairs from a CSV or JSON file (a list of objects, or {"organisations": [...]})."""
    try:
        text = _decode(path.read_bytes())
    except OSError as exc:
        raise InputFileError(f"cannot read {path}: {exc.strerror}") from exc
    suffix = path.suffix.lower()
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputFileError(f"{path.name}: not valid JSON (line {exc.lineno}: {exc.msg})") from exc
        if isinstance(data, dict) and isinstance(data.get("organisations"), list):
            data = data["organisations"]
        if not isinstance(data, list):
            raise InputFileError(f"{path.name}: expected a JSON array of organisations")
        return [(i, rec) for i, rec in enumerate(data, start=1)]
    if suffix == ".csv":
        reader = csv.DictReader(io.StringIO(text, newline=""))
        if not reader.fieldnames:
            raise InputFileError(f"{path.name}: empty CSV file (no header)")
        rows = []
        line = reader.line_num
        for rec in reader:
            line_start = line + 1
            line = reader.line_num
            rows.append((line_start, {k: v for k, v in rec.items() if k is not None}))
        return rows
    raise InputFileError(f"{path.name}: unsupported file type {suffix!r} (use .csv or .json)")


def validate_row(rec: object, row: int, priority_ids: frozenset[str] | None) -> tuple[dict | None, RowError | None]:
    """Check one record; return the normalised organisation row or the first error found."""
    if not isinstance(rec, dict):
        return None, RowError(row, "(row)", f"wrong type: expected an object, got {type(rec).__name__}")
    for key, value in rec.items():
        if _has_bad_bytes(value) or _has_bad_bytes(key):
            return None, RowError(row, str(key).encode("utf-8", "replace").decode(), "unreadable encoding (not UTF-8)")
    for key in STRING_FIELDS:
        value = rec.get(key)
        if value is not None and not isinstance(value, str):
            return None, RowError(row, key, f"wrong type: expected text, got {type(value).__name__}")
    clean = {k: (rec.get(k) or "").strip() for k in STRING_FIELDS}
    if not clean["id"]:
        return None, RowError(row, "id", "missing id")
    if not ID_PATTERN.match(clean["id"]):
        return None, RowError(row, "id", "invalid id: use letters, digits, '.', '_' or '-' (at most 80)")
    if not clean["name"]:
        return None, RowError(row, "name", "missing name")
    country = normalise_country(clean["country"])
    if not country:
        return None, RowError(row, "country", "missing country code")
    if not is_known_country(country):
        return None, RowError(row, "country", f"unknown country code {clean['country']!r}")
    control = normalise_country(clean["control_country"])
    if control is not None and not is_known_country(control):
        return None, RowError(row, "control_country", f"unknown country code {clean['control_country']!r}")
    if not clean["description"]:
        return None, RowError(row, "description", "empty description")
    activity = clean["activity_type"].upper() or None
    if activity is not None and activity not in ACTIVITY_TYPES:
        return None, RowError(row, "activity_type", f"wrong type: expected one of {', '.join(ACTIVITY_TYPES)}")
    size = clean["size_class"].lower() or None
    if size is not None and size not in SIZE_CLASSES:
        return None, RowError(row, "size_class", f"wrong type: expected one of {', '.join(SIZE_CLASSES)}")
    sme = rec.get("sme")
    if isinstance(sme, str):
        word = sme.strip().lower()
        sme = True if word in TRUE_WORDS else False if word in FALSE_WORDS else sme if word else None
    if sme is not None and not isinstance(sme, bool):
        return None, RowError(row, "sme", f"wrong type: expected true or false, got {sme!r}")
    areas = rec.get("technology_areas")
    if isinstance(areas, str):
        areas = [a.strip() for a in areas.replace(",", ";").split(";") if a.strip()]
    if areas is None:
        areas = []
    if not isinstance(areas, list) or not all(isinstance(a, str) for a in areas):
        return None, RowError(row, "technology_areas", "wrong type: expected a list of priority ids")
    if priority_ids is not None and (unknown := sorted(set(areas) - priority_ids)):
        return None, RowError(row, "technology_areas", f"unknown priority ids {unknown}")
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


def validate_rows(
    rows: list[tuple[int, dict]], priority_ids: frozenset[str] | None = None
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
                RowError(row, "id", f"duplicate id {org['id']!r} in the file (first at row {first_row[org['id']]})")
            )
            continue
        first_row[org["id"]] = row
        good.append(org)
    return good, errors


class OrganisationStore(Protocol):
    """Where user organisations are kept (recommender.store.Store): one transaction per merge."""

    def merge_organisations(
        self, orgs: list[dict], key_id: int | None = None
    ) -> tuple[list[str], list[str], list[str]]: ...


def add_organisations(
    path: Path, store: OrganisationStore, priority_ids: frozenset[str] | None = None
) -> AddReport:
    """Validate ``path`` and merge its valid rows into ``store`` in one transaction."""
    rows = read_rows(path)
    report = AddReport()
    if rows:
        report.ignored_columns = sorted({k for _, rec in rows if isinstance(rec, dict) for k in rec} - KNOWN_FIELDS)
    good, report.rejected = validate_rows(rows, priority_ids)
    report.added, report.updated, report.unchanged = store.merge_organisations(good)
    return report
