"""Merge public releases into the catalogue, and say what changed.

A release is a snapshot of the projects it lists. For those projects it is the truth: their texts and
dates, and who takes part in them, come from the release. Projects it does not list stay as they were (a
monthly CORDIS export and a yearly EDF list cover different projects; a test slice covers one year).
Organisations are never removed: one that no longer takes part in a project the release lists again is
kept, and flagged in the diff. A newer release's name, country and type of an organisation replace the old
ones (curated organisations keep their curated name); curated fields (description, technology areas,
control country, size class) are never touched.

Horizon 2020 exports give grant ids, while the H2020 link table this catalogue was first built from gives
CORDIS record numbers (``h2020-rcn-<rcn>``): a grant whose record number is known joins that project rather
than duplicating it. A project the catalogue files under security research stays there.

Pure: frames in, frames out.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from recommender.catalogue.build import (
    SOURCE_ORDER,
    Catalogue,
    conform,
    organisations_from_sightings,
    participations_from_sightings,
)
from recommender.catalogue.countries import region_of
from recommender.catalogue.releases import Release, read_release
from recommender.catalogue.schema import ORGANISATIONS, PARTICIPATIONS, PROJECTS
from recommender.catalogue.store import load_catalogue
from recommender.catalogue.versions import CatalogueVersions, catalogue_sha256

PROJECT_TEXT_FIELDS = ("title", "objective", "keywords", "acronym", "start_date", "end_date", "signature_date",
                       "topic", "call", "type_of_action")
ORGANISATION_FIELDS = ("name", "short_name", "country", "activity_type", "sme", "city")
SHOWN = 200  # rows of each list kept in the diff (counts are always complete; new projects are all listed)
PROGRAMME_SHOWN_FIRST = {"edf": 0, "security": 1, "horizon-europe": 2, "h2020": 3}  # defence first, for people


@dataclass
class CatalogueDiff:
    """What a refresh changed. New projects are all listed (European Defence Fund first); the other lists
    hold at most SHOWN rows each; the counts are complete."""

    releases: list[dict] = field(default_factory=list)
    new_projects: list[dict] = field(default_factory=list)
    changed_projects: list[dict] = field(default_factory=list)
    new_organisations: list[dict] = field(default_factory=list)
    renamed_organisations: list[dict] = field(default_factory=list)
    moved_organisations: list[dict] = field(default_factory=list)
    disappeared_organisations: list[dict] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return any(v for k, v in self.counts.items() if k != "participations_after")

    def to_dict(self) -> dict:
        return asdict(self)


def merge_releases(current: Catalogue, releases: list[Release]) -> tuple[Catalogue, CatalogueDiff]:
    """The catalogue after ``releases`` (in order: a later release wins where two list the same project)."""
    diff = CatalogueDiff(releases=[{"programme": r.programme, "origin": r.origin, "files": r.files,
                                    "projects": int(len(r.projects))} for r in releases])
    old_projects = current.projects.set_index("id", drop=False)
    incoming, sightings = _aligned(releases, old_projects)
    listed = set(incoming["id"])

    # projects: the release's rows for the projects it lists; a security-research project stays one
    keep_programme = old_projects.reindex(incoming["id"])
    security = keep_programme["programme"].eq("security").fillna(False).to_numpy(dtype=bool)
    incoming.loc[security, "programme"] = "security"
    incoming.loc[security, "programme_part"] = keep_programme.loc[security, "programme_part"].to_numpy()
    is_new = ~incoming["id"].isin(old_projects.index)
    fresh = incoming[is_new].assign(_rank=incoming.loc[is_new, "programme"].map(PROGRAMME_SHOWN_FIRST).fillna(9))
    fresh = fresh.sort_values(["_rank", "id"], kind="stable")
    diff.new_projects = _rows(fresh, ["id", "programme", "acronym", "title", "year"], limit=None)
    relisted = incoming.loc[~is_new].set_index("id")
    columns = list(PROJECT_TEXT_FIELDS)
    as_text = lambda frame: frame.astype("string").fillna("\x00")  # noqa: E731 - missing equals missing only
    differs = ~(as_text(old_projects.loc[relisted.index, columns]) == as_text(relisted[columns])).all(axis=1)
    changed = list(relisted.index[differs.to_numpy()])
    diff.changed_projects = [{"id": pid, "title": _plain(relisted.at[pid, "title"])} for pid in changed[:SHOWN]]
    projects = pd.concat([current.projects[~current.projects["id"].isin(listed)], incoming], ignore_index=True)

    # participations: the release's for the projects it lists, everyone else's as they were
    released, ranked_sightings = participations_from_sightings(sightings)
    before = current.participations[current.participations["project_id"].isin(listed)]
    gone = before.merge(released[["org_id", "project_id"]], how="left", indicator=True)
    gone = gone[gone["_merge"] == "left_only"]
    participations = pd.concat(
        [current.participations[~current.participations["project_id"].isin(listed)], released], ignore_index=True
    )

    organisations, org_diff = _merged_organisations(current.organisations, ranked_sightings, projects)
    diff.new_organisations, diff.renamed_organisations, diff.moved_organisations, n_new, n_renamed, n_moved = org_diff
    still_there = set(participations["org_id"])
    names = organisations.set_index("id")["name"]
    disappeared = gone.groupby("org_id")["project_id"].agg(lambda s: sorted(s)).reset_index()
    diff.disappeared_organisations = [
        {"id": row.org_id, "name": _plain(names.get(row.org_id)), "projects_left": row.project_id,
         "other_participations": row.org_id in still_there}
        for row in disappeared.head(SHOWN).itertuples()
    ]
    diff.counts = {
        "new_projects": int(is_new.sum()),
        "changed_projects": len(changed),
        "new_organisations": int(n_new),
        "renamed_organisations": int(n_renamed),
        "moved_organisations": int(n_moved),
        "disappeared_organisations": int(len(disappeared)),
        "new_participations": int(len(released) - (len(before) - len(gone))),
        "participations_after": int(len(participations)),
    }
    catalogue = Catalogue(
        organisations=conform(organisations.sort_values("id", kind="stable"), ORGANISATIONS),
        projects=conform(projects.sort_values("id", kind="stable"), PROJECTS),
        participations=conform(participations.sort_values(["project_id", "org_id"], kind="stable"),
                               PARTICIPATIONS),
    )
    return catalogue, diff


def _aligned(releases: list[Release], old_projects: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every release's projects and sightings as one frame each, later releases winning, with Horizon 2020
    grant ids mapped onto the catalogue's record-number ids where the catalogue knows them."""
    projects, sightings = [], []
    for release in releases:
        alias = {grant: f"h2020-rcn-{rcn}" for grant, rcn in (release.rcn or {}).items()
                 if f"h2020-rcn-{rcn}" in old_projects.index and grant not in old_projects.index}
        projects.append(release.projects.assign(id=release.projects["id"].replace(alias)))
        sightings.append(release.sightings.assign(project_id=release.sightings["project_id"].replace(alias)))
    incoming = pd.concat(projects, ignore_index=True).drop_duplicates("id", keep="last").reset_index(drop=True)
    seen = pd.concat(sightings, ignore_index=True)
    last = {pid: i for i, release_projects in enumerate(projects) for pid in release_projects["id"]}
    origin = pd.concat([pd.Series(i, index=s.index) for i, s in enumerate(sightings)], ignore_index=True)
    seen = seen[origin.to_numpy() == seen["project_id"].map(last).to_numpy()]  # the winning release's rows only
    return incoming, seen.reset_index(drop=True)


