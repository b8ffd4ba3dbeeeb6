from __future__ import annotations

import json

from typer.testing import CliRunner

from cli.commands import app
from tests.conftest import REPO

runner = CliRunner()


def test_consortium_file_json_verdict():
    result = runner.invoke(
        app, ["eligibility", "--consortium", str(REPO / "examples" / "consortium_edip.json"), "--json"]
    )
    assert result.exit_code == 0, result.output
    verdict = json.loads(result.stdout)
    assert verdict["verdict"] == "CONDITIONAL"  # the Korean-controlled EU subsidiary needs guarantees
    assert verdict["rules_version"] and verdict["valid_as_of"]
    share = next(r for r in verdict["rules"] if r["kind"] == "component_origin_share")
    assert share["status"] == "passed" and "30" in share["reason"]
    assert all(r["citation"] for r in verdict["rules"])


def test_members_from_catalogue():
    # three French, German and Italian EDF participants from the shipped catalogue
    result = runner.invoke(
        app, ["eligibility", "--instrument", "edf-research", "--members", "999751938,kr-lig-nex1", "--json"]
    )
    assert result.exit_code == 0, result.output
    verdict = json.loads(result.stdout)
    assert verdict["verdict"] == "INELIGIBLE"
    korean = next(m for m in verdict["members"] if m.get("id") == "kr-lig-nex1")
    assert korean["verdict"] == "INELIGIBLE"


def test_errors_name_the_field_and_list_instruments(tmp_path):
    bad = tmp_path / "c.json"
    bad.write_text(json.dumps({"instrument": "edip", "members": [{"name": "X", "country": "ZZ"}]}))
    result = runner.invoke(app, ["eligibility", "--consortium", str(bad)])
    assert result.exit_code == 2 and "members[0].country" in result.output
    bad.write_text(json.dumps({"instrument": "marshall-plan", "members": [{"name": "X", "country": "FR"}]}))
    result = runner.invoke(app, ["eligibility", "--consortium", str(bad)])
    assert result.exit_code == 2 and "edf-research" in result.output and "kiat" in result.output
    result = runner.invoke(app, ["eligibility", "--instrument", "edip", "--members", "no-such-org"])
    assert result.exit_code == 2 and "no-such-org" in result.output
    bad.write_text("{not json")
    result = runner.invoke(app, ["eligibility", "--consortium", str(bad)])
    assert result.exit_code == 2 and "not valid JSON" in result.output
