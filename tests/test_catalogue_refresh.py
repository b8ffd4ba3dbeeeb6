"""Refreshing the catalogue from public releases in their published layouts: a CORDIS Horizon Europe export
(CSV or JSON zip) and EDF results, written from a tiny world whose answers are known. The world up to 2022
plus its 2023 releases must give back the world; the diff must name what changed; a bad file must stop the
refresh with the file and the column named, leaving the current version as it was; versions roll back."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from recommender.catalogue.build import catalogue_until
from recommender.catalogue.refresh import merge_releases, refresh_catalogue
from recommender.catalogue.releases import ReleaseError, read_release
from recommender.catalogue.store import load_catalogue, save_catalogue
from recommender.catalogue.versions import SHIPPED, CatalogueVersions
from recommender.errors import CatalogueError
from tests.release_files import write_cordis_export, write_edf_results
from tests.synthetic import make_world


@pytest.fixture(scope="module")
def world():
    return make_world()


@pytest.fixture
def versions(tmp_path, world) -> CatalogueVersions:
    """Versions whose shipped catalogue is the world as it stood at the end of 2022."""
    shipped = tmp_path / "shipped"
    save_catalogue(catalogue_until(world, 2022), shipped, {"kind": "test"})
    return CatalogueVersions(tmp_path / "state" / "catalogue", shipped)


@pytest.fixture
def releases(tmp_path, world) -> list[Path]:
    return [write_cordis_export(world, 2023, tmp_path / "cordis-HORIZONprojects-csv.zip"),
            write_edf_results(world, 2023, tmp_path / "edf-2023")]


def _pairs(catalogue) -> set[tuple[str, str]]:
    return set(zip(catalogue.participations["org_id"], catalogue.participations["project_id"], strict=True))


def test_the_world_up_to_2022_plus_its_2023_releases_is_the_world(versions, releases, world):
    result = refresh_catalogue(versions, releases)
    assert result.created and result.parent == SHIPPED and versions.current_name() == result.version
    merged = load_catalogue(versions.current_dir())
    assert set(merged.projects["id"]) == set(world.projects["id"])
    assert _pairs(merged) == _pairs(world)
    assert set(merged.organisations["id"]) == set(world.organisations["id"])
    new_2023 = world.projects.loc[world.projects["year"] == 2023, "id"]
    assert {p["id"] for p in result.diff.new_projects} == set(new_2023)
    text = world.projects.set_index("id").loc[new_2023, "objective"]
    assert (merged.projects.set_index("id").loc[new_2023, "objective"] == text).all()
    first_seen_2023 = set(world.organisations["id"]) - set(catalogue_until(world, 2022).organisations["id"])
    assert {o["id"] for o in result.diff.new_organisations} == first_seen_2023
    assert result.diff.counts["new_participations"] == len(_pairs(world)) - len(_pairs(catalogue_until(world, 2022)))
    report = (versions.current_dir() / "changes.md").read_text()
    assert "## New projects" in report and new_2023.iloc[0] in report and "CC BY 4.0" in report
    assert "CORDIS" in (versions.current_dir() / "ATTRIBUTION.md").read_text()
    manifest = versions.manifest(result.version)
    assert manifest["parent"] == SHIPPED and {r["programme"] for r in manifest["releases"]} == {"horizon-europe", "edf"}
    assert all(len(sha) == 64 for r in manifest["releases"] for sha in r["files"].values())


def test_a_refresh_with_the_same_releases_changes_nothing(versions, releases):
    first = refresh_catalogue(versions, releases)
    again = refresh_catalogue(versions, releases)
    assert not again.created and again.version == first.version
    assert len(versions.list()) == 1


def test_the_json_export_reads_as_the_csv_export(tmp_path, world):
    from_csv = read_release(write_cordis_export(world, 2023, tmp_path / "cordis-HORIZONprojects-csv.zip"))
    from_json = read_release(write_cordis_export(world, 2023, tmp_path / "cordis-HORIZONprojects-json.zip",
                                                 as_json=True))
    pd.testing.assert_frame_equal(from_csv.projects, from_json.projects)
    pd.testing.assert_frame_equal(from_csv.sightings, from_json.sightings)


def _rewrite(zip_path: Path, member: str, change) -> None:
    """Apply ``change`` to the rows of one CSV member of a CORDIS export zip."""
    with zipfile.ZipFile(zip_path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    rows = list(csv.DictReader(io.StringIO(files[member].decode()), delimiter=";"))
    rows = change(rows)
    columns = list(rows[0])
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, delimiter=";", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    files[member] = out.getvalue().encode()
    with zipfile.ZipFile(zip_path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)


def test_renamed_moved_and_disappeared_organisations_are_reported_and_nobody_is_removed(tmp_path, world):
    path = write_cordis_export(world, 2023, tmp_path / "cordis-HORIZONprojects-csv.zip")
    first = read_release(path)
    project = first.projects["id"].iloc[0]
    members = first.sightings.loc[first.sightings["project_id"] == project, "org_id"].tolist()
    renamed, dropped = members[0], members[1]

    def change(rows):
        for row in rows:
            if row["organisationID"] == renamed:
                row["name"], row["country"] = "Renamed Org", "PL"
        return [r for r in rows if not (r["projectID"] == project and r["organisationID"] == dropped)]

    _rewrite(path, "organization.csv", change)
    merged, diff = merge_releases(world, [read_release(path)])
    assert [r["id"] for r in diff.renamed_organisations] == [renamed]
    assert diff.renamed_organisations[0]["after"] == "Renamed Org"
    assert diff.moved_organisations[0]["after"] == "PL"
    gone = {r["id"]: r for r in diff.disappeared_organisations}
    assert list(gone) == [dropped] and gone[dropped]["projects_left"] == [project]
    assert dropped in set(merged.organisations["id"])  # kept
    assert (dropped, project) not in _pairs(merged)
    row = merged.organisations.set_index("id").loc[renamed]
    assert row["name"] == "Renamed Org" and row["country"] == "PL" and row["region"] == "EU27"


def _corrupt_cases(tmp_path: Path, world) -> dict[str, tuple[Path, str]]:
    good = write_cordis_export(world, 2023, tmp_path / "good-HORIZON.zip")
    cases = {}
    truncated = tmp_path / "truncated-HORIZON.zip"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    cases["truncated zip"] = (truncated, "truncated-HORIZON.zip")
    no_orgs = tmp_path / "no-orgs-HORIZON.zip"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(no_orgs, "w") as dst:
        for name in src.namelist():
            if name != "organization.csv":
                dst.writestr(name, src.read(name))
    cases["missing file"] = (no_orgs, "missing file organization.csv")
    for label, member, column in (("missing column", "organization.csv", "role"),
                                  ("missing title", "project.csv", "title")):
        bad = tmp_path / f"{label.replace(' ', '-')}-HORIZON.zip"
        bad.write_bytes(good.read_bytes())
        _rewrite(bad, member, lambda rows, c=column: [{k: v for k, v in r.items() if k != c} for r in rows])
        cases[label] = (bad, f"missing column(s) {column}")
    blank = tmp_path / "blank-id-HORIZON.zip"
    blank.write_bytes(good.read_bytes())
    _rewrite(blank, "organization.csv", lambda rows: [{**rows[0], "organisationID": ""}, *rows[1:]])
    cases["blank id"] = (blank, "without organisationID (lines [2])")
    orphan = tmp_path / "orphan-HORIZON.zip"
    orphan.write_bytes(good.read_bytes())
    _rewrite(orphan, "organization.csv", lambda rows: [{**rows[0], "projectID": "999999"}, *rows[1:]])
    cases["unknown project"] = (orphan, "999999")
    latin = tmp_path / "latin1"
    latin.mkdir()
    (latin / "edf-projects.csv").write_bytes("project_id,title\n1,Défense\n".encode("latin-1"))
    (latin / "edf-participants.csv").write_text("project_id,pic\n1,2\n")
    cases["not UTF-8"] = (latin, "not UTF-8")
    cases["not a release"] = (tmp_path / "latin1" / "edf-projects.csv", "neither a folder nor a zip")
    return cases


def test_a_corrupt_release_stops_the_refresh_naming_the_file_and_the_current_version_stays(
    tmp_path, world, versions, releases
):
    before = refresh_catalogue(versions, releases[:1]).version
    for label, (path, expected) in _corrupt_cases(tmp_path, world).items():
        with pytest.raises(ReleaseError) as caught:
            refresh_catalogue(versions, [releases[1], path])  # a good release first: nothing is merged
        assert expected in str(caught.value), (label, str(caught.value))
        assert versions.current_name() == before and len(versions.list()) == 1, label


def test_rollback_makes_the_parent_current_and_names_unknown_versions(versions, releases):
    with pytest.raises(CatalogueError, match="nothing to roll back"):
        versions.rollback()
    first = refresh_catalogue(versions, releases[:1]).version
    second = refresh_catalogue(versions, releases[1:]).version
    assert versions.rollback() == first and versions.current_name() == first
    assert versions.rollback(second) == second
    assert versions.rollback(SHIPPED) == SHIPPED and versions.current_dir() == versions.shipped_dir
    with pytest.raises(CatalogueError, match="no catalogue version 'nope'; known: shipped"):
        versions.rollback("nope")


def test_the_command_line_reports_a_corrupt_release_in_one_line_with_exit_code_2(tmp_path, world, monkeypatch):
    from cli.commands import app

    monkeypatch.setenv("CORRIDOR_STATE_DIR", str(tmp_path / "state"))
    path, expected = _corrupt_cases(tmp_path, world)["missing column"]
    result = CliRunner().invoke(app, ["data", "refresh", "--from", str(path)])
    assert result.exit_code == 2, result.output
    assert expected in result.output and "Traceback" not in result.output
    assert not (tmp_path / "state" / "catalogue" / "CURRENT").exists()


def _paths(versions: CatalogueVersions, tmp_path: Path):
    from recommender.workspace import WorkspacePaths

    return WorkspacePaths(catalogue_dir=versions.shipped_dir, database_url=None, taxonomy_file=tmp_path / "t.yaml",
                          tagger_dir=tmp_path / "tagger", cache_dir=None, shipped_vectors_dir=None,
                          model_dir=tmp_path / "ranker", catalogue_versions_dir=versions.root)


@pytest.mark.parametrize("failure", [RuntimeError("training blew up"), KeyboardInterrupt()])
def test_a_retrain_that_fails_after_its_refresh_rolls_the_catalogue_back_and_says_so(
    tmp_path, versions, releases, monkeypatch, failure
):
    import training.retrain as retrain

    def fail(*_args, **_kwargs):
        assert versions.current_name() != SHIPPED  # the refresh had made its version current
        raise failure

    monkeypatch.setattr(retrain, "_retrain", fail)
    run_root = tmp_path / "runs"
    if isinstance(failure, KeyboardInterrupt):
        with pytest.raises(KeyboardInterrupt):
            retrain.run_retrain(_paths(versions, tmp_path), [], releases, run_root)
    else:
        result = retrain.run_retrain(_paths(versions, tmp_path), [], releases, run_root)
        assert result.status == "failed" and result.exit_code == retrain.EXIT_FAILED
        assert "training blew up" in result.reason and "as they were" in result.reason
    assert versions.current_name() == SHIPPED
    report = next(run_root.iterdir()) / "report.md"
    text = report.read_text()
    assert "FAILED" in text and "rolled back the catalogue version it had created: shipped" in text
    assert "<table>" in report.with_suffix(".html").read_text()


def test_a_horizon_2020_export_joins_the_projects_the_link_table_numbered_by_record(tmp_path, world):
    """H2020 grants the catalogue knows only by CORDIS record number (h2020-rcn-<rcn>, no text) are enriched
    in place, not duplicated; a security-research project stays one."""
    from recommender.catalogue import Catalogue

    projects = world.projects.copy()
    link = projects.iloc[[0]].assign(id="h2020-rcn-555", programme="h2020", title=pd.NA, objective=pd.NA, year=2018)
    security = projects.iloc[[1]].assign(id="700123", programme="security", programme_part="H2020-SC7", year=2017)
    members = world.participations[world.participations["project_id"] == projects.iloc[0]["id"]]
    catalogue = Catalogue(world.organisations, pd.concat([projects, link, security], ignore_index=True),
                          pd.concat([world.participations, members.assign(project_id="h2020-rcn-555")],
                                    ignore_index=True))
    folder = tmp_path / "cordis-h2020projects-csv"
    folder.mkdir()
    org = world.organisations.iloc[0]
    (folder / "project.csv").write_text(
        "id;acronym;title;objective;startDate;ecSignatureDate;frameworkProgramme;rcn;legalBasis\n"
        "654321;DRONEX;Drone swarms for search and rescue;Autonomous drones.;2018-01-01;2017-12-01;H2020;555;"
        "H2020-EU.3.7\n"
        "700123;SECURE;Border security sensing;Radar.;2017-05-01;2017-04-01;H2020;777;H2020-EU.3.7\n")
    (folder / "organization.csv").write_text(
        "projectID;organisationID;name;country;role;activityType\n"
        f"654321;{org['id']};{org['name']};{org['country']};coordinator;PRC\n"
        f"700123;{org['id']};{org['name']};{org['country']};participant;PRC\n")
    release = read_release(folder)
    assert release.programme == "h2020" and release.rcn == {"654321": "555", "700123": "777"}
    merged, diff = merge_releases(catalogue, [release])
    by_id = merged.projects.set_index("id")
    assert "654321" not in by_id.index and by_id.at["h2020-rcn-555", "title"] == "Drone swarms for search and rescue"
    assert by_id.at["700123", "programme"] == "security" and by_id.at["700123", "programme_part"] == "H2020-SC7"
    assert {p["id"] for p in diff.changed_projects} == {"h2020-rcn-555", "700123"} and not diff.new_projects
    assert set(merged.participations.loc[merged.participations["project_id"] == "h2020-rcn-555", "org_id"]) == {
        org["id"]}
    gone = {r["id"] for r in diff.disappeared_organisations}
    assert gone == set(members["org_id"]) - {org["id"]}
