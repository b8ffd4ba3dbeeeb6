from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from recommender.catalogue import build_catalogue
from recommender.catalogue.curated import CuratedOrganisation
from recommender.profiles.encoder import Encoder, VectorCache, model_fingerprint, text_key
from recommender.profiles.priorities import ThresholdBaseline, best_f1_threshold
from recommender.profiles.profiles import DECLARED_FLOOR, build_profiles, explain_org_priorities
from recommender.profiles.tagger import PriorityTagger
from recommender.profiles.taxonomy import Priority, Taxonomy, TermMatcher, load_taxonomy, weak_labels
from recommender.profiles.text import clip, project_text
from tests.conftest import REPO
from tests.fakes import KeywordEncoder


def tiny_taxonomy() -> Taxonomy:
    def p(pid, desc, terms, esv=(), synonyms=()):
        return Priority(pid, pid, True, desc, tuple(terms), tuple(esv), (), (), tuple(synonyms))

    return Taxonomy(
        "test-1",
        "2026-01-01",
        (
            p(
                "unmanned",
                "drone swarm unmanned",
                ["drone", "drones", "swarm", "unmanned"],
                ["/drones"],
                ["drones", "drone", "uav"],
            ),
            p(
                "semiconductors",
                "chip semiconductor",
                ["semiconductor", "chips", "microelectronics"],
                ["/semiconductors"],
                ["chips", "semiconductor"],
            ),
            p("sensors_ew", "radar sonar", ["radar", "sonar"], synonyms=["ew", "radar"]),
        ),
    )


# --- text ----------------------------------------------------------------------------------------------


def test_clip_keeps_short_text_and_flags_cuts_at_sentence_end():
    assert clip("one two three", budget=5) == ("one two three", False)
    text = "Alpha beta gamma. Delta epsilon zeta eta. Theta iota kappa lambda mu."
    cut, flagged = clip(text, budget=8)
    assert flagged and cut == "Alpha beta gamma. Delta epsilon zeta eta."


def test_project_text_joins_and_deduplicates():
    text, cut = project_text("Drone swarms", "Drone swarms", "Autonomy for drones.")
    assert text == "Drone swarms. Autonomy for drones." and not cut
    assert project_text(None, float("nan"), "Only objective.")[0] == "Only objective."


# --- taxonomy ------------------------------------------------------------------------------------------


def test_shipped_taxonomy_has_the_partnership_priorities():
    tax = load_taxonomy(REPO / "data" / "taxonomy" / "priorities.yaml")
    for pid in [
        "ai",
        "unmanned",
        "semiconductors",
        "cyber",
        "maritime",
        "space",
        "munitions",
        "sensors_ew",
        "c4isr",
        "land",
        "air",
        "quantum",
    ]:
        assert tax.get(pid).description and tax.get(pid).terms
    assert {p.id for p in tax.priorities if p.partnership} == {"ai", "unmanned", "semiconductors", "cyber", "maritime"}


def test_term_matcher_is_whole_word_and_counts_repeats():
    m = TermMatcher(tiny_taxonomy())
    counts = m.counts(["Drones and a drone swarm; dronesque is not a term", "RADAR, radar-based sonar", ""])
    assert counts.tolist() == [[3, 0, 0], [0, 0, 3], [0, 0, 0]]


def test_weak_labels_from_euroscivoc():
    frame = pd.DataFrame(
        {
            "euroscivoc": ["/eng/drones;/x", "/eng/semiconductors", None],
            "topic": [None, None, None],
            "policy_priorities": [None, None, None],
        }
    )
    assert weak_labels(frame, tiny_taxonomy()).tolist() == [
        [True, False, False],
        [False, True, False],
        [False, False, False],
    ]


# --- encoder cache (a fake model object in place of sentence-transformers) -------------------------------