def _merged_organisations(old: pd.DataFrame, sightings: pd.DataFrame, projects: pd.DataFrame):
    fresh = organisations_from_sightings(sightings, projects).set_index("id")
    orgs = old.set_index("id", drop=False).copy()
    known = fresh.index.isin(orgs.index)
    new_rows = fresh[~known].reset_index()
    new_rows["region"] = new_rows["country"].map(region_of)
    renamed: list[dict] = []
    moved: list[dict] = []
    n_renamed = n_moved = 0
    for org_id, row in fresh[known].iterrows():
        current = orgs.loc[str(org_id)]
        curated = "curated" in str(current["sources"] or "")
        for column in ORGANISATION_FIELDS:
            value = row[column]
            if pd.isna(value) or (column == "name" and curated):
                continue
            before = current[column]
            if pd.isna(before) or before != value:
                if column == "name" and pd.notna(before):
                    n_renamed += 1
                    if len(renamed) < SHOWN:
                        renamed.append({"id": org_id, "before": before, "after": value})
                if column == "country" and pd.notna(before):
                    n_moved += 1
                    if len(moved) < SHOWN:
                        moved.append({"id": org_id, "name": _plain(current["name"]), "before": before, "after": value})
                orgs.at[org_id, column] = value
        country: Any = orgs.at[org_id, "country"]
        orgs.at[org_id, "region"] = region_of(None if pd.isna(country) else str(country))
        orgs.at[org_id, "sources"] = _sources(current["sources"], row["sources"])
    merged = pd.concat([orgs.reset_index(drop=True), new_rows[orgs.columns.intersection(new_rows.columns)]],
                       ignore_index=True)
    shown_new = _rows(new_rows, ["id", "name", "country", "activity_type"])
    return merged, (shown_new, renamed, moved, len(new_rows), n_renamed, n_moved)


