from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from recommender.catalogue import add_organisations
from recommender.catalogue import store as store_mod
from recommender.catalogue.schema import ORGANISATIONS
from recommender.catalogue.store import load_catalogue, save_catalogue, with_user_organisations
from recommender.errors import InputFileError
from recommender.store import OrganisationRow, Store, open_store

HEADER = "id,name,country,description,activity_type,sme,size_class,technology_areas\n"
GOOD = "kr-acme,Acme Robotics,KR,Unmanned ground vehicles and autonomy software.,PRC,true,sme,unmanned;ai\n"
PRIORITIES = frozenset({"unmanned", "ai", "maritime"})


def user_store(tmp_path) -> Store:
    """The SQL store user organisations live in (one SQLite file per test directory)."""
    return Store(f"sqlite:///{tmp_path / 'corridor.db'}")


def write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


@pytest.mark.parametrize(
    "row, field, reason",
    [
        (",No Id Ltd,DE,Makes things.,PRC,false,sme,ai", "id", "missing id"),
        ("de-x,,DE,Makes things.,PRC,false,sme,ai", "name", "missing name"),
        ("de-x,X GmbH,ZZ,Makes things.,PRC,false,sme,ai", "country", "unknown country code"),
        ("de-x,X GmbH,DE,   ,PRC,false,sme,ai", "description", "empty description"),
        ("de-x,X GmbH,DE,Makes things.,PRC,maybe,sme,ai", "sme", "wrong type"),
        ("de-x,X GmbH,DE,Makes things.,FACTORY,false,sme,ai", "activity_type", "wrong type"),
        ("de-x,X GmbH,DE,Makes things.,PRC,false,huge,ai", "size_class", "wrong type"),
        ("de-x,X GmbH,DE,Makes things.,PRC,false,sme,warp-drives", "technology_areas", "unknown priority"),
    ],
)
def test_each_reject_reason_names_row_and_field(tmp_path, row, field, reason):
    path = write(tmp_path, "orgs.csv", HEADER + GOOD + row + "\n")
    report = add_organisations(path, user_store(tmp_path), PRIORITIES)
    assert report.added == ["kr-acme"]  # the good row is kept
    assert len(report.rejected) == 1
    problem = report.rejected[0]
    assert (problem.row, problem.fields) == (3, [field])
    assert reason in problem.reasons[0]
    assert str(problem).startswith("row 3: " + field)


def test_duplicate_id_in_file(tmp_path):
    path = write(tmp_path, "orgs.csv", HEADER + GOOD + GOOD.replace("Acme Robotics", "Acme Two"))
    report = add_organisations(path, user_store(tmp_path), PRIORITIES)
    assert report.added == ["kr-acme"]
    assert [(e.row, e.fields) for e in report.rejected] == [(3, ["id"])]
    assert "duplicate id 'kr-acme'" in str(report.rejected[0]) and "row 2" in str(report.rejected[0])


def test_a_file_not_in_utf8_is_one_error_naming_the_line(tmp_path):
    bad = "de-bad,M\xfcller GmbH,DE,Optics.,PRC,false,sme,ai\n".encode("latin-1")
    path = write(tmp_path, "orgs.csv", (HEADER + GOOD).encode() + bad)
    store = user_store(tmp_path)
    with pytest.raises(InputFileError, match="not UTF-8 \\(line 3"):
        add_organisations(path, store, PRIORITIES)
    assert store.organisations() == []


def test_json_wrong_types(tmp_path):
    rows = [
        {"id": "kr-a", "name": "A", "country": "KR", "description": "Sonar arrays."},
        {"id": 42, "name": "B", "country": "KR", "description": "x"},
        {"id": "kr-c", "name": "C", "country": "KR", "description": "Radars.", "technology_areas": "ai"},
        "not an object",
        {"id": "kr-d", "name": "D", "country": "KR", "description": "Radars.", "sme": "yes"},
    ]
    report = add_organisations(write(tmp_path, "orgs.json", json.dumps(rows)), user_store(tmp_path), PRIORITIES)
    assert report.added == ["kr-a", "kr-c", "kr-d"]
    assert [(e.row, e.fields) for e in report.rejected] == [(2, ["id"]), (4, ["(row)"])]
    assert all("wrong type" in e.reasons[0] for e in report.rejected)


def test_adding_twice_is_idempotent_and_updates_are_counted(tmp_path):
    store = user_store(tmp_path)
    path = write(tmp_path, "orgs.csv", HEADER + GOOD)
    assert add_organisations(path, store, PRIORITIES).added == ["kr-acme"]
    second = add_organisations(path, store, PRIORITIES)
    assert (second.added, second.updated, second.unchanged) == ([], [], ["kr-acme"])
    changed = write(tmp_path, "orgs2.csv", HEADER + GOOD.replace("autonomy", "navigation"))
    assert add_organisations(changed, store, PRIORITIES).updated == ["kr-acme"]
    stored = store.organisations()
    assert [row["id"] for row in stored] == ["kr-acme"]
    assert "navigation" in stored[0]["description"]


def test_user_rows_overlay_the_catalogue(tmp_path, tiny_sources):
    from recommender.catalogue import build_catalogue

    save_catalogue(build_catalogue(tiny_sources, []), tmp_path / "cat", {})
    store = user_store(tmp_path)
    add_organisations(write(tmp_path, "o.csv", HEADER + GOOD), store, PRIORITIES)
    cat = with_user_organisations(load_catalogue(tmp_path / "cat"), store.organisations())
    acme = cat.organisations.set_index("id").loc["kr-acme"]
    assert acme["region"] == "KR" and acme["sources"] == "user" and bool(acme["sme"])