class CountingModel:
    def __init__(self):
        self.seen: list[str] = []

    def encode(self, texts, **_):
        self.seen.extend(texts)
        v = np.array([[len(t), 1.0, 0.0] for t in texts], dtype=np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.fixture
def fake_model_dir(tmp_path) -> Path:
    d = tmp_path / "model"
    d.mkdir()
    (d / "weights.bin").write_bytes(b"weights-v1")
    return d


def make_encoder(model_dir, cache, **kw):
    enc = Encoder(str(model_dir), cache_dir=cache, **kw)
    enc._model = CountingModel()
    return enc


def test_unchanged_texts_are_never_encoded_twice(fake_model_dir, tmp_path):
    enc = make_encoder(fake_model_dir, tmp_path / "cache", chunk_size=2)
    first = enc.encode(["a", "bb", "a", "ccc"])
    assert enc._model.seen == ["a", "bb", "ccc"]
    again = make_encoder(fake_model_dir, tmp_path / "cache")  # a new process: reads the disk cache
    second = again.encode(["ccc", "a", "bb"])
    assert again._model.seen == [] and again.encoded_count == 0
    np.testing.assert_allclose(second, first[[3, 0, 1]], atol=1e-3)
    assert np.allclose(np.linalg.norm(second, axis=1), 1.0, atol=1e-3)


def test_other_model_never_mixes_in(fake_model_dir, tmp_path):
    make_encoder(fake_model_dir, tmp_path / "cache").encode(["a", "bb"])
    (fake_model_dir / "weights.bin").write_bytes(b"weights-v2")  # same path, other checkpoint
    other = make_encoder(fake_model_dir, tmp_path / "cache")
    other.encode(["a", "bb"])
    assert other._model.seen == ["a", "bb"]
    assert len(list((tmp_path / "cache").iterdir())) == 2  # one folder per fingerprint


def test_shipped_vectors_used_only_with_matching_fingerprint(fake_model_dir, tmp_path):
    fp = model_fingerprint(str(fake_model_dir))
    VectorCache(tmp_path / "shipped" / fp).add([text_key("a")], np.array([[0.0, 1.0, 0.0]], dtype=np.float32))
    VectorCache(tmp_path / "shipped" / "deadbeef").add([text_key("b")], np.array([[1.0, 0.0, 0.0]]))
    enc = make_encoder(fake_model_dir, None, shipped_dir=tmp_path / "shipped")
    vecs = enc.encode(["a", "b"])
    assert enc._model.seen == ["b"]  # 'a' came from the shipped vectors, 'b' from another model: re-encoded
    np.testing.assert_allclose(vecs[0], [0.0, 1.0, 0.0])


def test_torn_shard_is_ignored(fake_model_dir, tmp_path):
    enc = make_encoder(fake_model_dir, tmp_path / "cache")
    enc.encode(["a"])
    folder = tmp_path / "cache" / enc.fingerprint
    keys = next(folder.glob("*.keys.json"))
    keys.write_text(json.dumps(["x", "y"]))  # keys no longer match the vectors
    fresh = make_encoder(fake_model_dir, tmp_path / "cache")
    fresh.encode(["a"])
    assert fresh._model.seen == ["a"]


# --- tagger --------------------------------------------------------------------------------------------


def test_best_f1_threshold_known_answer():
    y = np.array([1, 1, 0, 1, 0, 0])
    s = np.array([0.9, 0.8, 0.7, 0.6, 0.2, 0.1])
    assert best_f1_threshold(y, s) == 0.6  # tp=3, fp=1 -> F1 0.857, better than cutting at 0.8 (0.8)


def test_tagger_learns_separable_labels_and_guards_input():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5))
    Y = np.stack([X[:, 0] > 0.3, X[:, 1] + X[:, 2] > 0], axis=1)
    words = np.array(["radar", "drone", "chip", "cyber", "ship", "orbit", "quantum", "laser"])
    texts = [" ".join(rng.choice(words, size=6)) for _ in range(300)]  # noise: labels do not depend on them
    tagger = PriorityTagger(random_state=0)
    with pytest.raises(NotFittedError):
        tagger.predict_proba(X, texts)
    tagger.fit(X[:200], Y[:200], texts[:200])
    proba = tagger.predict_proba(X[200:], texts[200:])
    assert proba.shape == (100, 2) and proba.min() >= 0 and proba.max() <= 1
    assert (tagger.predict(X[200:], texts[200:]) == Y[200:]).mean() > 0.9
    with pytest.raises(ValueError, match="expected 5 features"):
        tagger.predict_proba(X[:, :3], texts)
    with pytest.raises(ValueError, match="one text per feature row"):
        tagger.predict_proba(X[200:], texts[:10])
    again = PriorityTagger(random_state=0).fit(X[:200], Y[:200], texts[:200]).predict_proba(X[200:], texts[200:])
    np.testing.assert_array_equal(proba, again)  # seeded: retraining gives the same scores


def test_tagger_learns_vocabulary_beyond_curated_terms_and_names_it():
    """Labels carried only by a word no curated term list has: the TF-IDF part must learn it and show it."""
    rng = np.random.default_rng(1)
    n = 600
    y = rng.random(n) < 0.3
    filler = ["project", "system", "network", "method", "platform", "study", "data", "model"]
    texts = [
        " ".join(list(rng.choice(filler, size=8)) + (["hyperspectral"] if yi else [])) for yi in y
    ]
    X = rng.normal(size=(n, 3))  # dense signals carry nothing
    tagger = PriorityTagger(random_state=0).fit(X[:450], y[:450, None], texts[:450])
    assert (tagger.predict(X[450:], texts[450:])[:, 0] == y[450:]).mean() > 0.95
    terms = tagger.learned_terms([texts[i] for i in np.flatnonzero(y[450:])[:1] + 450])
    assert terms[0][0][0] == "hyperspectral"


def test_threshold_baseline():
    scores = np.array([[0.0], [1.0], [2.0], [3.0]])
    Y = np.array([[False], [False], [True], [True]])
    assert ThresholdBaseline().fit(scores, Y).predict(np.array([[1.5], [2.5]])).tolist() == [[False], [True]]


