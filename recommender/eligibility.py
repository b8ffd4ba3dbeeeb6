"""Consortium inputs for the rules engine: from a JSON file, or from catalogue ids."""

from __future__ import annotations

from pathlib import Path

from recommender.errors import ConsortiumFormatError
from recommender.userfiles import json_document


def read_consortium_file(path: Path) -> dict:
    """The consortium JSON as a dict; unreadable files and non-objects are reported with the file name."""
    data = json_document(path)
    if not isinstance(data, dict):
        raise ConsortiumFormatError(f"{path.name}: expected a JSON object with 'instrument' and 'members'")
    return data


def consortium_of(instrument: str, member_ids: list[str]) -> dict:
    """A consortium of catalogue organisations given by id (completed from the catalogue when checked), all
    funded participants; the first one coordinates."""
    if not member_ids:
        raise ConsortiumFormatError("members: at least one organisation id is needed")
    roles = ["coordinator"] + ["participant"] * (len(member_ids) - 1)
    return {"instrument": instrument, "members": [{"id": m, "role": r} for m, r in zip(member_ids, roles, strict=True)]}
