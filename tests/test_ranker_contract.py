"""The ranker contract (recommender/ranking/contract.py), run on every ranker of the registry: a ranker added
to ``RANKERS`` is tested here without a line of test code.

Each ranker is fitted on a tiny synthetic world with a funding body in it (features up to 2021 for the
learned ranker's training set, then served over every year); Hypothesis draws the queries. The learned ranker
runs twice: on LightGBM's predict and TreeSHAP, and as a server runs it, with its heads compiled to native
code and explained from per-leaf TreeSHAP tables (its reloaded copy, on LightGBM's, must then rank the same).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recommender.catalogue.kinds import KIND_FILTERS
from recommender.errors import UnknownOrganisationError
from recommender.ranking.contract import Explainer, Ranker, RankerBase
from recommender.ranking.index import SIDES, InvalidQueryError, Query, RankingIndex
from recommender.ranking.rankers import BASELINES, RANKERS, LearnedRanker
from tests.test_ranking import make_index
from tests.test_relevance_defaults import COUNCIL, world_with_a_funder
from training.ranker import TrainConfig, training_set

PROPERTIES = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
WORDS = ("drone", "swarm", "chip", "semiconductor", "radar", "sonar", "naval", "quantum", "partner", "systems")


@pytest.fixture(scope="module")
def world():
    return world_with_a_funder()


@pytest.fixture(scope="module")
def index(world) -> RankingIndex:
    return make_index(world)


@pytest.fixture(scope="module")
def training(world):
    """(index with a 2021 cut-off, the learned ranker's training set over it)."""
    train_index = make_index(world, cutoff=2021)
    cfg = TrainConfig(label_years=(2022,), negatives_per_query=20)
    data, _ = training_set({2022: train_index}, world, cfg, LearnedRanker())
    return train_index, data


def fitted_ranker(name: str, index: RankingIndex, training) -> Ranker:
    cls = RANKERS[name]
    if cls is LearnedRanker:
        train_index, data = training
        return LearnedRanker(n_estimators=40, min_child_samples=5).fit(train_index, data)
    return cls().fit(index)


COMPILED = "learned, heads compiled to native code and explained from tables"


@pytest.fixture(scope="module", params=[*sorted(RANKERS), COMPILED])
def ranker(request, index, training, tmp_path_factory) -> Ranker:
    if request.param == COMPILED:
        learned = fitted_ranker("learned", index, training)
        assert isinstance(learned, LearnedRanker)
        assert learned.compile_heads(tmp_path_factory.mktemp("compiled-trees"), build=True) == len(learned.head_models_)
        assert learned.prepare_explainers() == len(learned.head_models_)
        return learned
    return fitted_ranker(request.param, index, training)


@pytest.fixture(scope="module")
def reloaded(ranker, tmp_path_factory) -> Ranker:
    directory = tmp_path_factory.mktemp(ranker.name) / "model"
    ranker.save(directory)
    return type(ranker).load(directory)


@st.composite
def queries(draw, index: RankingIndex) -> Query:
    named = [str(i) for i in index.ids[index.side_masks["ANY"]]]
    org_id = draw(st.none() | st.sampled_from(named))
    text = None
    if org_id is None or draw(st.booleans()):
        text = " ".join(draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=4)))
    instrument = draw(st.none() | st.just("edf-research"))
    return Query(
        org_id=org_id,
        text=text,
        region=draw(st.sampled_from(SIDES)),
        instrument=instrument,
        priority=draw(st.none() | st.sampled_from(list(index.profiles.taxonomy.ids))),
        exclude=frozenset(draw(st.lists(st.sampled_from(named), max_size=3))),
        keep_ineligible=instrument is not None and draw(st.booleans()),
        include_known=draw(st.booleans()),
        kind=draw(st.none() | st.sampled_from(KIND_FILTERS)),
    )


def query_lists(index: RankingIndex):
    return st.lists(queries(index), min_size=1, max_size=5)


# ---- the registry --------------------------------------------------------------------------------------------


def test_the_registry_holds_every_baseline_and_the_learned_ranker():
    assert set(RANKERS) == {*BASELINES, "learned"}
    assert {"popularity", "defence-experience"} <= set(RANKERS)  # past partners left out, like every ranker
    for name, cls in RANKERS.items():
        assert cls.name == name and cls.description
        assert issubclass(cls, RankerBase)


def test_every_ranker_meets_the_protocol_and_only_the_learned_one_explains(ranker):
    assert isinstance(ranker, Ranker)
    assert isinstance(ranker, Explainer) == (ranker.name == "learned")


# ---- properties ------------------------------------------------------------------------------------------------


