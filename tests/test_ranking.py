from __future__ import annotations

import numpy as np
import pytest

from recommender.graph import build_graph
from recommender.profiles.profiles import build_profiles
from recommender.ranking.contract import top_k
from recommender.ranking.features import FEATURES, pair_features, query_context
from recommender.ranking.index import Query, RankingIndex
from recommender.ranking.rankers import LearnedRanker, fill_query_caches
from recommender.rules import load_rulebook
from tests.fakes import KeywordEncoder
from tests.synthetic import make_world
from tests.test_profiles import tiny_taxonomy
from training.ranker import TrainConfig, training_set


def make_index(catalogue, cutoff=None):
    encoder, taxonomy = KeywordEncoder(), tiny_taxonomy()
    profiles = build_profiles(catalogue, encoder, taxonomy, tagger=None, until_year=cutoff)
    desc = encoder.encode([p.description for p in taxonomy.priorities])

    def encode(texts):
        v = encoder.encode(texts)
        return v, np.clip(v @ desc.T, 0, 1)

    return RankingIndex(catalogue, profiles, build_graph(catalogue, cutoff), encode, load_rulebook())


@pytest.fixture(scope="module")
def world():
    return make_world()


@pytest.fixture(scope="module")
def trained(world):
    """(learned ranker fitted on 2022's new pairs, its training set, the serving index of all years)."""
    train_index = make_index(world, cutoff=2021)
    ranker = LearnedRanker(n_estimators=60, min_child_samples=5)
    cfg = TrainConfig(label_years=(2022,), negatives_per_query=20)
    data, _ = training_set({2022: train_index}, world, cfg, ranker)
    ranker.fit(train_index, data)
    return ranker, data, make_index(world)


def test_top_k_is_deterministic_on_ties():
    rows = np.array([5, 3, 9, 1])
    scores = np.array([1.0, 2.0, 1.0, 1.0])
    assert top_k(rows, scores, 3)[0].tolist() == [3, 1, 5]


QUERIES = [
    Query(org_id="drones-eu-0", region="ANY"),
    Query(org_id="chips-kr-9", region="EU"),
    Query(text="radar and sonar sensing", region="ANY"),
    Query(org_id="kr-cold-drones", region="EU"),
]


# ---- behaviour of the learned ranker -------------------------------------------------------------------


def test_learned_ranker_finds_the_community(trained):
    ranker, _, index = trained
    ids, scores = ranker.rank(index, Query(org_id="radar-kr-8", region="EU", include_known=True), k=5)
    assert all(i.startswith("radar-") for i in ids)
    assert np.all(np.diff(scores) <= 0)


def test_cold_start_org_gets_partners_from_text(trained):
    ranker, _, index = trained
    ids, _ = ranker.rank(index, Query(org_id="kr-cold-drones", region="EU"), k=5)
    assert sum(i.startswith("drones-") for i in ids) >= 4


def test_free_text_query(trained):
    ranker, _, index = trained
    ids, _ = ranker.rank(index, Query(text="semiconductor chip design", region="ANY"), k=5)
    assert sum(i.startswith("chips-") for i in ids) >= 4


def test_retraining_gives_same_rankings(world, trained):
    _, data, index = trained
    a = LearnedRanker(n_estimators=60, min_child_samples=5).fit(index, data)
    b = LearnedRanker(n_estimators=60, min_child_samples=5).fit(index, data)
    for q in QUERIES:
        assert a.rank(index, q, 10)[0].tolist() == b.rank(index, q, 10)[0].tolist()


def test_instrument_filter_and_flag(trained):
    from recommender.ranking.service import Recommender

    rec = Recommender(trained[2], trained[0])
    kept = rec.recommend(Query(org_id="drones-eu-0", region="ANY", instrument="edf-research"), k=40)
    assert kept and all(r.country != "KR" for r in kept)  # Korean entities cannot be EDF beneficiaries
    assert all(r.eligibility.verdict in ("ELIGIBLE", "CONDITIONAL") for r in kept)
    flagged = rec.recommend(
        Query(org_id="drones-eu-0", region="KR", instrument="edf-research", keep_ineligible=True), k=3
    )
    assert flagged and all(r.eligibility.verdict != "ELIGIBLE" for r in flagged)
    assert all(r.eligibility.reasons for r in flagged)