def _sources(before: object, added: object) -> str:
    parts = set(str(before or "").split(";")) | set(str(added or "").split(";"))
    parts.discard("")
    ordered = [s for s in SOURCE_ORDER if s in parts] + sorted(parts - set(SOURCE_ORDER))
    return ";".join(ordered)


def _plain(value: Any) -> Any:
    if value is None or (not isinstance(value, (list, dict)) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def _rows(frame: pd.DataFrame, columns: list[str], limit: int | None = SHOWN) -> list[dict]:
    chosen = frame[columns] if limit is None else frame[columns].head(limit)
    return [{c: _plain(v) for c, v in row.items()} for row in chosen.to_dict("records")]


@dataclass(frozen=True)
class RefreshResult:
    """A refresh's outcome: the version now current, whether this refresh wrote it, its parent, the diff."""

    version: str
    created: bool
    parent: str
    diff: CatalogueDiff

    def to_dict(self) -> dict:
        return {"version": self.version, "created": self.created, "parent": self.parent,
                "counts": self.diff.counts, "releases": self.diff.releases}


def refresh_catalogue(versions: CatalogueVersions, release_paths: list[Path]) -> RefreshResult:
    """Read every release (all validated before anything is merged), merge them into the current catalogue
    version and write the result as a new current version with its diff report. Nothing new is written
    when the releases change nothing (a refresh is idempotent)."""
    releases = [read_release(path) for path in release_paths]
    parent = versions.current_name()
    current = load_catalogue(versions.current_dir())
    merged, diff = merge_releases(current, releases)
    digest = catalogue_sha256(merged) if diff.changed else ""
    if not diff.changed or digest == catalogue_sha256(current):
        return RefreshResult(parent, False, parent, diff)
    manifest = {"kind": "refresh", "releases": diff.releases, "counts": diff.counts,
                "tables": {name: int(len(getattr(merged, name))) for name in ("organisations", "projects",
                                                                              "participations")}}
    name = versions.commit(merged, manifest, diff.to_dict(), diff_markdown(diff, parent), digest)
    return RefreshResult(name, True, parent, diff)


def diff_markdown(diff: CatalogueDiff, parent: str, shown: int = 50) -> str:
    """The diff as a Markdown report (at most ``shown`` rows per list; the counts are complete)."""
    c = diff.counts
    lines = [f"# Catalogue refresh (parent version: {parent})", "", "## Releases read", "",
             "| programme | from | projects | files (sha256) |", "|---|---|---|---|"]
    for r in diff.releases:
        files = "<br>".join(f"{name} `{sha[:12]}`" for name, sha in sorted(r["files"].items()))
        lines.append(f"| {r['programme']} | {Path(r['origin']).name} | {r['projects']:,} | {files} |")
    lines += ["", "## Counts", "", "| change | count |", "|---|---|"]
    lines += [f"| {key.replace('_', ' ')} | {value:,} |" for key, value in c.items()]

    def section(title: str, rows: list[dict], columns: list[str], total: int) -> None:
        if not total:
            return
        more = f" (first {min(shown, len(rows))} of {total:,})" if total > min(shown, len(rows)) else ""
        lines.extend(["", f"## {title}{more}", "", "| " + " | ".join(columns) + " |",
                      "|" + "---|" * len(columns)])
        for row in rows[:shown]:
            cells = [", ".join(map(str, v)) if isinstance(v, list) else "" if v is None else str(v)
                     for v in (row.get(col) for col in columns)]
            lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")

    section("New projects", diff.new_projects, ["id", "programme", "acronym", "title", "year"], c["new_projects"])
    section("Changed projects", diff.changed_projects, ["id", "title"], c["changed_projects"])
    section("New organisations", diff.new_organisations, ["id", "name", "country", "activity_type"],
            c["new_organisations"])
    section("Renamed organisations", diff.renamed_organisations, ["id", "before", "after"], c["renamed_organisations"])
    section("Organisations whose country changed", diff.moved_organisations, ["id", "name", "before", "after"],
            c["moved_organisations"])
    section("Organisations that disappeared from a project (kept, flagged)", diff.disappeared_organisations,
            ["id", "name", "projects_left", "other_participations"], c["disappeared_organisations"])
    lines += ["", "Sources: CORDIS (cordis.europa.eu) and the EU Funding & Tenders portal, (c) European Union, "
              "CC BY 4.0. See ATTRIBUTION.md.", ""]
    return "\n".join(lines)