@PROPERTIES
@given(data=st.data())
def test_scores_are_finite_and_rankings_sorted(ranker, index, data):
    query = data.draw(queries(index))
    rq = index.resolve(query)
    rows = np.flatnonzero(index.allowed(rq))
    scores = ranker.score(index, rq, rows)
    assert scores.dtype == np.float64 and scores.shape == (len(rows),)
    assert np.isfinite(scores).all()
    ids, ranked = ranker.rank(index, query, data.draw(st.integers(1, 30)))
    assert len(ids) == len(ranked) == len(set(ids))
    assert np.isfinite(ranked).all() and np.all(np.diff(ranked) <= 0)


@PROPERTIES
@given(data=st.data())
def test_the_order_of_a_batch_does_not_matter(ranker, index, data):
    batch = data.draw(query_lists(index))
    k = data.draw(st.integers(1, 15))
    order = data.draw(st.permutations(range(len(batch))))
    straight = ranker.rank_batch(index, batch, k)
    shuffled = ranker.rank_batch(index, [batch[i] for i in order], k)
    for position, i in enumerate(order):
        assert shuffled[position][0].tolist() == straight[i][0].tolist()
        np.testing.assert_array_equal(shuffled[position][1], straight[i][1])
    single = ranker.rank(index, batch[0], k)
    assert single[0].tolist() == straight[0][0].tolist()
    np.testing.assert_array_equal(single[1], straight[0][1])


@PROPERTIES
@given(data=st.data())
def test_excluded_ids_are_never_returned(ranker, index, data):
    query = data.draw(queries(index))
    ids, _ = ranker.rank(index, query, 50)
    rows = np.array([index.row(i) for i in ids], dtype=np.int64)
    assert index.side_masks[query.region][rows].all()  # the requested side, named organisations only
    assert not set(ids) & query.exclude
    if query.org_id is not None:
        assert query.org_id not in ids
        if not query.include_known:
            assert not set(rows) & set(index.graph.neighbours(index.row(query.org_id)).tolist())
    if query.kind is None:
        assert not index.funding_body[rows].any() and COUNCIL not in ids
    p = index.priority_index(query.priority)
    if p is not None:
        assert index.evidence[rows, p].all()
    if query.instrument and not query.keep_ineligible:
        assert (index.eligibility(query.instrument)[0][rows] > 0).all()


@PROPERTIES
@given(data=st.data())
def test_save_and_load_give_the_same_rankings(ranker, reloaded, index, data):
    assert type(reloaded) is type(ranker)
    query = data.draw(queries(index))
    a, b = ranker.rank(index, query, 10), reloaded.rank(index, query, 10)
    assert a[0].tolist() == b[0].tolist()
    np.testing.assert_allclose(a[1], b[1])


# ---- examples --------------------------------------------------------------------------------------------------


def test_the_funding_body_is_ranked_only_when_its_kind_is_asked_for(ranker, index):
    query = Query(text="drone swarm unmanned", region="EU", kind="public")
    assert COUNCIL in ranker.rank(index, query, 50)[0]
    assert COUNCIL not in ranker.rank(index, Query(text="drone swarm unmanned", region="EU"), 50)[0]


def test_one_fitted_ranker_serves_another_index(ranker, world):
    other = make_index(world, cutoff=2022)
    ids, scores = ranker.rank(other, Query(org_id="radar-kr-8", region="EU"), 5)
    assert len(ids) and np.isfinite(scores).all()


def test_bad_input_raises(ranker, index):
    with pytest.raises(UnknownOrganisationError):
        ranker.rank(index, Query(org_id="no-such-org"), k=5)
    with pytest.raises(ValueError, match="k must be"):
        ranker.rank(index, Query(org_id="drones-eu-0"), k=0)
    with pytest.raises(ValueError, match="k must be"):
        ranker.rank_batch(index, [Query(org_id="drones-eu-0")], k=0)
    with pytest.raises(InvalidQueryError):
        Query(region="MARS", org_id="drones-eu-0")
    with pytest.raises(InvalidQueryError):
        Query()


def test_an_unfitted_ranker_refuses_to_rank(index):
    from recommender.ranking.contract import NotFittedError

    for cls in RANKERS.values():
        with pytest.raises(NotFittedError):
            cls().rank(index, Query(org_id="drones-eu-0"), 5)


@PROPERTIES
@given(data=st.data())
def test_an_explained_ranking_is_the_ranking_with_its_contributions(ranker, index, data):
    if not isinstance(ranker, Explainer):
        return
    query = data.draw(queries(index))
    k = data.draw(st.integers(1, 30))
    rq = index.resolve(query)
    ids, scores, contrib = ranker.rank_explained(index, rq, k)
    plain_ids, plain_scores = ranker.rank(index, rq, k)
    assert ids.tolist() == plain_ids.tolist()
    np.testing.assert_array_equal(scores, plain_scores)
    rows = np.array([index.row_of[i] for i in ids], dtype=np.int64)
    expected = ranker.contributions(index, rq, rows) if len(rows) else np.zeros((0, contrib.shape[1]))
    np.testing.assert_allclose(contrib, expected, rtol=1e-9, atol=1e-12)
