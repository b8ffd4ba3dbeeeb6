"""Ranking heads compiled to native code (recommender/ranking/compiled_trees.py) give LightGBM's margins, are
cached per model and host, and stay an accelerator: without a cached head and without leave to build one, the
ranker keeps LightGBM's predict."""

from __future__ import annotations

import os
import pickle

import lightgbm as lgb
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from recommender.ranking.compiled_trees import cache_key, compiled_margins, prune_cache
from recommender.ranking.index import Query
from recommender.ranking.rankers import LearnedRanker
from tests.test_ranking import make_index
from tests.test_relevance_defaults import world_with_a_funder
from training.ranker import TrainConfig, training_set

N_FEATURES = 6


@pytest.fixture(scope="module")
def booster() -> lgb.Booster:
    """A small lambdarank model on rows whose labels depend on thresholds and interactions of the features."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2_000, N_FEATURES)).astype(np.float32)
    X[rng.random(X.shape) < 0.05] = np.nan  # LightGBM's missing-value branches are compiled too
    y = ((np.nan_to_num(X[:, 0]) > 0.3).astype(int) + (np.nan_to_num(X[:, 1] * X[:, 2]) > 0.1)).astype(int)
    model = lgb.LGBMRanker(n_estimators=40, num_leaves=15, min_child_samples=5, verbose=-1)
    return model.fit(X, y, group=[20] * 100).booster_


@pytest.fixture(scope="module")
def compiled(booster, tmp_path_factory):
    cache = tmp_path_factory.mktemp("compiled-trees")
    return cache, compiled_margins(booster.model_to_string(), cache, build=True)



@settings(max_examples=40, deadline=None)
@given(X=arrays(np.float32, st.tuples(st.integers(1, 300), st.just(N_FEATURES)),
                elements=st.floats(-4, 4, width=32) | st.just(np.nan)))
def test_compiled_margins_are_lightgbms(booster, compiled, X):
    _, margins = compiled
    np.testing.assert_allclose(margins(X), booster.predict(X, num_threads=1), rtol=0, atol=1e-12)


def test_a_compiled_head_is_loaded_from_the_cache_and_only_built_when_allowed(booster, compiled, tmp_path):
    cache, margins = compiled
    text = booster.model_to_string()
    assert (cache / f"{cache_key(text)}.o").is_file()
    loaded = compiled_margins(text, cache, build=False)
    X = np.random.default_rng(1).normal(size=(50, N_FEATURES)).astype(np.float32)
    assert loaded is not None
    np.testing.assert_array_equal(loaded(X), margins(X))
    assert compiled_margins(text, tmp_path, build=False) is None  # nothing cached, no leave to build
    assert not list(tmp_path.iterdir())


def _aged(path, seconds_ago: float):
    path.touch()
    stamp = 1_700_000_000 - seconds_ago
    os.utime(path, (stamp, stamp))
    return path


def test_pruning_keeps_the_most_recently_used_files_of_each_kind(tmp_path):
    heads = [_aged(tmp_path / f"head{i}.o", i) for i in range(5)]
    tables = [_aged(tmp_path / f"table{i}.shap.npz", 10 * i) for i in range(4)]
    other = _aged(tmp_path / "notes.txt", 1e6)
    removed = prune_cache(tmp_path, keep=2)
    assert sorted(removed) == sorted(heads[2:] + tables[2:])
    assert sorted(tmp_path.iterdir()) == sorted(heads[:2] + tables[:2] + [other])
    assert prune_cache(tmp_path, keep=2) == []


def test_pruning_a_cache_it_may_not_change_removes_nothing_and_raises_nothing(tmp_path, monkeypatch):
    old = [_aged(tmp_path / f"head{i}.o", i) for i in range(3)]

    def refused(self, missing_ok=False):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(type(tmp_path), "unlink", refused)
    assert prune_cache(tmp_path, keep=1) == []
    monkeypatch.undo()
    assert all(path.is_file() for path in old)


def test_loading_a_cached_head_marks_it_used_so_pruning_keeps_it(booster, tmp_path):
    text = booster.model_to_string()
    assert compiled_margins(text, tmp_path, build=True) is not None
    head = _aged(tmp_path / f"{cache_key(text)}.o", 1e6)
    newer = [_aged(tmp_path / f"other{i}.o", i) for i in range(2)]
    assert compiled_margins(text, tmp_path, build=False) is not None
    prune_cache(tmp_path, keep=2)
    assert head.is_file() and newer[0].is_file() and not newer[1].exists()


def test_another_model_has_another_cache_key(booster):
    text = booster.model_to_string()
    other = lgb.Booster(model_str=text)
    other_text = other.model_to_string().replace("shrinkage=0.1", "shrinkage=0.2", 1)
    assert other_text != text and cache_key(other_text) != cache_key(text)


def test_the_wrong_number_of_features_is_refused(compiled):
    _, margins = compiled
    with pytest.raises(ValueError, match=f"expected \\(rows, {N_FEATURES}\\) features"):
        margins(np.zeros((3, N_FEATURES + 1), dtype=np.float32))


@pytest.fixture(scope="module")
def learned():
    world = world_with_a_funder()
    train_index = make_index(world, cutoff=2021)
    data, _ = training_set({2022: train_index}, world, TrainConfig(label_years=(2022,), negatives_per_query=20),
                           LearnedRanker())
    return make_index(world), LearnedRanker(n_estimators=40, min_child_samples=5).fit(train_index, data)


def test_a_compiled_ranker_ranks_and_explains_as_lightgbm_does_and_pickles_without_native_code(learned, tmp_path):
    index, ranker = learned
    queries = [Query(org_id=str(i), region="EU") for i in index.ids[index.side_masks["KR"]]]
    queries += [Query(text="drone swarm radar", region="EU")]
    before = [ranker.rank_explained(index, index.resolve(q), 10) for q in queries]
    assert ranker.compile_heads(tmp_path, build=True) == len(ranker.head_models_)
    after = [ranker.rank_explained(index, index.resolve(q), 10) for q in queries]
    for (ids_a, scores_a, contrib_a), (ids_b, scores_b, contrib_b) in zip(before, after, strict=True):
        assert ids_a.tolist() == ids_b.tolist()
        np.testing.assert_allclose(scores_a, scores_b, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(contrib_a, contrib_b)
    copy = pickle.loads(pickle.dumps(ranker))
    assert copy.compiled_ == {} and ranker.compiled_
    ids, _ = copy.rank(index, queries[0], 10)
    assert ids.tolist() == after[0][0].tolist()


def test_refitting_drops_the_heads_compiled_before(tmp_path):
    world = world_with_a_funder()
    train_index = make_index(world, cutoff=2021)
    data, _ = training_set({2022: train_index}, world, TrainConfig(label_years=(2022,), negatives_per_query=20),
                           LearnedRanker())
    refitted = LearnedRanker(n_estimators=40, min_child_samples=5).fit(train_index, data)
    assert refitted.compile_heads(tmp_path, build=True)
    refitted.fit(train_index, data)
    assert refitted.compiled_ == {}
