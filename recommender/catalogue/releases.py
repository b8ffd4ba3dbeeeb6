"""Public data releases in the layouts their publishers use, read into catalogue rows.

CORDIS publishes Horizon Europe and Horizon 2020 every month as open-data exports; the EU Funding & Tenders
portal publishes each European Defence Fund call's results once a year. A release is read as published, so
that `corridor data refresh` can take the next one in without hand preparation:

- **CORDIS export** of Horizon Europe (``cordis-HORIZONprojects-csv.zip`` / ``-json.zip``) or Horizon 2020
  (``cordis-h2020projects-csv.zip`` / ``-json.zip``), as the zip or as a folder of its files:
  ``project`` and ``organization`` (required), ``euroSciVoc``, ``topics``, ``legalBasis`` and
  ``policyPriorities`` (used when present; other files such as ``webLink`` are ignored). CSV files are
  ';'-separated and '"'-quoted, UTF-8 with or without a BOM; JSON files hold an array of records with the
  same field names. The programme comes from ``project.frameworkProgramme`` (HORIZON / H2020), else from the
  file name.
- **EDF results**, in the layout Corridor documents for the portal's yearly lists (README, "Refreshing the
  data"): ``edf-projects.csv`` and ``edf-participants.csv`` (comma-separated, UTF-8), as a zip or a folder.

Every problem names the file and the column or row; nothing is merged from a release with a problem.
Pure: reads only the paths it is given.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from recommender.catalogue.build import (
    EDF_PARTICIPATION_COLUMNS,
    EDF_PROJECT_COLUMNS,
    edf_project_rows,
    edf_sightings,
    horizon_project_rows,
    horizon_sightings,
)
from recommender.errors import SourceDataError

CORDIS_REQUIRED: dict[str, list[str]] = {
    "project": ["id", "title", "objective", "startDate"],
    "organization": ["projectID", "organisationID", "name", "country", "role"],
}
CORDIS_OPTIONAL: dict[str, list[str]] = {
    "euroSciVoc": ["projectID", "euroSciVocPath"],
    "topics": ["projectID", "topic", "title"],
    "legalBasis": ["projectID", "legalBasis"],
    "policyPriorities": ["projectID"],
}
EDF_FILES: dict[str, list[str]] = {
    "edf-projects": [*EDF_PROJECT_COLUMNS, "acronym", "call_identifier", "type_of_action"],
    "edf-participants": [*EDF_PARTICIPATION_COLUMNS, "name", "classification_type"],
}
PROGRAMMES_BY_FRAMEWORK = {"HORIZON": "horizon-europe", "H2020": "h2020"}


class ReleaseError(SourceDataError):
    """A release file is missing, unreadable or lacks a column; the message names the file and what."""


@dataclass(frozen=True)
class Release:
    """One publisher's release as catalogue rows: projects, and participation sightings (one row per
    organisation and project with what it says about the organisation). ``files`` maps each file read
    to its sha256, for the version's provenance."""

    programme: str  # horizon-europe, h2020 or edf
    origin: str  # the path given, as the user wrote it
    projects: pd.DataFrame
    sightings: pd.DataFrame
    files: dict[str, str]
    rcn: dict[str, str] | None = None  # Horizon 2020 grant id -> CORDIS record number (rcn), where given


