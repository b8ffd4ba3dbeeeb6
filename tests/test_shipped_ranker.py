"""The shipped model on the shipped data: CLI contract, explanations, integrity checks."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from typer.testing import CliRunner

from recommender.artifacts import ModelIntegrityError
from recommender.ranking.index import Query
from recommender.ranking.rankers import LearnedRanker
from recommender.settings import Settings
from recommender.workspace import Workspace
from tests.conftest import REPO

pytestmark = pytest.mark.slow
KAIST = "997863930"
runner = CliRunner()


@pytest.fixture(scope="module")
def ws():
    return Workspace(Settings().workspace_paths())


@pytest.fixture(scope="module")
def served():
    """The shipped model over the shipped data, as `corridor recommend` and the server rank with it."""
    from recommender.service import open_corridor

    with open_corridor(Settings()) as corridor:
        yield corridor.recommender()


def test_korean_org_gets_explained_european_partners(served):
    recs = served.recommend(Query(org_id=KAIST, region="EU", priority="ai"), k=10)
    assert len(recs) == 10
    assert all(r.region in ("EU27", "EEA-EFTA", "UA") for r in recs)
    assert [r.rank for r in recs] == list(range(1, 11))
    assert all(a.score >= b.score for a, b in zip(recs, recs[1:], strict=False))
    assert all(r.contributions for r in recs)
    assert any(r.relevant_projects for r in recs)
    known = set(served.index.known_partners(served.index.resolve(Query(org_id=KAIST))).tolist())
    assert not {served.index.row(r.org_id) for r in recs} & known
    assert all(r.priority_evidence and (r.priority_evidence["projects_in_priority"] or r.priority_evidence["declared"])
               for r in recs)
    assert all(r.kind != "funding" for r in recs)


def test_instrument_leaves_out_ineligible(served):
    recs = served.recommend(Query(org_id=KAIST, region="ANY", instrument="edf-research"), k=30)
    assert recs and all(r.eligibility.verdict in ("ELIGIBLE", "CONDITIONAL") for r in recs)
    assert all(r.country != "KR" for r in recs)
    flagged = served.recommend(Query(org_id=KAIST, region="KR", instrument="edf-research",
                                             keep_ineligible=True), k=5)
    assert flagged and all(r.eligibility.verdict == "INELIGIBLE" for r in flagged)


def test_cold_start_curated_org_gets_sensible_partners(served):
    recs = served.recommend(Query(org_id="kr-lig-nex1", region="EU"), k=10)
    assert len(recs) == 10
    text = " ".join(p["title"].lower() for r in recs for p in r.relevant_projects)
    assert any(w in text for w in ("missile", "defence", "radar", "munition", "propulsion", "weapon", "sensor"))


def test_rank_command_contract(tmp_path):
    out = tmp_path / "ranked.csv"
    result = runner.invoke(app_cli(), ["rank", "--queries", str(REPO / "examples" / "queries.csv"), "--k", "5",
                                       "--out", str(out)])
    assert result.exit_code == 1, result.output  # one bad row
    assert "row 4: org_id: neither org_id nor text given" in result.output
    frame = pd.read_csv(out, dtype={"org_id": str})
    assert list(frame.columns) == ["query_id", "rank", "org_id", "score", "eligibility", "known_partner"]
    assert not frame["known_partner"].any()
    assert sorted(frame["query_id"].unique()) == ["kaist-eu", "uav-call"]
    assert frame.groupby("query_id")["rank"].apply(list).tolist() == [[1, 2, 3, 4, 5]] * 2
    assert set(frame.loc[frame["query_id"] == "uav-call", "eligibility"]) <= {"ELIGIBLE", "CONDITIONAL"}
    parquet = tmp_path / "ranked.parquet"
    runner.invoke(app_cli(), ["rank", "--queries", str(REPO / "examples" / "queries.csv"), "--k", "5",
                              "--out", str(parquet)])
    # CSV reads an empty eligibility as missing; Parquet keeps the empty string
    pd.testing.assert_frame_equal(pd.read_parquet(parquet), frame.fillna({"eligibility": ""}), check_dtype=False)


def test_recommend_json(tmp_path):
    result = runner.invoke(app_cli(), ["recommend", "--org", KAIST, "--region", "EU", "--k", "3", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    results = data["results"]
    assert len(results) == 3 and {"org_id", "score", "contributions", "eligibility", "known_partner"} <= set(results[0])
    assert data["left_out"]["known_partners"] > 0 and data["left_out"]["funding_bodies"] > 0
    result = runner.invoke(app_cli(), ["recommend", "--org", "nope", "--k", "3"])
    assert result.exit_code == 2 and "unknown organisation id" in result.output


def test_altered_or_mismatched_model_is_refused(ws, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(ws.paths.model_dir, model)
    LearnedRanker.load(model, expect=ws.model_expectations())  # intact: loads
    with pytest.raises(ModelIntegrityError, match="encoder_fingerprint"):
        LearnedRanker.load(model, expect={"encoder_fingerprint": "another-model"})
    with pytest.raises(ModelIntegrityError, match="tagger_fingerprint"):  # trained on another tagger's scores
        LearnedRanker.load(model, expect={"tagger_fingerprint": "another-tagger"})
    heads = model / "head-org.txt"
    heads.write_bytes(heads.read_bytes()[:-1] + b"\0")
    with pytest.raises(ModelIntegrityError, match="altered"):
        LearnedRanker.load(model)


def test_shipped_report_covers_every_task_and_baseline(ws):
    from recommender.evaluation.tasks import TASKS
    from recommender.ranking.rankers import BASELINES, GENERATORS

    report = json.loads((ws.paths.model_dir / "evaluation.json").read_text())
    assert set(report) == set(TASKS)
    for task in report.values():
        assert set(task["rankers"]) == {"learned", *BASELINES}
        low, high = task["learned_minus_best_baseline"]["ci95"]
        assert low <= task["learned_minus_best_baseline"]["mean"] <= high
        assert set(task["generator_recall"]) == {*GENERATORS, "pool"}
        # The gate promoted this model: it leads the best baseline on every required task.
        assert task["learned_leads"]


def app_cli():
    from cli.commands import app

    return app
