"""A synthetic serving world for API tests: the tiny three-community catalogue, the keyword encoder and a
LearnedRanker trained on it and saved as a real model directory (manifest, sha256), so the API's model
loading, reload and refusal paths run exactly as in production, in well under a second per app."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from recommender.atomic import replaced_directory
from recommender.graph import build_graph
from recommender.profiles.profiles import build_profiles
from recommender.ranking.index import RankingIndex
from recommender.ranking.rankers import LearnedRanker
from recommender.rules import load_rulebook
from recommender.service import Corridor, ModelSource, World
from recommender.store import Store
from tests.fakes import KeywordEncoder
from tests.synthetic import make_world
from tests.test_profiles import tiny_taxonomy

EXPECT = {"encoder_fingerprint": KeywordEncoder.fingerprint, "taxonomy_version": "test-1"}
METRICS = {
    "new-partners": {"description": "new pairs", "queries": 10, "relevant_pairs": 20,
                     "rankers": {"learned": {"recall@20": 0.8, "ndcg@10": 0.6}, "popularity": {"recall@20": 0.3}},
                     "learned_leads": True, "best_baseline": "popularity"},
}

_WORLD = None
_RULEBOOK = None


def world():
    global _WORLD
    if _WORLD is None:
        _WORLD = make_world()
    return _WORLD


def rulebook():
    global _RULEBOOK
    if _RULEBOOK is None:
        _RULEBOOK = load_rulebook()
    return _RULEBOOK


def encode_fn():
    encoder, taxonomy = KeywordEncoder(), tiny_taxonomy()
    desc = encoder.encode([p.description for p in taxonomy.priorities])

    def encode(texts):
        v = encoder.encode(texts)
        return v, np.clip(v @ desc.T, 0, 1)

    return encoder, taxonomy, encode


def make_index(catalogue=None, cutoff=None) -> RankingIndex:
    catalogue = catalogue if catalogue is not None else world()
    encoder, taxonomy, encode = encode_fn()
    profiles = build_profiles(catalogue, encoder, taxonomy, tagger=None, until_year=cutoff)
    return RankingIndex(catalogue, profiles, build_graph(catalogue, cutoff), encode, rulebook())


def world_training_set(world_and_index, feedback=None, engine=None):
    """The training set (and group counts) of the synthetic world: labels of 2022 over ``world_and_index``'s
    index (cut off at 2021), 20 negatives per query, with ``feedback`` groups, built on ``engine``."""
    from training.ranker import TrainConfig, training_set

    catalogue, index = world_and_index
    cfg = TrainConfig(label_years=(2022,), negatives_per_query=20)
    ranker = LearnedRanker(n_estimators=10, min_child_samples=5)
    return training_set({2022: index}, catalogue, cfg, ranker, feedback=feedback, engine=engine)


def train_model(
    directory: Path, version: str = "synthetic-1", expect: dict | None = None, train_index: RankingIndex | None = None
) -> Path:
    """Train on the synthetic world (features up to 2021, labels 2022) and save with a manifest.

    ``train_index`` (an index with a 2021 cut-off) defaults to one built with the keyword encoder.
    """
    from training.ranker import TrainConfig, training_set

    train_index = train_index or make_index(cutoff=2021)
    ranker = LearnedRanker(n_estimators=40, min_child_samples=5)
    cfg = TrainConfig(label_years=(2022,), negatives_per_query=20)
    data, _ = training_set({2022: train_index}, train_index.catalogue, cfg, ranker)
    ranker.fit(train_index, data)
    manifest = {
        "model_version": version,
        **(expect or EXPECT),
        "train_year": 2022,
        "eval_year": 2023,
        "primary_metric": "recall@20",
        "metrics": METRICS,
    }
    ranker.save(directory, manifest, {"evaluation.json": json.dumps(METRICS)})
    return directory


def copy_model(source: Path, target: Path, version: str | None = None) -> Path:
    """A copy of a model directory; with ``version`` its manifest names another version (hashes stay valid).

    Swapped in whole like write_model_dir does (recommender.atomic.replaced_directory), so ``source`` may
    be ``target`` itself and a polling server never sees a half-written directory."""
    with replaced_directory(target) as staging:
        shutil.copytree(source, staging, dirs_exist_ok=True)
        if version is not None:
            manifest = json.loads((staging / "manifest.json").read_text())
            manifest["model_version"] = version
            (staging / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return target


class SyntheticSource:
    """The synthetic world as a Corridor's world source (users' organisations overlaid like in production)."""

    def taxonomy(self):
        return tiny_taxonomy()

    def catalogue_ids(self) -> frozenset[str]:
        return frozenset(world().organisations["id"])

    def rulebook(self):
        return rulebook()

    def world_key(self) -> str:
        return "synthetic"

    def reloaded(self) -> SyntheticSource:
        return self

    def model_expectations(self) -> dict:
        return EXPECT

    def load(self, added: list[dict]) -> World:
        from recommender.catalogue.store import with_user_organisations

        _, _, encode = encode_fn()
        index = make_index(with_user_organisations(world(), added) if added else None)
        return World(index, encode, world().organisations)


def synthetic_corridor(
    model_dir: Path | None, database_url: str, load: bool = True, busy_seconds: float = 5
) -> Corridor:
    """A Corridor over the synthetic world, its store at ``database_url``; with ``load``, started."""
    model = ModelSource(model_dir, lambda: EXPECT) if model_dir is not None else None
    corridor = Corridor(Store(database_url, busy_seconds), SyntheticSource(), model)
    return corridor.start() if load else corridor


TINY_TAXONOMY_YAML = """\
version: "test-1"
valid_as_of: "2026-01-01"
priorities:
  - {id: unmanned, label: Unmanned systems, description: "drone swarm unmanned autonomy",
     terms: [drone, drones, swarm, unmanned], synonyms: [drones, drone, uav]}
  - {id: semiconductors, label: Semiconductors, description: "semiconductor chip microelectronics",
     terms: [semiconductor, chips, microelectronics], synonyms: [chips, semiconductor]}
  - {id: sensors_ew, label: Sensors, description: "radar sonar sensing", terms: [radar, sonar],
     synonyms: [ew, radar]}