class _Files:
    """The files of a release, from a zip or a folder: by stem (``project``), with their bytes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.blobs: dict[str, tuple[str, bytes]] = {}
        if path.is_dir():
            for child in sorted(path.iterdir()):
                if child.is_file() and child.suffix.lower() in (".csv", ".json"):
                    self.blobs[child.stem] = (child.name, child.read_bytes())
        elif path.is_file() and zipfile.is_zipfile(path):
            try:
                with zipfile.ZipFile(path) as archive:
                    for info in archive.infolist():
                        name = Path(info.filename).name
                        if not info.is_dir() and Path(name).suffix.lower() in (".csv", ".json"):
                            self.blobs[Path(name).stem] = (name, archive.read(info))
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise ReleaseError(f"{path}: not a readable zip archive ({exc})") from None
        elif path.exists():
            raise ReleaseError(f"{path}: neither a folder nor a zip archive of a release")
        else:
            raise ReleaseError(f"{path}: no such file or folder")

    def names(self) -> set[str]:
        return set(self.blobs)

    def sha256(self) -> dict[str, str]:
        return {name: hashlib.sha256(data).hexdigest() for name, data in self.blobs.values()}

    def table(self, stem: str, columns: list[str], sep: str = ";", rows_required: bool = True) -> pd.DataFrame:
        if stem not in self.blobs:
            raise ReleaseError(f"{self.path}: missing file {stem}.csv (or {stem}.json)")
        name, data = self.blobs[stem]
        where = f"{self.path.name}/{name}" if self.path.is_file() else str(self.path / name)
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ReleaseError(f"{where}: not UTF-8 text (byte {exc.start})") from None
        try:
            if name.lower().endswith(".json"):
                records = json.loads(text)
                if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
                    raise ReleaseError(f"{where}: expected a JSON array of records")
                frame = (pd.DataFrame.from_records(records) if records else pd.DataFrame(columns=columns)).astype(
                    "string")
            else:
                frame = pd.read_csv(io.StringIO(text), sep=sep, quotechar='"', dtype="string",
                                    keep_default_na=False, na_values=[""])
        except (ValueError, pd.errors.ParserError) as exc:
            raise ReleaseError(f"{where}: cannot be read as a table ({str(exc).splitlines()[0]})") from None
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise ReleaseError(f"{where}: missing column(s) {', '.join(missing)}; found {', '.join(frame.columns)}")
        if frame.empty and rows_required:
            raise ReleaseError(f"{where}: no rows")
        return frame


def read_release(path: Path) -> Release:
    """Read the release at ``path`` (a zip or a folder): a CORDIS export or EDF results."""
    files = _Files(path)
    names = files.names()
    if {"edf-projects", "edf-participants"} <= names:
        return _edf_release(files, str(path))
    if "project" in names or "organization" in names:
        return _cordis_release(files, str(path))
    raise ReleaseError(
        f"{path}: not a release Corridor reads: expected a CORDIS export (project.csv, organization.csv, ...) "
        f"or EDF results (edf-projects.csv, edf-participants.csv); found {', '.join(sorted(names)) or 'no tables'}"
    )


def _cordis_release(files: _Files, origin: str) -> Release:
    project = files.table("project", CORDIS_REQUIRED["project"])
    organization = files.table("organization", CORDIS_REQUIRED["organization"])
    optional = {stem: files.table(stem, cols, rows_required=False) for stem, cols in CORDIS_OPTIONAL.items()
                if stem in files.names()}
    programme = _programme(project, origin)
    _require_linked(origin, (project, "project", "id"), (organization, "organization", "projectID"),
                    "organisationID")
    he = pd.DataFrame({
        "projectID": project["id"],
        "acronym": _column(project, "acronym"),
        "title": project["title"],
        "objective": project["objective"],
        "keywords": _column(project, "keywords"),
        "startDate": project["startDate"],
        "endDate": _column(project, "endDate"),
        "ecSignatureDate": _column(project, "ecSignatureDate"),
        "masterCall": _column(project, "masterCall"),
        "fundingScheme": _column(project, "fundingScheme"),
        "legalBasis": _column(project, "legalBasis"),
        "topic": _column(project, "topics"),
        "topicTitle": pd.NA,
        "euroSciVoc": pd.NA,
        "policyPriorities": pd.NA,
    })
    by_project = he.set_index("projectID")
    if "topics" in optional:
        titles = optional["topics"].drop_duplicates("projectID").set_index("projectID")
        by_project["topic"] = by_project["topic"].fillna(titles["topic"].reindex(by_project.index))
        by_project["topicTitle"] = titles["title"].reindex(by_project.index)
    if "legalBasis" in optional:
        by_project["legalBasis"] = _programme_part(optional["legalBasis"]).reindex(by_project.index).fillna(
            by_project["legalBasis"])
    if "euroSciVoc" in optional:
        paths = optional["euroSciVoc"].dropna(subset=["euroSciVocPath"]).groupby("projectID")["euroSciVocPath"]
        by_project["euroSciVoc"] = paths.agg(lambda s: ";".join(dict.fromkeys(s))).reindex(by_project.index)
    if "policyPriorities" in optional:
        by_project["policyPriorities"] = _policy_priorities(optional["policyPriorities"]).reindex(by_project.index)
    he = by_project.reset_index()
    sightings = horizon_sightings(pd.DataFrame({
        "organisationID": organization["organisationID"],
        "projectID": organization["projectID"],
        "role": organization["role"],
        "ecContribution": _column(organization, "ecContribution"),
        "country": organization["country"],
        "name": organization["name"],
        "shortName": _column(organization, "shortName"),
        "activityType": _column(organization, "activityType"),
        "sme": _column(organization, "SME").map(_boolean, na_action="ignore").astype("boolean"),
        "city": _column(organization, "city"),
    }), source=programme)
    projects = horizon_project_rows(he, programme)
    rcn = None
    if programme == "h2020" and "rcn" in project.columns:
        known = project.dropna(subset=["rcn"])
        rcn = dict(zip(known["id"].str.strip(), known["rcn"].str.strip(), strict=True))
    return Release(programme, origin, projects, sightings, files.sha256(), rcn)


def _edf_release(files: _Files, origin: str) -> Release:
    projects = files.table("edf-projects", EDF_FILES["edf-projects"], sep=",")
    participants = files.table("edf-participants", EDF_FILES["edf-participants"], sep=",")
    _require_linked(origin, (projects, "edf-projects", "project_id"), (participants, "edf-participants", "project_id"),
                    "pic")
    for column in ("topic", "start_date", "end_date", "keywords"):
        projects[column] = _column(projects, column)
    participants["city"] = _column(participants, "city")
    return Release("edf", origin, edf_project_rows(projects), edf_sightings(participants), files.sha256())


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    return frame[name] if name in frame.columns else pd.Series(pd.NA, index=frame.index, dtype="string")


def _boolean(value: str) -> bool | None:
    folded = str(value).strip().lower()
    return True if folded in ("true", "1", "yes") else False if folded in ("false", "0", "no") else None


def _require_ids(frame: pd.DataFrame, column: str, stem: str) -> None:
    blank = frame[column].isna() | (frame[column].str.strip() == "")
    if blank.any():
        rows = [int(i) + 2 for i in frame.index[blank][:5]]  # +2: the header is line 1
        raise ReleaseError(f"{stem}: {int(blank.sum())} row(s) without {column} (lines {rows})")


def _require_linked(origin: str, projects: tuple[pd.DataFrame, str, str], members: tuple[pd.DataFrame, str, str],
                    member_id: str) -> None:
    """Every project and member row has its ids, and every member row names a project of the release.
    ``projects`` and ``members`` are (table, file stem, project id column)."""
    (project_frame, project_stem, project_column), (member_frame, member_stem, link_column) = projects, members
    _require_ids(project_frame, project_column, project_stem)
    _require_ids(member_frame, link_column, member_stem)
    _require_ids(member_frame, member_id, member_stem)
    unknown = sorted(set(member_frame[link_column].dropna()) - set(project_frame[project_column].dropna()))
    if unknown:
        raise ReleaseError(f"{origin}: {member_stem} rows name {len(unknown)} project(s) not in {project_stem}: "
                           f"{', '.join(unknown[:5])}")


def _programme(project: pd.DataFrame, origin: str) -> str:
    if "frameworkProgramme" in project.columns:
        found = set(project["frameworkProgramme"].dropna().str.upper().str.strip())
        known = {PROGRAMMES_BY_FRAMEWORK[f] for f in found if f in PROGRAMMES_BY_FRAMEWORK}
        if len(known) == 1:
            return known.pop()
        if found - set(PROGRAMMES_BY_FRAMEWORK):
            raise ReleaseError(f"{origin}: project.frameworkProgramme {sorted(found)}: Corridor reads HORIZON "
                               "(Horizon Europe) and H2020 exports")
    lowered = Path(origin).name.lower()
    if "horizon" in lowered:
        return "horizon-europe"
    if "h2020" in lowered:
        return "h2020"
    raise ReleaseError(f"{origin}: cannot tell the programme: no project.frameworkProgramme column and no "
                       "HORIZON or h2020 in the file name")


def _programme_part(legal: pd.DataFrame) -> pd.Series:
    """Per project, its programme part: the legal basis CORDIS marks unique, else the first listed."""
    marked = _column(legal, "uniqueProgrammePart").fillna("").str.lower().eq("true")
    ordered = legal.assign(_first=~marked).sort_values(["projectID", "_first"], kind="stable")
    return ordered.drop_duplicates("projectID").set_index("projectID")["legalBasis"]


def _policy_priorities(wide: pd.DataFrame) -> pd.Series:
    """Per project, ``code:weight;...`` from the export's one-column-per-priority table (every weight given)."""
    codes = [c for c in wide.columns if c != "projectID"]
    weights = wide[codes].apply(pd.to_numeric, errors="coerce")

    def joined(row: pd.Series) -> str | None:
        parts = [f"{code}:{int(w) if float(w).is_integer() else w}" for code, w in row.items() if pd.notna(w)]
        return ";".join(parts) or None

    out = weights.apply(joined, axis=1)
    out.index = wide["projectID"]
    return out[~out.index.duplicated()]

