"""Consortium inputs for the rules engine: from a JSON file, or from catalogue ids."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from recommender.catalogue import Catalogue
from recommender.errors import ConsortiumFormatError, UnknownOrganisationError
from recommender.userfiles import json_document


def read_consortium_file(path: Path) -> dict:
    """The consortium JSON as a dict; unreadable files and non-objects are reported with the file name."""
    data = json_document(path)
    if not isinstance(data, dict):
        raise ConsortiumFormatError(f"{path.name}: expected a JSON object with 'instrument' and 'members'")
    return data


def member_record(catalogue: Catalogue, org_id: str) -> dict:
    """A consortium member (rules-engine format) from a catalogue organisation."""
    orgs = catalogue.organisations
    match = orgs[orgs["id"] == org_id]
    if match.empty:
        raise UnknownOrganisationError(org_id)
    org = match.iloc[0]
    record = {"id": org_id, "country": org["country"]}
    for field in ("name", "control_country", "activity_type"):
        if not pd.isna(org[field]):
            record[field] = str(org[field])
    if not pd.isna(org["sme"]):
        record["sme"] = bool(org["sme"])
    return record


def consortium_from_catalogue(catalogue: Catalogue, instrument: str, member_ids: list[str]) -> dict:
    """A consortium of catalogue organisations, all funded participants; the first one coordinates."""
    if not member_ids:
        raise ConsortiumFormatError("members: at least one organisation id is needed")
    members = [member_record(catalogue, m) for m in member_ids]
    for i, member in enumerate(members):
        member["role"] = "coordinator" if i == 0 else "participant"
    return {"instrument": instrument, "members": members}
