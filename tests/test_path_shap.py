"""TreeSHAP from per-leaf tables (recommender/ranking/path_shap.py) gives LightGBM's ``pred_contrib`` values:
on small forests whose answers LightGBM computes, on every row Hypothesis draws (missing values included), on
the shipped heads, and through the ranker; models it cannot table keep LightGBM's TreeSHAP."""

from __future__ import annotations

import os
import pickle

import lightgbm as lgb
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from recommender.ranking.features import FEATURES
from recommender.ranking.index import Query
from recommender.ranking.path_shap import cached_path_explainer, path_explainer
from recommender.ranking.rankers import LearnedRanker
from tests.conftest import REPO
from tests.test_ranking import make_index
from tests.test_relevance_defaults import world_with_a_funder
from training.ranker import TrainConfig, training_set

N_FEATURES = 5


def lightgbm_contributions(booster: lgb.Booster, X: np.ndarray) -> np.ndarray:
    return booster.predict(X, pred_contrib=True)[:, :-1]


@pytest.fixture(scope="module")
def booster() -> lgb.Booster:
    """A lambdarank forest whose paths split some features several times (interactions, thresholds)."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(3_000, N_FEATURES))
    y = ((X[:, 0] > 0.2).astype(int) + (X[:, 1] * X[:, 2] > 0.1) + (np.abs(X[:, 3]) < 0.5)).astype(int)
    model = lgb.LGBMRanker(n_estimators=30, num_leaves=31, min_child_samples=5, verbose=-1)
    return model.fit(X, y, group=[30] * 100).booster_


def test_a_single_split_gives_the_textbook_values():
    """One stump, x <= t to the left (value a, n_a rows) else right (b, n_b): a row on the left gets
    a - (n_a a + n_b b) / (n_a + n_b) for the feature, and the other feature nothing."""
    X = np.array([[0.0, 5.0]] * 30 + [[1.0, 5.0]] * 10)
    y = np.array([1.0] * 30 + [3.0] * 10)
    model = lgb.LGBMRegressor(n_estimators=1, num_leaves=2, min_child_samples=1, learning_rate=1.0,
                              verbose=-1).fit(X, y)
    explainer = path_explainer(model.booster_)
    a, b = model.booster_.predict(np.array([[0.0, 5.0], [1.0, 5.0]]))
    mean = (30 * a + 10 * b) / 40
    np.testing.assert_allclose(explainer.contributions(np.array([[0.0, 5.0], [1.0, 5.0]])),
                               [[a - mean, 0.0], [b - mean, 0.0]], atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(X=arrays(np.float64, st.tuples(st.integers(1, 40), st.just(N_FEATURES)),
                elements=st.one_of(st.floats(-3, 3), st.just(np.nan), st.just(0.0))))
def test_the_tables_give_lightgbms_contributions_on_any_rows(booster, X):
    np.testing.assert_allclose(path_explainer(booster).contributions(X), lightgbm_contributions(booster, X),
                               rtol=0, atol=1e-12)


def test_the_shipped_heads_are_explained_as_lightgbm_explains_them():
    rng = np.random.default_rng(0)
    for head in ("org", "defence", "text"):
        model = lgb.Booster(model_file=str(REPO / "data" / "models" / "ranker" / f"head-{head}.txt"))
        X = rng.random((200, model.num_feature())) * rng.choice([0.01, 1, 10, 100], size=(1, model.num_feature()))
        X[rng.random(X.shape) < 0.3] = 0.0
        np.testing.assert_allclose(path_explainer(model).contributions(X), lightgbm_contributions(model, X),
                                   rtol=0, atol=1e-12)


def test_bad_rows_are_refused_with_the_expected_shape(booster):
    with pytest.raises(ValueError, match=rf"\(rows, {N_FEATURES}\)"):
        path_explainer(booster).contributions(np.zeros((3, N_FEATURES + 1)))
    assert path_explainer(booster).contributions(np.zeros((0, N_FEATURES))).shape == (0, N_FEATURES)


def test_a_model_with_categorical_splits_keeps_lightgbms_treeshap():
    rng = np.random.default_rng(2)
    X = np.column_stack([rng.integers(0, 6, 500), rng.normal(size=500)])
    y = (X[:, 0] % 2 == 0).astype(float) + X[:, 1]
    model = lgb.LGBMRegressor(n_estimators=5, min_child_samples=5, verbose=-1).fit(X, y, categorical_feature=[0])
    assert path_explainer(model.booster_) is None


def test_the_ranker_explains_from_tables_as_it_does_without_them():
    world = world_with_a_funder()
    train_index = make_index(world, cutoff=2021)
    data, _ = training_set({2022: train_index}, world, TrainConfig(label_years=(2022,), negatives_per_query=20),
                           LearnedRanker())
    ranker = LearnedRanker(n_estimators=40, min_child_samples=5).fit(train_index, data)
    index = make_index(world)
    queries = [Query(org_id=str(i), region="EU") for i in index.ids[index.side_masks["KR"]]]
    queries += [Query(text="drone swarm radar", region="EU")]
    before = [ranker.rank_explained(index, index.resolve(q), 10) for q in queries]
    assert ranker.prepare_explainers() == len(ranker.head_models_)
    after = [ranker.rank_explained(index, index.resolve(q), 10) for q in queries]
    for (ids_a, scores_a, contrib_a), (ids_b, scores_b, contrib_b) in zip(before, after, strict=True):
        assert ids_a.tolist() == ids_b.tolist()
        np.testing.assert_array_equal(scores_a, scores_b)
        assert contrib_b.shape == (len(ids_b), len(FEATURES))
        np.testing.assert_allclose(contrib_a, contrib_b, rtol=0, atol=1e-12)
    assert pickle.loads(pickle.dumps(ranker)).explainers_ == {}
    ranker.fit(train_index, data)
    assert ranker.explainers_ == {}  # tables of the replaced heads are gone with them


def test_tables_too_large_for_memory_are_not_built(booster, monkeypatch):
    monkeypatch.setattr("recommender.ranking.path_shap.MAX_TABLE_VALUES", 1_000)
    assert path_explainer(booster) is None


def test_saved_tables_read_back_explain_alike_without_the_booster(booster, tmp_path):
    """A process that finds the tables saved reads them back and never builds a booster (serving then needs
    no LightGBM); without them and without ``build`` there is nothing; a damaged file is built again."""
    text = booster.model_to_string()

    def no_booster():
        raise AssertionError("the booster was asked for")

    assert cached_path_explainer(text, no_booster, tmp_path, build=False) is None
    built = cached_path_explainer(text, lambda: booster, tmp_path, build=True)
    (saved,) = tmp_path.glob("*.shap.npz")
    os.utime(saved, (1_000_000, 1_000_000))
    read_back = cached_path_explainer(text, no_booster, tmp_path, build=False)
    assert saved.stat().st_mtime > 1_000_000  # marked used, so the cache's pruning keeps it
    X = np.random.default_rng(3).normal(size=(50, N_FEATURES))
    np.testing.assert_array_equal(read_back.contributions(X), built.contributions(X))
    np.testing.assert_allclose(read_back.contributions(X), lightgbm_contributions(booster, X), rtol=0, atol=1e-12)
    assert cached_path_explainer(text.replace("tree", "tree ", 1), no_booster, tmp_path, build=False) is None
    saved.write_bytes(saved.read_bytes()[:100])
    assert cached_path_explainer(text, no_booster, tmp_path, build=False) is None
    rebuilt = cached_path_explainer(text, lambda: booster, tmp_path, build=True)
    np.testing.assert_array_equal(rebuilt.contributions(X), built.contributions(X))
    assert cached_path_explainer(text, no_booster, tmp_path, build=False) is not None


def test_a_loaded_ranker_reads_no_booster_once_its_heads_are_prepared(tmp_path):
    """The shipped model: prepared once (compiled heads, tables saved), a fresh load serves margins and
    explanations without reading a LightGBM booster, and they equal LightGBM's."""
    directory = REPO / "data" / "models" / "ranker"
    prepared = LearnedRanker.load(directory)
    prepared.compile_heads(tmp_path, build=True)
    assert prepared.prepare_explainers(tmp_path, build=True) == len(prepared.head_models_)
    fresh = LearnedRanker.load(directory)
    fresh.compile_heads(tmp_path, build=False)
    assert fresh.prepare_explainers(tmp_path, build=False) == len(fresh.head_models_)
    assert "boosters_" not in fresh.__dict__
    X = np.random.default_rng(4).random((30, len(FEATURES)))
    for head in LearnedRanker.HEADS:
        margins, contributions = fresh.margins(head, X), fresh.explain_rows(head, X)
        assert "boosters_" not in fresh.__dict__
        model = lgb.Booster(model_file=str(directory / f"head-{head}.txt"))
        np.testing.assert_allclose(margins, model.predict(X), rtol=0, atol=1e-9)
        np.testing.assert_allclose(contributions, lightgbm_contributions(model, X), rtol=0, atol=1e-12)
