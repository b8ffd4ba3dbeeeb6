"""The serving snapshot gives back the index it saved, array for array, with its numeric arrays memory-mapped
read-only; the learned model ranks the same over it; a snapshot of other inputs, a damaged one or a torn one
is never used; old snapshots are pruned."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

from recommender.ranking.index import Query
from recommender.ranking.rankers import LearnedRanker
from recommender.snapshot import (
    ARRAYS_FILE,
    MANIFEST_FILE,
    load_snapshot,
    prune,
    save_snapshot,
    snapshot_key,
    with_serving_parts,
)
from tests.api_support import EXPECT, encode_fn, make_index, rulebook, train_model

INPUTS = {"catalogue": "c1", "encoder": "e1", "taxonomy": "t1", "tagger": "none"}


@pytest.fixture(scope="module")
def index():
    return make_index()


@pytest.fixture(scope="module")
def ranker(tmp_path_factory):
    return LearnedRanker.load(train_model(tmp_path_factory.mktemp("model")), expect=EXPECT)


def _loaded(index, root):
    key = snapshot_key(INPUTS)
    assert save_snapshot(index, root, key, INPUTS) == root / key
    loaded = load_snapshot(root, key)
    assert loaded is not None
    return with_serving_parts(loaded, encode_fn()[2], rulebook())


def test_a_snapshot_loads_back_array_for_array_with_numeric_arrays_mapped_read_only(index, tmp_path):
    loaded = _loaded(index, tmp_path)
    compared = 0
    for part in ("index", "profiles", "graph"):
        before, after = (index, loaded) if part == "index" else (getattr(index, part), getattr(loaded, part))
        for name, value in vars(before).items():
            other = vars(after)[name]
            if isinstance(value, np.ndarray):
                np.testing.assert_array_equal(other, value, err_msg=f"{part}.{name}")
                compared += 1
            elif sparse.issparse(value):
                assert (other != value).nnz == 0, f"{part}.{name}"
                compared += 1
    assert compared >= 40
    assert not loaded.vectors.flags.writeable and not loaded.scores.flags.writeable
    assert loaded.catalogue.organisations.equals(index.catalogue.organisations)
    assert loaded.rulebook is not None and loaded.encode_texts is not None and loaded.cache == {}


def test_the_model_ranks_the_same_over_a_loaded_snapshot(index, ranker, tmp_path):
    loaded = _loaded(index, tmp_path)
    queries = [Query(org_id=str(i)) for i in index.ids[:12]] + [
        Query(text="swarm of unmanned aerial drones", region="EU"),
        Query(org_id=str(index.ids[0]), instrument="edf-research", region="EU"),
    ]
    for (ids_a, scores_a), (ids_b, scores_b) in zip(ranker.rank_batch(index, queries, 10),
                                                    ranker.rank_batch(loaded, queries, 10), strict=True):
        np.testing.assert_array_equal(ids_a, ids_b)
        np.testing.assert_array_equal(scores_a, scores_b)


def test_a_snapshot_of_other_inputs_is_not_used(index, tmp_path):
    save_snapshot(index, tmp_path, snapshot_key(INPUTS), INPUTS)
    assert load_snapshot(tmp_path, snapshot_key({**INPUTS, "tagger": "another"})) is None


@pytest.mark.parametrize("damage", ["truncated arrays", "foreign manifest", "no objects"])
def test_a_damaged_snapshot_is_logged_and_not_used(index, tmp_path, caplog, damage):
    key = snapshot_key(INPUTS)
    folder = save_snapshot(index, tmp_path, key, INPUTS)
    assert folder is not None
    if damage == "truncated arrays":
        data = (folder / ARRAYS_FILE).read_bytes()
        (folder / ARRAYS_FILE).write_bytes(data[: len(data) // 2])
    elif damage == "foreign manifest":
        manifest = json.loads((folder / MANIFEST_FILE).read_text())
        (folder / MANIFEST_FILE).write_text(json.dumps({**manifest, "key": "someone-else"}))
    else:
        (folder / "objects.pickle").unlink()
    with caplog.at_level(logging.WARNING, logger="recommender.snapshot"):
        assert load_snapshot(tmp_path, key) is None
    assert "unreadable" in caplog.text and "rebuilding" in caplog.text


def test_a_torn_save_leaves_no_snapshot(index, tmp_path, monkeypatch):
    import recommender.snapshot as snapshot

    def full_disk(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(snapshot.os, "replace", full_disk)
    assert save_snapshot(index, tmp_path, snapshot_key(INPUTS), INPUTS) is None
    assert list(tmp_path.iterdir()) == []
    assert load_snapshot(tmp_path, snapshot_key(INPUTS)) is None


def test_only_the_newest_snapshots_are_kept(tmp_path):
    import os

    for age, name in enumerate(["d", "c", "b", "a"]):
        (tmp_path / name).mkdir()
        os.utime(tmp_path / name, (1_000_000 - age, 1_000_000 - age))
    prune(tmp_path, keep=2, protect="a")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "c", "d"]


@settings(max_examples=40, deadline=None)
@given(field=st.sampled_from(sorted(INPUTS)), value=st.text(min_size=1, max_size=12))
def test_every_input_is_part_of_the_key(field, value):
    changed = {**INPUTS, field: value}
    assert (snapshot_key(changed) == snapshot_key(INPUTS)) == (value == INPUTS[field])


def test_a_large_catalogue_snapshot_carries_its_search_graph(ranker, tmp_path, monkeypatch):
    """Above the exact-search limit the HNSW graph is built once, saved with the snapshot and served from it."""
    import functools

    from recommender.ranking import index as index_module
    from recommender.ranking.vector_search import build_vector_search

    monkeypatch.setattr(index_module, "build_vector_search", functools.partial(build_vector_search, exact_limit=10))
    large = make_index()
    loaded = _loaded(large, tmp_path)
    assert loaded.search is not None and not loaded.search.exact
    assert loaded.search.indexed == len(loaded.ids) and loaded.search.vectors is loaded.vectors
    queries = [Query(org_id=str(i), region="ANY") for i in large.ids[:12]]
    for (ids_a, scores_a), (ids_b, scores_b) in zip(ranker.rank_batch(large, queries, 10),
                                                    ranker.rank_batch(loaded, queries, 10), strict=True):
        np.testing.assert_array_equal(ids_a, ids_b)
        np.testing.assert_array_equal(scores_a, scores_b)
