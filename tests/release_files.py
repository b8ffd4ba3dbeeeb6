"""Release files in their publishers' layouts, written from catalogue rows (the shipped catalogue is built from
../shared/data): a CORDIS Horizon Europe export (zip of ';'-separated CSV files, or JSON) and EDF results in
the layout Corridor documents. Tests refresh a catalogue with them, without a network."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import pandas as pd

from recommender.catalogue import Catalogue

PROJECT_COLUMNS = ["id", "acronym", "status", "title", "startDate", "endDate", "totalCost", "ecMaxContribution",
                   "legalBasis", "topics", "ecSignatureDate", "frameworkProgramme", "masterCall", "subCall",
                   "fundingScheme", "nature", "objective", "contentUpdateDate", "rcn", "grantDoi", "keywords"]
ORGANIZATION_COLUMNS = ["projectID", "projectAcronym", "organisationID", "vatNumber", "name", "shortName", "SME",
                        "activityType", "street", "postCode", "city", "country", "nutsCode", "geolocation",
                        "organizationURL", "contactForm", "contentUpdateDate", "rcn", "order", "role",
                        "ecContribution", "netEcContribution", "totalCost", "endOfParticipation", "active"]
POLICY_CODES = ["ai", "biodiversity", "cleanAir", "climate", "digitalAgenda"]
CORDIS_COUNTRY = {"GR": "EL", "GB": "UK"}


def _v(value) -> str:
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def _csv(rows: list[dict], columns: list[str], sep: str = ";") -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, delimiter=sep, quotechar='"', quoting=csv.QUOTE_MINIMAL,
                            lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: _v(row.get(c)) for c in columns})
    return out.getvalue()


def cordis_tables(catalogue: Catalogue, year: int, programme: str = "horizon-europe") -> dict[str, tuple[list, list]]:
    """The CORDIS export tables (name -> (columns, rows)) of ``programme``'s projects signed in ``year``."""
    projects = catalogue.projects[(catalogue.projects["programme"] == programme) & (catalogue.projects["year"] == year)]
    ids = set(projects["id"])
    parts = catalogue.participations[catalogue.participations["project_id"].isin(ids)]
    orgs = catalogue.organisations.set_index("id")
    project_rows, topic_rows, legal_rows, voc_rows, policy_rows = [], [], [], [], []
    for p in projects.itertuples():
        project_rows.append({
            "id": p.id, "acronym": p.acronym, "status": "SIGNED", "title": p.title, "startDate": p.start_date,
            "endDate": p.end_date, "legalBasis": p.programme_part, "topics": p.topic,
            "ecSignatureDate": p.signature_date, "frameworkProgramme": "HORIZON", "masterCall": p.call,
            "fundingScheme": p.type_of_action, "objective": p.objective, "keywords": p.keywords,
        })
        if _v(p.topic):
            topic_rows.append({"projectID": p.id, "topic": p.topic, "title": p.topic_title})
        if _v(p.programme_part):
            legal_rows.append({"projectID": p.id, "legalBasis": p.programme_part, "title": "",
                               "uniqueProgrammePart": "true"})
        for path in _v(p.euroscivoc).split(";"):
            if path:
                voc_rows.append({"projectID": p.id, "euroSciVocPath": path})
        weights = dict(item.split(":", 1) for item in _v(p.policy_priorities).split(";") if ":" in item)
        if weights:
            policy_rows.append({"projectID": p.id, **{code: weights.get(code, "") for code in POLICY_CODES}})
    org_rows = []
    for order, part in enumerate(parts.itertuples(), start=1):
        org = orgs.loc[part.org_id]
        org_rows.append({
            "projectID": part.project_id, "organisationID": part.org_id, "name": org["name"],
            "shortName": org["short_name"], "SME": _v(org["sme"]).lower(), "activityType": org["activity_type"],
            "city": org["city"], "country": CORDIS_COUNTRY.get(_v(part.country), part.country), "order": order,
            "role": part.role, "ecContribution": part.contribution,
        })
    return {
        "project": (PROJECT_COLUMNS, project_rows),
        "organization": (ORGANIZATION_COLUMNS, org_rows),
        "topics": (["projectID", "topic", "title"], topic_rows),
        "legalBasis": (["projectID", "legalBasis", "title", "uniqueProgrammePart"], legal_rows),
        "euroSciVoc": (["projectID", "euroSciVocCode", "euroSciVocPath", "euroSciVocTitle", "euroSciVocDescription"],
                       voc_rows),
        "policyPriorities": ([*POLICY_CODES, "projectID"], policy_rows),
    }


def write_cordis_export(catalogue: Catalogue, year: int, path: Path, as_json: bool = False) -> Path:
    """``cordis-HORIZONprojects-csv.zip`` (or ``-json.zip``) of the Horizon Europe projects signed in ``year``."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, (columns, rows) in cordis_tables(catalogue, year).items():
            if as_json:
                records = [{c: _v(r.get(c)) for c in columns} for r in rows]
                archive.writestr(f"{name}.json", json.dumps(records))
            else:
                archive.writestr(f"{name}.csv", _csv(rows, columns))
    return path


EDF_CLASSIFICATION = {"PRC": "Private for profit organisation", "REC": "Research Organisation",
                      "HES": "Higher or secondary education establishment", "PUB": "Public organisation",
                      "OTH": "Other"}


def write_edf_results(catalogue: Catalogue, year: int, folder: Path) -> Path:
    """``edf-projects.csv`` and ``edf-participants.csv`` of the EDF projects signed in ``year``."""
    folder.mkdir(parents=True, exist_ok=True)
    projects = catalogue.projects[(catalogue.projects["programme"] == "edf") & (catalogue.projects["year"] == year)]
    parts = catalogue.participations[catalogue.participations["project_id"].isin(set(projects["id"]))]
    orgs = catalogue.organisations.set_index("id")
    project_rows = [{"project_id": p.id, "acronym": p.acronym, "title": p.title, "call_identifier": p.call,
                     "topic": p.topic, "type_of_action": p.type_of_action, "ec_signature_date": p.signature_date,
                     "start_date": p.start_date, "end_date": p.end_date, "objective": p.objective,
                     "keywords": p.keywords} for p in projects.itertuples()]
    part_rows = []
    for part in parts.itertuples():
        org = orgs.loc[part.org_id]
        kind = "Small or medium-size enterprise" if _v(org["sme"]) == "True" else EDF_CLASSIFICATION.get(
            _v(org["activity_type"]), "Other")
        part_rows.append({"project_id": part.project_id, "pic": part.org_id, "name": org["name"], "role": part.role,
                          "country": part.country, "city": org["city"], "classification_type": kind})
    (folder / "edf-projects.csv").write_text(_csv(project_rows, list(project_rows[0]), sep=","), encoding="utf-8")
    (folder / "edf-participants.csv").write_text(_csv(part_rows, list(part_rows[0]), sep=","), encoding="utf-8")
    return folder