"""


def write_data_dir(root: Path) -> Path:
    """A complete small data directory (catalogue, taxonomy, the shipped rules) for a real server."""
    from recommender.catalogue import save_catalogue
    from recommender.rules import DEFAULT_RULES_PATH

    save_catalogue(world(), root / "catalogue", {"counts": {}})
    (root / "taxonomy").mkdir(parents=True, exist_ok=True)
    (root / "taxonomy" / "priorities.yaml").write_text(TINY_TAXONOMY_YAML)
    (root / "rules").mkdir(parents=True, exist_ok=True)
    shutil.copy(DEFAULT_RULES_PATH, root / "rules" / "instruments.yaml")
    return root


class FixedWorld:
    """A world source over a ready-made index (the index users' organisations are added to, as in serving)."""

    def __init__(self, index: RankingIndex) -> None:
        self.index = index

    def taxonomy(self):
        return self.index.profiles.taxonomy

    def catalogue_ids(self) -> frozenset[str]:
        return frozenset(self.index.catalogue.organisations["id"])

    def rulebook(self):
        return self.index.rulebook

    def world_key(self) -> str:
        return "fixed"

    def reloaded(self) -> FixedWorld:
        return self

    def model_expectations(self) -> dict:
        return EXPECT

    def load(self, added: list[dict]) -> World:
        from recommender.ranking.incremental import description_texts, with_organisations

        index = self.index
        if added:
            index = with_organisations(index, added, *index.encode_texts(description_texts(added)))
        return World(index, self.index.encode_texts, self.index.catalogue.organisations)


class FixedModel:
    """A model source that always yields the same trained ranker (its heads never compiled to native code)."""

    directory = None
    compiled_dir = None

    def __init__(self, ranker, version: str = "fixed-1") -> None:
        self.ranker, self.version = ranker, version

    def manifest_sha(self) -> str:
        return self.version

    def load(self):
        return self.ranker, {"model_version": self.version}, self.version


def corridor_over(recommender, database_url: str) -> Corridor:
    """A Corridor serving ``recommender`` (its index and ranker), its store at ``database_url``."""
    return Corridor(Store(database_url, 5), FixedWorld(recommender.index), FixedModel(recommender.ranker))
