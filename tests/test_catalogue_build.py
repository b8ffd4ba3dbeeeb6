from __future__ import annotations

import pandas as pd
import pytest

from recommender.catalogue import build_catalogue, load_catalogue, save_catalogue
from recommender.catalogue.countries import normalise_country, region_of
from recommender.catalogue.curated import CuratedOrganisation
from recommender.catalogue.schema import TABLES
from recommender.errors import SourceDataError


@pytest.fixture(scope="module")
def tiny(tiny_sources):
    curated = [
        CuratedOrganisation(
            "fr-thales",
            "111111111",
            "Thales",
            "Thales",
            "FR",
            "FR",
            "PRC",
            "large",
            ("sensors_ew",),
            "Radars and electronic warfare systems.",
        ),
        CuratedOrganisation(
            "kr-lig-nex1",
            None,
            "LIG Nex1",
            "LIG Nex1",
            "KR",
            "KR",
            "PRC",
            "large",
            ("munitions",),
            "Guided missiles and precision munitions.",
        ),
    ]
    return build_catalogue(tiny_sources, curated)


def org(cat, org_id):
    rows = cat.organisations[cat.organisations["id"] == org_id]
    assert len(rows) == 1, f"expected exactly one row for {org_id}, got {len(rows)}"
    return rows.iloc[0]


def test_same_pic_in_several_sources_is_one_organisation(tiny):
    thales = org(tiny, "111111111")
    assert thales["sources"].split(";") == ["horizon-europe", "edf", "security", "curated"]
    assert thales["name"] == "THALES"  # most recent Horizon Europe sighting (2023 project)
    assert thales["description"] == "Radars and electronic warfare systems."
    assert thales["control_country"] == "FR"
    assert tiny.organisations["id"].is_unique


@pytest.mark.parametrize("raw, iso", [("EL", "GR"), ("el", "GR"), ("UK", "GB"), (" FR ", "FR"), ("", None)])
def test_country_aliases(raw, iso):
    assert normalise_country(raw) == iso


def test_greece_and_uk_normalised_everywhere(tiny):
    assert org(tiny, "222222222")["country"] == "GR"
    assert org(tiny, "222222222")["region"] == "EU27"
    assert org(tiny, "333333333")["country"] == "GB"
    assert org(tiny, "333333333")["region"] == "OTHER"
    for table in (tiny.organisations, tiny.participations):
        assert not table["country"].isin(["EL", "UK"]).any()


def test_regions():
    assert [region_of(c) for c in ["DE", "NO", "UA", "KR", "US", "GR"]] == [
        "EU27",
        "EEA-EFTA",
        "UA",
        "KR",
        "OTHER",
        "EU27",
    ]


def test_unnamed_link_table_organisation_stays_in_graph(tiny):
    ghost = org(tiny, "444444444")
    assert pd.isna(ghost["name"]) and ghost["sources"] == "h2020"
    links = tiny.participations[tiny.participations["org_id"] == "444444444"]
    assert sorted(links["project_id"]) == ["700001", "h2020-rcn-9002"]


def test_security_project_in_link_table_is_one_project(tiny):
    projects = tiny.projects
    assert "h2020-rcn-9001" not in set(projects["id"])
    guard = tiny.participations[tiny.participations["project_id"] == "700001"]
    assert sorted(guard["org_id"]) == ["111111111", "333333333", "444444444"]


def test_repeated_rows_are_merged(tiny):
    assert (tiny.projects["id"] == "101100001").sum() == 1
    assert not tiny.participations.duplicated(["org_id", "project_id"]).any()
    navy = tiny.projects.set_index("id").loc["101100001"]
    assert navy["edf_action"] == "development" and navy["year"] == 2022
    assert navy["keywords"] == "USV; naval"


def test_curated_without_pic_gets_readable_id(tiny):
    lig = org(tiny, "kr-lig-nex1")
    assert lig["sources"] == "curated" and lig["region"] == "KR" and lig["size_class"] == "large"


def test_schema_and_round_trip(tiny, tmp_path):
    save_catalogue(tiny, tmp_path / "cat", {"note": "test"})
    loaded = load_catalogue(tmp_path / "cat")
    for name, schema in TABLES.items():
        frame = getattr(loaded, name)
        assert list(frame.columns) == schema.names
        pd.testing.assert_frame_equal(frame, getattr(tiny, name))
    assert "CORDIS" in (tmp_path / "cat" / "ATTRIBUTION.md").read_text()


def test_missing_source_file_is_named(tmp_path, tiny_sources):
    import shutil

    copy = tmp_path / "src"
    shutil.copytree(tiny_sources, copy)
    (copy / "edf_projects.parquet").unlink()
    with pytest.raises(SourceDataError, match="edf_projects.parquet"):
        build_catalogue(copy, [])


# --- the shipped default catalogue -------------------------------------------------------------------


def test_shipped_catalogue_schema_and_integrity(shipped_catalogue):
    cat = shipped_catalogue
    for name, schema in TABLES.items():
        assert list(getattr(cat, name).columns) == schema.names
    orgs, projects, links = cat.organisations, cat.projects, cat.participations
    assert orgs["id"].is_unique and projects["id"].is_unique
    assert not links.duplicated(["org_id", "project_id"]).any()
    assert links["org_id"].isin(orgs["id"]).all()
    assert links["project_id"].isin(projects["id"]).all()
    assert not orgs["country"].isin(["EL", "UK"]).any()
    assert set(orgs["region"]) <= {"EU27", "EEA-EFTA", "UA", "KR", "OTHER"}


def test_shipped_catalogue_meets_the_mission_counts(shipped_catalogue):
    orgs = shipped_catalogue.organisations
    assert len(orgs) >= 20_000
    assert (orgs["country"] == "KR").sum() >= 70
    curated = orgs[orgs["sources"].str.contains("curated")]
    assert (curated["country"] == "KR").sum() >= 40
    assert ((curated["region"] == "EU27") | (curated["country"] == "NO")).sum() >= 60
    assert curated["description"].str.len().min() > 40


def test_shipped_parquet_carries_attribution():
    import pyarrow.parquet as pq

    from tests.conftest import SHIPPED_CATALOGUE

    for name in TABLES:
        meta = pq.read_schema(SHIPPED_CATALOGUE / f"{name}.parquet").metadata
        assert b"CORDIS" in meta[b"attribution"] and b"Funding & Tenders" in meta[b"attribution"]