def test_failure_mid_write_leaves_previous_store_intact(tmp_path, monkeypatch):
    store = user_store(tmp_path)
    add_organisations(write(tmp_path, "o.csv", HEADER + GOOD), store, PRIORITIES)
    rows = HEADER + GOOD.replace("kr-acme", "kr-other") + GOOD.replace("kr-acme", "kr-third")
    calls = {"n": 0}
    real = OrganisationRow.__init__

    def dies_on_the_second_row(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full")
        real(self, *args, **kwargs)

    monkeypatch.setattr(OrganisationRow, "__init__", dies_on_the_second_row)
    with pytest.raises(OSError, match="disk full"):
        add_organisations(write(tmp_path, "p.csv", rows), store, PRIORITIES)
    monkeypatch.undo()
    assert [row["id"] for row in store.organisations()] == ["kr-acme"]  # one transaction: all or nothing


def test_organisations_kept_in_parquet_by_an_older_version_move_into_the_store(tmp_path):
    from recommender.catalogue.store import write_table

    legacy = tmp_path / "user_organisations.parquet"
    write_table(pd.DataFrame([{"id": "kr-old", "name": "Old Co", "country": "KR", "region": "KR",
                               "description": "Sonar.", "sources": "user"}]).reindex(columns=ORGANISATIONS.names),
                ORGANISATIONS, legacy)
    store = open_store(f"sqlite:///{tmp_path / 'corridor.db'}", legacy)
    assert [row["id"] for row in store.organisations()] == ["kr-old"]
    assert not legacy.exists() and (tmp_path / "user_organisations.parquet.imported").exists()


def test_failure_mid_catalogue_save_keeps_old_catalogue(tmp_path, tiny_sources, monkeypatch):
    from recommender.catalogue import build_catalogue

    cat = build_catalogue(tiny_sources, [])
    save_catalogue(cat, tmp_path / "cat", {"v": 1})
    calls = {"n": 0}
    real = store_mod._write_parquet

    def crash_on_second_table(frame, schema, path):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("killed")
        real(frame, schema, path)

    monkeypatch.setattr(store_mod, "_write_parquet", crash_on_second_table)
    with pytest.raises(OSError):
        save_catalogue(cat, tmp_path / "cat", {"v": 2})
    reloaded = load_catalogue(tmp_path / "cat")
    assert len(reloaded.organisations) == len(cat.organisations)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cat"]


def test_unreadable_files(tmp_path):
    with pytest.raises(InputFileError, match="unsupported file type"):
        add_organisations(write(tmp_path, "o.xlsx", "x"), user_store(tmp_path))
    with pytest.raises(InputFileError, match="not valid JSON"):
        add_organisations(write(tmp_path, "o.json", "{nope"), user_store(tmp_path))
    with pytest.raises(InputFileError, match="cannot read"):
        add_organisations(tmp_path / "missing.csv", user_store(tmp_path))


def test_cli_exit_codes(tmp_path, monkeypatch):
    from cli.commands import app

    monkeypatch.setenv("CORRIDOR_STATE_DIR", str(tmp_path / "state"))
    runner = CliRunner()
    good = write(tmp_path, "good.csv", HEADER + GOOD)
    result = runner.invoke(app, ["data", "add", "--file", str(good)])
    assert result.exit_code == 0, result.output
    assert "added 1" in result.output
    mixed = write(tmp_path, "mixed.csv", HEADER + GOOD + "de-x,X GmbH,ZZ,Optics.,PRC,false,sme,ai\n")
    result = runner.invoke(app, ["data", "add", "--file", str(mixed)])
    assert result.exit_code == 1
    assert "row 3: country: unknown country code 'ZZ'" in result.output
    result = runner.invoke(app, ["data", "add", "--file", str(tmp_path / "nope.json")])
    assert result.exit_code == 2 and "cannot read" in result.output


def test_the_command_line_overlays_a_catalogue_organisation_lists_the_change_and_reverts_it(tmp_path, monkeypatch):
    from cli.commands import app

    monkeypatch.setenv("CORRIDOR_STATE_DIR", str(tmp_path / "state"))
    runner = CliRunner()
    overlay = write(tmp_path, "o.csv", "id,name,country,description\n"
                                      "kr-hanwha-aerospace,Some Bulgarian Co,BG,Imports furniture.\n")
    assert runner.invoke(app, ["data", "add", "--file", str(overlay)]).exit_code == 0
    listed = runner.invoke(app, ["data", "changes", "--org", "kr-hanwha-aerospace"])
    assert listed.exit_code == 0 and "\toverlaid\tkr-hanwha-aerospace\tcli\tSome Bulgarian Co" in listed.output
    reverted = runner.invoke(app, ["data", "revert", "kr-hanwha-aerospace"])
    assert reverted.exit_code == 0 and "Some Bulgarian Co" in reverted.output
    trail = json.loads(runner.invoke(app, ["data", "changes", "--json"]).output)
    assert [c["action"] for c in trail] == ["overlaid", "reverted"]
    again = runner.invoke(app, ["data", "revert", "kr-hanwha-aerospace"])
    assert again.exit_code == 2 and "has no overlay" in again.output
    not_catalogue = runner.invoke(app, ["data", "revert", "kr-nobody"])
    assert not_catalogue.exit_code == 2 and "not a catalogue organisation" in not_catalogue.output