# --- profiles on the tiny catalogue with the keyword encoder ---------------------------------------------


@pytest.fixture(scope="module")
def tiny_profiles(tiny_sources):
    curated = [
        CuratedOrganisation(
            "kr-chipco",
            None,
            "ChipCo",
            None,
            "KR",
            "KR",
            "PRC",
            "sme",
            ("semiconductors",),
            "Semiconductor chip design and packaging.",
        )
    ]
    cat = build_catalogue(tiny_sources, curated)
    return cat, build_profiles(cat, KeywordEncoder(), tiny_taxonomy(), tagger=None)


def test_org_profile_pools_its_projects_and_description(tiny_profiles):
    cat, prof = tiny_profiles
    athena = prof.org_row("222222222")  # only the drone-swarm HE project and the naval EDF project
    vocab_drone = 0
    assert prof.org_vectors[athena, vocab_drone] > 0.5
    chipco = prof.org_row("kr-chipco")  # no projects: description only
    assert prof.org_has_profile[chipco] and prof.org_vectors[chipco, 4] > 0.5  # 'semiconductor'
    ghost = prof.org_row("444444444")  # H2020 link-only org in text-less projects... except GUARD
    assert prof.org_has_profile[ghost]
    assert np.allclose(np.linalg.norm(prof.org_vectors[prof.org_has_profile], axis=1), 1.0, atol=1e-5)


def test_priority_scores_and_evidence(tiny_profiles):
    cat, prof = tiny_profiles
    scores = prof.org_priority_scores("kr-chipco")
    assert max(scores, key=scores.get) == "semiconductors" and scores["semiconductors"] >= DECLARED_FLOOR
    evidence = explain_org_priorities(prof, cat, "222222222")
    assert evidence[0].priority == "unmanned"
    assert "swarm" in evidence[0].terms and evidence[0].projects[0][0] == "101000001"
    assert all(0.0 <= e.score <= 1.0 for e in evidence)


def test_until_year_excludes_later_projects(tiny_sources):
    cat = build_catalogue(tiny_sources, [])
    prof = build_profiles(cat, KeywordEncoder(), tiny_taxonomy(), tagger=None, until_year=2022)
    thales = prof.org_row("111111111")
    used = set(prof.project_ids[prof.org_weights.getrow(thales).indices])
    assert "101000002" not in used and "101000001" in used  # the 2023 chip project is in the future


def test_bootstrap_macro_f1_difference_known_answers():
    from training.priority_tagger import bootstrap_macro_f1_difference

    y = np.array([[1, 0], [1, 1], [0, 1], [0, 0], [1, 0], [0, 1]], dtype=bool)
    same = bootstrap_macro_f1_difference(y, y, y, [0, 1], n=200)
    assert same["mean"] == 0 and same["ci95"] == [0.0, 0.0]
    better = bootstrap_macro_f1_difference(y, y, ~y, [0, 1], n=200)
    assert better["ci95"][0] > 0.5  # perfect minus all-wrong: F1 1 vs 0 in every resample with a positive


def test_evaluate_tagging_on_a_time_split_reports_every_method():
    from training.priority_tagger import TaggingData, evaluate_tagging, render_markdown

    rng = np.random.default_rng(3)
    n = 400
    labels = rng.random((n, 2)) < 0.25
    words = [("radar jammer" if a else "") + (" drone swarm" if b else "") for a, b in labels]
    texts = [f"{w} project study {i % 7}" for i, w in enumerate(words)]
    vectors = rng.normal(size=(n, 4)).astype(np.float32)
    data = TaggingData(
        project_ids=np.array([f"p{i}" for i in range(n)], dtype=object),
        years=np.where(np.arange(n) < 300, 2022, 2023),
        vectors=vectors,
        term_counts=labels.astype(int),
        description_vectors=rng.normal(size=(2, 4)).astype(np.float32),
        labels=labels,
        texts=texts,
        topics=np.array([f"topic-{i % 20}" for i in range(n)], dtype=object),
    )

    class Tax:
        ids = ["sensors_ew", "unmanned"]
        version = "test"

    report = evaluate_tagging(data, Tax(), 2023)
    assert report["split"]["train_projects"] == 300 and report["split"]["test_projects"] == 100
    assert set(report["methods"]) == {"term matching", "embedding similarity", "combined tagger"}
    assert report["methods"]["combined tagger"]["macro_f1"] > 0.9  # the words carry the labels
    assert report["tagger_minus_baseline"]["embedding similarity"]["ci95"][0] > 0  # noise vectors lose
    assert "95% interval" in render_markdown(report)

    from training.priority_tagger import render_selection, select_regularisation

    selection = select_regularisation(data, 2023, Cs=(0.25, 4.0), folds=3)
    assert selection["chosen_C"] in (0.25, 4.0) and len(selection["folds"]["tagger C=4"]) == 3
    assert selection["mean_macro_f1"]["tagger C=4"] > 0.9  # the words carry the labels in every fold
    assert "grouped by call topic" in render_selection(selection)
