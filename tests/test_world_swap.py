"""A running Corridor swaps in a new world (a refreshed catalogue version, a tagger promoted with its model)
when what it is built from changes on disk: built beside the served one, the promoted model loaded over it,
both switched at once; a model that does not fit the new world leaves the served snapshot as it was."""

from __future__ import annotations

import pandas as pd
import pytest

from recommender.service import Corridor, ModelSource, World
from recommender.store import Store
from tests.api_support import EXPECT, SyntheticSource, encode_fn, make_index, train_model, world


class ChangingSource(SyntheticSource):
    """The synthetic world; after ``publish``, a new key and a catalogue with one more organisation."""

    def __init__(self, state: dict) -> None:
        self.state = state

    def world_key(self) -> str:
        return f"catalogue v{self.state['version']}; tagger {self.state['tagger']}"

    def reloaded(self) -> ChangingSource:
        return ChangingSource(self.state)

    def model_expectations(self) -> dict:
        return {**EXPECT, "taxonomy_version": self.state["taxonomy"]}

    def load(self, added: list[dict]) -> World:
        catalogue = world()
        if self.state["version"] > 1:
            extra = catalogue.organisations.iloc[[0]].assign(id="new-eu-org", name="New European Org")
            organisations = pd.concat([catalogue.organisations, extra], ignore_index=True)
            catalogue = type(catalogue)(organisations, catalogue.projects, catalogue.participations)
        _, _, encode = encode_fn()
        return World(make_index(catalogue), encode, catalogue.organisations)


@pytest.fixture
def corridor(tmp_path):
    state = {"version": 1, "tagger": "a", "taxonomy": EXPECT["taxonomy_version"]}
    source = ChangingSource(state)
    model = ModelSource(train_model(tmp_path / "ranker"), source.model_expectations)
    corridor = Corridor(Store(f"sqlite:///{tmp_path / 'db.sqlite'}"), source, model).start(warm_caches=False)
    yield corridor, state
    corridor.close()


def test_a_new_catalogue_version_is_swapped_in_with_the_model(corridor):
    corridor, state = corridor
    assert not corridor.poll_world()  # nothing changed
    before = corridor.serving
    assert "new-eu-org" not in before.index.row_of
    state["version"] = 2
    assert corridor.poll_world()
    after = corridor.serving
    assert after is not before and "new-eu-org" in after.index.row_of
    assert after.model_version == before.model_version and after.recommender is not None
    assert corridor.world_key == "catalogue v2; tagger a"


def test_a_model_that_does_not_fit_the_new_world_leaves_the_served_one(corridor):
    corridor, state = corridor
    before = corridor.serving
    state.update(version=2, taxonomy="another-taxonomy")  # the promoted model expects the old one
    assert not corridor.poll_world()
    assert corridor.serving is before and "new-eu-org" not in corridor.serving.index.row_of
    assert corridor.world_key == "catalogue v1; tagger a"
    assert not corridor.poll_world()  # the refused change is not retried on every poll
    state.update(version=3, taxonomy=EXPECT["taxonomy_version"])
    assert corridor.poll_world() and "new-eu-org" in corridor.serving.index.row_of
