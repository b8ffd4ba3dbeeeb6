"""Plain-data views of profiles for the adapters (CLI tables, JSON, API responses)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from recommender.catalogue import Catalogue, RowError
from recommender.profiles.profiles import Profiles, characteristic_projects, explain_org_priorities
from recommender.userfiles import csv_records, row_errors

if TYPE_CHECKING:
    from recommender.profiles.tagger import PriorityTagger


def _plain(value: object) -> object:
    if value is None or (not isinstance(value, (list, tuple, np.ndarray)) and pd.isna(cast(Any, value))):
        return None
    return value.item() if hasattr(value, "item") else value


def organisation_profile(
    catalogue: Catalogue, profiles: Profiles, org_id: str, top: int = 5, tagger: PriorityTagger | None = None
) -> dict:
    """Organisation record, what its profile is built from, top priorities with evidence, typical projects."""
    row = profiles.org_row(org_id)
    org = {k: _plain(v) for k, v in catalogue.organisations.iloc[row].items()}
    n_projects = profiles.org_weights.getrow(row).nnz
    basis = []
    if org_id in profiles.org_description_texts:
        basis.append("own capability description")
    if n_projects:
        basis.append(f"{n_projects} projects with text (recent and coordinated weigh more)")
    projects = catalogue.projects.set_index("id")
    chars = []
    for pid, sim in characteristic_projects(profiles, org_id):
        p = projects.loc[pid]
        chars.append(
            {
                "id": pid,
                "programme": p["programme"],
                "year": _plain(p["year"]),
                "title": _plain(p["title"]),
                "similarity": round(sim, 4),
            }
        )
    evidence = explain_org_priorities(profiles, catalogue, org_id, tagger=tagger)[:top]
    return {
        "organisation": org,
        "has_profile": bool(profiles.org_has_profile[row]),
        "profile_basis": "; ".join(basis) or "no text: no capability profile (graph-only organisation)",
        "priorities": [
            {
                "priority": e.priority,
                "score": round(e.score, 4),
                "declared": e.declared,
                "terms": e.terms,
                "projects": [{"id": i, "title": t, "score": round(s, 4)} for i, t, s in e.projects],
            }
            for e in evidence
        ],
        "characteristic_projects": chars,
        "taxonomy_version": profiles.taxonomy.version,
    }


def priority_rows(ids: list[str], scores: np.ndarray, priority_ids: list[str]) -> pd.DataFrame:
    """Long format: one row per (id, priority), priorities in taxonomy order."""
    return pd.DataFrame(
        {
            "id": np.repeat(np.array(ids, dtype=object), len(priority_ids)),
            "priority": np.tile(np.array(priority_ids, dtype=object), len(ids)),
            "score": np.round(scores.reshape(-1), 6) if len(ids) else np.zeros(0),
        }
    )


def read_text_rows(path: Path) -> tuple[list[tuple[int, str, str]], list[RowError]]:
    """(line, id, text) rows of a CSV with columns id and text; other rows are reported with all their problems."""
    rows, seen = [], set()
    records, problems = csv_records(path, ["id", "text"])
    for start, rec in records:
        rid, body = (rec.get("id") or "").strip(), " ".join((rec.get("text") or "").split())
        found = []
        if not rid:
            found.append(("id", "missing id"))
        elif rid in seen:
            found.append(("id", f"duplicate id {rid!r}"))
        if not body:
            found.append(("text", "empty text"))
        if found:
            problems.extend(row_errors(start, found))
            continue
        seen.add(rid)
        rows.append((start, rid, body))
    return rows, sorted(problems, key=lambda e: e.row)
