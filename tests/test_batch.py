"""Batch jobs: all-pairs scans, partnership reports and query files on the inline, local and Ray engines."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recommender.batch import (
    EmptyScopeError,
    EngineError,
    InlineEngine,
    LocalEngine,
    ReportRequest,
    ReportRequestError,
    ScanConfig,
    build_report,
    make_engine,
    rank_queries,
    rank_query_file_on,
    read_org_ids,
    scan_pairs,
    write_report,
)
from recommender.batch.pairs import TopPairs
from recommender.errors import InputFileError, UnknownInstrumentError
from recommender.ranking.batch import rank_query_file
from recommender.ranking.features import pair_features, query_context
from recommender.ranking.index import Query
from recommender.ranking.rankers import LearnedRanker
from recommender.ranking.service import Recommender
from tests.synthetic import make_world
from tests.test_ranking import make_index
from training.ranker import TrainConfig, training_set

SCAN_FIELDS = (
    "kr_rows", "hist", "kr_n", "kr_mean", "kr_best_rows", "kr_best_scores", "kr_country_best", "kr_country_sum",
    "kr_country_n", "eu_best", "eu_best_kr", "country_n", "country_sum", "country_best",
)  # fmt: skip


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One BLAS/OpenMP thread in this process, as in every engine worker: keeps the module fast when another
    process holds a core (results do not depend on the thread count)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def recommender(one_thread) -> Recommender:
    world = make_world()
    train_index = make_index(world, cutoff=2021)
    ranker = LearnedRanker(n_estimators=60, min_child_samples=5)
    cfg = TrainConfig(label_years=(2022,), negatives_per_query=20)
    ranker.fit(train_index, training_set({2022: train_index}, world, cfg, ranker)[0])
    return Recommender(make_index(world), ranker)


@pytest.fixture(scope="module")
def ray_engine():
    try:
        import ray  # noqa: F401
    except ImportError:
        pytest.fail("Ray is not installed: the local/Ray identity tests cannot run (pip install ray)")
    engine = make_engine("ray", workers=2)
    yield engine
    engine.close()


def sides(index):
    return np.flatnonzero(index.side_masks["KR"]), np.flatnonzero(index.side_masks["EU"])


def assert_same_scan(a, b):
    for name in SCAN_FIELDS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.n_pairs == b.n_pairs
    for name in ("kr", "eu", "score"):
        np.testing.assert_array_equal(getattr(a.top, name), getattr(b.top, name), err_msg=f"top.{name}")


# ---- the all-pairs scan ---------------------------------------------------------------------------------------


def test_scan_equals_brute_force(recommender):
    ranker, index = recommender.ranker, recommender.index
    kr, eu = sides(index)
    scan = scan_pairs(index, ranker, "unmanned", kr, eu, config=ScanConfig(top=40, per_org=2, scoring="exhaustive"))
    full = []
    for row in kr:
        rq = index.resolve(Query(org_id=index.ids[row], region="EU", priority="unmanned"))
        cand = np.flatnonzero(index.allowed(rq) & index.side_masks["EU"])
        full += [(-s, row, c, s) for c, s in zip(cand, ranker.score(index, rq, cand), strict=True)]
    full.sort()
    assert scan.n_pairs == len(full) > 0
    assert scan.top.kr.tolist() == [f[1] for f in full[:40]]
    assert scan.top.eu.tolist() == [f[2] for f in full[:40]]
    np.testing.assert_array_equal(scan.top.score, [f[3] for f in full[:40]])
    assert scan.hist.sum() == len(full)
    assert np.nanmax(scan.eu_best) == full[0][3]
    assert scan.kr_country_n.sum() == len(full) and scan.country_n.sum() == len(full)


# ---- two stages ------------------------------------------------------------------------------------------------


def model_scores(index, ranker, kr_row, priority, instrument=None):
    rq = index.resolve(Query(org_id=index.ids[kr_row], region="EU", priority=priority, instrument=instrument))
    cand = np.flatnonzero(index.allowed(rq) & index.side_masks["EU"])
    return dict(zip(cand.tolist(), ranker.score(index, rq, cand), strict=True))


def test_two_stage_best_pairs_are_model_scores(recommender):
    index, ranker = recommender.index, recommender.ranker
    kr, eu = sides(index)
    cfg = ScanConfig(top=20, per_org=2, rerank=4, scoring="two-stage")
    scan = scan_pairs(index, ranker, "unmanned", kr, eu, config=cfg)
    assert scan.job.first_stage is not None and scan.job.rerank == cfg.rerank_per_korean(len(kr)) >= 4
    exact = {row: model_scores(index, ranker, row, "unmanned") for row in kr}
    assert scan.n_pairs == sum(len(s) for s in exact.values()) == scan.hist.sum()
    assert scan.model_pairs == sum(min(len(s), scan.job.rerank) for s in exact.values()) < scan.n_pairs
    for k, e, score in zip(scan.top.kr, scan.top.eu, scan.top.score, strict=True):
        assert score == exact[k][e]
    for i, row in enumerate(kr):
        for e, score in zip(scan.kr_best_rows[i], scan.kr_best_scores[i], strict=True):
            if e >= 0:
                assert score == exact[row][e]


def test_two_stage_reranking_everything_is_the_exhaustive_scan(recommender):
    index, ranker = recommender.index, recommender.ranker
    kr, eu = sides(index)
    exhaustive = scan_pairs(index, ranker, "sensors_ew", kr, eu, config=ScanConfig(top=30, scoring="exhaustive"))
    config = ScanConfig(top=30, rerank=10_000, scoring="two-stage")
    both = scan_pairs(index, ranker, "sensors_ew", kr, eu, config=config)
    assert both.job.first_stage is not None and exhaustive.job.first_stage is None
    assert_same_scan(exhaustive, both)
    assert both.model_pairs == exhaustive.model_pairs == exhaustive.n_pairs


def test_two_stage_finds_most_of_the_exhaustive_top_pairs(recommender):
    index, ranker = recommender.index, recommender.ranker
    kr, eu = sides(index)
    exhaustive = scan_pairs(index, ranker, "unmanned", kr, eu, config=ScanConfig(top=10, scoring="exhaustive"))
    two = scan_pairs(index, ranker, "unmanned", kr, eu, config=ScanConfig(top=10, rerank=3, scoring="two-stage"))
    assert two.model_pairs < exhaustive.model_pairs / 2
    found = set(zip(two.top.kr.tolist(), two.top.eu.tolist(), strict=True))
    wanted = set(zip(exhaustive.top.kr.tolist(), exhaustive.top.eu.tolist(), strict=True))
    assert len(found & wanted) >= 0.9 * len(wanted)


def test_two_stage_is_the_same_on_every_engine(recommender):
    kr, eu = sides(recommender.index)
    cfg = ScanConfig(top=25, per_org=3, max_chunk=2, rerank=4, scoring="two-stage")
    inline = scan_pairs(recommender.index, recommender.ranker, "sensors_ew", kr, eu, engine=InlineEngine(), config=cfg)
    local = scan_pairs(recommender.index, recommender.ranker, "sensors_ew", kr, eu, engine=LocalEngine(2), config=cfg)
    assert_same_scan(inline, local)
    assert inline.model_pairs == local.model_pairs


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.data(),
    priority=st.sampled_from(["unmanned", "sensors_ew", "semiconductors"]),
    instrument=st.sampled_from([None, "edf-research", "horizon-europe"]),
)
def test_first_stage_is_linear_in_the_pair_features(recommender, data, priority, instrument):
    """The first stage's split (per candidate, per query, per pair) adds up to one linear function of
    pair_features, for any Korean query and European rows."""
    index, ranker = recommender.index, recommender.ranker
    kr, eu = sides(index)
    config = ScanConfig(top=10, rerank=3, scoring="two-stage")
    stage = scan_pairs(index, ranker, priority, kr, eu, instrument=instrument, config=config).job.first_stage
    row = data.draw(st.sampled_from(kr.tolist()))
    positions = np.unique(data.draw(st.lists(st.integers(0, len(eu) - 1), min_size=1, max_size=20)))
    rq = index.resolve(Query(org_id=index.ids[row], region="EU", priority=priority, instrument=instrument))
    ctx = query_context(index, rq)
    X = pair_features(index, ctx, eu[positions]).astype(np.float64)
    np.testing.assert_allclose(
        stage.margins(index, ctx, eu[positions], positions), X @ stage.weights + stage.intercept, rtol=1e-9, atol=1e-9
    )


def test_report_says_how_its_pairs_were_scored(recommender):
    small = build_report(recommender, ReportRequest(priority="unmanned", top=5, explain=0))
    assert small.meta["scoring"] == {"mode": "exhaustive", "model_pairs": small.meta["pairs_scored"]}
    request = ReportRequest(priority="unmanned", top=2, per_org=1, explain=0, scoring="two-stage")
    two = build_report(recommender, request)
    scoring = two.meta["scoring"]
    assert scoring["mode"] == "two-stage" and 0 < scoring["model_pairs"] <= two.meta["pairs_scored"]
    assert scoring["first_stage_fit_pairs"] > 0 and -1 <= scoring["first_stage_rank_correlation"] <= 1


def test_scan_rejects_unknown_scoring_modes():
    with pytest.raises(ValueError, match="scoring must be one of"):
        ScanConfig(scoring="fast")
    with pytest.raises(ReportRequestError, match="scoring must be one of"):
        ReportRequest(priority="unmanned", scoring="fast")


def test_local_and_ray_engines_give_identical_results(recommender, ray_engine):
    kr, eu = sides(recommender.index)
    cfg = ScanConfig(top=25, per_org=3, block=7, max_chunk=2)  # many chunks, many blocks
    inline = scan_pairs(recommender.index, recommender.ranker, "sensors_ew", kr, eu, engine=InlineEngine(), config=cfg)
    local = scan_pairs(recommender.index, recommender.ranker, "sensors_ew", kr, eu, engine=LocalEngine(2), config=cfg)
    on_ray = scan_pairs(recommender.index, recommender.ranker, "sensors_ew", kr, eu, engine=ray_engine, config=cfg)
    assert_same_scan(inline, local)
    assert_same_scan(local, on_ray)
    ids = recommender.index.ids
    assert [ids[r] for r in local.top.kr] == [ids[r] for r in on_ray.top.kr]


def test_chunking_and_input_order_change_nothing_but_float_sums(recommender):
    kr, eu = sides(recommender.index)
    rng = np.random.default_rng(1)
    scans = [
        scan_pairs(
            recommender.index,
            recommender.ranker,
            "unmanned",
            order(kr),
            order(eu),
            config=ScanConfig(top=30, max_chunk=c, block=b),
        )
        for c, b, order in ((1, 5, np.asarray), (3, 1000, rng.permutation), (100, 11, lambda a: a[::-1]))
    ]
    for other in scans[1:]:
        for name in ("kr", "eu", "score"):
            np.testing.assert_array_equal(getattr(scans[0].top, name), getattr(other.top, name))
        np.testing.assert_array_equal(scans[0].eu_best_kr, other.eu_best_kr)
        np.testing.assert_array_equal(scans[0].hist, other.hist)
        np.testing.assert_allclose(scans[0].country_sum, other.country_sum, rtol=1e-12)


def test_top_pairs_merge_is_order_independent():
    rng = np.random.default_rng(0)
    n = 500
    pairs = TopPairs(rng.integers(0, 20, n), rng.integers(0, 50, n), rng.integers(0, 8, n) / 8.0)  # many ties
    expected = TopPairs.empty().merge(pairs, 60)
    for _ in range(5):
        perm = rng.permutation(n)
        acc = TopPairs.empty()
        for part in np.array_split(perm, 7):
            acc = acc.merge(TopPairs(pairs.kr[part], pairs.eu[part], pairs.score[part]), 60)
        np.testing.assert_array_equal(acc.score, expected.score)
        np.testing.assert_array_equal(acc.kr, expected.kr)
        np.testing.assert_array_equal(acc.eu, expected.eu)


def test_scan_rejects_bad_input(recommender):
    kr, eu = sides(recommender.index)
    with pytest.raises(EmptyScopeError):
        scan_pairs(recommender.index, recommender.ranker, "unmanned", kr[:0], eu)
    with pytest.raises(UnknownInstrumentError):
        scan_pairs(recommender.index, recommender.ranker, "unmanned", kr, eu, instrument="no-such-instrument")
    with pytest.raises(EngineError):
        make_engine("spark")
    with pytest.raises(EngineError):
        LocalEngine(workers=0)
    with pytest.raises(ReportRequestError):
        ReportRequest(priority="unmanned", top=0)


# ---- query files on engines ------------------------------------------------------------------------------------

QUERIES = [
    Query(org_id="drones-eu-0", region="ANY", query_id="a"),
    Query(org_id="chips-kr-9", region="EU", priority="semiconductors", query_id="b"),
    Query(text="radar and sonar sensing", region="ANY", query_id="c"),
    Query(org_id="kr-cold-drones", region="EU", instrument="horizon-europe", query_id="d"),
    Query(org_id="radar-eu-1", region="KR", instrument="kiat", query_id="e"),
    Query(text="drone swarm", region="EU", instrument="edf-research", query_id="f"),
] * 4


def flat(results):
    return [[(r.org_id, r.score, r.eligibility_label, r.rank) for r in recs] for recs in results]


def test_rank_queries_on_every_engine_equals_recommend_batch(recommender, ray_engine):
    expected = flat(recommender.recommend_batch(QUERIES, 7, explain=False))
    assert flat(rank_queries(recommender, QUERIES, 7)) == expected
    assert flat(rank_queries(recommender, QUERIES, 7, LocalEngine(2), chunk_size=5)) == expected
    assert flat(rank_queries(recommender, QUERIES, 7, ray_engine, chunk_size=5)) == expected
    with pytest.raises(ValueError, match="k must be"):
        rank_queries(recommender, QUERIES, 0)


def test_rank_query_file_on_engine_writes_the_same_file(recommender, tmp_path):
    path = tmp_path / "q.csv"
    path.write_text(
        "query_id,org_id,text,region,instrument,priority\n"
        "q1,drones-kr-8,,EU,,unmanned\nq2,,chip design,ANY,,\nq3,nobody,,EU,,\nq4,radar-eu-0,,KR,kiat,\n"
    )
    serial = rank_query_file(recommender, path, 5, tmp_path / "serial.csv")
    parallel = rank_query_file_on(recommender, path, 5, tmp_path / "parallel.csv", LocalEngine(2))
    assert (serial.ranked, serial.rows, len(serial.rejected)) == (parallel.ranked, parallel.rows, 1)
    assert (tmp_path / "serial.csv").read_text() == (tmp_path / "parallel.csv").read_text()


# ---- reports ----------------------------------------------------------------------------------------------------


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


@pytest.fixture(scope="module")
def written_report(recommender, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    report = build_report(
        recommender, ReportRequest(priority="unmanned", top=60, explain=12, spread=1.0), LocalEngine(2)
    )
    return report, write_report(report, out), out


def test_report_tables(recommender, written_report):
    report, written, out = written_report
    index = recommender.index
    request = report.request
    p = index.priority_index(request.priority)
    korean = np.flatnonzero(index.side_masks["KR"] & index.evidence[:, p] & ~index.funding_body)
    expected = sum(
        int((index.allowed(index.resolve(request.query_for(index.ids[k]))) & index.side_masks["EU"]).sum())
        for k in korean
    )
    assert report.meta["pairs_scored"] == expected > 0 and report.meta["spread"] == 1.0
    pairs = pd.read_parquet(out / "pairings.parquet")
    n = min(60, expected)
    assert len(pairs) == n and pairs["rank"].tolist() == list(range(1, n + 1))
    assert pairs["score"].is_monotonic_decreasing
    assert pairs["kr_id"].map(lambda i: index.side_masks["KR"][index.row(i)]).all()
    assert pairs["eu_id"].map(lambda i: index.side_masks["EU"][index.row(i)]).all()
    assert (pairs["explanation"].iloc[:12] != "").all() and (pairs["explanation"].iloc[12:].fillna("") == "").all()
    for inst in index.rulebook.instrument_ids:
        assert {f"elig_kr_{inst}", f"elig_eu_{inst}"} <= set(pairs.columns)
        assert set(pairs[f"elig_kr_{inst}"]) <= {"ELIGIBLE", "CONDITIONAL", "INELIGIBLE"}
    assert (pairs["elig_kr_edf-research"] == "INELIGIBLE").all()  # Korean entities cannot be EDF beneficiaries
    assert not pairs["both_eligible_under"].str.contains("edf-research").any()
    from_csv = pd.read_csv(out / "pairings.csv", keep_default_na=False)
    assert from_csv["eu_id"].tolist() == pairs["eu_id"].tolist()
    np.testing.assert_allclose(from_csv["score"], pairs["score"])
    korean = pd.read_csv(out / "korean_organisations.csv")
    assert len(korean) == report.meta["korean_organisations"] and korean["best_partners"].notna().all()
    assert pd.read_csv(out / "score_histogram.csv")["pairs"].sum() == report.meta["pairs_scored"]
    priorities = pd.read_csv(out / "priorities.csv")
    assert set(priorities["priority"]) == {"unmanned", "semiconductors", "sensors_ew"}
    assert set(written) >= {"pairings.parquet", "pairings.csv", "report.html", "summary.json"}


def test_report_html_is_self_contained(written_report):
    report, _, out = written_report
    text = (out / "report.html").read_text(encoding="utf-8")
    parser = _Tags()
    parser.feed(text)
    tags = parser.tags
    table_ids = {attrs.get("id") for tag, attrs in tags if tag == "table"}
    assert {"top-pairings-table", "eligibility-table", "countries-table", "korean-table", "european-table"} <= table_ids
    assert table_ids & {"kr-strengths-table", "eu-strengths-table"}  # priorities where one side leads
    images = [attrs["src"] for tag, attrs in tags if tag == "img"]
    assert len(images) == 3 and all(src.startswith("data:image/png;base64,") for src in images)
    assert all(len(src) > 2000 for src in images)
    links = [attrs.get(a) for _, attrs in tags for a in ("src", "href") if attrs.get(a)]
    assert all(link.startswith(("data:", "#")) for link in links)
    assert not re.search(r"(src|href)\s*=\s*[\"']?\s*(https?:)?//", text)
    assert "http://" not in text and "https://" not in text
    assert not any(tag in ("script", "link", "iframe") for tag, _ in tags)
    top = report.pairings.iloc[0]
    assert str(top["kr_name"]) in text and str(top["eu_name"]) in text
    assert "Where European needs meet Korean capabilities" in text


def test_report_on_an_organisation_list(recommender, tmp_path):
    orgs = tmp_path / "orgs.csv"
    orgs.write_text(
        "org_id,note\ndrones-kr-8,x\ndrones-eu-0,\nchips-eu-1,\nghost,\ndrones-eu-0,dup\n,\nkr-cold-drones,\n"
    )
    ids, rejected = read_org_ids(orgs, recommender.index)
    assert ids == ["drones-kr-8", "drones-eu-0", "chips-eu-1", "kr-cold-drones"]
    assert [(r.row, r.reasons[0].split()[0]) for r in rejected] == [(5, "unknown"), (6, "duplicate"), (7, "missing")]
    report = build_report(
        recommender,
        ReportRequest(priority="unmanned", org_ids=tuple(ids), top=50, explain=50, spread=1.0),
        rejected=rejected,
    )
    # chips-eu-1 shows no unmanned capability, so only the drone pairs are scored
    assert report.meta["pairs_scored"] == 2 and len(report.pairings) == 2
    assert set(report.pairings["kr_id"]) == {"drones-kr-8", "kr-cold-drones"}
    assert set(report.pairings["eu_id"]) == {"drones-eu-0"}
    (tmp_path / "bad.csv").write_text("id\nx\n")
    with pytest.raises(InputFileError, match="org_id"):
        read_org_ids(tmp_path / "bad.csv", recommender.index)


def test_report_instrument_filter(recommender):
    report = build_report(recommender, ReportRequest(priority="unmanned", instrument="edf-research", top=500))
    assert len(report.pairings) and report.pairings["elig_eu_edf-research"].isin(["ELIGIBLE", "CONDITIONAL"]).all()
    with pytest.raises(UnknownInstrumentError):
        build_report(recommender, ReportRequest(priority="sensors_ew", instrument="nope"))


# ---- the CLI adapter (cli/batch.py, mounted by cli/commands.py) ---------------------------------------------------


@pytest.fixture()
def cli(recommender, monkeypatch, tmp_path):
    import typer
    from typer.testing import CliRunner

    from cli import batch as commands
    from cli import common
    from cli.common import handles_errors
    from tests.api_support import corridor_over

    monkeypatch.setattr(common, "open_corridor", lambda: corridor_over(recommender, f"sqlite:///{tmp_path}/c.db"))
    app = typer.Typer()
    app.command("report")(handles_errors(commands.report_command))
    app.command("noop")(lambda: None)  # two commands: typer keeps the "report" sub-command name
    return lambda *args: CliRunner().invoke(app, ["report", *args])


def test_report_command(cli, tmp_path):
    result = cli("--priority", "unmanned", "--out", str(tmp_path / "r"), "--top", "30", "--explain", "5")
    assert result.exit_code == 0, result.output
    assert "pairs/s" in result.output and "report.html" in result.output
    assert (tmp_path / "r" / "report.html").exists() and (tmp_path / "r" / "pairings.parquet").exists()
    orgs = tmp_path / "orgs.csv"
    orgs.write_text("org_id\ndrones-kr-8\nradar-eu-0\nghost\n")
    result = cli("--priority", "unmanned", "--out", str(tmp_path / "s"), "--orgs", str(orgs))
    assert result.exit_code == 1 and "unknown organisation id 'ghost'" in result.output
    result = cli("--priority", "no-such-priority", "--out", str(tmp_path / "t"))
    assert result.exit_code == 2 and "unknown priority" in result.output
    result = cli("--priority", "unmanned", "--out", str(tmp_path / "t"), "--engine", "spark")
    assert result.exit_code == 2 and "unknown engine" in result.output


def test_a_batch_job_prepares_the_heads_in_the_model_cache_and_keeps_it_to_recent_models(recommender, tmp_path):
    import os
    import pickle

    from recommender.batch.report import ReportRequest
    from recommender.ranking.compiled_trees import CACHE_FILES_KEPT
    from tests.api_support import corridor_over

    ranker = pickle.loads(pickle.dumps(recommender.ranker))  # unprepared, and the module's ranker stays so
    corridor = corridor_over(Recommender(recommender.index, ranker), f"sqlite:///{tmp_path}/c.db")
    cache = tmp_path / "compiled-trees"
    cache.mkdir()
    stale = [cache / f"retired{i}{suffix}" for i in range(CACHE_FILES_KEPT + 2) for suffix in (".o", ".shap.npz")]
    for age, path in enumerate(stale):
        path.write_bytes(b"")
        os.utime(path, (1_000_000 - age, 1_000_000 - age))
    corridor.model.compiled_dir = cache

    corridor.pairing_report(ReportRequest(priority="unmanned", top=10, explain=5), tmp_path / "report")

    assert len(ranker.compiled_) == len(ranker.explainers_) == len(ranker.head_models_)
    for pattern in ("*.o", "*.shap.npz"):
        kept = set(cache.glob(pattern))
        prepared = kept - set(stale)
        youngest_stale = [p for p in stale if p.match(pattern)][: CACHE_FILES_KEPT - len(prepared)]
        assert prepared and kept == prepared | set(youngest_stale)


def test_prepare_heads_compiles_and_tables_every_head_and_needs_a_model(recommender, tmp_path):
    import pickle

    from recommender.service import Corridor, ModelUnavailableError
    from recommender.store import Store
    from tests.api_support import FixedWorld, corridor_over

    ranker = pickle.loads(pickle.dumps(recommender.ranker))
    corridor = corridor_over(Recommender(recommender.index, ranker), f"sqlite:///{tmp_path}/c.db")
    corridor.model.compiled_dir = tmp_path / "compiled-trees"
    prepared = corridor.prepare_heads()
    heads = len(ranker.head_models_)
    assert (prepared.model_version, prepared.heads, prepared.compiled, prepared.tabled) == ("fixed-1", heads, heads,
                                                                                               heads)
    assert prepared.cache_dir == tmp_path / "compiled-trees" and list(prepared.cache_dir.glob("*.o"))
    assert corridor._serving is None  # the model alone: the served index was never built
    without_model = Corridor(Store(f"sqlite:///{tmp_path}/d.db", 5), FixedWorld(recommender.index), None)
    with pytest.raises(ModelUnavailableError):
        without_model.prepare_heads()
