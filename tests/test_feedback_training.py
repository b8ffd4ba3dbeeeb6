"""Feedback as training signal (training/feedback.py): the policy on tiny record lists whose answers are known,
a Hypothesis property for the abuse bound, and the training set of the synthetic world with and without the
feedback of two keys and of a flooding key."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from training.feedback import MAX_PAIRS_PER_KEY, MAX_SHARE, feedback_labels

KNOWN = {"kr-1", "kr-2", "eu-1", "eu-2", "eu-3", "eu-4"}


def vote(key, query, candidate, verdict):
    return {"api_key_id": key, "query_org_id": query, "candidate_org_id": candidate, "verdict": verdict}


def test_two_keys_a_majority_a_tie_and_what_is_not_used():
    records = [
        vote(1, "kr-1", "eu-1", "accepted"), vote(2, "kr-1", "eu-1", "contacted"),  # both positive
        vote(1, "kr-1", "eu-2", "declined"), vote(2, "kr-1", "eu-2", "irrelevant"),  # both negative
        vote(1, "kr-1", "eu-3", "accepted"), vote(2, "kr-1", "eu-3", "declined"),  # tie: not used
        vote(1, "kr-2", "eu-4", "declined"), vote(1, "kr-2", "eu-4", "accepted"),  # the key's latest counts
        {"api_key_id": 1, "query_text_sha256": "ab" * 32, "candidate_org_id": "eu-1", "verdict": "accepted"},
        vote(1, "kr-1", "nowhere", "accepted"),
        vote(None, "kr-2", "eu-1", "contacted"),  # an operator's import: one more voice
    ]
    result = feedback_labels(records, KNOWN)
    assert result.labels == {"kr-1": {"eu-1": 1, "eu-2": 0}, "kr-2": {"eu-4": 1, "eu-1": 1}}
    not_used = result.summary["not_used"]
    assert not_used["keys disagree (tie)"] == 2
    assert not_used["replaced by the same key's later verdict"] == 1
    assert not_used["free-text query (not replayable)"] == 1
    assert not_used["organisation not in the catalogue"] == 1
    assert result.summary["keys"] == 3 and result.summary["pairs_used"] == 4


def test_three_keys_decide_by_majority():
    records = [vote(1, "kr-1", "eu-1", "accepted"), vote(2, "kr-1", "eu-1", "accepted"),
               vote(3, "kr-1", "eu-1", "irrelevant")]
    assert feedback_labels(records, KNOWN).labels == {"kr-1": {"eu-1": 1}}


def test_a_flood_from_one_key_is_capped_at_its_most_recent_pairs():
    known = {"kr-1", *(f"eu-{i}" for i in range(600))}
    flood = [vote(9, "kr-1", f"eu-{i}", "accepted") for i in range(600)]
    honest = [vote(1, "kr-1", "eu-0", "declined")]
    result = feedback_labels(honest + flood, known)
    from_flood = {c for c, label in result.labels["kr-1"].items() if label == 1}
    assert from_flood == {f"eu-{i}" for i in range(600 - MAX_PAIRS_PER_KEY, 600)}  # its newest 25 only
    assert result.labels["kr-1"]["eu-0"] == 0  # the flood's accept of eu-0 was capped out: key 1's decline stands
    assert result.summary["capped_by_key"] == {"key 9": 600 - MAX_PAIRS_PER_KEY}
    assert result.group_weight(real_groups=100) == pytest.approx(min(1.0, MAX_SHARE * 100 / 1))


records_strategy = st.lists(
    st.fixed_dictionaries({
        "api_key_id": st.one_of(st.none(), st.integers(1, 4)),
        "query_org_id": st.sampled_from(sorted(KNOWN) + ["unknown"]),
        "candidate_org_id": st.sampled_from(sorted(KNOWN) + ["unknown"]),
        "verdict": st.sampled_from(["accepted", "contacted", "declined", "irrelevant", "maybe"]),
    }),
    max_size=200,
)


@settings(max_examples=200, deadline=None)
@given(records_strategy)
def test_every_label_is_known_and_no_key_outweighs_its_cap(records):
    result = feedback_labels(records, KNOWN)
    voices = {("operator" if r["api_key_id"] is None else f"key {r['api_key_id']}") for r in records}
    assert result.pairs <= MAX_PAIRS_PER_KEY * max(len(voices), 1)
    for query, candidates in result.labels.items():
        assert query in KNOWN and set(candidates) <= KNOWN and query not in candidates
        assert set(candidates.values()) <= {0, 1}
    per_voice: dict[str, int] = {}
    for voices_on_pair in result.voices.values():
        for voice in voices_on_pair:
            per_voice[voice] = per_voice.get(voice, 0) + 1
    assert all(n <= MAX_PAIRS_PER_KEY for n in per_voice.values())
    counted = sum(result.summary["not_used"].values()) + sum(len(v) for v in result.voices.values())
    assert counted == len(records)  # every record is used or reported


# ---- the training set of the synthetic world ------------------------------------------------------------------
@pytest.fixture(scope="module")
def world_index():
    from tests.api_support import make_index, world

    return world(), make_index(cutoff=2021)


def _training(world_and_index, feedback=None):
    from tests.api_support import world_training_set

    return world_training_set(world_and_index, feedback)


def _new_partners(world_and_index):
    from training.ranker import new_partner_grades, year_links

    catalogue, index = world_and_index
    return new_partner_grades(index, year_links(index, catalogue, 2022).links)


def test_feedback_of_two_keys_adds_the_groups_the_policy_says_and_a_flood_is_capped(world_index):
    catalogue, index = world_index
    facts = _new_partners(world_index)
    query = sorted(q for q in facts if q.startswith("drones-kr"))[0]
    formed = sorted(facts[query])[0]
    europeans = [i for i in index.ids if str(i).startswith(("chips-eu", "radar-eu"))]
    liked, disliked = europeans[0], europeans[1]
    records = [vote(1, query, liked, "accepted"), vote(2, query, liked, "contacted"),
               vote(1, query, disliked, "irrelevant"), vote(2, query, disliked, "declined"),
               vote(2, query, formed, "declined")]  # facts win: it formed in 2022
    known = set(map(str, index.ids))
    feedback = feedback_labels(records, known)
    base, base_kinds = _training(world_index)
    data, kinds = _training(world_index, feedback)
    assert kinds["feedback"] == 1 and "feedback" not in base_kinds
    org_groups = kinds["organisation"]
    head = "org"
    assert len(data.groups[head]) == len(base.groups[head]) + 1
    weight = data.weights[head][-1]
    assert weight == pytest.approx(min(1.0, MAX_SHARE * org_groups))
    group_rows = data.X[head][-int(data.groups[head][-1]):]
    labels = data.y[head][-int(data.groups[head][-1]):]
    assert len(group_rows) == len(labels) and labels.sum() >= 2  # the liked one and the one that formed
    assert int(labels.max()) >= 1 and int((labels == 0).sum()) >= 1

    flood = records + [vote(7, query, e, "accepted") for e in europeans[2:]]
    flooded = feedback_labels(flood, known)
    assert sum(1 for c in flooded.labels[query] if c in europeans[2:]) <= MAX_PAIRS_PER_KEY
    data_flooded, _ = _training(world_index, flooded)
    assert len(data_flooded.groups[head]) == len(base.groups[head]) + 1  # still one group per query organisation
    assert data_flooded.weights[head][-1] == pytest.approx(weight)
