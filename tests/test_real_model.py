"""A smaller set of tests with the real sentence-transformers model and the shipped artifacts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from recommender.profiles.encoder import Encoder, VectorCache, default_model_path
from recommender.settings import Settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    return Encoder(cache_dir=tmp_path_factory.mktemp("cache"))


def test_real_encoder_vectors_make_sense(encoder):
    vecs = encoder.encode(["unmanned aerial vehicle swarms", "drone swarm autonomy", "clinical trial of a vaccine"])
    assert vecs.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-3)
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2] + 0.2


def test_shipped_vectors_match_the_default_model(encoder):
    shipped = Settings().shipped_vectors_dir / encoder.fingerprint
    assert shipped.exists(), f"no shipped vectors for the default model fingerprint {encoder.fingerprint}"
    cache = VectorCache(shipped)
    assert len(cache) > 10_000
    # re-encode a few shipped texts' keys is impossible (keys are hashes): check via the catalogue instead
    from recommender.catalogue import load_catalogue
    from recommender.profiles.text import project_text

    projects = load_catalogue(Settings().catalogue_dir).projects
    sample = projects[projects["programme"] == "edf"].head(5)
    texts = [project_text(p.title, p.topic_title, p.objective)[0] for p in sample.itertuples(index=False)]
    fresh = Encoder(default_model_path())  # no cache: really encodes
    ours = fresh.encode(texts)
    assert fresh.encoded_count == len(texts)
    from recommender.profiles.encoder import text_key

    stored = np.stack([cache.get(text_key(t)) for t in texts])
    np.testing.assert_allclose(stored, ours, atol=5e-3)


def test_priorities_command_with_real_model(tmp_path, monkeypatch):
    from cli.commands import app

    monkeypatch.setenv("CORRIDOR_STATE_DIR", str(tmp_path / "state"))
    src = tmp_path / "texts.csv"
    pd.DataFrame(
        {
            "id": ["uav", "chip", "empty"],
            "text": [
                "Swarms of unmanned aerial vehicles with autonomous navigation and counter-drone radar.",
                "Semiconductor chip design, wafer fabrication and microelectronics packaging.",
                "",
            ],
        }
    ).to_csv(src, index=False)
    out = tmp_path / "scores.csv"
    result = CliRunner().invoke(app, ["priorities", "--input", str(src), "--out", str(out)])
    assert result.exit_code == 1, result.output  # the empty row is reported and skipped
    assert "row 4: text: empty text" in result.output
    scores = pd.read_csv(out)
    assert list(scores.columns) == ["id", "priority", "score"]
    assert scores["score"].between(0, 1).all()
    best = scores.loc[scores.groupby("id")["score"].idxmax()].set_index("id")["priority"]
    assert best["uav"] == "unmanned" and best["chip"] == "semiconductors"