def test_explanations(trained):
    from recommender.ranking.service import Recommender

    recs = Recommender(trained[2], trained[0]).recommend(Query(org_id="drones-eu-0", region="ANY"), k=3)
    top = recs[0]
    assert top.contributions and all(c.value > 0 for c in top.contributions)
    assert top.relevant_projects and top.relevant_projects[0]["title"].startswith("drones project")
    assert top.rank == 1 and top.name


def test_organisation_queries_share_one_head_and_know_their_side(trained):
    index = trained[2]
    kr = index.resolve(Query(org_id="radar-kr-8", region="EU"))
    eu = index.resolve(Query(org_id="radar-eu-0", region="ANY"))
    text = index.resolve(Query(text="radar", region="ANY"))
    assert kr.outside_europe and not eu.outside_europe
    assert [LearnedRanker.head_for(rq) for rq in (kr, eu, text)] == ["org", "org", "text"]
    col = FEATURES.index("query_outside_europe")
    rows = np.arange(3)
    assert pair_features(index, query_context(index, kr), rows)[:, col].tolist() == [1, 1, 1]
    assert pair_features(index, query_context(index, eu), rows)[:, col].tolist() == [0, 0, 0]


def test_evaluation_tasks_ask_only_for_new_partners_of_the_right_sides(world):
    from recommender.evaluation.tasks import TASKS, build_tasks

    index = make_index(world, cutoff=2022)
    tasks = {t.name: t for t in build_tasks(index, world, 2023, max_text_queries=10)}
    assert tuple(tasks) == TASKS
    kr, outside = tasks["kr-to-eu"], tasks["outside-europe-to-eu"]
    assert kr.queries and {q.query_id for q in kr.queries} <= {q.query_id.replace("outside-europe-to-eu", "kr-to-eu")
                                                               for q in outside.queries}
    for task in (kr, outside, tasks["edf-new-partners"]):
        for q in task.queries:
            assert q.region == "EU"
            row = index.row_of[q.org_id]
            assert index.outside_europe[row] == (task.name != "edf-new-partners")
            items = task.truth.loc[task.truth["query_id"] == q.query_id, "item_id"]
            assert not set(items) & q.exclude  # past partners are never counted as new ones
            assert all(index.side_masks["EU"][index.row_of[i]] for i in items)


def test_recommendation_dicts_are_the_dataclass_fields_as_plain_data(trained):
    from dataclasses import asdict

    from recommender.ranking.service import Recommender

    rec = Recommender(trained[2], trained[0])
    recs = rec.recommend(Query(org_id="drones-eu-0", region="ANY", instrument="edf-research", priority="drones",
                               keep_ineligible=True, include_known=True), k=15)
    assert any(r.joint_projects for r in recs) and any(r.eligibility for r in recs)
    assert any(r.priority_evidence and r.priority_evidence["projects"] for r in recs)
    for r in recs:
        plain = r.to_dict()
        assert plain == asdict(r)
        plain["relevant_projects"].append({})  # a copy: the recommendation itself is not changed
        assert plain["relevant_projects"] != r.relevant_projects


def test_filled_query_caches_hold_what_queries_compute_on_first_use(world, trained):
    ranker, _, _ = trained
    cold, warm = make_index(world), make_index(world)
    fill_query_caches(warm)
    n_priorities = len(warm.profiles.taxonomy.ids)
    assert {("ranked_rows", "specialists", p) for p in range(n_priorities)} <= set(warm.cache)
    assert "static_candidate_columns" in warm.cache and "static_candidate_columns" not in cold.cache
    rows = np.arange(len(warm.ids))
    for org_id in warm.ids[warm.side_masks["KR"]][:5]:
        for priority in (None, *warm.profiles.taxonomy.ids):
            query = Query(org_id=str(org_id), region="EU", priority=priority)
            a, b = ranker.rank(cold, query, 10), ranker.rank(warm, query, 10)
            assert a[0].tolist() == b[0].tolist()
            np.testing.assert_array_equal(a[1], b[1])
            rq_cold, rq_warm = cold.resolve(query), warm.resolve(query)
            np.testing.assert_array_equal(pair_features(cold, query_context(cold, rq_cold), rows),
                                          pair_features(warm, query_context(warm, rq_warm), rows))
