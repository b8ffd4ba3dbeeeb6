"""Organisation search ranks by name relevance and forgives case, punctuation, typos and acronyms."""

from __future__ import annotations

import pytest

from recommender.service import open_corridor
from recommender.settings import Settings
from tests.api_support import synthetic_corridor


@pytest.fixture(scope="module")
def corridor(tmp_path_factory):
    return synthetic_corridor(None, f"sqlite:///{tmp_path_factory.mktemp('search') / 'c.db'}", load=False)


def first_id(corridor, text, **filters) -> str:
    return corridor.search(text, limit=1, **filters)["items"][0]["id"]


@pytest.mark.parametrize("text", ["Drones Org 10", "drones org 10", "DRONES-ORG-10", "drones org 10 ", "dornes org 10"])
def test_the_named_organisation_comes_first_whatever_the_spelling(corridor, text):
    assert first_id(corridor, text) == "drones-kr-10"


def test_a_typo_still_finds_the_name_and_nonsense_finds_nothing(corridor):
    assert first_id(corridor, "cold dornes") == "kr-cold-drones"
    assert corridor.search("qqqxxzzz")["total"] == 0


def test_filters_apply_to_relevance_ranked_results(corridor):
    found = corridor.search("drones org", region="KR", limit=50)["items"]
    assert found and {o["region"] for o in found} == {"KR"}


@pytest.mark.slow
@pytest.mark.parametrize(("text", "name"), [
    ("LIG Nex1", "LIG Nex1"), ("lig nex", "LIG Nex1"), ("etri", "ELECTRONICS AND TELECOMMUNICATIONS"),
    ("hanwha systms", "Hanwha Systems"), ("kaist", "KOREA ADVANCED INSTITUTE"), ("airbus defence", "AIRBUS DEFENCE"),
])
def test_on_the_shipped_catalogue_typos_and_acronyms_find_the_right_one_first(shipped, text, name):
    assert shipped.search(text, limit=1)["items"][0]["name"].startswith(name)


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    corridor = open_corridor(Settings(state_dir=tmp_path_factory.mktemp("state"), model_poll_seconds=0), 5)
    yield corridor
    corridor.close()
