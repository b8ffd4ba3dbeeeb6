"""The training set is the same whichever engine builds it: in this process, on local worker processes or as
Ray tasks (workers generate candidates and compute features; the driver draws every negative from the year's
one stream, in group order), with feedback groups too. Slow: it starts a local Ray."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.batch.engines import make_engine
from tests.api_support import world_training_set
from training.feedback import feedback_labels

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def world_index():
    from tests.api_support import make_index, world

    return world(), make_index(cutoff=2021)


def _build(world_index, engine=None):
    _, index = world_index
    known = set(map(str, index.ids))
    korean = sorted(i for i in known if i.startswith("drones-kr"))[0]
    europeans = sorted(i for i in known if i.startswith(("chips-eu", "radar-eu")))
    feedback = feedback_labels([
        {"api_key_id": 1, "query_org_id": korean, "candidate_org_id": europeans[0], "verdict": "accepted"},
        {"api_key_id": 1, "query_org_id": korean, "candidate_org_id": europeans[1], "verdict": "irrelevant"},
    ], known)
    return world_training_set(world_index, feedback, engine)


def _assert_same(a, b) -> None:
    (data_a, kinds_a), (data_b, kinds_b) = a, b
    assert kinds_a == kinds_b and kinds_a.get("feedback") == 1
    assert set(data_a.X) == set(data_b.X)
    for head in data_a.X:
        for name in ("X", "y", "groups", "weights"):
            np.testing.assert_array_equal(getattr(data_a, name)[head], getattr(data_b, name)[head],
                                          err_msg=f"{head}.{name}")


def test_local_processes_and_ray_tasks_build_the_training_set_this_process_builds(world_index):
    here = _build(world_index)
    with make_engine("local", workers=2) as local:
        _assert_same(here, _build(world_index, local))
    try:
        import ray  # noqa: F401
    except ImportError:
        pytest.fail("Ray is not installed: the local/Ray identity test cannot run (pip install ray)")
    with make_engine("ray", workers=2) as on_ray:
        _assert_same(here, _build(world_index, on_ray))


def test_ray_workers_encode_new_texts_as_this_process_does(tmp_path):
    from recommender.profiles.encoder import Encoder

    texts = [f"Autonomous drone swarm number {i} for maritime surveillance and radar sensing" for i in range(40)]
    here = Encoder(None, cache_dir=tmp_path / "here", chunk_size=16).encode(texts)
    remote = Encoder(None, cache_dir=tmp_path / "ray", chunk_size=16)
    with make_engine("ray", workers=2) as on_ray:
        remote.engine = on_ray
        vectors = remote.encode(texts)
    assert remote.encoded_count == len(texts)
    # Worker processes run one BLAS thread, this one several: float32 sums in another order. Measured: cosine
    # 0.99989 at worst; what the ONNX criterion of this project accepts is 0.999.
    cosine = np.sum(here * vectors, axis=1) / np.linalg.norm(here, axis=1) / np.linalg.norm(vectors, axis=1)
    assert cosine.min() >= 0.9995 and np.abs(here - vectors).max() < 2e-3
    reread = Encoder(None, cache_dir=tmp_path / "ray", chunk_size=16)
    np.testing.assert_array_equal(reread.encode(texts), vectors)  # the workers' vectors are cached
    assert reread.encoded_count == 0
