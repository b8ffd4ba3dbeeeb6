"""Every user file, through the real entry points: a bad file is one clear error (exit code 2, HTTP 4xx), a
bad row lists all its problems, valid rows are kept, and nothing raises a traceback."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from recommender.batch import read_org_ids
from recommender.catalogue import add_organisations
from recommender.eligibility import read_consortium_file
from recommender.errors import InputFileError
from recommender.profiles.views import read_text_rows
from recommender.ranking.batch import rank_query_file, read_queries
from recommender.store import Store
from recommender.userfiles import FIELD_LIMIT, JSON_DEPTH_LIMIT, decode_text, parse_csv, parse_json
from tests.test_batch import one_thread, recommender  # noqa: F401  (module fixtures: a small trained world)

ORG_HEADER = "id,name,country,description,activity_type,sme,size_class,technology_areas\n"
ORG_GOOD = "kr-acme,Acme Robotics,KR,Unmanned ground vehicles.,PRC,true,sme,unmanned\n"
ORG_OTHER = "de-optik,Optik GmbH,DE,Infrared optics.,PRC,false,sme,\n"
PRIORITIES = frozenset({"unmanned", "ai"})
QUERY_HEADER = "query_id,org_id,text,region,priority\n"
CONSORTIUM = {"instrument": "edip", "members": [{"name": "A", "country": "FR"}, {"name": "B", "country": "DE"}]}

runner = CliRunner()


def write(tmp_path, name: str, content: str | bytes):
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def add(tmp_path, name: str, content: str | bytes):
    return add_organisations(write(tmp_path, name, content), Store(f"sqlite:///{tmp_path / 'corridor.db'}"), PRIORITIES)


@pytest.fixture()
def corridor(tmp_path, monkeypatch, recommender):  # noqa: F811
    """`corridor ...` on a state folder of its own, ranking with the small trained world."""
    import cli.commands as cli
    from cli import common
    from tests.api_support import corridor_over

    monkeypatch.setenv("CORRIDOR_STATE_DIR", str(tmp_path / "state"))
    (tmp_path / "state").mkdir()
    url = f"sqlite:///{tmp_path / 'state' / 'corridor.db'}"
    monkeypatch.setattr(common, "open_corridor", lambda: corridor_over(recommender, url))
    return lambda *args: runner.invoke(cli.app, list(args))


def one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)  # no exception escaped
    message = " ".join(result.output.split())
    assert message.startswith("error:")
    for fragment in fragments:
        assert fragment in message, message


# ---- a CSV without a header line -------------------------------------------------------------------------------


def test_csv_without_header_is_a_file_error_naming_the_columns(tmp_path, recommender):  # noqa: F811
    with pytest.raises(InputFileError, match="no header line.*id, name, country, description"):
        add(tmp_path, "orgs.csv", ORG_GOOD + ORG_OTHER)
    queries = write(tmp_path, "q.csv", "q1,drones-kr-8,,EU,\nq2,,radar arrays,EU,\n")
    with pytest.raises(InputFileError, match="no header line.*query_id, org_id, text"):
        read_queries(queries, recommender)
    with pytest.raises(InputFileError, match="no header line.*org_id"):
        read_org_ids(write(tmp_path, "o.csv", "drones-kr-8\ndrones-eu-0\n"), recommender.index)
    with pytest.raises(InputFileError, match="no header line.*id, text"):
        read_text_rows(write(tmp_path, "t.csv", "a,Radar arrays.\nb,Sonar.\n"))


def test_header_with_a_required_column_missing_names_it(tmp_path, recommender):  # noqa: F811
    with pytest.raises(InputFileError, match=r"missing column\(s\) country, description"):
        add(tmp_path, "orgs.csv", "id,name\nkr-acme,Acme\n")
    with pytest.raises(InputFileError, match=r"missing column\(s\) query_id"):
        read_queries(write(tmp_path, "q.csv", "org_id,text\ndrones-kr-8,\n"), recommender)


def test_cli_headerless_file_is_exit_2(tmp_path, corridor):
    result = corridor("data", "add", "--file", str(write(tmp_path, "orgs.csv", ORG_GOOD + ORG_OTHER)))
    one_line_error(result, "orgs.csv: no header line")
    result = corridor("rank", "--queries", str(write(tmp_path, "q.csv", "q1,drones-kr-8,,EU,\n")),
                      "--out", str(tmp_path / "r.csv"), "--workers", "1")
    one_line_error(result, "q.csv: no header line")


# ---- unterminated quotes ---------------------------------------------------------------------------------------


def test_unterminated_quote_names_the_line_where_it_opens(tmp_path, recommender):  # noqa: F811
    text = QUERY_HEADER + "q1,drones-kr-8,,EU,\nq2,,\"radar arrays,EU,\nq3,drones-eu-0,,KR,\n"
    with pytest.raises(InputFileError, match="line 3: a quote opens here and is never closed"):
        read_queries(write(tmp_path, "q.csv", text), recommender)
    with pytest.raises(InputFileError, match="line 2: a quote opens here"):
        add(tmp_path, "orgs.csv", ORG_HEADER + 'kr-acme,"Acme,KR,Drones.,PRC,true,sme,\n' + ORG_OTHER)


def test_quote_closed_rows_later_is_a_file_error_not_lost_rows(tmp_path, recommender):  # noqa: F811
    text = QUERY_HEADER + 'q1,,"radar arrays,EU,\nq2,drones-kr-8,,EU,\nq3,,"sonar",EU,\n'
    with pytest.raises(InputFileError, match="line 2: a quoted field runs from here to line 4"):
        read_queries(write(tmp_path, "q.csv", text), recommender)
    # a quoted field with newlines that hold whole records (it never met a second quote to break on)
    text = QUERY_HEADER + 'q1,,"radar arrays\nq2,drones-kr-8,x,EU,\nq3,drones-eu-0,y,KR,",EU,\n'
    with pytest.raises(InputFileError, match="line 2: a quoted field runs over several lines"):
        read_queries(write(tmp_path, "q.csv", text), recommender)


def test_a_quoted_multiline_text_is_fine(tmp_path):
    report = add(tmp_path, "orgs.csv", ORG_HEADER + 'kr-acme,Acme,KR,"Drones.\nAnd radars, sonars.",PRC,true,sme,\n')
    assert report.added == ["kr-acme"] and not report.rejected
    rows, problems = read_text_rows(write(tmp_path, "t.csv", 'id,text\na,"Radar.\nSensors, optics."\nb,Sonar.\n'))
    assert [r[1] for r in rows] == ["a", "b"] and not problems


def test_quote_inside_a_field_rejects_only_that_row(tmp_path, recommender):  # noqa: F811
    text = QUERY_HEADER + 'q1,,"radar" arrays,EU,\nq2,drones-kr-8,,EU,\n'
    queries, problems = read_queries(write(tmp_path, "q.csv", text), recommender)
    assert [q.query_id for q in queries] == ["q2"]
    assert [(p.row, p.fields) for p in problems] == [(2, ["(row)"])]
    assert "malformed CSV" in str(problems[0])


def test_cli_rank_with_unterminated_quote_is_exit_2(tmp_path, corridor):
    text = QUERY_HEADER + "q1,drones-kr-8,,EU,\nq2,,\"radar arrays,EU,\nq3,drones-eu-0,,KR,\n"
    result = corridor("rank", "--queries", str(write(tmp_path, "q.csv", text)), "--out", str(tmp_path / "r.csv"),
                      "--workers", "1")
    one_line_error(result, "q.csv: line 3: a quote opens here and is never closed")
    assert not (tmp_path / "r.csv").exists()


# ---- fields over the limit -------------------------------------------------------------------------------------


def test_over_long_field_rejects_its_row_and_keeps_the_others(tmp_path, recommender):  # noqa: F811
    long_text = "radar " * (FIELD_LIMIT // 5)
    text = QUERY_HEADER + f"q1,,{long_text},EU,\nq2,drones-kr-8,,EU,\n"
    result = rank_query_file(recommender, write(tmp_path, "q.csv", text), 3, tmp_path / "r.csv")
    assert result.ranked == 1
    assert [(p.row, p.fields) for p in result.rejected] == [(2, ["text"])]
    assert "longer than 131,072 characters" in str(result.rejected[0])

    report = add(tmp_path, "orgs.csv", ORG_HEADER + f"kr-long,Long,KR,{long_text},PRC,true,sme,\n" + ORG_GOOD)
    assert report.added == ["kr-acme"]
    assert [(p.row, p.fields) for p in report.rejected] == [(2, ["description"])]

    rows = [{"id": "kr-long", "name": "L", "country": "KR", "description": long_text},
            {"id": "kr-ok", "name": "K", "country": "KR", "description": "Sonar."}]
    report = add(tmp_path, "orgs.json", json.dumps(rows))
    assert report.added == ["kr-ok"] and [(p.row, p.fields) for p in report.rejected] == [(1, ["description"])]


def test_field_limit_is_restored_after_reading(tmp_path):
    import csv

    before = csv.field_size_limit()
    parse_csv("id,text\na," + "x" * (FIELD_LIMIT * 2) + "\n", "t.csv", ["id", "text"])
    assert csv.field_size_limit() == before


# ---- deeply nested JSON ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [JSON_DEPTH_LIMIT + 1, 100_000])
def test_deeply_nested_json_is_a_file_error(tmp_path, depth):
    nested = "[" * depth + "]" * depth
    with pytest.raises(InputFileError, match=f"nested more than {JSON_DEPTH_LIMIT} levels"):
        add(tmp_path, "orgs.json", nested)
    consortium = json.dumps(CONSORTIUM)[:-1] + ', "name": ' + nested + "}"
    with pytest.raises(InputFileError, match="nested more than"):
        read_consortium_file(write(tmp_path, "c.json", consortium))


def test_cli_deeply_nested_json_is_exit_2(tmp_path, corridor):
    nested = write(tmp_path, "deep.json", "[" * 100_000 + "]" * 100_000)
    one_line_error(corridor("data", "add", "--file", str(nested)), "deep.json: JSON nested more than")
    one_line_error(corridor("eligibility", "--consortium", str(nested)), "deep.json: JSON nested more than")


# ---- encodings -------------------------------------------------------------------------------------------------


def test_utf8_with_and_without_bom_read_the_same(tmp_path, recommender):  # noqa: F811
    text = QUERY_HEADER + "q1,drones-kr-8,,EU,\nq2,,Radarsysteme für Drohnen,EU,\n"
    plain = read_queries(write(tmp_path, "a.csv", text), recommender)
    bom = read_queries(write(tmp_path, "b.csv", b"\xef\xbb\xbf" + text.encode()), recommender)
    assert plain == bom and len(plain[0]) == 2
    assert add(tmp_path, "o.csv", b"\xef\xbb\xbf" + (ORG_HEADER + ORG_GOOD).encode()).added == ["kr-acme"]
    rows = [{"id": "kr-b", "name": "Bö", "country": "KR", "description": "Sonar."}]
    assert add(tmp_path, "o.json", b"\xef\xbb\xbf" + json.dumps(rows, ensure_ascii=False).encode()).added == ["kr-b"]
    consortium = write(tmp_path, "c.json", b"\xef\xbb\xbf" + json.dumps(CONSORTIUM).encode())
    assert read_consortium_file(consortium) == CONSORTIUM


@pytest.mark.parametrize("encoding, message", [("utf-16", "file is UTF-16; save it as UTF-8"),
                                               ("utf-16-le", r"looks like UTF-16 \(no BOM\)"),
                                               ("utf-32", "file is UTF-32")])
def test_utf16_is_one_file_error_everywhere(tmp_path, recommender, encoding, message):  # noqa: F811
    csv_text = (ORG_HEADER + ORG_GOOD + ORG_OTHER).encode(encoding)
    with pytest.raises(InputFileError, match=message):
        add(tmp_path, "o.csv", csv_text)
    with pytest.raises(InputFileError, match=message):
        add(tmp_path, "o.json", json.dumps([{"id": "x"}]).encode(encoding))
    with pytest.raises(InputFileError, match=message):
        read_queries(write(tmp_path, "q.csv", (QUERY_HEADER + "q1,drones-kr-8,,EU,\n").encode(encoding)), recommender)
    with pytest.raises(InputFileError, match=message):
        read_consortium_file(write(tmp_path, "c.json", json.dumps(CONSORTIUM).encode(encoding)))


def test_other_encodings_are_one_error_naming_the_line(tmp_path, corridor):
    latin1 = (ORG_HEADER + ORG_GOOD + "de-m,Müller GmbH,DE,Optics.,PRC,false,sme,\n").encode("latin-1")
    result = corridor("data", "add", "--file", str(write(tmp_path, "orgs.csv", latin1)))
    one_line_error(result, "orgs.csv: not UTF-8 (line 3, byte 0xfc); save it as UTF-8")
    assert result.output.count("error") == 1
    utf16 = write(tmp_path, "u.csv", (ORG_HEADER + ORG_GOOD).encode("utf-16"))
    one_line_error(corridor("data", "add", "--file", str(utf16)), "u.csv: file is UTF-16; save it as UTF-8")


# ---- every problem of a row at once ----------------------------------------------------------------------------


def test_an_organisation_row_lists_all_its_problems(tmp_path):
    report = add(tmp_path, "orgs.csv", ORG_HEADER + ORG_GOOD + ",,XX,,FACTORY,maybe,huge,warp\n" + ORG_OTHER)
    assert report.added == ["kr-acme", "de-optik"]
    (problem,) = report.rejected
    assert problem.row == 3
    assert problem.fields == ["id", "name", "country", "description", "activity_type", "size_class", "sme",
                              "technology_areas"]
    assert str(problem).startswith("row 3: id: missing id; name: missing name; country: unknown country code 'XX'; "
                                   "description: empty description; activity_type: wrong type")


def test_a_json_organisation_lists_all_its_problems(tmp_path):
    rows = [{"id": 7, "name": "", "country": "XX", "description": "x", "sme": "perhaps"},
            {"id": "kr-ok", "name": "K", "country": "KR", "description": "Sonar."}]
    report = add(tmp_path, "orgs.json", json.dumps(rows))
    assert report.added == ["kr-ok"]
    assert [(p.row, p.fields) for p in report.rejected] == [(1, ["id", "name", "country", "sme"])]


def test_a_query_row_lists_all_its_problems(tmp_path, recommender):  # noqa: F811
    header = "query_id,org_id,text,region,instrument,priority,kind,include_known\n"
    text = header + ",ghost,,MARS,marshall-plan,dornes,bogus,perhaps\nq2,drones-kr-8,,EU,,,,\n"
    queries, problems = read_queries(write(tmp_path, "q.csv", text), recommender)
    assert [q.query_id for q in queries] == ["q2"]
    assert [(p.row, p.fields) for p in problems] == [
        (2, ["query_id", "org_id", "region", "kind", "include_known", "instrument", "priority"])
    ]


def test_text_rows_list_all_their_problems(tmp_path):
    rows, problems = read_text_rows(write(tmp_path, "t.csv", "id,text\n,\nb,Sonar arrays.\n"))
    assert [r[1] for r in rows] == ["b"]
    assert str(problems[0]) == "row 2: id: missing id; text: empty text"


def test_cli_prints_every_problem_of_a_row_on_its_line(tmp_path, corridor):
    path = write(tmp_path, "orgs.csv", ORG_HEADER + ORG_GOOD + ",,XX,,PRC,true,sme,\n")
    result = corridor("data", "add", "--file", str(path))
    assert result.exit_code == 1, result.output
    output = " ".join(result.output.split())
    assert "added 1" in output
    assert ("rejected row 3: id: missing id; name: missing name; country: unknown country code 'XX'; "
            "description: empty description") in output


def test_consortium_lists_all_its_problems(tmp_path, corridor):
    data = {"instrument": "edip", "members": [{"name": "A", "country": "XX", "sme": "maybe"}, {"country": "ZZ"}]}
    result = corridor("eligibility", "--consortium", str(write(tmp_path, "c.json", json.dumps(data))))
    one_line_error(result, "members[0].sme: must be true or false", "members[0].country: unknown country code 'XX'",
                   "members[1]: needs an id or a name", "members[1].country: unknown country code 'ZZ'")


# ---- the API ---------------------------------------------------------------------------------------------------


def test_api_deeply_nested_body_is_400(tmp_path):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from recommender.settings import Settings
    from tests.api_support import synthetic_corridor

    settings = Settings(state_dir=tmp_path / "state", model_poll_seconds=0)
    app = create_app(settings, synthetic_corridor(None, settings.database_url))
    with TestClient(app, raise_server_exceptions=False) as client:
        key = {"X-API-Key": app.state.corridor.store.create_key("write", "tests")[1]}
        for depth in (JSON_DEPTH_LIMIT + 1, 20_000):
            body = json.dumps(CONSORTIUM)[:-1] + ', "name": ' + "[" * depth + "]" * depth + "}"
            for url in ("/v1/eligibility", "/v1/organisations", "/v1/match"):
                response = client.post(url, content=body, headers={**key, "Content-Type": "application/json"})
                assert response.status_code in (400, 422), (url, depth, response.text)
                assert "Traceback" not in response.text


# ---- arbitrary bytes -------------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=300), st.text(alphabet=st.sampled_from('ab,"\n\r\x00é;{}[]'), max_size=200)
                 .map(lambda s: s.encode())))
def test_arbitrary_bytes_raise_nothing_but_input_file_error(raw):
    try:
        text = decode_text(raw, "f")
        records, rejected = parse_csv(text, "f.csv", ["a"], ["b"])
    except InputFileError:
        pass
    else:
        lines = len(io.StringIO(text, newline="").readlines())  # as csv counts them: \n, \r\n or \r
        assert all(1 < row <= lines for row, _ in records)
        assert all(1 < e.row <= lines and e.problems for e in rejected)
    try:
        parse_json(decode_text(raw, "f"), "f.json")
    except InputFileError:
        pass


def test_json_that_cannot_be_stored_is_a_file_error(tmp_path, corridor):
    surrogate = write(tmp_path, "s.json", '[{"id": "kr-x", "name": "\\ud800", "country": "KR", "description": "x"}]')
    one_line_error(corridor("data", "add", "--file", str(surrogate)), "s.json: JSON text with an unpaired surrogate")
    huge = write(tmp_path, "n.json", '{"instrument": "edip", "members": [{"id": ' + "9" * 5000 + "}]}")
    one_line_error(corridor("eligibility", "--consortium", str(huge)), "n.json: not valid JSON (a number longer than")


@settings(max_examples=150, deadline=None)
@given(raw=st.one_of(st.binary(max_size=300),
                     st.lists(st.sampled_from(["id", "name", "country", "description", "KR", "kr-a", "x", '"', "",
                                               "\u00e9", "{", "[", "]", "}", ":", "\\ud800", "1e999", "null"]),
                              max_size=40).map(lambda parts: ",".join(parts).encode())),
       suffix=st.sampled_from([".csv", ".json"]))
def test_arbitrary_organisation_files_are_rows_or_one_input_file_error(raw, suffix):
    import tempfile
    from pathlib import Path

    from recommender.catalogue.useradd import read_rows, validate_rows

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"orgs{suffix}"
        path.write_bytes(raw)
        try:
            rows, unreadable = read_rows(path)
        except InputFileError:
            return
        good, invalid = validate_rows(rows, PRIORITIES)
        assert len(good) + len(invalid) == len(rows)  # every row is kept or reported
        assert all(e.problems for e in unreadable + invalid)


def test_consortium_rulebook_checks_list_all_their_problems():
    from recommender.errors import ConsortiumFormatError
    from recommender.rules import load_rulebook, parse_consortium

    data = {**CONSORTIUM, "action_type": "procurement", "product_category": "tanks"}
    with pytest.raises(ConsortiumFormatError) as err:
        parse_consortium(data, load_rulebook())
    assert str(err.value).startswith("action_type: unknown action type 'procurement'")
    assert "; product_category: unknown product category 'tanks'" in str(err.value)
