"""What a user gets by default: new partners only (known ones flagged on request), no funding bodies unless
asked for, and a priority that really changes the ranking. A tiny world whose answers are known: three
technology communities, plus a national research council that sits in drone projects."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from recommender.catalogue import Catalogue
from recommender.catalogue.build import conform
from recommender.catalogue.schema import ORGANISATIONS, PARTICIPATIONS
from recommender.ranking.index import InvalidQueryError, Query
from recommender.ranking.rankers import LearnedRanker
from recommender.ranking.service import Recommender
from tests.synthetic import make_world
from tests.test_ranking import make_index
from training.ranker import TrainConfig, training_set

COUNCIL = "fr-drone-research-council"


def world_with_a_funder() -> Catalogue:
    world = make_world()
    council = {
        "id": COUNCIL,
        "name": "AGENCE NATIONALE DE LA RECHERCHE",
        "country": "FR",
        "region": "EU27",
        "activity_type": "PUB",
        "sme": False,
        "description": "Funds research on drone swarm autonomy.",
        "sources": "synthetic",
    }
    orgs = conform(pd.concat([world.organisations, pd.DataFrame([council])], ignore_index=True), ORGANISATIONS)
    drone_projects = world.projects.loc[world.projects["title"].str.startswith("drones"), "id"]
    links = pd.DataFrame(
        [{"org_id": COUNCIL, "project_id": pid, "role": "participant", "country": "FR"} for pid in drone_projects[:6]]
    )
    participations = conform(pd.concat([world.participations, links], ignore_index=True), PARTICIPATIONS)
    return Catalogue(orgs, world.projects, participations)


@pytest.fixture(scope="module")
def recommender() -> Recommender:
    return recommender_with_a_funder()


def recommender_with_a_funder() -> Recommender:
    """The tiny world with a funding body, a model trained on it (labels 2022), served over all years."""
    world = world_with_a_funder()
    train_index = make_index(world, cutoff=2021)
    ranker = LearnedRanker(n_estimators=40, min_child_samples=5)
    ranker.fit(train_index, training_set({2022: train_index}, world, TrainConfig(label_years=(2022,)), ranker)[0])
    return Recommender(make_index(world), ranker)


def test_the_council_is_a_funding_body(recommender):
    index = recommender.index
    assert index.kinds[index.row(COUNCIL)] == "funding" and index.funding_body[index.row(COUNCIL)]


def test_known_partners_are_left_out_by_default_and_flagged_on_request(recommender):
    index = recommender.index
    query = Query(org_id="drones-eu-0", region="ANY", kind="any")
    known = set(index.ids[index.graph.neighbours(index.row("drones-eu-0"))])
    assert known
    default = recommender.recommend(query, k=40)
    assert default and not {r.org_id for r in default} & known
    assert not any(r.known_partner for r in default)
    assert recommender.left_out(query)["known_partners"] == len(known & set(index.ids[index.side_masks["ANY"]]))
    included = recommender.recommend(dataclasses.replace(query, include_known=True), k=40)
    flagged = [r for r in included if r.known_partner]
    assert {r.org_id for r in flagged} == {r.org_id for r in included} & known and flagged
    assert all(r.joint_projects and r.prior_joint_projects == len(r.joint_projects) or r.prior_joint_projects > 5
               for r in flagged)


def test_funding_bodies_are_left_out_unless_asked_for(recommender):
    query = Query(org_id="kr-cold-drones", region="EU", priority="unmanned")
    ids = {r.org_id for r in recommender.recommend(query, k=40)}
    assert COUNCIL not in ids
    assert recommender.left_out(query)["funding_bodies"] == 1
    for kind in ("public", "any"):
        kept = {r.org_id for r in recommender.recommend(dataclasses.replace(query, kind=kind), k=40)}
        assert COUNCIL in kept
    companies = recommender.recommend(dataclasses.replace(query, kind="company"), k=40)
    assert companies and all(r.kind == "company" for r in companies)
    with pytest.raises(InvalidQueryError, match="kind"):
        Query(org_id="kr-cold-drones", kind="agency")


def test_a_priority_changes_the_ranking_to_organisations_that_show_it(recommender):
    index = recommender.index
    drones = recommender.recommend(Query(org_id="kr-cold-drones", region="EU", priority="unmanned"), k=10)
    chips = recommender.recommend(Query(org_id="kr-cold-drones", region="EU", priority="semiconductors"), k=10)
    assert [r.org_id for r in drones] != [r.org_id for r in chips]
    assert all(r.org_id.startswith("drones-") for r in drones)
    assert all(r.org_id.startswith("chips-") for r in chips)
    p = index.priority_index("semiconductors")
    assert all(index.evidence[index.row(r.org_id), p] for r in chips)


def test_cold_start_organisations_with_different_capabilities_get_different_lists(recommender):
    index = recommender.index
    rows = []
    for oid, text in (("kr-new-drone", "drone swarm unmanned"), ("kr-new-chip", "semiconductor chip microelectronics")):
        vec, scores = index.encode_texts([text])
        rows.append((oid, vec[0], scores[0]))
    lists = []
    for _, vec, scores in rows:
        rq = dataclasses.replace(index.resolve(Query(text="placeholder", region="EU")), vector=vec, scores=scores)
        ids, _ = recommender.ranker.rank(index, rq, 5)
        lists.append(ids.tolist())
    assert lists[0] != lists[1]


def test_ties_are_broken_by_relevance_not_by_row(recommender):
    from recommender.ranking.contract import top_k

    rows = np.array([0, 1, 2])
    scores = np.array([0.5, 0.5, 0.5])
    best, _ = top_k(rows, scores, 3, tiebreak=np.array([0.1, 0.9, 0.5]))
    assert best.tolist() == [1, 2, 0]


# ---- the partnership map spreads partners ---------------------------------------------------------------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from recommender.ranking.pairings import partner_cap, spread_pairs  # noqa: E402

pair_lists = st.lists(
    st.tuples(st.integers(0, 6), st.integers(0, 9), st.floats(0, 1, allow_nan=False)), min_size=0, max_size=60
)


@settings(max_examples=200, deadline=None)
@given(pairs=pair_lists, cap=st.integers(1, 4), per_korean=st.none() | st.integers(1, 5))
def test_spread_never_exceeds_the_caps_and_keeps_the_best_first(pairs, cap, per_korean):
    kr = np.array([p[0] for p in pairs], dtype=np.int64)
    eu = np.array([p[1] for p in pairs], dtype=np.int64)
    score = np.array([p[2] for p in pairs], dtype=np.float64)
    keep = spread_pairs(kr, eu, score, cap, per_korean)
    assert np.all(np.bincount(eu[keep], minlength=10) <= cap)
    if per_korean is not None:
        assert np.all(np.bincount(kr[keep], minlength=7) <= per_korean)
    assert np.all(np.diff(score[keep]) <= 0)
    # order of the input does not matter
    perm = np.random.default_rng(0).permutation(len(pairs))
    again = spread_pairs(kr[perm], eu[perm], score[perm], cap, per_korean)
    assert sorted(zip(kr[perm][again], eu[perm][again], strict=True)) == sorted(zip(kr[keep], eu[keep], strict=True))


@settings(max_examples=200, deadline=None)
@given(pairs=pair_lists, cap=st.integers(1, 4), per_korean=st.integers(1, 5), block=st.integers(1, 12),
       limit=st.integers(1, 40))
def test_blocks_keep_the_european_cap_and_the_order_and_fill_what_the_korean_limit_leaves(
    pairs, cap, per_korean, block, limit
):
    kr = np.array([p[0] for p in pairs], dtype=np.int64)
    eu = np.array([p[1] for p in pairs], dtype=np.int64)
    score = np.array([p[2] for p in pairs], dtype=np.float64)
    keep = spread_pairs(kr, eu, score, cap, per_korean, limit, block=block)
    assert len(set(keep.tolist())) == len(keep)
    assert np.all(np.bincount(eu[keep], minlength=10) <= cap)
    for start in range(0, len(keep), block):  # within a block the best come first
        assert np.all(np.diff(score[keep[start : start + block]]) <= 0)
    # the Korean limit never costs a pair: as many are shown as the European cap alone would allow
    assert len(keep) == len(spread_pairs(kr, eu, score, cap, None, limit))


def test_a_share_cap_never_exceeds_the_share():
    assert partner_cap(11, 0.2) == 2  # 3 of 11 would be 27%
    assert partner_cap(10, 0.2) == 2
    assert partner_cap(3, 0.2) == 1


def test_each_block_of_the_top_pairings_names_many_korean_organisations():
    kr = np.repeat(np.arange(12), 20)  # twelve Korean organisations, the first ones scoring highest
    eu = np.tile(np.arange(20), 12)
    score = 1.0 - kr * 0.01 - eu * 0.0001
    keep = spread_pairs(kr, eu, score, cap=12, per_korean=5, limit=100, block=50)
    assert len(keep) == 100
    assert len(set(kr[keep[:50]].tolist())) == 10 and len(set(kr[keep[50:]].tolist())) >= 10
    assert set(kr[keep[:10]].tolist()) == {0, 1}  # the best Korean organisations still lead
    two = kr < 2  # only two Korean organisations: the Korean limit yields, the block still fills
    keep = spread_pairs(kr[two], eu[two], score[two], cap=2, per_korean=5, limit=30, block=50)
    assert len(keep) == 30
    assert list(keep) == sorted(keep, key=lambda i: (-score[two][i], kr[two][i], eu[two][i]))


def test_one_hub_is_not_handed_to_every_korean_organisation():
    kr = np.repeat(np.arange(10), 3)
    eu = np.tile([0, 1, 2], 10)  # everybody's favourites are the same three hubs...
    score = np.where(eu == 0, 0.9, 0.5) - kr * 0.001
    kr = np.concatenate([kr, np.arange(10)])
    eu = np.concatenate([eu, 10 + np.arange(10)])  # ...and each has one specialist of its own
    score = np.concatenate([score, np.full(10, 0.4)])
    keep = spread_pairs(kr, eu, score, partner_cap(10, 0.2), per_korean=3)
    assert partner_cap(10, 0.2) == 2
    assert (eu[keep] == 0).sum() == 2
    assert set(kr[keep].tolist()) == set(range(10))  # every Korean organisation still gets partners
    assert set(range(12, 20)) <= set(eu[keep].tolist())  # those the hubs are full for get their specialist


def test_a_priority_recommendation_shows_its_evidence(recommender):
    recs = recommender.recommend(Query(org_id="kr-cold-drones", region="EU", priority="drones"), k=5)
    assert recs and all(r.priority_evidence["priority"] == "unmanned" for r in recs)
    assert all(r.priority_evidence["projects"] or r.priority_evidence["declared"] for r in recs)
    assert recommender.recommend(Query(org_id="kr-cold-drones", region="EU"), k=3)[0].priority_evidence is None


# ---- known partners on the batch routes: `corridor rank` query files and `corridor report` maps -----------
from recommender.batch.report import ReportRequest, build_report  # noqa: E402
from recommender.ranking.batch import rank_query_file  # noqa: E402


def test_a_query_file_ranks_new_partners_unless_a_row_includes_known_ones(recommender, tmp_path):
    index = recommender.index
    known = set(index.ids[index.graph.neighbours(index.row("drones-eu-0"))])
    queries = tmp_path / "queries.csv"
    queries.write_text("query_id,org_id,region,include_known\nnew,drones-eu-0,ANY,false\nall,drones-eu-0,ANY,true\n")
    out = tmp_path / "ranked.csv"
    result = rank_query_file(recommender, queries, 40, out)
    assert result.ranked == 2 and not result.rejected
    ranked = pd.read_csv(out)
    new, everyone = ranked[ranked["query_id"] == "new"], ranked[ranked["query_id"] == "all"]
    assert not set(new["org_id"]) & known and not new["known_partner"].any()
    flagged = everyone[everyone["known_partner"]]
    assert len(flagged) and set(flagged["org_id"]) <= known
    assert set(everyone.loc[~everyone["known_partner"], "org_id"]).isdisjoint(known)


def test_a_map_leaves_pairs_that_worked_together_out_unless_asked(recommender):
    index = recommender.index

    def pairs(report):
        return set(zip(report.pairings["kr_id"], report.pairings["eu_id"], strict=True))

    def worked_together(kr_id, eu_id):
        return index.row(eu_id) in set(index.graph.neighbours(index.row(kr_id)).tolist())

    default = build_report(recommender, ReportRequest(priority="unmanned", top=200, explain=0, spread=1.0))
    assert default.pairings.shape[0] and not any(worked_together(k, e) for k, e in pairs(default))
    assert default.meta["left_out"]["known_partner_pairs"] == "left out"
    kept = build_report(
        recommender, ReportRequest(priority="unmanned", top=200, explain=0, spread=1.0, include_known=True)
    )
    assert any(worked_together(k, e) for k, e in pairs(kept))
    assert COUNCIL not in set(default.pairings["eu_id"]) | set(kept.pairings["eu_id"])


def test_shared_partners_and_joint_projects_are_read_off_the_graph(recommender):
    """Each shown partner's shared partners are the organisations both sides worked with (the five with the most
    projects, ties by row), and its prior joint projects the projects the two share: checked against a plain
    walk over the graph's rows for every organisation of the tiny world."""
    index = recommender.index
    graph = index.graph
    dense = graph.adjacency.toarray()
    checked = 0
    for org_id in index.ids:
        query_row = index.row(str(org_id))
        query = Query(org_id=str(org_id), region="ANY", kind="any", include_known=True)
        for rec in recommender.recommend(query, k=15, explain=True):
            row = index.row(rec.org_id)
            both = [c for c in range(len(index.ids)) if dense[query_row, c] and dense[row, c]]
            expected = sorted(both, key=lambda c: (-graph.projects[c], c))[:5]
            assert [p["id"] for p in rec.shared_partners] == [str(index.ids[c]) for c in expected]
            assert rec.prior_joint_projects == int(dense[query_row, row])
            checked += bool(expected)
    assert checked > 20
